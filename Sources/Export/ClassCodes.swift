import DocumentStore

/// Columns written as integer codes (a string property marked `"x-encode": "class-map"` in the
/// collection's schema) and their maps, `class_maps.json` beside the export:
/// `{"<column>": {"<class>": <code>, …}, …}`, columns in export order, each column's classes in
/// code order. Codes are stable across exports (`ClassMap.extended`: a class keeps its code,
/// classes new to this export get the next codes in code-point order, so a first export codes
/// them 0, 1, … in sorted order, as pandas' sorted-unique label encoding does). A missing value
/// stays an empty cell (null in JSON Lines).
public enum ClassCodes {
    public static let fileName = "class_maps.json"
    public static let rule = "a class keeps its code from the previous export's class_maps.json; classes new to this export get the next codes, in code-point order (a first export codes each column's classes 0, 1, … in sorted order); a missing value is an empty cell (null in JSON Lines)"

    /// The maps of a `class_maps.json`; nil when the file is absent or not such a file.
    public static func read(path: String) -> [String: [String: Int]]? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let document = try? BSONDocument(json: text).document() else { return nil }
        var maps: [String: [String: Int]] = [:]
        for column in document.fields {
            guard let classes = column.value.documentValue else { return nil }
            var map: [String: Int] = [:]
            for field in classes.fields {
                guard let code = field.value.int64Value else { return nil }
                map[field.key] = Int(code)
            }
            maps[column.key] = map
        }
        return maps
    }

    /// `class_maps.json`'s text: `columns` in this order, classes by code.
    public static func text(_ maps: [String: [String: Int]], columns: [String]) throws -> String {
        var document = Document()
        for column in columns {
            guard let map = maps[column] else { continue }
            var classes = Document()
            for (name, code) in map.sorted(by: { $0.value < $1.value }) { classes.append(name, .integer(code)) }
            document.append(column, .document(classes))
        }
        return try BSONDocument(document).relaxedExtendedJSON + "\n"
    }

    /// The code of each value of a class-map column in a JSON Lines row.
    static func encode(_ value: BSONValue?, codes: [String: Int], column: String, row: Int) throws -> BSONValue? {
        switch value {
        case nil, .null?: return value
        case .string(let text)?:
            guard let code = codes[text] else { throw unknown(text, column: column, row: row) }
            return .integer(code)
        case let other?:
            throw notText(CellText.of(other), column: column, row: row)
        }
    }

    static func unknown(_ text: String, column: String, row: Int) -> ExportError {
        ExportError("row \(row) of the export: \(column) \"\(text)\" has no code in the class map (the collection changed while it was exported?): nothing written; run the export again", isDataError: true)
    }

    static func notText(_ text: String, column: String, row: Int) -> ExportError {
        ExportError("row \(row) of the export: \(column) holds a value that is not text (\(text)); a class-map column holds text classes: nothing written", isDataError: true)
    }
}
