//===- _native.cpp - the attnc Python package's native module -------------===//
//
// attnc._native: a thin layer over the compiler library (CompilerSession,
// attn/Compiler/Compiler.h) and the runtime's C API (attn/runtime.h). The
// Python side (attnc/__init__.py) turns models into files, arrays into the
// dtypes the model declares and timings into dicts; this file only
//   compile_file(path, output, **options) -> [warning texts]   (CompileError)
//   Model(path): inputs, outputs, signature_json, target,
//                run([arrays]) -> [arrays], benchmark([arrays], warmup, runs)
//                                                                 (RunError)
//   Model.session(batch, max_len, ...) -> Session: prefill(ids, mask), step(),
//                last_logits(), generate(ids, mask) over runtime.h's
//                "Generation" API (attn_gen_*)                     (RunError)
//   set_num_threads(n), get_num_threads()
// The GIL is released while compiling and while a model runs. Inputs are
// borrowed from the numpy arrays (no copy; f32 -> f16/bf16 is converted by
// attn_tensor_cast); outputs become numpy arrays over the runtime's buffers,
// freed by attn_tensor_free when the array dies.
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Compiler.h"
#include "attn/Compiler/Passes.h"
#include "attn/runtime.h"

#include "mlir/IR/AsmState.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/raw_ostream.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace py = pybind11;
using namespace mlir;
using namespace mlir::attn;

