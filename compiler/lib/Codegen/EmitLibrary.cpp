//===- EmitLibrary.cpp - LLVM IR, machine code and the shared library -----===//
#include "attn/Compiler/Pipeline.h"
#include "attn/Compiler/Statistics.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/BinaryFormat/ELF.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/OptimizationLevel.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Object/ELFObjectFile.h"
#include "llvm/Object/ObjectFile.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Transforms/IPO/MergeFunctions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/Transforms/Utils/Cloning.h"
#include "llvm/Transforms/Utils/SplitModule.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <thread>
#include <tuple>

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

/// Stores of bf16 values that are bitcasts of i16 bits (the integer f32 ->
/// bf16 expansion, ApproximateMath.cpp) store the i16 bits instead. Otherwise
/// LLVM's instcombine moves the bitcast above the expansion's NaN select, and
/// the x86 backend without AVX512-BF16 lowers a select on bf16 vectors
/// through compiler-rt's __truncsfbf2, which a model library cannot resolve
/// (test/onnx-node/cast_bf16_dynamic.test). A store only moves bits.
static void storeBF16BitsAsI16(ModuleOp module) {
  auto isBF16 = [](Type t) { return getElementTypeOrSelf(t).isBF16(); };
  llvm::SetVector<Operation *> maybeDead;
  module.walk([&](Operation *op) {
    if (!isa<LLVM::StoreOp, LLVM::MaskedStoreOp>(op))
      return;
    auto cast = op->getOperand(0).getDefiningOp<LLVM::BitcastOp>();
    if (!cast || !isBF16(cast.getType()) ||
        !getElementTypeOrSelf(cast.getArg().getType()).isInteger(16))
      return;
    op->setOperand(0, cast.getArg());
    maybeDead.insert(cast);
  });
  for (Operation *cast : maybeDead)
    if (cast->use_empty())
      cast->erase();
  // Likewise loads of bf16 values read only as i16 bits (the bf16 -> f32
  // expansion) load the i16 bits: a masked load of bf16 vectors is
  // legalized through the same libcall.
  SmallVector<Operation *> loads;
  module.walk([&](Operation *op) {
    if (isa<LLVM::LoadOp, LLVM::MaskedLoadOp>(op) && isBF16(op->getResult(0).getType()))
      loads.push_back(op);
  });
  for (Operation *load : loads) {
    Type bits;
    bool allBitcasts = !load->use_empty();
    for (Operation *user : load->getUsers()) {
      auto cast = dyn_cast<LLVM::BitcastOp>(user);
      if (!cast || !getElementTypeOrSelf(cast.getType()).isInteger(16) ||
          (bits && bits != cast.getType())) {
        allBitcasts = false;
        break;
      }
      bits = cast.getType();
    }
    if (!allBitcasts)
      continue;
    if (auto masked = dyn_cast<LLVM::MaskedLoadOp>(load)) {
      if (Value passThru = masked.getPassThru()) {
        OpBuilder b(load);
        masked.getPassThruMutable().assign(
            LLVM::BitcastOp::create(b, load->getLoc(), bits, passThru));
      }
    }
    load->getResult(0).setType(bits);
    for (Operation *user : llvm::make_early_inc_range(load->getUsers())) {
      user->getResult(0).replaceAllUsesWith(load->getResult(0));
      user->erase();
    }
  }
}

/// Runs the -O pipeline (`mergeFirst`: MergeFunctions before it; with
/// `mergeOnly`, nothing else) on `module` for the chosen CPU.
static void optimizeModule(llvm::Module &module, llvm::TargetMachine &tm,
                           const CompileOptions &options, bool mergeFirst, bool mergeOnly) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions pto;
  pto.LoopVectorization = options.optLevel >= 2;
  pto.SLPVectorization = options.optLevel >= 2;
  llvm::PassBuilder pb(&tm, pto);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::OptimizationLevel level = options.optLevel >= 3   ? llvm::OptimizationLevel::O3
                                  : options.optLevel == 2 ? llvm::OptimizationLevel::O2
                                  : options.optLevel == 1 ? llvm::OptimizationLevel::O1
                                                          : llvm::OptimizationLevel::O0;
  llvm::ModulePassManager mpm;
  if (level == llvm::OptimizationLevel::O0) {
    if (!mergeOnly)
      mpm = pb.buildO0DefaultPipeline(level);
  } else {
    // Identical functions (e.g. OpenMP bodies that read no weight) merged
    // before the optimizer: no optimizing and code generation of copies.
    if (mergeFirst)
      mpm.addPass(llvm::MergeFunctionsPass());
    if (!mergeOnly)
      mpm.addPass(pb.buildPerModuleDefaultPipeline(level));
  }
  mpm.run(module, mam);
}

