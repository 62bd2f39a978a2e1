#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CMongoC
import CTextKernels

/// Prints BSON documents as relaxed Extended JSON, byte for byte what libbson 1.23's
/// `bson_as_relaxed_extended_json` prints, into one growing buffer (no allocation per field).
///
/// libbson 1.23 escapes text one character at a time into fresh strings and formats every number
/// with printf; this walks the document with libbson's iterator instead and copies runs of plain
/// text in one go. It prints double, string, document, array, bool, null, int32, int64 and
/// date-time itself; for a document with any other type, nesting deeper than `nativeDepth`, or
/// anything it does not expect (invalid UTF-8, corrupt BSON) it hands the whole document to
/// libbson, so the output is always libbson's — including its refusal (`append` returns false).
/// Not thread-safe: one writer per thread.
public final class RelaxedJSONWriter {
    // The buffer and the building state are only touched by this object's own methods, never two
    // at once (one writer per thread), so their per-access exclusivity checks are switched off.
    /// The text written so far. One stored value that the printers get in place (`&output`):
    /// copying it into a local and back made a 16-byte load of two fields just stored one by one,
    /// a stalled store-to-load forward on every field written (up to half of a field's cost).
    @exclusivity(unchecked) var output: Output
    var base: UnsafeMutablePointer<UInt8> { output.base }
    public internal(set) var count: Int {
        get { output.count }
        set { output.count = newValue }
    }
    /// Documents being built through the building API (`RelaxedJSONWriter+Building`): the open
    /// levels (bit d of `arrayLevels`: level d is an array; past 64 levels in `deepArrayLevels`)
    /// and whether the next field needs ", " before it. Plain values, not an array, so the hot
    /// path makes no exclusivity-checked accesses.
    @exclusivity(unchecked) var depth = 0
    @exclusivity(unchecked) var arrayLevels: UInt64 = 0
    @exclusivity(unchecked) var deepArrayLevels: [Bool] = []
    @exclusivity(unchecked) var needsSeparator = false
    /// Where the value of the outermost level's last member (or element) begun starts in
    /// `bytes`: once it is appended, `valueStart..<count` is its JSON text, nested or not.
    @exclusivity(unchecked) public internal(set) var valueStart = 0
    /// Why libbson would refuse the document being built (a key holding a NUL byte), if it would:
    /// the caller must not keep the line. Cleared by `beginDocumentLine` and `removeAll`.
    @exclusivity(unchecked) public internal(set) var refusal: BSONBuilderError?
    /// One `bson_iter_t` per nesting level, reused for every document.
    private let iterators: UnsafeMutableRawPointer
    private let iteratorStride: Int
    /// Documents handed to libbson's printer (types it prints itself, or trouble).
    public private(set) var fallbacks = 0
    /// Keys of dictionary cells by name (`key(named:)`), so that a key repeated row after row is
    /// made once per writer rather than once per entry.
    private var namedKeys: [String: BSONKey] = [:]
    /// The keys `key(utf8:)` returned last, newest last: a cell's dictionaries repeat a few keys.
    @exclusivity(unchecked) private var recentKeys: [BSONKey] = []

    /// Print every document with libbson itself (for comparisons, or to rule this printer out).
    public let libbsonOnly: Bool

    /// Levels printed natively (libbson itself stops at 200 with "{ ... }"; staging uses 3).
    static let nativeDepth = 32

    /// True when the environment sets MUSICETL_JSON_PRINTER=libbson: the escape hatch that makes
    /// the job print with libbson's own printer (slower, same bytes).
    public static var libbsonRequested: Bool {
        guard let value = getenv("MUSICETL_JSON_PRINTER") else { return false }
        return String(cString: value) == "libbson"
    }

    public init(capacity: Int = 1 << 16, libbsonOnly: Bool = false) {
        self.libbsonOnly = libbsonOnly
        let capacity = max(capacity, 64)
        output = Output(base: UnsafeMutablePointer<UInt8>.allocate(capacity: capacity), count: 0, capacity: capacity)
        let alignment = musicetl_bson_iter_alignment()
        iteratorStride = (musicetl_bson_iter_size() + alignment - 1) / alignment * alignment
        iterators = UnsafeMutableRawPointer.allocate(byteCount: iteratorStride * (Self.nativeDepth + 1), alignment: alignment)
        iterators.initializeMemory(as: UInt8.self, repeating: 0, count: iteratorStride * (Self.nativeDepth + 1))
    }

