//===- attnc.cpp - the attnc compiler driver ------------------------------===//
//
//   attnc MODEL -o OUT [--emit=imported|attn|mlir|llvm|asm|obj|lib|exe]
//                      [--target=cpu|cuda[:sm_80|sm_90]] [--mcpu=..] [--mattr=..]
//
// MODEL is .onnx, .onnxtext or .mlir (attn dialect). The stages:
//   import (--emit=imported) -> graph passes (--emit=attn) -> target lowering
//   (--emit=mlir, the LLVM dialect) -> LLVM IR (--emit=llvm) -> asm/obj ->
//   shared library (or, --emit=exe, a program: attn-run with the model
//   linked in). The compile itself is attn::CompilerSession
//   (attn/Compiler/Compiler.h); this file is its command line.
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Compiler.h"
#include "attn/Compiler/Passes.h"
#include "attn/Compiler/Statistics.h"
#include "Version.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <sys/resource.h>

using namespace mlir;
using namespace mlir::attn;
namespace cl = llvm::cl;

static cl::OptionCategory outputCat("Input and output");
static cl::OptionCategory targetCat("Target");
static cl::OptionCategory tuningCat("Code generation");
static cl::OptionCategory debugCat("Inspecting the compile");

static cl::opt<std::string> inputFilename(cl::Positional, cl::desc("<model.onnx|.onnxtext|.mlir>"),
                                          cl::Required, cl::cat(outputCat));
static cl::opt<std::string> outputFilename(
    "o",
    cl::desc("Output file, '-' for stdout (default: stdout for text; <model>.so, <model>.o "
             "or, for --emit=exe, <model> next to the model)"),
    cl::value_desc("file"), cl::init(""), cl::cat(outputCat));
static cl::opt<Emit> emitKind(
    "emit", cl::desc("What to produce (where to stop)"), cl::init(Emit::Lib),
    cl::values(clEnumValN(Emit::Imported, "imported", "attn dialect as imported, before any pass"),
               clEnumValN(Emit::Attn, "attn", "attn dialect after the graph passes"),
               clEnumValN(Emit::Mlir, "mlir", "the lowered module (LLVM dialect + ABI)"),
               clEnumValN(Emit::Llvm, "llvm", "optimized LLVM IR"),
               clEnumValN(Emit::Asm, "asm", "target assembly (cuda: the kernels' PTX)"),
               clEnumValN(Emit::Obj, "obj", "an object file (cuda: the kernels' cubin)"),
               clEnumValN(Emit::Lib, "lib", "a shared library (default)"),
               clEnumValN(Emit::Exe, "exe",
                          "a standalone program: attn-run's options without the library "
                          "(./m --input x=x.npy --output-dir out/)")),
    cl::cat(outputCat));
static cl::opt<bool> keepWeights(
    "keep-weights",
    cl::desc("Keep the weight blobs in text output (--emit=imported|attn|mlir, --dump-ir, "
             "--mlir-print-ir-*); by default blobs over 1 KiB are elided"),
    cl::init(false), cl::cat(outputCat));
static cl::opt<bool> dumpWeights("dump-ir-weights", cl::desc("Same as --keep-weights"),
                                 cl::init(false), cl::Hidden, cl::cat(outputCat));
static cl::opt<std::string> elidedWeights(
    "elided-weights",
    cl::desc("A .mlir input whose weights were elided when printed: 'error' (default) or "
             "'zeros' (compile with zero weights, e.g. to inspect the code of a dump)"),
    cl::value_desc("error|zeros"), cl::init("error"), cl::cat(outputCat));
static cl::opt<bool> inputsOverrideInitializers(
    "inputs-override-initializers",
    cl::desc("Graph inputs that also have an initializer (their default value) become "
             "inputs of the compiled model (default: compiled as constants, with a warning)"),
    cl::init(false), cl::cat(outputCat));

static cl::opt<int64_t> kvCache(
    "kv-cache",
    cl::desc("Compile a with-past export with an in-place KV cache of MAX_LEN positions: the past "
             "K/V inputs become cache buffers the model writes into, plus the input "
             "past_sequence_length; the present outputs are dropped"),
    cl::value_desc("MAX_LEN"), cl::init(0), cl::cat(outputCat));
static cl::opt<std::string> logitsMode(
    "logits",
    cl::desc("A decoder's output 'logits': 'all' (default) positions, or 'last': only the last "
             "sequence position ([batch, 1, vocab]; what generation reads, the lm_head runs on "
             "one row per batch item); with --kv-cache or a with-past export"),
    cl::value_desc("all|last"), cl::init("all"), cl::cat(outputCat));

static cl::opt<std::string> targetName("target", cl::desc("cpu (default) or cuda[:sm_80|sm_90]"),
                                       cl::init("cpu"), cl::cat(targetCat));
