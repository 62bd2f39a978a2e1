import Foundation

/// A configuration problem: a bad file, an unknown key, a value of the wrong type. The message is
/// one line and names where the value came from (`musicetl.toml:7: …`, `MUSICETL_QUIET …`).
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// The `--config` file: a small subset of TOML, parsed here rather than with a TOML library
/// (TOMLKit wraps the C++ toml++, which would add a C++ build to every CI run for a dozen
/// scalar keys).
///
/// Supported: `# comments`, `[table]` headers (one level), `key = value` with bare or quoted
/// keys, basic `"strings"` (with `\" \\ \n \t \r \b \f \uXXXX \UXXXXXXXX` escapes), literal
/// `'strings'`, integers and floats (`_` separators, exponents, `inf`, `nan`), `true`/`false`.
/// Everything else TOML has (arrays, inline tables, dotted keys, multi-line strings, dates) is
/// refused with the line number, as are duplicate keys and tables. Keys are the long flag names;
/// `_` in a key is read as `-` (`work_dir` = `work-dir`).
public struct ConfigurationFile: Sendable {
    public enum Value: Sendable, Equatable {
        case string(String)
        case integer(Int)
        case float(Double)
        case boolean(Bool)

        /// The value as a command-line argument.
        public var argumentText: String {
            switch self {
            case .string(let text): text
            case .integer(let value): String(value)
            case .float(let value): value.isNaN ? "nan" : value.isInfinite ? (value > 0 ? "inf" : "-inf") : "\(value)"
            case .boolean(let value): value ? "true" : "false"
            }
        }

        var typeName: String {
            switch self {
            case .string: "a string"
            case .integer: "an integer"
            case .float: "a float"
            case .boolean: "a boolean"
            }
        }
    }

    public struct Entry: Sendable, Equatable {
        public var value: Value
        public var line: Int
    }

    public let path: String
    /// Keys before the first table header.
    public private(set) var topLevel: [String: Entry] = [:]
    /// `[name]` → its keys.
    public private(set) var tables: [String: [String: Entry]] = [:]
    /// Where each table header is, for error messages.
    public private(set) var tableLines: [String: Int] = [:]

