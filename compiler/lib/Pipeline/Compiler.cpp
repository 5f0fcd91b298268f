//===- Compiler.cpp - attnc as a library: one compile session -------------===//
//
// CompilerSession (attn/Compiler/Compiler.h): loads a model, builds ONE pass
// manager for the whole compile (graph passes, signature, target lowering,
// and LLVM IR / machine code / link as named passes at the end), runs it and
// writes the result. attnc and the Python package are thin callers.
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Compiler.h"
#include "attn/Compiler/Frontend/OnnxImporter.h"
#include "attn/Compiler/Passes.h"
#include "attn/Dialect/AttnDialect.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/UB/IR/UBOps.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Threading.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

#include <chrono>
#include <mutex>

using namespace mlir;
using namespace mlir::attn;

//===----------------------------------------------------------------------===//
// Options
//===----------------------------------------------------------------------===//

static constexpr std::pair<Emit, llvm::StringLiteral> kEmitNames[] = {
    {Emit::Imported, "imported"}, {Emit::Attn, "attn"}, {Emit::Mlir, "mlir"},
    {Emit::Llvm, "llvm"},         {Emit::Asm, "asm"},   {Emit::Obj, "obj"},
    {Emit::Lib, "lib"},           {Emit::Exe, "exe"}};

std::optional<Emit> attn::parseEmit(StringRef name) {
  for (auto [emit, text] : kEmitNames)
    if (name == text)
      return emit;
  return std::nullopt;
}

StringRef attn::emitName(Emit emit) {
  for (auto [e, text] : kEmitNames)
    if (e == emit)
      return text;
  return "?";
}

bool attn::isTextEmit(Emit emit) {
  return emit != Emit::Obj && emit != Emit::Lib && emit != Emit::Exe;
}

LogicalResult attn::parseTarget(StringRef name, CompileOptions &options, std::string &error) {
  if (name == "cpu") {
    options.target = Target::CPU;
    return success();
  }
  if (name == "cuda" || name.starts_with("cuda:")) {
    options.target = Target::CUDA;
    if (name.consume_front("cuda:")) {
      if (name != "sm_80" && name != "sm_90") {
        error = "unsupported CUDA arch '" + name.str() + "' (expected sm_80 or sm_90)";
        return failure();
      }
      options.cudaArch = name.str();
    }
    return success();
  }
  error = "unknown --target '" + name.str() + "' (expected cpu or cuda[:sm_80|sm_90])";
  return failure();
}

LogicalResult attn::validateTargetOptions(const CompileOptions &options, std::string &error) {
  llvm::InitializeNativeTarget();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target) {
    error = "no target for " + triple.str() + ": " + error;
    return failure();
  }
  std::unique_ptr<llvm::MCSubtargetInfo> sti(target->createMCSubtargetInfo(triple, "", ""));
  if (!sti)
    return success(); // nothing to check against
  StringRef cpu = options.mcpu;
  if (!cpu.empty() && cpu != "native" && !sti->isCPUStringValid(cpu)) {
    error = "unknown CPU '" + cpu.str() + "' for " + triple.str() +
            " (e.g. x86-64-v3, znver4, native)";
    return failure();
  }
  SmallVector<StringRef> features;
  StringRef(options.mattr).split(features, ',', -1, /*KeepEmpty=*/false);
  for (StringRef f : features) {
    f = f.trim();
    if (f.empty())
      continue;
    StringRef name = f;
    if (!name.consume_front("+") && !name.consume_front("-")) {
      error = "target feature '" + f.str() + "' must start with '+' or '-' (e.g. +avx2)";
      return failure();
    }
    bool known = llvm::any_of(sti->getAllProcessorFeatures(),
                              [&](const llvm::SubtargetFeatureKV &kv) { return name == kv.Key; });
    if (!known) {
      error = "unknown target feature '" + name.str() + "' for " + triple.str();
      return failure();
    }
  }
  // A 32-bit-only CPU (--mcpu=i686) or --mattr=-64bit would be an LLVM fatal
  // error in code generation ("64-bit code requested on a subtarget that
  // doesn't support it"), which ends the Python package's process.
  if (triple.getArch() == llvm::Triple::x86_64 && (!cpu.empty() || !options.mattr.empty())) {
    std::string cpuName =
        cpu.empty() || cpu == "native" ? llvm::sys::getHostCPUName().str() : cpu.str();
    std::unique_ptr<llvm::MCSubtargetInfo> chosen(
        target->createMCSubtargetInfo(triple, cpuName, options.mattr));
    if (chosen && !chosen->checkFeatures("+64bit")) {
      error = "CPU '" + cpuName + "'" +
              (options.mattr.empty() ? "" : " with --mattr=" + options.mattr) +
              " cannot run 64-bit code (" + triple.str() + ")";
      return failure();
    }
  }
  return success();
}

