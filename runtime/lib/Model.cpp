//===- Model.cpp - loading and running compiled model libraries
//------------===//
//
// A model library exports the two symbols of attn/abi.h. Loading dlopen()s it
// and parses its signature once; running validates the caller's tensors
// against that signature (so a wrong input is reported by name instead of
// crashing inside generated code), builds memref descriptors, calls the
// library, and turns the returned descriptors into caller-owned tensors.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"
#include "attn/abi.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <iterator>
#include <link.h>
#include <malloc.h>
#include <mutex>
#include <sys/stat.h>
#include <unordered_map>

using namespace attn::rt;

namespace {

using RunFn = int32_t (*)(int64_t *const *, int64_t *const *);
using RunExFn = int32_t (*)(int64_t *const *, int64_t *const *, int64_t *);
using SignatureFn = const char *(*)();

/// One input or output of the signature.
struct TensorSpec {
  std::string name;
  attn_dtype dtype = ATTN_F32;
  /// Static size, or -1 for a dynamic dim.
  std::vector<int64_t> shape;
  /// Symbolic name of each dynamic dim ("?" if unnamed); "" for static dims.
  std::vector<std::string> dimNames;
  /// "kv_cache": true (an input of an attnc --kv-cache library): state the
  /// model writes in place, so a CUDA run copies it back to the caller.
  bool kvCache = false;

  int32_t rank() const { return static_cast<int32_t>(shape.size()); }

  /// "[batch,?,256]", for messages.
  std::string shapeString() const {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
      if (i)
        s += ',';
      s += shape[i] >= 0 ? std::to_string(shape[i]) : dimNames[i];
    }
    return s + "]";
  }
};

} // namespace

struct attn_model {
  void *handle = nullptr;
  std::string path;
  std::string signatureJson;
  std::string target;
  /// CPU features the code was compiled for ("+avx2,+fma,-avx512f,...").
  std::string features;
  /// CUDA arch of a "cuda" model ("sm_90").
  std::string arch;
  /// Device, stream and caches of a CUDA model (Cuda.cpp).
  attn::rt::CudaSession *cuda = nullptr;
  std::vector<TensorSpec> inputs, outputs;
  RunFn run = nullptr;
  /// attn_model_run_ex when the library exports it (attn/abi.h): called
  /// instead of `run`, it says which check failed.
  RunExFn runEx = nullptr;
  /// The signature's "checks": message templates by check index.
  std::vector<std::string> checks;
  /// A --kv-cache library's "past_length_input" (a rank-0 i64 input), by
  /// index into `inputs`; -1 if none.
  int64_t pastLengthInput = -1;
  /// Compiled CPU models run their parallel loops on OpenMP (libomp, a
  /// dependency of the library); the runtime's thread count is applied
  /// through it before every run.
  void (*ompSetNumThreads)(int) = nullptr;
};

//===----------------------------------------------------------------------===//
// Signature parsing
//===----------------------------------------------------------------------===//

/// Parses one {"name","dtype","shape"} entry; `what` is "input 0" etc.
static bool parseTensorSpec(const JsonValue &value, const std::string &what,
                            TensorSpec &spec, std::string &error) {
  if (value.kind != JsonValue::Object) {
    error = what + " is not an object";
    return false;
  }
  const JsonValue *name = value.get("name");
  const JsonValue *dtype = value.get("dtype");
  const JsonValue *shape = value.get("shape");
  if (!name || name->kind != JsonValue::String || name->string.empty()) {
    error = what + " has no \"name\" string";
    return false;
  }
  // Names reach callers as C strings: an embedded NUL would cut them short.
  if (name->string.find('\0') != std::string::npos) {
    error = what + " has a name containing a NUL character";
    return false;
  }
  spec.name = name->string;
  std::string where = what + " ('" + spec.name + "')";
  if (!dtype || dtype->kind != JsonValue::String) {
    error = where + " has no \"dtype\" string";
    return false;
  }
  bool known = false;
  for (int i = 0; i < ATTN_NUM_DTYPES && !known; ++i) {
    if (dtype->string == attn_dtype_name(static_cast<attn_dtype>(i))) {
      spec.dtype = static_cast<attn_dtype>(i);
      known = true;
    }
  }
  if (!known) {
    error = where + " has unknown dtype '" + dtype->string + "'";
    return false;
  }
  if (!shape || shape->kind != JsonValue::Array) {
    error = where + " has no \"shape\" array";
    return false;
  }
  if (shape->elements.size() > ATTN_MAX_RANK) {
    error = format("%s has rank %zu; the runtime supports at most %d",
                   where.c_str(), shape->elements.size(), ATTN_MAX_RANK);
    return false;
  }
  if (const JsonValue *kv = value.get("kv_cache")) {
    if (kv->kind != JsonValue::Bool) {
      error = where + " has a \"kv_cache\" that is not a boolean";
      return false;
    }
    spec.kvCache = kv->boolean;
  }
  for (const JsonValue &dim : shape->elements) {
    if (dim.kind == JsonValue::Number && dim.isInteger && dim.integer >= 0) {
      spec.shape.push_back(dim.integer);
      spec.dimNames.emplace_back();
    } else if (dim.kind == JsonValue::String && !dim.string.empty() &&
               dim.string.find('\0') == std::string::npos) {
      spec.shape.push_back(-1);
      spec.dimNames.push_back(dim.string);
    } else {
      error = where + " has a dim that is neither a non-negative integer nor "
                      "a name";
      return false;
    }
  }
  return true;
}

