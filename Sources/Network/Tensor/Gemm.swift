import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif

/// Row-major single-precision GEMM: C = alpha·op(A)·op(B) + beta·C.
/// `lda`, `ldb`, `ldc` default to the packed row lengths.
@inline(__always)
public func sgemm(transA: Bool = false, transB: Bool = false,
                  m: Int, n: Int, k: Int,
                  alpha: Float = 1,
                  a: UnsafePointer<Float>, lda: Int? = nil,
                  b: UnsafePointer<Float>, ldb: Int? = nil,
                  beta: Float = 0,
                  c: UnsafeMutablePointer<Float>, ldc: Int? = nil) {
    let la = lda ?? (transA ? m : k)
    let lb = ldb ?? (transB ? k : n)
    let lc = ldc ?? n
    cblas_sgemm(CblasRowMajor,
                transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha,
                a, Int32(la), b, Int32(lb), beta, c, Int32(lc))
}

/// The compute libraries' thread counts. OpenBLAS has one process-wide count (its nature, not
/// ours): `ExecutionContext.make` sets it when a command builds its context, and exports
/// OMP_NUM_THREADS for libgomp if oneDNN is not loaded yet; the oneDNN backend sets the OpenMP
/// count per call from the context's count. So ranks × threads never oversubscribes the cores.
public enum ComputeThreads {
    /// Sets OpenBLAS's count and exports OMP_NUM_THREADS (max(1, n) threads).
    public static func applyToLibraries(_ n: Int) {
        let k = max(1, n)
        openblas_set_num_threads(Int32(k))
        setenv("OMP_NUM_THREADS", String(k), 1)
    }

    /// OpenBLAS's current count (its default, or what `applyToLibraries` set).
    public static func openBLASThreads() -> Int { Int(openblas_get_num_threads()) }

    public static let blasConfig: String = String(cString: openblas_get_config())
}
