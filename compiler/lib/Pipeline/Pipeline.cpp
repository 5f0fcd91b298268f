//===- Pipeline.cpp - the attnc pass pipelines ----------------------------===//
//
// The whole pipeline, stage by stage. A reader finds every pass attnc runs
// here; `attnc --mlir-print-ir-after-all` or `--dump-ir=DIR` shows each one.
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Pipeline.h"
#include "attn/Compiler/Passes.h"

#include "Support/KernelRegion.h"
#include "attn/Dialect/AttnDialect.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

using namespace mlir;
using namespace mlir::attn;

void attn::buildGraphPipeline(OpPassManager &pm, const CompileOptions &options) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addNestedPass<func::FuncOp>(createSimplifyMasksPass());
  // Rotary embeddings first: the attention chain then starts at attn.rotary.
  pm.addNestedPass<func::FuncOp>(createFuseRotaryPass());
  FuseAttentionPassOptions fuse;
  fuse.remarks = options.remarks;
  pm.addNestedPass<func::FuncOp>(createFuseAttentionPass(fuse));
  // The layers around attention: GELU, Linear epilogues, Q/K/V projections
  // sharing an input (separate, or packed and cut apart), residual adds
  // before LayerNorm.
  pm.addNestedPass<func::FuncOp>(createFuseGeluPass());
  pm.addNestedPass<func::FuncOp>(createFuseLinearPass());
  FuseGatedMlpPassOptions gated;
  gated.releaseWeights = options.releaseWeights;
  pm.addNestedPass<func::FuncOp>(createFuseGatedMlpPass(gated));
  MergeProjectionsPassOptions merge;
  merge.releaseWeights = options.releaseWeights;
  pm.addNestedPass<func::FuncOp>(createMergeProjectionsPass(merge));
  pm.addNestedPass<func::FuncOp>(createSplitLinearResultsPass());
  pm.addNestedPass<func::FuncOp>(createFuseResidualLayerNormPass());
  pm.addNestedPass<func::FuncOp>(createFuseRmsNormPass());
  pm.addNestedPass<func::FuncOp>(createFoldAttentionTransposesPass());
  pm.addNestedPass<func::FuncOp>(createFoldShapeArithmeticPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createSymbolDCEPass());
  // --kv-cache: last, on the fused graph, and after the last canonicalization
  // (its run-time check marker must reach attn-lower-to-linalg).
  if (options.kvCacheMaxLen > 0) {
    KvCachePassOptions kv;
    kv.maxLen = options.kvCacheMaxLen;
    pm.addPass(createKvCachePass(kv));
  }
  // --logits=last: after fusion (which sees the export's graph), on the
  // fused lm_head chain; after attn-kv-cache, which resolves a merged
  // decoder's If (the logits then come from the with-past graph).
  if (options.lastPositionLogits)
    pm.addPass(createLastPositionLogitsPass());
}

/// Adds a textual pipeline; the strings name only upstream passes that exist
/// in MLIR 22, so a parse failure is a programming error reported loudly.
static void addPipeline(OpPassManager &pm, StringRef text) {
  if (failed(parsePassPipeline(text, pm, llvm::errs())))
    llvm::report_fatal_error(llvm::Twine("attnc: bad internal pipeline: ") + text);
}

namespace {
/// Declares `func.func private @omp_get_max_threads() -> i32` (libomp, which
/// every CPU model links) in a module with attention: the CPU attention
/// kernel sizes its flash-decoding key split by the run-time thread count
/// when the declaration exists (AttentionKernel.cpp). A module pass, so the
/// function pass after it only reads the symbol table.
struct DeclareThreadCountPass
    : PassWrapper<DeclareThreadCountPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(DeclareThreadCountPass)
  StringRef getArgument() const override { return "attn-declare-thread-count"; }
  void runOnOperation() override {
    ModuleOp module = getOperation();
    bool attention = false;
    module.walk([&](AttentionOp) {
      attention = true;
      return WalkResult::interrupt();
    });
    if (!attention || module.lookupSymbol("omp_get_max_threads"))
      return;
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    auto fn = func::FuncOp::create(b, module.getLoc(), "omp_get_max_threads",
                                   b.getFunctionType({}, {b.getI32Type()}));
    fn.setPrivate();
  }
};
/// Marks the module `attn.kernel_regions` (Support/KernelRegion.h): helpers
/// shared with the GPU lowering then build their CPU code as kernel regions;
/// attn-outline-kernels removes the mark.
struct MarkKernelRegionsPass
    : PassWrapper<MarkKernelRegionsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(MarkKernelRegionsPass)
  StringRef getArgument() const override { return "attn-mark-kernel-regions"; }
  void runOnOperation() override {
    getOperation()->setAttr(kKernelRegionsModuleAttr, UnitAttr::get(&getContext()));
  }
};
} // namespace