LogicalResult attn::checkOutputPath(StringRef path, std::string &error) {
  if (path == "-")
    return success();
  if (llvm::sys::fs::is_directory(path)) {
    error = "cannot write '" + path.str() + "': it is a directory";
    return failure();
  }
  SmallString<256> dir(path);
  llvm::sys::path::remove_filename(dir);
  if (dir.empty())
    dir = ".";
  if (!llvm::sys::fs::is_directory(dir)) {
    error = "cannot write '" + path.str() + "': directory '" + dir.str().str() +
            "' does not exist";
    return failure();
  }
  if (llvm::sys::fs::access(dir, llvm::sys::fs::AccessMode::Write)) {
    error = "cannot write '" + path.str() + "': directory '" + dir.str().str() +
            "' is not writable";
    return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Diagnostics
//===----------------------------------------------------------------------===//

StringRef CompileDiagnostic::severityName() const {
  switch (severity) {
  case DiagnosticSeverity::Error: return internal ? "internal error" : "error";
  case DiagnosticSeverity::Warning: return "warning";
  case DiagnosticSeverity::Remark: return "remark";
  case DiagnosticSeverity::Note: return "note";
  }
  return "error";
}

std::string CompileDiagnostic::str() const {
  return location.empty() ? message : location + ": " + message;
}

/// "node 'X'" for an ONNX node (the op's NameLoc), the file position for
/// .mlir input, both parts of fused locations.
static void describeLocation(Location loc, llvm::raw_ostream &os) {
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

static void printDiagnostic(const CompileDiagnostic &diag) {
  llvm::raw_ostream::Colors color = llvm::raw_ostream::RED;
  switch (diag.severity) {
  case DiagnosticSeverity::Error: break;
  case DiagnosticSeverity::Warning: color = llvm::raw_ostream::MAGENTA; break;
  case DiagnosticSeverity::Remark: color = llvm::raw_ostream::BLUE; break;
  case DiagnosticSeverity::Note: color = llvm::raw_ostream::BLACK; break;
  }
  auto &os = llvm::errs();
  os << "attnc: ";
  llvm::WithColor(os, color, true) << diag.severityName() << ": ";
  os << diag.str() << "\n";
  for (const CompileDiagnostic &note : diag.notes)
    printDiagnostic(note);
}

//===----------------------------------------------------------------------===//
// The session
//===----------------------------------------------------------------------===//

namespace {
using Clock = std::chrono::steady_clock;

/// A module pass running one step of code generation that is not MLIR
/// (LLVM IR, machine code, the link), so that it is part of the one pass
/// manager: timed, printed, dumped and covered by the crash reproducer.
struct PhasePass : PassWrapper<PhasePass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(PhasePass)
  PhasePass(StringRef argument, StringRef name, StringRef description,
            std::function<LogicalResult(ModuleOp)> fn)
      : argument(argument), name(name), description(description), fn(std::move(fn)) {}
  StringRef getArgument() const override { return argument; }
  StringRef getName() const override { return name; }
  StringRef getDescription() const override { return description; }
  void runOnOperation() override {
    markAllAnalysesPreserved();
    if (failed(fn(getOperation())))
      signalPassFailure();
  }
  std::string argument, name, description;
  std::function<LogicalResult(ModuleOp)> fn;
};

/// Writes the module after every pass to DIR/NN-<pass-argument>.mlir.
struct DumpIRInstrumentation : PassInstrumentation {
  DumpIRInstrumentation(std::string dir, bool weights) : dir(std::move(dir)), weights(weights) {}
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
      if (failedWrite.empty()) // once, not after every pass; the compile then fails
        failedWrite = "cannot write '" + path.str().str() + "': " + ec.message();
      return;
    }
    OpPrintingFlags flags;
    if (!weights)
      flags.elideLargeResourceString(1024);
    top->print(os, flags);
  }
  std::string dir;
  bool weights;
  int counter = 0;
  std::string failedWrite;
};

/// Frees the weight blobs the module no longer references after each
/// top-level canonicalization, when the session owns the module: e.g. right
/// after the lowering packs a constant weight into its matmul panel layout
/// (attn-lower-to-linalg makes the packed copy; the canonicalizer after it
/// erases the original constant), so that originals and packed copies do
/// not both stay alive until the weights leave for their object file.
struct FreeBlobsInstrumentation : PassInstrumentation {
  void runAfterPass(Pass *pass, Operation *op) override {
    if (op->getParentOp() || pass->getArgument() != "canonicalize")
      return;
    if (auto module = dyn_cast<ModuleOp>(op))
      freeUnreferencedBlobs(module);
  }
};

/// Reports the phases' wall times: a phase ends where the first pass of the
/// next one starts (the phase passes are named below).
struct PhaseTimer : PassInstrumentation {
  explicit PhaseTimer(std::function<void(StringRef, double)> &report) : report(report) {}
  void runBeforePass(Pass *pass, Operation *op) override {
    StringRef next = phaseStartedBy(pass->getArgument());
    if (!next.empty() && isa<ModuleOp>(op) && !op->getParentOp())
      switchTo(next);
  }
  static StringRef phaseStartedBy(StringRef argument) {
    if (argument == "attn-finalize-signature")
      return "lowering";
    if (argument == "attn-translate-to-llvm-ir")
      return "LLVM IR";
    if (argument == "attn-emit-machine-code")
      return "machine code";
    if (argument == "attn-link-library" || argument == "attn-link-executable")
      return "link";
    return {};
  }
  void switchTo(StringRef next) {
    auto now = Clock::now();
    if (report)
      report(current, std::chrono::duration<double>(now - start).count());
    current = next.str();
    start = now;
  }
  void finish() { switchTo(""); }
  std::function<void(StringRef, double)> &report;
  std::string current = "graph passes";
  Clock::time_point start = Clock::now();
};

/// What the code-generation passes hand to each other and to the session.
struct CodegenState {
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule;
  /// Text or bytes of the result when it is not written by a pass.
  std::string data;
  bool haveData = false;
  /// The object file the link reads (a temporary for --emit=lib).
  SmallString<128> objectPath;
  std::optional<llvm::FileRemover> removeObject;
  /// The code's other partitions when machine code was generated on several
  /// threads (emitObjectsInParallel), linked beside objectPath.
  std::vector<std::string> moreObjects;
  std::vector<std::unique_ptr<llvm::FileRemover>> removeMoreObjects;
  /// Partitions of a linked output's code (1: one object, optimized whole).
  unsigned parts = 1;
  /// The weights' object (externalizeWeights) linked beside it; empty when
  /// the weights stayed in the code object.
  SmallString<128> weightsPath;
  std::optional<llvm::FileRemover> removeWeights;
  /// Where the library is linked (the output, or a temporary).
  std::string libraryPath;
};
} // namespace