static cl::opt<std::string> mcpu(
    "mcpu",
    cl::desc("Target CPU, e.g. x86-64-v3 or znver4 (default: the environment variable "
             "ATTNC_MCPU when set, else the host CPU)"),
    cl::init(""), cl::cat(targetCat));
static cl::opt<std::string> mattr("mattr", cl::desc("Target features, e.g. +avx2,+fma"),
                                  cl::init(""), cl::cat(targetCat));
static cl::opt<bool> gpuTensorCores(
    "gpu-tensor-cores",
    cl::desc("--target=cuda: f16/bf16 attention on tensor cores (mma.sync); =false: SIMT kernel"),
    cl::init(true), cl::cat(targetCat));

static cl::opt<unsigned> optLevel("O", cl::desc("LLVM optimization level, 0 to 3 (default 3)"),
                                  cl::init(3), cl::Prefix, cl::cat(tuningCat));
static cl::opt<unsigned> codegenPartitions(
    "codegen-partitions",
    cl::desc("Partitions of the machine code generated at once, one thread each (default 0: one "
             "per hardware thread, at most 4)"),
    cl::init(0), cl::Hidden, cl::cat(tuningCat));
static cl::opt<int64_t> queryTile("attention-query-tile",
                                  cl::desc("Query rows per attention tile (default 48)"),
                                  cl::init(48), cl::cat(tuningCat));
static cl::opt<int64_t> keyTile("attention-key-tile",
                                cl::desc("Key rows per attention tile (default 128)"),
                                cl::init(128), cl::cat(tuningCat));

static cl::opt<std::string> dumpDir("dump-ir",
                                    cl::desc("Write the IR after every pass to DIR/NN-<pass>.mlir"),
                                    cl::value_desc("DIR"), cl::init(""), cl::cat(debugCat));
static cl::opt<bool> remarks("remarks", cl::desc("Report every softmax left unfused, and why"),
                             cl::init(false), cl::cat(debugCat));
static cl::opt<bool> verbose("v", cl::desc("Print each phase of the compile with its time"),
                             cl::init(false), cl::cat(debugCat));

static const char kOverview[] =
    "attnc: ahead-of-time compiler for transformer inference\n\n"
    "  attnc model.onnx                         model.so next to the model, for this CPU\n"
    "  attnc model.onnx -o m.so --mcpu=x86-64-v3  for any AVX2 machine\n"
    "  attnc model.onnx --emit=attn             the fused graph (weights elided) on stdout\n"
    "  attnc model.onnx --emit=imported         the graph as imported, before any pass\n"
    "  attnc model.onnx -v --mlir-timing        phases and per-pass times\n"
    "  attnc model.onnx --target=cuda:sm_90     an NVIDIA GPU library\n"
    "  attnc model.onnx --emit=exe -o m         a program: ./m --input x=x.npy --output-dir out/\n"
    "  attnc past.onnx --kv-cache=2048          a with-past export with an in-place KV cache\n"
    "  attnc past.onnx --kv-cache=2048 --logits=last   ... prefill computes the last position's logits only\n"
    "  attn-run model.so --input x=x.npy --print\n\n"
    "LLVM's and MLIR's other options: --help-hidden.\n";

/// Shows attnc's own options in --help, plus MLIR's options for inspecting a
/// compile; every other registered option (LLVM's backends, ...) moves to
/// --help-hidden.
static void organizeHelp() {
  static const char *const mlirDebugOptions[] = {
      "mlir-timing", "mlir-print-ir-after-all", "mlir-print-ir-before-all",
      "mlir-print-ir-after", "mlir-print-ir-before", "mlir-pass-statistics",
      "mlir-pass-pipeline-crash-reproducer", "mlir-elide-resource-strings-if-larger",
      "mlir-elide-elementsattrs-if-larger", "mlir-disable-threading"};
  for (auto &entry : cl::getRegisteredOptions()) {
    cl::Option *opt = entry.second;
    if (llvm::any_of(mlirDebugOptions, [&](const char *n) { return entry.first == n; })) {
      opt->addCategory(debugCat);
      continue;
    }
    bool ours = llvm::any_of(opt->Categories, [](cl::OptionCategory *c) {
      return c == &outputCat || c == &targetCat || c == &tuningCat || c == &debugCat;
    });
    StringRef name = entry.first;
    if (!ours && name != "help" && name != "help-hidden" && name != "version" &&
        opt->getOptionHiddenFlag() == cl::NotHidden)
      opt->setHiddenFlag(cl::Hidden);
  }
}