void attn::buildCpuLoweringPipeline(OpPassManager &pm,
                                    const CompileOptions &options) {
  // 1. attn -> linalg on tensors (attention becomes the flash loop nest).
  LowerAttentionToLoopsPassOptions tiles;
  tiles.queryTile = options.queryTile;
  tiles.keyTile = options.keyTile;
  // The register-blocked kernel uses the target's f32 vector width.
  tiles.vectorWidth = targetHasAvx512(options) ? 16 : 8;
  pm.addPass(std::make_unique<DeclareThreadCountPass>());
  pm.addPass(std::make_unique<MarkKernelRegionsPass>());
  pm.addNestedPass<func::FuncOp>(createLowerAttentionToLoopsPass(tiles));
  LowerAttnToLinalgPassOptions linalgOptions;
  linalgOptions.vectorWidth = tiles.vectorWidth;
  linalgOptions.releaseWeights = options.releaseWeights;
  pm.addNestedPass<func::FuncOp>(createLowerAttnToLinalgPass(linalgOptions));
  // Until bufferization, each distinct kernel region is one function (the
  // layers' copies call it): the passes below process one copy of each
  // kernel, the functions in parallel.
  pm.addPass(createShareKernelRegionsPass());
  pm.addNestedPass<func::FuncOp>(createCanonicalizerPass());
  pm.addNestedPass<func::FuncOp>(createCSEPass());
  // Producer/consumer elementwise generics (bias, residual, activation,
  // normalization steps) become one loop nest: fewer temporaries, one pass
  // over memory.
  addPipeline(pm, "func.func(linalg-fuse-elementwise-ops)");
  pm.addNestedPass<func::FuncOp>(createCanonicalizerPass());
  // What remains elementwise: parallel vector loops instead of scalar ones.
  VectorizeElementwisePassOptions vectorize;
  vectorize.vectorWidth = tiles.vectorWidth;
  pm.addNestedPass<func::FuncOp>(createVectorizeElementwisePass(vectorize));
  pm.addPass(createInlineKernelRegionsPass());

  // 2. Bufferize. Results are returned as freshly allocated buffers the
  // caller frees; the deallocation pipeline frees every temporary.
  addPipeline(pm, "one-shot-bufferize{bufferize-function-boundaries=1 allow-return-allocs-from-loops=1 "
                  "function-boundary-type-conversion=identity-layout-map}");
  // Each kernel region becomes a function; identical ones (the same kernel in
  // every layer) are compiled once.
  pm.addPass(createOutlineKernelsPass());
  addPipeline(pm, "func.func(buffer-hoisting,buffer-loop-hoisting)");
  addPipeline(pm, "buffer-deallocation-pipeline");
  addPipeline(pm, "convert-bufferization-to-memref");

  // 3. Loops and scalar code.
  pm.addNestedPass<func::FuncOp>(createLowerMemrefCopyPass());
  pm.addNestedPass<func::FuncOp>(createExpandDynamicReshapesPass());
  addPipeline(pm, "func.func(convert-linalg-to-loops,scf-forall-to-parallel)");
  // Parallel loops (batch x heads of attention, ...) run on OpenMP threads.
  addPipeline(pm, "convert-scf-to-openmp");
  pm.addPass(createLowerAllocaScopesPass());
  pm.addPass(createCanonicalizerPass());
  addPipeline(pm, "convert-scf-to-cf");
  pm.addPass(createApproximateMathPass());

  // 4. LLVM dialect and the runtime ABI.
  addPipeline(pm, "expand-strided-metadata,lower-affine,convert-vector-to-llvm,"
                  "finalize-memref-to-llvm{use-generic-functions=1},convert-math-to-funcs,convert-math-to-llvm,convert-math-to-libm,convert-arith-to-llvm,"
                  "convert-index-to-llvm,convert-cf-to-llvm,convert-openmp-to-llvm,convert-func-to-llvm,"
                  "reconcile-unrealized-casts");
  pm.addPass(createEmitModelEntryPointPass());
  pm.addPass(createCanonicalizerPass());
}

