//===- EmitLibrary.cpp - LLVM IR, machine code and the shared library -----===//
#include "attn/Compiler/Pipeline.h"

#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/OptimizationLevel.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;
using namespace mlir::attn;

static std::unique_ptr<llvm::TargetMachine>
createTargetMachine(const CompileOptions &options, std::string &error) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return nullptr;
  auto [cpu, features] = resolveCpu(options);
  llvm::TargetOptions to;
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(
      triple, cpu, features, to, llvm::Reloc::PIC_, std::nullopt,
      options.optLevel >= 2 ? llvm::CodeGenOptLevel::Aggressive
                            : llvm::CodeGenOptLevel::Default));
  if (!tm)
    error = "cannot create a target machine for " + triple.str() + " / " + cpu;
  return tm;
}

std::unique_ptr<llvm::Module>
attn::translateToOptimizedLLVMIR(ModuleOp module, llvm::LLVMContext &llvmContext,
                                 const CompileOptions &options) {
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerOpenMPDialectTranslation(registry);
  module->getContext()->appendDialectRegistry(registry);

  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext, "attn_model");
  if (!llvmModule) {
    module.emitError("failed to translate the LLVM dialect module to LLVM IR");
    return nullptr;
  }
  std::string error;
  auto tm = createTargetMachine(options, error);
  if (!tm) {
    module.emitError(error);
    return nullptr;
  }
  llvmModule->setDataLayout(tm->createDataLayout());
  llvmModule->setTargetTriple(tm->getTargetTriple());
  // Every function gets the target's CPU and features so that the inliner
  // and the vectorizer see the real vector width.
  auto [cpu, features] = resolveCpu(options);
  for (llvm::Function &f : *llvmModule) {
    if (f.isDeclaration())
      continue;
    f.addFnAttr("target-cpu", cpu);
    f.addFnAttr("target-features", features);
  }

  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions pto;
  pto.LoopVectorization = options.optLevel >= 2;
  pto.SLPVectorization = options.optLevel >= 2;
  llvm::PassBuilder pb(tm.get(), pto);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::OptimizationLevel level = options.optLevel >= 3   ? llvm::OptimizationLevel::O3
                                  : options.optLevel == 2 ? llvm::OptimizationLevel::O2
                                  : options.optLevel == 1 ? llvm::OptimizationLevel::O1
                                                          : llvm::OptimizationLevel::O0;
  llvm::ModulePassManager mpm = level == llvm::OptimizationLevel::O0
                                    ? pb.buildO0DefaultPipeline(level)
                                    : pb.buildPerModuleDefaultPipeline(level);
  mpm.run(*llvmModule, mam);
  return llvmModule;
}

LogicalResult attn::emitMachineCode(llvm::Module &module, StringRef path,
                                    bool assembly, const CompileOptions &options,
                                    std::string &error) {
  auto tm = createTargetMachine(options, error);
  if (!tm)
    return failure();
  std::error_code ec;
  llvm::ToolOutputFile out(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    error = "cannot open '" + path.str() + "': " + ec.message();
    return failure();
  }
  llvm::legacy::PassManager pm;
  if (tm->addPassesToEmitFile(pm, out.os(), nullptr,
                              assembly ? llvm::CodeGenFileType::AssemblyFile
                                       : llvm::CodeGenFileType::ObjectFile)) {
    error = "the target cannot emit this file type";
    return failure();
  }
  pm.run(module);
  out.keep();
  return success();
}

LogicalResult attn::linkSharedLibrary(StringRef objectPath, StringRef outputPath,
                                      std::string &error) {
  std::string driver = ATTN_LINKER_DRIVER;
  if (!llvm::sys::fs::can_execute(driver)) {
    auto found = llvm::sys::findProgramByName("cc");
    if (!found) {
      error = "no linker driver found (looked for " + driver + " and cc)";
      return failure();
    }
    driver = *found;
  }
  // Only the ABI symbols are exported (everything else is internal already);
  // -lm covers math functions without a polynomial approximation.
  // Parallel loops use LLVM's OpenMP runtime (libomp); the rpath lets the
  // model load with no LD_LIBRARY_PATH. It is a DT_RPATH, not a DT_RUNPATH
  // (--disable-new-dtags): the loader then prefers it to LD_LIBRARY_PATH,
  // so an unrelated libomp.so.5 there (conda, another toolchain) cannot
  // replace the one the model was linked against. (Debian's LLVM 22 ships no
  // libomp of its own: libomp-22-dev's libomp.so.5 is a symlink to LLVM 19's,
  // package libomp5-19; test/runtime/libomp.test checks the model maps it.)
  // ModelSupport.c (a static archive built with attnc) provides the
  // allocation hooks and attn_model_run_ex.
  SmallVector<StringRef> args{driver, "-shared", "-o", outputPath, objectPath,
                              ATTN_MODEL_SUPPORT_LIB,
                              "-Wl,-z,noexecstack", "-L" ATTN_OPENMP_LIB_DIR,
                              "-Wl,--disable-new-dtags",
                              "-Wl,-rpath," ATTN_OPENMP_LIB_DIR, "-lomp", "-lm"};
  std::string msg;
  int rc = llvm::sys::ExecuteAndWait(driver, args, std::nullopt, {}, 0, 0, &msg);
  if (rc != 0) {
    error = "linking '" + outputPath.str() + "' with " + driver + " failed" +
            (msg.empty() ? "" : ": " + msg);
    return failure();
  }
  return success();
}
