import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes a file so that readers see either the old complete file or the new complete
/// file, never a partial one: write a temporary in the same directory, fsync, rename.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        let tmp = (dir.isEmpty ? "." : dir) + "/.\((path as NSString).lastPathComponent).tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw ioError(path, "cannot create \(tmp)") }
        var ok = true
        data.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + off, raw.count - off)
                if n <= 0 { ok = false; break }
                off += n
            }
        }
        if ok { ok = fsync(fd) == 0 }
        close(fd)
        guard ok else {
            unlink(tmp)
            throw ioError(path, "write failed (disk full?)")
        }
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw ioError(path, "cannot rename the temporary file into place")
        }
        // Persist the rename itself.
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    static func ioError(_ path: String, _ what: String) -> Error {
        FileError(path: path, problem: "\(what): \(String(cString: strerror(errno)))")
    }
}

public struct FileError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String
    public init(path: String, problem: String) { self.path = path; self.problem = problem }
    public var description: String { "\(path): \(problem)" }
}
