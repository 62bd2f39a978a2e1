import Foundation
import Testing
@testable import DocumentStore

/// Where the jobs find their schemas when nobody says: a build, a prefix install, the Debian package.
@Suite struct SchemaCatalogTests {
    /// A scratch tree; `schemas(at:)` puts the marker file where a Schemas directory should be.
    final class Tree {
        let root: String
        init() throws {
            root = FileManager.default.temporaryDirectory
                .appendingPathComponent("schema-catalog-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(atPath: root) }

        @discardableResult
        func directory(_ relative: String) throws -> String {
            let path = root + "/" + relative
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return path
        }

        @discardableResult
        func schemas(at relative: String) throws -> String {
            let path = try directory(relative)
            try Data("{}".utf8).write(to: URL(fileURLWithPath: path + "/genre.schema.json"))
            return path
        }
    }

    @Test func aPrefixInstallFindsShareMusicetlSchemasBesideBin() throws {
        let tree = try Tree()
        let bin = try tree.directory("prefix/bin")
        let installed = try tree.schemas(at: "prefix/share/musicetl/schemas")
        let system = try tree.schemas(at: "usr/share/musicetl/schemas")
        let found = try SchemaCatalog.locate(explicit: nil, executableDirectory: bin, systemDirectory: system,
                                             currentDirectory: try tree.directory("elsewhere"))
        #expect(found.directory == installed)
    }

    @Test func binariesAnywhereFindThePackagesSchemasBeforeTheCurrentDirectory() throws {
        let tree = try Tree()
        let system = try tree.schemas(at: "usr/share/musicetl/schemas")
        try tree.schemas(at: "checkout/Schemas")
        let found = try SchemaCatalog.locate(explicit: nil, executableDirectory: try tree.directory("opt/musicetl/bin"),
                                             systemDirectory: system,
                                             currentDirectory: try tree.directory("checkout/work"))
        #expect(found.directory == system)
    }

    @Test func aBuildFindsSchemasAtThePackageRootAndTheCurrentDirectoryIsTheLastResort() throws {
        let tree = try Tree()
        let root = try tree.schemas(at: "checkout/Schemas")
        let missing = tree.root + "/usr/share/musicetl/schemas"
        let beside = try SchemaCatalog.locate(explicit: nil,
                                              executableDirectory: try tree.directory("checkout/.build/debug"),
                                              systemDirectory: missing, currentDirectory: "/")
        #expect(beside.directory == root)
        let fromCurrent = try SchemaCatalog.locate(explicit: nil, executableDirectory: try tree.directory("bin"),
                                                   systemDirectory: missing,
                                                   currentDirectory: try tree.directory("checkout/work"))
        #expect(fromCurrent.directory == root)
    }

    @Test func anExplicitDirectoryWinsAndMustHoldSchemas() throws {
        let tree = try Tree()
        let chosen = try tree.schemas(at: "chosen")
        let system = try tree.schemas(at: "usr/share/musicetl/schemas")
        let found = try SchemaCatalog.locate(explicit: chosen, executableDirectory: try tree.directory("bin"),
                                             systemDirectory: system, currentDirectory: "/")
        #expect(found.directory == chosen)
        #expect(throws: SchemaError.self) {
            try SchemaCatalog.locate(explicit: try tree.directory("empty"), executableDirectory: tree.root,
                                     systemDirectory: system, currentDirectory: "/")
        }
    }

    @Test func nothingFoundNamesEveryPlaceAndTheWayOut() throws {
        let tree = try Tree()
        let missing = tree.root + "/usr/share/musicetl/schemas"
        let bin = try tree.directory("bin")
        let work = try tree.directory("work")
        do throws(SchemaError) {
            _ = try SchemaCatalog.locate(explicit: nil, executableDirectory: bin, systemDirectory: missing,
                                         currentDirectory: work)
            Issue.record("found schemas in an empty tree")
        } catch {
            #expect(error.message.contains(missing))
            #expect(error.message.contains("MUSICETL_SCHEMAS"))
        }
    }
}
