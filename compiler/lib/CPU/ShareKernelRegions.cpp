//===- ShareKernelRegions.cpp - one copy of each kernel before bufferize --===//
//
// attn-share-kernel-regions and attn-inline-kernel-regions (Passes.td,
// KernelRegion.h). attn -> linalg writes every layer's kernels out in full
// (MiniLM: 41k lines, six copies of each kernel), and the tensor-level passes
// after it (canonicalization, CSE, elementwise fusion, vectorization) were
// the largest part of the lowering's time. Between these two passes each
// distinct kernel exists once, as a function; the functions are processed in
// parallel. Bufferization then sees the regions it saw before (the inline
// pass copies the processed bodies back), so that nothing below changes:
// attn-outline-kernels shares them again at the buffer level.
//
//===----------------------------------------------------------------------===//
#include "Support/KernelRegion.h"
#include "attn/Compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::attn {
#define GEN_PASS_DEF_SHAREKERNELREGIONSPASS
#define GEN_PASS_DEF_INLINEKERNELREGIONSPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Marks the functions attn-share-kernel-regions makes (the kernel's name).
constexpr llvm::StringLiteral kSharedRegionAttr = "attn.kernel_region";

/// A constant's attribute the function may hold itself: anything but a
/// resource blob (a weight), which stays an argument so that the layers'
/// kernels are identical.
static bool clonableAttr(Attribute attr) { return !isa<DenseResourceElementsAttr>(attr); }

/// The value of the scalar `v` where it folds to a constant without reading
/// anything at run time (a static tensor.dim, arithmetic on constants): the
/// canonicalizer would have made it a constant before the kernel saw it.
static Attribute foldedScalar(Value v, unsigned depth = 0) {
  if (isa<ShapedType>(v.getType()))
    return {};
  Attribute attr;
  if (matchPattern(v, m_Constant(&attr)))
    return attr;
  Operation *def = v.getDefiningOp();
  if (!def || depth > 8)
    return {};
  if (auto dim = dyn_cast<tensor::DimOp>(def)) {
    Value source = dim.getSource();
    while (auto cast = source.getDefiningOp<tensor::CastOp>())
      source = cast.getSource();
    auto type = dyn_cast<RankedTensorType>(source.getType());
    std::optional<int64_t> i = getConstantIntValue(dim.getIndex());
    if (!type || !i || *i < 0 || *i >= type.getRank() || type.isDynamicDim(*i))
      return {};
    return IntegerAttr::get(v.getType(), type.getDimSize(*i));
  }
  if (def->getNumRegions() || def->getNumResults() != 1 || !isPure(def))
    return {};
  SmallVector<Attribute> operands;
  for (Value o : def->getOperands()) {
    Attribute a = foldedScalar(o, depth + 1);
    if (!a)
      return {};
    operands.push_back(a);
  }
  SmallVector<OpFoldResult> results;
  if (failed(def->fold(operands, results)) || results.size() != 1)
    return {};
  return dyn_cast<Attribute>(results.front());
}

/// Opens a function of the region's captured values, moves the region's
/// body into it and replaces the region by a call (with the region's
/// location, which names the kernel).
static std::pair<func::FuncOp, func::CallOp> outline(scf::ExecuteRegionOp r, StringRef kind,
                                                     unsigned index, SymbolTable &symbols) {
  Region &body = r.getRegion();
  llvm::SetVector<Value> captured;
  getUsedValuesDefinedAbove(body, captured);
  llvm::SetVector<Value> argSet;
  SmallVector<Value> cloned; // constants and casts, cloned in
  SmallVector<std::pair<Value, TypedAttr>> folded;
  auto clonableConstant = [](Value v) {
    Operation *def = v.getDefiningOp();
    Attribute attr;
    return def && def->getNumOperands() == 0 && def->getNumRegions() == 0 &&
           def->getNumResults() == 1 && matchPattern(v, m_Constant(&attr)) && clonableAttr(attr);
  };
  for (Value v : captured) {
    if (clonableConstant(v)) {
      cloned.push_back(v);
    } else if (auto attr = dyn_cast_or_null<TypedAttr>(foldedScalar(v));
               attr && attr.getType() == v.getType()) {
      folded.push_back({v, attr});
    } else if (isa_and_nonnull<tensor::CastOp, memref::ExtractStridedMetadataOp>(
                   v.getDefiningOp())) {
      // A tensor cast (a static tensor cast to the kernel's dynamic type) or
      // a buffer's metadata (which the kernel reinterprets): the function
      // takes the source and clones the op, so that what folded in place
      // (dims of the static type, reinterpret_cast of the buffer's own
      // metadata) still folds.
      Value source = v.getDefiningOp()->getOperand(0);
      if (clonableConstant(source))
        cloned.push_back(source);
      else
        argSet.insert(source);
      cloned.push_back(v);
    } else {
      argSet.insert(v);
    }
  }
  SmallVector<Value> args = argSet.takeVector();

  return outlineKernelRegion(
      r, ("__attn_region_" + kind + "_" + Twine(index)).str(), args, kSharedRegionAttr, symbols,
      [&](OpBuilder &b, func::FuncOp fn) {
        auto inFn = [&](OpOperand &use) { return fn->isProperAncestor(use.getOwner()); };
        IRMapping map;
        map.map(args, fn.getArguments());
        // An op with several results (the metadata) is cloned once; a cast
        // after the constant it casts.
        for (Value v : cloned) {
          Operation *def = v.getDefiningOp();
          if (!map.contains(def->getResult(0)))
            b.clone(*def, map);
          v.replaceUsesWithIf(map.lookup(v), inFn);
        }
        for (auto [v, attr] : folded)
          v.replaceUsesWithIf(arith::ConstantOp::create(b, v.getLoc(), attr), inFn);
      });
}