namespace {

/// Raised as attnc.CompileError / attnc.RunError (both attnc.Error).
struct AttnError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct CompileFailure : AttnError {
  using AttnError::AttnError;
};
struct RunFailure : AttnError {
  using AttnError::AttnError;
};

[[noreturn]] void runFailure(const std::string &what) {
  const char *msg = attn_last_error();
  throw RunFailure(msg && *msg ? std::string(msg) : what);
}

//===----------------------------------------------------------------------===//
// Compiling
//===----------------------------------------------------------------------===//

void appendDiagnostic(std::string &text, const CompileDiagnostic &diag) {
  if (!text.empty())
    text += "\n";
  text += diag.severityName().str() + ": " + diag.str();
  for (const CompileDiagnostic &note : diag.notes)
    appendDiagnostic(text, note);
}

/// Compiles `path` into the shared library `output`; returns the warnings and
/// remarks (texts as attnc prints them, without the "attnc: " prefix).
std::vector<std::string> compileFile(const std::string &path, const std::string &output,
                                     const std::string &target, const std::string &mcpu,
                                     const std::string &mattr, bool remarks, int64_t queryTile,
                                     int64_t keyTile, bool gpuTensorCores, int optLevel,
                                     bool inputsOverrideInitializers,
                                     std::optional<int64_t> kvCache, const std::string &emit) {
  CompileRequest request;
  CompileOptions &options = request.options;
  std::string err;
  if (failed(parseTarget(target, options, err)))
    throw CompileFailure("error: " + err);
  options.mcpu = mcpu;
  options.mattr = mattr;
  if (failed(validateTargetOptions(options, err)))
    throw CompileFailure("error: " + err);
  if (queryTile <= 0 || keyTile <= 0)
    throw CompileFailure("error: attention tile sizes must be positive");
  if (optLevel < 0 || optLevel > 3)
    throw CompileFailure("error: opt_level must be 0 to 3");
  options.remarks = remarks;
  options.queryTile = queryTile;
  options.keyTile = keyTile;
  options.gpuTensorCores = gpuTensorCores;
  options.optLevel = optLevel;
  // As attnc --kv-cache=N: given, N must be at least 1 (the same message).
  if (kvCache && *kvCache <= 0)
    throw CompileFailure("error: --kv-cache=" + std::to_string(*kvCache) +
                         ": the cache length must be at least 1");
  options.kvCacheMaxLen = kvCache.value_or(0);
  // A library to load, or the standalone program of attnc --emit=exe.
  if (emit == "lib")
    request.emit = Emit::Lib;
  else if (emit == "exe")
    request.emit = Emit::Exe;
  else
    throw CompileFailure("error: emit='" + emit + "': expected 'lib' or 'exe'");
  request.output = output;
  request.inputsOverrideInitializers = inputsOverrideInitializers;

  std::string errors;
  std::vector<std::string> others;
  bool ok;
  {
    py::gil_scoped_release release;
    CompilerSession session;
    session.setDiagnosticHandler([&](const CompileDiagnostic &diag) {
      if (diag.severity == DiagnosticSeverity::Error) {
        appendDiagnostic(errors, diag);
      } else {
        std::string text;
        appendDiagnostic(text, diag);
        others.push_back(std::move(text));
      }
    });
    ok = succeeded(session.compileFile(path, request));
  }
  if (!ok)
    throw CompileFailure(errors.empty() ? "error: compile failed" : errors);
  return others;
}

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

/// numpy dtype of a runtime dtype (bf16: none, see toNumpy).
py::dtype numpyDtype(attn_dtype dtype) {
  switch (dtype) {
  case ATTN_F32: return py::dtype::of<float>();
  case ATTN_F64: return py::dtype::of<double>();
  case ATTN_F16: return py::dtype("float16");
  case ATTN_BF16: return py::dtype("uint16");
  case ATTN_I64: return py::dtype::of<int64_t>();
  case ATTN_I32: return py::dtype::of<int32_t>();
  case ATTN_I16: return py::dtype::of<int16_t>();
  case ATTN_I8: return py::dtype::of<int8_t>();
  case ATTN_U8: return py::dtype::of<uint8_t>();
  case ATTN_BOOL: return py::dtype::of<bool>();
  }
  throw RunFailure("invalid dtype");
}

/// The size in bytes of a numpy dtype's items. pybind11 2.10 (Debian 12)
/// reads PyArray_Descr::elsize through numpy 1's struct layout, which numpy 2
/// changed (a pip Python with numpy 2 imports this module too: same CPython
/// ABI): ask the dtype object instead. kind() and byteorder() sit where they
/// were and stay direct.
ssize_t itemSize(const py::dtype &dt) { return dt.attr("itemsize").cast<ssize_t>(); }

/// Element size of a runtime dtype (outputs' strides are computed from it, not
/// from pybind11's dtype::itemsize(), see itemSize).
ssize_t elementSize(attn_dtype dtype) {
  switch (dtype) {
  case ATTN_F64: case ATTN_I64: return 8;
  case ATTN_F32: case ATTN_I32: return 4;
  case ATTN_F16: case ATTN_BF16: case ATTN_I16: return 2;
  case ATTN_I8: case ATTN_U8: case ATTN_BOOL: return 1;
  }
  throw RunFailure("invalid dtype");
}

/// The runtime dtype of a numpy array, or -1 for one the runtime has none for.
int runtimeDtype(const py::array &a) {
  py::dtype dt = a.dtype();
  char kind = dt.kind();
  ssize_t size = itemSize(dt);
  if (dt.byteorder() == '>')
    return -1;
  switch (kind) {
  case 'f':
    return size == 4 ? ATTN_F32 : size == 8 ? ATTN_F64 : size == 2 ? ATTN_F16 : -1;
  case 'i':
    return size == 8 ? ATTN_I64 : size == 4 ? ATTN_I32 : size == 2 ? ATTN_I16 : size == 1 ? ATTN_I8 : -1;
  case 'u':
    return size == 1 ? ATTN_U8 : -1;
  case 'b':
    return ATTN_BOOL;
  default:
    return -1;
  }
}

std::string describeNumpy(const py::array &a) { return py::str(a.dtype()).cast<std::string>(); }

/// Inputs of one call: attn_tensors borrowing the arrays' data, plus the
/// converted copies (f32 given for f16/bf16) they own.
struct InputSet {
  std::vector<py::array> keepAlive;
  std::vector<attn_tensor> tensors;
  std::vector<attn_tensor> owned;
  InputSet() = default;
  InputSet(const InputSet &) = delete;
  InputSet &operator=(const InputSet &) = delete;
  ~InputSet() {
    for (attn_tensor &t : owned)
      attn_tensor_free(&t);
  }
};

py::dict tensorInfo(const attn_tensor_info &info) {
  py::dict d;
  d["name"] = info.name ? info.name : "";
  d["dtype"] = attn_dtype_name(info.dtype);
  py::list shape;
  for (int32_t i = 0; i < info.rank; ++i) {
    if (info.shape[i] < 0)
      shape.append(py::str(info.dim_names[i] ? info.dim_names[i] : "?"));
    else
      shape.append(py::int_(info.shape[i]));
  }
  d["shape"] = shape;
  return d;
}

/// A numpy array over a runtime-owned tensor (freed with the array). bf16
/// has no numpy dtype: it is handed back as float32 (exact).
py::array toNumpy(attn_tensor &t) {
  if (t.dtype == ATTN_BF16) {
    attn_tensor f32;
    attn_status st = attn_tensor_cast(&t, ATTN_F32, &f32);
    attn_tensor_free(&t);
    if (st != ATTN_OK)
      runFailure("cannot convert a bf16 output to float32");
    t = f32;
  }
  std::vector<ssize_t> shape(t.shape, t.shape + t.rank);
  // C-order strides (pybind11 would derive them from dtype::itemsize()).
  std::vector<ssize_t> strides(shape.size());
  ssize_t stride = elementSize(t.dtype);
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= std::max<ssize_t>(shape[d], 1);
  }
  auto *owned = new attn_tensor(t);
  std::memset(&t, 0, sizeof(t));
  py::capsule free(owned, [](void *p) {
    auto *tensor = static_cast<attn_tensor *>(p);
    attn_tensor_free(tensor);
    delete tensor;
  });
  if (!owned->data) // empty: numpy allocates its own (nothing to read)
    return py::array(numpyDtype(owned->dtype), shape, strides);
  return py::array(numpyDtype(owned->dtype), shape, strides, owned->data, free);
}

