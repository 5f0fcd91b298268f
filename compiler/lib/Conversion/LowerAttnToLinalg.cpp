//===- LowerAttnToLinalg.cpp ---------------------------------------------------------===//
#include "attn/Compiler/Passes.h"

namespace mlir::attn {
#define GEN_PASS_DEF_LOWERATTNTOLINALGPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {
struct LowerAttnToLinalgPass : attn::impl::LowerAttnToLinalgPassBase<LowerAttnToLinalgPass> {
  using Base::Base;
  void runOnOperation() override {}
};
} // namespace
