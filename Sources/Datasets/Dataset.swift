import NormalizeStage
import Pipeline
import Staging

/// One dataset the jobs serve: its input files and their schemas, the step that derives training
/// rows from the staged entities, and what the export takes by default. A dataset is defined in
/// one type conforming to this protocol (plus its schemas under `Schemas/`); the stages take
/// what it declares through their options and never name a dataset.
///
/// Why a Swift type rather than a declarative file: the joins and derived columns of a dataset
/// are code (FMA's genre hierarchy and audio features, MSSD's session context), and a type keeps
/// them typed and tested without inventing an expression language; what is declarative already
/// (columns, types, keys, indexes, validators) stays in the JSON Schemas.
public protocol Dataset: Sendable {
    /// The `--dataset` value.
    var name: String { get }
    /// One line for `--help` and errors.
    var title: String { get }
    /// The CSV files of each entity, in extraction order.
    var entities: [EntityInput] { get }
    /// Whether the night runs `etl-features` over audio files.
    var hasAudio: Bool { get }
    /// The collection `etl-export` exports by default (the training rows).
    var trainingCollection: String { get }
    /// `etl-normalize` for this dataset: staged entities → staged training rows (joins, derived
    /// columns, split, scaler fitted on the training split only).
    func deriveTrainingRows(_ options: NormalizeOptions, context: JobContext) async throws -> JobSummary
}
