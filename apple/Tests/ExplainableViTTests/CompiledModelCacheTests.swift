import Foundation
import XCTest
@testable import ExplainableViT

/// The compiled-model cache's bookkeeping, with a stand-in compile step that writes a folder (no
/// Core ML here: what Core ML makes of a package is not checked on Linux).
final class CompiledModelCacheTests: XCTestCase {
    private var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("evit-cache-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    func digest(_ message: [UInt8], chunk: Int) -> String {
        var hash = SHA256Hash()
        var start = 0
        repeat {
            message[start..<min(start + chunk, message.count)].withUnsafeBytes { hash.update($0) }
            start += chunk
        } while start < message.count
        return hex(hash.finalize())
    }

    func testSHA256GivesTheFIPSVectors() {
        let vectors: [(String, Int, String)] = [  // FIPS 180-4 examples: message, repeats, digest
            ("", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
            ("a", 1_000_000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
        ]
        for (text, repeats, expected) in vectors {
            let message = (0..<repeats).flatMap { _ in Array(text.utf8) }
            for chunk in repeats > 1 ? [4099, 1 << 20] : [1, 63, 64] {  // whole blocks, pending bytes and both together
                XCTAssertEqual(digest(message, chunk: chunk), expected, "\(text.prefix(8)) x\(repeats) in chunks of \(chunk)")
            }
        }
    }

    /// A package folder like an .mlpackage: a manifest and a nested weights file.
    func makePackage(_ name: String = "model.mlpackage", weights: String = "w1") throws -> URL {
        let package = root.appendingPathComponent(name, isDirectory: true)
        let data = package.appendingPathComponent("Data/com.apple.CoreML", isDirectory: true)
        try FileManager.default.createDirectory(at: data.appendingPathComponent("weights"), withIntermediateDirectories: true)
        try Data("{\"fileFormatVersion\": \"1.0.0\"}".utf8).write(to: package.appendingPathComponent("Manifest.json"))
        try Data("program".utf8).write(to: data.appendingPathComponent("model.mlmodel"))
        try Data(weights.utf8).write(to: data.appendingPathComponent("weights/weight.bin"))
        return package
    }

    func testPackageHashCoversPathsSizesAndContents() throws {
        let package = try makePackage()
        let first = try CompiledModelCache.sha256(ofPackageAt: package)
        XCTAssertEqual(first.count, 64)
        let copy = try makePackage("copy.mlpackage")
        XCTAssertEqual(try CompiledModelCache.sha256(ofPackageAt: copy), first, "the package's own name is not hashed")
        let weights = package.appendingPathComponent("Data/com.apple.CoreML/weights/weight.bin")
        try Data("w2".utf8).write(to: weights)
        XCTAssertNotEqual(try CompiledModelCache.sha256(ofPackageAt: package), first, "contents")
        try Data("w1".utf8).write(to: weights)
        XCTAssertEqual(try CompiledModelCache.sha256(ofPackageAt: package), first)
        try FileManager.default.moveItem(at: weights, to: weights.deletingLastPathComponent().appendingPathComponent("weight2.bin"))
        XCTAssertNotEqual(try CompiledModelCache.sha256(ofPackageAt: package), first, "paths")
        try FileManager.default.createSymbolicLink(at: package.appendingPathComponent("link"), withDestinationURL: weights)
        XCTAssertThrowsError(try CompiledModelCache.sha256(ofPackageAt: package)) { XCTAssert("\($0)".contains("link"), "\($0)") }
        XCTAssertThrowsError(try CompiledModelCache.sha256(ofPackageAt: root.appendingPathComponent("absent.mlpackage")))
    }

    /// Stands in for `MLModel.compileModel(at:)`: a new folder in the temporary folder, counted.
    final class FakeCompiler: @unchecked Sendable {  // used from one test task at a time
        var calls = 0
        var interrupt = false
        func compile(_ package: URL) throws -> URL {
            calls += 1
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("fake-\(UUID().uuidString).mlmodelc", isDirectory: true)
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            try Data("compiled \(try CompiledModelCache.sha256(ofPackageAt: package))".utf8).write(to: out.appendingPathComponent("model.mil"))
            if interrupt { throw CancellationError() }
            return out
        }
    }

    func entries(_ cache: CompiledModelCache, _ name: String = "model") throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: cache.directory.appendingPathComponent(name).path).sorted()
    }

