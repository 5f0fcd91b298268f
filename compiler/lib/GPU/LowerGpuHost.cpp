//===- LowerGpuHost.cpp - host side of a CUDA model -> runtime calls ------===//
//
// Runs on the LLVM-dialect host module (after gpu-to-llvm), where kernels are
// gpu.binary ops (cubin + PTX objects) and launches are gpu.launch_func with
// LLVM-typed operands. Debian ships no libmlir_cuda_runtime, and the model
// library must not depend on one, so the host code calls the attn_cuda_*
// functions of attn/abi.h instead:
//
//   gpu.binary @m          -> constant globals @__attn_gpu_m_cubin / _ptx
//   gpu.launch_func @m::@k -> params packed on the stack,
//                             attn_cuda_launch(cubin, size, ptx, "k", grid,
//                                              block, smem, params)
//   malloc / free          -> attn_cuda_malloc / attn_cuda_free (every
//                             buffer of a CUDA model lives on the device)
//   addressof @constant    -> attn_cuda_constant(addr, bytes) (weights are
//                             uploaded once and cached by the runtime)
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Passes.h"

#include "mlir/Dialect/GPU/IR/CompilationInterfaces.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Interfaces/DataLayoutInterfaces.h"

namespace mlir::attn {
#define GEN_PASS_DEF_GPULOWERHOSTPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;

namespace {

struct KernelImage {
  LLVM::GlobalOp cubin, ptx;
  int64_t cubinSize = 0;
};

struct GpuLowerHostPass : attn::impl::GpuLowerHostPassBase<GpuLowerHostPass> {
  using Base::Base;

  LLVM::LLVMFuncOp declare(OpBuilder &b, ModuleOp module, StringRef name, Type result,
                           ArrayRef<Type> args) {
    if (auto f = module.lookupSymbol<LLVM::LLVMFuncOp>(name))
      return f;
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToEnd(module.getBody());
    return LLVM::LLVMFuncOp::create(b, module.getLoc(), name,
                                      LLVM::LLVMFunctionType::get(result, args));
  }

