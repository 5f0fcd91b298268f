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
// needs no file of the build tree at run time. The archives are the build
// tree's, or an installed attnc's <prefix>/lib/attnc/ (attncSupportFile).
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Pipeline.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

#include <dlfcn.h>

using namespace mlir;
using namespace mlir::attn;

//===----------------------------------------------------------------------===//
// Finding the archives: build tree or installation
//===----------------------------------------------------------------------===//

#ifndef ATTN_BUILD_DIR
#define ATTN_BUILD_DIR ""
#endif
#ifndef ATTN_PYTHON_TO_LIB
#define ATTN_PYTHON_TO_LIB "../../.."
#endif

/// The file this code was loaded from: the attnc executable, or the shared
/// object it is part of (the Python package's _native*.so), symlinks resolved.
static std::string ownPath() {
  static int anchor;
  std::string path = llvm::sys::fs::getMainExecutable(nullptr, &anchor);
  Dl_info info;
  if (dladdr(reinterpret_cast<void *>(&ownPath), &info) && info.dli_fname &&
      StringRef(info.dli_fname).contains(".so")) {
    SmallString<256> so;
    if (!llvm::sys::fs::real_path(info.dli_fname, so))
      path = so.str().str();
  }
  SmallString<256> real;
  if (!path.empty() && !llvm::sys::fs::real_path(path, real))
    return real.str().str();
  return path;
}

/// Whether `path`'s folder is the folder `dir` (both resolved).
static bool isIn(StringRef path, const Twine &dir) {
  SmallString<256> real, parent(path);
  llvm::sys::path::remove_filename(parent);
  return !llvm::sys::fs::real_path(dir, real) && parent == real;
}

std::string attn::attncSupportFile(StringRef buildTreePath) {
  static const std::string self = ownPath();
  // The build's attnc (and its other tools) in build/bin, the build's Python
  // package in build/python/attnc; anything else is an installed copy (even
  // one installed into a folder of the build tree, as the tests do).
  static const bool inBuildTree =
      self.empty() || (ATTN_BUILD_DIR[0] != '\0' &&
                       (isIn(self, Twine(ATTN_BUILD_DIR) + "/bin") ||
                        isIn(self, Twine(ATTN_BUILD_DIR) + "/python/attnc")));
  if (inBuildTree)
    return buildTreePath.str();
  SmallString<256> dir(self);
  llvm::sys::path::remove_filename(dir);
  if (llvm::sys::path::filename(self).starts_with("_native")) {
    // The installed Python package: <prefix>/<python dir>/attnc/_native*.so
    // -> <prefix>/lib/attnc/<file> (ATTN_PYTHON_TO_LIB: from the package's
    // folder to <prefix>/lib, CMakeLists.txt).
    llvm::sys::path::append(dir, ATTN_PYTHON_TO_LIB);
  } else {
    // Installed: <prefix>/bin/attnc -> <prefix>/lib/attnc/<file>.
    llvm::sys::path::remove_filename(dir); // <prefix>
    llvm::sys::path::append(dir, "lib");
  }
  llvm::sys::path::append(dir, "attnc", llvm::sys::path::filename(buildTreePath));
  llvm::sys::path::remove_dots(dir, /*remove_dot_dot=*/true);
  return dir.str().str();
}

LogicalResult attn::checkLinkFiles(bool executable, std::string &error) {
  SmallVector<std::string> files{attncSupportFile(ATTN_MODEL_SUPPORT_LIB)};
  if (executable)
    files.append({attncSupportFile(ATTN_EXE_MAIN_LIB), attncSupportFile(ATTN_RUN_LIB),
                  attncSupportFile(ATTN_RUNTIME_STATIC_LIB)});
  for (const std::string &archive : files) {
    if (!llvm::sys::fs::exists(archive)) {
      error = (executable ? "--emit=exe" : "linking a model library") + std::string(" needs '") +
              archive + "', which is missing (build the target attnc again, or install attnc again)";
      return failure();
    }
  }
  return success();
}

LogicalResult attn::linkExecutable(ArrayRef<std::string> objectPaths, StringRef outputPath,
                                   std::string &error) {
  if (failed(checkLinkFiles(/*executable=*/true, error)))
    return failure();
  const std::string exeMain = attncSupportFile(ATTN_EXE_MAIN_LIB),
                    runLib = attncSupportFile(ATTN_RUN_LIB),
                    runtime = attncSupportFile(ATTN_RUNTIME_STATIC_LIB),
                    support = attncSupportFile(ATTN_MODEL_SUPPORT_LIB);
  SmallVector<StringRef> args{"-o", outputPath};
  for (const std::string &object : objectPaths)
    args.push_back(object);
  // The model support archive's attn_model_run_ex is referenced weakly by
  // exe_main.c; -u pulls it in.
  args.append({exeMain, runLib, runtime, support,
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
