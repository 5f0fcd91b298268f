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
 *
 * Optional (a library MAY export it besides attn_model_run; this runtime
 * then calls it INSTEAD of attn_model_run, and libraries without it work as
 * before):
 *
 *   int32_t attn_model_run_ex(int64_t *const *inputs,
 *                             int64_t *const *outputs, int64_t *status);
 *       Same as attn_model_run, plus `status`: 4 int64 the runtime zeroes
 *       before the call and the model fills when it fails:
 *           status[0] = the code it returns (ATTN_MODEL_ERR_*)
 *           status[1] = the index of the failed check (see "checks" below)
 *           status[2] = size a,  status[3] = size b  (the sizes compared)
 *       The runtime uses status[1..3] only when status[0] equals the
 *       returned code.
 *
 *   The signature JSON MAY have the key "checks": an array of strings, one
 *   message template per check index, e.g.
 *       "node '/embeddings/Add' (Add): dimension 1 of operand 1 is {a} but
 *        the result's is {b}"
 *   When a run fails with ATTN_MODEL_ERR_SHAPE_MISMATCH or
 *   ATTN_MODEL_ERR_INDEX_OUT_OF_RANGE and status[1] is a valid index into
 *   "checks", the runtime reports "model 'PATH' failed: " + the template with
 *   every "{a}" and "{b}" replaced by the decimal sizes status[2] and
 *   status[3]; otherwise (no run_ex, no "checks", an index outside the
 *   array) it reports its generic message for the code. Each template must
 *   be a string of at most ATTN_MAX_CHECK_TEMPLATE bytes (anything else makes
 *   the signature malformed); control characters in it are printed as '?'.
 *
 * In-place state (`attnc --kv-cache=N`, see runtime/lib/Generate.cpp): an input
 * whose signature entry has "kv_cache": true is a cache [batch, kv_heads, N,
 * head_dim] the caller owns; the model reads its positions [0, P) and WRITES
 * the new tokens' K/V at [P, P + seq) in place (nothing else). P is the rank-0
 * i64 input named by the top-level
 *     "kv_cache": {"max_len": N, "past_length_input": "past_sequence_length",
 *                  "caches": [{"input": "past_key_values.0.key",
 *                              "output": "present.0.key"}, ...]}
 * ("output" names the present output the cache replaces; those outputs are
 * not in "outputs"). P + seq > N fails the check "context full: {a} of {b}
 * tokens" before anything is written; the runtime refuses P < 0 before the
 * run ("input 'past_sequence_length': the past sequence length is P; it must
 * be >= 0"), and the model's own check still stops it if called directly. An input whose signature dim
 * has the name of the presents' sequence dim (attention_mask [batch, total])
 * must be P + seq long there (a run-time check naming the input). Every other
 * input is read only.
 *
 * Output descriptors after a failed run:
 *   ATTN_MODEL_ERR_INDEX_OUT_OF_RANGE, ATTN_MODEL_ERR_SHAPE_MISMATCH: every
 *       output descriptor is either still zero (as the runtime passed it) or
 *       filled with a malloc()ed block, which the runtime frees.
 *   ATTN_MODEL_ERR_OUT_OF_MEMORY: the descriptors may be partly written and
 *       are ignored (nothing is freed; the model releases what it can).
 *===----------------------------------------------------------------------===*/
#ifndef ATTN_ABI_H
#define ATTN_ABI_H

#define ATTN_ABI_VERSION 1
#define ATTN_MODEL_SIGNATURE_SYMBOL "attn_model_signature"
#define ATTN_MODEL_RUN_SYMBOL "attn_model_run"
#define ATTN_MODEL_RUN_EX_SYMBOL "attn_model_run_ex"
/* Entries of attn_model_run_ex's status array. */
#define ATTN_MODEL_STATUS_LEN 4
#define ATTN_MODEL_STATUS_CODE 0
#define ATTN_MODEL_STATUS_CHECK 1
#define ATTN_MODEL_STATUS_SIZE_A 2
#define ATTN_MODEL_STATUS_SIZE_B 3
/* Longest template in the signature's "checks" (bytes). */
#define ATTN_MAX_CHECK_TEMPLATE 4096

/* Codes returned by attn_model_run. */
#define ATTN_MODEL_OK 0
#define ATTN_MODEL_ERR_INDEX_OUT_OF_RANGE 1 /* Gather index beyond its table */
#define ATTN_MODEL_ERR_SHAPE_MISMATCH 2     /* runtime dims disagree */
#define ATTN_MODEL_ERR_OUT_OF_MEMORY 3      /* an allocation failed */

/*===----------------------------------------------------------------------===*
 * CUDA models ("target":"cuda", "arch":"sm_80"|"sm_90" in the signature).
 *
 * attn_model_run has the same signature, but every descriptor it receives
 * and returns points to DEVICE memory: the runtime copies inputs to the
 * device before the call and outputs back after it. The host code of a CUDA
 * model does no arithmetic on tensor data; it allocates, launches kernels and
 * frees, through these functions exported by libattn_runtime (resolved when
 * the runtime dlopen()s the model; the runtime itself dlopen()s
 * libcuda.so.1, so nothing here needs CUDA at build time):
 *
 *   void *attn_cuda_malloc(int64_t bytes);
 *       Device memory, ordered on the model's stream (NULL after an error).
 *   void attn_cuda_free(void *device_ptr);
 *   void *attn_cuda_constant(const void *host, int64_t bytes);
 *       The device copy of a read-only constant (weights), uploaded on first
 *       use and cached for the life of the process; never freed by the model.
 *   void attn_cuda_launch(const void *cubin, int64_t cubin_size,
 *                         const char *ptx, const char *kernel,
 *                         int64_t grid_x, int64_t grid_y, int64_t grid_z,
 *                         int64_t block_x, int64_t block_y, int64_t block_z,
 *                         int32_t shared_bytes, void **params);
 *       Launches `kernel` from the embedded module (the cubin for the
 *       model's arch, or the PTX JIT-compiled by the driver when the cubin
 *       does not fit the device); params as for cuLaunchKernel. A launch
 *       with an empty grid does nothing.
 *   void attn_cuda_read(void *host, const void *device_ptr, int64_t bytes);
 *       Copies `bytes` from the device to the host after every kernel so far
 *       has finished: the few values host code needs (shape entries of
 *       dynamic models, the index-check status).
 *
 * Errors are sticky: the first failing call records a message naming the
 * kernel (or allocation), later calls of the same run do nothing, and the
 * runtime reports the message when attn_model_run returns.
 *===----------------------------------------------------------------------===*/
#define ATTN_CUDA_MALLOC_SYMBOL "attn_cuda_malloc"
#define ATTN_CUDA_FREE_SYMBOL "attn_cuda_free"
#define ATTN_CUDA_CONSTANT_SYMBOL "attn_cuda_constant"
#define ATTN_CUDA_LAUNCH_SYMBOL "attn_cuda_launch"
#define ATTN_CUDA_READ_SYMBOL "attn_cuda_read"

#endif
