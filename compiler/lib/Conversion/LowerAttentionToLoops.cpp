//===- LowerAttentionToLoops.cpp ---------------------------------------------------------===//
#include "attn/Compiler/Passes.h"

namespace mlir::attn {
#define GEN_PASS_DEF_LOWERATTENTIONTOLOOPSPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {
struct LowerAttentionToLoopsPass : attn::impl::LowerAttentionToLoopsPassBase<LowerAttentionToLoopsPass> {
  using Base::Base;
  void runOnOperation() override {}
};
} // namespace
