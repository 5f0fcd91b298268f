/*===- attn/runtime.h - C API for running attnc-compiled models ------------===*
 *
 * A small, stable C API (C99 and C++ compatible) for loading a model library
 * produced by `attnc --emit=lib` and running it on host tensors:
 *
 *   attn_model *m;
 *   if (attn_model_load("model.so", &m) != ATTN_OK)
 *     fprintf(stderr, "%s\n", attn_last_error());
 *   attn_tensor in[2] = ..., out[1];
 *   if (attn_model_execute(m, in, 2, out, 1) != ATTN_OK) ...
 *   attn_tensor_free(&out[0]);
 *   attn_model_free(m);
 *
 * Conventions:
 *  - Every fallible function returns an attn_status; on failure a message is
 *    available from attn_last_error() on the same thread.
 *  - Tensors are dense, row-major (C order). A tensor produced by the runtime
 *    (model outputs, attn_npy_load, attn_tensor_alloc, attn_tensor_cast) owns
 *    its `data`, a malloc() block released by attn_tensor_free(). Input
 *    tensors are borrowed: the runtime never frees or writes them.
 *  - bool is one byte per element (0 or 1).
 *
 * The ABI between compiled libraries and this runtime is in attn/abi.h.
 *===----------------------------------------------------------------------===*/
#ifndef ATTN_RUNTIME_H
#define ATTN_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define ATTN_API
#else
#define ATTN_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Largest tensor rank the runtime handles. */
#define ATTN_MAX_RANK 8

/*===--- Status and errors ----------------------------------------------===*/

typedef enum attn_status {
  ATTN_OK = 0,
  ATTN_ERR_IO = 1,               /* a file could not be read or written */
  ATTN_ERR_LOAD = 2,             /* a model library could not be loaded */
  ATTN_ERR_INVALID_ARGUMENT = 3, /* bad argument (NULL, count, name, ...) */
  ATTN_ERR_SHAPE = 4,            /* rank or dimension mismatch */
  ATTN_ERR_DTYPE = 5,            /* element type mismatch or unsupported */
  ATTN_ERR_RUNTIME = 6,          /* the model reported an error */
  ATTN_ERR_NO_DEVICE = 7,        /* the model's target device is missing */
  ATTN_ERR_OUT_OF_MEMORY = 8,
  ATTN_ERR_FORMAT = 9 /* malformed file (.npy) or signature */
} attn_status;

/* "ok", "io error", ... (static string). */
ATTN_API const char *attn_status_string(attn_status status);

/* The message of the last failed call on this thread ("" if none). Valid
 * until the next runtime call on this thread. */
ATTN_API const char *attn_last_error(void);

/*===--- Element types --------------------------------------------------===*/

typedef enum attn_dtype {
  ATTN_F32 = 0,
  ATTN_F64 = 1,
  ATTN_F16 = 2,
  ATTN_BF16 = 3,
  ATTN_I64 = 4,
  ATTN_I32 = 5,
  ATTN_I16 = 6,
  ATTN_I8 = 7,
  ATTN_U8 = 8,
  ATTN_BOOL = 9
} attn_dtype;

#define ATTN_NUM_DTYPES 10

/* "f32", "f64", "f16", "bf16", "i64", "i32", "i16", "i8", "u8", "bool";
 * "invalid" for an out-of-range value. */
ATTN_API const char *attn_dtype_name(attn_dtype dtype);
/* Bytes per element (bool: 1); 0 for an out-of-range value. */
ATTN_API size_t attn_dtype_size(attn_dtype dtype);
/* Parses a name as printed by attn_dtype_name. */
ATTN_API attn_status attn_dtype_from_name(const char *name, attn_dtype *out);

/*===--- Tensors --------------------------------------------------------===*/

typedef struct attn_tensor {
  attn_dtype dtype;
  int32_t rank;                 /* 0 for a scalar */
  int64_t shape[ATTN_MAX_RANK]; /* shape[0..rank) */
  void *data;                   /* row-major; may be NULL if empty */
} attn_tensor;

/* Product of the dims (1 for rank 0); -1 if the shape is invalid or the
 * product overflows. */
ATTN_API int64_t attn_tensor_numel(const attn_tensor *tensor);
/* numel * element size; 0 if the shape is invalid. */
ATTN_API size_t attn_tensor_nbytes(const attn_tensor *tensor);
/* Fills `out` with a zero-initialized tensor owning its data. */
ATTN_API attn_status attn_tensor_alloc(attn_dtype dtype, int32_t rank,
                                       const int64_t *shape, attn_tensor *out);
/* Frees the data of a runtime-produced tensor and sets it to NULL. NULL and
 * already-freed tensors are fine. */