class NativeModel {
public:
  explicit NativeModel(const std::string &path) {
    attn_status st;
    {
      py::gil_scoped_release release;
      st = attn_model_load(path.c_str(), &model);
    }
    if (st != ATTN_OK)
      runFailure("cannot load '" + path + "'");
    for (size_t i = 0, e = attn_model_num_inputs(model); i < e; ++i) {
      attn_tensor_info info;
      if (attn_model_input_info(model, i, &info) != ATTN_OK)
        runFailure("bad input info");
      inputInfos.push_back(info);
    }
    for (size_t i = 0, e = attn_model_num_outputs(model); i < e; ++i) {
      attn_tensor_info info;
      if (attn_model_output_info(model, i, &info) != ATTN_OK)
        runFailure("bad output info");
      outputInfos.push_back(info);
    }
  }
  ~NativeModel() {
    if (model)
      attn_model_free(model);
  }
  NativeModel(const NativeModel &) = delete;
  NativeModel &operator=(const NativeModel &) = delete;

  py::list inputs() const {
    py::list l;
    for (const attn_tensor_info &info : inputInfos)
      l.append(tensorInfo(info));
    return l;
  }
  py::list outputs() const {
    py::list l;
    for (const attn_tensor_info &info : outputInfos)
      l.append(tensorInfo(info));
    return l;
  }
  std::string signatureJson() const { return attn_model_signature_json(model); }
  attn_model *handle() const { return model; }
  std::string target() const { return attn_model_target(model); }

