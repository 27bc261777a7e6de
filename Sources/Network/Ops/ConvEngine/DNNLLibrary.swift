import CDNNL
#if canImport(Glibc)
import Glibc
#endif

/// Why the oneDNN engine is unavailable; the message names the package to install.
public struct OneDNNUnavailable: Error, CustomStringConvertible {
    public var library: String
    public var detail: String
    public var description: String {
        "oneDNN (\(library)) could not be loaded: \(detail). Install it with `apt-get install libdnnl-dev` "
            + "(Launch/setup.sh does), or select the reference convolution engine with AUTOSAM_CONV_ENGINE=reference."
    }
}

/// The oneDNN C API, opened with dlopen at run time (the package never links libdnnl) and
/// resolved with dlsym into function pointers, plus one CPU engine. Immutable once loaded:
/// the function pointers and the engine are safe to use from any thread (each
/// `OneDNNConvBackend` makes its own stream on the engine), hence `@unchecked Sendable`.
/// The handle lives as long as the process.
final class DNNLLibrary: @unchecked Sendable {
    /// The shared object `shared` opens: AUTOSAM_DNNL_LIBRARY if set (a bogus name there checks
    /// the missing-library message end to end), else Debian's libdnnl.so.2.
    static let defaultName = getenv("AUTOSAM_DNNL_LIBRARY").map { String(cString: $0) } ?? "libdnnl.so.2"
    static let openmpName = "libgomp.so.1"

    /// The process-wide library, or why it cannot be loaded: tried once, on first use, and
    /// immutable after (a `static let` is initialised exactly once, thread-safely).
    private static let loaded: Result<DNNLLibrary, OneDNNUnavailable> = {
        do { return .success(try DNNLLibrary(name: defaultName)) } catch let e as OneDNNUnavailable { return .failure(e) }
        catch { return .failure(OneDNNUnavailable(library: defaultName, detail: "\(error)")) }
    }()

    /// The process-wide library (`defaultName`), loading it on first use.
    static func shared() throws -> DNNLLibrary { try loaded.get() }

    /// Loads `name` afresh, bypassing the process-wide one (tests of the failure path).
    static func load(name: String) throws -> DNNLLibrary { try DNNLLibrary(name: name) }

    let name: String
    let handle: UnsafeMutableRawPointer
    let engine_create: pfn_dnnl_engine_create
    let stream_create: pfn_dnnl_stream_create
    let stream_wait: pfn_dnnl_stream_wait
    let md_init_by_tag: pfn_dnnl_memory_desc_init_by_tag
    let md_init_by_strides: pfn_dnnl_memory_desc_init_by_strides
    let md_equal: pfn_dnnl_memory_desc_equal
    let md_get_size: pfn_dnnl_memory_desc_get_size
    let memory_create: pfn_dnnl_memory_create
    let memory_set_data_handle: pfn_dnnl_memory_set_data_handle
    let memory_destroy: pfn_dnnl_memory_destroy
    let conv_fwd_init: pfn_dnnl_dilated_convolution_forward_desc_init
    let conv_bwd_data_init: pfn_dnnl_dilated_convolution_backward_data_desc_init
    let conv_bwd_weights_init: pfn_dnnl_dilated_convolution_backward_weights_desc_init
    let attr_create: pfn_dnnl_primitive_attr_create
    let attr_destroy: pfn_dnnl_primitive_attr_destroy
    let attr_set_scratchpad_mode: pfn_dnnl_primitive_attr_set_scratchpad_mode
    let attr_set_post_ops: pfn_dnnl_primitive_attr_set_post_ops
    let post_ops_create: pfn_dnnl_post_ops_create
    let post_ops_destroy: pfn_dnnl_post_ops_destroy
    let post_ops_append_eltwise: pfn_dnnl_post_ops_append_eltwise
    let pd_create: pfn_dnnl_primitive_desc_create
    let pd_destroy: pfn_dnnl_primitive_desc_destroy
    let pd_query_md: pfn_dnnl_primitive_desc_query_md
    let reorder_pd_create: pfn_dnnl_reorder_primitive_desc_create
    let primitive_create: pfn_dnnl_primitive_create
    let primitive_destroy: pfn_dnnl_primitive_destroy
    let primitive_execute: pfn_dnnl_primitive_execute
    let stream_destroy: pfn_dnnl_stream_destroy
    let omp_set_num_threads: pfn_omp_set_num_threads?
    let version: String
    let engine: dnnl_engine_t?

