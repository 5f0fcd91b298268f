//===- attnc.cpp - the attnc compiler driver ------------------------------===//
//
//   attnc MODEL -o OUT [--emit=attn|mlir|llvm|asm|obj|lib]
//                      [--target=cpu|cuda[:sm_80|sm_90]] [--mcpu=..] [--mattr=..]
//
// MODEL is .onnx, .onnxtext or .mlir (attn dialect). The stages:
//   import -> graph passes (--emit=attn) -> target lowering (--emit=mlir,
//   the LLVM dialect) -> LLVM IR (--emit=llvm) -> asm/obj -> shared library.
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Frontend/OnnxImporter.h"
#include "attn/Compiler/Passes.h"
#include "attn/Compiler/Statistics.h"
#include "attn/Compiler/Pipeline.h"
#include "attn/Dialect/AttnDialect.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

using namespace mlir;
using namespace mlir::attn;
namespace cl = llvm::cl;

static cl::opt<std::string> inputFilename(cl::Positional, cl::desc("<model.onnx|.onnxtext|.mlir>"),
                                          cl::Required);
static cl::opt<std::string> outputFilename("o", cl::desc("Output file ('-' for stdout)"),
                                           cl::value_desc("file"), cl::Required);

enum class Emit { Attn, Mlir, Llvm, Asm, Obj, Lib };
static cl::opt<Emit> emitKind(
    "emit", cl::desc("What to produce"), cl::init(Emit::Lib),
    cl::values(clEnumValN(Emit::Attn, "attn", "attn dialect after the graph passes"),
               clEnumValN(Emit::Mlir, "mlir", "the lowered module (LLVM dialect + ABI)"),
               clEnumValN(Emit::Llvm, "llvm", "optimized LLVM IR"),
               clEnumValN(Emit::Asm, "asm", "target assembly"),
               clEnumValN(Emit::Obj, "obj", "an object file"),
               clEnumValN(Emit::Lib, "lib", "a shared library (default)")));
static cl::opt<std::string> targetName("target", cl::desc("cpu (default) or cuda[:sm_80|sm_90]"),
                                       cl::init("cpu"));
static cl::opt<std::string> mcpu(
    "mcpu",
    cl::desc("Target CPU, e.g. x86-64-v3 or znver4 (default: the environment variable "
             "ATTNC_MCPU when set, else the host CPU)"),
    cl::init(""));
static cl::opt<std::string> mattr("mattr", cl::desc("Target features, e.g. +avx2,+fma"),
                                  cl::init(""));
static cl::opt<bool> inputsOverrideInitializers(
    "inputs-override-initializers",
    cl::desc("Graph inputs that also have an initializer (their default value) become "
             "inputs of the compiled model (default: compiled as constants, with a warning)"),
    cl::init(false));
static cl::opt<std::string> dumpDir("dump-ir", cl::desc("Write the IR after every pass to DIR/NN-<pass>.mlir"),
                                    cl::value_desc("DIR"), cl::init(""));
static cl::opt<bool> remarks("remarks", cl::desc("Report every softmax left unfused, and why"),
                             cl::init(false));
static cl::opt<int64_t> queryTile("attention-query-tile", cl::desc("Query rows per attention tile"),
                                  cl::init(48));
static cl::opt<int64_t> keyTile("attention-key-tile", cl::desc("Key rows per attention tile"),
                                cl::init(128));
static cl::opt<bool> dumpWeights(
    "dump-ir-weights",
    cl::desc("With --dump-ir: keep the weight blobs in every dump (else elided past 1 KiB)"),
    cl::init(false));
static cl::opt<bool> gpuTensorCores(
    "gpu-tensor-cores",
    cl::desc("--target=cuda: f16/bf16 attention on tensor cores (mma.sync); =false: SIMT kernel"),
    cl::init(true));
static cl::opt<unsigned> optLevel("O", cl::desc("LLVM optimization level"), cl::init(3), cl::Prefix);