/// Most entries of the signature's "checks" (one per runtime check of a
/// model; real models have hundreds).
static constexpr size_t kMaxChecks = 1u << 20;

static attn_status parseSignature(attn_model &model) {
  const char *path = model.path.c_str();
  JsonValue root;
  std::string error;
  if (!parseJson(model.signatureJson, root, error))
    return fail(ATTN_ERR_FORMAT, format("'%s': malformed signature JSON: %s",
                                        path, error.c_str()));
  if (root.kind != JsonValue::Object)
    return fail(ATTN_ERR_FORMAT,
                format("'%s': signature is not a JSON object", path));
  const JsonValue *abi = root.get("abi");
  if (!abi || abi->kind != JsonValue::Number || !abi->isInteger)
    return fail(ATTN_ERR_LOAD,
                format("'%s': signature has no integer \"abi\" version", path));
  if (abi->integer != ATTN_ABI_VERSION)
    return fail(ATTN_ERR_LOAD,
                format("'%s' was built for runtime ABI %lld; this runtime "
                       "implements ABI %d (recompile the model)",
                       path, static_cast<long long>(abi->integer),
                       ATTN_ABI_VERSION));
  if (const JsonValue *target = root.get("target")) {
    if (target->kind != JsonValue::String)
      return fail(ATTN_ERR_FORMAT,
                  format("'%s': signature \"target\" is not a string", path));
    model.target = target->string;
  }
  if (const JsonValue *arch = root.get("arch"))
    if (arch->kind == JsonValue::String)
      model.arch = arch->string;
  if (const JsonValue *features = root.get("features"))
    if (features->kind == JsonValue::String)
      model.features = features->string;
  if (const JsonValue *checks = root.get("checks")) {
    // Message templates of attn_model_run_ex's checks (attn/abi.h).
    if (checks->kind != JsonValue::Array)
      return fail(ATTN_ERR_FORMAT,
                  format("'%s': signature \"checks\" is not an array", path));
    if (checks->elements.size() > kMaxChecks)
      return fail(ATTN_ERR_FORMAT,
                  format("'%s': signature has %zu \"checks\"; at most %zu "
                         "are supported",
                         path, checks->elements.size(), kMaxChecks));
    for (size_t i = 0; i < checks->elements.size(); ++i) {
      const JsonValue &check = checks->elements[i];
      if (check.kind != JsonValue::String)
        return fail(ATTN_ERR_FORMAT,
                    format("'%s': bad signature: check %zu is not a string",
                           path, i));
      if (check.string.size() > ATTN_MAX_CHECK_TEMPLATE)
        return fail(ATTN_ERR_FORMAT,
                    format("'%s': bad signature: check %zu is %zu bytes long "
                           "(at most %d)",
                           path, i, check.string.size(),
                           ATTN_MAX_CHECK_TEMPLATE));
      model.checks.push_back(check.string);
    }
  }
  for (int pass = 0; pass < 2; ++pass) {
    const char *key = pass == 0 ? "inputs" : "outputs";
    const char *singular = pass == 0 ? "input" : "output";
    std::vector<TensorSpec> &specs = pass == 0 ? model.inputs : model.outputs;
    const JsonValue *list = root.get(key);
    if (!list || list->kind != JsonValue::Array)
      return fail(ATTN_ERR_FORMAT,
                  format("'%s': signature has no \"%s\" array", path, key));
    for (size_t i = 0; i < list->elements.size(); ++i) {
      TensorSpec spec;
      if (!parseTensorSpec(list->elements[i], format("%s %zu", singular, i),
                           spec, error))
        return fail(ATTN_ERR_FORMAT,
                    format("'%s': bad signature: %s", path, error.c_str()));
      for (const TensorSpec &other : specs)
        if (other.name == spec.name)
          return fail(ATTN_ERR_FORMAT,
                      format("'%s': bad signature: two %ss named '%s'", path,
                             singular, spec.name.c_str()));
      specs.push_back(std::move(spec));
    }
  }
  // The past length of a --kv-cache library: a negative one is invalid
  // input, refused before the run (the model's own check would only say
  // "context full"). Generate.cpp validates the rest of "kv_cache".
  if (const JsonValue *kv = root.get("kv_cache"))
    if (const JsonValue *past = kv->get("past_length_input"))
      if (past->kind == JsonValue::String)
        for (size_t i = 0; i < model.inputs.size(); ++i)
          if (model.inputs[i].name == past->string &&
              model.inputs[i].dtype == ATTN_I64 &&
              model.inputs[i].rank() == 0)
            model.pastLengthInput = static_cast<int64_t>(i);
  return ATTN_OK;
}

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