  LLVM::GlobalOp byteGlobal(OpBuilder &b, ModuleOp module, StringRef name, StringRef bytes,
                            bool nulTerminate) {
    std::string data = bytes.str();
    if (nulTerminate)
      data.push_back('\0');
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(module.getBody());
    auto type = LLVM::LLVMArrayType::get(b.getI8Type(), data.size());
    auto global = LLVM::GlobalOp::create(b, module.getLoc(), type, /*isConstant=*/true,
                                           LLVM::Linkage::Internal, name,
                                           b.getStringAttr(data), /*alignment=*/16);
    return global;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    OpBuilder b(ctx);
    auto ptrT = LLVM::LLVMPointerType::get(ctx);
    auto i64 = b.getI64Type(), i32 = b.getI32Type();
    auto voidT = LLVM::LLVMVoidType::get(ctx);

    // Tensor constants (dense data), before any global of ours exists.
    DenseSet<StringAttr> tensorGlobals;
    for (auto g : module.getOps<LLVM::GlobalOp>())
      if (g.getConstant() && isa_and_nonnull<ElementsAttr>(g.getValueOrNull()))
        tensorGlobals.insert(g.getSymNameAttr());

    // 1. Kernel images.
    llvm::StringMap<KernelImage> images;
    SmallVector<gpu::BinaryOp> binaries(module.getOps<gpu::BinaryOp>());
    for (gpu::BinaryOp bin : binaries) {
      KernelImage image;
      for (Attribute a : bin.getObjects()) {
        auto object = cast<gpu::ObjectAttr>(a);
        std::string base = ("__attn_gpu_" + bin.getName()).str();
        if (object.getFormat() == gpu::CompilationTarget::Binary && !image.cubin) {
          image.cubin = byteGlobal(b, module, base + "_cubin", object.getObject().getValue(),
                                   false);
          image.cubinSize = object.getObject().getValue().size();
        } else if (object.getFormat() == gpu::CompilationTarget::Assembly && !image.ptx) {
          image.ptx = byteGlobal(b, module, base + "_ptx", object.getObject().getValue(), true);
        }
      }
      if (!image.cubin || !image.ptx) {
        bin.emitError("attn-gpu-lower-host: gpu.binary @")
            << bin.getName() << " needs a cubin and a PTX object";
        return signalPassFailure();
      }
      images[bin.getName()] = image;
    }

    auto launchFn = declare(b, module, "attn_cuda_launch", voidT,
                            {ptrT, i64, ptrT, ptrT, i64, i64, i64, i64, i64, i64, i32, ptrT});

    // 2. Launches.
    SmallVector<gpu::LaunchFuncOp> launches;
    module.walk([&](gpu::LaunchFuncOp l) { launches.push_back(l); });
    llvm::StringMap<LLVM::GlobalOp> kernelNames;
    for (gpu::LaunchFuncOp launch : launches) {
      Location loc = launch.getLoc();
      StringRef moduleName = launch.getKernelModuleName().getValue();
      StringRef kernelName = launch.getKernelName().getValue();
      auto it = images.find(moduleName);
      if (it == images.end()) {
        launch.emitError("attn-gpu-lower-host: no gpu.binary @") << moduleName;
        return signalPassFailure();
      }
      if (launch.getAsyncToken() || !launch.getAsyncDependencies().empty() ||
          launch.hasClusterSize()) {
        launch.emitError("attn-gpu-lower-host: async or clustered launches are not supported");
        return signalPassFailure();
      }
      std::string key = (moduleName + "::" + kernelName).str();
      LLVM::GlobalOp &nameGlobal = kernelNames[key];
      if (!nameGlobal)
        nameGlobal = byteGlobal(b, module,
                                ("__attn_gpu_" + moduleName + "_" + kernelName + "_name").str(),
                                kernelName, true);

      auto fn = launch->getParentOfType<LLVM::LLVMFuncOp>();
      if (!fn) {
        launch.emitError("attn-gpu-lower-host: launch outside an llvm.func");
        return signalPassFailure();
      }
      ValueRange args = launch.getKernelOperands();
      SmallVector<Type> argTypes;
      for (Value v : args)
        argTypes.push_back(v.getType());
      Value params;
      {
        // Stack slots at function entry, so loops do not grow the stack.
        OpBuilder eb(ctx);
        eb.setInsertionPointToStart(&fn.getBody().front());
        Value one = LLVM::ConstantOp::create(eb, loc, i64, eb.getI64IntegerAttr(1));
        if (!args.empty()) {
          auto structT = LLVM::LLVMStructType::getLiteral(ctx, argTypes);
          auto arrT = LLVM::LLVMArrayType::get(ptrT, args.size());
          Value slots = LLVM::AllocaOp::create(eb, loc, ptrT, structT, one, 8);
          params = LLVM::AllocaOp::create(eb, loc, ptrT, arrT, one, 8);
          b.setInsertionPoint(launch);
          for (auto [i, v] : llvm::enumerate(args)) {
            Value field = LLVM::GEPOp::create(b,
                loc, ptrT, structT, slots,
                ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
            LLVM::StoreOp::create(b, loc, v, field);
            Value slot = LLVM::GEPOp::create(b, loc, ptrT, arrT, params,
                                               ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
            LLVM::StoreOp::create(b, loc, field, slot);
          }
        }
      }
      b.setInsertionPoint(launch);
      if (!params)
        params = LLVM::ZeroOp::create(b, loc, ptrT);
      const KernelImage &image = it->second;
      Value cubin = LLVM::AddressOfOp::create(b, loc, image.cubin);
      Value size = LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(image.cubinSize));
      Value ptx = LLVM::AddressOfOp::create(b, loc, image.ptx);
      Value name = LLVM::AddressOfOp::create(b, loc, nameGlobal);
      auto toI64 = [&](Value v) -> Value {
        if (v.getType() == i64)
          return v;
        return LLVM::ZExtOp::create(b, loc, i64, v);
      };
      gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
      gpu::KernelDim3 block = launch.getBlockSizeOperandValues();
      Value smem = launch.getDynamicSharedMemorySize();
      if (!smem)
        smem = LLVM::ConstantOp::create(b, loc, i32, b.getI32IntegerAttr(0));
      LLVM::CallOp::create(b, loc, launchFn,
                             ValueRange{cubin, size, ptx, name, toI64(grid.x), toI64(grid.y),
                                        toI64(grid.z), toI64(block.x), toI64(block.y),
                                        toI64(block.z), smem, params});
      launch.erase();
    }
    for (gpu::BinaryOp bin : binaries)
      bin.erase();

    // 3. Buffers live on the device.
    auto mallocFn = declare(b, module, "attn_cuda_malloc", ptrT, {i64});
    auto freeFn = declare(b, module, "attn_cuda_free", voidT, {ptrT});
    auto constFn = declare(b, module, "attn_cuda_constant", ptrT, {ptrT, i64});
    bool bad = false;
    module.walk([&](LLVM::CallOp call) {
      std::optional<StringRef> callee = call.getCallee();
      if (!callee)
        return;
      if (*callee == "malloc")
        call.setCallee(mallocFn.getSymName());
      else if (*callee == "free")
        call.setCallee(freeFn.getSymName());
      else if (*callee == "aligned_alloc" || *callee == "calloc" || *callee == "realloc") {
        call.emitError("attn-gpu-lower-host: host allocation '") << *callee << "' in a CUDA model";
        bad = true;
      }
    });
    if (bad)
      return signalPassFailure();
    for (StringRef dead : {"malloc", "free"})
      if (auto f = module.lookupSymbol<LLVM::LLVMFuncOp>(dead))
        if (SymbolTable::symbolKnownUseEmpty(f, module))
          f.erase();

    // 4. Tensor constants: the device copy replaces the host address.
    SmallVector<LLVM::AddressOfOp> addrs;
    module.walk([&](LLVM::AddressOfOp a) {
      if (tensorGlobals.contains(a.getGlobalNameAttr().getAttr()))
        addrs.push_back(a);
    });
    for (LLVM::AddressOfOp a : addrs) {
      auto global = module.lookupSymbol<LLVM::GlobalOp>(a.getGlobalNameAttr());
      DataLayout layout = DataLayout::closest(a);
      int64_t bytes = layout.getTypeSize(global.getGlobalType());
      b.setInsertionPointAfter(a);
      Value n = LLVM::ConstantOp::create(b, a.getLoc(), i64, b.getI64IntegerAttr(bytes));
      auto call = LLVM::CallOp::create(b, a.getLoc(), constFn, ValueRange{a.getResult(), n});
      a.getResult().replaceAllUsesExcept(call.getResult(), call);
    }
    module->removeAttr(gpu::GPUDialect::getContainerModuleAttrName());
  }
};

} // namespace