ATTN_API void attn_tensor_free(attn_tensor *tensor);
/* Converts between floating-point types (f32, f64, f16, bf16; narrowing
 * rounds to nearest even) into a new tensor owning its data. Identical
 * dtypes copy. Other pairs fail with ATTN_ERR_DTYPE. */
ATTN_API attn_status attn_tensor_cast(const attn_tensor *src, attn_dtype dtype,
                                      attn_tensor *out);

/* Scalar conversions (round to nearest even; NaN stays NaN). */
ATTN_API uint16_t attn_f32_to_f16(float value);
ATTN_API float attn_f16_to_f32(uint16_t bits);
ATTN_API uint16_t attn_f32_to_bf16(float value);
ATTN_API float attn_bf16_to_f32(uint16_t bits);

/*===--- .npy files -----------------------------------------------------===*/

/* Reads a little-endian, C-order .npy file (versions 1-3) of dtype f32 f64
 * f16 i64 i32 i16 i8 u8 or bool ('|b1'; nonzero bytes read as 1). Fortran
 * order, big-endian, object, structured and other dtypes are rejected with
 * ATTN_ERR_FORMAT / ATTN_ERR_DTYPE. `out` owns its data. */
ATTN_API attn_status attn_npy_load(const char *path, attn_tensor *out);
/* Reads a .npy file as the value of a tensor of `dtype` (a model input):
 * like attn_npy_load, and besides
 *  - for f16 and bf16, a float32 file is converted (round to nearest even);
 *  - for bf16, 16-bit raw words are taken as bfloat16 bits: descr '<u2' or
 *    '<i2' (arr.view(np.uint16)), '<V2' (what np.save writes for an
 *    ml_dtypes.bfloat16 array), '|V2' (np.void) or 'bfloat16'.
 * Other files keep their own dtype (the caller compares it with `dtype`). */
ATTN_API attn_status attn_npy_load_as(const char *path, attn_dtype dtype,
                                      attn_tensor *out);
/* Writes `tensor` as a version 1.0 .npy file. bf16 has no numpy dtype and is
 * written as float32 (exactly). */
ATTN_API attn_status attn_npy_save(const char *path, const attn_tensor *tensor);

/*===--- Models ---------------------------------------------------------===*/

typedef struct attn_model attn_model;

typedef struct attn_tensor_info {
  const char *name;
  attn_dtype dtype;
  int32_t rank;
  /* Static size, or -1 for a dynamic dim. */
  int64_t shape[ATTN_MAX_RANK];
  /* For a dynamic dim its symbolic name ("?" when unnamed); NULL for a static
   * dim. Dims sharing a name have the same size in one call. */
  const char *dim_names[ATTN_MAX_RANK];
} attn_tensor_info;

/* Loads a model library (dlopen) and parses its signature. Errors: ATTN_ERR_IO
 * (missing/unreadable file), ATTN_ERR_LOAD (not a loadable library, missing
 * ABI symbols, ABI version mismatch), ATTN_ERR_FORMAT (malformed signature),
 * ATTN_ERR_NO_DEVICE (a GPU model without a usable driver). */
ATTN_API attn_status attn_model_load(const char *path, attn_model **out);
/* A model linked into the program itself instead of loaded from a library
 * (the executables of `attnc --emit=exe`): the functions a model library
 * exports (attn/abi.h), given directly. `name` stands for the library path in
 * messages (e.g. the program's path). `run_ex` may be NULL. Errors as
 * attn_model_load: ATTN_ERR_FORMAT, ATTN_ERR_LOAD, ATTN_ERR_NO_DEVICE,
 * ATTN_ERR_INVALID_ARGUMENT for a NULL argument. Released with
 * attn_model_free (which then unloads nothing). */
ATTN_API attn_status attn_model_from_symbols(
    const char *name, const char *(*signature)(void),
    int32_t (*run)(int64_t *const *inputs, int64_t *const *outputs),
    int32_t (*run_ex)(int64_t *const *inputs, int64_t *const *outputs,
                      int64_t *status),
    attn_model **out);
/* Unloads the library. Tensors returned by attn_model_execute stay valid. */
ATTN_API void attn_model_free(attn_model *model);

ATTN_API size_t attn_model_num_inputs(const attn_model *model);
ATTN_API size_t attn_model_num_outputs(const attn_model *model);
/* Pointers in `info` live as long as the model. */
ATTN_API attn_status attn_model_input_info(const attn_model *model,
                                           size_t index,
                                           attn_tensor_info *info);
ATTN_API attn_status attn_model_output_info(const attn_model *model,
                                            size_t index,
                                            attn_tensor_info *info);