/// ISA extensions whose instructions compiled code may use: a library built
/// with one of them must not run on a CPU without it (it would die with
/// SIGILL in the middle of a run).
static const char *missingCpuFeature(const std::string &features) {
#if defined(__x86_64__) || defined(__i386__)
  struct Feature {
    const char *name;
    bool present;
  };
  __builtin_cpu_init();
  const Feature known[] = {
      {"avx", __builtin_cpu_supports("avx") != 0},
      {"avx2", __builtin_cpu_supports("avx2") != 0},
      {"fma", __builtin_cpu_supports("fma") != 0},
      {"avx512f", __builtin_cpu_supports("avx512f") != 0},
      {"avx512bw", __builtin_cpu_supports("avx512bw") != 0},
      {"avx512dq", __builtin_cpu_supports("avx512dq") != 0},
      {"avx512vl", __builtin_cpu_supports("avx512vl") != 0},
      {"avx512cd", __builtin_cpu_supports("avx512cd") != 0},
      {"avx512fp16", __builtin_cpu_supports("avx512fp16") != 0},
  };
  size_t pos = 0;
  while (pos < features.size()) {
    size_t end = features.find(',', pos);
    if (end == std::string::npos)
      end = features.size();
    std::string f = features.substr(pos, end - pos);
    pos = end + 1;
    if (f.size() < 2 || f[0] != '+')
      continue;
    for (const Feature &k : known)
      if (f.compare(1, std::string::npos, k.name) == 0 && !k.present)
        return k.name;
  }
#else
  (void)features;
#endif
  return nullptr;
}

/// A CPU-only runtime can still explain why a GPU model cannot run.
static attn_status checkTarget(attn_model &model) {
  const std::string &target = model.target;
  if (target.empty() || target == "cpu") {
    if (const char *missing = missingCpuFeature(model.features))
      return fail(ATTN_ERR_LOAD,
                  format("'%s' was compiled for CPU feature '%s', which this "
                         "CPU lacks (recompile with attnc --mcpu=native, or "
                         "--mattr=-%s)",
                         model.path.c_str(), missing, missing));
    return ATTN_OK;
  }
  if (target == "cuda")
    return cudaOpen(model.path, model.arch.empty() ? "sm_90" : model.arch,
                    &model.cuda);
  return fail(ATTN_ERR_LOAD, format("'%s' targets '%s', which this runtime "
                                    "does not support",
                                    model.path.c_str(), target.c_str()));
}

/// dlsym(handle) also searches the library's dependencies; a symbol found
/// there (say, in another model the library links) is not this library's.
static void *lookupOwnSymbol(void *handle, const char *name) {
  void *sym = dlsym(handle, name);
  if (!sym)
    return nullptr;
  Dl_info where;
  struct link_map *self = nullptr;
  if (dladdr(sym, &where) && where.dli_fname &&
      dlinfo(handle, RTLD_DI_LINKMAP, &self) == 0 && self && self->l_name &&
      std::strcmp(where.dli_fname, self->l_name) != 0)
    return nullptr;
  return sym;
}

/// Compiled models allocate their activations and outputs with malloc on
/// every run. glibc serves blocks above its mmap threshold with fresh
/// mmap()s, so each run would page-fault every activation in again (measured:
/// ~20% of a Linear layer's time). Keeping freed memory in the heap makes
/// steady-state runs reuse warm pages, as the arenas of other runtimes do.
static void tuneAllocator() {
#if defined(__GLIBC__)
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("ATTN_KEEP_MALLOC_DEFAULTS"))
      return;
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  });
#endif
}

/// The part of loading after the symbols are found: the signature (parsed)
/// and the target (checked; a CUDA model opens its device session).
static attn_status finishLoad(attn_model &model, SignatureFn signatureFn) {
  const char *json = signatureFn();
  if (!json)
    return fail(ATTN_ERR_FORMAT,
                format("'%s': attn_model_signature() returned NULL",
                       model.path.c_str()));
  model.signatureJson = json;
  if (attn_status s = parseSignature(model))
    return s;
  return checkTarget(model);
}

