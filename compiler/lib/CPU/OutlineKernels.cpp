//===- OutlineKernels.cpp - kernel regions -> shared functions ------------===//
//
// attn-outline-kernels (see Passes.td and KernelRegion.h). Runs after
// bufferization: a region's captured values are then buffers (weights are
// memref.get_global of their own global, activations the buffers the
// function computed) and index values, so a kernel function's signature
// keeps the exact layouts the region read (static strides stay static).
//
//===----------------------------------------------------------------------===//
#include "Support/KernelRegion.h"
#include "attn/Compiler/Passes.h"
#include "attn/Compiler/Statistics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::attn {
#define GEN_PASS_DEF_OUTLINEKERNELSPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

/// A constant the outlined body clones instead of taking as an argument.
static bool clonable(Value v) {
  Operation *def = v.getDefiningOp();
  return def && def->hasTrait<OpTrait::ConstantLike>() && def->getNumOperands() == 0 &&
         def->getNumRegions() == 0 && def->getNumResults() == 1;
}

/// An index value known from static types: a static offset, size or stride
/// of memref.extract_strided_metadata, or a static memref.dim (through
/// memref.cast). Canonicalization would fold these to constants after
/// bufferization; the kernel function gets the constant, as the inline
/// kernel did, instead of an argument (its loops keep static strides).
static std::optional<int64_t> staticIndex(Value v) {
  auto source = [](Value m) {
    while (auto c = m.getDefiningOp<memref::CastOp>())
      m = c.getSource();
    return dyn_cast<MemRefType>(m.getType());
  };
  if (auto md = v.getDefiningOp<memref::ExtractStridedMetadataOp>()) {
    MemRefType t = source(md.getSource());
    unsigned i = cast<OpResult>(v).getResultNumber();
    if (!t || i == 0)
      return std::nullopt;
    int64_t rank = t.getRank(), offset;
    SmallVector<int64_t> strides;
    if (failed(t.getStridesAndOffset(strides, offset)))
      return std::nullopt;
    int64_t x = i == 1 ? offset : i < 2 + rank ? t.getDimSize(i - 2) : strides[i - 2 - rank];
    if (ShapedType::isDynamic(x))
      return std::nullopt;
    return x;
  }
  if (auto dim = v.getDefiningOp<memref::DimOp>()) {
    MemRefType t = source(dim.getSource());
    std::optional<int64_t> i = getConstantIntValue(dim.getIndex());
    if (!t || !i || *i < 0 || *i >= t.getRank() || t.isDynamicDim(*i))
      return std::nullopt;
    return t.getDimSize(*i);
  }
  return std::nullopt;
}

struct OutlineKernelsPass : attn::impl::OutlineKernelsPassBase<OutlineKernelsPass> {
  PassStatistic numRegions{"attn-outline-kernels", "kernel-regions", "Kernel regions outlined"};
  PassStatistic numFunctions{"attn-outline-kernels", "kernel-functions",
                             "Kernel functions left after merging identical ones"};
  void runOnOperation() override {
    ModuleOp module = getOperation();
    module->removeAttr(kKernelRegionsModuleAttr);
    SmallVector<scf::ExecuteRegionOp> regions;
    module.walk([&](scf::ExecuteRegionOp r) {
      if (kernelRegionName(r))
        regions.push_back(r);
    });
    if (regions.empty())
      return;

    SymbolTable symbols(module);
    SmallVector<func::FuncOp> kernels;
    unsigned counter = 0;
    for (scf::ExecuteRegionOp r : regions) {
      Region &body = r.getRegion();
      if (!body.hasOneBlock()) {
        r.emitOpError("kernel region with more than one block");
        return signalPassFailure();
      }
      llvm::SetVector<Value> captured;
      getUsedValuesDefinedAbove(body, captured);
      llvm::SetVector<Value> argSet;
      SmallVector<Value> constants, casts;
      SmallVector<std::pair<Value, int64_t>> staticIndices;
      for (Value v : captured) {
        if (clonable(v)) {
          constants.push_back(v);
        } else if (std::optional<int64_t> x = staticIndex(v)) {
          staticIndices.push_back({v, *x});
        } else if (auto cast = v.getDefiningOp<memref::CastOp>()) {
          // A buffer cast to a dynamic layout for the kernel (to_buffer's
          // type): the function takes the buffer in its own, more static
          // type and casts inside, where the cast folds into the loads.
          argSet.insert(cast.getSource());
          casts.push_back(v);
        } else {
          argSet.insert(v);
        }
      }
      SmallVector<Value> args = argSet.takeVector();

      auto inFn = [](func::FuncOp fn) {
        return [fn](OpOperand &use) { return fn->isProperAncestor(use.getOwner()); };
      };
      auto [fn, call] = outlineKernelRegion(
          r, ("__attn_kernel_" + *kernelRegionName(r) + "_" + Twine(counter++)).str(), args,
          kKernelRegionAttr, symbols, [&](OpBuilder &b, func::FuncOp fn) {
            for (Value c : constants) {
              Operation *clone = b.clone(*c.getDefiningOp());
              c.replaceUsesWithIf(clone->getResult(0), inFn(fn));
            }
            for (auto [v, x] : staticIndices)
              v.replaceUsesWithIf(arith::ConstantIndexOp::create(b, v.getLoc(), x), inFn(fn));
            for (Value v : casts) {
              auto cast = v.getDefiningOp<memref::CastOp>();
              Value source = fn.getArgument(llvm::find(args, cast.getSource()) - args.begin());
              v.replaceUsesWithIf(memref::CastOp::create(b, v.getLoc(), v.getType(), source),
                                  inFn(fn));
            }
          });
      call->setLoc(fn.getLoc()); // as before the helper: the kernel's own location
      kernels.push_back(fn);
      ++numRegions;
    }

    // Identical kernels (the same body up to the function's name): one
    // function, every call to it.
    llvm::StringMap<func::FuncOp> byBody;
    llvm::DenseMap<StringAttr, FlatSymbolRefAttr> replacement;
    for (func::FuncOp fn : kernels) {
      StringAttr name = fn.getSymNameAttr();
      fn.setSymName("kernel");
      std::string text;
      {
        llvm::raw_string_ostream os(text);
        fn->print(os, OpPrintingFlags().useLocalScope().assumeVerified());
      }
      fn.setSymName(name.getValue());
      auto [it, inserted] = byBody.try_emplace(text, fn);
      if (inserted) {
        ++numFunctions;
        continue;
      }
      replacement[name] = FlatSymbolRefAttr::get(it->second.getSymNameAttr());
      symbols.erase(fn);
    }
    if (!replacement.empty())
      module.walk([&](func::CallOp call) {
        auto it = replacement.find(call.getCalleeAttr().getAttr());
        if (it != replacement.end())
          call.setCalleeAttr(it->second);
      });
  }
};

} // namespace
