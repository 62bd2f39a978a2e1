import Testing
import TestSupport
@testable import Tabular

/// Runs a parser and returns its error, or nil if it succeeded.
private func failure<Value>(_ parse: () throws(CellParseError) -> Value) -> CellParseError? {
    do {
        _ = try parse()
        return nil
    } catch {
        return error
    }
}

// Expected instants were computed independently with Python's `datetime(..., tzinfo=timezone.utc)`.

@Suite("CellParsers: integers")
struct IntegerParserTests {
    @Test(arguments: [
        ("2", Int64(2)), ("256000", 256_000), ("0", 0), ("-7", -7), ("+3", 3), ("007", 7),
        (" 42 ", 42), ("\t42", 42), ("2.0", 2), ("-3.00", -3), ("0.0", 0),
        ("9223372036854775807", .max), ("-9223372036854775808", .min),
    ])
    func accepted(cell: String, expected: Int64) throws {
        #expect(try CellParsers.integer(cell) == expected)
    }

    @Test func realSampleCells() throws {
        // raw_tracks.sample.csv track 10: track_bit_rate, track_interest, track_listens.
        #expect(try CellParsers.integer("192000") == 192_000)
        #expect(try CellParsers.integer("54881") == 54_881)
        #expect(try CellParsers.integer("50135") == 50_135)
    }

    @Test func fractionalPartIsRejectedWithReason() {
        let error = failure { () throws(CellParseError) in try CellParsers.integer("1.5") }
        #expect(error?.kind == .invalidInteger)
        #expect(error?.reason == "expected an integer, got '1.5' which has a fractional part")
    }

    @Test(arguments: ["abc", "12abc", "1e3", "1_000", "0x1F", "--1", "+", "-", "2.", ".0", "1 2", "١٢", "1,00", "1,0000", ",100", "1,000,00", "NaN"])
    func rejected(cell: String) {
        let error = failure { () throws(CellParseError) in try CellParsers.integer(cell) }
        #expect(error?.kind == .invalidInteger)
        #expect(error?.reason.hasPrefix("expected an integer") == true)
    }

    @Test(arguments: [("1,000", 1_000), ("12,345", 12_345), ("-1,234,567", -1_234_567), (" 4,656 ", 4_656), ("1,000.00", 1_000)])
    func thousandsSeparatorsAreRead(cell: String, expected: Int64) throws {
        #expect(try CellParsers.integer(cell) == expected)
    }

    @Test func thousandsSeparatorsInDoubles() throws {
        #expect(try CellParsers.double("1,234.5") == 1_234.5)
        #expect(try CellParsers.double("-12,345") == -12_345)
        #expect(failure { () throws(CellParseError) in try CellParsers.double("1,5") }?.kind == .invalidDouble)
    }

    @Test func textInAnIntColumnQuotesTheCell() {
        let error = failure { () throws(CellParseError) in try CellParsers.integer("Radio-Safe") }
        #expect(error?.reason == "expected an integer like 42 or -7, got 'Radio-Safe'")
    }

    @Test func emptyCellIsAnError() {
        let error = failure { () throws(CellParseError) in try CellParsers.integer("   ") }
        #expect(error?.reason == "expected an integer, got an empty cell")
    }

    @Test func overflowIsReportedNotWrapped() {
        let error = failure { () throws(CellParseError) in try CellParsers.integer("99999999999999999999") }
        #expect(error?.kind == .integerOutOfRange)
        #expect(error?.reason == "integer '99999999999999999999' is outside the 64-bit range "
                + "-9223372036854775808...9223372036854775807")
        #expect(failure { () throws(CellParseError) in try CellParsers.integer("9223372036854775808") }?.kind
                == .integerOutOfRange)
        #expect(failure { () throws(CellParseError) in try CellParsers.integer("-9223372036854775809") }?.kind
                == .integerOutOfRange)
    }

    @Test func byteInputWithInvalidUTF8() {
        let bytes: [UInt8] = [0x32, 0xFF]
        let error = bytes.withUnsafeBufferPointer { buffer in
            failure { () throws(CellParseError) in try CellParsers.integer(utf8: buffer) }
        }
        #expect(error?.reason == "expected an integer like 42 or -7, got '2\u{FFFD}'")
    }

    @Test func byteInputSliceOfARecord() throws {
        let record = Array("2,1,AWOL".utf8)
        let value = try record.withUnsafeBufferPointer { buffer throws(CellParseError) in
            try CellParsers.integer(utf8: UnsafeBufferPointer(rebasing: buffer[2..<3]))
        }
        #expect(value == 1)
    }
}