    func testCompilesOnceAndReusesAcrossLaunches() async throws {
        let package = try makePackage(), compiler = FakeCompiler()
        let cache = CompiledModelCache(directory: root.appendingPathComponent("Caches", isDirectory: true))
        let hash = try CompiledModelCache.sha256(ofPackageAt: package)
        XCTAssertNil(try cache.cachedModel(for: package))
        let url = try await cache.compiledModel(for: package) { try compiler.compile($0) }
        XCTAssertEqual(url.lastPathComponent, "\(hash).mlmodelc")
        XCTAssertEqual(url.deletingLastPathComponent().lastPathComponent, "model")
        XCTAssertEqual(try String(contentsOf: url.appendingPathComponent("model.mil"), encoding: .utf8), "compiled \(hash)")
        let relaunched = CompiledModelCache(directory: cache.directory)
        let again = try await relaunched.compiledModel(for: package) { try compiler.compile($0) }
        XCTAssertEqual(again, url)
        XCTAssertEqual(compiler.calls, 1)
        XCTAssertEqual(try relaunched.cachedModel(for: package), url)
        try relaunched.removeAll()
        XCTAssertFalse(FileManager.default.fileExists(atPath: cache.directory.path))
    }

    func testAChangedPackageReplacesItsStaleEntry() async throws {
        let compiler = FakeCompiler(), cache = CompiledModelCache(directory: root.appendingPathComponent("Caches"))
        let old = try await cache.compiledModel(for: try makePackage(weights: "v1")) { try compiler.compile($0) }
        let other = try await cache.compiledModel(for: try makePackage("other.mlpackage")) { try compiler.compile($0) }
        try Data("v2".utf8).write(to: root.appendingPathComponent("model.mlpackage/Data/com.apple.CoreML/weights/weight.bin"))
        let new = try await cache.compiledModel(for: root.appendingPathComponent("model.mlpackage")) { try compiler.compile($0) }
        XCTAssertNotEqual(new, old)
        XCTAssertEqual(try entries(cache), [new.lastPathComponent], "the old version removed")
        XCTAssertEqual(try entries(cache, "other"), [other.lastPathComponent], "another model's entry kept")
        XCTAssertEqual(compiler.calls, 3)
    }

    func testHalfWrittenEntriesFromAKilledAppAreSurvived() async throws {
        let package = try makePackage(), compiler = FakeCompiler()
        let cache = CompiledModelCache(directory: root.appendingPathComponent("Caches"))
        let folder = cache.directory.appendingPathComponent("model", isDirectory: true)
        let hash = try CompiledModelCache.sha256(ofPackageAt: package)
        // killed while copying into the cache: partial folders, one old, one that another process may still write
        let old = folder.appendingPathComponent(".partial-A.mlmodelc"), fresh = folder.appendingPathComponent(".partial-B.mlmodelc")
        for partial in [old, fresh] {
            try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
            try Data("half".utf8).write(to: partial.appendingPathComponent("model.mil"))
        }
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -2 * CompiledModelCache.partialLifetime)],
                                              ofItemAtPath: old.path)
        // something that is no entry in the entry's place (an empty folder)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("\(hash).mlmodelc"), withIntermediateDirectories: true)
        XCTAssertNil(try cache.cachedModel(for: package))
        // killed (here: interrupted) after compiling, before storing: nothing stored
        compiler.interrupt = true
        do {
            _ = try await cache.compiledModel(for: package) { try compiler.compile($0) }
            XCTFail("the interrupted compile stored an entry")
        } catch is CancellationError {}
        compiler.interrupt = false
        let url = try await cache.compiledModel(for: package) { try compiler.compile($0) }
        XCTAssertEqual(try entries(cache), [fresh.lastPathComponent, url.lastPathComponent].sorted())
        XCTAssertEqual(try String(contentsOf: url.appendingPathComponent("model.mil"), encoding: .utf8), "compiled \(hash)")
    }

    func testAnEntryStoredMeanwhileByAnotherProcessIsKept() async throws {
        let package = try makePackage(), compiler = FakeCompiler()
        let cache = CompiledModelCache(directory: root.appendingPathComponent("Caches"))
        let entry = cache.directory.appendingPathComponent("model/\(try CompiledModelCache.sha256(ofPackageAt: package)).mlmodelc")
        let url = try await cache.compiledModel(for: package) { package in
            let theirs = try compiler.compile(package)  // another process finishes first
            try FileManager.default.createDirectory(at: entry.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.moveItem(at: theirs, to: entry)
            return try compiler.compile(package)
        }
        XCTAssertEqual(url.standardizedFileURL.path, entry.standardizedFileURL.path)
        XCTAssertEqual(try entries(cache), [entry.lastPathComponent], "our copy dropped, no partial left")
    }
}