std::pair<std::string, std::string>
attn::resolveCpu(const CompileOptions &options) {
  std::string cpu = options.mcpu.empty() || options.mcpu == "native"
                        ? llvm::sys::getHostCPUName().str()
                        : options.mcpu;
  std::string features = options.mattr;
  if (options.mcpu.empty() || options.mcpu == "native") {
    std::string host;
    for (const auto &f : llvm::sys::getHostCPUFeatures()) {
      if (!host.empty())
        host += ",";
      host += (f.getValue() ? "+" : "-") + f.getKey().str();
    }
    features = features.empty() ? host : host + "," + features;
  }
  return {cpu, features};
}

bool attn::targetHasAvx512(const CompileOptions &options) {
  auto [cpu, features] = resolveCpu(options);
  // The CPU name implies features (--mcpu=znver4 has AVX-512 without any
  // --mattr): ask LLVM's subtarget tables, which also apply --mattr's -/+.
  llvm::InitializeNativeTarget();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  std::string error;
  if (const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error)) {
    std::unique_ptr<llvm::MCSubtargetInfo> sti(
        target->createMCSubtargetInfo(triple, cpu, features));
    if (sti)
      return sti->checkFeatures("+avx512f");
  }
  return features.find("+avx512f") != std::string::npos;
}

static std::string dtypeName(Type t) {
  if (t.isF32()) return "f32";
  if (t.isF64()) return "f64";
  if (t.isF16()) return "f16";
  if (t.isBF16()) return "bf16";
  if (t.isInteger(1)) return "bool";
  if (t.isUnsignedInteger(8)) return "u8";
  if (t.isInteger(8)) return "i8";
  if (t.isInteger(16)) return "i16";
  if (t.isInteger(32)) return "i32";
  if (t.isInteger(64)) return "i64";
  return "";
}

LogicalResult attn::finalizeSignature(ModuleOp module, StringRef entry,
                                      const CompileOptions &options) {
  llvm::json::Object sig;
  if (auto attr = module->getAttrOfType<StringAttr>("attn.signature")) {
    auto parsed = llvm::json::parse(attr.getValue());
    if (!parsed || !parsed->getAsObject()) {
      if (!parsed)
        llvm::consumeError(parsed.takeError());
      return module.emitError("attn.signature is not a JSON object");
    }
    sig = std::move(*parsed->getAsObject());
  } else {
    auto fn = module.lookupSymbol<func::FuncOp>(entry);
    if (!fn)
      return module.emitError("no function @") << entry << " to compile";
    auto describe = [&](TypeRange types, StringRef prefix) -> FailureOr<llvm::json::Array> {
      llvm::json::Array list;
      for (auto [i, t] : llvm::enumerate(types)) {
        auto rt = dyn_cast<RankedTensorType>(t);
        if (!rt || dtypeName(rt.getElementType()).empty())
          return fn.emitError("unsupported model ") << prefix << " type " << t;
        llvm::json::Array shape;
        for (int64_t d : rt.getShape())
          shape.push_back(ShapedType::isDynamic(d) ? llvm::json::Value("?")
                                                   : llvm::json::Value(d));
        list.push_back(llvm::json::Object{
            {"name", (prefix + std::to_string(i)).str()},
            {"dtype", dtypeName(rt.getElementType())},
            {"shape", std::move(shape)}});
      }
      return list;
    };
    auto ins = describe(fn.getArgumentTypes(), "input");
    auto outs = describe(fn.getResultTypes(), "output");
    if (failed(ins) || failed(outs))
      return failure();
    sig["inputs"] = std::move(*ins);
    sig["outputs"] = std::move(*outs);
  }
  sig["abi"] = 1;
  if (options.target == Target::CPU) {
    auto [cpu, features] = resolveCpu(options);
    sig["target"] = "cpu";
    sig["cpu"] = cpu;
    sig["features"] = features;
  } else {
    sig["target"] = "cuda";
    sig["arch"] = options.cudaArch;
  }
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::json::Value(std::move(sig));
  module->setAttr("attn.signature", StringAttr::get(module.getContext(), text));
  // Inputs are borrowed (runtime.h): bufferization must never write into
  // them. Only arguments a pass marked writable (the --kv-cache caches) are.
  if (auto fn = module.lookupSymbol<func::FuncOp>(entry)) {
    Builder b(module.getContext());
    for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i)
      if (!fn.getArgAttr(i, "bufferization.writable"))
        fn.setArgAttr(i, "bufferization.writable", b.getBoolAttr(false));
  }
  return success();
}

