//===- AttentionKernel.h - vectorized CPU flash attention -------*- C++ -*-===//
#ifndef ATTN_COMPILER_ATTENTIONKERNEL_H
#define ATTN_COMPILER_ATTENTIONKERNEL_H

#include "attn/Dialect/AttnDialect.h"
#include "mlir/IR/Builders.h"

namespace mlir::attn {

struct AttentionKernelOptions {
  int64_t vectorWidth = 8; // f32 lanes: 8 for AVX2, 16 for AVX-512
  int64_t queryBlock = 32;
  int64_t keyBlock = 64;
  /// Query blocks are split across tasks until there are this many tasks.
  int64_t minTasks = 16;
  /// Batch entries are grouped into at most this many tasks (each task
  /// allocates its scratch once and runs its entries one after another).
  int64_t maxTasks = 64;
  /// Flash-decoding (query rows of a kv group <= 4 queryBlocks, many keys): the
  /// keys are split into chunks of decodeMinChunk..decodeMaxChunk keys
  /// (multiples of keyBlock) until (batch entries x chunks) reaches
  /// decodeTasks; used at run time when that gives 2 or more chunks.
  int64_t decodeTasks = 64;
  /// With the run-time thread count (omp_get_max_threads declared in the
  /// module), decodeTasksPerThread x threads replaces decodeTasks.
  int64_t decodeTasksPerThread = 4;
  int64_t decodeMinChunk = 256;
  int64_t decodeMaxChunk = 512;
};

/// Whether the register-blocked kernel applies (f32, static head dims that
/// fit the register tiles); otherwise the generic tiled lowering is used.
bool canUseAttentionKernel(AttentionOp op, const AttentionKernelOptions &opt);

/// Builds the kernel before `op` and returns the result tensor.
FailureOr<Value> buildAttentionKernel(OpBuilder &b, AttentionOp op,
                                      const AttentionKernelOptions &opt);

} // namespace mlir::attn

#endif