/* Index of the input named `name`, or -1. */
ATTN_API int64_t attn_model_find_input(const attn_model *model,
                                       const char *name);
/* The library's signature JSON, verbatim (lives as long as the model). */
ATTN_API const char *attn_model_signature_json(const attn_model *model);
/* The signature's "target" ("cpu", "cuda", ...; "" when absent). */
ATTN_API const char *attn_model_target(const attn_model *model);

/* Runs the model. (Not named attn_model_run: that is the symbol every model
 * library exports, see attn/abi.h, and the two must not collide.)
 * Inputs are given in signature order and validated (count,
 * dtype, rank, static dims, and symbolic dims that must agree across inputs).
 * On success, outputs[0..n_outputs) are filled with tensors that own their
 * data (release with attn_tensor_free); on failure they are zeroed. Safe to
 * call from several threads at once on the same model. */
ATTN_API attn_status attn_model_execute(attn_model *model,
                                        const attn_tensor *inputs,
                                        size_t n_inputs, attn_tensor *outputs,
                                        size_t n_outputs);

/* Validates the inputs once, runs `warmup` untimed calls and then `runs`
 * timed calls of the library's run function alone (outputs are released
 * outside the timed region), storing each call's wall time in milliseconds
 * in times_ms[0..runs). */
ATTN_API attn_status attn_model_benchmark(attn_model *model,
                                          const attn_tensor *inputs,
                                          size_t n_inputs, int32_t warmup,
                                          int32_t runs, double *times_ms);

/*===--- Threads --------------------------------------------------------===*/

/* Most threads a model runs on (attn_set_num_threads, $ATTN_NUM_THREADS). */
#define ATTN_MAX_THREADS 1024

/* Sets the number of threads models run on (caller included; applied to the
 * model's OpenMP runtime before every run). n <= 0 restores the default:
 * $ATTN_NUM_THREADS if it is an integer in [1, ATTN_MAX_THREADS], else the
 * number of CPUs this process may run on (at most ATTN_MAX_THREADS).
 * n > ATTN_MAX_THREADS fails with ATTN_ERR_INVALID_ARGUMENT and leaves the
 * setting unchanged. */
ATTN_API attn_status attn_set_num_threads(int n);
ATTN_API int attn_get_num_threads(void);

/*===--- Generation -----------------------------------------------------===*
 *
 * Token-by-token text generation over a causal-LM library compiled from a
 * "with-past" export (see /docs and attnc --kv-cache):
 *
 *   inputs   input_ids [batch, seq] i64, optional attention_mask
 *            [batch, past+seq] i64, optional position_ids [batch, seq] i64,
 *            per layer i past K/V [batch, kv_heads, past, head_dim] named
 *            past_key_values.{i}.key|value or past_key_{i} / past_value_{i},
 *            optional use_cache_branch (bool, rank 0 or [1]: set to past > 0)
 *   outputs  logits [batch, seq or 1, vocab] (f32, f16 or bf16), per layer
 *            present.{i}.key|value or present_key_{i} / present_value_{i}.
 *
 * Two kinds of library work:
 *  - a plain with-past library: each call's present outputs are fed back as
 *    the next call's past inputs (the first call gets pasts with 0
 *    positions); attention_mask grows by the new tokens;
 *  - a `--kv-cache=N` library (its signature has the "kv_cache" key): the
 *    session allocates every cache input [batch, kv_heads, N, head_dim]
 *    zeroed once, and passes past_sequence_length = P with every call; the
 *    model writes the new tokens' K/V in place.
 * position_ids, when the model has that input, are computed as Hugging
 * Face's generate() does: cumsum(mask, -1) - 1, 1 where mask == 0, the last
 * seq columns. Left padding: attention_mask 0 at the pads of the prompt.
 *
 *   attn_gen_options o;
 *   attn_gen_options_init(&o);
 *   o.max_new_tokens = 32;
 *   attn_gen_session *s;
 *   attn_gen_session_create(model, batch, 0, &o, &s);
 *   attn_gen_result r;
 *   attn_gen_generate(s, &ids, NULL, &r);    (r.tokens[b * r.n_steps + k])
 *   attn_gen_result_free(&r);
 *   attn_gen_session_free(s);
 *
 * or, step by step: attn_gen_prefill(s, &ids, &mask) runs the prompt; each
 * attn_gen_step(s, tokens) returns the next token of every row (the first
 * step selects from the prompt's logits without running the model; each
 * later step first runs the model on the previous step's tokens).
 *
 * Token selection per row, from the last position's logits (f32):
 *  - temperature <= 0: greedy, argmax (ties -> lowest id, as torch.argmax);
 *  - else logits / temperature, then top_k (0 = off), then top_p (nucleus,
 *    1 = off; as Hugging Face's TopPLogitsWarper: keeps at least one token),
 *    softmax, and a draw from the session's generator (xoshiro256** seeded
 *    by splitmix64 from `seed`): the same seed gives the same tokens.
 * A row that emitted a stop token is finished: it then emits pad_token_id
 * (and is fed pad_token_id with mask 1, as Hugging Face does).
 *
 * Sessions share no mutable state: several sessions of one model may run in
 * different threads at once (one session is used by one thread at a time).
 * Errors: a model that is not a with-past causal LM -> ATTN_ERR_INVALID_ARGUMENT
 * naming what is missing; a context longer than max_len ->
 * ATTN_ERR_INVALID_ARGUMENT "context full: N of MAX tokens".
 *===----------------------------------------------------------------------===*/