std::unique_ptr<llvm::Module>
attn::translateToOptimizedLLVMIR(ModuleOp module, llvm::LLVMContext &llvmContext,
                                 const CompileOptions &options, bool optimize) {
  storeBF16BitsAsI16(module);
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

  optimizeModule(*llvmModule, *tm, options, /*mergeFirst=*/true, /*mergeOnly=*/!optimize);
  return llvmModule;
}

/// Writes `module`'s assembly or object file with `tm`.
static LogicalResult emitWith(llvm::TargetMachine &tm, llvm::Module &module, StringRef path,
                              bool assembly, std::string &error) {
  std::error_code ec;
  llvm::ToolOutputFile out(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    error = "cannot open '" + path.str() + "': " + ec.message();
    return failure();
  }
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, out.os(), nullptr,
                              assembly ? llvm::CodeGenFileType::AssemblyFile
                                       : llvm::CodeGenFileType::ObjectFile)) {
    error = "the target cannot emit this file type";
    return failure();
  }
  pm.run(module);
  out.keep();
  return success();
}

LogicalResult attn::emitMachineCode(llvm::Module &module, StringRef path,
                                    bool assembly, const CompileOptions &options,
                                    std::string &error) {
  auto tm = createTargetMachine(options, error);
  if (!tm)
    return failure();
  return emitWith(*tm, module, path, assembly, error);
}

/// Splits `module` into `n` partitions of about equal work, handing each to
/// `callback`. llvm::SplitModule balances the number of functions (or hashes
/// names); a model is one large function (the per-layer glue) beside many
/// small kernels, so that put the model function and half the kernels in one
/// partition, whose thread then ran long after the other's. Here functions
/// go, largest first, to the partition with the least work so far (work =
/// instructions before optimization), and every other global goes with the
/// first function that uses it, so that constants stay beside their users
/// for the optimizer. As in SplitModule, local symbols become hidden.
/// Modules with comdats or ifuncs (attnc makes none) go to SplitModule.
static void splitBalanced(llvm::Module &module, unsigned n,
                          llvm::function_ref<void(std::unique_ptr<llvm::Module>)> callback) {
  if (!module.getComdatSymbolTable().empty() || !module.ifunc_empty()) {
    llvm::SplitModule(module, n, callback, /*PreserveLocals=*/false, /*RoundRobin=*/true);
    return;
  }
  unsigned unnamed = 0;
  for (llvm::GlobalValue &gv : module.global_values()) {
    if (gv.hasLocalLinkage()) {
      gv.setLinkage(llvm::GlobalValue::ExternalLinkage);
      gv.setVisibility(llvm::GlobalValue::HiddenVisibility);
    }
    if (!gv.hasName())
      gv.setName("__attn_split_unnamed_" + llvm::Twine(unnamed++));
  }
  llvm::DenseMap<const llvm::GlobalValue *, unsigned> partitionOf;
  // Largest first; equal sizes in module order (a deterministic split).
  SmallVector<std::tuple<unsigned, unsigned, llvm::Function *>> functions;
  for (llvm::Function &f : module)
    if (!f.isDeclaration())
      functions.push_back({f.getInstructionCount(), functions.size(), &f});
  llvm::sort(functions, [](const auto &a, const auto &b) {
    return std::get<0>(a) != std::get<0>(b) ? std::get<0>(a) > std::get<0>(b)
                                            : std::get<1>(a) < std::get<1>(b);
  });
  SmallVector<uint64_t> work(n, 0);
  for (auto [size, index, f] : functions) {
    unsigned least = std::min_element(work.begin(), work.end()) - work.begin();
    partitionOf[f] = least;
    work[least] += size + 1;
  }
  // A global variable or alias: the partition of its first user function.
  std::function<std::optional<unsigned>(const llvm::Value *, SmallPtrSetImpl<const llvm::Value *> &)>
      userPartition = [&](const llvm::Value *v, SmallPtrSetImpl<const llvm::Value *> &seen)
      -> std::optional<unsigned> {
    if (!seen.insert(v).second)
      return std::nullopt;
    for (const llvm::User *u : v->users()) {
      if (auto *inst = dyn_cast<llvm::Instruction>(u))
        return partitionOf.lookup(inst->getFunction());
      if (auto p = userPartition(u, seen))
        return p;
    }
    return std::nullopt;
  };
  for (llvm::GlobalValue &gv : module.global_values()) {
    if (isa<llvm::Function>(gv))
      continue;
    SmallPtrSet<const llvm::Value *, 8> seen;
    partitionOf[&gv] = userPartition(&gv, seen).value_or(0);
  }
  for (unsigned i = 0; i < n; ++i) {
    llvm::ValueToValueMapTy map;
    std::unique_ptr<llvm::Module> part =
        llvm::CloneModule(module, map, [&](const llvm::GlobalValue *gv) {
          auto it = partitionOf.find(gv);
          return (it == partitionOf.end() ? 0u : it->second) == i;
        });
    if (i != 0)
      part->setModuleInlineAsm("");
    callback(std::move(part));
  }
}