  /// Arrays in input order -> outputs in output order.
  py::list run(const std::vector<py::array> &arrays) {
    InputSet in;
    prepare(arrays, in);
    std::vector<attn_tensor> out(outputInfos.size());
    attn_status st;
    {
      py::gil_scoped_release release;
      st = attn_model_execute(model, in.tensors.data(), in.tensors.size(), out.data(), out.size());
    }
    if (st != ATTN_OK)
      runFailure("run failed");
    py::list result;
    try {
      for (attn_tensor &t : out)
        result.append(toNumpy(t));
    } catch (...) {
      for (attn_tensor &t : out)
        attn_tensor_free(&t);
      throw;
    }
    return result;
  }

  std::vector<double> benchmark(const std::vector<py::array> &arrays, int warmup, int runs) {
    if (runs < 1 || warmup < 0)
      throw RunFailure("benchmark: runs must be >= 1 and warmup >= 0");
    InputSet in;
    prepare(arrays, in);
    std::vector<double> times(static_cast<size_t>(runs));
    attn_status st;
    {
      py::gil_scoped_release release;
      st = attn_model_benchmark(model, in.tensors.data(), in.tensors.size(), warmup, runs,
                                times.data());
    }
    if (st != ATTN_OK)
      runFailure("benchmark failed");
    return times;
  }

private:
  void prepare(const std::vector<py::array> &arrays, InputSet &in) {
    if (arrays.size() != inputInfos.size())
      throw RunFailure("expected " + std::to_string(inputInfos.size()) + " inputs, got " +
                       std::to_string(arrays.size()));
    in.tensors.reserve(arrays.size());
    in.owned.reserve(arrays.size());
    for (size_t i = 0; i < arrays.size(); ++i) {
      const attn_tensor_info &info = inputInfos[i];
      // C order without a copy when it already is.
      py::array a = py::array::ensure(arrays[i], py::array::c_style);
      if (!a)
        throw RunFailure(std::string("input '") + info.name + "': not an array");
      if (a.ndim() > ATTN_MAX_RANK)
        throw RunFailure(std::string("input '") + info.name + "': rank " +
                         std::to_string(a.ndim()) + " exceeds the maximum of " +
                         std::to_string(ATTN_MAX_RANK));
      attn_tensor t;
      std::memset(&t, 0, sizeof(t));
      t.rank = static_cast<int32_t>(a.ndim());
      for (ssize_t d = 0; d < a.ndim(); ++d)
        t.shape[d] = a.shape(d);
      t.data = const_cast<void *>(a.data());
      int dt = runtimeDtype(a);
      py::dtype npdt = a.dtype();
      if (info.dtype == ATTN_BF16 && npdt.kind() == 'u' && itemSize(npdt) == 2 &&
          npdt.byteorder() != '>') {
        dt = ATTN_BF16; // raw bfloat16 words (arr.view(np.uint16))
      } else if (info.dtype == ATTN_BF16 && npdt.kind() == 'V' && itemSize(npdt) == 2) {
        dt = ATTN_BF16; // ml_dtypes.bfloat16 seen as |V2
      }
      if (dt < 0)
        throw RunFailure(std::string("input '") + info.name + "': numpy dtype " +
                         describeNumpy(a) + " is not supported (expected " +
                         attn_dtype_name(info.dtype) + ")");
      t.dtype = static_cast<attn_dtype>(dt);
      if ((info.dtype == ATTN_F16 || info.dtype == ATTN_BF16) && t.dtype == ATTN_F32) {
        attn_tensor conv;
        if (attn_tensor_cast(&t, info.dtype, &conv) != ATTN_OK)
          runFailure(std::string("input '") + info.name + "': cannot convert float32");
        in.owned.push_back(conv);
        t = conv;
      }
      in.keepAlive.push_back(a);
      in.tensors.push_back(t);
    }
  }

  attn_model *model = nullptr;
  std::vector<attn_tensor_info> inputInfos, outputInfos;
};