    deinit {
        base.deallocate()
        iterators.deallocate()
    }

    public var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    /// The key for `name`, made on first use; a few hundred distinct names are kept at most.
    public func key(named name: String) -> BSONKey {
        if let key = namedKeys[name] { return key }
        if namedKeys.count >= 512 { namedKeys.removeAll(keepingCapacity: true) }
        let key = BSONKey(name)
        namedKeys[name] = key
        return key
    }

    /// The key whose name is `utf8` (decoded as `String(decoding:as:)` does): found by its bytes
    /// among the last few, without making a `String` and hashing it for every dictionary entry.
    public func key(utf8: UnsafeBufferPointer<UInt8>) -> BSONKey {
        for key in recentKeys.reversed() where Int(key.length) == utf8.count {
            // Equal bytes were valid UTF-8 (the key's are), so decoding them gives this name.
            guard let bytes = utf8.baseAddress else { return key }  // both empty
            if memcmp(key.pointer, bytes, utf8.count) == 0 { return key }
        }
        let key = self.key(named: String(decoding: utf8, as: UTF8.self))
        if recentKeys.count == 16 { recentKeys.removeFirst() }
        recentKeys.append(key)
        return key
    }

    /// Forgets the text (keeps the memory).
    public func removeAll() {
        count = 0
        refusal = nil
        depth = 0
        deepArrayLevels.removeAll(keepingCapacity: true)
        needsSeparator = false
    }