@Suite("CellParsers: doubles and booleans")
struct DoubleAndBooleanParserTests {
    @Test(arguments: [
        ("40.058323800000", 40.0583238), ("-74.405661200000", -74.4056612), ("52.152355", 52.152355),
        ("-8.610314", -8.610314), ("3", 3), ("+2.5", 2.5), (".5", 0.5), ("5.", 5), ("1.2e-3", 0.0012),
        ("1E+3", 1000), (" 1.5 ", 1.5), ("-0", -0.0), ("1e-400", 0),
    ])
    func accepted(cell: String, expected: Double) throws {
        #expect(try CellParsers.double(cell) == expected)
    }

    /// Parsed numbers against strtod, bit for bit, on random decimals (around 2^53 too).
    @Test func agreesWithStrtodBitForBit() throws {
        var random = SplitMix64(seed: 53)
        func check(_ text: String) throws {
            guard let reference = Double(text) else {
                Issue.record("strtod refuses \(text)")
                return
            }
            let parsed = try CellParsers.double(text)
            #expect(parsed.bitPattern == reference.bitPattern, "\(text): \(parsed) vs strtod's \(reference)")
        }
        for _ in 0..<100_000 {
            var digits = (0..<Int(random.next() % 20) + 1).map { _ in Character(String(random.next() % 10)) }
            if random.next() % 8 == 0 { digits = Array(String((1 << 53) - 2 + random.next() % 5)) }  // around 2^53
            if random.next() % 2 == 0 { digits.insert(".", at: Int(random.next() % UInt64(digits.count + 1))) }
            var text = (random.next() % 4 == 0 ? (random.next() % 2 == 0 ? "-" : "+") : "") + String(digits)
            if random.next() % 3 == 0 { text += "e" + (random.next() % 2 == 0 ? "-" : "") + String(random.next() % 30) }
            try check(text)
        }
        for text in ["9007199254740992", "9007199254740993", "9007199254740992e22", "1e22", "1e23", "-0", "-0.0e5",
                     "0.000000000000000000001", "123456789012345678e-5", "40.058323800000"] {
            try check(text)
        }
    }

    @Test(arguments: ["nan", "NaN", "inf", "-inf", "+Infinity", "INF"])
    func nonFiniteTextIsRejected(cell: String) {
        let error = failure { () throws(CellParseError) in try CellParsers.double(cell) }
        #expect(error?.kind == .nonFiniteDouble)
        #expect(error?.reason == "expected a finite number, got '\(cell)': NaN and infinity are not accepted")
    }

    @Test func overflowToInfinityIsRejected() {
        let error = failure { () throws(CellParseError) in try CellParsers.double("1e400") }
        #expect(error?.kind == .nonFiniteDouble)
        #expect(error?.reason == "number '1e400' is too large for a 64-bit floating-point value")
    }

    @Test(arguments: ["", "abc", "1.2.3", "1e", "1e+", "0x1p3", "1,5", "- 1", ".", "1 000"])
    func malformedNumbersAreRejected(cell: String) {
        let error = failure { () throws(CellParseError) in try CellParsers.double(cell) }
        #expect(error?.kind == .invalidDouble)
    }

    @Test func malformedNumberReason() {
        let error = failure { () throws(CellParseError) in try CellParsers.double("12,5") }
        #expect(error?.reason == "expected a number like 3.14, -2 or 1.5e-3, got '12,5'")
    }

    @Test(arguments: [("1", true), ("0", false), ("true", true), ("False", false), ("TRUE", true), (" 0 ", false),
                      ("yes", true), ("No", false), ("YES", true)])
    func booleans(cell: String, expected: Bool) throws {
        #expect(try CellParsers.boolean(cell) == expected)
    }