namespace {
/// Writes the module after every pass to DIR/NN-<pass-argument>.mlir.
struct DumpIRInstrumentation : PassInstrumentation {
  DumpIRInstrumentation(std::string dir, int &counter)
      : dir(std::move(dir)), counter(counter) {}
  void runAfterPass(Pass *pass, Operation *op) override {
    if (pass->getArgument().empty())
      return; // pass-manager adaptors
    Operation *top = op;
    while (top->getParentOp())
      top = top->getParentOp();
    SmallString<256> path(dir);
    std::string name = (counter < 10 ? "0" : "") + std::to_string(counter) + "-" +
                       pass->getArgument().str() + ".mlir";
    ++counter;
    llvm::sys::path::append(path, name);
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    if (ec) {
      if (!failedWrite) // once, not after every pass; the compile then fails
        llvm::WithColor::error(llvm::errs(), "attnc")
            << "cannot write '" << path << "': " << ec.message() << "\n";
      failedWrite = true;
      return;
    }
    OpPrintingFlags flags;
    if (!dumpWeights)
      flags.elideLargeResourceString(1024);
    top->print(os, flags);
  }
  std::string dir;
  int &counter; // shared by the graph and lowering pass managers
  static inline bool failedWrite = false;
};

/// The output path is checked before compiling: its folder must exist and
/// the path must not be a folder (else the link would fail at the end with
/// the linker's own messages).
static bool checkOutputPath(StringRef path) {
  if (path == "-")
    return true;
  if (llvm::sys::fs::is_directory(path)) {
    llvm::WithColor::error(llvm::errs(), "attnc")
        << "cannot write '" << path << "': it is a directory\n";
    return false;
  }
  SmallString<256> dir(path);
  llvm::sys::path::remove_filename(dir);
  if (dir.empty())
    dir = ".";
  if (!llvm::sys::fs::is_directory(dir)) {
    llvm::WithColor::error(llvm::errs(), "attnc")
        << "cannot write '" << path << "': directory '" << dir << "' does not exist\n";
    return false;
  }
  if (llvm::sys::fs::access(dir, llvm::sys::fs::AccessMode::Write)) {
    llvm::WithColor::error(llvm::errs(), "attnc")
        << "cannot write '" << path << "': directory '" << dir << "' is not writable\n";
    return false;
  }
  return true;
}

/// Prints diagnostics as `attnc: error: node 'X': message`, naming the ONNX
/// node (the op's NameLoc) or the file position for .mlir inputs.
void describeLocation(Location loc, llvm::raw_ostream &os) {
  if (auto name = dyn_cast<NameLoc>(loc)) {
    os << "node '" << name.getName().getValue() << "'";
    return;
  }
  if (auto file = dyn_cast<FileLineColLoc>(loc)) {
    os << file.getFilename().getValue() << ":" << file.getLine() << ":" << file.getColumn();
    return;
  }
  if (auto fused = dyn_cast<FusedLoc>(loc)) {
    llvm::interleave(fused.getLocations(), os,
                     [&](Location l) { describeLocation(l, os); }, ", ");
    return;
  }
  if (auto callsite = dyn_cast<CallSiteLoc>(loc))
    return describeLocation(callsite.getCallee(), os);
  os << "<unknown location>";
}
} // namespace

/// Set while the pass pipelines and code generation run: an op verifier
/// message then means the compiler built invalid IR (a bug), not bad input.
static bool inPipeline = false;
/// Error diagnostics printed so far.
static unsigned numErrors = 0;

/// Whether `msg` has the form of an MLIR op diagnostic: "'dialect.op' op ...".
static bool isOpDiagnostic(StringRef msg) {
  if (!msg.consume_front("'"))
    return false;
  size_t end = msg.find('\'');
  if (end == StringRef::npos || end == 0)
    return false;
  StringRef name = msg.take_front(end);
  return name.contains('.') &&
         llvm::all_of(name, [](char c) { return llvm::isAlnum(c) || c == '_' || c == '.'; }) &&
         msg.drop_front(end).starts_with("' op ");
}