    public init(path: String) throws(ConfigurationError) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigurationError("config file \(path) does not exist")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigurationError("config file \(path) cannot be read: \((error as NSError).localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError("config file \(path) is not UTF-8")
        }
        try self.init(text: text, path: path)
    }

    public init(text: String, path: String) throws(ConfigurationError) {
        self.path = path
        var table: String?
        // Lines end in LF or CRLF (TOML's two newlines). "\r\n" is one Character in Swift, so
        // splitting on "\n" alone would leave a CRLF file one long line. A single "\r" ending the
        // file (its last CRLF cut short) is dropped; any other lone CR (an old-Mac file, "\r\r\n")
        // is refused, as TOML does.
        let body = text.last == "\r" ? text.dropLast() : Substring(text)
        let lines = body.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
        for (index, line) in lines.enumerated() {
            let lineNumber = index + 1
            func fail(_ message: String) -> ConfigurationError { ConfigurationError("\(path):\(lineNumber): \(message)") }
            if line.contains("\r") {
                throw fail("a lone carriage return is not a line end; save the file with LF or CRLF line ends")
            }
            var scanner = Scanner(line)
            scanner.skipSpaces()
            if scanner.atEnd || scanner.peek == "#" { continue }
            if scanner.peek == "[" {
                scanner.advance()
                if scanner.peek == "[" { throw fail("arrays of tables ([[…]]) are not supported") }
                scanner.skipSpaces()
                let name: String
                do { name = try scanner.key() } catch { throw fail(error.message) }
                scanner.skipSpaces()
                if scanner.peek == "." { throw fail("nested tables ([a.b]) are not supported") }
                guard scanner.peek == "]" else { throw fail("expected ] after the table name") }
                scanner.advance()
                do { try scanner.expectEndOfLine() } catch { throw fail(error.message) }
                guard tables[name] == nil else {
                    throw fail("table [\(name)] is defined twice (first on line \(tableLines[name] ?? 0))")
                }
                tables[name] = [:]
                tableLines[name] = lineNumber
                table = name
                continue
            }
            let key: String
            let value: Value
            do throws(ConfigurationError) {
                key = try scanner.key()
                scanner.skipSpaces()
                if scanner.peek == "." { throw ConfigurationError("dotted keys are not supported") }
                guard scanner.peek == "=" else { throw ConfigurationError("expected key = value") }
                scanner.advance()
                scanner.skipSpaces()
                value = try scanner.value()
                try scanner.expectEndOfLine()
            } catch {
                throw fail(error.message)
            }
            let entry = Entry(value: value, line: lineNumber)
            if let table {
                if let previous = tables[table]?[key] {
                    throw fail("\(key) is set twice in [\(table)] (first on line \(previous.line))")
                }
                tables[table]?[key] = entry
            } else {
                if let previous = topLevel[key] { throw fail("\(key) is set twice (first on line \(previous.line))") }
                topLevel[key] = entry
            }
        }
    }

    /// A cursor over one line.
    private struct Scanner {
        var text: Substring

        init(_ text: Substring) {
            self.text = text
        }

        var atEnd: Bool { text.isEmpty }
        var peek: Character? { text.first }
        mutating func advance() { text = text.dropFirst() }
        mutating func skipSpaces() { text = text.drop { $0 == " " || $0 == "\t" } }

        mutating func expectEndOfLine() throws(ConfigurationError) {
            skipSpaces()
            guard atEnd || peek == "#" else {
                throw ConfigurationError("unexpected text after the value: \(Self.printable(text.prefix(20)))")
            }
        }

        /// `snippet` with its control characters escaped (`\t`, `\u{1B}`), so a message quoting
        /// the file stays one readable line.
        static func printable(_ snippet: Substring) -> String {
            var result = ""
            for scalar in snippet.unicodeScalars {
                if scalar.properties.generalCategory == .control {
                    result += scalar.escaped(asASCII: true)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
            return result
        }

        static func isBareKeyCharacter(_ character: Character) -> Bool {
            character.isASCII && (character.isLetter || character.isNumber || character == "-" || character == "_")
        }

        /// A bare or quoted key, with `_` read as `-`.
        mutating func key() throws(ConfigurationError) -> String {
            let raw: String
            if peek == "\"" || peek == "'" {
                raw = try string()
            } else {
                let bare = text.prefix(while: Self.isBareKeyCharacter)
                guard !bare.isEmpty else {
                    throw ConfigurationError(peek == "=" ? "a key is missing before =" : "expected a key (letters, digits, - and _)")
                }
                text = text.dropFirst(bare.count)
                raw = String(bare)
            }
            return raw.replacingOccurrences(of: "_", with: "-")
        }

        mutating func value() throws(ConfigurationError) -> Value {
            guard let first = peek else { throw ConfigurationError("a value is missing after =") }
            switch first {
            case "\"", "'":
                return .string(try string())
            case "[":
                throw ConfigurationError("arrays are not supported; give one value")
            case "{":
                throw ConfigurationError("inline tables are not supported")
            default:
                let token = text.prefix { !($0 == " " || $0 == "\t" || $0 == "#") }
                text = text.dropFirst(token.count)
                if token == "true" { return .boolean(true) }
                if token == "false" { return .boolean(false) }
                return try number(String(token))
            }
        }

        func number(_ token: String) throws(ConfigurationError) -> Value {
            let digits = token.replacingOccurrences(of: "_", with: "")
            let unsigned = digits.hasPrefix("+") || digits.hasPrefix("-") ? String(digits.dropFirst()) : digits
            if ["inf", "nan"].contains(unsigned) {
                let magnitude = unsigned == "inf" ? Double.infinity : Double.nan
                return .float(digits.hasPrefix("-") ? -magnitude : magnitude)
            }
            let isNumeric = !unsigned.isEmpty && unsigned.first!.isNumber
                && unsigned.allSatisfy { $0.isASCII && ($0.isNumber || "eE+-.".contains($0)) }
            if isNumeric, let integer = Int(digits) { return .integer(integer) }
            if isNumeric, let float = Double(digits) { return .float(float) }
            let shown = Self.printable(token.prefix(30))
            throw ConfigurationError("cannot read the value \(shown): strings need quotes, e.g. \"\(shown)\"")
        }

        mutating func string() throws(ConfigurationError) -> String {
            let quote = peek!
            advance()
            if peek == quote, text.dropFirst().first == quote {
                throw ConfigurationError("multi-line strings are not supported")
            }
            var result = ""
            while let character = peek {
                advance()
                if character == quote { return result }
                guard quote == "\"", character == "\\" else {
                    result.append(character)
                    continue
                }
                guard let escape = peek else { break }
                advance()
                switch escape {
                case "\"": result.append("\"")
                case "\\": result.append("\\")
                case "n": result.append("\n")
                case "t": result.append("\t")
                case "r": result.append("\r")
                case "b": result.append("\u{08}")
                case "f": result.append("\u{0C}")
                case "u", "U":
                    let length = escape == "u" ? 4 : 8
                    let hex = text.prefix(length)
                    guard hex.count == length, let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
                        throw ConfigurationError("bad \\\(escape) escape in a string")
                    }
                    text = text.dropFirst(length)
                    result.unicodeScalars.append(scalar)
                default:
                    throw ConfigurationError("unknown escape \\\(escape) in a string")
                }
            }
            throw ConfigurationError("a string is not closed (missing \(quote))")
        }
    }
}