void attn::registerCompilerGlobals() {
  static std::once_flag once;
  std::call_once(once, [] {
    registerCompilerPasses();
    registerMLIRContextCLOptions();
    registerPassManagerCLOptions();
    registerDefaultTimingManagerCLOptions();
    registerAsmPrinterCLOptions();
  });
}

struct CompilerSession::Impl {
  Impl() {
    registerCompilerGlobals();
    DialectRegistry registry;
    registerCompilerDialects(registry);
    context = std::make_unique<MLIRContext>(registry);
    // The registry holds just the dialects attnc's importer, passes and
    // lowerings build (Registration.cpp): all are loaded up front.
    context->loadAllAvailableDialects();
    handler = std::make_unique<ScopedDiagnosticHandler>(context.get(), [this](Diagnostic &d) {
      deliver(convert(d));
      return success();
    });
  }

  CompileDiagnostic convert(Diagnostic &d) {
    CompileDiagnostic out;
    out.severity = d.getSeverity();
    out.message = d.str();
    if (!isa<UnknownLoc>(d.getLocation())) {
      llvm::raw_string_ostream os(out.location);
      describeLocation(d.getLocation(), os);
    }
    out.internal =
        d.getSeverity() == DiagnosticSeverity::Error && inPipeline && isOpDiagnostic(out.message);
    if (out.internal)
      out.message += " (please report)";
    for (Diagnostic &note : d.getNotes()) {
      // MLIR's "see current operation: <the whole op>" note prints IR, often
      // a whole module, that says nothing to a user.
      if (StringRef(note.str()).starts_with("see current operation"))
        continue;
      out.notes.push_back(convert(note));
    }
    return out;
  }

