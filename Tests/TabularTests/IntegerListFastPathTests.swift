import Testing
@testable import Tabular

/// `int-list` cells: plain lists of integers and FMA's lists of genre dictionaries.
@Suite struct IntegerListTests {
    @Test func commonShapes() {
        func parsed(_ text: String) -> FieldValue? {
            try? CellType.intList.coerce(text, itemKey: "genre_id").get()
        }
        #expect(parsed("[]") == .list([]))
        #expect(parsed("[21, 76]") == .list([.int(21), .int(76)]))
        #expect(parsed("[{'genre_id': '21', 'genre_title': 'Hip-Hop', 'genre_url': 'http://freemusicarchive.org/genre/Hip-Hop/'}]")
                == .list([.int(21)]))
        #expect(parsed("[{'genre_title': 'It\\'s', 'genre_id': '21'}]") == .list([.int(21)]), "escapes in other values")
        #expect(parsed("[{'genre_title': 'Rock'}]") == nil, "no genre_id")
    }
}