    /// OpenMP reads OMP_NUM_THREADS when libgomp initialises; `ExecutionContext.make` exports
    /// the context's count before it loads the library, so the first parallel region uses it.
    private init(name: String) throws {
        self.name = name
        guard let h = dlopen(name, RTLD_NOW | RTLD_LOCAL) else {
            let why = dlerror().map { String(cString: $0) } ?? "dlopen failed"
            throw OneDNNUnavailable(library: name, detail: why)
        }
        handle = h
        func sym<T>(_ s: String, _: T.Type) throws -> T {
            guard let p = dlsym(h, s) else {
                throw OneDNNUnavailable(library: name, detail: "symbol \(s) missing (oneDNN 2.x expected)")
            }
            return unsafeBitCast(p, to: T.self)
        }
        engine_create = try sym("dnnl_engine_create", pfn_dnnl_engine_create.self)
        stream_create = try sym("dnnl_stream_create", pfn_dnnl_stream_create.self)
        stream_wait = try sym("dnnl_stream_wait", pfn_dnnl_stream_wait.self)
        stream_destroy = try sym("dnnl_stream_destroy", pfn_dnnl_stream_destroy.self)
        md_init_by_tag = try sym("dnnl_memory_desc_init_by_tag", pfn_dnnl_memory_desc_init_by_tag.self)
        md_init_by_strides = try sym("dnnl_memory_desc_init_by_strides", pfn_dnnl_memory_desc_init_by_strides.self)
        md_equal = try sym("dnnl_memory_desc_equal", pfn_dnnl_memory_desc_equal.self)
        md_get_size = try sym("dnnl_memory_desc_get_size", pfn_dnnl_memory_desc_get_size.self)
        memory_create = try sym("dnnl_memory_create", pfn_dnnl_memory_create.self)
        memory_set_data_handle = try sym("dnnl_memory_set_data_handle", pfn_dnnl_memory_set_data_handle.self)
        memory_destroy = try sym("dnnl_memory_destroy", pfn_dnnl_memory_destroy.self)
        conv_fwd_init = try sym("dnnl_dilated_convolution_forward_desc_init",
                                pfn_dnnl_dilated_convolution_forward_desc_init.self)
        conv_bwd_data_init = try sym("dnnl_dilated_convolution_backward_data_desc_init",
                                     pfn_dnnl_dilated_convolution_backward_data_desc_init.self)
        conv_bwd_weights_init = try sym("dnnl_dilated_convolution_backward_weights_desc_init",
                                        pfn_dnnl_dilated_convolution_backward_weights_desc_init.self)
        attr_create = try sym("dnnl_primitive_attr_create", pfn_dnnl_primitive_attr_create.self)
        attr_destroy = try sym("dnnl_primitive_attr_destroy", pfn_dnnl_primitive_attr_destroy.self)
        attr_set_scratchpad_mode = try sym("dnnl_primitive_attr_set_scratchpad_mode",
                                           pfn_dnnl_primitive_attr_set_scratchpad_mode.self)
        attr_set_post_ops = try sym("dnnl_primitive_attr_set_post_ops", pfn_dnnl_primitive_attr_set_post_ops.self)
        post_ops_create = try sym("dnnl_post_ops_create", pfn_dnnl_post_ops_create.self)
        post_ops_destroy = try sym("dnnl_post_ops_destroy", pfn_dnnl_post_ops_destroy.self)
        post_ops_append_eltwise = try sym("dnnl_post_ops_append_eltwise", pfn_dnnl_post_ops_append_eltwise.self)
        pd_create = try sym("dnnl_primitive_desc_create", pfn_dnnl_primitive_desc_create.self)
        pd_destroy = try sym("dnnl_primitive_desc_destroy", pfn_dnnl_primitive_desc_destroy.self)
        pd_query_md = try sym("dnnl_primitive_desc_query_md", pfn_dnnl_primitive_desc_query_md.self)
        reorder_pd_create = try sym("dnnl_reorder_primitive_desc_create", pfn_dnnl_reorder_primitive_desc_create.self)
        primitive_create = try sym("dnnl_primitive_create", pfn_dnnl_primitive_create.self)
        primitive_destroy = try sym("dnnl_primitive_destroy", pfn_dnnl_primitive_destroy.self)
        primitive_execute = try sym("dnnl_primitive_execute", pfn_dnnl_primitive_execute.self)
        let versionFn = try sym("dnnl_version", pfn_dnnl_version.self)
        if let v = versionFn()?.pointee {
            version = "\(v.major).\(v.minor).\(v.patch) (\(v.cpu_runtime == UInt32(DNNL_RUNTIME_OMP) ? "OpenMP" : "runtime \(v.cpu_runtime)"))"
        } else {
            version = "unknown"
        }
        // libdnnl pulled libgomp in; RTLD_NOLOAD finds that copy without loading another.
        if let g = dlopen(Self.openmpName, RTLD_NOW | RTLD_NOLOAD) ?? dlopen(Self.openmpName, RTLD_NOW),
           let p = dlsym(g, "omp_set_num_threads") {
            omp_set_num_threads = unsafeBitCast(p, to: pfn_omp_set_num_threads.self)
        } else {
            omp_set_num_threads = nil
        }
        var e: dnnl_engine_t?
        let st = engine_create(&e, dnnl_cpu, 0)
        guard st == dnnl_success else {
            throw OneDNNUnavailable(library: name, detail: "dnnl_engine_create returned status \(st.rawValue)")
        }
        engine = e
    }

    /// A new stream on the engine (one per backend: a stream is not for concurrent use).
    func makeStream() throws -> dnnl_stream_t? {
        var s: dnnl_stream_t?
        let st = stream_create(&s, engine, dnnl_stream_default_flags.rawValue)
        guard st == dnnl_success else { throw OneDNNError("dnnl_stream_create failed with status \(st.rawValue)") }
        return s
    }

    /// Sets the OpenMP thread count of the calling thread (an OpenMP ICV is per thread, so the
    /// backend calls this before every execution with its context's count).
    func setThreads(_ n: Int) { omp_set_num_threads?(Int32(max(1, n))) }
}

/// Why a oneDNN call failed (a primitive oneDNN has no implementation for, a failed
/// allocation or execution): thrown up to the caller instead of stopping the process.
public struct OneDNNError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// A pthread mutex (Foundation is not imported by this target). `@unchecked Sendable`: it is
/// the synchronisation primitive; its storage is only touched through pthread calls.
final class PThreadMutex: @unchecked Sendable {
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    deinit { pthread_mutex_destroy(&m) }
    func lock() { pthread_mutex_lock(&m) }
    func unlock() { pthread_mutex_unlock(&m) }
}
