/*===- attn/abi.h - contract between compiled models and the runtime ------===*
 *
 * A library produced by `attnc --emit=lib` exports exactly these C symbols:
 *
 *   const char *attn_model_signature(void);
 *       JSON, e.g.
 *       {"abi":1,"target":"cpu","cpu":"znver3","features":"+avx2,+fma,...",
 *        "inputs":[{"name":"x","dtype":"f32","shape":["batch","seq",256]}],
 *        "outputs":[{"name":"out","dtype":"f32","shape":["batch","seq",256]}]}
 *       A dim is an integer (static) or a string (symbolic; the same string in
 *       two places means the same size; "?" means unknown and unconstrained).
 *       dtypes: f32 f64 f16 bf16 i64 i32 i16 i8 u8 bool.
 *
 *   int32_t attn_model_run(int64_t *const *inputs, int64_t *const *outputs);
 *       inputs[i] / outputs[j] point to strided memref descriptors laid out
 *       as int64 arrays of length 3 + 2 * rank:
 *           [allocated_ptr, aligned_ptr, offset, sizes[rank], strides[rank]]
 *       The runtime fills the input descriptors (allocated == aligned ==
 *       data, offset 0, row-major strides). The model fills every output
 *       descriptor; outputs are allocated by the model with malloc() and the
 *       caller releases them with free(allocated_ptr) (never aliased to an
 *       input or to read-only weights). Returns 0 on success; a non-zero
 *       value is an ATTN_MODEL_ERR_* code.
 *
 * The function is reentrant: compiled code has no mutable globals, so
 * several threads may call it at once with their own buffers.
 *===----------------------------------------------------------------------===*/
#ifndef ATTN_ABI_H
#define ATTN_ABI_H

#define ATTN_ABI_VERSION 1
#define ATTN_MODEL_SIGNATURE_SYMBOL "attn_model_signature"
#define ATTN_MODEL_RUN_SYMBOL "attn_model_run"

/* Codes returned by attn_model_run. */
#define ATTN_MODEL_OK 0
#define ATTN_MODEL_ERR_INDEX_OUT_OF_RANGE 1 /* Gather index beyond its table */
#define ATTN_MODEL_ERR_SHAPE_MISMATCH 2     /* runtime dims disagree */

#endif
