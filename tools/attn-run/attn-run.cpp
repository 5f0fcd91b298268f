//===- attn-run.cpp - run a compiled model on .npy inputs
//------------------===//
//
//   attn-run LIB [--input NAME=FILE.npy]... [--output-dir DIR]
//                [--benchmark N [--json]] [--threads T] [--signature]
//
// Behaviour is fixed by the "attn-run" section of CONTRACT.md: inputs by ONNX
// name, one DIR/<sanitized name>.npy per output, errors naming the input on
// stderr with exit code 1. Everything model-related goes through the public
// C API (attn/runtime.h) so that this tool doubles as its first user.
//
//===----------------------------------------------------------------------===//

#include "attn/runtime.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <system_error>
#include <vector>

namespace {

const char *const kUsage =
    "usage: attn-run LIB [--input NAME=FILE.npy]... [--output-dir DIR]\n"
    "                [--benchmark N [--json]] [--threads T] [--signature]\n"
    "\n"
    "Runs a model library built by `attnc --emit=lib`.\n"
    "  --input NAME=FILE   value of graph input NAME (.npy in the input's\n"
    "                      dtype; float32 is converted for f16/bf16 inputs;\n"
    "                      bf16 also as raw 16-bit words: uint16/int16 or\n"
    "                      ml_dtypes.bfloat16 arrays)\n"
    "  --output-dir DIR    write each output to DIR/<name>.npy (characters\n"
    "                      outside [A-Za-z0-9._-] become '_'); bf16 outputs\n"
    "                      are written as float32\n"
    "  --benchmark N       after a warm-up, time N runs; print min/median/max\n"
    "  --json              with --benchmark: print the timings as one JSON\n"
    "                      object on the last line of stdout\n"
    "  --threads T         threads for parallel loops, 1 to 1024 (default:\n"
    "                      $ATTN_NUM_THREADS, else all CPUs)\n"
    "  --signature         print the model's signature JSON and exit\n";

struct Options {
  std::string library;
  /// (name, file) in command-line order.
  std::vector<std::pair<std::string, std::string>> inputs;
  std::string outputDir;
  bool haveOutputDir = false;
  long benchmarkRuns = 0;
  bool json = false;
  long threads = 0;
  bool signature = false;
};

/// Prints "attn-run: error: <message>" and returns the exit code 1.
int error(const std::string &message) {
  std::fprintf(stderr, "attn-run: error: %s\n", message.c_str());
  return 1;
}

/// Parses a positive decimal integer; false for anything else.
bool parsePositive(const std::string &text, long &out) {
  if (text.empty() || text.size() > 9 ||
      !std::all_of(text.begin(), text.end(),
                   [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  out = std::strtol(text.c_str(), nullptr, 10);
  return out > 0;
}

/// Parses argv into `opts`; returns false (after printing) on a usage error,
/// with `exitCode` set (0 for --help).
bool parseArgs(int argc, char **argv, Options &opts, int &exitCode) {
  exitCode = 1;
  bool haveBenchmark = false, haveThreads = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    // Accept both "--flag value" and "--flag=value".
    std::string flag = arg, value;
    bool inlineValue = false;
    if (arg.rfind("--", 0) == 0) {
      size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        flag = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        inlineValue = true;
      }
    }
    auto takeValue = [&](std::string &out) {
      if (inlineValue) {
        out = value;
        return true;
      }
      if (i + 1 >= argc) {
        error("option '" + flag + "' needs a value");
        return false;
      }
      out = argv[++i];
      return true;
    };
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      exitCode = 0;
      return false;
    }
    if (flag == "--input") {
      std::string spec;
      if (!takeValue(spec))
        return false;
      size_t eq = spec.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
        error("--input expects NAME=FILE.npy, got '" + spec + "'");
        return false;
      }
      opts.inputs.emplace_back(spec.substr(0, eq), spec.substr(eq + 1));
    } else if (flag == "--output-dir") {
      if (!takeValue(opts.outputDir))
        return false;
      if (opts.outputDir.empty()) {
        error("--output-dir needs a directory");
        return false;
      }
      opts.haveOutputDir = true;
    } else if (flag == "--benchmark") {
      std::string n;
      if (!takeValue(n))
        return false;
      if (!parsePositive(n, opts.benchmarkRuns)) {
        error("--benchmark expects a positive number of runs, got '" + n + "'");
        return false;
      }
      haveBenchmark = true;
    } else if (flag == "--threads") {
      std::string n;
      if (!takeValue(n))
        return false;
      if (!parsePositive(n, opts.threads)) {
        error("--threads expects a positive integer, got '" + n + "'");
        return false;
      }
      if (opts.threads > ATTN_MAX_THREADS) {
        error("--threads " + n + " is too many; at most " +
              std::to_string(ATTN_MAX_THREADS) + " threads are supported");
        return false;
      }
      haveThreads = true;
    } else if (flag == "--json" && !inlineValue) {
      opts.json = true;
    } else if (flag == "--signature" && !inlineValue) {
      opts.signature = true;
    } else if (arg.size() > 1 && arg[0] == '-') {
      error("unknown option '" + arg + "'\n" + kUsage);
      return false;
    } else if (opts.library.empty()) {
      opts.library = arg;
    } else {
      error("unexpected argument '" + arg + "' (the library is '" +
            opts.library + "')");
      return false;
    }
  }
  if (opts.library.empty()) {
    error(std::string("no model library given\n") + kUsage);
    return false;
  }
  if (opts.json && !haveBenchmark) {
    error("--json needs --benchmark N");
    return false;
  }
  if (!haveThreads) {
    // The runtime ignores a malformed value; say so instead of silently
    // using all cores in a benchmark.
    if (const char *env = std::getenv("ATTN_NUM_THREADS")) {
      long n;
      if (!parsePositive(env, n)) {
        error(
            std::string("ATTN_NUM_THREADS must be a positive integer, got '") +
            env + "'");
        return false;
      }
      if (n > ATTN_MAX_THREADS) {
        error(std::string("ATTN_NUM_THREADS=") + env +
              " is too many; at most " + std::to_string(ATTN_MAX_THREADS) +
              " threads are supported");
        return false;
      }
    }
  }
  return true;
}

