import DocumentStore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy in front of a MongoDB server that closes every connection idle for longer than
/// `idleLimit`, as a server (the bundled one after 300 s), a firewall or a load balancer closes
/// idle connections, on a test's time scale.
///
/// Idle: no byte either way and no request waiting for its reply. A request the server holds
/// (libmongoc's monitor asks the server to answer only when the topology changes or
/// `heartbeatFrequencyMS` has passed) keeps its connection, as it would in the real world where
/// idle limits are minutes and heartbeats seconds. `replyDelay` holds back each piece of a reply
/// that long, so a run of N round trips lasts at least N times it whatever the server's speed.
public final class IdleClosingProxy: @unchecked Sendable {
    // @unchecked: the listening socket is a C descriptor; everything mutable is in `state`, behind its lock.
    public let port: Int
    /// The server's `host:port` the connections go to.
    public let upstream: String
    private let listener: Int32
    private let state = ProxyState()

    /// Listens on a free port of 127.0.0.1 and forwards to `upstream` (`host:port`).
    public init(upstream: String, idleLimit: Duration, replyDelay: Duration = .zero) throws {
        self.upstream = upstream
        let (host, upstreamPort) = try Self.split(upstream)
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw TestServerError(message: "proxy: socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(listener, socketAddress, length) == 0 && listen(listener, 64) == 0
                    && getsockname(listener, socketAddress, &length) == 0
            }
        }
        guard bound else {
            let reason = String(cString: strerror(errno))
            close(listener)
            throw TestServerError(message: "proxy: cannot listen on 127.0.0.1: \(reason)")
        }
        self.listener = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        let state = state
        let idleMilliseconds = Int(idleLimit.components.seconds * 1000 + idleLimit.components.attoseconds / 1_000_000_000_000_000)
        let delayMicroseconds = UInt32(replyDelay.components.seconds * 1_000_000 + replyDelay.components.attoseconds / 1_000_000_000_000)
        Thread.detachNewThread {
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 {
                    if errno == EINTR { continue }
                    return  // the listener was shut down
                }
                guard let server = Self.connectTo(host: host, port: upstreamPort) else {
                    close(client)
                    continue
                }
                Thread.detachNewThread {
                    Self.forward(client: client, server: server, idleMilliseconds: idleMilliseconds,
                                 delayMicroseconds: delayMicroseconds, state: state)
                }
            }
        }
    }

    deinit {
        state.stop()
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    /// How many connections the proxy closed for being idle so far.
    public var idleClosures: Int { state.snapshot().idleClosures }

    /// Waits (at most `timeout`) until the proxy has closed, for being idle, every connection open
    /// when called that is not waiting for a reply; true when it has.
    public func waitUntilIdleConnectionsAreClosed(timeout: Duration = .seconds(30)) -> Bool {
        let waitingFor = state.snapshot().idleOpen
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if state.snapshot().idleOpen.isDisjoint(with: waitingFor) { return true }
            usleep(20_000)
        }
        return false
    }

    /// Options of a client through the proxy: libmongoc's own retries off, so that what a test sees
    /// is this project's (libmongoc's retryable writes need a replica set anyway); its monitor
    /// checks a minute apart, so none falls within a test (a failed check would clear the pool and
    /// reconnect quietly, hiding the closed connection from the command that meets it).
    public static let clientOptions = "heartbeatFrequencyMS=60000&retryReads=false&retryWrites=false"

    /// `uri` with its hosts replaced by this proxy (a direct connection: a replica set's member
    /// list would lead the driver around the proxy), its other options kept, `clientOptions`
    /// added. TLS stays on when asked for, without checking the host name against the
    /// certificate (which names the server, not 127.0.0.1).
    public func uri(for uri: String) -> String {
        guard let schemeEnd = uri.range(of: "://") else { return uri }
        var rest = uri[schemeEnd.upperBound...]
        var credentials = ""
        let hostsEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        if let at = rest[..<hostsEnd].lastIndex(of: "@") {
            credentials = String(rest[...at])
            rest = rest[rest.index(after: at)...]
        }
        let afterHosts = rest[(rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex)...]
        var path = afterHosts.prefix { $0 != "?" }
        if path.isEmpty { path = "/" }
        let query = afterHosts.drop { $0 != "?" }.dropFirst()
        var options = query.split(separator: "&").map(String.init).filter { option in
            let name = option.prefix { $0 != "=" }.lowercased()
            return name != "replicaset" && name != "directconnection"
        }
        let srv = uri.lowercased().hasPrefix("mongodb+srv")
        if srv { options.append("tls=true") }
        if srv || options.contains(where: { ["tls=true", "ssl=true"].contains($0.lowercased()) }) {
            options.append("tlsAllowInvalidHostnames=true")
        }
        options.append("directConnection=true")
        options.append(Self.clientOptions)
        return "mongodb://\(credentials)127.0.0.1:\(port)\(path)?\(options.joined(separator: "&"))"
    }

    /// The `host:port` a proxy for `uri` forwards to: the replica set's primary when the server
    /// names one (writes must reach it), else the URI's first host.
    public static func serverAddress(of uri: String) throws -> String {
        let connection = try MongoConnection(uri: uri, appName: "musicetl-tests")
        let hello = try connection.client().runCommand(["hello": 1], database: "admin", idempotent: true)
        if let primary = hello["primary"]?.stringValue { return primary }
        return String(connection.serverDescription.split(separator: ",").first ?? "")
    }

    private static func split(_ hostAndPort: String) throws -> (host: String, port: Int) {
        guard let colon = hostAndPort.lastIndex(of: ":"), let port = Int(hostAndPort[hostAndPort.index(after: colon)...]) else {
            return (hostAndPort, 27017)
        }
        let host = hostAndPort[..<colon].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return (host, port)
    }

    private static func connectTo(host: String, port: Int) -> Int32? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &found) == 0, let first = found else { return nil }
        defer { freeaddrinfo(first) }
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            let descriptor = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            if descriptor >= 0 {
                if connect(descriptor, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return descriptor }
                close(descriptor)
            }
            candidate = info.pointee.ai_next
        }
        return nil
    }

    /// Copies bytes both ways until either side closes, the proxy stops, or the connection has been
    /// idle (no byte, no request waiting for its reply) for `idleMilliseconds`.
    private static func forward(client: Int32, server: Int32, idleMilliseconds: Int, delayMicroseconds: UInt32,
                                state: ProxyState) {
        let id = state.opened()
        var idleClosed = false
        defer {
            shutdown(client, Int32(SHUT_RDWR))
            shutdown(server, Int32(SHUT_RDWR))
            close(client)
            close(server)
            state.closed(id, forBeingIdle: idleClosed)
        }
        var lastTraffic = ContinuousClock.now
        var awaitingReply = false
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while !state.isStopped {
            let idleFor = ContinuousClock.now - lastTraffic
            if !awaitingReply && idleFor >= .milliseconds(idleMilliseconds) {
                idleClosed = true
                return
            }
            // Wake at least every 100 ms to notice a stop.
            let left = awaitingReply ? 100 : max(1, idleMilliseconds - Int(idleFor.components.seconds * 1000 + idleFor.components.attoseconds / 1_000_000_000_000_000))
            var descriptors = [pollfd(fd: client, events: Int16(POLLIN), revents: 0),
                               pollfd(fd: server, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&descriptors, 2, Int32(min(left, 100)))
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            for (index, descriptor) in descriptors.enumerated() where descriptor.revents != 0 {
                let fromClient = index == 0
                let count = read(descriptor.fd, &buffer, buffer.count)
                if count <= 0 { return }
                if !fromClient && delayMicroseconds > 0 { usleep(delayMicroseconds) }
                // Marked before the bytes go on: whoever reads a reply finds its connection idle.
                awaitingReply = fromClient
                state.setIdleCandidate(id, !awaitingReply)
                guard writeAll(buffer, count: count, to: fromClient ? server : client) else { return }
                lastTraffic = ContinuousClock.now
            }
        }
    }

    private static func writeAll(_ buffer: [UInt8], count: Int, to descriptor: Int32) -> Bool {
        var sent = 0
        while sent < count {
            #if os(Linux)
            let flags = Int32(MSG_NOSIGNAL)  // a peer gone must fail the send, not SIGPIPE the tests
            #else
            let flags: Int32 = 0
            #endif
            let written = buffer.withUnsafeBytes { bytes in
                guard let base = bytes.baseAddress else { return -1 }
                return send(descriptor, base + sent, count - sent, flags)
            }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return false }
            sent += written
        }
        return true
    }
}

/// What the proxy's threads share: whether it stopped, and its connections.
private final class ProxyState: @unchecked Sendable {
    // @unchecked: every field is read and written under `lock`.
    private let lock = NSLock()
    private var stopped = false
    private var nextID = 0
    /// Open connections not waiting for a reply (those the idle limit applies to).
    private var idleOpen: Set<Int> = []
    private var idleClosures = 0

    var isStopped: Bool { lock.withLock { stopped } }

    func stop() { lock.withLock { stopped = true } }

    func opened() -> Int {
        lock.withLock {
            nextID += 1
            idleOpen.insert(nextID)
            return nextID
        }
    }

    func setIdleCandidate(_ id: Int, _ candidate: Bool) {
        lock.withLock {
            if candidate { idleOpen.insert(id) } else { idleOpen.remove(id) }
        }
    }

    func closed(_ id: Int, forBeingIdle: Bool) {
        lock.withLock {
            idleOpen.remove(id)
            if forBeingIdle { idleClosures += 1 }
        }
    }

    func snapshot() -> (idleOpen: Set<Int>, idleClosures: Int) {
        lock.withLock { (idleOpen, idleClosures) }
    }
}