/// An i64 [batch, seq] view of a Python array (ids or mask), converted to
/// C-order int64 (a copy only when it is not already).
attn_tensor tokenTensor(const py::object &obj, const char *what, py::array_t<int64_t> &keep) {
  py::array any = py::array::ensure(obj);
  if (!any)
    throw RunFailure(std::string(what) + ": not an array");
  py::dtype dt = any.dtype();
  if (dt.kind() != 'i' && dt.kind() != 'u' && any.size() > 0)
    throw RunFailure(std::string(what) + ": expected integer token ids, got numpy dtype " +
                     describeNumpy(any));
  keep = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(any);
  if (!keep)
    throw RunFailure(std::string(what) + ": cannot convert to int64");
  if (keep.ndim() != 2)
    throw RunFailure(std::string(what) + ": expected [batch, seq], got rank " +
                     std::to_string(keep.ndim()));
  attn_tensor t;
  std::memset(&t, 0, sizeof(t));
  t.dtype = ATTN_I64;
  t.rank = 2;
  t.shape[0] = keep.shape(0);
  t.shape[1] = keep.shape(1);
  t.data = const_cast<int64_t *>(keep.data());
  return t;
}

/// One generation session (attn_gen_session) over a NativeModel, which the
/// Python binding keeps alive. The GIL is released while the model runs; one
/// session serves one thread at a time (a second caller gets RunError).
class NativeSession {
public:
  NativeSession(NativeModel &model, int64_t batch, int64_t maxLen, int32_t maxNewTokens,
                float temperature, int32_t topK, float topP, uint64_t seed,
                std::vector<int64_t> stops, int64_t padTokenId)
      : batch(batch), stopTokens(std::move(stops)) {
    attn_gen_options o;
    attn_gen_options_init(&o);
    o.max_new_tokens = maxNewTokens;
    o.temperature = temperature;
    o.top_k = topK;
    o.top_p = topP;
    o.seed = seed;
    o.stop_token_ids = stopTokens.empty() ? nullptr : stopTokens.data();
    o.n_stop_token_ids = stopTokens.size();
    o.pad_token_id = padTokenId;
    attn_status st;
    {
      py::gil_scoped_release release;
      st = attn_gen_session_create(model.handle(), batch, maxLen, &o, &session);
    }
    if (st != ATTN_OK)
      runFailure("cannot create a generation session");
  }
  ~NativeSession() { attn_gen_session_free(session); }
  NativeSession(const NativeSession &) = delete;
  NativeSession &operator=(const NativeSession &) = delete;

  void prefill(const py::object &ids, const py::object &mask) {
    py::array_t<int64_t> idsKeep, maskKeep;
    attn_tensor idsT = tokenTensor(ids, "input_ids", idsKeep);
    attn_tensor maskT{};
    bool haveMask = !mask.is_none();
    if (haveMask)
      maskT = tokenTensor(mask, "attention_mask", maskKeep);
    Busy busy(*this);
    attn_status st;
    {
      py::gil_scoped_release release;
      st = attn_gen_prefill(session, &idsT, haveMask ? &maskT : nullptr);
    }
    if (st != ATTN_OK)
      runFailure("prefill failed");
  }

  py::array_t<int64_t> step() {
    py::array_t<int64_t> out(static_cast<ssize_t>(batch));
    Busy busy(*this);
    attn_status st;
    int64_t *data = out.mutable_data();
    {
      py::gil_scoped_release release;
      st = attn_gen_step(session, data);
    }
    if (st != ATTN_OK)
      runFailure("step failed");
    return out;
  }

  /// A copy of the f32 [batch, vocab] logits the last step selected from.
  py::array_t<float> lastLogits() {
    Busy busy(*this);
    attn_tensor t;
    if (attn_gen_last_logits(session, &t) != ATTN_OK)
      runFailure("no logits");
    py::array_t<float> out({static_cast<ssize_t>(t.shape[0]), static_cast<ssize_t>(t.shape[1])});
    std::memcpy(out.mutable_data(), t.data,
                static_cast<size_t>(t.shape[0] * t.shape[1]) * sizeof(float));
    return out;
  }

