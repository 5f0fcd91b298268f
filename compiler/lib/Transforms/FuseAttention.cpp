//===- FuseAttention.cpp ---------------------------------------------------------===//
#include "attn/Compiler/Passes.h"

namespace mlir::attn {
#define GEN_PASS_DEF_FUSEATTENTIONPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {
struct FuseAttentionPass : attn::impl::FuseAttentionPassBase<FuseAttentionPass> {
  using Base::Base;
  void runOnOperation() override {}
};
} // namespace
