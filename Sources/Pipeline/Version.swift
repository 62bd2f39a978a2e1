/// The MusicETL release; `--version` on every job, the run ledger and export manifests.
public enum MusicETL {
    public static let version = "0.1.0"
}