    @Test(arguments: ["y", "nope", "2", "Radio-Safe", "", "t", "1.0", "\u{11}"])
    func nonBooleansAreRejected(cell: String) {
        let error = failure { () throws(CellParseError) in try CellParsers.boolean(cell) }
        #expect(error?.kind == .invalidBoolean)
    }

    @Test func booleanReason() {
        let error = failure { () throws(CellParseError) in try CellParsers.boolean("Radio-Unsafe") }
        #expect(error?.reason == "expected a boolean (1, 0, true, false, yes or no), got 'Radio-Unsafe'")
    }
}

@Suite("CellParsers: date-times")
struct DateTimeParserTests {
    @Test(arguments: [
        // Shapes found in the FMA samples.
        ("11/26/2008 01:48:12 AM", Int64(1_227_664_092_000)),    // raw_tracks track_date_created
        ("11/25/2008 05:49:06 PM", 1_227_635_346_000),           // PM adds 12 hours
        ("1/22/2011 12:10:00 PM", 1_295_698_200_000),            // 12 PM is noon
        ("1/22/2011 12:10:00 AM", 1_295_655_000_000),            // 12 AM is midnight
        ("11/26/2008", 1_227_657_600_000),                       // track_date_recorded
        ("1/01/2008", 1_199_145_600_000),                        // one-digit month
        ("4/27/1978", 262_483_200_000),
        ("2008", 1_199_145_600_000),                             // year only
        ("2014-03-06 07:13:48", 1_394_090_028_000),              // tracks.csv
        ("2006-11-01 00:00:00", 1_162_339_200_000),
        // Other accepted layouts.
        ("2008-11-26", 1_227_657_600_000),
        ("2008-11-26T01:48:12Z", 1_227_664_092_000),
        ("2008-11-26T01:48:12", 1_227_664_092_000),
        ("2008-11-26t01:48:12z", 1_227_664_092_000),
        ("2008-11-26T01:48:12.345Z", 1_227_664_092_345),
        ("2008-11-26T01:48:12.3Z", 1_227_664_092_300),
        ("2008-11-26T01:48:12.999999Z", 1_227_664_092_999),     // truncated, not rounded
        ("2008-11-26T01:48:12+01:00", 1_227_660_492_000),
        ("2008-11-26T01:48:12+0100", 1_227_660_492_000),
        ("2008-11-26T01:48:12+01", 1_227_660_492_000),
        ("2008-11-26T01:48:12-05:30", 1_227_683_892_000),
        ("2008-11-26T01:48Z", 1_227_664_080_000),
        ("11/26/2008 13:48:12", 1_227_707_292_000),              // 24-hour without AM/PM
        ("11/26/2008 1:48:12 am", 1_227_664_092_000),
        ("11/26/2008 01:48 AM", 1_227_664_080_000),
        ("11/26/2008 01:48:12AM", 1_227_664_092_000),
        ("  2008-11-26  ", 1_227_657_600_000),
        ("1969-12-31T23:59:59Z", -1_000),
        ("1970-01-01", 0),
        ("2000-02-29", 951_782_400_000),                         // divisible by 400: leap
        ("2016-02-29", 1_456_704_000_000),
        ("1900-02-28", -2_203_977_600_000),
        ("0001-01-01", -62_135_596_800_000),
        ("9999-12-31T23:59:59Z", 253_402_300_799_000),
    ])
    func accepted(cell: String, expected: Int64) throws {
        #expect(try CellParsers.dateTimeMilliseconds(cell) == expected)
    }

    @Test func impossibleMonthNamesTheLayout() {
        let error = failure { () throws(CellParseError) in try CellParsers.dateTimeMilliseconds("13/40/2008") }
        #expect(error?.kind == .impossibleDateTime)
        #expect(error?.reason == "impossible date '13/40/2008' (read as MM/DD/YYYY): month 13 is not in 1...12")
    }

