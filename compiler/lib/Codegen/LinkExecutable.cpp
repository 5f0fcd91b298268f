//===- LinkExecutable.cpp - the executable of --emit=exe ------------------===//
//
// `attnc m.onnx --emit=exe -o m` links the model's object file(s) (the same
// ones a shared library is linked from) with, from this build:
//   libattn_exe_main.a     main(): hands the model's ABI functions to ...
//   libattn_run_lib.a      ... attn-run's command line (tools/attn-run),
//   libattn_runtime_static.a  the runtime (attn_model_from_symbols),
//   libattn_model_support.a   what every model library links (allocation
//                             hooks, attn_model_run_ex),
// and system libraries only: libomp (rpath to LLVM's library folder, as for
// model libraries), libstdc++, libm, libdl, libpthread. The program then
// needs no file of the build tree at run time.
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Pipeline.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FileSystem.h"

using namespace mlir;
using namespace mlir::attn;

LogicalResult attn::linkExecutable(ArrayRef<std::string> objectPaths, StringRef outputPath,
                                   std::string &error) {
  for (const char *archive : {ATTN_EXE_MAIN_LIB, ATTN_RUN_LIB, ATTN_RUNTIME_STATIC_LIB}) {
    if (!llvm::sys::fs::exists(archive)) {
      error = std::string("--emit=exe needs '") + archive +
              "', which this attnc's build did not make (build the target attnc again)";
      return failure();
    }
  }
  SmallVector<StringRef> args{"-o", outputPath};
  for (const std::string &object : objectPaths)
    args.push_back(object);
  // The model support archive's attn_model_run_ex is referenced weakly by
  // exe_main.c; -u pulls it in.
  args.append({ATTN_EXE_MAIN_LIB, ATTN_RUN_LIB, ATTN_RUNTIME_STATIC_LIB, ATTN_MODEL_SUPPORT_LIB,
               "-Wl,-u,attn_model_run_ex", "-Wl,-z,noexecstack", "-L" ATTN_OPENMP_LIB_DIR,
               "-Wl,--disable-new-dtags", "-Wl,-rpath," ATTN_OPENMP_LIB_DIR, "-lomp",
               "-lstdc++", "-lm", "-ldl", "-lpthread"});
  // A sanitizer build's runtime and attn-run objects are instrumented: the
  // program links the sanitizer runtimes (the C++ parts too).
  std::string sanitize = ATTN_EXE_SANITIZE;
  std::string sanitizeFlag = "-fsanitize=" + sanitize;
  if (!sanitize.empty()) {
    args.push_back(sanitizeFlag);
    args.push_back("-fsanitize-link-c++-runtime");
  }
  return runLinkerDriver(args, outputPath, error);
}
