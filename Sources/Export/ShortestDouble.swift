/// The shortest text that reads back as the same Double, byte for byte what Swift's `description`
/// prints, for the values training data is made of (1e-4 ≤ |v| < 2^53, printed in plain decimal
/// notation), about 3× cheaper than the standard library's general algorithm, which formatting
/// ~150 features per row made the export's largest cost.
///
/// Method (exact integer arithmetic, no tables beyond powers of ten): v = m·2^e. The decimals
/// that read back as v are those strictly inside (inclusive when m is even) the interval halfway
/// to v's neighbours. For p decimal places the candidates are the integers D with
/// D·10^-p in that interval, an integer range computed with 128-bit products and shifts; the
/// smallest p with a non-empty range gives the shortest text (found from v's binary exponent in
/// two checks but for short decimals), and within it the D closest to v, as Swift chooses. Values outside the
/// range, and an exact tie between two closest candidates, are left to the standard library
/// (`append` returns false).
enum ShortestDouble {
    /// 10^0 … 10^21 (a literal, so the table needs no lazy initialisation): with a 55-bit scaled
    /// significand the products stay below 2^125.
    private static let powersOfTen: [UInt128] = [
        1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000,
        10_000_000_000, 100_000_000_000, 1_000_000_000_000, 10_000_000_000_000, 100_000_000_000_000,
        1_000_000_000_000_000, 10_000_000_000_000_000, 100_000_000_000_000_000,
        1_000_000_000_000_000_000, 10_000_000_000_000_000_000, 100_000_000_000_000_000_000,
        1_000_000_000_000_000_000_000,
    ]

    /// Appends `value`'s text and returns true, or returns false (nothing appended) when the
    /// value is outside the fast method's range.
    static func append(_ value: Double, to bytes: inout [UInt8]) -> Bool {
        let magnitude = value.magnitude
        guard magnitude >= 1e-4, magnitude < 9_007_199_254_740_992.0 else { return false }
        let bits = magnitude.bitPattern
        let biasedExponent = Int(bits >> 52)
        let fraction = bits & ((1 << 52) - 1)
        let significand = fraction | (1 << 52)
        // v = significand · 2^exponent with exponent in [-66, 0]; everything below is scaled by
        // 4 so that the half-way points to both neighbours are integers: v = 4m · 2^-shift.
        let exponent = biasedExponent - 1075
        let shift = 2 - exponent
        let scaled = UInt128(significand << 2)
        // Below a power of two the neighbour is half as far.
        let lower = scaled - (fraction == 0 && biasedExponent > 1 ? 1 : 2), upper = scaled + 2
        let inclusive = significand & 1 == 0  // an exact half-way decimal reads back as the even one
        let mask = (UInt128(1) << shift) - 1

        return powersOfTen.withUnsafeBufferPointer { powers in
            func candidates(_ places: Int) -> (first: UInt128, last: UInt128)? {
                let a = lower &* powers[places], b = upper &* powers[places]
                var first = a &>> shift
                if !inclusive || a & mask != 0 { first &+= 1 }
                var last = b &>> shift
                if !inclusive && b & mask == 0 { last &-= 1 }
                return first <= last ? (first, last) : nil
            }

            // 10^-p ≤ ulp = 2^exponent from p = ⌈-exponent·log10 2⌉ on (78913 / 2^18 ≈ log10 2), so
            // p is enough or, below a power of two, p + 1; fewer places only for short decimals.
            let enough = (-exponent * 78_913) >> 18 + (exponent < 0 ? 1 : 0)
            var places: Int
            var range: (first: UInt128, last: UInt128)
            if enough > 0, let shorter = candidates(enough - 1) {
                places = enough - 1
                range = shorter
                while places > 0, let found = candidates(places - 1) {
                    places -= 1
                    range = found
                }
            } else if let found = candidates(enough) {
                places = enough
                range = found
            } else if enough < 21, let found = candidates(enough + 1) {
                places = enough + 1
                range = found
            } else {
                return false
            }

            // The candidate closest to v.
            let exact = scaled &* powers[places]
            let remainder = exact & mask, half = UInt128(1) << (shift - 1)
            if remainder == half { return false }
            var digits = (exact &>> shift) &+ (remainder > half ? 1 : 0)
            digits = min(max(digits, range.first), range.last)

            if value < 0 { bytes.append(UInt8(ascii: "-")) }
            appendDecimal(UInt64(truncatingIfNeeded: digits), places: places, to: &bytes)
            return true
        }
    }

    /// "00" "01" … "99": two digits per division.
    private static let digitPairs: [UInt8] = (0..<100).flatMap { [UInt8(ascii: "0") + UInt8($0 / 10), UInt8(ascii: "0") + UInt8($0 % 10)] }

    /// Writes the two digits of `value` (< 100) just before `start`, and moves `start` there.
    @inline(__always)
    private static func writePair(_ value: UInt64, into raw: UnsafeMutableRawBufferPointer, before start: inout Int,
                                  pairs: UnsafeBufferPointer<UInt8>) {
        let pair = Int(truncatingIfNeeded: value) &* 2
        start &-= 2
        raw[start] = pairs[pair]
        raw[start &+ 1] = pairs[pair &+ 1]
    }

    /// `digits · 10^-places` in plain notation, at least one digit on each side of the point.
    private static func appendDecimal(_ digits: UInt64, places: Int, to bytes: inout [UInt8]) {
        // Digits are written right to left into 24 bytes of stack, two per division.
        var text: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let start = withUnsafeMutableBytes(of: &text) { raw -> Int in
            digitPairs.withUnsafeBufferPointer { pairs -> Int in
                var start = 24
                var low = digits
                var rest = digits
                if digits >= 100_000_000 {
                    // The low eight digits and the rest: two independent chains of divisions.
                    rest = digits / 100_000_000
                    low = digits &- rest &* 100_000_000
                    for _ in 0..<4 {
                        let next = low / 100
                        writePair(low &- next &* 100, into: raw, before: &start, pairs: pairs)
                        low = next
                    }
                }
                while rest >= 100 {
                    let next = rest / 100
                    writePair(rest &- next &* 100, into: raw, before: &start, pairs: pairs)
                    rest = next
                }
                if rest >= 10 {
                    writePair(rest, into: raw, before: &start, pairs: pairs)
                } else {
                    start &-= 1
                    raw[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest)
                }
                return start
            }
        }
        let count = 24 - start
        withUnsafeBytes(of: &text) { raw in
            let buffer = raw.bindMemory(to: UInt8.self)
            if places == 0 {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[start..<24]))
                bytes.append(UInt8(ascii: "."))
                bytes.append(UInt8(ascii: "0"))
            } else if count > places {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[start..<(24 - places)]))
                bytes.append(UInt8(ascii: "."))
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[(24 - places)..<24]))
            } else {
                bytes.append(UInt8(ascii: "0"))
                bytes.append(UInt8(ascii: "."))
                for _ in 0..<(places - count) { bytes.append(UInt8(ascii: "0")) }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[start..<24]))
            }
        }
    }
}
