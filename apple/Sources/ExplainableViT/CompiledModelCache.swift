import Foundation

/// Compiled models kept across launches: a model downloaded or updated at run time is compiled once
/// (Core ML's `MLModel.compileModel(at:)` in `ExplainableClassifier.load(packageAt:)`) and the
/// `.mlmodelc` kept under the SHA-256 of the package it came from, so the next launch loads it at
/// once and a changed package is compiled again.
///
/// Layout: `directory/<name>/<sha256>.mlmodelc`, `name` the package's file name without its
/// extension. An entry appears only by an atomic rename of a finished copy, so an app killed while
/// storing one leaves a `.partial-*` folder, never a half-written entry; partial folders older than
/// `partialLifetime` and the entries of other hashes (earlier versions of the model) are removed
/// after each store. Pure Foundation: the compile step is passed in.
public struct CompiledModelCache: Sendable {
    /// Partial folders younger than this may still be written by another process of the app (an extension).
    public static let partialLifetime: TimeInterval = 600
    static let entryExtension = "mlmodelc"
    static let partialPrefix = ".partial-"

    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    /// `<caches>/<bundle identifier>/ExplainableViT/CompiledModels`: the app's caches folder, which the
    /// system may empty when space runs low (the model is then compiled again).
    public static func standard() throws -> CompiledModelCache {
        guard var caches = FileManager.default.urls(for: .cachesDirectory, in: .userDomainMask).first else {
            throw ExplainableViTError.modelCache("no caches folder")
        }
        if let bundle = Bundle.main.bundleIdentifier { caches.appendPathComponent(bundle, isDirectory: true) }
        return CompiledModelCache(directory: caches.appendingPathComponent("ExplainableViT/CompiledModels", isDirectory: true))
    }

    /// The compiled model for the package at `package`: the cached entry when one holds its hash,
    /// else `compile(package)` (a folder it returns, moved or copied into the cache). Stale entries
    /// of the same name are removed after a store.
    public func compiledModel(for package: URL, compile: (URL) async throws -> URL) async throws -> URL {
        let hash = try Self.sha256(ofPackageAt: package)
        let folder = directory.appendingPathComponent(Self.name(of: package), isDirectory: true)
        let entry = folder.appendingPathComponent("\(hash).\(Self.entryExtension)", isDirectory: true)
        if Self.isEntry(entry) { return entry }
        try? FileManager.default.removeItem(at: entry)  // a file or an empty folder in the entry's place
        let compiled = try await compile(package)
        try Task.checkCancellation()
        try store(compiled, as: entry, in: folder)
        removeStale(in: folder, keeping: entry.lastPathComponent)
        return entry
    }

    /// The entry that holds `package`'s compiled model, or nil (nothing is compiled or removed).
    public func cachedModel(for package: URL) throws -> URL? {
        let entry = directory.appendingPathComponent(Self.name(of: package), isDirectory: true)
            .appendingPathComponent("\(try Self.sha256(ofPackageAt: package)).\(Self.entryExtension)", isDirectory: true)
        return Self.isEntry(entry) ? entry : nil
    }

    /// Removes every entry (the folder itself).
    public func removeAll() throws {
        if FileManager.default.fileExists(atPath: directory.path) { try FileManager.default.removeItem(at: directory) }
    }

    static func name(of package: URL) -> String {
        let name = package.deletingPathExtension().lastPathComponent
        return name.isEmpty || name.hasPrefix(".") ? "model" : name
    }

    /// A complete entry: a folder with something in it.
    static func isEntry(_ url: URL) -> Bool {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue else { return false }
        return !((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).isEmpty
    }

    /// `compiled` into a partial folder beside the entry, then renamed to it in one step. When
    /// another process stored the same entry first, its copy is kept and ours dropped.
    private func store(_ compiled: URL, as entry: URL, in folder: URL) throws {
        let files = FileManager.default
        guard Self.isEntry(compiled) else { throw ExplainableViTError.modelCache("the compiler returned no model folder at \(compiled.path)") }
        do {
            try files.createDirectory(at: folder, withIntermediateDirectories: true)
            let partial = folder.appendingPathComponent("\(Self.partialPrefix)\(UUID().uuidString).\(Self.entryExtension)", isDirectory: true)
            do { try files.moveItem(at: compiled, to: partial) } catch { try files.copyItem(at: compiled, to: partial) }
            do {
                try files.moveItem(at: partial, to: entry)
            } catch where Self.isEntry(entry) {
                try? files.removeItem(at: partial)
            }
        } catch {
            throw ExplainableViTError.modelCache("could not store the compiled model in \(folder.path): \(error.localizedDescription)")
        }
    }

    /// Other hashes' entries, and partial folders older than `partialLifetime`; failures are left for next time.
    private func removeStale(in folder: URL, keeping kept: String) {
        let files = FileManager.default
        for name in (try? files.contentsOfDirectory(atPath: folder.path)) ?? [] where name != kept {
            let url = folder.appendingPathComponent(name)
            if name.hasPrefix(Self.partialPrefix) {
                let modified = (try? files.attributesOfItem(atPath: url.path)[.modificationDate] as? Date) ?? .distantPast
                guard Date().timeIntervalSince(modified) > Self.partialLifetime else { continue }
            } else if !name.hasSuffix(".\(Self.entryExtension)") {
                continue  // not ours
            }
            try? files.removeItem(at: url)
        }
    }

    /// The package's SHA-256 in hex: over its regular files in byte order of their paths relative to
    /// the package, each as the path's UTF-8, a zero byte, the size as 8 bytes little-endian, then the
    /// contents (a single-file model: the empty path). Links and special files are refused.
    public static func sha256(ofPackageAt url: URL) throws -> String {
        let files = FileManager.default
        var hash = SHA256Hash()
        var isFolder: ObjCBool = false
        guard files.fileExists(atPath: url.path, isDirectory: &isFolder) else {
            throw ExplainableViTError.modelCache("no model at \(url.path)")
        }
        let paths = isFolder.boolValue
            ? try files.subpathsOfDirectory(atPath: url.path).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) } : [""]
        for path in paths {
            let file = path.isEmpty ? url : url.appendingPathComponent(path)
            let attributes = try files.attributesOfItem(atPath: file.path)
            switch attributes[.type] as? FileAttributeType {
            case .typeDirectory?: continue
            case .typeRegular?: break
            default: throw ExplainableViTError.modelCache("\(file.path) is a link or a special file")
            }
            let size = (attributes[.size] as? NSNumber)?.uint64Value ?? 0
            var header = Array(path.utf8) + [0]
            header += (0..<8).map { UInt8(truncatingIfNeeded: size >> (8 * $0)) }
            header.withUnsafeBytes { hash.update($0) }
            try hashContents(of: file, into: &hash)
        }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }

    private static func hashContents(of file: URL, into hash: inout SHA256Hash) throws {
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            chunk.withUnsafeBytes { hash.update($0) }
        }
    }
}