LogicalResult attn::emitObjectsInParallel(llvm::Module &module, ArrayRef<std::string> paths,
                                          const CompileOptions &options, bool optimize,
                                          std::string &error) {
  // Each partition travels as bitcode into its own LLVMContext (a context is
  // not thread-safe), as LLVM's own parallel code generation (ParallelCG)
  // does; instruction selection and the object writer then run in parallel.
  SmallVector<SmallString<0>> bitcode;
  splitBalanced(module, paths.size(), [&](std::unique_ptr<llvm::Module> part) {
    SmallString<0> buffer;
    llvm::raw_svector_ostream os(buffer);
    llvm::WriteBitcodeToFile(*part, os);
    bitcode.push_back(std::move(buffer));
  });
  static PassStatistic numPartitions("attn-emit-machine-code", "partitions",
                                     "Objects generated in parallel");
  numPartitions += bitcode.size();
  if (bitcode.size() != paths.size()) {
    error = "splitting the module for parallel code generation failed";
    return failure();
  }
  std::vector<std::string> errors(paths.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < paths.size(); ++i)
    threads.emplace_back([&, i] {
      llvm::LLVMContext context;
      llvm::Expected<std::unique_ptr<llvm::Module>> part =
          llvm::parseBitcodeFile(llvm::MemoryBufferRef(bitcode[i], "partition"), context);
      if (!part) {
        errors[i] = llvm::toString(part.takeError());
        return;
      }
      auto tm = createTargetMachine(options, errors[i]);
      if (!tm)
        return;
      if (optimize)
        optimizeModule(**part, *tm, options, /*mergeFirst=*/false, /*mergeOnly=*/false);
      (void)emitWith(*tm, **part, paths[i], /*assembly=*/false, errors[i]);
    });
  for (std::thread &t : threads)
    t.join();
  for (const std::string &e : errors)
    if (!e.empty()) {
      error = e;
      return failure();
    }
  return success();
}

/// The linker driver runLinkerDriver runs (empty if none), and whether it
/// links with ld.lld.
static std::pair<std::string, bool> linkerDriver() {
  std::string driver = ATTN_LINKER_DRIVER;
  if (!llvm::sys::fs::can_execute(driver)) {
    auto found = llvm::sys::findProgramByName("cc");
    return {found ? *found : std::string(), false};
  }
  // LLVM's linker when it is installed beside the clang driver: it writes a
  // library of 90 MB of weights in about half the time of GNU ld.
  SmallString<128> lld(llvm::sys::path::parent_path(driver));
  llvm::sys::path::append(lld, "ld.lld");
  return {driver, llvm::sys::fs::can_execute(lld)};
}