static void printDiagnostic(Diagnostic &diag) {
  const char *sev = "error";
  llvm::raw_ostream::Colors color = llvm::raw_ostream::RED;
  switch (diag.getSeverity()) {
  case DiagnosticSeverity::Error: break;
  case DiagnosticSeverity::Warning: sev = "warning"; color = llvm::raw_ostream::MAGENTA; break;
  case DiagnosticSeverity::Remark: sev = "remark"; color = llvm::raw_ostream::BLUE; break;
  case DiagnosticSeverity::Note: sev = "note"; color = llvm::raw_ostream::BLACK; break;
  }
  std::string text = diag.str();
  bool internal = diag.getSeverity() == DiagnosticSeverity::Error && inPipeline &&
                  isOpDiagnostic(text);
  if (diag.getSeverity() == DiagnosticSeverity::Error) {
    ++numErrors;
    if (internal)
      sev = "internal error";
  }
  auto &os = llvm::errs();
  os << "attnc: ";
  llvm::WithColor(os, color, true) << sev << ": ";
  if (!isa<UnknownLoc>(diag.getLocation())) {
    describeLocation(diag.getLocation(), os);
    os << ": ";
  }
  os << text << (internal ? " (please report)" : "") << "\n";
  for (Diagnostic &note : diag.getNotes())
    printDiagnostic(note);
}

static OwningOpRef<ModuleOp> loadModel(MLIRContext &ctx) {
  StringRef ext = llvm::sys::path::extension(inputFilename);
  if (ext == ".mlir") {
    std::string err;
    auto file = openInputFile(inputFilename, &err);
    if (!file) {
      emitError(UnknownLoc::get(&ctx)) << "cannot open '" << inputFilename << "': " << err;
      return nullptr;
    }
    llvm::SourceMgr sm;
    sm.AddNewSourceBuffer(std::move(file), SMLoc());
    return parseSourceFile<ModuleOp>(sm, &ctx);
  }
  if (ext != ".onnx" && ext != ".onnxtext") {
    emitError(UnknownLoc::get(&ctx))
        << "'" << inputFilename << "': unknown model kind (expected .onnx, .onnxtext or .mlir)";
    return nullptr;
  }
  OnnxImportOptions importOptions;
  importOptions.inputsOverrideInitializers = inputsOverrideInitializers;
  return importOnnxFile(ctx, inputFilename, importOptions);
}

/// A pipeline stage failed: when it said nothing, say that it failed.
static int stageFailed(unsigned errorsBefore, StringRef stage) {
  if (numErrors == errorsBefore)
    llvm::WithColor(llvm::errs(), llvm::raw_ostream::RED, true)
        << "attnc: internal error: " << stage << " failed without a message (please report)\n";
  return 1;
}

/// Checks --mcpu and --mattr against the host target's CPU and feature
/// tables (a typo would otherwise end in an LLVM fatal error).
static bool validateTargetFlags(StringRef cpu, StringRef attrs) {
  llvm::InitializeNativeTarget();
  std::string error;
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target) {
    llvm::WithColor::error(llvm::errs(), "attnc") << "no target for " << triple.str() << ": "
                                                  << error << "\n";
    return false;
  }
  std::unique_ptr<llvm::MCSubtargetInfo> sti(target->createMCSubtargetInfo(triple, "", ""));
  if (!sti)
    return true; // nothing to check against
  if (!cpu.empty() && cpu != "native" && !sti->isCPUStringValid(cpu)) {
    llvm::WithColor::error(llvm::errs(), "attnc")
        << "unknown CPU '" << cpu << "' for " << triple.str()
        << " (e.g. x86-64-v3, znver4, native)\n";
    return false;
  }
  SmallVector<StringRef> features;
  attrs.split(features, ',', -1, /*KeepEmpty=*/false);
  for (StringRef f : features) {
    f = f.trim();
    if (f.empty())
      continue;
    StringRef name = f;
    if (!name.consume_front("+") && !name.consume_front("-")) {
      llvm::WithColor::error(llvm::errs(), "attnc")
          << "target feature '" << f << "' must start with '+' or '-' (e.g. +avx2)\n";
      return false;
    }
    bool known = llvm::any_of(sti->getAllProcessorFeatures(),
                              [&](const llvm::SubtargetFeatureKV &kv) { return name == kv.Key; });
    if (!known) {
      llvm::WithColor::error(llvm::errs(), "attnc")
          << "unknown target feature '" << name << "' for " << triple.str() << "\n";
      return false;
    }
  }
  return true;
}

