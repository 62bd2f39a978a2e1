import DocumentStore

/// Every document of the collections the pipeline owns, by collection, in `_id` order (the run
/// ledger, leases and the load's own state differ by nature from run to run and are left out).
func pipelineState(uri: String, database: String) throws -> [String: [Document]] {
    let client = try MongoConnection(uri: uri).client()
    var state: [String: [Document]] = [:]
    for name in ["genres", "albums", "artists", "tracks", "features", "training", "scalers"] {
        let cursor = try client.collection(name, database: database).find([:], options: ["sort": .document(["_id": 1])])
        var documents: [Document] = []
        while let document = try cursor.next() { documents.append(document) }
        state[name] = documents
    }
    return state
}

/// A scaler document without what names the run that fitted it (`fitted_on.run_id`, and the
/// load's `_hash` of the staged document, which covers it): two work directories that fit the
/// same parameters in two runs stage the same scaler but for these.
func withoutFittingRun(_ scaler: Document) -> Document {
    var scaler = scaler, fittedOn = scaler["fitted_on"]?.documentValue
    fittedOn?["run_id"] = nil
    scaler["fitted_on"] = fittedOn.map(BSONValue.document)
    scaler["_hash"] = nil
    return scaler
}

/// Collection name → documents, with each scaler's fitting run left out.
func withoutFittingRun(_ state: [String: [Document]]) -> [String: [Document]] {
    var state = state
    state["scalers"] = state["scalers"]?.map(withoutFittingRun)
    return state
}