  void deliver(const CompileDiagnostic &diag) {
    if (diag.severity == DiagnosticSeverity::Error)
      ++numErrors;
    if (diagnosticHandler)
      diagnosticHandler(diag);
    else
      printDiagnostic(diag);
  }

  LogicalResult error(StringRef message) {
    CompileDiagnostic d;
    d.message = message.str();
    deliver(d);
    return failure();
  }

  /// A phase failed: when it said nothing, say that it failed.
  LogicalResult failedWithoutMessage(unsigned errorsBefore, StringRef what) {
    if (numErrors == errorsBefore) {
      CompileDiagnostic d;
      d.internal = true;
      d.message = (what + " failed without a message (please report)").str();
      deliver(d);
    }
    return failure();
  }

  LogicalResult writeOutput(StringRef path, StringRef bytes, std::string *result) {
    if (path.empty()) {
      if (result)
        *result = bytes.str();
      return success();
    }
    std::string err;
    auto out = openOutputFile(path, &err);
    if (!out)
      return error(err);
    out->os() << bytes;
    out->keep();
    return success();
  }

  /// Refuses, before any work, a request that cannot succeed.
  LogicalResult checkRequest(const CompileRequest &request, const std::string *result) {
    StringRef output = request.output;
    Emit emit = request.emit;
    std::string err;
    if (output.empty() && !result)
      return error("no output: give an output path or a result string");
    if (output == "-" && !isTextEmit(emit))
      return error(("--emit=" + emitName(emit) + " cannot write to stdout").str());
    if (!output.empty() && failed(checkOutputPath(output, err)))
      return error(err);
    int level = request.options.optLevel;
    if (level < 0 || level > 3)
      return error("-O" + std::to_string(level) + ": the optimization level is 0 to 3");
    if (request.options.codegenPartitions > 64)
      return error("--codegen-partitions=" + std::to_string(request.options.codegenPartitions) +
                   ": at most 64");
    if (request.options.target == Target::CUDA && emit > Emit::Attn && !haveCudaToolkit())
      return error("--target=cuda: this attnc was built without the CUDA toolkit (no ptxas found)");
    // A missing archive of the link (an incomplete installation) is said
    // before the compile, not after it.
    if ((emit == Emit::Lib || emit == Emit::Exe) &&
        failed(checkLinkFiles(emit == Emit::Exe, err)))
      return error(err);
    return success();
  }

  /// Runs a checked request (checkRequest) on a loaded module.
  LogicalResult compile(ModuleOp module, const CompileRequest &request, std::string *result,
                        TimingScope &timing);