    @Test func februaryThirtieth() {
        let error = failure { () throws(CellParseError) in try CellParsers.dateTimeMilliseconds("02/30/2008") }
        #expect(error?.reason == "impossible date '02/30/2008' (read as MM/DD/YYYY): "
                + "day 30 does not exist in February 2008, which has 29 days")
    }

    @Test(arguments: ["1900-02-29", "2007-02-29", "2008-04-31", "2008-00-10", "2008-12-00", "2008-13-01"])
    func impossibleCalendarDates(cell: String) {
        #expect(failure { () throws(CellParseError) in try CellParsers.dateTimeMilliseconds(cell) }?.kind
                == .impossibleDateTime)
    }

    @Test func hourThirteenWithPM() {
        let error = failure { () throws(CellParseError) in
            try CellParsers.dateTimeMilliseconds("11/26/2008 13:48:12 PM")
        }
        #expect(error?.reason == "impossible date '11/26/2008 13:48:12 PM' (read as MM/DD/YYYY hh:mm:ss AM): "
                + "hour 13 is not in 1...12 on a 12-hour clock")
    }

    @Test(arguments: ["11/26/2008 00:48:12 AM", "2008-11-26 24:00:00", "2008-11-26 10:60:00",
                      "2008-11-26 10:00:60", "2008-11-26T10:00:00+24:00", "2008-11-26T10:00:00+01:60"])
    func impossibleTimes(cell: String) {
        #expect(failure { () throws(CellParseError) in try CellParsers.dateTimeMilliseconds(cell) }?.kind
                == .impossibleDateTime)
    }

    @Test func zeroDateHasItsOwnKind() {
        let error = failure { () throws(CellParseError) in
            try CellParsers.dateTimeMilliseconds("0000-00-00 00:00:00")
        }
        #expect(error?.kind == .zeroDate)
        #expect(error?.reason.contains("placeholder for a missing date") == true)
    }

    @Test(arguments: [
        ("1/01/08", "2008-01-01T00:00:00Z"), ("11/26/08 1:48 AM", "2008-11-26T01:48:00Z"),
        ("11/26/08 1:48:12 PM", "2008-11-26T13:48:12Z"), ("2/29/68 23:59", "2068-02-29T23:59:00Z"),
        ("12/31/69", "1969-12-31T00:00:00Z"), ("1/1/99", "1999-01-01T00:00:00Z"), ("1/1/00", "2000-01-01T00:00:00Z"),
    ])
    func twoDigitYearsPivotAsPercentY(cell: String, expected: String) throws {
        let milliseconds = try CellParsers.dateTimeMilliseconds(cell)
        #expect(milliseconds == (try CellParsers.dateTimeMilliseconds(expected)))
    }

    @Test func twoDigitYearNamesItsLayout() {
        let error = failure { () throws(CellParseError) in try CellParsers.dateTimeMilliseconds("2/30/08") }
        #expect(error?.reason == "impossible date '2/30/08' (read as MM/DD/YY): day 30 does not exist in February 2008, which has 29 days")
    }

    @Test func slashShapeMismatchExplainsTheExpectedLayout() {
        let error = failure { () throws(CellParseError) in try CellParsers.dateTimeMilliseconds("26/Nov/2008") }
        #expect(error?.kind == .invalidDateTime)
        #expect(error?.reason == "expected a date like MM/DD/YYYY, MM/DD/YYYY hh:mm:ss AM, MM/DD/YYYY HH:mm:ss or MM/DD/YY, "
                + "got '26/Nov/2008'")
    }

    @Test func dashShapeMismatchExplainsTheExpectedLayout() {
        let error = failure { () throws(CellParseError) in try CellParsers.dateTimeMilliseconds("2008-1-26") }
        #expect(error?.reason == "expected a date like YYYY-MM-DD, YYYY-MM-DD HH:mm:ss or "
                + "YYYY-MM-DDTHH:mm:ss[.sss][Z|±HH:MM], got '2008-1-26'")
    }

    @Test func unknownShape() {
        let error = failure { () throws(CellParseError) in try CellParsers.dateTimeMilliseconds("yesterday") }
        #expect(error?.kind == .invalidDateTime)
        #expect(error?.reason == "expected a date like MM/DD/YYYY hh:mm:ss AM, YYYY-MM-DD hh:mm:ss, "
                + "YYYY-MM-DDThh:mm:ssZ or YYYY, got 'yesterday'")
    }

    @Test(arguments: [
        "", "08", "20081", "11/26/008", "11/26/8", "11/26/08 01:48:12 XM", "11/26/2008 01:48:12 AMX",
        "11/26/2008 1:4:12 AM", "11/26/2008T01:48:12", "2008-11-26T01:48:12.Z", "2008-11-26T01:48:12+1",
        "2008-11-26 01:48:12 AM", "2008-11-26T01:48:12Z junk", "2008/11/26", "11-26-2008", "11/26/2008 01:48:12.5",
    ])
    func malformedShapesAreRejected(cell: String) {
        #expect(failure { () throws(CellParseError) in try CellParsers.dateTimeMilliseconds(cell) }?.kind
                == .invalidDateTime)
    }

    @Test func longCellsAreShortenedInReasons() {
        let cell = String(repeating: "x", count: 10_000)
        let error = failure { () throws(CellParseError) in try CellParsers.dateTimeMilliseconds(cell) }
        #expect(error?.reason.hasSuffix("got '" + String(repeating: "x", count: 60) + "…'") == true)
    }

    @Test func controlCharactersAreEscapedInReasons() {
        let error = failure { () throws(CellParseError) in try CellParsers.dateTimeMilliseconds("2008\n\u{0}'") }
        #expect(error?.reason.hasSuffix(#"got '2008\n\x00\''"#) == true)
    }
}