LogicalResult attn::runLinkerDriver(ArrayRef<StringRef> args, StringRef outputPath,
                                    std::string &error) {
  auto [driver, lld] = linkerDriver();
  if (driver.empty()) {
    error = "no linker driver found (looked for " ATTN_LINKER_DRIVER " and cc)";
    return failure();
  }
  SmallVector<StringRef> argv{driver};
  if (lld)
    argv.push_back("-fuse-ld=lld");
  argv.append(args.begin(), args.end());
  std::string msg;
  int rc = llvm::sys::ExecuteAndWait(driver, argv, std::nullopt, {}, 0, 0, &msg);
  if (rc != 0) {
    error = "linking '" + outputPath.str() + "' with " + driver + " failed" +
            (msg.empty() ? "" : ": " + msg);
    return failure();
  }
  return success();
}

/// Closes a file written with `os`, reporting a write error as a message.
static LogicalResult closeWritten(llvm::raw_fd_ostream &os, StringRef path, std::string &error) {
  os.close();
  if (os.has_error()) {
    error = "cannot write '" + path.str() + "': " + os.error().message();
    os.clear_error();
    return failure();
  }
  return success();
}

namespace {
/// The weights object as externalizeWeights wrote it: one section of `size`
/// bytes at `fileOffset`, and the symbols at their offsets in it.
struct WeightsLayout {
  uint64_t fileOffset = 0, size = 0, align = 1;
  std::vector<std::pair<std::string, uint64_t>> symbols;
};
} // namespace

static constexpr const char *kWeightsSection = ".rodata.attn_weights";
static constexpr const char *kLinkedWeightsSection = ".attn_weights";

/// The named section of an ELF64 little-endian file (our weights object or
/// the library the linker wrote), with the symbols defined in it. Only the
/// headers and tables are read, never the section's bytes.
static std::optional<WeightsLayout> readElfSection(StringRef path, StringRef name,
                                                   bool withSymbols, std::string &error) {
  auto fail = [&](const Twine &why) -> std::optional<WeightsLayout> {
    error = ("cannot read the weights section of '" + path + "': " + why).str();
    return std::nullopt;
  };
  auto binary = llvm::object::ObjectFile::createObjectFile(path);
  if (!binary)
    return fail(llvm::toString(binary.takeError()));
  auto *elf = dyn_cast<llvm::object::ELF64LEObjectFile>(binary->getBinary());
  if (!elf)
    return fail("not an ELF64 little-endian file");
  std::optional<WeightsLayout> layout;
  unsigned index = 0;
  for (const llvm::object::SectionRef &section : elf->sections()) {
    auto sectionName = section.getName();
    if (!sectionName)
      return fail(llvm::toString(sectionName.takeError()));
    if (*sectionName != name)
      continue;
    auto header = elf->getSection(section.getRawDataRefImpl());
    layout.emplace();
    layout->fileOffset = header->sh_offset;
    layout->size = header->sh_size;
    layout->align = std::max<uint64_t>(1, header->sh_addralign);
    index = section.getIndex();
    break;
  }
  if (!layout)
    return fail("no section " + name);
  if (withSymbols) {
    for (const llvm::object::SymbolRef &symbol : elf->symbols()) {
      auto section = symbol.getSection();
      auto symbolName = symbol.getName();
      auto value = symbol.getValue();
      if (!section || !symbolName || !value) {
        llvm::consumeError(section.takeError());
        llvm::consumeError(symbolName.takeError());
        llvm::consumeError(value.takeError());
        return fail("a bad symbol");
      }
      if (*section == elf->section_end() || (*section)->getIndex() != index)
        continue;
      if (symbolName->empty())
        continue;
      // In a relocatable object a symbol's value is its offset in the section.
      layout->symbols.emplace_back(symbolName->str(), *value);
    }
  }
  return layout;
}

static std::optional<WeightsLayout> readWeightsLayout(StringRef path, std::string &error) {
  return readElfSection(path, kWeightsSection, /*withSymbols=*/true, error);
}

/// An ld.lld script that adds the weights' section after .text (read-only,
/// a segment of its own) with its symbols at their offsets, leaving every
/// other default of the link as it is (INSERT).
static LogicalResult writeWeightsScript(const WeightsLayout &layout, StringRef path,
                                        std::string &error) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_Text);
  if (ec) {
    error = "cannot write '" + path.str() + "': " + ec.message();
    return failure();
  }
  os << "SECTIONS\n{\n  " << kLinkedWeightsSection << " : ALIGN(" << layout.align << ")\n  {\n";
  for (const auto &[name, offset] : layout.symbols) {
    // Our symbol names are "__attn_weight." + an MLIR symbol name; quoted,
    // and anything a script string cannot hold refused.
    if (StringRef(name).find_first_of("\"\\\n") != StringRef::npos) {
      error = "weight symbol '" + name + "' cannot be named in a linker script";
      return failure();
    }
    os << "    HIDDEN(\"" << name << "\" = . + " << offset << ");\n";
  }
  os << "    . += " << layout.size << ";\n  }\n}\nINSERT AFTER .text;\n";
  return closeWritten(os, path, error);
}

