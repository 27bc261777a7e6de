#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file. Pages are read lazily by the kernel, so a
/// large checkpoint never exists as a second in-memory copy; `release` hands pages that
/// were already copied out back to the kernel.
final class MappedFile {
    let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?
    private let pageSize: Int

    init(path: String) throws {
        pageSize = max(Int(sysconf(Int32(_SC_PAGESIZE))), 1)
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw CheckpointProblem("cannot open file: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw CheckpointProblem("cannot stat file: \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw CheckpointProblem("not a regular file")
        }
        let size = Int(st.st_size)
        if size == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw CheckpointProblem("cannot memory-map file: \(String(cString: strerror(errno)))")
        }
        base = p
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    deinit {
        if let base { munmap(base, bytes.count) }
    }

    /// Drops the whole pages inside `range` from this process's resident set; they are
    /// read from the file again if touched later.
    func release(_ range: Range<Int>) {
        guard let base else { return }
        let lo = (range.lowerBound + pageSize - 1) / pageSize * pageSize
        let hi = range.upperBound / pageSize * pageSize
        guard hi > lo else { return }
        _ = madvise(base + lo, hi - lo, Int32(MADV_DONTNEED))
    }
}