  /// (tokens [batch, n_steps], counts [batch], prefill_ms, decode_ms_per_token,
  /// tokens_per_s).
  py::tuple generate(const py::object &ids, const py::object &mask) {
    py::array_t<int64_t> idsKeep, maskKeep;
    attn_tensor idsT = tokenTensor(ids, "input_ids", idsKeep);
    attn_tensor maskT{};
    bool haveMask = !mask.is_none();
    if (haveMask)
      maskT = tokenTensor(mask, "attention_mask", maskKeep);
    Busy busy(*this);
    attn_gen_result r{};
    attn_status st;
    {
      py::gil_scoped_release release;
      st = attn_gen_generate(session, &idsT, haveMask ? &maskT : nullptr, &r);
    }
    if (st != ATTN_OK)
      runFailure("generate failed");
    py::array_t<int64_t> tokens({static_cast<ssize_t>(r.batch), static_cast<ssize_t>(r.n_steps)});
    py::array_t<int64_t> counts(static_cast<ssize_t>(r.batch));
    if (r.batch > 0 && r.n_steps > 0)
      std::memcpy(tokens.mutable_data(), r.tokens,
                  static_cast<size_t>(r.batch * r.n_steps) * sizeof(int64_t));
    std::memcpy(counts.mutable_data(), r.counts, static_cast<size_t>(r.batch) * sizeof(int64_t));
    py::tuple result = py::make_tuple(tokens, counts, r.prefill_ms, r.decode_ms_per_token,
                                      r.tokens_per_s);
    attn_gen_result_free(&r);
    return result;
  }

  bool done() const { return attn_gen_done(session) != 0; }
  bool kvCache() const { return attn_gen_session_kv_cache(session) != 0; }
  int64_t maxLen() const { return attn_gen_session_max_len(session); }
  int64_t contextLen() const { return attn_gen_session_context_len(session); }
  int64_t batchSize() const { return batch; }

private:
  /// Marks the session in use for one call (the GIL is released inside).
  struct Busy {
    explicit Busy(NativeSession &s) : s(s) {
      if (!s.mutex.try_lock())
        throw RunFailure("this generation session is in use by another thread (use one "
                         "session per thread)");
    }
    ~Busy() { s.mutex.unlock(); }
    NativeSession &s;
  };

  attn_gen_session *session = nullptr;
  int64_t batch;
  std::vector<int64_t> stopTokens;
  std::mutex mutex;
};

/// Python dlopen()s this module RTLD_LOCAL, and with it libattn_runtime.so:
/// the runtime's symbols would then be invisible to the model libraries it
/// loads. CUDA model libraries call attn_cuda_* (attn/abi.h), so the runtime
/// (only it, not the LLVM/MLIR code linked into this module) is promoted to
/// the global scope, as it is in attn-run, which links it.
void exportRuntimeSymbols() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void *>(&attn_model_load), &info) && info.dli_fname)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
}

} // namespace

