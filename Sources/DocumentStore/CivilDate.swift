/// Calendar dates from day counts, in integer arithmetic: shared by the staging JSON writer
/// (libbson's date text) and the export's ISO 8601 cells, which must agree to the day.
public enum CivilDate {
    /// Proleptic Gregorian year, month, day of a day count from 1970-01-01 (negative before it),
    /// counting in 400-year eras (146,097 days each) from 0000-03-01 so leap days fall at the end
    /// of a year.
    @inline(__always)
    public static func from(daysSinceEpoch: Int64) -> (year: Int64, month: Int, day: Int) {
        let shifted = daysSinceEpoch + 719_468  // days from 0000-03-01 to 1970-01-01
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097  // floor division
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153  // 0 = March
        let day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        let month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
