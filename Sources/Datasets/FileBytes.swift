import Foundation

/// Reading whole files or their first bytes, with errors that name the path and say why.
enum FileBytes {
    static func read(_ path: String) throws -> Data {
        try checkReadableFile(path)
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ImageError(path: path, problem: "cannot read file (\(error.localizedDescription))")
        }
    }

    /// The first `count` bytes (fewer if the file is shorter).
    static func prefix(_ path: String, count: Int) throws -> [UInt8] {
        try checkReadableFile(path)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ImageError(path: path, problem: "cannot open file for reading")
        }
        defer { try? handle.close() }
        do {
            return [UInt8](try handle.read(upToCount: count) ?? Data())
        } catch {
            throw ImageError(path: path, problem: "cannot read file (\(error.localizedDescription))")
        }
    }

    static func checkReadableFile(_ path: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) != nil
            throw ImageError(path: path, problem: link ? "broken symbolic link (cannot read file)" : "no such file")
        }
        if isDir.boolValue { throw ImageError(path: path, problem: "is a directory, not a file") }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ImageError(path: path, problem: "file is not readable (permission denied)")
        }
    }
}