/// Text output elides weight blobs past 1 KiB unless --keep-weights: MLIR's
/// own printing flag is set as if given on the command line (so that
/// --mlir-print-ir-* and every other printer follow it).
static void elideWeightsByDefault() {
  if (keepWeights || dumpWeights)
    return;
  auto &opts = cl::getRegisteredOptions();
  auto it = opts.find("mlir-elide-resource-strings-if-larger");
  if (it == opts.end() || it->second->getNumOccurrences())
    return;
  (void)it->second->addOccurrence(0, it->first, "1024");
}

/// The default output: stdout for text, else the model's path with the
/// output's extension (an executable: none).
static std::string defaultOutput(StringRef model, Emit emit) {
  if (isTextEmit(emit))
    return "-";
  SmallString<256> path(model);
  llvm::sys::path::replace_extension(path, emit == Emit::Obj   ? ".o"
                                           : emit == Emit::Exe ? ""
                                                               : ".so");
  return path.str().str();
}

static void error(const std::string &message) {
  llvm::WithColor::error(llvm::errs(), "attnc") << message << "\n";
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerCompilerGlobals();
  cl::SetVersionPrinter([](llvm::raw_ostream &os) { os << ATTN_VERSION_LINE("attnc") << "\n"; });
  organizeHelp();
  cl::ParseCommandLineOptions(argc, argv, kOverview);
  elideWeightsByDefault();
  // LLVM's fatal errors (report_fatal_error) are compiler bugs: say so, exit 1.
  llvm::install_fatal_error_handler([](void *, const char *reason, bool) {
    llvm::errs() << "attnc: internal error: LLVM: " << reason << " (please report)\n";
    llvm::errs().flush();
    std::_Exit(1);
  });

  CompileRequest request;
  CompileOptions &options = request.options;
  std::string err;
  if (failed(parseTarget(targetName, options, err))) {
    error(err);
    return 1;
  }
  options.mcpu = mcpu;
  if (mcpu.getNumOccurrences() == 0)
    if (const char *env = std::getenv("ATTNC_MCPU"))
      options.mcpu = env;
  options.mattr = mattr;
  if (failed(validateTargetOptions(options, err))) {
    error(err);
    return 1;
  }
  options.remarks = remarks;
  options.queryTile = queryTile;
  options.keyTile = keyTile;
  options.gpuTensorCores = gpuTensorCores;
  options.optLevel = optLevel;
  options.codegenPartitions = codegenPartitions;
  if (kvCache.getNumOccurrences() && kvCache <= 0) {
    error("--kv-cache=" + std::to_string(kvCache) + ": the cache length must be at least 1");
    return 1;
  }
  options.kvCacheMaxLen = kvCache;
  if (logitsMode != "all" && logitsMode != "last") {
    error("--logits='" + logitsMode + "': expected all or last");
    return 1;
  }
  options.lastPositionLogits = logitsMode == "last";
  request.emit = emitKind;
  request.output = outputFilename.empty() ? defaultOutput(inputFilename, emitKind)
                                           : outputFilename.getValue();
  request.dumpDir = dumpDir;
  request.keepWeights = keepWeights || dumpWeights;
  if (elidedWeights != "error" && elidedWeights != "zeros") {
    error("--elided-weights='" + elidedWeights + "': expected error or zeros");
    return 1;
  }
  request.zeroElidedWeights = elidedWeights == "zeros";
  request.inputsOverrideInitializers = inputsOverrideInitializers;

  CompilerSession session;
  if (verbose)
    session.setPhaseHandler([](llvm::StringRef phase, double seconds) {
      llvm::errs() << "attnc: " << llvm::format("%-13s", phase.str().c_str())
                   << llvm::format("%8.3f s", seconds) << "\n";
    });
  int rc = failed(session.compileFile(inputFilename, request)) ? 1 : 0;
  if (verbose) {
    // Peak resident memory: attnc's own, and its child processes' when they
    // went higher (the linker maps the weights object it copies into the
    // library). A child spawned with vfork reports at least attnc's peak at
    // that moment (Linux carries the shared address space's high-water mark
    // over at exec), so a child's figure at or below attnc's says nothing.
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    llvm::errs() << "attnc: peak memory " << llvm::format("%.0f", self.ru_maxrss / 1024.0)
                 << " MB";
    if (children.ru_maxrss > self.ru_maxrss)
      llvm::errs() << " (a child process, the linker: "
                   << llvm::format("%.0f", children.ru_maxrss / 1024.0) << " MB)";
    llvm::errs() << "\n";
  }
  // MLIR's own statistics are compiled out of release LLVM builds; attnc's
  // passes keep theirs (attn/Compiler/Statistics.h).
  auto &opts = cl::getRegisteredOptions();
  auto it = opts.find("mlir-pass-statistics");
  if (it != opts.end())
    if (auto *flag = static_cast<cl::opt<bool> *>(it->second); flag->getValue())
      printPassStatistics(llvm::errs());
  return rc;
}