    public func append(byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    /// Appends the JSON of `document` (a `bson_t *`); false, with nothing appended, when libbson
    /// would refuse to print it (invalid UTF-8, corrupt BSON).
    public func append(document: OpaquePointer) -> Bool {
        let start = count
        if libbsonOnly { return appendFromLibbson(document, at: start) }
        let length = Int(musicetl_bson_length(document))
        guard length > 5 else {
            // libbson prints an empty top-level document as "{ }" (bson_empty0), not "{  }".
            guard length == 5 else { return appendFromLibbson(document, at: start) }
            appendASCII("{ }")
            return true
        }
        let iterator = OpaquePointer(iterators)
        guard bson_iter_init(iterator, document) else { return appendFromLibbson(document, at: start) }
        let printed = Self.printFields(iterator, length: length, array: false, depth: 0,
                                       iterators: iterators, stride: iteratorStride, into: &output)
        return printed ? true : appendFromLibbson(document, at: start)
    }

    /// libbson's own print, replacing whatever was written from `start` on.
    private func appendFromLibbson(_ document: OpaquePointer, at start: Int) -> Bool {
        count = start
        fallbacks += 1
        var length = 0
        guard let text = bson_as_relaxed_extended_json(document, &length) else { return false }
        defer { bson_free(text) }
        reserve(length)
        UnsafeMutableRawPointer(base + count).copyMemory(from: text, byteCount: length)
        count += length
        return true
    }

    private func appendASCII(_ text: StaticString) {
        reserve(text.utf8CodeUnitCount)
        (base + count).update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        count += text.utf8CodeUnitCount
    }

    private func reserve(_ extra: Int) {
        output.reserve(extra)
    }

    // MARK: Printing

    /// The output buffer as one value, passed `inout` to the static printers: they work on it
    /// without class property accesses or exclusivity checks in their inner loops.
    struct Output {
        var base: UnsafeMutablePointer<UInt8>
        var count: Int
        var capacity: Int

        @inline(__always)
        mutating func reserve(_ extra: Int) {
            if count + extra > capacity { grow(count + extra) }
        }

        @inline(never)
        mutating func grow(_ needed: Int) {
            var newCapacity = capacity * 2
            while newCapacity < needed { newCapacity *= 2 }
            let fresh = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
            fresh.update(from: base, count: count)
            base.deallocate()
            base = fresh
            capacity = newCapacity
        }

        @inline(__always)
        mutating func append(_ text: StaticString) {
            let length = text.utf8CodeUnitCount
            reserve(length)
            Self.copy(base + count, text.utf8Start, length)
            count += length
        }

        @inline(__always)
        mutating func append(_ byte: UInt8) {
            reserve(1)
            base[count] = byte
            count += 1
        }

        @inline(__always)
        mutating func append(_ bytes: UnsafePointer<UInt8>, _ length: Int) {
            reserve(length)
            Self.copy(base + count, bytes, length)
            count += length
        }

        /// `count` bytes from `source` (not overlapping `destination`). Up to 32 bytes (keys,
        /// separators, short values: most of what a line is made of) in two overlapping loads and
        /// stores, without calling memmove: its call and size dispatch cost more than such a copy
        /// (small copies were 5-6 % of a profile, perf annotate of memmove).
        @inline(__always)
        static func copy(_ destination: UnsafeMutablePointer<UInt8>, _ source: UnsafePointer<UInt8>, _ count: Int) {
            let to = UnsafeMutableRawPointer(destination), from = UnsafeRawPointer(source)
            switch count {
            case 16...32:
                to.storeBytes(of: from.loadUnaligned(as: SIMD16<UInt8>.self), as: SIMD16<UInt8>.self)
                to.storeBytes(of: from.loadUnaligned(fromByteOffset: count - 16, as: SIMD16<UInt8>.self),
                              toByteOffset: count - 16, as: SIMD16<UInt8>.self)
            case 8..<16:
                to.storeBytes(of: from.loadUnaligned(as: UInt64.self), as: UInt64.self)
                to.storeBytes(of: from.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self), toByteOffset: count - 8, as: UInt64.self)
            case 4..<8:
                to.storeBytes(of: from.loadUnaligned(as: UInt32.self), as: UInt32.self)
                to.storeBytes(of: from.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self), toByteOffset: count - 4, as: UInt32.self)
            case 1..<4:
                destination[0] = source[0]
                destination[count / 2] = source[count / 2]
                destination[count - 1] = source[count - 1]
            case 0:
                break
            default:
                destination.update(from: source, count: count)
            }
        }
    }

    /// The fields of one (sub-)document or array, with its brackets: "{ " fields joined by ", "
    /// " }" (so an empty nested one is "{  }", as libbson prints it). False: hand the document to
    /// libbson (a type printed there, invalid UTF-8, corrupt BSON, too deep).
    private static func printFields(_ iterator: OpaquePointer, length: Int, array: Bool, depth: Int,
                                    iterators: UnsafeMutableRawPointer, stride: Int,
                                    into output: inout Output) -> Bool {
        output.append(array ? "[ " : "{ ")
        var first = true
        while bson_iter_next(iterator) {
            if first { first = false } else { output.append(", ") }
            // libbson checks every key (array indexes too) and refuses invalid UTF-8 in any.
            guard let key = bson_iter_key(iterator) else { return false }
            let keyLength = Int(bson_iter_key_len(iterator))
            let keyBytes = UnsafeRawPointer(key).assumingMemoryBound(to: UInt8.self)
            if array {
                guard isValidKey(keyBytes, keyLength) else { return false }
            } else {
                output.append(UInt8(ascii: "\""))
                guard appendEscaped(keyBytes, keyLength, into: &output) else { return false }
                output.append("\" : ")
            }
            switch bson_iter_type(iterator) {
            case BSON_TYPE_UTF8:
                var textLength: UInt32 = 0
                guard let text = bson_iter_utf8(iterator, &textLength) else { return false }
                output.append(UInt8(ascii: "\""))
                guard appendEscaped(UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self), Int(textLength),
                                    into: &output) else { return false }
                output.append(UInt8(ascii: "\""))
            case BSON_TYPE_INT32:
                appendDecimal(Int64(bson_iter_int32(iterator)), into: &output)
            case BSON_TYPE_INT64:
                appendDecimal(bson_iter_int64(iterator), into: &output)
            case BSON_TYPE_DOUBLE:
                appendDouble(bson_iter_double(iterator), into: &output)
            case BSON_TYPE_NULL:
                output.append("null")
            case BSON_TYPE_BOOL:
                if bson_iter_bool(iterator) { output.append("true") } else { output.append("false") }
            case BSON_TYPE_DATE_TIME:
                appendDate(bson_iter_date_time(iterator), into: &output)
            case BSON_TYPE_DOCUMENT, BSON_TYPE_ARRAY:
                guard depth + 1 <= nativeDepth else { return false }
                let isArray = bson_iter_type(iterator) == BSON_TYPE_ARRAY
                var childLength: UInt32 = 0
                var childData: UnsafePointer<UInt8>?
                if isArray {
                    bson_iter_array(iterator, &childLength, &childData)
                } else {
                    bson_iter_document(iterator, &childLength, &childData)
                }
                let child = OpaquePointer(iterators + (depth + 1) * stride)
                // The same checks as libbson's bson_init_static of the child (length field,
                // trailing NUL); libbson prints nothing at all for a child failing them.
                guard let childData, bson_iter_init_from_data(child, childData, Int(childLength)) else { return false }
                guard printFields(child, length: Int(childLength), array: isArray, depth: depth + 1,
                                  iterators: iterators, stride: stride, into: &output) else { return false }
            default:
                return false
            }
        }
        // bson_iter_next also returns false on corrupt BSON; only a clean end leaves the iterator
        // on the document's final NUL byte (libbson would report the corruption).
        guard Int(bson_iter_offset(iterator)) == length - 1 else { return false }
        output.append(array ? " ]" : " }")
        return true
    }

    // MARK: Text

    /// A key libbson accepts: valid UTF-8 (keys cannot hold NUL bytes).
    @inline(__always)
    private static func isValidKey(_ bytes: UnsafePointer<UInt8>, _ length: Int) -> Bool {
        var index = 0
        while index < length, bytes[index] < 0x80 { index += 1 }
        return index == length || UTF8Validation.isValid(UnsafeBufferPointer(start: bytes, count: length))
    }

    /// Appends text escaped as libbson's `bson_utf8_escape_for_json` does: `\"` and `\\`, the
    /// short escapes \b \f \n \r \t, other bytes below 0x20 (NUL included) as `\u00xx` in lower
    /// case hex, everything else (0x7F, multi-byte characters) as is. False for invalid UTF-8
    /// (libbson refuses the document); nothing is appended then. The loop is C (`CTextKernels`):
    /// text is most of a staged line, and SSE2 looks at 16 bytes per step.
    static func appendEscaped(_ bytes: UnsafePointer<UInt8>, _ length: Int, into output: inout Output) -> Bool {
        output.reserve(musicetl_json_escape_capacity(length))
        let written = musicetl_json_escape(bytes, length, output.base + output.count)
        guard written >= 0 else { return false }
        output.count += written
        return true
    }

    // MARK: Numbers

    /// "%" PRId64, as libbson prints int32 and int64 in relaxed mode.
    @inline(__always)
    static func appendDecimal(_ value: Int64, into output: inout Output) {
        output.reserve(20)
        if value < 0 {
            output.base[output.count] = UInt8(ascii: "-")
            output.count += 1
        }
        appendDigits(value.magnitude, into: &output)
    }

    /// The decimal digits of `value` (the caller reserved 20 bytes).
    @inline(__always)
    private static func appendDigits(_ value: UInt64, into output: inout Output) {
        var digits = 1
        var limit: UInt64 = 10
        while digits < 20, value >= limit {
            digits += 1
            limit &*= 10
        }
        let pairs: StaticString = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"
        let table = pairs.utf8Start
        var rest = value
        var position = output.count + digits
        while rest >= 100 {
            let pair = Int(rest % 100) * 2
            rest /= 100
            position -= 2
            output.base[position] = table[pair]
            output.base[position + 1] = table[pair + 1]
        }
        if rest >= 10 {
            let pair = Int(rest) * 2
            output.base[position - 2] = table[pair]
            output.base[position - 1] = table[pair + 1]
        } else {
            output.base[position - 1] = UInt8(ascii: "0") + UInt8(rest)
        }
        output.count += digits
    }

    /// libbson's relaxed double: NaN and ±Infinity wrapped as `{ "$numberDouble" : "…" }`, other
    /// values printed with "%.20g" and ".0" appended when that text is only digits and '-'.
    static func appendDouble(_ value: Double, into output: inout Output) {
        guard value.isFinite else {
            if value.isNaN {
                output.append(#"{ "$numberDouble" : "NaN" }"#)
            } else if value > 0 {
                output.append(#"{ "$numberDouble" : "Infinity" }"#)
            } else {
                output.append(#"{ "$numberDouble" : "-Infinity" }"#)
            }
            return
        }
        // Whole numbers below 2^63 have at most 19 digits, so "%.20g" prints them exactly, in
        // full (no exponent): the integer, then ".0". -0.0 prints as "-0.0".
        if value == value.rounded(.towardZero), value.magnitude < 9.2e18 {
            output.reserve(24)
            if value.sign == .minus {
                output.base[output.count] = UInt8(ascii: "-")
                output.count += 1
            }
            appendDigits(UInt64(value.magnitude), into: &output)
            output.append(".0")
            return
        }
        appendPrintf(value, into: &output)
    }

    /// "%.20g" from the C library, as libbson calls it (same function, same process locale);
    /// the common range exactly without printf (`ExactDecimal`).
    @inline(never)
    private static func appendPrintf(_ value: Double, into output: inout Output) {
        let start = output.count
        if !ExactDecimal.appendG20(value, into: &output) {
            output.reserve(40)
            let destination = output.base + output.count
            let written = withVaList([value]) { arguments in
                destination.withMemoryRebound(to: CChar.self, capacity: 40) { vsnprintf($0, 40, "%.20g", arguments) }
            }
            guard written > 0, written < 40 else { return }
            output.count += Int(written)
        }
        // libbson adds ".0" when the number printed as digits only.
        var onlyDigits = true
        for offset in start..<output.count {
            let byte = output.base[offset]
            if !(byte == UInt8(ascii: "-") || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))) {
                onlyDigits = false
                break
            }
        }
        if onlyDigits { output.append(".0") }
    }

    // MARK: Dates

    /// libbson 1.23's relaxed date: before 1970 `{ "$date" : { "$numberLong" : "…" } }`, else
    /// `{ "$date" : "YYYY-MM-DDTHH:MM:SS[.mmm]Z" }` (gmtime_r + strftime "%Y-%m-%dT%H:%M:%S", the
    /// milliseconds only when not 0) — for every later year, also past 9999.
    static func appendDate(_ milliseconds: Int64, into output: inout Output) {
        if milliseconds < 0 {
            output.append(#"{ "$date" : { "$numberLong" : ""#)
            appendDecimal(milliseconds, into: &output)
            output.append(#"" } }"#)
            return
        }
        output.append(#"{ "$date" : ""#)
        let seconds = milliseconds / 1000
        let fraction = Int(milliseconds % 1000)
        let days = seconds / 86_400
        let secondOfDay = Int(seconds % 86_400)
        let (year, month, day) = CivilDate.from(daysSinceEpoch: days)
        output.reserve(48)
        appendDigits(UInt64(year), into: &output)
        let out = output.base
        var position = output.count
        @inline(__always) func two(_ separator: UInt8, _ value: Int) {
            out[position] = separator
            out[position + 1] = UInt8(ascii: "0") + UInt8(value / 10)
            out[position + 2] = UInt8(ascii: "0") + UInt8(value % 10)
            position += 3
        }
        two(UInt8(ascii: "-"), month)
        two(UInt8(ascii: "-"), day)
        two(UInt8(ascii: "T"), secondOfDay / 3600)
        two(UInt8(ascii: ":"), secondOfDay / 60 % 60)
        two(UInt8(ascii: ":"), secondOfDay % 60)
        if fraction != 0 {
            out[position] = UInt8(ascii: ".")
            out[position + 1] = UInt8(ascii: "0") + UInt8(fraction / 100)
            out[position + 2] = UInt8(ascii: "0") + UInt8(fraction / 10 % 10)
            out[position + 3] = UInt8(ascii: "0") + UInt8(fraction % 10)
            position += 4
        }
        output.count = position
        output.append(#"Z" }"#)
    }
}
