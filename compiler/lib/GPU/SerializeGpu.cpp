//===- SerializeGpu.cpp - gpu.module -> gpu.binary with cubin and PTX -----===//
//
// Like gpu-module-to-binary, but every module is serialized twice with its
// (NVVM) target: as a cubin (ptxas from the CUDA toolkit) for the chosen
// arch and as PTX, which the driver JIT-compiles on newer devices. The
// gpu.binary holds both objects, cubin first.
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Passes.h"

#include "mlir/Dialect/GPU/IR/CompilationInterfaces.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::attn {
#define GEN_PASS_DEF_GPUSERIALIZEPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {

struct GpuSerializePass : attn::impl::GpuSerializePassBase<GpuSerializePass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUModuleOp> gpuModules(module.getOps<gpu::GPUModuleOp>());
    for (gpu::GPUModuleOp gm : gpuModules) {
      ArrayAttr targets = gm.getTargetsAttr();
      if (!targets || targets.size() != 1) {
        gm.emitError("attn-gpu-serialize: expected exactly one target on the gpu.module");
        return signalPassFailure();
      }
      auto target = dyn_cast<gpu::TargetAttrInterface>(targets[0]);
      if (!target) {
        gm.emitError("attn-gpu-serialize: the target is not serializable");
        return signalPassFailure();
      }
      SmallVector<Attribute> objects;
      for (gpu::CompilationTarget kind :
           {gpu::CompilationTarget::Binary, gpu::CompilationTarget::Assembly}) {
        std::optional<SymbolTable> parentTable;
        auto symbolTable = [&]() -> SymbolTable * {
          if (!parentTable)
            parentTable.emplace(module);
          return &*parentTable;
        };
        gpu::TargetOptions options(toolkitPath, {}, ptxasOptions, "", kind, symbolTable);
        std::optional<SmallVector<char, 0>> blob = target.serializeToObject(gm, options);
        if (!blob) {
          gm.emitError("attn-gpu-serialize: cannot produce the ")
              << (kind == gpu::CompilationTarget::Binary ? "cubin (ptxas)" : "PTX")
              << " of GPU module '" << gm.getName() << "'";
          return signalPassFailure();
        }
        Attribute object = target.createObject(gm, *blob, options);
        if (!object) {
          gm.emitError("attn-gpu-serialize: cannot create the GPU object");
          return signalPassFailure();
        }
        objects.push_back(object);
      }
      OpBuilder b(gm);
      gpu::BinaryOp::create(b, gm.getLoc(), gm.getName(), Attribute(),
                              b.getArrayAttr(objects));
      gm.erase();
    }
  }
};

} // namespace
