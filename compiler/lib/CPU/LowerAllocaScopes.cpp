//===- LowerAllocaScopes.cpp - alloca_scope -> stacksave/stackrestore -----===//
#include "attn/Compiler/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir::attn {
#define GEN_PASS_DEF_LOWERALLOCASCOPESPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {
struct LowerAllocaScopesPass
    : attn::impl::LowerAllocaScopesPassBase<LowerAllocaScopesPass> {
  void runOnOperation() override {
    SmallVector<memref::AllocaScopeOp> scopes;
    // Post-order: inner scopes are lowered before the scopes holding them.
    getOperation()->walk([&](memref::AllocaScopeOp op) { scopes.push_back(op); });
    for (memref::AllocaScopeOp scope : scopes) {
      Block &body = scope.getBodyRegion().front();
      auto yield = cast<memref::AllocaScopeReturnOp>(body.getTerminator());
      OpBuilder b(scope);
      auto ptrT = LLVM::LLVMPointerType::get(&getContext());
      Value sp = LLVM::StackSaveOp::create(b, scope.getLoc(), ptrT);
      SmallVector<Value> results(yield.getResults());
      yield->erase();
      scope->getBlock()->getOperations().splice(Block::iterator(scope),
                                                body.getOperations());
      b.setInsertionPoint(scope);
      LLVM::StackRestoreOp::create(b, scope.getLoc(), sp);
      scope.replaceAllUsesWith(results);
      scope.erase();
    }
  }
};
} // namespace
