//===- FuseResidualLayerNorm.cpp - residual add into attn.layer_norm ------===//
//
// Every transformer block ends a sublayer with `LayerNorm(x + sublayer(x))`.
// When the sum has no other user and both addends have the sum's type (no
// broadcasting), the add becomes the layer_norm's `residual` operand and the
// lowering forms the sum while it normalizes the row.
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Passes.h"
#include "attn/Compiler/Statistics.h"
#include "Graph/GraphUtils.h"

#include "mlir/IR/PatternMatch.h"

namespace mlir::attn {
#define GEN_PASS_DEF_FUSERESIDUALLAYERNORMPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {
struct FuseResidualAdd : OpRewritePattern<LayerNormOp> {
  FuseResidualAdd(MLIRContext *ctx, PassStatistic &fused)
      : OpRewritePattern(ctx), fused(fused) {}

  LogicalResult matchAndRewrite(LayerNormOp ln, PatternRewriter &rw) const override {
    auto add = ln.getInput().getDefiningOp<AddOp>();
    if (ln.getResidual() || !add || !add.getResult().hasOneUse())
      return failure();
    Type t = add.getType();
    if (add.getLhs().getType() != t || add.getRhs().getType() != t)
      return failure();
    rw.modifyOpInPlace(ln, [&] {
      ln.getInputMutable().assign(add.getLhs());
      ln.getResidualMutable().assign(add.getRhs());
    });
    rw.eraseOp(add);
    ++fused;
    return success();
  }

  PassStatistic &fused;
};

struct FuseResidualLayerNormPass
    : attn::impl::FuseResidualLayerNormPassBase<FuseResidualLayerNormPass> {
  PassStatistic numFused{"attn-fuse-residual-layernorm", "fused", "Number of residual adds folded into attn.layer_norm"};
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseResidualAdd>(&getContext(), numFused);
    // One sweep in program order; a fused norm (residual set) never matches
    // again.
    (void)applyPatternsGreedily(getOperation(), std::move(patterns), oneSweepConfig());
  }
};
} // namespace