//===----------------------------------------------------------------------===//
// CUDA
//===----------------------------------------------------------------------===//

#ifndef ATTN_CUDA_TOOLKIT
#define ATTN_CUDA_TOOLKIT ""
#endif

bool attn::haveCudaToolkit() { return ATTN_CUDA_TOOLKIT[0] != '\0'; }

void attn::registerCudaCodegen(DialectRegistry &registry) {
  // Kernel serialization translates NVVM to LLVM IR and runs ptxas.
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
}

void attn::buildCudaLoweringPipeline(OpPassManager &pm, const CompileOptions &options) {

  // 1. attn.attention -> flash-attention gpu.launch; the rest -> linalg.
  GpuLowerAttentionPassOptions attention;
  attention.tensorCores = options.gpuTensorCores;
  pm.addPass(createGpuLowerAttentionPass(attention)); // -> placeholder calls
  pm.addPass(createGpuLowerLayerNormPass());           // -> placeholder calls
  pm.addNestedPass<func::FuncOp>(createLowerAttnToLinalgPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // Chains of elementwise generics -> one kernel each.
  pm.addNestedPass<func::FuncOp>(createGpuFuseElementwisePass());
  pm.addPass(createCanonicalizerPass());

  // 2. Bufferize as for the CPU; every buffer will live on the device.
  addPipeline(pm, "one-shot-bufferize{bufferize-function-boundaries=1 allow-return-allocs-from-loops=1 "
                  "function-boundary-type-conversion=identity-layout-map}");
  addPipeline(pm, "func.func(buffer-hoisting,buffer-loop-hoisting)");
  addPipeline(pm, "buffer-deallocation-pipeline");
  addPipeline(pm, "convert-bufferization-to-memref");

  // 3. Loops -> kernels: every outermost parallel loop becomes a gpu.launch,
  // then each launch is outlined into a gpu.module of its own.
  pm.addPass(createGpuLowerAttentionPass(attention)); // placeholder calls -> kernels
  pm.addPass(createGpuLowerLayerNormPass());           // placeholder calls -> kernels
  pm.addNestedPass<func::FuncOp>(createLowerMemrefCopyPass());
  pm.addNestedPass<func::FuncOp>(createExpandDynamicReshapesPass());
  GpuTileMatmulPassOptions matmul;
  matmul.tensorCores = options.gpuTensorCores;
  pm.addNestedPass<func::FuncOp>(createGpuTileMatmulPass(matmul)); // matmuls: tiled kernels
  pm.addNestedPass<func::FuncOp>(createGpuParallelFlagReductionsPass()); // index checks
  addPipeline(pm, "func.func(convert-linalg-to-parallel-loops)");
  pm.addNestedPass<func::FuncOp>(createGpuMapParallelLoopsPass());
  addPipeline(pm, "gpu-kernel-outlining");

  // 4. Device code: NVVM, then cubin (ptxas) + PTX.
  addPipeline(pm, "nvvm-attach-target{chip=" + options.cudaArch + " O=3}");
  addPipeline(pm, "gpu.module(expand-strided-metadata,lower-affine,convert-scf-to-cf,"
                  "convert-gpu-to-nvvm,canonicalize,cse,reconcile-unrealized-casts)");
  GpuSerializePassOptions serialize;
  serialize.toolkitPath = ATTN_CUDA_TOOLKIT;
  pm.addPass(createGpuSerializePass(serialize));

  // 5. Host code: LLVM dialect, launches and buffers through the runtime.
  addPipeline(pm, "convert-scf-to-cf,expand-strided-metadata,lower-affine,"
                  "finalize-memref-to-llvm{use-generic-functions=1},convert-math-to-llvm,convert-arith-to-llvm,"
                  "convert-index-to-llvm,convert-cf-to-llvm,convert-func-to-llvm,gpu-to-llvm,"
                  "reconcile-unrealized-casts");
  pm.addPass(createGpuLowerHostPass());
  pm.addPass(createEmitModelEntryPointPass());
  pm.addPass(createCanonicalizerPass());
}