extern "C" attn_status attn_model_load(const char *path, attn_model **out) {
  tuneAllocator();
  if (!path || !out)
    return fail(ATTN_ERR_INVALID_ARGUMENT, "attn_model_load: NULL argument");
  *out = nullptr;
  // dlerror() messages for missing files are obscure; check first.
  struct stat st;
  if (stat(path, &st) != 0)
    return fail(ATTN_ERR_IO, format("cannot open model library '%s': %s", path,
                                    std::strerror(errno)));
  if (S_ISDIR(st.st_mode))
    return fail(ATTN_ERR_IO,
                format("cannot open model library '%s': is a directory", path));

  // dlopen() maps the file trusting its headers: a truncated or foreign
  // library must be refused before it can crash the process.
  if (attn_status s = checkModelElf(path))
    return s;

  auto model = std::make_unique<attn_model>();
  model->path = path;
  // A name without '/' would make dlopen search the library path instead of
  // opening the file the caller named.
  std::string openPath = path;
  if (openPath.find('/') == std::string::npos)
    openPath = "./" + openPath;
  dlerror();
  // RTLD_LOCAL keeps one model's symbols from satisfying another's.
  model->handle = dlopen(openPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!model->handle) {
    const char *why = dlerror();
    return fail(ATTN_ERR_LOAD, format("cannot load model library '%s': %s",
                                      path, why ? why : "unknown error"));
  }
  // From here on, `release` unloads the library on every error path.
  auto release = [&](attn_status status) {
    dlclose(model->handle);
    return status;
  };

  void *signatureSym =
      lookupOwnSymbol(model->handle, ATTN_MODEL_SIGNATURE_SYMBOL);
  void *runSym = lookupOwnSymbol(model->handle, ATTN_MODEL_RUN_SYMBOL);
  if (!signatureSym || !runSym)
    return release(fail(
        ATTN_ERR_LOAD,
        format("'%s' is not an attnc model library: it does not export '%s'",
               path,
               !signatureSym ? ATTN_MODEL_SIGNATURE_SYMBOL
                             : ATTN_MODEL_RUN_SYMBOL)));
  // Object-to-function pointer casts go through memcpy to stay well-defined.
  SignatureFn signatureFn;
  std::memcpy(&signatureFn, &signatureSym, sizeof(signatureFn));
  std::memcpy(&model->run, &runSym, sizeof(model->run));
  if (void *runExSym = lookupOwnSymbol(model->handle, ATTN_MODEL_RUN_EX_SYMBOL))
    std::memcpy(&model->runEx, &runExSym, sizeof(model->runEx));
  if (void *omp = dlsym(model->handle, "omp_set_num_threads"))
    std::memcpy(&model->ompSetNumThreads, &omp, sizeof(model->ompSetNumThreads));

  if (attn_status s = finishLoad(*model, signatureFn))
    return release(s);
  *out = model.release();
  return ATTN_OK;
}

extern "C" attn_status
attn_model_from_symbols(const char *name, const char *(*signature)(void),
                        int32_t (*run)(int64_t *const *, int64_t *const *),
                        int32_t (*runEx)(int64_t *const *, int64_t *const *,
                                         int64_t *),
                        attn_model **out) {
  tuneAllocator();
  if (!name || !signature || !run || !out)
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                "attn_model_from_symbols: NULL argument");
  *out = nullptr;
  auto model = std::make_unique<attn_model>();
  model->path = name;
  model->run = run;
  model->runEx = runEx;
  // The program links libomp itself: its symbols are the process's.
  if (void *omp = dlsym(RTLD_DEFAULT, "omp_set_num_threads"))
    std::memcpy(&model->ompSetNumThreads, &omp, sizeof(model->ompSetNumThreads));
  if (attn_status s = finishLoad(*model, signature))
    return s;
  *out = model.release();
  return ATTN_OK;
}

extern "C" void attn_model_free(attn_model *model) {
  if (!model)
    return;
  cudaClose(model->cuda);
  if (model->handle)
    dlclose(model->handle);
  delete model;
}

//===----------------------------------------------------------------------===//
// Introspection
//===----------------------------------------------------------------------===//

extern "C" size_t attn_model_num_inputs(const attn_model *model) {
  return model ? model->inputs.size() : 0;
}

extern "C" size_t attn_model_num_outputs(const attn_model *model) {
  return model ? model->outputs.size() : 0;
}

static attn_status fillInfo(const std::vector<TensorSpec> &specs, size_t index,
                            const char *what, attn_tensor_info *info) {
  if (!info)
    return fail(ATTN_ERR_INVALID_ARGUMENT, "attn_tensor_info is NULL");
  if (index >= specs.size())
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                format("%s index %zu is out of range (the model has %zu)", what,
                       index, specs.size()));
  const TensorSpec &spec = specs[index];
  std::memset(info, 0, sizeof(*info));
  info->name = spec.name.c_str();
  info->dtype = spec.dtype;
  info->rank = spec.rank();
  for (int32_t i = 0; i < spec.rank(); ++i) {
    info->shape[i] = spec.shape[i];
    info->dim_names[i] =
        spec.shape[i] >= 0 ? nullptr : spec.dimNames[i].c_str();
  }
  return ATTN_OK;
}

extern "C" attn_status attn_model_input_info(const attn_model *model,
                                             size_t index,
                                             attn_tensor_info *info) {
  if (!model)
    return fail(ATTN_ERR_INVALID_ARGUMENT, "model is NULL");
  return fillInfo(model->inputs, index, "input", info);
}

extern "C" attn_status attn_model_output_info(const attn_model *model,
                                              size_t index,
                                              attn_tensor_info *info) {
  if (!model)
    return fail(ATTN_ERR_INVALID_ARGUMENT, "model is NULL");
  return fillInfo(model->outputs, index, "output", info);
}

extern "C" int64_t attn_model_find_input(const attn_model *model,
                                         const char *name) {
  if (!model || !name)
    return -1;
  for (size_t i = 0; i < model->inputs.size(); ++i)
    if (model->inputs[i].name == name)
      return static_cast<int64_t>(i);
  return -1;
}

extern "C" const char *attn_model_signature_json(const attn_model *model) {
  return model ? model->signatureJson.c_str() : "";
}

extern "C" const char *attn_model_target(const attn_model *model) {
  return model ? model->target.c_str() : "";
}

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

