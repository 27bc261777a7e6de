#ifndef AUTOSAM_CDNNL_SHIM_H
#define AUTOSAM_CDNNL_SHIM_H
#include <dnnl.h>

// Function-pointer types of the C API entry points the conv engine resolves with dlsym.
// Taking the types from the declarations keeps them exactly in step with the header.
#define AUTOSAM_DNNL_PFN(name) typedef __typeof__(&name) pfn_##name;
AUTOSAM_DNNL_PFN(dnnl_engine_create)
AUTOSAM_DNNL_PFN(dnnl_engine_destroy)
AUTOSAM_DNNL_PFN(dnnl_stream_create)
AUTOSAM_DNNL_PFN(dnnl_stream_wait)
AUTOSAM_DNNL_PFN(dnnl_stream_destroy)
AUTOSAM_DNNL_PFN(dnnl_memory_desc_init_by_tag)
AUTOSAM_DNNL_PFN(dnnl_memory_desc_init_by_strides)
AUTOSAM_DNNL_PFN(dnnl_memory_desc_equal)
AUTOSAM_DNNL_PFN(dnnl_memory_desc_get_size)
AUTOSAM_DNNL_PFN(dnnl_memory_create)
AUTOSAM_DNNL_PFN(dnnl_memory_set_data_handle)
AUTOSAM_DNNL_PFN(dnnl_memory_destroy)
AUTOSAM_DNNL_PFN(dnnl_dilated_convolution_forward_desc_init)
AUTOSAM_DNNL_PFN(dnnl_dilated_convolution_backward_data_desc_init)
AUTOSAM_DNNL_PFN(dnnl_dilated_convolution_backward_weights_desc_init)
AUTOSAM_DNNL_PFN(dnnl_primitive_attr_create)
AUTOSAM_DNNL_PFN(dnnl_primitive_attr_destroy)
AUTOSAM_DNNL_PFN(dnnl_primitive_attr_set_scratchpad_mode)
AUTOSAM_DNNL_PFN(dnnl_primitive_attr_set_post_ops)
AUTOSAM_DNNL_PFN(dnnl_post_ops_create)
AUTOSAM_DNNL_PFN(dnnl_post_ops_destroy)
AUTOSAM_DNNL_PFN(dnnl_post_ops_append_eltwise)
AUTOSAM_DNNL_PFN(dnnl_primitive_desc_create)
AUTOSAM_DNNL_PFN(dnnl_primitive_desc_destroy)
AUTOSAM_DNNL_PFN(dnnl_primitive_desc_query_md)
AUTOSAM_DNNL_PFN(dnnl_reorder_primitive_desc_create)
AUTOSAM_DNNL_PFN(dnnl_primitive_create)
AUTOSAM_DNNL_PFN(dnnl_primitive_destroy)
AUTOSAM_DNNL_PFN(dnnl_primitive_execute)
AUTOSAM_DNNL_PFN(dnnl_version)
#undef AUTOSAM_DNNL_PFN

// libgomp (oneDNN's Debian build threads with OpenMP).
typedef void (*pfn_omp_set_num_threads)(int);
typedef int (*pfn_omp_get_max_threads)(void);

#endif