typedef struct attn_gen_session attn_gen_session;

typedef struct attn_gen_options {
  int32_t max_new_tokens; /* attn_gen_generate: tokens per row (default 16) */
  float temperature;      /* <= 0: greedy (default 0) */
  int32_t top_k;          /* 0: off (default) */
  float top_p;            /* 1: off (default); in (0, 1] */
  uint64_t seed;          /* of the sampling generator (default 0) */
  const int64_t *stop_token_ids; /* borrowed; copied by session_create */
  size_t n_stop_token_ids;
  /* Emitted (and fed) for finished rows; < 0 (default -1): the first stop
   * token, else 0. */
  int64_t pad_token_id;
} attn_gen_options;

/* The defaults above. */
ATTN_API void attn_gen_options_init(attn_gen_options *options);

/* A session of `batch` rows over `model` (which must outlive it). max_len is
 * the longest context (prompt + generated tokens fed to the model); <= 0:
 * the cache size N of a --kv-cache library, unbounded for a plain one. A
 * --kv-cache library refuses max_len > N. options NULL: the defaults. */
ATTN_API attn_status attn_gen_session_create(attn_model *model, int64_t batch,
                                             int64_t max_len,
                                             const attn_gen_options *options,
                                             attn_gen_session **out);
ATTN_API void attn_gen_session_free(attn_gen_session *session);

/* 1 if the library has an in-place cache (--kv-cache), else 0. */
ATTN_API int attn_gen_session_kv_cache(const attn_gen_session *session);
/* The session's max_len (INT64_MAX when unbounded). */
ATTN_API int64_t attn_gen_session_max_len(const attn_gen_session *session);
/* Tokens in the context now (prompt + fed tokens, pads included). */
ATTN_API int64_t attn_gen_session_context_len(const attn_gen_session *session);

/* Starts over with a prompt: input_ids i64 [batch, T] (T >= 1),
 * attention_mask i64 [batch, T] of 0/1 or NULL (all ones); runs the model
 * on it. Every row needs at least one 1 in its mask. */
ATTN_API attn_status attn_gen_prefill(attn_gen_session *session,
                                      const attn_tensor *input_ids,
                                      const attn_tensor *attention_mask);
/* One token per row into out_tokens[0..batch) (see above). */
ATTN_API attn_status attn_gen_step(attn_gen_session *session,
                                   int64_t *out_tokens);
/* 1 when every row has emitted a stop token (0 without stop tokens). */
ATTN_API int attn_gen_done(const attn_gen_session *session);
/* The f32 logits [batch, vocab] the last step selected from: a view owned by
 * the session (valid until its next call; not to be freed). */
ATTN_API attn_status attn_gen_last_logits(const attn_gen_session *session,
                                          attn_tensor *out);

typedef struct attn_gen_result {
  int64_t batch;
  int64_t n_steps;  /* columns of tokens (<= max_new_tokens) */
  int64_t *tokens;  /* [batch, n_steps], malloc()ed; pads after a stop */
  int64_t *counts;  /* [batch]: tokens per row, its stop token included */
  double prefill_ms;          /* the prompt's model call and first tokens */
  double decode_ms_per_token; /* per decode call (0 when n_steps <= 1) */
  double tokens_per_s;        /* decode: batch * calls / seconds (0 if none) */
} attn_gen_result;

/* Prefills with the prompt and decodes until max_new_tokens steps or every
 * row has stopped. Fails up front, "context full: N of MAX tokens", when T +
 * max_new_tokens - 1 exceeds max_len. */
ATTN_API attn_status attn_gen_generate(attn_gen_session *session,
                                       const attn_tensor *input_ids,
                                       const attn_tensor *attention_mask,
                                       attn_gen_result *result);
ATTN_API void attn_gen_result_free(attn_gen_result *result);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ATTN_RUNTIME_H */
