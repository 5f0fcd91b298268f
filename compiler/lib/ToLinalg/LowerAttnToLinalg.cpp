//===- LowerAttnToLinalg.cpp - attn tensor ops -> linalg/tensor/arith -----===//
//
// The attn-lower-to-linalg pass: every attn op except attn.attention (see
// CPU/LowerAttentionToLoops.cpp) becomes linalg on tensors, by the patterns
// of this folder (Patterns.h: one file per op family). Dims are read with
// tensor.dim, so one lowering serves static and dynamic shapes. f32 linear
// layers and layer norms go to the CPU vector kernels when `vector-width` is
// set (the patterns check that the kernels apply).
//
//===----------------------------------------------------------------------===//
#include "ToLinalg/Patterns.h"
#include "Support/RuntimeChecks.h"
#include "attn/Compiler/Passes.h"
#include "attn/Compiler/Statistics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::attn {
#define GEN_PASS_DEF_LOWERATTNTOLINALGPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {
struct LowerAttnToLinalgPass
    : attn::impl::LowerAttnToLinalgPassBase<LowerAttnToLinalgPass> {
  using Base::Base;
  PassStatistic numReleased{"attn-lower-to-linalg", "released-weights",
                            "Weight blobs freed once packed for the matmul kernel (release-weights)"};
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    BlobReleaser releaser(getOperation(), releaseWeights);
    populateElementwisePatterns(patterns);
    populateLinearPatterns(patterns, vectorWidth, &releaser);
    populateNormalizationPatterns(patterns, vectorWidth);
    populateShapePatterns(patterns);
    populateIndexingPatterns(patterns);
    populateRotaryPatterns(patterns, vectorWidth);
    ConversionTarget target(*ctx);
    target.addLegalDialect<linalg::LinalgDialect, tensor::TensorDialect,
                           arith::ArithDialect, math::MathDialect,
                           scf::SCFDialect, func::FuncDialect,
                           memref::MemRefDialect, vector::VectorDialect,
                           bufferization::BufferizationDialect>();
    target.addIllegalDialect<AttnDialect>();
    target.addLegalOp<AttentionOp>();
    // Unsigned integer elementwise bodies cast to signless values and back.
    target.addLegalOp<UnrealizedConversionCastOp>();
    if (failed(applyPartialConversion(getOperation(), target, std::move(patterns))))
      return signalPassFailure();
    numReleased += releaser.releasedBlobs();
    returnIndexStatus();
  }

  /// Folds the index checks (Gather) and the run-time shape checks into the
  /// model function's status result (RuntimeChecks.h).
  void returnIndexStatus() {
    func::FuncOp fn = getOperation();
    SmallVector<std::pair<Value, std::string>> flags;
    fn.walk([&](linalg::GenericOp g) {
      if (auto tmpl = g->getAttrOfType<StringAttr>(kIndexCheckAttr); tmpl && g->getParentOp() == fn)
        flags.push_back({g.getResult(0), tmpl.str()});
    });
    returnRuntimeStatus(fn, flags);
  }
};
} // namespace
