//===- KernelRegion.h - CPU kernels as shared functions ---------*- C++ -*-===//
//
// A CPU kernel builder (matmul, attention, layer/RMS norm, rotary) writes
// its loop nest inside a kernel region
//
//   %r = scf.execute_region -> (tensor<...>) no_inline {
//     ... the kernel, reading the operands it captures ...
//     scf.yield %out : tensor<...>
//   } loc(fused["matmul"][...])
//
// and attn-outline-kernels (after bufferization) turns every region into a
// private function of its captured buffers and index values, then merges
// identical functions. Every layer of a model runs the same kernel code on
// its own weights, so the code is compiled once, not once per layer: the
// MLIR lowering, LLVM's optimizer and instruction selection see one copy.
//
// What must stay at function level stays outside the region: run-time check
// markers (RuntimeChecks.h) and the compile-time constants (packed weights),
// which become arguments of the kernel function.
//
// Helpers both targets share (conformOperand's slow-path copy) build a kernel
// region only in a module marked `attn.kernel_regions` (set by the CPU
// pipeline before lowering, removed by attn-outline-kernels): the GPU
// pipeline maps their loops to GPU threads instead.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_SUPPORT_KERNELREGION_H
#define ATTN_SUPPORT_KERNELREGION_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/IR/Builders.h"

namespace mlir::attn {

/// The attribute naming the kernel of an outlined kernel function.
inline constexpr llvm::StringLiteral kKernelRegionAttr = "attn.kernel";

/// The module attribute asking shared helpers for kernel regions.
inline constexpr llvm::StringLiteral kKernelRegionsModuleAttr = "attn.kernel_regions";

/// Whether the module b inserts into asks for kernel regions.
bool kernelRegionsWanted(OpBuilder &b);

/// Opens a kernel region with results `resultTypes` at b's insertion point
/// and moves b into it.
scf::ExecuteRegionOp openKernelRegion(OpBuilder &b, Location loc, llvm::StringRef kernel,
                                      TypeRange resultTypes);

/// Yields `results` (tensor.cast to the region's result types where they
/// differ), moves b after the region and returns the region's results.
SmallVector<Value> closeKernelRegion(OpBuilder &b, scf::ExecuteRegionOp region,
                                     ValueRange results);

/// The kernel name of a kernel region (an execute_region made by
/// openKernelRegion, before or after bufferization), else nullopt.
std::optional<llvm::StringRef> kernelRegionName(scf::ExecuteRegionOp region);

/// Moves the body of kernel region `region` into a new private function
/// `name` of `args` (the values it reads from outside), with attribute
/// `attr` = the kernel's name, inserted into `symbols` after the region's
/// function; inside, `args` are replaced by the arguments, then `cloneIn`
/// (at the entry's start) replaces whatever else the body reads from outside
/// (a use is inside when `fn->isProperAncestor(use.getOwner())`). The
/// region's yield becomes the return; the region is replaced by a call of
/// the function (with the region's location). Returns both.
std::pair<func::FuncOp, func::CallOp>
outlineKernelRegion(scf::ExecuteRegionOp region, llvm::StringRef name, ValueRange args,
                    llvm::StringRef attr, SymbolTable &symbols,
                    llvm::function_ref<void(OpBuilder &, func::FuncOp)> cloneIn);

} // namespace mlir::attn

#endif // ATTN_SUPPORT_KERNELREGION_H