@Suite("CellParsers: durations")
struct DurationParserTests {
    @Test(arguments: [
        ("168", 168.0), ("168.5", 168.5), ("1233", 1233), ("0", 0), (" 161 ", 161),   // raw_tracks.sample.csv
        ("02:48", 168), ("2:48", 168), ("00:00", 0), ("20:33", 1233), ("75:30", 4530),
        ("01:02:03", 3723), ("1:02:03", 3723), ("100:00:00", 360_000), ("03:05.5", 185.5),
    ])
    func accepted(cell: String, expected: Double) throws {
        #expect(try CellParsers.durationSeconds(cell) == expected)
    }

    @Test func secondsOverFiftyNine() {
        let error = failure { () throws(CellParseError) in try CellParsers.durationSeconds("1:75") }
        #expect(error?.kind == .invalidDuration)
        #expect(error?.reason == "invalid duration '1:75' (read as mm:ss): seconds 75 is not in 0...59")
    }

    @Test func minutesOverFiftyNineInHoursLayout() {
        let error = failure { () throws(CellParseError) in try CellParsers.durationSeconds("1:75:00") }
        #expect(error?.reason == "invalid duration '1:75:00' (read as hh:mm:ss): minutes 75 is not in 0...59")
    }

    @Test func negativeDuration() {
        let error = failure { () throws(CellParseError) in try CellParsers.durationSeconds("-5") }
        #expect(error?.reason == "invalid duration '-5': a duration cannot be negative")
    }

    @Test(arguments: ["", "abc", "1:5", "1:", ":30", "1:2:3", "1:02:03:04", "1e3", "+5", "1:30 min",
                      "1.5:30", "03:05.", "nan", "1,5"])
    func malformedDurations(cell: String) {
        #expect(failure { () throws(CellParseError) in try CellParsers.durationSeconds(cell) }?.kind
                == .invalidDuration)
    }

    @Test func malformedDurationReason() {
        let error = failure { () throws(CellParseError) in try CellParsers.durationSeconds("3 minutes") }
        #expect(error?.reason == "expected a duration like mm:ss, hh:mm:ss or seconds (168, 168.5), got '3 minutes'")
    }
}