namespace {

/// Memref descriptors for one call, laid out as attn/abi.h says.
struct CallFrame {
  std::vector<std::vector<int64_t>> inputDescs, outputDescs;
  std::vector<int64_t *> inputPtrs, outputPtrs;
  /// The model failed with descriptors that are zero or hold malloc()ed
  /// blocks (an index out of range or a shape mismatch, attn/abi.h): their
  /// blocks must be freed.
  bool failedWithOutputs = false;
  /// attn_model_run_ex's status array.
  int64_t status[ATTN_MODEL_STATUS_LEN] = {};

  void resetOutputs() {
    for (std::vector<int64_t> &desc : outputDescs)
      std::fill(desc.begin(), desc.end(), 0);
    failedWithOutputs = false;
    std::fill(std::begin(status), std::end(status), 0);
  }
};

/// An output descriptor as the model filled it.
struct RawOutput {
  char *allocated = nullptr;
  char *data = nullptr; // aligned + offset * element size
  int64_t strides[ATTN_MAX_RANK] = {};
  attn_tensor tensor = {};
  int64_t numel = 0;
  size_t nbytes = 0;
  /// The runtime may free `allocated` (see collectOutputs).
  bool owned = false;
  /// Another output has the same `allocated` block.
  bool shared = false;
};

} // namespace

static std::string nameList(const std::vector<TensorSpec> &specs) {
  std::string s;
  for (const TensorSpec &spec : specs)
    s += (s.empty() ? "" : ", ") + spec.name;
  return s;
}

/// Checks the caller's inputs against the signature, with messages that name
/// the input and what was expected.
static attn_status validateInputs(const attn_model &model,
                                  const attn_tensor *inputs, size_t nInputs) {
  if (nInputs != model.inputs.size())
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                format("expected %zu input%s (%s), got %zu",
                       model.inputs.size(), model.inputs.size() == 1 ? "" : "s",
                       nameList(model.inputs).c_str(), nInputs));
  if (nInputs && !inputs)
    return fail(ATTN_ERR_INVALID_ARGUMENT, "inputs is NULL");
  // Where each symbolic dim got its size: name -> (size, input, dim).
  struct Binding {
    int64_t size;
    size_t input;
    int32_t dim;
  };
  std::unordered_map<std::string, Binding> bindings;
  for (size_t i = 0; i < nInputs; ++i) {
    const TensorSpec &spec = model.inputs[i];
    const attn_tensor &t = inputs[i];
    const char *name = spec.name.c_str();
    std::string what = "input '" + spec.name + "'";
    if (t.dtype != spec.dtype)
      return fail(ATTN_ERR_DTYPE,
                  format("input '%s': expected dtype %s, got %s", name,
                         attn_dtype_name(spec.dtype),
                         attn_dtype_name(t.dtype)));
    if (t.rank != spec.rank()) {
      std::string got = format("rank %d", t.rank);
      if (t.rank >= 0 && t.rank <= ATTN_MAX_RANK)
        got += " (" + shapeString(t) + ")";
      return fail(ATTN_ERR_SHAPE,
                  format("input '%s': expected rank %d (%s), got %s", name,
                         spec.rank(), spec.shapeString().c_str(), got.c_str()));
    }
    int64_t numel;
    size_t nbytes;
    if (attn_status s = checkTensorShape(t, what, numel, nbytes))
      return s;
    if (numel > 0 && !t.data)
      return fail(ATTN_ERR_INVALID_ARGUMENT,
                  format("input '%s': data is NULL", name));
    for (int32_t d = 0; d < t.rank; ++d) {
      int64_t got = t.shape[d];
      if (spec.shape[d] >= 0) {
        if (got != spec.shape[d])
          return fail(ATTN_ERR_SHAPE,
                      format("input '%s' dim %d: expected %lld, got %lld "
                             "(expected shape %s)",
                             name, d, static_cast<long long>(spec.shape[d]),
                             static_cast<long long>(got),
                             spec.shapeString().c_str()));
        continue;
      }
      const std::string &dimName = spec.dimNames[d];
      if (dimName == "?")
        continue;
      auto inserted = bindings.emplace(dimName, Binding{got, i, d});
      const Binding &b = inserted.first->second;
      if (inserted.second || b.size == got)
        continue;
      std::string origin =
          b.input == i
              ? format("as in dim %d", b.dim)
              : format("as in input '%s'", model.inputs[b.input].name.c_str());
      return fail(ATTN_ERR_SHAPE,
                  format("input '%s' dim %d ('%s'): expected %lld (%s), got "
                         "%lld",
                         name, d, dimName.c_str(),
                         static_cast<long long>(b.size), origin.c_str(),
                         static_cast<long long>(got)));
    }
    if (static_cast<int64_t>(i) == model.pastLengthInput && t.data) {
      int64_t past;
      std::memcpy(&past, t.data, sizeof(past));
      if (past < 0)
        return fail(ATTN_ERR_INVALID_ARGUMENT,
                    format("input '%s': the past sequence length is %lld; it "
                           "must be >= 0 (the number of tokens already in "
                           "the cache)",
                           name, static_cast<long long>(past)));
    }
  }
  return ATTN_OK;
}