/// "f32[?,seq,256]" for a signature entry.
std::string describe(const attn_tensor_info &info) {
  std::string s = attn_dtype_name(info.dtype);
  s += '[';
  for (int32_t d = 0; d < info.rank; ++d) {
    if (d)
      s += ',';
    s += info.shape[d] >= 0 ? std::to_string(info.shape[d]) : info.dim_names[d];
  }
  return s + ']';
}

/// "f32[2,3]" for a concrete tensor.
std::string describe(const attn_tensor &t) {
  std::string s = attn_dtype_name(t.dtype);
  s += '[';
  for (int32_t d = 0; d < t.rank; ++d)
    s += (d ? "," : "") + std::to_string(t.shape[d]);
  return s + ']';
}

/// Output file stem: characters outside [A-Za-z0-9._-] become '_'.
std::string sanitize(const std::string &name) {
  std::string s = name;
  for (char &c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok)
      c = '_';
  }
  return s;
}

/// Owns everything a run allocates, so every exit path releases it.
struct Session {
  attn_model *model = nullptr;
  std::vector<attn_tensor> inputs, outputs;

  ~Session() {
    for (attn_tensor &t : inputs)
      attn_tensor_free(&t);
    for (attn_tensor &t : outputs)
      attn_tensor_free(&t);
    attn_model_free(model);
  }
};

/// Loads the .npy files into `session.inputs`, in signature order.
int loadInputs(const Options &opts, Session &session) {
  attn_model *model = session.model;
  size_t numInputs = attn_model_num_inputs(model);
  std::vector<std::string> files(numInputs);
  std::vector<bool> given(numInputs, false);
  for (const auto &[name, file] : opts.inputs) {
    int64_t index = attn_model_find_input(model, name.c_str());
    if (index < 0) {
      std::string known;
      for (size_t i = 0; i < numInputs; ++i) {
        attn_tensor_info info;
        attn_model_input_info(model, i, &info);
        known += (i ? ", " : "") + std::string(info.name);
      }
      return error("unknown input '" + name + "'; the model's inputs are: " +
                   (known.empty() ? "(none)" : known));
    }
    if (given[index])
      return error("input '" + name + "' is given twice");
    given[index] = true;
    files[index] = file;
  }
  std::string missing;
  for (size_t i = 0; i < numInputs; ++i) {
    if (given[i])
      continue;
    attn_tensor_info info;
    attn_model_input_info(model, i, &info);
    missing += std::string(missing.empty() ? "" : "\n") + "missing input '" +
               info.name + "' (" + describe(info) + "); pass --input " +
               info.name + "=FILE.npy";
  }
  if (!missing.empty())
    return error(missing);

  session.inputs.resize(numInputs);
  for (size_t i = 0; i < numInputs; ++i) {
    attn_tensor_info info;
    attn_model_input_info(model, i, &info);
    attn_tensor &t = session.inputs[i];
    // numpy has no bf16 and f16 files are rare: float32 converts to both,
    // and bf16 also comes as raw 16-bit words (uint16 views, ml_dtypes).
    if (attn_npy_load_as(files[i].c_str(), info.dtype, &t) != ATTN_OK)
      return error("input '" + std::string(info.name) +
                   "': " + attn_last_error());
  }
  return 0;
}

