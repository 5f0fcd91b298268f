//===- Compiler.h - attnc as a library: one compile session -----*- C++ -*-===//
//
// The whole compile (import -> graph passes -> lowering -> LLVM IR -> machine
// code -> link) behind one API, used by the attnc tool and the Python
// package alike:
//
//   attn::CompilerSession session;            // context, dialects, diagnostics
//   attn::CompileRequest request;             // options in
//   request.emit = attn::Emit::Lib;
//   request.output = "model.so";
//   if (failed(session.compileFile("model.onnx", request)))
//     ...                                     // diagnostics went to the handler
//
// One MLIR pass manager runs every phase after the import: the graph passes,
// the signature, the target lowering and, as named passes of their own, the
// translation to optimized LLVM IR (attn-translate-to-llvm-ir), the machine
// code (attn-emit-machine-code) and the link (attn-link-library). MLIR's
// per-pass printing, --mlir-timing, --mlir-pass-pipeline-crash-reproducer and
// the request's dumpDir therefore cover all of it.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_COMPILER_COMPILER_H
#define ATTN_COMPILER_COMPILER_H

#include "attn/Compiler/Pipeline.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir::attn {

/// How far a compile goes, and what it produces.
enum class Emit {
  Imported, ///< the attn dialect as imported, before any pass
  Attn,     ///< the attn dialect after the graph passes
  Mlir,     ///< the lowered module (LLVM dialect + the ABI entry point)
  Llvm,     ///< optimized LLVM IR
  Asm,      ///< target assembly (cuda: the kernels' PTX)
  Obj,      ///< an object file (cuda: the kernels' cubin)
  Lib,      ///< a shared library (the default)
  Exe,      ///< a standalone executable: attn-run with the model linked in
};

/// "imported", "attn", "mlir", "llvm", "asm", "obj", "lib", "exe".
std::optional<Emit> parseEmit(llvm::StringRef name);
llvm::StringRef emitName(Emit emit);
/// Whether the result is text (printable to a terminal).
bool isTextEmit(Emit emit);

/// Everything one compile needs besides the model.
struct CompileRequest {
  CompileOptions options;
  Emit emit = Emit::Lib;
  /// Where the result goes: a file path, "-" for stdout (not for obj/lib/exe), or
  /// empty: into the string passed to compile() / compileFile().
  std::string output;
  /// Writes the module after every pass to DIR/NN-<pass>.mlir.
  std::string dumpDir;
  /// Keep the weight blobs in text results and --dump-ir files (else blobs
  /// over 1 KiB are elided: `dense_resource<__elided__>`).
  bool keepWeights = false;
  /// A .mlir input printed with elided weights: compile it with zero weights
  /// (a warning says so) instead of refusing it.
  bool zeroElidedWeights = false;
  /// Graph inputs that also have an initializer become model inputs.
  bool inputsOverrideInitializers = false;
};

/// One diagnostic, with the location already said the way users read it:
/// "node 'Add_5'" for an ONNX node, "file:line:col" for .mlir input.
struct CompileDiagnostic {
  DiagnosticSeverity severity = DiagnosticSeverity::Error;
  /// A compiler bug (e.g. an op verifier failing on IR a pass built), not
  /// bad input; the message ends with "(please report)".
  bool internal = false;
  std::string location; ///< empty when unknown
  std::string message;
  std::vector<CompileDiagnostic> notes;

  /// "error", "internal error", "warning", "remark" or "note".
  llvm::StringRef severityName() const;
  /// "<location>: <message>" (or just the message).
  std::string str() const;
};

/// A compile session: one MLIR context with every dialect and translation
/// attnc uses, and the diagnostics of everything compiled in it. A session is
/// used by one thread at a time; separate sessions are independent.
class CompilerSession {
public:
  CompilerSession();
  ~CompilerSession();
  CompilerSession(const CompilerSession &) = delete;
  CompilerSession &operator=(const CompilerSession &) = delete;

  MLIRContext &getContext();

  /// Receives every diagnostic. The default prints
  /// "attnc: error: node 'X': message" to stderr.
  void setDiagnosticHandler(std::function<void(const CompileDiagnostic &)> handler);
  /// Receives each phase's wall time as it ends (import, graph passes,
  /// lowering, LLVM IR, machine code, link); none by default.
  void setPhaseHandler(std::function<void(llvm::StringRef phase, double seconds)> handler);

  /// Loads a model: .onnx, .onnxtext or .mlir (attn dialect). Null on error.
  OwningOpRef<ModuleOp> loadFile(llvm::StringRef path, const CompileRequest &request);

  /// Compiles `module` as `request` says. When request.output is empty the
  /// result (text or bytes) is stored in `*result`.
  LogicalResult compile(ModuleOp module, const CompileRequest &request,
                        std::string *result = nullptr);

  /// loadFile + compile, with the import timed as the first phase.
  LogicalResult compileFile(llvm::StringRef path, const CompileRequest &request,
                            std::string *result = nullptr);

  /// Errors reported so far in this session.
  unsigned getNumErrors() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl;
};

/// Registers, once per process, what a compile needs globally: the passes
/// attnc's pipelines use (registerCompilerPasses; they are partly textual)
/// and the command-line options of the MLIR context, pass manager, timing
/// and printer (without them, e.g. applyPassManagerCLOptions fails). A tool
/// calls it before parsing its command line; CompilerSession's constructor
/// calls it too.
void registerCompilerGlobals();

/// Registers the passes attnc's pipelines use (upstream ones their textual
/// parts name, and attnc's own): not all of MLIR's, which would link every
/// LLVM backend into a static attnc (Registration.cpp).
void registerCompilerPasses();

/// Registers the dialects attnc builds, their external interface models and
/// extensions, and the CUDA code generation's translations.
void registerCompilerDialects(DialectRegistry &registry);

/// Checks the CPU name and feature string of `options` against the host
/// target's tables (a typo would otherwise end in an LLVM fatal error).
LogicalResult validateTargetOptions(const CompileOptions &options, std::string &error);

/// Checks that `path` can be written before anything is compiled: not a
/// folder, in a folder that exists and is writable. "-" is stdout.
LogicalResult checkOutputPath(llvm::StringRef path, std::string &error);

/// Parses "cpu", "cuda", "cuda:sm_80", "cuda:sm_90" into `options`.
LogicalResult parseTarget(llvm::StringRef name, CompileOptions &options, std::string &error);

} // namespace mlir::attn

#endif // ATTN_COMPILER_COMPILER_H
