//===- EmitModelEntryPoint.cpp ---------------------------------------------------------===//
#include "attn/Compiler/Passes.h"

namespace mlir::attn {
#define GEN_PASS_DEF_EMITMODELENTRYPOINTPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {
struct EmitModelEntryPointPass : attn::impl::EmitModelEntryPointPassBase<EmitModelEntryPointPass> {
  using Base::Base;
  void runOnOperation() override {}
};
} // namespace
