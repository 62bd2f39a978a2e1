/// "%.20g" of a double, exactly as the C library prints it, for the common range and without a
/// call to printf: the value's exact binary fraction times a power of ten, in 128-bit integers,
/// rounded half to even to 20 significant digits (glibc prints the exact value so rounded), in
/// fixed notation with trailing zeros dropped. `RelaxedJSONWriter` prints doubles this way because
/// libbson prints them with "%.20g"; `ExactDecimalTests` holds it to vsnprintf on millions of values.
enum ExactDecimal {
    /// Powers of ten up to 10^22, the largest scale the range needs.
    private static let powersOfTen: [UInt128] = {
        var powers: [UInt128] = [1]
        for _ in 1...22 { powers.append(powers[powers.count - 1] * 10) }
        return powers
    }()

    /// The 20 significant digits of a non-integral `magnitude` in [0.001, 2^52) and the decimal
    /// exponent of the first; nil outside that range (the caller then uses printf).
    static func digits(of magnitude: Double) -> (digits: UInt128, exponent: Int)? {
        guard magnitude >= 0.001, magnitude < 4_503_599_627_370_496 else { return nil }  // 2^52
        let significand = UInt128(magnitude.significandBitPattern | (1 << 52))
        let shift = 52 - Int(magnitude.exponent)  // magnitude = significand / 2^shift, 1 ≤ shift ≤ 62
        guard shift >= 1, shift <= 62 else { return nil }
        let lower = powersOfTen[19], upper = powersOfTen[20]
        var exponent = Int(magnitude.exponent10Estimate.rounded(.down))
        for _ in 0..<4 {  // the estimate is off by at most one
            let scale = 19 - exponent
            guard scale >= 0, scale <= 22 else { return nil }
            let scaled = significand * powersOfTen[scale]
            var digits = scaled >> shift
            if digits >= upper { exponent += 1; continue }
            if digits < lower { exponent -= 1; continue }
            let remainder = scaled & ((1 << shift) - 1)
            let half = UInt128(1) << (shift - 1)
            if remainder > half || (remainder == half && digits & 1 == 1) { digits += 1 }
            if digits == upper { return (lower, exponent + 1) }
            return (digits, exponent)
        }
        return nil
    }

    /// The text "%.20g" prints for a non-integral finite `value` whose magnitude is in
    /// [0.001, 2^52), appended to `output`; false (nothing appended) otherwise.
    static func appendG20(_ value: Double, into output: inout RelaxedJSONWriter.Output) -> Bool {
        guard let (digits, exponent) = digits(of: value.magnitude), exponent >= -4, exponent < 20 else { return false }
        // The 20 digits, most significant first.
        var text: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &text) { raw in
            let digitBytes = raw.bindMemory(to: UInt8.self)
            // One 128-bit division, then ten digits from each 64-bit half: dividing the 128-bit
            // value by 10 per digit was a library call each time.
            var halves = (high: UInt64(digits / 10_000_000_000), low: UInt64(digits % 10_000_000_000))
            for index in stride(from: 19, through: 10, by: -1) {
                digitBytes[index] = UInt8(ascii: "0") + UInt8(halves.low % 10)
                halves.low /= 10
            }
            for index in stride(from: 9, through: 0, by: -1) {
                digitBytes[index] = UInt8(ascii: "0") + UInt8(halves.high % 10)
                halves.high /= 10
            }
            let integerDigits = max(exponent + 1, 0)
            var fractionEnd = 20  // %g drops trailing zeros of the fraction
            while fractionEnd > integerDigits, digitBytes[fractionEnd - 1] == UInt8(ascii: "0") { fractionEnd -= 1 }
            output.reserve(28)
            if value.sign == .minus { output.append(UInt8(ascii: "-")) }
            if integerDigits > 0 {
                for index in 0..<integerDigits { output.append(digitBytes[index]) }
            } else {
                output.append(UInt8(ascii: "0"))
            }
            if fractionEnd > integerDigits {
                output.append(UInt8(ascii: "."))
                for _ in 0..<max(-exponent - 1, 0) { output.append(UInt8(ascii: "0")) }
                for index in integerDigits..<fractionEnd { output.append(digitBytes[index]) }
            }
            return true
        }
    }
}

private extension Double {
    /// log10 of the value, for a first guess of its decimal exponent.
    var exponent10Estimate: Double { Double(exponent) * 0.301029995663981195 + (significand - 1) * 0.4342944819 }
}