/// Builds descriptors for validated inputs and zeroed output descriptors.
static void buildFrame(const attn_model &model, const attn_tensor *inputs,
                       CallFrame &frame) {
  for (size_t i = 0; i < model.inputs.size(); ++i) {
    const attn_tensor &t = inputs[i];
    std::vector<int64_t> desc(3 + 2 * static_cast<size_t>(t.rank), 0);
    int64_t ptr = static_cast<int64_t>(reinterpret_cast<intptr_t>(t.data));
    desc[0] = ptr; // allocated
    desc[1] = ptr; // aligned
    desc[2] = 0;   // offset
    int64_t stride = 1;
    for (int32_t d = t.rank - 1; d >= 0; --d) {
      desc[3 + d] = t.shape[d];
      desc[3 + t.rank + d] = stride;
      stride *= t.shape[d] > 0 ? t.shape[d] : 1;
    }
    frame.inputDescs.push_back(std::move(desc));
  }
  for (const TensorSpec &spec : model.outputs)
    frame.outputDescs.emplace_back(3 + 2 * static_cast<size_t>(spec.rank()), 0);
  for (auto &desc : frame.inputDescs)
    frame.inputPtrs.push_back(desc.data());
  for (auto &desc : frame.outputDescs)
    frame.outputPtrs.push_back(desc.data());
}

/// The template of check `index` with "{a}" and "{b}" replaced by the sizes;
/// control characters become '?' (the message goes to a terminal).
static std::string expandCheck(const std::string &text, int64_t a, int64_t b) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 3, "{a}") == 0 || text.compare(i, 3, "{b}") == 0) {
      out += std::to_string(text[i + 1] == 'a' ? a : b);
      i += 2;
      continue;
    }
    unsigned char c = static_cast<unsigned char>(text[i]);
    out += c < 0x20 || c == 0x7f ? '?' : text[i];
  }
  return out;
}

/// Calls the library's run function (run_ex when it has one) on `frame`.
static int32_t invokeRun(const attn_model &model, CallFrame &frame,
                         int64_t *const *inputs, int64_t *const *outputs) {
  std::fill(std::begin(frame.status), std::end(frame.status), 0);
  if (model.runEx)
    return model.runEx(inputs, outputs, frame.status);
  return model.run(inputs, outputs);
}

static attn_status callModel(const attn_model &model, CallFrame &frame) {
  int32_t rc;
  frame.failedWithOutputs = false;
  if (model.cuda) {
    // Inputs go to the device, outputs come back as host blocks.
    std::vector<size_t> inSizes, outSizes;
    std::vector<uint8_t> state; // written in place: copied back after the run
    for (const TensorSpec &spec : model.inputs) {
      inSizes.push_back(attn_dtype_size(spec.dtype));
      state.push_back(spec.kvCache);
    }
    for (const TensorSpec &spec : model.outputs)
      outSizes.push_back(attn_dtype_size(spec.dtype));
    auto run = [&](int64_t *const *in, int64_t *const *out) {
      return invokeRun(model, frame, in, out);
    };
    if (attn_status s = cudaRun(model.cuda, run, frame.inputDescs, inSizes,
                                state, frame.outputDescs, outSizes, rc))
      return s;
  } else {
    if (model.ompSetNumThreads)
      model.ompSetNumThreads(attn_get_num_threads());
    rc = invokeRun(model, frame, frame.inputPtrs.data(),
                   frame.outputPtrs.data());
    // After these two codes every output descriptor is zero or a malloc()ed
    // block (attn/abi.h); after an allocation failure it may be garbage.
    frame.failedWithOutputs = rc == ATTN_MODEL_ERR_INDEX_OUT_OF_RANGE ||
                              rc == ATTN_MODEL_ERR_SHAPE_MISMATCH;
  }
  if (rc == ATTN_MODEL_OK)
    return ATTN_OK;
  const char *path = model.path.c_str();
  if (rc == ATTN_MODEL_ERR_OUT_OF_MEMORY)
    return fail(ATTN_ERR_OUT_OF_MEMORY,
                format("model '%s' failed: out of memory (an allocation of "
                       "the model failed)",
                       path));
  // A check that says which node and sizes failed (attn_model_run_ex).
  if ((rc == ATTN_MODEL_ERR_SHAPE_MISMATCH ||
       rc == ATTN_MODEL_ERR_INDEX_OUT_OF_RANGE) &&
      model.runEx && frame.status[ATTN_MODEL_STATUS_CODE] == rc) {
    int64_t index = frame.status[ATTN_MODEL_STATUS_CHECK];
    if (index >= 0 && static_cast<uint64_t>(index) < model.checks.size())
      return fail(ATTN_ERR_RUNTIME,
                  format("model '%s' failed: %s", path,
                         expandCheck(model.checks[static_cast<size_t>(index)],
                                     frame.status[ATTN_MODEL_STATUS_SIZE_A],
                                     frame.status[ATTN_MODEL_STATUS_SIZE_B])
                             .c_str()));
  }
  const char *why = rc == ATTN_MODEL_ERR_INDEX_OUT_OF_RANGE
                        ? "an index is out of range (e.g. a Gather index "
                          "beyond its table)"
                    : rc == ATTN_MODEL_ERR_SHAPE_MISMATCH
                        ? "runtime dimensions disagree (shape mismatch)"
                        : "unknown error";
  return fail(ATTN_ERR_RUNTIME,
              format("model '%s' failed: %s (code %d)", path, why, rc));
}