  std::unique_ptr<MLIRContext> context;
  std::unique_ptr<ScopedDiagnosticHandler> handler;
  std::function<void(const CompileDiagnostic &)> diagnosticHandler;
  std::function<void(StringRef, double)> phaseHandler;
  unsigned numErrors = 0;
  /// Set while passes and code generation run: an op verifier message then
  /// means the compiler built invalid IR (a bug), not bad input.
  bool inPipeline = false;
  /// compileFile's own module: blobs it no longer references may be freed.
  bool ownsModule = false;
};

CompilerSession::CompilerSession() : impl(std::make_unique<Impl>()) {}
CompilerSession::~CompilerSession() = default;
MLIRContext &CompilerSession::getContext() { return *impl->context; }
unsigned CompilerSession::getNumErrors() const { return impl->numErrors; }

void CompilerSession::setDiagnosticHandler(std::function<void(const CompileDiagnostic &)> h) {
  impl->diagnosticHandler = std::move(h);
}
void CompilerSession::setPhaseHandler(std::function<void(StringRef, double)> h) {
  impl->phaseHandler = std::move(h);
}

/// A .mlir printed with elided weights (`dense_resource<key>` with no blob in
/// the file) is refused when the compile needs the weights, or given zero
/// weights with a warning when the request says so.
static LogicalResult checkElidedWeights(ModuleOp module, const CompileRequest &request) {
  SmallVector<DenseResourceElementsAttr> missing;
  llvm::SmallPtrSet<void *, 8> seen;
  module->walk([&](Operation *op) {
    op->getAttrDictionary().walk([&](DenseResourceElementsAttr attr) {
      auto *entry = attr.getRawHandle().getResource();
      if (entry && !entry->getBlob() && seen.insert(entry).second)
        missing.push_back(attr);
    });
  });
  if (missing.empty())
    return success();
  StringRef example = missing.front().getRawHandle().getKey();
  bool needsWeights = request.emit > Emit::Mlir;
  if (!request.zeroElidedWeights) {
    if (!needsWeights)
      return success(); // text in, text out: the blobs stay elided
    return emitError(module.getLoc())
           << "the weights of this module were elided when it was printed (" << missing.size()
           << " blob(s) missing, e.g. '" << example
           << "'): print it with --keep-weights, or compile it with zero weights "
              "(--elided-weights=zeros)";
  }
  for (DenseResourceElementsAttr attr : missing) {
    auto type = cast<ShapedType>(attr.getType());
    int64_t bytes = type.getNumElements() *
                    std::max<int64_t>(1, type.getElementTypeBitWidth() / 8);
    std::vector<char> zeros(bytes, 0);
    attr.getRawHandle().getResource()->setBlob(
        HeapAsmResourceBlob::allocateAndCopyWithAlign(zeros, alignof(uint64_t)));
  }
  emitWarning(module.getLoc()) << "compiling with zero weights: " << missing.size()
                               << " weight blob(s) were elided when this module was printed "
                                  "(e.g. '"
                               << example << "')";
  return success();
}

OwningOpRef<ModuleOp> CompilerSession::loadFile(StringRef path, const CompileRequest &request) {
  MLIRContext &ctx = *impl->context;
  impl->inPipeline = false;
  OwningOpRef<ModuleOp> module;
  StringRef ext = llvm::sys::path::extension(path);
  if (ext == ".mlir") {
    std::string err;
    auto file = openInputFile(path, &err);
    if (!file) {
      (void)impl->error(("cannot open '" + path + "': " + err).str());
      return nullptr;
    }
    llvm::SourceMgr sm;
    sm.AddNewSourceBuffer(std::move(file), SMLoc());
    module = parseSourceFile<ModuleOp>(sm, &ctx);
  } else if (ext == ".onnx" || ext == ".onnxtext") {
    OnnxImportOptions importOptions;
    importOptions.inputsOverrideInitializers = request.inputsOverrideInitializers;
    module = importOnnxFile(ctx, path, importOptions);
  } else {
    (void)impl->error(("'" + path + "': unknown model kind (expected .onnx, .onnxtext or .mlir)").str());
    return nullptr;
  }
  if (module && failed(verify(*module)))
    return nullptr;
  if (module && ext == ".mlir" && failed(checkElidedWeights(*module, request)))
    return nullptr;
  return module;
}