static int runCompile(MLIRContext &ctx, const CompileOptions &options);
static int run(MLIRContext &ctx, const CompileOptions &options) {
  if (!checkOutputPath(outputFilename))
    return 1;
  int rc = runCompile(ctx, options);
  return rc == 0 && DumpIRInstrumentation::failedWrite ? 1 : rc;
}
static int runCompile(MLIRContext &ctx, const CompileOptions &options) {
  OwningOpRef<ModuleOp> module = loadModel(ctx);
  if (!module)
    return 1;
  if (failed(verify(*module)))
    return 1;

  int dumpCounter = 0;
  PassManager pm(&ctx);
  if (failed(applyPassManagerCLOptions(pm)))
    return 1;
  applyDefaultTimingPassManagerCLOptions(pm);
  if (!dumpDir.empty()) {
    if (auto ec = llvm::sys::fs::create_directories(dumpDir)) {
      emitError(UnknownLoc::get(&ctx)) << "cannot create '" << dumpDir << "': " << ec.message();
      return 1;
    }
    ctx.disableMultithreading();
    pm.addInstrumentation(std::make_unique<DumpIRInstrumentation>(dumpDir, dumpCounter));
  }

  buildGraphPipeline(pm, options);
  unsigned errorsBefore = numErrors;
  inPipeline = true;
  if (failed(pm.run(*module)))
    return stageFailed(errorsBefore, "the graph pass pipeline");

  auto openOutput = [&]() -> std::unique_ptr<llvm::ToolOutputFile> {
    std::string err;
    auto out = openOutputFile(outputFilename, &err);
    if (!out)
      emitError(UnknownLoc::get(&ctx)) << err;
    return out;
  };
  if (emitKind == Emit::Attn) {
    auto out = openOutput();
    if (!out)
      return 1;
    module->print(out->os());
    out->keep();
    return 0;
  }

  if (options.target == Target::CUDA && !haveCudaToolkit()) {
    emitError(module->getLoc())
        << "--target=cuda: this attnc was built without the CUDA toolkit (no ptxas found)";
    return 1;
  }
  if (failed(finalizeSignature(*module, "main_graph", options)))
    return 1;
  PassManager lower(&ctx);
  if (failed(applyPassManagerCLOptions(lower)))
    return 1;
  applyDefaultTimingPassManagerCLOptions(lower);
  if (!dumpDir.empty())
    lower.addInstrumentation(std::make_unique<DumpIRInstrumentation>(dumpDir, dumpCounter));
  if (options.target == Target::CUDA)
    buildCudaLoweringPipeline(lower, options);
  else
    buildCpuLoweringPipeline(lower, options);
  errorsBefore = numErrors;
  if (failed(lower.run(*module)))
    return stageFailed(errorsBefore, "the lowering pass pipeline");
  // CUDA: --emit=asm is the kernels' PTX, --emit=obj their cubin (one GPU
  // module per model, embedded in the host code as constant globals).
  if (options.target == Target::CUDA && (emitKind == Emit::Asm || emitKind == Emit::Obj)) {
    StringRef suffix = emitKind == Emit::Asm ? "_ptx" : "_cubin";
    std::string data;
    for (auto g : module->getOps<LLVM::GlobalOp>()) {
      if (!g.getSymName().starts_with("__attn_gpu_") || !g.getSymName().ends_with(suffix))
        continue;
      if (auto str = dyn_cast_or_null<StringAttr>(g.getValueOrNull())) {
        StringRef bytes = str.getValue();
        if (emitKind == Emit::Asm)
          bytes = bytes.rtrim('\0');
        data += bytes.str();
      }
    }
    if (emitKind == Emit::Obj && outputFilename == "-") {
      emitError(UnknownLoc::get(&ctx)) << "--emit=obj cannot write to stdout";
      return 1;
    }
    auto out = openOutput();
    if (!out)
      return 1;
    out->os() << data;
    out->keep();
    return 0;
  }
  if (emitKind == Emit::Mlir) {
    auto out = openOutput();
    if (!out)
      return 1;
    module->print(out->os());
    out->keep();
    return 0;
  }

  llvm::LLVMContext llvmContext;
  errorsBefore = numErrors;
  auto llvmModule = translateToOptimizedLLVMIR(*module, llvmContext, options);
  if (!llvmModule)
    return stageFailed(errorsBefore, "the translation to LLVM IR");
  if (emitKind == Emit::Llvm) {
    auto out = openOutput();
    if (!out)
      return 1;
    llvmModule->print(out->os(), nullptr);
    out->keep();
    return 0;
  }
  std::string error;
  if (emitKind == Emit::Asm || emitKind == Emit::Obj) {
    if (emitKind == Emit::Obj && outputFilename == "-") {
      emitError(UnknownLoc::get(&ctx)) << "--emit=obj cannot write to stdout";
      return 1;
    }
    if (failed(emitMachineCode(*llvmModule, outputFilename, emitKind == Emit::Asm, options, error))) {
      emitError(UnknownLoc::get(&ctx)) << error;
      return 1;
    }
    return 0;
  }
  if (outputFilename == "-") {
    emitError(UnknownLoc::get(&ctx)) << "--emit=lib cannot write to stdout";
    return 1;
  }
  SmallString<128> objPath;
  if (auto ec = llvm::sys::fs::createTemporaryFile("attnc", "o", objPath)) {
    emitError(UnknownLoc::get(&ctx)) << "cannot create a temporary file: " << ec.message();
    return 1;
  }
  llvm::FileRemover removeObj(objPath);
  if (failed(emitMachineCode(*llvmModule, objPath, false, options, error)) ||
      failed(linkSharedLibrary(objPath, outputFilename, error))) {
    emitError(UnknownLoc::get(&ctx)) << error;
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerAllPasses();
  registerAttnPasses();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  registerAsmPrinterCLOptions();
  cl::ParseCommandLineOptions(argc, argv, "attnc: ahead-of-time compiler for transformer inference\n");
  // LLVM's fatal errors (report_fatal_error) are compiler bugs: say so, exit 1.
  llvm::install_fatal_error_handler([](void *, const char *reason, bool) {
    llvm::errs() << "attnc: internal error: LLVM: " << reason << " (please report)\n";
    llvm::errs().flush();
    std::_Exit(1);
  });

  CompileOptions options;
  StringRef target = targetName;
  if (target == "cpu") {
    options.target = Target::CPU;
  } else if (target == "cuda" || target.starts_with("cuda:")) {
    options.target = Target::CUDA;
    if (target.consume_front("cuda:")) {
      if (target != "sm_80" && target != "sm_90") {
        llvm::WithColor::error(llvm::errs(), "attnc")
            << "unsupported CUDA arch '" << target << "' (expected sm_80 or sm_90)\n";
        return 1;
      }
      options.cudaArch = target.str();
    }
  } else {
    llvm::WithColor::error(llvm::errs(), "attnc")
        << "unknown --target '" << target << "' (expected cpu or cuda[:sm_80|sm_90])\n";
    return 1;
  }
  options.mcpu = mcpu;
  if (mcpu.getNumOccurrences() == 0)
    if (const char *env = std::getenv("ATTNC_MCPU"))
      options.mcpu = env;
  options.mattr = mattr;
  if (!validateTargetFlags(options.mcpu, options.mattr))
    return 1;
  options.remarks = remarks;
  options.queryTile = queryTile;
  options.keyTile = keyTile;
  options.gpuTensorCores = gpuTensorCores;
  options.optLevel = optLevel;

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registry.insert<AttnDialect>();
  registerCudaCodegen(registry);
  MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  ScopedDiagnosticHandler handler(&ctx, [](Diagnostic &diag) {
    printDiagnostic(diag);
    return success();
  });
  int rc = run(ctx, options);
  // MLIR's own statistics are compiled out of release LLVM builds; attnc's
  // passes keep theirs (attn/Compiler/Statistics.h).
  auto &opts = cl::getRegisteredOptions();
  auto it = opts.find("mlir-pass-statistics");
  if (it != opts.end())
    if (auto *flag = static_cast<cl::opt<bool> *>(it->second); flag->getValue())
      printPassStatistics(llvm::errs());
  return rc;
}
