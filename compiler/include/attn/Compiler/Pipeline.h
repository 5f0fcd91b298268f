//===- Pipeline.h - the attnc compilation pipeline --------------*- C++ -*-===//
#ifndef ATTN_COMPILER_PIPELINE_H
#define ATTN_COMPILER_PIPELINE_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringRef.h"
#include <string>

namespace llvm {
class Module;
class LLVMContext;
} // namespace llvm

namespace mlir::attn {

enum class Target { CPU, CUDA };

struct CompileOptions {
  Target target = Target::CPU;
  std::string cudaArch = "sm_90";
  /// CPU name and features; empty means the host's.
  std::string mcpu, mattr;
  /// Remarks for unfused softmax ops.
  bool remarks = false;
  /// Flash-attention tile sizes.
  int64_t queryTile = 48, keyTile = 128;
  /// cuda: f16/bf16 attention on tensor cores (else the SIMT kernel).
  bool gpuTensorCores = true;
  int optLevel = 3;
  /// Partitions of a library's machine code generated at once (one object
  /// and one thread each); 0: one per hardware thread, at most 4. Only with
  /// MLIR threading on.
  unsigned codegenPartitions = 0;
  /// --kv-cache=N: past K/V inputs become in-place caches of N positions
  /// (attn-kv-cache); 0: off.
  int64_t kvCacheMaxLen = 0;
  /// --logits=last: the output `logits` for the last sequence position only
  /// ([B, 1, V]; attn-last-position-logits); false: every position.
  bool lastPositionLogits = false;
  /// The compile owns the module: attn-fuse-gated-mlp, attn-merge-projections
  /// and attn-lower-to-linalg free an original weight's blob as soon as its
  /// copy (concatenated, packed) stands, so that the peak holds about one
  /// copy of the weights (their release-weights option; BlobReleaser).
  bool releaseWeights = false;
};

/// attn dialect -> attn dialect: cleanups and fusion (what --emit=attn shows).
void buildGraphPipeline(OpPassManager &pm, const CompileOptions &options);

/// attn dialect -> LLVM dialect with the runtime entry point, for the CPU.
void buildCpuLoweringPipeline(OpPassManager &pm, const CompileOptions &options);

/// attn dialect -> LLVM dialect host code calling the runtime's attn_cuda_*
/// functions, with the kernels embedded as cubin (options.cudaArch) + PTX.
void buildCudaLoweringPipeline(OpPassManager &pm, const CompileOptions &options);

/// Registers what the CUDA pipeline needs in a context (NVVM/GPU to LLVM IR
/// translations, the NVVM target's serializer).
void registerCudaCodegen(DialectRegistry &registry);

/// Whether this build found the CUDA toolkit (ptxas, libdevice).
bool haveCudaToolkit();

/// Resolved CPU name and feature string (host when options leave them empty).
std::pair<std::string, std::string> resolveCpu(const CompileOptions &options);

/// Whether the CPU resolveCpu names, with its features, has AVX-512F (the
/// kernels then use 16-wide f32 vectors, otherwise 8-wide AVX2 ones).
bool targetHasAvx512(const CompileOptions &options);

/// Adds the "abi"/"target"/"cpu"/"features" fields to the module's
/// attn.signature JSON (creating a default signature from the entry
/// function's type when the module has none, e.g. for .mlir inputs).
LogicalResult finalizeSignature(ModuleOp module, StringRef entry,
                                const CompileOptions &options);

/// LLVM-dialect module -> optimized LLVM IR for the chosen CPU. With
/// `optimize` false only identical functions are merged: the optimizer runs
/// later, per partition (emitObjectsInParallel).
std::unique_ptr<llvm::Module> translateToOptimizedLLVMIR(
    ModuleOp module, llvm::LLVMContext &llvmContext, const CompileOptions &options,
    bool optimize = true);

/// Weights out of LLVM IR (EmitLibrary.cpp): every constant global of the
/// LLVM-dialect module holding a weight (a dense_resource blob or a dense
/// constant of at least kMinExternalWeightBytes) becomes an external hidden
/// declaration named `__attn_weight.<name>`; when `objectPath` is not empty,
/// the bytes are written there, straight from the blobs, as an ELF relocatable
/// object defining those symbols (read-only, kWeightAlignment-aligned) that
/// is linked with the code object. Hosts without such an object writer keep
/// the weights in IR (`wroteObject` false).
inline constexpr uint64_t kMinExternalWeightBytes = 1024;
inline constexpr uint64_t kWeightAlignment = 64;
LogicalResult externalizeWeights(ModuleOp module, StringRef objectPath,
                                 const CompileOptions &options, bool &wroteObject,
                                 std::string &error);

/// Frees the bytes of the context's resource blobs that no attribute of
/// `module` references any more (e.g. weights already packed, or moved out
/// by externalizeWeights). Only for a module that owns its context's blobs.
void freeUnreferencedBlobs(ModuleOp module);

/// Writes assembly (`asm`) or an object file for the chosen CPU.
LogicalResult emitMachineCode(llvm::Module &module, StringRef path, bool assembly,
                              const CompileOptions &options, std::string &error);

/// Writes the module's machine code as paths.size() object files, one per
/// partition (balanced by size, EmitLibrary.cpp; local symbols become hidden), generated on
/// that many threads at once. The objects together are the module: a
/// library or executable links all of them.
/// With `optimize`, each partition first goes through the -O pipeline (for
/// a module translated with optimize = false).
LogicalResult emitObjectsInParallel(llvm::Module &module, ArrayRef<std::string> paths,
                                    const CompileOptions &options, bool optimize,
                                    std::string &error);

/// Runs the linker driver (ATTN_LINKER_DRIVER, else `cc` on PATH) with `args`
/// (the driver's own name is added in front) to produce `outputPath`; the
/// one place both links below run a linker.
LogicalResult runLinkerDriver(ArrayRef<StringRef> args, StringRef outputPath,
                              std::string &error);

/// Where a file attnc links into what it makes (the model support archive;
/// --emit=exe's attn-run, main and static runtime archives) is: the build
/// tree's `buildTreePath` when this code runs from the build tree (attnc in
/// build/bin, the Python package in build/python), else, for an installed
/// attnc (`cmake --install`), <prefix>/lib/attnc/<its file name>, found from
/// the installed executable's own path (<prefix>/bin/attnc): an installed
/// attnc never reads the build tree.
std::string attncSupportFile(llvm::StringRef buildTreePath);

/// Checks that the files a link needs (attncSupportFile) exist: the model
/// support archive, and for an executable (--emit=exe) attn-run's archives.
LogicalResult checkLinkFiles(bool executable, std::string &error);

/// Links the model's object files (the code's partitions) and the weights'
/// object (externalizeWeights; may be empty) into a shared library with the
/// system linker driver. With ld.lld the weights do not go through the
/// linker: a linker script reserves their section and defines their symbols,
/// and their bytes are then copied from the weights object into the written
/// library by the kernel (copy_file_range), so the linker's process never
/// holds them (it mapped the weights object and the library it wrote: about
/// twice the weights).
LogicalResult linkSharedLibrary(ArrayRef<std::string> objectPaths, StringRef weightsObject,
                                StringRef outputPath, std::string &error);

/// Links the model's object files into a standalone executable (--emit=exe):
/// attn-run's command line, the static runtime and the model support code
/// linked in, so that it needs no file of the build at run time
/// (LinkExecutable.cpp).
LogicalResult linkExecutable(ArrayRef<std::string> objectPaths, StringRef outputPath,
                             std::string &error);

} // namespace mlir::attn

#endif
