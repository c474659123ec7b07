import Foundation
import Testing
@testable import Engines

/// The flag catalogs and stock backends compiled into the binary (`CEmbedded`, listed by
/// scripts/gen-embedded.py) are exactly the files in the tree.
@Suite struct EmbeddedFilesTests {
    static let root = CatalogGeneratorTests.root

    /// Every catalog and stock backend of the tree is embedded, byte for byte, and nothing else is. A
    /// failure means the list is stale (a file added, removed or changed since the last
    /// `python3 scripts/gen-embedded.py`, which `make catalogs` runs).
    @Test func embeddedFilesMatchTheTree() throws {
        let fm = FileManager.default
        for (directory, suffix, prefix) in [("Sources/Engines/Resources/catalogs", ".json", "catalogs/"),
                                            ("templates", ".yaml", "templates/")] {
            let dir = Self.root.appendingPathComponent(directory)
            let files = try fm.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(suffix) }.sorted()
            #expect(!files.isEmpty)
            #expect(EmbeddedFiles.names(under: prefix) == files.map { prefix + $0 },
                    "the embedded list is stale: run python3 scripts/gen-embedded.py")
            for name in files {
                let disk = try #require(fm.contents(atPath: dir.appendingPathComponent(name).path))
                #expect(EmbeddedFiles.bytes(prefix + name) == [UInt8](disk),
                        "\(directory)/\(name) differs from the embedded copy: run python3 scripts/gen-embedded.py")
            }
        }
        #expect(EmbeddedFiles.bytes("catalogs/none.json") == nil)
        #expect(!EmbeddedFiles.contains("templates/none.yaml"))
    }

    /// The store reads the embedded catalogs when given no folder, the same as from the tree's.
    @Test func theStoreReadsTheEmbeddedCatalogs() throws {
        let tree = CatalogStore(directory: Self.root.appendingPathComponent("Sources/Engines/Resources/catalogs"))
        let embedded = CatalogStore()
        for engine in EngineKind.allCases {
            #expect(embedded.versions(of: engine) == tree.versions(of: engine))
            #expect(!embedded.versions(of: engine).isEmpty)
        }
        let a = try embedded.catalog(.vllm, version: "0.33.0")
        let b = try tree.catalog(.vllm, version: "0.33.0")
        #expect(a.flags.count == b.flags.count)
        #expect(a.flags.count > 100)
        // The history (removals) comes from the embedded files too.
        #expect(try embedded.catalog(.sglang, version: "0.5.23").history != nil)
    }
}
