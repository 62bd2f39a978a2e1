import DocumentStore

/// `--only` ids as the stages compare them.
public enum OnlyIDs {
    /// `--only 000002,5` → {"2", "5"}: integer ids compare as numbers, paths as given.
    public static func normalized(_ ids: Set<String>) -> Set<String> {
        Set(ids.map { id in integer(id).map(String.init) ?? id })
    }

    /// The number a text of decimal digits only stands for (leading zeros allowed: `000002` → 2);
    /// nil for anything else (a sign, a space, a path).
    public static func integer(_ text: String) -> Int64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return Int64(text)
    }

    /// The `_id` an id text stands for: an integer when it is one, else the text.
    public static func idValue(_ text: String) -> BSONValue {
        Int64(text).map(BSONValue.integer) ?? .string(text)
    }
}
