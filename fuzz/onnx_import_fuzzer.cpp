//===- onnx_import_fuzzer.cpp - libFuzzer target: the ONNX importer -------===//
//
// Feeds arbitrary bytes to mlir::attn::importOnnxFile as a binary `.onnx`
// model (or, built with ATTN_FUZZ_ONNXTEXT, as an `.onnxtext` model for the
// ONNX text parser path), then runs the MLIR verifier on every module the
// importer accepts. Bad input must end in a diagnostic and a null module:
// any crash, sanitizer report, timeout or out-of-memory is a finding.
//
// A module that imports but fails the verifier is reported on stderr (once
// per distinct message) and, with ATTN_FUZZ_STRICT_VERIFY=1 in the
// environment, aborts as well: attnc would then stop with the verifier's
// message instead of one naming the ONNX node.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "attn/Compiler/Frontend/OnnxImporter.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <set>

#ifdef ATTN_FUZZ_ONNXTEXT
static const char *kFileName = "model.onnxtext";
#else
static const char *kFileName = "model.onnx";
#endif

// One MLIRContext serves kContextRuns inputs (creating one and loading the
// dialects costs more than importing a small model); then a fresh one, so that
// uniqued attributes and weight blobs of earlier inputs do not pile up.
static constexpr unsigned kContextRuns = 500;

static mlir::MLIRContext &context() {
  static std::unique_ptr<mlir::MLIRContext> ctx;
  static unsigned runs = 0;
  if (!ctx || ++runs % kContextRuns == 0)
    ctx = std::make_unique<mlir::MLIRContext>(
        mlir::MLIRContext::Threading::DISABLED);
  return *ctx;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = attn_fuzz::writeScratchFile(kFileName, data, size);

  mlir::MLIRContext &ctx = context();
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic &diag) {
    llvm::raw_string_ostream os(diagnostics);
    os << diag << "\n";
    return mlir::success();
  });
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::attn::importOnnxFile(ctx, path);
  if (!module)
    return 0;
  diagnostics.clear();
  if (mlir::failed(mlir::verify(*module))) {
    static std::set<std::string> seen;
    if (seen.insert(diagnostics).second)
      llvm::errs() << "attn-fuzz: imported module fails the verifier:\n"
                   << diagnostics;
    const char *strict = getenv("ATTN_FUZZ_STRICT_VERIFY");
    if (strict && strict[0] == '1')
      abort();
  }
  return 0;
}
