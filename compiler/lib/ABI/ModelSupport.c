/*===- ModelSupport.c - linked into every model library -------------------===*
 *
 * The allocation functions of compiled code (finalize-memref-to-llvm with
 * use-generic-functions) and the exported attn_model_run_ex, which turns a
 * failed allocation into ATTN_MODEL_ERR_OUT_OF_MEMORY instead of a write
 * through NULL:
 *
 *   attn_model_run_ex: setjmp, then the generated __attn_model_run_body.
 *   _mlir_memref_to_llvm_alloc: malloc; on failure (outside a parallel
 *     region) longjmp back to attn_model_run_ex of this thread.
 *
 * The jump target is per thread (thread-local): no mutable global is shared
 * between concurrent runs. A failed allocation inside an OpenMP parallel
 * region cannot unwind the team; it ends the process with a message (those
 * are small per-task scratch buffers). Memory the run had allocated before
 * the failure is not freed (the process is out of memory anyway; the error
 * is reported, never a crash or a wrong answer).
 *
 * Plain C (compiled by the build, linked by attnc with the object), because
 * setjmp needs the returns_twice semantics that a C compiler gives it.
 *===----------------------------------------------------------------------===*/
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define ATTN_HIDDEN __attribute__((visibility("hidden")))
#define ATTN_EXPORT __attribute__((visibility("default")))

/* From the generated code (attn-emit-entry-point). */
ATTN_HIDDEN int32_t __attn_model_run_body(int64_t *const *inputs, int64_t *const *outputs,
                                          int64_t *status);
/* libomp, which every model links. */
extern int omp_in_parallel(void);

static __thread jmp_buf *attn_oom_target;

ATTN_HIDDEN void *_mlir_memref_to_llvm_alloc(size_t size) {
  void *p = malloc(size);
  if (p || size == 0)
    return p;
  if (attn_oom_target && !omp_in_parallel())
    longjmp(*attn_oom_target, 1);
  fprintf(stderr, "attn model: out of memory (an allocation of %zu bytes failed inside a "
                  "parallel region)\n", size);
  abort();
}

ATTN_HIDDEN void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment, size_t size) {
  void *p = NULL;
  if (posix_memalign(&p, alignment < sizeof(void *) ? sizeof(void *) : alignment, size) == 0)
    return p;
  return _mlir_memref_to_llvm_alloc((size_t)-1); /* reports like malloc */
}

ATTN_HIDDEN void _mlir_memref_to_llvm_free(void *p) { free(p); }

#define ATTN_MODEL_ERR_OUT_OF_MEMORY 3

ATTN_EXPORT int32_t attn_model_run_ex(int64_t *const *inputs, int64_t *const *outputs,
                                      int64_t *status) {
  jmp_buf target;
  jmp_buf *volatile previous = attn_oom_target;
  if (setjmp(target)) {
    attn_oom_target = previous;
    if (status) {
      status[0] = ATTN_MODEL_ERR_OUT_OF_MEMORY;
      status[1] = -1;
      status[2] = status[3] = 0;
    }
    return ATTN_MODEL_ERR_OUT_OF_MEMORY;
  }
  attn_oom_target = &target;
  int32_t rc = __attn_model_run_body(inputs, outputs, status);
  attn_oom_target = previous;
  return rc;
}
