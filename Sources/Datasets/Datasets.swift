import Pipeline

/// The datasets the jobs serve, by `--dataset` name.
public enum Datasets {
    /// Every dataset, the default (`CommonOptions.defaultDataset`) first.
    public static let all: [any Dataset] = [FMADataset(), MSSDDataset()]

    public static var names: [String] { all.map(\.name) }

    /// The dataset called `name`; an unknown name is a usage error (exit 64) listing the known ones.
    public static func named(_ name: String) throws(JobError) -> any Dataset {
        guard let dataset = all.first(where: { $0.name == name }) else {
            throw JobError(.usage, "--dataset \(name): no such dataset (known: \(names.joined(separator: ", ")))")
        }
        return dataset
    }

    /// The folder of `dataset` under the work dir and the schemas: none for FMA, whose files have
    /// always been at the roots (an existing work dir and install keep working), the dataset's
    /// name for every other.
    public static func directory(of dataset: any Dataset) -> String? {
        dataset.name == FMADataset().name ? nil : dataset.name
    }
}
