/// The multi-row header of FMA's processed `tracks.csv` (written by pandas from a two-level column
/// index):
///
/// ```
/// ,album,album,…,set,set,track,…          level 1: the entity
/// ,comments,date_created,…,split,subset,…  level 2: the field
/// track_id,,,…                              the index name, then nothing
/// ```
///
/// `read` consumes those three records and returns one flat name per column: `track_id` for the
/// index column, `level1.level2` for the others (`album.title`, `set.split`). An empty level-1
/// cell repeats the one before it (as a merged cell would), so hand-edited files still read.
public enum FMAHeader {
    public static let rowCount = 3

    public static func read(from reader: CSVReader, record: inout CSVRecord) throws(CSVError) -> [String] {
        var rows: [[String]] = []
        var lines: [Int] = []
        func fail(_ line: Int, _ recordNumber: Int, _ message: String) -> CSVError {
            CSVError(path: reader.path, line: line, record: recordNumber, column: 0, message: message)
        }
        let expectation = "tracks.csv needs 3 header rows (level 1 album/artist/set/track, the field names, then track_id)"
        let skipsBlankRows = reader.skipsBlankRows
        reader.skipsBlankRows = false
        defer { reader.skipsBlankRows = skipsBlankRows }
        for index in 0..<rowCount {
            guard try reader.next(into: &record) else {
                if index == 0 {
                    throw fail(1, 1, "the file is empty (no header line); \(expectation)")
                }
                throw fail(lines.last.map { $0 + 1 } ?? 1, index + 1,
                           "the file ends after \(index) header row\(index == 1 ? "" : "s"); \(expectation)")
            }
            let fields = record.fields
            switch index {
            case 0 where !fields[0].isEmpty:
                throw fail(record.line, record.number,
                           "not the 3-row tracks.csv header (first cell '\(fields[0].excerpt)', expected empty); \(expectation)")
            case 1 where !fields[0].isEmpty:
                throw fail(record.line, record.number,
                           "header row 2 starts with '\(fields[0].excerpt)' where the field-name row (first cell empty) was expected: the second header row is missing; \(expectation)")
            case 2 where fields[0].isEmpty || fields.dropFirst().contains(where: { !$0.isEmpty }):
                throw fail(record.line, record.number,
                           "header row 3 should be the index name (track_id) followed by empty cells; \(expectation)")
            default: break
            }
            rows.append(fields)
            lines.append(record.line)
        }
        if rows[0].count != rows[1].count || rows[1].count != rows[2].count {
            throw fail(lines[0], 1,
                       "header rows differ in length (\(rows[0].count) vs \(rows[1].count) vs \(rows[2].count) fields); \(expectation)")
        }
        var names = [rows[2][0]]
        var group = ""
        for column in 1..<rows[0].count {
            if !rows[0][column].isEmpty { group = rows[0][column] }
            let field = rows[1][column]
            guard !group.isEmpty, !field.isEmpty else {
                throw CSVError(path: reader.path, line: lines[group.isEmpty ? 0 : 1], record: group.isEmpty ? 1 : 2,
                               column: column + 1, message: "empty header cell; \(expectation)")
            }
            names.append(group + "." + field)
        }
        return names
    }
}
