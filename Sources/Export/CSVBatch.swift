import DocumentStore
import Tabular

/// A batch of cursor documents (their BSON bytes back to back) and, once formatted, their CSV
/// lines: the main line of each row, and where the export has them its partition line (the
/// partition column left out), partition value, label value and hash shard number.
///
/// Formatting is most of an export's CPU time, so batches are formatted on worker threads while
/// the caller reads the cursor and writes the lines in order.
final class CSVBatch: @unchecked Sendable {  // owns libbson iterators and bson_t storage; OrderedBatchQueue hands it to one thread at a time
    private let formatter: RowFormatter
    private let sequence = BSONSequenceReader()
    private let partitionIndex: Int?
    private let labelIndex: Int?
    private let idIndex: Int
    private let shardCount: Int

    var documents: [UInt8] = []
    private(set) var count = 0

    /// Output: `lines` holds every row's main line, each followed by its partition line if any.
    private(set) var lines: [UInt8] = []
    private(set) var mainLineEnds: [Int] = []
    private(set) var partitionLineEnds: [Int] = []
    private(set) var partitionValues: [String] = []
    private(set) var labelValues: [String] = []
    private(set) var shards: [Int] = []
    private(set) var failure: (any Error)?
    /// The export's row number of the first document, for error messages.
    var firstRow = 1

    /// Non-finite numbers written as empty cells, per column.
    var nonFiniteCounts: [Int] { formatter.nonFiniteCounts }

    /// `classCodes`: the columns written as codes (see `ClassCodes`); `shardCount`: hash shards
    /// computed here (0 when the writer assigns shards itself).
    init(layout: ColumnLayout, classCodes: [String: [String: Int]], partitionIndex: Int?, labelIndex: Int?, idIndex: Int,
         shardCount: Int) {
        formatter = RowFormatter(layout: layout, classCodes: classCodes)
        self.partitionIndex = partitionIndex
        self.labelIndex = labelIndex
        self.idIndex = idIndex
        self.shardCount = shardCount
    }

    func add(_ document: BorrowedBSON) {
        document.withRawBytes { documents.append(contentsOf: $0) }
        count += 1
    }

    /// Empties the batch for reuse (buffers keep their capacity).
    func reset() {
        documents.removeAll(keepingCapacity: true)
        count = 0
        lines.removeAll(keepingCapacity: true)
        mainLineEnds.removeAll(keepingCapacity: true)
        partitionLineEnds.removeAll(keepingCapacity: true)
        partitionValues.removeAll(keepingCapacity: true)
        labelValues.removeAll(keepingCapacity: true)
        formatter.resetCounts()
        shards.removeAll(keepingCapacity: true)
        failure = nil
    }

    func format() {
        var row = firstRow
        do {
            try documents.withUnsafeBytes { bytes in
                try sequence.forEach(in: bytes) { document in
                    try formatter.format(document, row: row)
                    row += 1
                    formatter.appendCSVLine(to: &lines)
                    mainLineEnds.append(lines.count)
                    if let labelIndex { labelValues.append(formatter.text(labelIndex)) }
                    if let partitionIndex {
                        partitionValues.append(formatter.text(partitionIndex))
                        formatter.appendCSVLine(to: &lines, skipping: partitionIndex)
                        partitionLineEnds.append(lines.count)
                    }
                    if shardCount > 0 {
                        shards.append(Int(StableHash.fnv1a64(formatter.text(idIndex)) % UInt64(shardCount)))
                    }
                }
            }
        } catch {
            failure = error
        }
    }
}