/// MLIR lowers a returned constant global to a descriptor whose allocated
/// pointer is this marker; such memory must never be freed.
static char *const kDeadBeef = reinterpret_cast<char *>(0xdeadbeef);

/// Reads the output descriptors and decides what the runtime may free.
static attn_status readOutputs(const attn_model &model, const CallFrame &frame,
                               const attn_tensor *inputs,
                               std::vector<RawOutput> &raws) {
  raws.resize(model.outputs.size());
  attn_status status = ATTN_OK;
  for (size_t j = 0; j < model.outputs.size(); ++j) {
    const TensorSpec &spec = model.outputs[j];
    const int64_t *desc = frame.outputDescs[j].data();
    RawOutput &raw = raws[j];
    int32_t rank = spec.rank();
    raw.allocated = reinterpret_cast<char *>(static_cast<intptr_t>(desc[0]));
    char *aligned = reinterpret_cast<char *>(static_cast<intptr_t>(desc[1]));
    raw.tensor.dtype = spec.dtype;
    raw.tensor.rank = rank;
    for (int32_t d = 0; d < rank; ++d) {
      raw.tensor.shape[d] = desc[3 + d];
      raw.strides[d] = desc[3 + rank + d];
    }
    raw.data =
        aligned + desc[2] * static_cast<int64_t>(attn_dtype_size(spec.dtype));
    raw.owned = raw.allocated && raw.allocated != kDeadBeef;
    // Defensive: never free memory the caller gave us.
    for (size_t i = 0; i < model.inputs.size() && raw.owned; ++i)
      if (raw.allocated == inputs[i].data)
        raw.owned = false;
    if (status != ATTN_OK)
      continue;
    std::string what =
        "model '" + model.path + "' returned output '" + spec.name + "'";
    if (attn_status s =
            checkTensorShape(raw.tensor, what, raw.numel, raw.nbytes)) {
      status = s == ATTN_ERR_SHAPE ? ATTN_ERR_RUNTIME : s;
      continue;
    }
    for (int32_t d = 0; d < rank && status == ATTN_OK; ++d)
      if (spec.shape[d] >= 0 && raw.tensor.shape[d] != spec.shape[d])
        status = fail(ATTN_ERR_RUNTIME,
                      format("%s with shape %s; its signature says %s",
                             what.c_str(), shapeString(raw.tensor).c_str(),
                             spec.shapeString().c_str()));
    if (status == ATTN_OK && raw.numel > 0 && !aligned)
      status = fail(ATTN_ERR_RUNTIME, format("%s without data", what.c_str()));
  }
  for (size_t j = 0; j < raws.size(); ++j)
    for (size_t k = 0; k < raws.size(); ++k)
      if (j != k && raws[j].owned && raws[j].allocated == raws[k].allocated)
        raws[j].shared = true;
  return status;
}

/// Frees each distinct owned block once, except those in `keep`.
static void freeRawBlocks(const std::vector<RawOutput> &raws,
                          const std::vector<char *> &keep) {
  std::vector<char *> freed;
  for (const RawOutput &raw : raws) {
    if (!raw.owned)
      continue;
    if (std::find(freed.begin(), freed.end(), raw.allocated) != freed.end() ||
        std::find(keep.begin(), keep.end(), raw.allocated) != keep.end())
      continue;
    freed.push_back(raw.allocated);
    std::free(raw.allocated);
  }
}

/// Frees the output blocks of a failed run that wrote its descriptors
/// (without the checks of readOutputs, which would replace the run's error).
static void discardOutputs(const attn_model &model, const CallFrame &frame,
                           const attn_tensor *inputs) {
  if (!frame.failedWithOutputs)
    return;
  std::vector<char *> freed;
  for (const std::vector<int64_t> &desc : frame.outputDescs) {
    char *allocated = reinterpret_cast<char *>(static_cast<intptr_t>(desc[0]));
    bool owned = allocated && allocated != kDeadBeef &&
                 std::find(freed.begin(), freed.end(), allocated) == freed.end();
    for (size_t i = 0; i < model.inputs.size() && owned; ++i)
      owned = allocated != inputs[i].data;
    if (owned) {
      freed.push_back(allocated);
      std::free(allocated);
    }
  }
}

static bool isRowMajor(const RawOutput &raw) {
  if (raw.numel == 0)
    return true;
  int64_t expected = 1;
  for (int32_t d = raw.tensor.rank - 1; d >= 0; --d) {
    // The stride of a size-1 dim never matters.
    if (raw.tensor.shape[d] != 1 && raw.strides[d] != expected)
      return false;
    expected *= raw.tensor.shape[d];
  }
  return true;
}

/// Copies a strided view into a dense row-major buffer.
static void copyStrided(const RawOutput &raw, char *dst) {
  const size_t elem = attn_dtype_size(raw.tensor.dtype);
  const int32_t rank = raw.tensor.rank;
  int64_t index[ATTN_MAX_RANK] = {};
  for (int64_t n = 0; n < raw.numel; ++n) {
    const char *src = raw.data;
    for (int32_t d = 0; d < rank; ++d)
      src += index[d] * raw.strides[d] * static_cast<int64_t>(elem);
    std::memcpy(dst + n * elem, src, elem);
    for (int32_t d = rank - 1; d >= 0; --d) {
      if (++index[d] < raw.tensor.shape[d])
        break;
      index[d] = 0;
    }
  }
}

