import DocumentStore
import Pipeline
import Testing

/// `--only` ids as every stage compares them: decimal digits are a number, anything else a path.
@Suite struct OnlyIDsTests {
    @Test func digitsAreNumbersWhateverTheirLeadingZeros() {
        #expect(OnlyIDs.integer("000002") == 2)
        #expect(OnlyIDs.integer("5") == 5)
        #expect(OnlyIDs.integer("-3") == nil)
        #expect(OnlyIDs.integer("+3") == nil)
        #expect(OnlyIDs.integer("") == nil)
        #expect(OnlyIDs.integer("000/000002.mp3") == nil)
        #expect(OnlyIDs.integer("99999999999999999999") == nil)
    }

    @Test func normalizedIdsCompareAsTheStagedIdsDo() {
        #expect(OnlyIDs.normalized(["000002", "5", "extra/intro.wav", "-3"]) == ["2", "5", "extra/intro.wav", "-3"])
        #expect(OnlyIDs.idValue("2") == .integer(2))
        #expect(OnlyIDs.idValue("extra/intro.wav") == .string("extra/intro.wav"))
    }
}
