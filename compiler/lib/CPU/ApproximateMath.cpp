//===- ApproximateMath.cpp - polynomial math approximations ---------------===//
#include "attn/Compiler/Passes.h"

#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Math/Transforms/Approximation.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::attn {
#define GEN_PASS_DEF_APPROXIMATEMATHPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {
struct ApproximateMathPass
    : attn::impl::ApproximateMathPassBase<ApproximateMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    // MLIR's legacy set of polynomial approximations, except sin and cos:
    // their approximation reduces the argument with a one-constant pi/2 and
    // loses ~|x|·1e-8 absolute accuracy (1e-4 at the rotary angles of
    // position 4096); they run once per call on the rotary tables, so libm's
    // correctly reduced sinf/cosf cost nothing that matters.
    auto approximated = [](StringRef name) {
      return llvm::is_contained(
          {math::AtanOp::getOperationName(), math::Atan2Op::getOperationName(),
           math::TanhOp::getOperationName(), math::LogOp::getOperationName(),
           math::Log2Op::getOperationName(), math::Log1pOp::getOperationName(),
           math::ErfOp::getOperationName(), math::ErfcOp::getOperationName(),
           math::ExpOp::getOperationName(), math::ExpM1Op::getOperationName(),
           math::CbrtOp::getOperationName()},
          name);
    };
    auto polynomial = [&](StringRef name) {
      return approximated(name) || name == math::AsinOp::getOperationName() ||
             name == math::AcosOp::getOperationName();
    };
    populateMathF32ExpansionPatterns(patterns, approximated);
    populateMathPolynomialApproximationPatterns(patterns, polynomial);
    // f32 <-> bf16 conversions as integer arithmetic: LLVM would otherwise
    // call compiler-rt's __truncsfbf2/__extendbfsf2, which a model library
    // linked with the system compiler driver may not find (libgcc lacks them
    // on Debian 12), and which are scalar calls inside vector loops.
    arith::populateExpandBFloat16Patterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
