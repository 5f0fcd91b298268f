//===- KernelRegion.cpp - CPU kernels as shared functions -----------------===//
//
// See KernelRegion.h.
//
//===----------------------------------------------------------------------===//
#include "Support/KernelRegion.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"

using namespace mlir;
using namespace mlir::attn;

bool attn::kernelRegionsWanted(OpBuilder &b) {
  Block *block = b.getInsertionBlock();
  Operation *op = block ? block->getParentOp() : nullptr;
  auto module = op ? (isa<ModuleOp>(op) ? cast<ModuleOp>(op) : op->getParentOfType<ModuleOp>())
                   : ModuleOp();
  return module && module->hasAttr(kKernelRegionsModuleAttr);
}

scf::ExecuteRegionOp attn::openKernelRegion(OpBuilder &b, Location loc, StringRef kernel,
                                            TypeRange resultTypes) {
  // The kernel's name rides in the location: bufferization rebuilds the
  // region op without its discardable attributes, but keeps its location.
  Location tagged = FusedLoc::get(b.getContext(), {loc}, b.getStringAttr(kernel));
  auto region = scf::ExecuteRegionOp::create(b, tagged, resultTypes, /*no_inline=*/true);
  b.createBlock(&region.getRegion());
  return region;
}

SmallVector<Value> attn::closeKernelRegion(OpBuilder &b, scf::ExecuteRegionOp region,
                                           ValueRange results) {
  SmallVector<Value> yielded;
  for (auto [v, t] : llvm::zip_equal(results, region.getResultTypes()))
    yielded.push_back(v.getType() == t ? v
                                       : tensor::CastOp::create(b, region.getLoc(), t, v).getResult());
  scf::YieldOp::create(b, region.getLoc(), yielded);
  b.setInsertionPointAfter(region);
  return SmallVector<Value>(region.getResults());
}

std::optional<StringRef> attn::kernelRegionName(scf::ExecuteRegionOp region) {
  if (!region.getNoInline())
    return std::nullopt;
  auto fused = dyn_cast<FusedLoc>(region.getLoc());
  auto name = fused ? dyn_cast_or_null<StringAttr>(fused.getMetadata()) : StringAttr();
  if (!name)
    return std::nullopt;
  return name.getValue();
}

std::pair<func::FuncOp, func::CallOp>
attn::outlineKernelRegion(scf::ExecuteRegionOp region, StringRef name, ValueRange args,
                          StringRef attr, SymbolTable &symbols,
                          function_ref<void(OpBuilder &, func::FuncOp)> cloneIn) {
  MLIRContext *ctx = region.getContext();
  auto parent = region->getParentOfType<func::FuncOp>();
  OpBuilder mb(ctx);
  mb.setInsertionPointAfter(parent);
  auto fnType = FunctionType::get(ctx, args.getTypes(), region.getResultTypes());
  Location loc = cast<FusedLoc>(region.getLoc()).getLocations().front();
  auto fn = func::FuncOp::create(mb, loc, name, fnType);
  fn.setPrivate();
  fn->setAttr(attr, StringAttr::get(ctx, *kernelRegionName(region)));
  symbols.insert(fn);
  Block *entry = fn.addEntryBlock();
  // The region's ops move into the function; what they read from outside
  // becomes the arguments (or what cloneIn makes).
  entry->getOperations().splice(entry->end(), region.getRegion().front().getOperations());
  auto inFn = [&](OpOperand &use) { return fn->isProperAncestor(use.getOwner()); };
  for (auto [i, v] : llvm::enumerate(args))
    v.replaceUsesWithIf(entry->getArgument(i), inFn);
  OpBuilder b = OpBuilder::atBlockBegin(entry);
  cloneIn(b, fn);
  Operation *yield = entry->getTerminator();
  b.setInsertionPoint(yield);
  func::ReturnOp::create(b, yield->getLoc(), yield->getOperands());
  yield->erase();

  OpBuilder cb(region);
  auto call = func::CallOp::create(cb, region.getLoc(), fn, args);
  region.replaceAllUsesWith(call.getResults());
  region.erase();
  return {fn, call};
}
