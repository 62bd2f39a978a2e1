import DocumentStore

/// `--only` ids as the stages compare them.
public enum OnlyIDs {
    /// `--only 000002,5` → {"2", "5"}: integer ids compare as numbers, paths as given.
    public static func normalized(_ ids: Set<String>) -> Set<String> {
        Set(ids.map { id in
            if !id.isEmpty, id.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
               let value = Int64(id) {
                return String(value)
            }
            return id
        })
    }

    /// The `_id` an id text stands for: an integer when it is one, else the text.
    public static func idValue(_ text: String) -> BSONValue {
        Int64(text).map(BSONValue.integer) ?? .string(text)
    }
}
