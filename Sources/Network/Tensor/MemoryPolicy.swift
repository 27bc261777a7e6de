import CKernels

/// Process-wide allocator setting for training and benchmarks. Activations are large arrays
/// (tens to hundreds of MB) allocated and freed every layer; glibc serves those with mmap and
/// returns them with munmap, so every new tensor costs page faults and kernel zeroing (measured:
/// ~20% of the mask decoder's forward + backward in exc_page_fault / clear_page). Raising the
/// mmap and trim thresholds keeps freed blocks in the heap for the next layer to reuse.
public enum MemoryPolicy {
    /// Keeps freed blocks up to `maxBlockMB` in the heap instead of unmapping them. Call once at start.
    public static func reuseFreedBlocks(maxBlockMB: Int = 1024) {
        _ = ck_malloc_reuse(Int32(clamping: maxBlockMB << 20))
    }
}
