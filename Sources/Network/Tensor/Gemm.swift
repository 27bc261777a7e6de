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

/// Thread control for the compute libraries; set once per rank before heavy work. One call sets
/// OpenBLAS's count and the OpenMP count oneDNN uses (applied before every oneDNN call, and
/// exported as OMP_NUM_THREADS for libgomp if oneDNN is not loaded yet), so ranks × threads
/// never oversubscribes the cores.
public enum ComputeThreads {
    /// The count last passed to `set`, nil before any call.
    public private(set) static var requested: Int?

    public static func set(_ n: Int) {
        let k = max(1, n)
        requested = k
        openblas_set_num_threads(Int32(k))
        setenv("OMP_NUM_THREADS", String(k), 1)
    }
    public static var current: Int { Int(openblas_get_num_threads()) }
    /// What oneDNN runs with: the requested count, else OpenBLAS's own default.
    static var effective: Int { requested ?? current }
    public static var blasConfig: String { String(cString: openblas_get_config()) }
}
