import Foundation

/// Directory helpers for dataset discovery: sorted, hidden files and OS clutter left out.
enum DirectoryListing {
    static let clutter: Set<String> = ["Thumbs.db", "desktop.ini"]

    static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    /// Entries of a directory (names, sorted), or an ImageError naming the directory.
    static func entries(_ dir: String) throws -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) else {
            throw ImageError(path: dir, problem: "no such directory")
        }
        guard isDir.boolValue else { throw ImageError(path: dir, problem: "not a directory") }
        do {
            return try FileManager.default.contentsOfDirectory(atPath: dir)
                .filter { !$0.hasPrefix(".") && !clutter.contains($0) }
                .sorted()
        } catch {
            throw ImageError(path: dir, problem: "cannot list directory (\(error.localizedDescription))")
        }
    }

    /// Non-directory entries (broken links included, so they are reported rather than ignored).
    static func files(_ dir: String) throws -> [String] {
        try entries(dir).filter { !isDirectory(join(dir, $0)) }
    }

    static func subdirectories(_ dir: String) throws -> [String] {
        try entries(dir).filter { isDirectory(join(dir, $0)) }
    }

    static func join(_ a: String, _ b: String) -> String {
        a.hasSuffix("/") ? a + b : a + "/" + b
    }

    /// "name.ext" → "name" (only the last extension).
    static func baseName(_ file: String) -> String {
        guard let dot = file.lastIndex(of: "."), dot != file.startIndex else { return file }
        return String(file[..<dot])
    }

    static func ext(_ file: String) -> String {
        guard let dot = file.lastIndex(of: "."), dot != file.startIndex else { return "" }
        return file[file.index(after: dot)...].lowercased()
    }
}