struct ShareKernelRegionsPass : attn::impl::ShareKernelRegionsPassBase<ShareKernelRegionsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // The outermost kernel regions (one nested in another goes with it).
    SmallVector<std::pair<scf::ExecuteRegionOp, StringRef>> regions;
    module.walk<WalkOrder::PreOrder>([&](scf::ExecuteRegionOp r) {
      if (std::optional<StringRef> kind = kernelRegionName(r)) {
        if (r.getRegion().hasOneBlock())
          regions.push_back({r, *kind});
        return WalkResult::skip();
      }
      return WalkResult::advance();
    });
    if (regions.empty())
      return;
    SymbolTable symbols(module);
    // Functions with the same kernel, type and size are compared in full;
    // a region identical to an earlier one calls that one's function.
    using Key = std::tuple<StringRef, Type, size_t>;
    llvm::DenseMap<Key, SmallVector<func::FuncOp, 1>> byKey;
    unsigned index = 0;
    for (auto [r, kind] : regions) {
      auto [fn, call] = outline(r, kind, index++, symbols);
      size_t size = 0;
      fn.getBody().walk([&](Operation *) { ++size; });
      SmallVector<func::FuncOp, 1> &same = byKey[{kind, fn.getFunctionType(), size}];
      func::FuncOp equal;
      for (func::FuncOp other : same)
        if (OperationEquivalence::isRegionEquivalentTo(&other.getBody(), &fn.getBody(),
                                                       OperationEquivalence::IgnoreLocations)) {
          equal = other;
          break;
        }
      if (!equal) {
        same.push_back(fn);
        continue;
      }
      call.setCalleeAttr(FlatSymbolRefAttr::get(equal.getSymNameAttr()));
      symbols.erase(fn);
    }
  }
};

struct InlineKernelRegionsPass
    : attn::impl::InlineKernelRegionsPassBase<InlineKernelRegionsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<func::FuncOp> functions;
    for (auto fn : module.getOps<func::FuncOp>())
      if (fn->hasAttr(kSharedRegionAttr))
        functions.push_back(fn);
    if (functions.empty())
      return;
    SmallVector<func::CallOp> calls;
    module.walk([&](func::CallOp call) {
      auto fn = symbols.lookup<func::FuncOp>(call.getCallee());
      if (fn && fn->hasAttr(kSharedRegionAttr))
        calls.push_back(call);
    });
    for (func::CallOp call : calls) {
      auto fn = symbols.lookup<func::FuncOp>(call.getCallee());
      OpBuilder b(call);
      auto region = scf::ExecuteRegionOp::create(b, call.getLoc(), call.getResultTypes(),
                                                 /*no_inline=*/true);
      IRMapping map;
      map.map(fn.getArguments(), call.getOperands());
      // The body's block arguments become the call's operands.
      Block *block = b.createBlock(&region.getRegion());
      b.setInsertionPointToStart(block);
      for (Operation &op : fn.getBody().front().without_terminator())
        b.clone(op, map);
      auto ret = cast<func::ReturnOp>(fn.getBody().front().getTerminator());
      SmallVector<Value> results;
      for (Value v : ret.getOperands())
        results.push_back(map.lookupOrDefault(v));
      scf::YieldOp::create(b, ret.getLoc(), results);
      call.replaceAllUsesWith(region.getResults());
      call.erase();
    }
    for (func::FuncOp fn : functions)
      symbols.erase(fn);
  }
};

} // namespace