/// Copies the weights' bytes from their object into the section the script
/// reserved in the library (in the kernel: no process holds them).
static LogicalResult copyWeightsInto(const WeightsLayout &from, StringRef weightsObject,
                                     StringRef library, std::string &error) {
  std::optional<WeightsLayout> to =
      readElfSection(library, kLinkedWeightsSection, /*withSymbols=*/false, error);
  if (!to)
    return failure();
  if (to->size != from.size) {
    error = "the linker reserved " + std::to_string(to->size) + " bytes for the weights of '" +
            library.str() + "', not " + std::to_string(from.size);
    return failure();
  }
  int in = -1, out = -1;
  if (auto ec = llvm::sys::fs::openFileForRead(weightsObject, in)) {
    error = "cannot read '" + weightsObject.str() + "': " + ec.message();
    return failure();
  }
  llvm::scope_exit closeIn([&] { ::close(in); });
  if (auto ec = llvm::sys::fs::openFileForReadWrite(library, out, llvm::sys::fs::CD_OpenExisting,
                                                   llvm::sys::fs::OF_None)) {
    error = "cannot write '" + library.str() + "': " + ec.message();
    return failure();
  }
  llvm::scope_exit closeOut([&] { ::close(out); });
  loff_t inOff = from.fileOffset, outOff = to->fileOffset;
  uint64_t left = from.size;
  std::vector<char> buffer; // the fallback where copy_file_range cannot
  while (left > 0) {
    ssize_t n = -1;
    if (buffer.empty()) {
      n = ::copy_file_range(in, &inOff, out, &outOff, std::min<uint64_t>(left, 1u << 30), 0);
      if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP ||
                    errno == EPERM)) {
        buffer.resize(1 << 20);
        continue;
      }
    } else {
      n = ::pread(in, buffer.data(), std::min<uint64_t>(left, buffer.size()), inOff);
      if (n > 0) {
        ssize_t w = ::pwrite(out, buffer.data(), n, outOff);
        if (w != n)
          n = -1;
        else {
          inOff += n;
          outOff += n;
        }
      }
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      error = "cannot copy the weights into '" + library.str() + "': " +
              (n == 0 ? std::string("unexpected end of file") : std::string(strerror(errno)));
      return failure();
    }
    left -= n;
  }
  return success();
}

