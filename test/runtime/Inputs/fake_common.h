/*===- fake_common.h - helpers for the hand-written fake models -----------===*
 *
 * The fake models implement attn/abi.h by hand, the way generated code does,
 * so that the runtime and attn-run are tested without the compiler.
 *===----------------------------------------------------------------------===*/
#ifndef ATTN_TEST_FAKE_COMMON_H
#define ATTN_TEST_FAKE_COMMON_H

#include "attn/abi.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FAKE_EXPORT __attribute__((visibility("default")))

/* Field accessors for a rank-r memref descriptor (see attn/abi.h). */
#define DESC_ALLOCATED(d) ((void *)(intptr_t)(d)[0])
#define DESC_ALIGNED(d) ((void *)(intptr_t)(d)[1])
#define DESC_OFFSET(d) ((d)[2])
#define DESC_SIZE(d, i) ((d)[3 + (i)])
#define DESC_STRIDE(d, r, i) ((d)[3 + (r) + (i)])

/* Checks that the runtime passed a dense row-major input, as abi.h says. */
static inline int fake_check_input(const int64_t *d, int rank) {
  int64_t stride = 1;
  if (d[0] != d[1] || d[2] != 0)
    return 0;
  for (int i = rank - 1; i >= 0; --i) {
    if (DESC_SIZE(d, i) < 0)
      return 0;
    if (DESC_SIZE(d, i) != 1 && DESC_STRIDE(d, rank, i) != stride)
      return 0;
    stride *= DESC_SIZE(d, i);
  }
  return 1;
}

/* Fills a dense row-major output descriptor. */
static inline void fake_set_output(int64_t *d, int rank, void *allocated,
                                   void *aligned, int64_t offset,
                                   const int64_t *sizes) {
  int64_t stride = 1;
  d[0] = (int64_t)(intptr_t)allocated;
  d[1] = (int64_t)(intptr_t)aligned;
  d[2] = offset;
  for (int i = rank - 1; i >= 0; --i) {
    DESC_SIZE(d, i) = sizes[i];
    DESC_STRIDE(d, rank, i) = stride;
    stride *= sizes[i];
  }
}

#endif