/// Turns the model's output descriptors into caller-owned dense tensors:
/// a dense block the model allocated is handed over as is (shifted to its
/// start if it has an offset), anything else (strided views, blocks shared
/// between outputs, constants) is copied, and every block not handed over is
/// freed.
static attn_status collectOutputs(const attn_model &model,
                                  const CallFrame &frame,
                                  const attn_tensor *inputs,
                                  attn_tensor *outputs) {
  std::vector<RawOutput> raws;
  if (attn_status s = readOutputs(model, frame, inputs, raws)) {
    freeRawBlocks(raws, {});
    return s;
  }
  const size_t n = raws.size();
  std::vector<bool> take(n);
  for (size_t j = 0; j < n; ++j)
    take[j] = raws[j].owned && !raws[j].shared && raws[j].numel > 0 &&
              raws[j].data >= raws[j].allocated && isRowMajor(raws[j]);
  // Allocate every copy before moving anything, so that running out of
  // memory leaves nothing half-done.
  std::vector<char *> copies(n, nullptr);
  for (size_t j = 0; j < n; ++j) {
    if (take[j])
      continue;
    copies[j] =
        static_cast<char *>(std::malloc(raws[j].nbytes ? raws[j].nbytes : 1));
    if (!copies[j]) {
      for (char *c : copies)
        std::free(c);
      freeRawBlocks(raws, {});
      return fail(ATTN_ERR_OUT_OF_MEMORY,
                  format("cannot allocate %zu bytes for output '%s'",
                         raws[j].nbytes, model.outputs[j].name.c_str()));
    }
  }
  // Copies read blocks that no taken output owns, so order does not matter.
  std::vector<char *> kept;
  for (size_t j = 0; j < n; ++j) {
    RawOutput &raw = raws[j];
    outputs[j] = raw.tensor;
    if (take[j]) {
      if (raw.data != raw.allocated)
        std::memmove(raw.allocated, raw.data, raw.nbytes);
      outputs[j].data = raw.allocated;
      kept.push_back(raw.allocated);
    } else {
      copyStrided(raw, copies[j]);
      outputs[j].data = copies[j];
    }
  }
  freeRawBlocks(raws, kept);
  return ATTN_OK;
}

extern "C" attn_status attn_model_execute(attn_model *model,
                                          const attn_tensor *inputs,
                                          size_t n_inputs, attn_tensor *outputs,
                                          size_t n_outputs) {
  if (!model)
    return fail(ATTN_ERR_INVALID_ARGUMENT, "attn_model_execute: model is NULL");
  if (n_outputs && !outputs)
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                "attn_model_execute: outputs is NULL");
  if (n_outputs)
    std::memset(outputs, 0, n_outputs * sizeof(attn_tensor));
  if (n_outputs != model->outputs.size())
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                format("expected room for %zu output%s (%s), got %zu",
                       model->outputs.size(),
                       model->outputs.size() == 1 ? "" : "s",
                       nameList(model->outputs).c_str(), n_outputs));
  if (attn_status s = validateInputs(*model, inputs, n_inputs))
    return s;
  CallFrame frame;
  buildFrame(*model, inputs, frame);
  // On failure the model's descriptors are trusted only when it says it
  // wrote them (then their blocks are freed: nothing leaks).
  if (attn_status s = callModel(*model, frame)) {
    discardOutputs(*model, frame, inputs);
    return s;
  }
  return collectOutputs(*model, frame, inputs, outputs);
}

extern "C" attn_status attn_model_benchmark(attn_model *model,
                                            const attn_tensor *inputs,
                                            size_t n_inputs, int32_t warmup,
                                            int32_t runs, double *times_ms) {
  if (!model)
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                "attn_model_benchmark: model is NULL");
  if (warmup < 0 || runs < 0 || (runs > 0 && !times_ms))
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                "attn_model_benchmark: bad warmup/runs/times_ms");
  if (attn_status s = validateInputs(*model, inputs, n_inputs))
    return s;
  CallFrame frame;
  buildFrame(*model, inputs, frame);
  using Clock = std::chrono::steady_clock;
  for (int32_t i = 0; i < warmup + runs; ++i) {
    frame.resetOutputs();
    Clock::time_point start = Clock::now();
    attn_status status = callModel(*model, frame);
    Clock::time_point end = Clock::now();
    if (status != ATTN_OK) {
      discardOutputs(*model, frame, inputs);
      return status;
    }
    if (i >= warmup)
      times_ms[i - warmup] =
          std::chrono::duration<double, std::milli>(end - start).count();
    // Outputs are discarded, but checked like a normal run's so that a
    // benchmark of a misbehaving model does not report success.
    std::vector<RawOutput> raws;
    attn_status s = readOutputs(*model, frame, inputs, raws);
    freeRawBlocks(raws, {});
    if (s != ATTN_OK)
      return s;
  }
  return ATTN_OK;
}