/// The exact reasons that Tests/Fixtures/malformed/README.md promises for the corpus cells.
@Suite("CellParsers: reasons promised by the malformed corpus README")
struct MalformedCorpusReasonTests {
    @Test func corpusReasons() {
        #expect(failure { () throws(CellParseError) in try CellParsers.integer("many") }?.reason
                == "expected an integer like 42 or -7, got 'many'")
        #expect(failure { () throws(CellParseError) in try CellParsers.integer("n/a") }?.reason
                == "expected an integer like 42 or -7, got 'n/a'")
        #expect(failure { () throws(CellParseError) in
            try CellParsers.dateTimeMilliseconds("13/40/2008 01:48:14 AM")
        }?.reason == "impossible date '13/40/2008 01:48:14 AM' (read as MM/DD/YYYY hh:mm:ss AM): "
            + "month 13 is not in 1...12")
        #expect(failure { () throws(CellParseError) in try CellParsers.dateTimeMilliseconds("02/30/2008") }?.reason
                == "impossible date '02/30/2008' (read as MM/DD/YYYY): day 30 does not exist in February 2008, "
                + "which has 29 days")
        #expect(failure { () throws(CellParseError) in
            try CellParsers.dateTimeMilliseconds("26 Nov 2008, 1:48")
        }?.reason == "expected a date like MM/DD/YYYY hh:mm:ss AM, YYYY-MM-DD hh:mm:ss, YYYY-MM-DDThh:mm:ssZ or YYYY, "
            + "got '26 Nov 2008, 1:48'")
        #expect(failure { () throws(CellParseError) in
            try CellParsers.dateTimeMilliseconds("11/26/2008 25:45:05 AM")
        }?.reason == "impossible date '11/26/2008 25:45:05 AM' (read as MM/DD/YYYY hh:mm:ss AM): "
            + "hour 25 is not in 1...12 on a 12-hour clock")
        #expect(failure { () throws(CellParseError) in try CellParsers.durationSeconds("1:75") }?.reason
                == "invalid duration '1:75' (read as mm:ss): seconds 75 is not in 0...59")
        #expect(failure { () throws(CellParseError) in try CellParsers.integer("99999999999999999999") }?.reason
                == "integer '99999999999999999999' is outside the 64-bit range "
                + "-9223372036854775808...9223372036854775807")
        #expect(failure { () throws(CellParseError) in try CellParsers.double("40.0.5") }?.reason
                == "expected a number like 3.14, -2 or 1.5e-3, got '40.0.5'")
        let invalidKey: [UInt8] = [0x35, 0xFF]
        #expect(invalidKey.withUnsafeBufferPointer { bytes in
            failure { () throws(CellParseError) in try CellParsers.integer(utf8: bytes) }?.reason
        } == "expected an integer like 42 or -7, got '5\u{FFFD}'")
    }

    @Test func corpusControlsParse() throws {
        #expect(try CellParsers.durationSeconds("02:48") == 168)
        #expect(try CellParsers.durationSeconds("03:57") == 237)
        #expect(try CellParsers.durationSeconds("1:02:03") == 3723)
        #expect(try CellParsers.integer(" 2 ") == 2)
        #expect(try CellParsers.integer(" 1293") == 1293)
        #expect(try CellParsers.durationSeconds("237 ") == 237)
        #expect(try CellParsers.integer("-5") == -5)  // the schema, not the parser, rejects it
    }
}

/// FMA's two fixed-width date layouts.
@Suite("CellParsers: FMA's date-time layouts")
struct DateTimeLayoutTests {
    @Test func commonLayouts() throws {
        func fast(_ text: String) -> Int64? { try? CellParsers.dateTimeMilliseconds(text) }
        #expect(fast("2008-11-25 17:03:04") == 1_227_632_584_000)
        #expect(fast("11/26/2008 01:44:45 AM") == 1_227_663_885_000)
        #expect(fast("11/26/2008 12:44:45 AM") == 1_227_660_285_000, "12 AM is midnight")
        let leapNoon = try CellParsers.dateTimeMilliseconds("2008-02-29 12:00:00")
        #expect(fast("02/29/2008 12:00:00 PM") == leapNoon)
        #expect(fast("02/29/2009 12:00:00 PM") == nil, "no such day")
        #expect(fast("0000-00-00 00:00:00") == nil, "the zero date")
        #expect(fast("2008-11-25 24:00:00") == nil)
    }
}
