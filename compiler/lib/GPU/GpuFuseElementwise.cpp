//===- GpuFuseElementwise.cpp - producer/consumer elementwise fusion (GPU) -===//
//
// One kernel per chain of elementwise generics (embedding gathers and their
// sum, mask arithmetic, activation chains) instead of one per op: MLIR's
// elementwise fusion patterns on tensors, without the reshape propagation
// that `linalg-fuse-elementwise-ops` also applies (it turns the Linear
// layers' linalg.matmul into contraction generics the tiled matmul kernel
// does not take). A producer is fused only into the consumers of its single
// use and only when it is all-parallel (no reductions).
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::attn {
#define GEN_PASS_DEF_GPUFUSEELEMENTWISEPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {

struct GpuFuseElementwisePass : attn::impl::GpuFuseElementwisePassBase<GpuFuseElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    linalg::populateElementwiseOpsFusionPatterns(patterns, [](OpOperand *fused) {
      auto producer = fused->get().getDefiningOp<linalg::GenericOp>();
      return producer && producer.getNumReductionLoops() == 0 && producer->hasOneUse();
    });
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