int writeOutputs(const Options &opts, Session &session) {
  attn_model *model = session.model;
  size_t numOutputs = session.outputs.size();
  // Two names that sanitize alike would silently overwrite each other.
  std::map<std::string, std::string> stems;
  for (size_t j = 0; j < numOutputs; ++j) {
    attn_tensor_info info;
    attn_model_output_info(model, j, &info);
    auto [it, inserted] = stems.emplace(sanitize(info.name), info.name);
    if (!inserted)
      return error("outputs '" + it->second + "' and '" + info.name +
                   "' would both be written to '" + it->first + ".npy'");
  }
  std::error_code ec;
  std::filesystem::create_directories(opts.outputDir, ec);
  if (ec || !std::filesystem::is_directory(opts.outputDir))
    return error("cannot create output directory '" + opts.outputDir +
                 "': " + (ec ? ec.message() : "not a directory"));
  for (size_t j = 0; j < numOutputs; ++j) {
    attn_tensor_info info;
    attn_model_output_info(model, j, &info);
    std::string path = opts.outputDir + "/" + sanitize(info.name) + ".npy";
    if (attn_npy_save(path.c_str(), &session.outputs[j]) != ATTN_OK)
      return error("output '" + std::string(info.name) +
                   "': " + attn_last_error());
  }
  return 0;
}

int benchmark(const Options &opts, Session &session) {
  std::vector<double> times(static_cast<size_t>(opts.benchmarkRuns));
  // The run before this one already warmed caches and the thread pool; one
  // more untimed call lets allocator state settle.
  if (attn_model_benchmark(session.model, session.inputs.data(),
                           session.inputs.size(), /*warmup=*/1,
                           static_cast<int32_t>(times.size()),
                           times.data()) != ATTN_OK)
    return error(attn_last_error());
  std::sort(times.begin(), times.end());
  size_t n = times.size();
  double median = n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
  int threads = attn_get_num_threads();
  std::printf("benchmark: %zu run%s, %d thread%s: min %.3f ms, median %.3f "
              "ms, max %.3f ms\n",
              n, n == 1 ? "" : "s", threads, threads == 1 ? "" : "s",
              times.front(), median, times.back());
  if (opts.json)
    std::printf("{\"median_ms\": %.6f, \"min_ms\": %.6f, \"max_ms\": %.6f, "
                "\"runs\": %zu, \"threads\": %d}\n",
                median, times.front(), times.back(), n, threads);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  Options opts;
  int exitCode;
  if (!parseArgs(argc, argv, opts, exitCode))
    return exitCode;
  if (opts.threads > 0 &&
      attn_set_num_threads(static_cast<int>(opts.threads)) != ATTN_OK)
    return error(attn_last_error());

  Session session;
  if (attn_model_load(opts.library.c_str(), &session.model) != ATTN_OK)
    return error(attn_last_error());
  if (opts.signature) {
    std::printf("%s\n", attn_model_signature_json(session.model));
    return 0;
  }
  if (int rc = loadInputs(opts, session))
    return rc;

  size_t numOutputs = attn_model_num_outputs(session.model);
  session.outputs.resize(numOutputs);
  if (attn_model_execute(session.model, session.inputs.data(),
                         session.inputs.size(), session.outputs.data(),
                         numOutputs) != ATTN_OK)
    return error(attn_last_error());
  for (size_t j = 0; j < numOutputs; ++j) {
    attn_tensor_info info;
    attn_model_output_info(session.model, j, &info);
    std::printf("output '%s': %s\n", info.name,
                describe(session.outputs[j]).c_str());
  }
  if (opts.haveOutputDir)
    if (int rc = writeOutputs(opts, session))
      return rc;
  if (opts.benchmarkRuns > 0)
    if (int rc = benchmark(opts, session))
      return rc;
  // A full disk shows up only when stdout is flushed.
  if (std::fflush(stdout) != 0)
    return error(std::string("cannot write to stdout: ") +
                 std::strerror(errno));
  return 0;
}
