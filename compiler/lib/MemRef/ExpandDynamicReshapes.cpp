//===- ExpandDynamicReshapes.cpp - expand_shape -> reinterpret_cast -------===//
#include "attn/Compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

namespace mlir::attn {
#define GEN_PASS_DEF_EXPANDDYNAMICRESHAPESPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

/// Whether some reassociation group has more than one dynamic output dim.
static bool needsRewrite(memref::ExpandShapeOp op) {
  MemRefType rt = op.getResultType();
  for (const ReassociationIndices &group : op.getReassociationIndices()) {
    int dynamic = 0;
    for (int64_t i : group)
      dynamic += rt.isDynamicDim(i);
    if (dynamic > 1)
      return true;
  }
  return false;
}

namespace {
struct ExpandDynamicReshapesPass
    : attn::impl::ExpandDynamicReshapesPassBase<ExpandDynamicReshapesPass> {
  void runOnOperation() override {
    SmallVector<memref::ExpandShapeOp> work;
    getOperation().walk([&](memref::ExpandShapeOp op) {
      if (needsRewrite(op))
        work.push_back(op);
    });
    for (memref::ExpandShapeOp op : work) {
      MemRefType srcType = op.getSrcType();
      if (!srcType.getLayout().isIdentity()) {
        op.emitOpError("cannot expand a non-contiguous buffer with several dynamic dims per group");
        return signalPassFailure();
      }
      OpBuilder b(op);
      Location loc = op.getLoc();
      MemRefType rt = op.getResultType();
      SmallVector<OpFoldResult> sizes = op.getMixedOutputShape();
      // Row-major strides from the output sizes.
      SmallVector<OpFoldResult> strides(rt.getRank());
      SmallVector<int64_t> staticStrides(rt.getRank());
      Value running = arith::ConstantIndexOp::create(b, loc, 1);
      int64_t staticRunning = 1;
      for (int64_t i = rt.getRank() - 1; i >= 0; --i) {
        strides[i] = staticRunning != ShapedType::kDynamic
                         ? OpFoldResult(b.getIndexAttr(staticRunning))
                         : OpFoldResult(running);
        staticStrides[i] = staticRunning;
        Value size = getValueOrCreateConstantIndexOp(b, loc, sizes[i]);
        running = arith::MulIOp::create(b, loc, running, size);
        staticRunning = (staticRunning == ShapedType::kDynamic || rt.isDynamicDim(i))
                            ? ShapedType::kDynamic
                            : staticRunning * rt.getDimSize(i);
      }
      auto meta = memref::ExtractStridedMetadataOp::create(b, loc, op.getSrc());
      auto layout = StridedLayoutAttr::get(b.getContext(), 0, staticStrides);
      auto castType = MemRefType::get(rt.getShape(), rt.getElementType(), layout,
                                      rt.getMemorySpace());
      Value cast = memref::ReinterpretCastOp::create(b,
          loc, castType, meta.getBaseBuffer(), b.getIndexAttr(0), sizes, strides);
      Value result = memref::CastOp::create(b, loc, rt, cast);
      op.replaceAllUsesWith(result);
      op.erase();
    }
  }
};
} // namespace