LogicalResult attn::linkSharedLibrary(ArrayRef<std::string> objectPaths, StringRef weightsObject,
                                      StringRef outputPath, std::string &error) {
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
  if (failed(checkLinkFiles(/*executable=*/false, error)))
    return failure();
  const std::string support = attncSupportFile(ATTN_MODEL_SUPPORT_LIB);
  SmallVector<StringRef> args{"-shared", "-o", outputPath};
  for (const std::string &object : objectPaths)
    args.push_back(object);
  args.append({support, "-Wl,-z,noexecstack", "-L" ATTN_OPENMP_LIB_DIR,
               "-Wl,--disable-new-dtags", "-Wl,-rpath," ATTN_OPENMP_LIB_DIR, "-lomp", "-lm"});
  if (weightsObject.empty())
    return runLinkerDriver(args, outputPath, error);
  if (!linkerDriver().second) {
    // GNU ld: the weights object is linked like the others.
    args.push_back(weightsObject);
    return runLinkerDriver(args, outputPath, error);
  }
  std::optional<WeightsLayout> layout = readWeightsLayout(weightsObject, error);
  if (!layout)
    return failure();
  SmallString<128> script;
  if (auto ec = llvm::sys::fs::createTemporaryFile("attnc-weights", "ld", script)) {
    error = "cannot create a temporary file: " + ec.message();
    return failure();
  }
  llvm::FileRemover removeScript(script);
  if (failed(writeWeightsScript(*layout, script, error)))
    return failure();
  std::string scriptArg = ("-Wl,-T," + script).str();
  args.push_back(scriptArg);
  // The build id hashes the whole output: it would read the reserved bytes.
  args.push_back("-Wl,--build-id=none");
  if (failed(runLinkerDriver(args, outputPath, error)))
    return failure();
  if (failed(copyWeightsInto(*layout, weightsObject, outputPath, error))) {
    // Never leave a library whose weights are zeros.
    llvm::sys::fs::remove(outputPath);
    return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Weights outside LLVM IR
//===----------------------------------------------------------------------===//
//
// A weight reaches the LLVM dialect as a constant llvm.mlir.global whose value
// is a dense_resource blob (or a large dense constant). Translated as it is,
// its bytes are copied into an LLVM constant, go through the optimizer and the
// code generator (MC keeps another copy) and are written by the object writer:
// most of the compile time and memory of a model with real weights. Instead,
// each such global becomes an external hidden declaration of the code object,
// and the bytes go straight from the blob into a second, minimal ELF
// relocatable object (one read-only section, a symbol per weight) linked into
// the same library: same read-only data, same addresses resolution (PC
// relative, hidden), no copy in between.

namespace {
/// The ELF machine of the host triple for the objects we can write, or
/// EM_NONE (weights then stay in LLVM IR).
uint16_t weightsObjectMachine(const llvm::Triple &triple) {
  if (!triple.isOSBinFormatELF() || !triple.isLittleEndian() || !triple.isArch64Bit())
    return llvm::ELF::EM_NONE;
  switch (triple.getArch()) {
  case llvm::Triple::x86_64: return llvm::ELF::EM_X86_64;
  case llvm::Triple::aarch64: return llvm::ELF::EM_AARCH64;
  default: return llvm::ELF::EM_NONE;
  }
}

/// The bytes of a global's value when it is a weight we can move: a
/// non-splat dense or dense_resource constant of byte-sized int/float
/// elements whose storage is exactly the array's memory image.
std::optional<ArrayRef<char>> weightBytes(LLVM::GlobalOp g) {
  if (!g.getConstant() || g.getLinkage() != LLVM::Linkage::Private ||
      !g.getInitializerRegion().empty() || g.getSection() || g.getThreadLocal_())
    return std::nullopt;
  Attribute value = g.getValueOrNull();
  auto elements = dyn_cast_or_null<ElementsAttr>(value);
  if (!elements)
    return std::nullopt;
  Type elt = elements.getShapedType().getElementType();
  if (!elt.isIntOrFloat() || elt.getIntOrFloatBitWidth() % 8 != 0)
    return std::nullopt;
  uint64_t expected = uint64_t(elements.getShapedType().getNumElements()) *
                      (elt.getIntOrFloatBitWidth() / 8);
  ArrayRef<char> bytes;
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(value)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return std::nullopt;
    bytes = blob->getData();
  } else if (auto dense = dyn_cast<DenseElementsAttr>(value)) {
    if (dense.isSplat())
      return std::nullopt;
    bytes = dense.getRawData();
  } else {
    return std::nullopt;
  }
  if (bytes.size() != expected)
    return std::nullopt;
  return bytes;
}

/// Writes the ELF64 relocatable object: section 1 holds the blobs (each at
/// `offsets[i]`), one global hidden STT_OBJECT symbol per name.
LogicalResult writeWeightsElf(StringRef path, uint16_t machine,
                              ArrayRef<ArrayRef<char>> blobs, ArrayRef<uint64_t> blobOffsets,
                              uint64_t sectionAlign, uint64_t sectionSize,
                              ArrayRef<std::tuple<std::string, unsigned, uint64_t>> symbols,
                              std::string &error) {
  using namespace llvm::ELF;
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    error = "cannot open '" + path.str() + "': " + ec.message();
    return failure();
  }
  // Section names and symbol names.
  std::string shstrtab("\0", 1);
  auto addName = [](std::string &table, StringRef name) {
    uint32_t at = table.size();
    table += name.str();
    table.push_back('\0');
    return at;
  };
  uint32_t nData = addName(shstrtab, kWeightsSection);
  uint32_t nStack = addName(shstrtab, ".note.GNU-stack");
  uint32_t nSymtab = addName(shstrtab, ".symtab");
  uint32_t nStrtab = addName(shstrtab, ".strtab");
  uint32_t nShstrtab = addName(shstrtab, ".shstrtab");
  std::string strtab("\0", 1);
  std::vector<Elf64_Sym> syms(1);
  std::memset(&syms[0], 0, sizeof(Elf64_Sym));
  for (auto &[name, blob, offset] : symbols) {
    Elf64_Sym s;
    std::memset(&s, 0, sizeof(s));
    s.st_name = addName(strtab, name);
    s.setBindingAndType(STB_GLOBAL, STT_OBJECT);
    s.st_other = STV_HIDDEN;
    s.st_shndx = 1;
    s.st_value = offset;
    s.st_size = blobs[blob].size();
    syms.push_back(s);
  }

  auto alignTo = [](uint64_t x, uint64_t a) { return (x + a - 1) / a * a; };
  uint64_t dataOffset = alignTo(sizeof(Elf64_Ehdr), sectionAlign);
  uint64_t symOffset = alignTo(dataOffset + sectionSize, 8);
  uint64_t strOffset = symOffset + syms.size() * sizeof(Elf64_Sym);
  uint64_t shstrOffset = strOffset + strtab.size();
  uint64_t shOffset = alignTo(shstrOffset + shstrtab.size(), 8);

  Elf64_Ehdr eh;
  std::memset(&eh, 0, sizeof(eh));
  std::memcpy(eh.e_ident, ElfMagic, 4);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
  eh.e_type = ET_REL;
  eh.e_machine = machine;
  eh.e_version = EV_CURRENT;
  eh.e_shoff = shOffset;
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_shentsize = sizeof(Elf64_Shdr);
  eh.e_shnum = 6;
  eh.e_shstrndx = 5;

  uint64_t pos = 0;
  auto write = [&](const void *p, uint64_t n) {
    os.write(static_cast<const char *>(p), n);
    pos += n;
  };
  auto padTo = [&](uint64_t at) {
    static const char zeros[64] = {};
    while (pos < at)
      write(zeros, std::min<uint64_t>(sizeof(zeros), at - pos));
  };
  write(&eh, sizeof(eh));
  for (size_t i = 0; i < blobs.size(); ++i) {
    padTo(dataOffset + blobOffsets[i]);
    write(blobs[i].data(), blobs[i].size());
  }
  padTo(symOffset);
  write(syms.data(), syms.size() * sizeof(Elf64_Sym));
  write(strtab.data(), strtab.size());
  write(shstrtab.data(), shstrtab.size());
  padTo(shOffset);

  Elf64_Shdr sh[6];
  std::memset(sh, 0, sizeof(sh));
  sh[1].sh_name = nData;
  sh[1].sh_type = SHT_PROGBITS;
  sh[1].sh_flags = SHF_ALLOC;
  sh[1].sh_offset = dataOffset;
  sh[1].sh_size = sectionSize;
  sh[1].sh_addralign = sectionAlign;
  sh[2].sh_name = nStack;
  sh[2].sh_type = SHT_PROGBITS;
  sh[2].sh_offset = dataOffset;
  sh[2].sh_addralign = 1;
  sh[3].sh_name = nSymtab;
  sh[3].sh_type = SHT_SYMTAB;
  sh[3].sh_offset = symOffset;
  sh[3].sh_size = syms.size() * sizeof(Elf64_Sym);
  sh[3].sh_link = 4;
  sh[3].sh_info = 1; // index of the first non-local symbol
  sh[3].sh_addralign = 8;
  sh[3].sh_entsize = sizeof(Elf64_Sym);
  sh[4].sh_name = nStrtab;
  sh[4].sh_type = SHT_STRTAB;
  sh[4].sh_offset = strOffset;
  sh[4].sh_size = strtab.size();
  sh[4].sh_addralign = 1;
  sh[5].sh_name = nShstrtab;
  sh[5].sh_type = SHT_STRTAB;
  sh[5].sh_offset = shstrOffset;
  sh[5].sh_size = shstrtab.size();
  sh[5].sh_addralign = 1;
  write(sh, sizeof(sh));
  return closeWritten(os, path, error);
}
} // namespace

