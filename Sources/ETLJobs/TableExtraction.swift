import DocumentStore
import Foundation
import Logging
import Pipeline
import Tabular

/// Counts for one extracted CSV file. Invariant: `rowsIn == written + quarantined`.
struct TableCounts: Sendable {
    var rowsIn = 0
    var written = 0
    var quarantined = 0
    /// Rows kept with invalid UTF-8 replaced by U+FFFD.
    var repairedText = 0
    var blankLines = 0
}

/// Turns one CSV file into documents of one schema: maps header columns to schema properties,
/// coerces every cell, and sends rows that fail to the quarantine file with the reason, the
/// physical line and the column. Nothing is dropped silently.
struct TableExtraction {
    let schema: EntitySchema
    let inputPath: String
    let quarantineDirectory: String
    let logger: Logger

    private struct MappedProperty {
        let property: EntitySchema.Property
        let cellType: CellType
        let columnIndex: Int
        let columnName: String
    }

    var inputName: String { (inputPath as NSString).lastPathComponent }

    /// Reads the whole file, handing each valid document to `emit` in input order.
    func run(emit: (Document) throws -> Void) throws -> TableCounts {
        let reader = try CSVReader(path: inputPath)
        var header = CSVRecord()
        guard try reader.next(into: &header) else {
            throw JobError(.dataError, "\(inputName): empty file, expected a header line (schema \(schema.name))")
        }
        let headerNames = header.fields
        let mapped = try mapColumns(headerNames)
        let mappedIndexes = Set(mapped.map(\.columnIndex))
        let extraColumns = headerNames.indices.filter { !mappedIndexes.contains($0) }
        if !extraColumns.isEmpty {
            logger.warning("\(inputName): columns not in schema \(schema.name), carried through as text: \(extraColumns.map { headerNames[$0] }.joined(separator: ", "))")
        }
        let keyColumn = mapped.first { $0.property.name == "_id" }?.columnName ?? "_id"
        let quarantine = QuarantineFile(directory: quarantineDirectory, inputFileName: inputName, header: headerNames)
        var counts = TableCounts()
        var firstLineOfID: [String: Int] = [:]  // keyed by the id's text: int32 5 and int64 5 are one id
        var record = CSVRecord()
        while try reader.next(into: &record) {
            counts.rowsIn += 1
            switch buildDocument(record, mapped: mapped, extraColumns: extraColumns, headerNames: headerNames) {
            case .failure(let reject):
                try quarantine.reject(record, reason: reject.reason, column: reject.column)
                counts.quarantined += 1
            case .success(let built):
                if let id = built.document["_id"] {
                    if let firstLine = firstLineOfID[id.displayText] {
                        try quarantine.reject(record, reason: "duplicate \(keyColumn) \(id.displayText) (first on line \(firstLine))",
                                              column: keyColumn)
                        counts.quarantined += 1
                        continue
                    }
                    firstLineOfID[id.displayText] = record.line
                }
                if built.repairedText { counts.repairedText += 1 }
                try emit(built.document)
                counts.written += 1
            }
        }
        counts.blankLines = reader.blankLinesSkipped
        try quarantine.commit()
        if quarantine.count > 0 {
            logger.warning("\(inputName): \(quarantine.count) rows quarantined in \(quarantine.path)")
        }
        return counts
    }

    private func mapColumns(_ headerNames: [String]) throws -> [MappedProperty] {
        var mapped: [MappedProperty] = []
        var missingOptional: [String] = []
        for property in schema.properties {
            guard let typeName = property.cellType else { continue }  // computed, not read
            guard let cellType = CellType(rawValue: typeName) else {
                throw JobError(.usage, "schema \(schema.path): property \(property.name) has unknown x-type \(typeName)")
            }
            if let (index, name) = property.columns.lazy.compactMap({ name in
                headerNames.firstIndex(of: name).map { ($0, name) } }).first {
                mapped.append(MappedProperty(property: property, cellType: cellType, columnIndex: index, columnName: name))
            } else if property.isRequired {
                throw JobError(.dataError, "\(inputName): required column \(property.columns.joined(separator: " or ")) is missing (schema \(schema.name), property \(property.name))")
            } else {
                missingOptional.append(property.columns[0])
            }
        }
        if !missingOptional.isEmpty {
            logger.info("\(inputName): optional columns absent, left null: \(missingOptional.joined(separator: ", "))")
        }
        return mapped
    }

    private struct Reject: Error {
        var reason: String
        var column: String
    }

    private struct Built {
        var document: Document
        var repairedText: Bool
    }

    private func buildDocument(_ record: CSVRecord, mapped: [MappedProperty], extraColumns: [Int],
                               headerNames: [String]) -> Result<Built, Reject> {
        if record.count != headerNames.count {
            return .failure(Reject(reason: "\(record.count) fields, expected \(headerNames.count) as in the header", column: ""))
        }
        if let problem = record.problem {
            return .failure(Reject(reason: problem, column: headerNames[record.problemColumn - 1]))
        }
        var document = Document()
        var repaired = false
        for column in mapped {
            let index = column.columnIndex
            if record.contains(byte: 0, in: index) {
                return .failure(Reject(reason: "NUL byte in field", column: column.columnName))
            }
            if !record.isValidUTF8(index) {
                if column.property.name == "_id" || column.cellType != .string {
                    return .failure(Reject(reason: "invalid UTF-8 in \(column.cellType.rawValue) field", column: column.columnName))
                }
                repaired = true
            }
            let text = record[index]
            if text.isEmpty {
                if let fallback = column.property.emptyValue {
                    document.append(column.property.name, fallback)
                } else if column.property.isRequired {
                    return .failure(Reject(reason: "required field is empty", column: column.columnName))
                } else {
                    document.append(column.property.name, .null)
                }
                continue
            }
            switch column.cellType.coerce(text) {
            case .success(let value): document.append(column.property.name, value.bsonValue)
            case .failure(let failure): return .failure(Reject(reason: failure.reason, column: column.columnName))
            }
        }
        for index in extraColumns {
            if !record.isValidUTF8(index) { repaired = true }
            document.append(headerNames[index], record.isEmpty(index) ? .null : .string(record[index]))
        }
        return .success(Built(document: document, repairedText: repaired))
    }
}

extension BSONValue {
    /// A short human form for messages (`21`, `"Hip-Hop"`).
    var displayText: String {
        switch self {
        case .int32(let v): String(v)
        case .int64(let v): String(v)
        case .double(let v): String(v)
        case .string(let s): "'\(s)'"
        default: "\(self)"
        }
    }
}