LogicalResult CompilerSession::compileFile(StringRef path, const CompileRequest &request,
                                           std::string *result) {
  DefaultTimingManager tm;
  applyDefaultTimingManagerCLOptions(tm);
  TimingScope root = tm.getRootScope();
  // What cannot work is refused before the import (which can take seconds).
  if (failed(impl->checkRequest(request, result)))
    return failure();
  OwningOpRef<ModuleOp> module;
  {
    TimingScope importTiming = root.nest("import");
    auto start = Clock::now();
    module = loadFile(path, request);
    if (impl->phaseHandler && module)
      impl->phaseHandler("import", std::chrono::duration<double>(Clock::now() - start).count());
  }
  if (!module)
    return failure();
  impl->ownsModule = true;
  LogicalResult compiled = impl->compile(*module, request, result, root);
  impl->ownsModule = false;
  return compiled;
}

LogicalResult CompilerSession::compile(ModuleOp module, const CompileRequest &request,
                                       std::string *result) {
  if (failed(impl->checkRequest(request, result)))
    return failure();
  DefaultTimingManager tm;
  applyDefaultTimingManagerCLOptions(tm);
  TimingScope root = tm.getRootScope();
  return impl->compile(module, request, result, root);
}

LogicalResult CompilerSession::Impl::compile(ModuleOp module, const CompileRequest &request,
                                             std::string *result, TimingScope &timing) {
  // A module the session owns: the passes that copy weights free the
  // originals at once (a module passed in may share its blobs with a copy).
  CompileOptions options = request.options;
  options.releaseWeights = ownsModule;
  const Emit emit = request.emit;
  const bool cuda = options.target == Target::CUDA;
  StringRef output = request.output;

  auto printModule = [&](bool weights) {
    std::string text;
    llvm::raw_string_ostream os(text);
    OpPrintingFlags flags;
    if (!weights)
      flags.elideLargeResourceString(1024);
    module->print(os, flags);
    return text;
  };
  if (emit == Emit::Imported)
    return writeOutput(output, printModule(request.keepWeights), result);

  PassManager pm(context.get());
  if (failed(applyPassManagerCLOptions(pm)))
    return failure();
  pm.enableTiming(timing);
  DumpIRInstrumentation *dump = nullptr;
  if (!request.dumpDir.empty()) {
    if (auto ec = llvm::sys::fs::create_directories(request.dumpDir))
      return error("cannot create '" + request.dumpDir + "': " + ec.message());
    if (!llvm::sys::fs::is_directory(request.dumpDir))
      return error("cannot write into '" + request.dumpDir + "': not a directory");
    context->disableMultithreading();
    auto owned = std::make_unique<DumpIRInstrumentation>(request.dumpDir, request.keepWeights);
    dump = owned.get();
    pm.addInstrumentation(std::move(owned));
  }
  if (ownsModule)
    pm.addInstrumentation(std::make_unique<FreeBlobsInstrumentation>());
  PhaseTimer *phases = nullptr;
  {
    auto owned = std::make_unique<PhaseTimer>(phaseHandler);
    phases = owned.get();
    pm.addInstrumentation(std::move(owned));
  }

  // 1. Graph passes (what --emit=attn shows).
  buildGraphPipeline(pm, options);

  // 2. The signature and the target lowering (--emit=mlir).
  CodegenState state;
  auto phase = [&](StringRef argument, StringRef name, StringRef description,
                   std::function<LogicalResult(ModuleOp)> fn) {
    pm.addPass(std::make_unique<PhasePass>(argument, name, description, std::move(fn)));
  };
  if (emit > Emit::Attn) {
    phase("attn-finalize-signature", "FinalizeSignature",
          "Completes the model's signature JSON (ABI, target, CPU features)",
          [&](ModuleOp m) { return finalizeSignature(m, "main_graph", options); });
    if (cuda)
      buildCudaLoweringPipeline(pm, options);
    else
      buildCpuLoweringPipeline(pm, options);
  }

  // 3. Code generation. CUDA --emit=asm|obj: the kernels' PTX or cubin (one
  // GPU module per model, embedded in the host code as constant globals).
  if (cuda && (emit == Emit::Asm || emit == Emit::Obj)) {
    phase("attn-extract-gpu-binary", "ExtractGpuBinary",
          "Collects the kernels' PTX (asm) or cubin (obj)", [&, emit](ModuleOp m) -> LogicalResult {
            StringRef suffix = emit == Emit::Asm ? "_ptx" : "_cubin";
            for (auto g : m.getOps<LLVM::GlobalOp>()) {
              if (!g.getSymName().starts_with("__attn_gpu_") || !g.getSymName().ends_with(suffix))
                continue;
              if (auto str = dyn_cast_or_null<StringAttr>(g.getValueOrNull())) {
                StringRef bytes = str.getValue();
                if (emit == Emit::Asm)
                  bytes = bytes.rtrim('\0');
                state.data += bytes.str();
              }
            }
            state.haveData = true;
            return success();
          });
  } else if (emit >= Emit::Llvm) {
    phase("attn-translate-to-llvm-ir", "TranslateToLLVMIR",
          "Translates the LLVM dialect to LLVM IR and optimizes it (-O)", [&](ModuleOp m) -> LogicalResult {
            // The weights skip LLVM IR and codegen (EmitLibrary.cpp): a
            // second object for the link; --emit=llvm declares them only;
            // --emit=asm|obj keep them (a self-contained file).
            bool link = emit == Emit::Lib || emit == Emit::Exe;
            if (link || emit == Emit::Llvm) {
              if (link) {
                if (auto ec = llvm::sys::fs::createTemporaryFile("attnc-weights", "o",
                                                                 state.weightsPath))
                  return m.emitError() << "cannot create a temporary file: " << ec.message();
                state.removeWeights.emplace(state.weightsPath);
              }
              bool wrote = false;
              std::string error;
              if (failed(externalizeWeights(m, state.weightsPath, options, wrote, error)))
                return m.emitError() << error;
              if (!wrote)
                state.weightsPath.clear();
              if (ownsModule)
                freeUnreferencedBlobs(m);
            }
            // A library or program links several objects: the code is split
            // in partitions optimized and compiled on the cores at once.
            if (link && m.getContext()->isMultithreadingEnabled())
              state.parts = options.codegenPartitions
                                ? options.codegenPartitions
                                : std::min(4u, llvm::hardware_concurrency().compute_thread_count());
            state.llvmModule = translateToOptimizedLLVMIR(m, state.llvmContext, options,
                                                          /*optimize=*/state.parts <= 1);
            if (!state.llvmModule)
              return failure();
            if (emit == Emit::Llvm) {
              llvm::raw_string_ostream os(state.data);
              state.llvmModule->print(os, nullptr);
              state.haveData = true;
            }
            return success();
          });
  }
  const bool linked = emit == Emit::Lib || emit == Emit::Exe;
  if (linked || (!cuda && (emit == Emit::Asm || emit == Emit::Obj))) {
    phase("attn-emit-machine-code", "EmitMachineCode",
          "Writes assembly or an object file for the target CPU", [&, emit](ModuleOp m) -> LogicalResult {
            std::string error;
            bool toFile = linked || (emit == Emit::Obj && !request.output.empty()) ||
                          (emit == Emit::Asm && !request.output.empty() && request.output != "-");
            if (toFile) {
              if (linked) {
                if (auto ec = llvm::sys::fs::createTemporaryFile("attnc", "o", state.objectPath))
                  return m.emitError() << "cannot create a temporary file: " << ec.message();
                state.removeObject.emplace(state.objectPath);
                unsigned parts = state.parts;
                if (parts > 1) {
                  std::vector<std::string> paths{state.objectPath.str().str()};
                  for (unsigned i = 1; i < parts; ++i) {
                    SmallString<128> path;
                    if (auto ec = llvm::sys::fs::createTemporaryFile("attnc", "o", path))
                      return m.emitError() << "cannot create a temporary file: " << ec.message();
                    state.removeMoreObjects.push_back(std::make_unique<llvm::FileRemover>(path));
                    state.moreObjects.push_back(path.str().str());
                    paths.push_back(path.str().str());
                  }
                  if (failed(emitObjectsInParallel(*state.llvmModule, paths, options,
                                                   /*optimize=*/true, error)))
                    return m.emitError() << error;
                  return success();
                }
              } else {
                state.objectPath = request.output;
              }
              if (failed(emitMachineCode(*state.llvmModule, state.objectPath, emit == Emit::Asm,
                                         options, error)))
                return m.emitError() << error;
              return success();
            }
            // stdout or in memory: through a temporary file.
            SmallString<128> tmp;
            if (auto ec = llvm::sys::fs::createTemporaryFile("attnc", emit == Emit::Asm ? "s" : "o",
                                                             tmp))
              return m.emitError() << "cannot create a temporary file: " << ec.message();
            llvm::FileRemover remove(tmp);
            if (failed(emitMachineCode(*state.llvmModule, tmp, emit == Emit::Asm, options, error)))
              return m.emitError() << error;
            auto buffer = llvm::MemoryBuffer::getFile(tmp);
            if (!buffer)
              return m.emitError() << "cannot read '" << tmp << "'";
            state.data = (*buffer)->getBuffer().str();
            state.haveData = true;
            return success();
          });
  }
  if (linked) {
    const bool exe = emit == Emit::Exe;
    // --emit=exe: the objects of the library link, linked with attn-run's
    // logic and the static runtime into a program (LinkExecutable.cpp).
    phase(exe ? "attn-link-executable" : "attn-link-library",
          exe ? "LinkExecutable" : "LinkLibrary",
          exe ? "Links the object file, the model support code, attn-run and the static "
                "runtime into a standalone executable"
              : "Links the object file and the model support code into a shared library",
          [&, exe](ModuleOp m) -> LogicalResult {
            SmallString<128> tmp;
            std::optional<llvm::FileRemover> remove;
            StringRef target = request.output;
            if (target.empty()) {
              if (auto ec = llvm::sys::fs::createTemporaryFile("attnc", exe ? "exe" : "so", tmp))
                return m.emitError() << "cannot create a temporary file: " << ec.message();
              remove.emplace(tmp);
              target = tmp;
            }
            std::string error;
            std::vector<std::string> objects{state.objectPath.str().str()};
            objects.insert(objects.end(), state.moreObjects.begin(), state.moreObjects.end());
            if (exe && !state.weightsPath.empty())
              objects.push_back(state.weightsPath.str().str());
            if (failed(exe ? linkExecutable(objects, target, error)
                           : linkSharedLibrary(objects, state.weightsPath, target, error)))
              return m.emitError() << error;
            if (request.output.empty()) {
              auto buffer = llvm::MemoryBuffer::getFile(tmp);
              if (!buffer)
                return m.emitError() << "cannot read '" << tmp << "'";
              state.data = (*buffer)->getBuffer().str();
              state.haveData = true;
            }
            return success();
          });
  }

  unsigned errorsBefore = numErrors;
  inPipeline = true;
  LogicalResult ran = pm.run(module);
  inPipeline = false;
  phases->finish();
  if (dump && !dump->failedWrite.empty())
    return error(dump->failedWrite);
  if (failed(ran))
    return failedWithoutMessage(errorsBefore, "the compile pipeline");

  if (emit == Emit::Attn || emit == Emit::Mlir)
    return writeOutput(output, printModule(request.keepWeights), result);
  if (state.haveData)
    return writeOutput(output, state.data, result);
  return success(); // written by the passes
}