LogicalResult attn::externalizeWeights(ModuleOp module, StringRef objectPath,
                                       const CompileOptions &options, bool &wroteObject,
                                       std::string &error) {
  (void)options;
  wroteObject = false;
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  uint16_t machine = weightsObjectMachine(triple);
  if (machine == llvm::ELF::EM_NONE)
    return success(); // weights stay in LLVM IR

  // Globals to move, their blobs (a blob shared by several globals is
  // written once) and the blobs' offsets in the section.
  SmallVector<ArrayRef<char>> blobs;
  SmallVector<uint64_t> offsets;
  llvm::DenseMap<std::pair<const char *, size_t>, unsigned> blobIndex;
  SmallVector<std::tuple<std::string, unsigned, uint64_t>> symbols;
  llvm::DenseMap<StringAttr, StringAttr> renamed;
  uint64_t size = 0, sectionAlign = kWeightAlignment;
  MLIRContext *ctx = module.getContext();
  for (auto g : module.getOps<LLVM::GlobalOp>()) {
    std::optional<ArrayRef<char>> bytes = weightBytes(g);
    if (!bytes || bytes->size() < kMinExternalWeightBytes)
      continue;
    uint64_t align = std::max<uint64_t>(kWeightAlignment, g.getAlignment().value_or(1));
    if (!llvm::isPowerOf2_64(align))
      continue;
    sectionAlign = std::max(sectionAlign, align);
    auto [it, inserted] = blobIndex.try_emplace({bytes->data(), bytes->size()}, blobs.size());
    uint64_t offset;
    if (inserted) {
      size = (size + align - 1) / align * align;
      blobs.push_back(*bytes);
      offsets.push_back(size);
      offset = size;
      size += bytes->size();
    } else {
      offset = offsets[it->second];
      if (offset % align != 0)
        continue; // keep it in IR rather than misalign it
    }
    // A name no other object of the link uses (the code object's private
    // symbols become global hidden ones).
    std::string name = ("__attn_weight." + g.getSymName()).str();
    symbols.push_back({name, it->second, offset});
    renamed[g.getSymNameAttr()] = StringAttr::get(ctx, name);
  }
  if (symbols.empty())
    return success();

  if (!objectPath.empty()) {
    if (failed(writeWeightsElf(objectPath, machine, blobs, offsets, sectionAlign, size, symbols,
                               error)))
      return failure();
    wroteObject = true;
  }

  // The globals become declarations, the address-ofs follow the new names.
  for (auto g : llvm::make_early_inc_range(module.getOps<LLVM::GlobalOp>())) {
    auto it = renamed.find(g.getSymNameAttr());
    if (it == renamed.end())
      continue;
    g.removeValueAttr();
    g.setSymName(it->second.getValue());
    g.setLinkage(LLVM::Linkage::External);
    g.setVisibility_(LLVM::Visibility::Hidden);
    g.setDsoLocal(true);
    g.removeUnnamedAddrAttr();
    g.setAlignment(std::max<uint64_t>(kWeightAlignment, g.getAlignment().value_or(1)));
  }
  module.walk([&](LLVM::AddressOfOp op) {
    auto it = renamed.find(op.getGlobalNameAttr().getAttr());
    if (it != renamed.end())
      op.setGlobalName(it->second.getValue());
  });
  return success();
}

void attn::freeUnreferencedBlobs(ModuleOp module) {
  llvm::SmallPtrSet<const void *, 32> used;
  module->walk([&](Operation *op) {
    op->getAttrDictionary().walk([&](DenseResourceElementsAttr attr) {
      used.insert(attr.getRawHandle().getResource());
    });
  });
  auto &manager =
      DenseResourceElementsHandle::getManagerInterface(module.getContext()).getBlobManager();
  SmallVector<std::string> unused;
  manager.getBlobMap([&](const llvm::StringMap<DialectResourceBlobManager::BlobEntry> &map) {
    for (const auto &entry : map) {
      const AsmResourceBlob *blob = entry.getValue().getBlob();
      if (blob && !blob->getData().empty() && blob->getDeleter() &&
          !used.contains(&entry.getValue()))
        unused.push_back(entry.getKey().str());
    }
  });
  for (const std::string &key : unused)
    if (auto *entry = manager.lookup(key))
      entry->setBlob(AsmResourceBlob()); // runs the old blob's deleter
}