PYBIND11_MODULE(_native, m) {
  exportRuntimeSymbols();
  // An LLVM fatal error (report_fatal_error: a compiler bug; what users can
  // get wrong, such as --mcpu/--mattr, is validated before LLVM sees it)
  // cannot be turned into an exception: LLVM's state is unknown and the
  // handler must not return. Say what happened, as attnc does, and end the
  // process at once (LLVM's default is "LLVM ERROR" and exit() or abort(),
  // which run static destructors while other threads are still running).
  llvm::install_fatal_error_handler([](void *, const char *reason, bool) {
    llvm::errs() << "attnc (Python): internal error: LLVM: " << reason
                 << " (please report); the process exits\n";
    llvm::errs().flush();
    std::_Exit(1);
  });
  // Passes and MLIR's command-line options at their defaults, as attnc's
  // main() has them (CompilerSession's constructor would do it too).
  registerCompilerGlobals();
  m.doc() = "attnc native module: the compiler library and the runtime (use the attnc package)";
  static py::exception<AttnError> error(m, "Error");
  static py::exception<CompileFailure> compileError(m, "CompileError", error.ptr());
  static py::exception<RunFailure> runError(m, "RunError", error.ptr());
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p)
        std::rethrow_exception(p);
    } catch (const CompileFailure &e) {
      compileError(e.what());
    } catch (const RunFailure &e) {
      runError(e.what());
    } catch (const AttnError &e) {
      error(e.what());
    }
  });

  m.def("compile_file", &compileFile, py::arg("path"), py::arg("output"),
        py::arg("target") = "cpu", py::arg("mcpu") = "", py::arg("mattr") = "",
        py::arg("remarks") = false, py::arg("attention_query_tile") = 48,
        py::arg("attention_key_tile") = 128, py::arg("gpu_tensor_cores") = true,
        py::arg("opt_level") = 3, py::arg("inputs_override_initializers") = false,
        py::arg("kv_cache") = py::none(), py::arg("emit") = "lib",
        "Compiles a model file into a shared library (emit='lib') or a standalone program "
        "(emit='exe', as attnc --emit=exe); returns the warnings/remarks. "
        "Raises CompileError with the diagnostics.");

  py::class_<NativeModel>(m, "Model")
      .def(py::init<const std::string &>(), py::arg("path"))
      .def_property_readonly("inputs", &NativeModel::inputs)
      .def_property_readonly("outputs", &NativeModel::outputs)
      .def_property_readonly("signature_json", &NativeModel::signatureJson)
      .def_property_readonly("target", &NativeModel::target)
      .def("run", &NativeModel::run, py::arg("arrays"))
      .def("benchmark", &NativeModel::benchmark, py::arg("arrays"), py::arg("warmup"),
           py::arg("runs"))
      .def(
          "session",
          [](NativeModel &m, int64_t batch, int64_t maxLen, int32_t maxNewTokens,
             float temperature, int32_t topK, float topP, uint64_t seed,
             std::vector<int64_t> stops, int64_t pad) {
            return std::make_unique<NativeSession>(m, batch, maxLen, maxNewTokens, temperature,
                                                   topK, topP, seed, std::move(stops), pad);
          },
          py::arg("batch"), py::arg("max_len") = 0, py::arg("max_new_tokens") = 16,
          py::arg("temperature") = 0.0f, py::arg("top_k") = 0, py::arg("top_p") = 1.0f,
          py::arg("seed") = 0, py::arg("stop_tokens") = std::vector<int64_t>(),
          py::arg("pad_token_id") = -1, py::keep_alive<0, 1>(),
          "A generation session (runtime.h attn_gen_session_create); keeps the model alive.");

  py::class_<NativeSession>(m, "Session")
      .def("prefill", &NativeSession::prefill, py::arg("input_ids"),
           py::arg("attention_mask") = py::none())
      .def("step", &NativeSession::step)
      .def("last_logits", &NativeSession::lastLogits)
      .def("generate", &NativeSession::generate, py::arg("input_ids"),
           py::arg("attention_mask") = py::none())
      .def_property_readonly("done", &NativeSession::done)
      .def_property_readonly("kv_cache", &NativeSession::kvCache)
      .def_property_readonly("max_len", &NativeSession::maxLen)
      .def_property_readonly("context_len", &NativeSession::contextLen)
      .def_property_readonly("batch", &NativeSession::batchSize);

  m.def(
      "set_num_threads",
      [](int n) {
        if (attn_set_num_threads(n) != ATTN_OK)
          runFailure("cannot set the number of threads");
      },
      py::arg("n"));
  m.def("get_num_threads", []() { return attn_get_num_threads(); });
}
