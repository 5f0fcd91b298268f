//===- attn-run.cpp - run a compiled model on .npy inputs
//------------------===//
//
//   attn-run LIB [--input NAME=FILE.npy|NAME=random]... [--random-inputs]
//                [--dim NAME=SIZE]... [--seed N] [--output-dir DIR] [--print]
//                [--benchmark N [--json]] [--threads T]
//   attn-run LIB --signature [--json]
//   attn-run LIB --generate N --input input_ids=P.npy
//                [--input attention_mask=M.npy] [--temperature T] [--top-k K]
//                [--top-p P] [--seed S] [--max-length L] [--stop-token ID]...
//                [--pad-token ID] [--json] [--threads T]
//
// Behaviour is fixed by the "attn-run" section of CONTRACT.md: inputs by ONNX
// name, one DIR/<sanitized name>.npy per output, errors naming the input on
// stderr with exit code 1. Everything model-related goes through the public
// C API (attn/runtime.h) so that this tool doubles as its first user.
//
// The whole command line is attn_run_main (AttnRun.h): attn-run's main calls
// it, and so does the main of every executable `attnc --emit=exe` links,
// with the model linked into the program instead of named on the command
// line (same options without LIB, same messages under the program's name).
//
//===----------------------------------------------------------------------===//

#include "AttnRun.h"
#include "attn/runtime.h"
#include "Version.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <system_error>
#include <vector>

namespace {

/// Who is running: attn-run, or an executable with its model linked in.
struct Tool {
  /// "attn-run", or the executable's name (argv[0] without its folder).
  std::string program = "attn-run";
  /// The linked model, or null for attn-run.
  const attn_run_linked_model *linked = nullptr;
};
Tool tool;

/// --help (and the tail of usage errors).
std::string usage() {
  const std::string &p = tool.program;
  const std::string head = tool.linked ? p : p + " LIB";
  const std::string pad(8 + p.size(), ' ');
  std::string text =
      "usage: " + head + " [--input NAME=FILE.npy|NAME=random]...\n" + pad +
      "[--random-inputs] [--dim NAME=SIZE]... [--seed N]\n" + pad +
      "[--output-dir DIR] [--print]\n" + pad +
      "[--benchmark N [--json]] [--threads T]\n"
      "       " + head + " --signature [--json]\n"
      "       " + head + " --generate N --input input_ids=P.npy\n" + pad +
      "[--input attention_mask=M.npy] [--temperature T]\n" + pad +
      "[--top-k K] [--top-p P] [--seed S] [--max-length L]\n" + pad +
      "[--stop-token ID]... [--pad-token ID] [--json]\n"
      "\n";
  text += tool.linked ? "Runs the model compiled into this program by `attnc --emit=exe`.\n"
                      : "Runs a model library built by `attnc --emit=lib`.\n";
  text +=
      "  --input NAME=FILE   value of graph input NAME (.npy in the input's\n"
      "                      dtype; float32 is converted for f16/bf16 inputs;\n"
      "                      bf16 also as raw 16-bit words: uint16/int16 or\n"
      "                      ml_dtypes.bfloat16 arrays)\n"
      "  --input NAME=random random values for input NAME: uniform in [-1, 1)\n"
      "                      for floats, integers in [0, 10), bool 0/1 (a file\n"
      "                      named 'random' is --input NAME=./random)\n"
      "  --random-inputs     random values for every input not given by --input\n"
      "  --dim NAME=SIZE     size of the symbolic dim NAME (a dim name of the\n"
      "                      signature, e.g. batch, seq) for random inputs;\n"
      "                      without it, a dim takes its size from an input\n"
      "                      given as a file, else it is an error\n"
      "  --seed N            seed of the random inputs (default 0; the same\n"
      "                      seed gives the same values)\n"
      "  --output-dir DIR    write each output to DIR/<name>.npy (characters\n"
      "                      outside [A-Za-z0-9._-] become '_'); bf16 outputs\n"
      "                      are written as float32\n"
      "  --print             print each output's values numpy-style (the first\n"
      "                      and last 3 entries of every long dim) and its\n"
      "                      min/max/mean\n"
      "  --benchmark N       after a warm-up, time N runs; print min/median/max\n"
      "  --json              with --benchmark: print the timings as one JSON\n"
      "                      object on the last line of stdout; with\n"
      "                      --signature: print the signature JSON\n"
      "  --threads T         threads for parallel loops, 1 to 1024 (default:\n"
      "                      $ATTN_NUM_THREADS, else all CPUs)\n"
      "  --signature         print the model's inputs and outputs (dtype, shape\n"
      "                      with dim names), target, CPU and number of run-time\n"
      "                      checks, and exit (with --json: the signature JSON)\n"
      "  --generate N        text generation with a with-past (or --kv-cache)\n"
      "                      library: N new tokens per row of input_ids (i64\n"
      "                      [batch, seq]; attention_mask: 0 at left pads);\n"
      "                      prints one line of token ids per row, then the\n"
      "                      timings (--json: also one JSON object last)\n"
      "  --temperature T     sample with temperature T > 0 (default: greedy)\n"
      "  --top-k K           sample among the K most likely tokens (0: all)\n"
      "  --top-p P           nucleus sampling, P in (0, 1] (1: off)\n"
      "  --max-length L      longest context (prompt + fed tokens); default:\n"
      "                      the --kv-cache size, unbounded otherwise\n"
      "  --stop-token ID     a row that emits ID stops (repeatable); finished\n"
      "                      rows then emit the pad id\n"
      "  --pad-token ID      the pad id (default: the first stop token, else 0)\n";
  text += tool.linked
              ? "  --version           print the version of the attnc that built this\n"
                "                      program and exit\n"
              : "  --version           print attn-run's version and exit\n";
  text += "\n"
          "Example, no files needed:\n"
          "  " + (tool.linked ? p : p + " model.so") +
          " --random-inputs --dim batch=1 --dim seq=16 --print\n";
  return text;
}

struct Options {
  std::string library;
  /// (name, file) in command-line order; the file "random" means random
  /// values.
  std::vector<std::pair<std::string, std::string>> inputs;
  bool randomInputs = false;
  /// --dim NAME=SIZE in command-line order.
  std::vector<std::pair<std::string, int64_t>> dims;
  uint64_t seed = 0;
  bool print = false;
  std::string outputDir;
  bool haveOutputDir = false;
  long benchmarkRuns = 0;
  bool json = false;
  long threads = 0;
  bool signature = false;
  /// --generate N and its options.
  long generate = 0;
  bool haveGenerate = false;
  double temperature = 0;
  long topK = 0;
  double topP = 1;
  long maxLength = 0;
  std::vector<int64_t> stopTokens;
  int64_t padToken = -1;
  /// Sampling options given without --generate, for the usage check.
  std::string samplingFlag;
};

/// Prints "attn-run: error: <message>" (an executable: its own name) and
/// returns the exit code 1.
int error(const std::string &message) {
  std::fprintf(stderr, "%s: error: %s\n", tool.program.c_str(), message.c_str());
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

/// Parses a decimal integer in [0, max]; false for anything else.
bool parseNonNegative(const std::string &text, uint64_t max, uint64_t &out) {
  if (text.empty() || text.size() > 19 ||
      !std::all_of(text.begin(), text.end(),
                   [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  out = std::strtoull(text.c_str(), nullptr, 10);
  return out <= max;
}

/// Largest --dim size: far beyond any memory, small enough that products of
/// a few dims are still caught by the runtime's overflow checks.
constexpr uint64_t kMaxDimSize = uint64_t(1) << 40;

/// The --input value that asks for random values.
const char *const kRandom = "random";

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
      std::fputs(usage().c_str(), stdout);
      exitCode = 0;
      return false;
    }
    if (flag == "--version") {
      if (tool.linked)
        std::printf("%s: a model compiled by %s\n", tool.program.c_str(),
                    ATTN_VERSION_LINE("attnc"));
      else
        std::puts(ATTN_VERSION_LINE("attn-run"));
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
    } else if (flag == "--dim") {
      std::string spec;
      if (!takeValue(spec))
        return false;
      size_t eq = spec.find('=');
      uint64_t size;
      if (eq == std::string::npos || eq == 0 ||
          !parseNonNegative(spec.substr(eq + 1), kMaxDimSize, size)) {
        error("--dim expects NAME=SIZE with SIZE an integer from 0 to " +
              std::to_string(kMaxDimSize) + ", got '" + spec + "'");
        return false;
      }
      opts.dims.emplace_back(spec.substr(0, eq), static_cast<int64_t>(size));
    } else if (flag == "--seed") {
      std::string n;
      if (!takeValue(n))
        return false;
      if (!parseNonNegative(n, UINT64_MAX, opts.seed)) {
        error("--seed expects a non-negative integer, got '" + n + "'");
        return false;
      }
    } else if (flag == "--generate") {
      std::string n;
      if (!takeValue(n))
        return false;
      if (!parsePositive(n, opts.generate)) {
        error("--generate expects a positive number of tokens, got '" + n +
              "'");
        return false;
      }
      opts.haveGenerate = true;
    } else if (flag == "--temperature" || flag == "--top-p") {
      std::string n;
      if (!takeValue(n))
        return false;
      char *end = nullptr;
      double v = n.empty() ? NAN : std::strtod(n.c_str(), &end);
      bool ok = end && *end == '\0' && std::isfinite(v);
      if (flag == "--temperature" ? !(ok && v >= 0)
                                  : !(ok && v > 0 && v <= 1)) {
        error(flag == "--temperature"
                  ? "--temperature expects a number >= 0, got '" + n + "'"
                  : "--top-p expects a number in (0, 1], got '" + n + "'");
        return false;
      }
      (flag == "--temperature" ? opts.temperature : opts.topP) = v;
      opts.samplingFlag = flag;
    } else if (flag == "--top-k" || flag == "--max-length") {
      std::string n;
      if (!takeValue(n))
        return false;
      uint64_t v;
      if (!parseNonNegative(n, INT32_MAX, v) ||
          (flag == "--max-length" && v == 0)) {
        error(flag + (flag == "--top-k" ? " expects an integer >= 0"
                                        : " expects a positive integer") +
              ", got '" + n + "'");
        return false;
      }
      (flag == "--top-k" ? opts.topK : opts.maxLength) = static_cast<long>(v);
      opts.samplingFlag = flag;
    } else if (flag == "--stop-token" || flag == "--pad-token") {
      std::string n;
      if (!takeValue(n))
        return false;
      uint64_t v;
      if (!parseNonNegative(n, INT64_MAX, v)) {
        error(flag + " expects a token id (an integer >= 0), got '" + n + "'");
        return false;
      }
      if (flag == "--stop-token")
        opts.stopTokens.push_back(static_cast<int64_t>(v));
      else
        opts.padToken = static_cast<int64_t>(v);
      opts.samplingFlag = flag;
    } else if (flag == "--random-inputs" && !inlineValue) {
      opts.randomInputs = true;
    } else if (flag == "--print" && !inlineValue) {
      opts.print = true;
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
      error("unknown option '" + arg + "'\n" + usage());
      return false;
    } else if (tool.linked) {
      error("unexpected argument '" + arg +
            "' (the model is compiled into this program; inputs are given "
            "as --input NAME=FILE.npy)");
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
    error("no model library given\n" + usage());
    return false;
  }
  if (opts.json && !haveBenchmark && !opts.signature && !opts.haveGenerate) {
    error("--json needs --benchmark N, --signature or --generate N");
    return false;
  }
  if (!opts.haveGenerate && !opts.samplingFlag.empty()) {
    error(opts.samplingFlag + " needs --generate N");
    return false;
  }
  if (opts.haveGenerate) {
    const char *other = haveBenchmark         ? "--benchmark"
                        : opts.signature      ? "--signature"
                        : opts.randomInputs   ? "--random-inputs"
                        : !opts.dims.empty()  ? "--dim"
                        : opts.print          ? "--print"
                        : opts.haveOutputDir  ? "--output-dir"
                                              : nullptr;
    if (other) {
      error(std::string("--generate does not combine with ") + other);
      return false;
    }
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

/// splitmix64: a small generator whose values are the same on every platform
/// (the <random> distributions are not).
struct Random {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform integer in [0, n) (n small: the bias is negligible).
  int64_t below(int64_t n) {
    return static_cast<int64_t>(next() % static_cast<uint64_t>(n));
  }
};

/// Fills `t` with random values: uniform in [-1, 1) for floating types
/// (f16/bf16 on a grid they represent exactly, so none rounds up to 1),
/// integers in [0, 10), bool 0/1. Input `index` has its own stream, so an
/// input's values do not depend on which other inputs are random.
void fillRandom(attn_tensor &t, uint64_t seed, size_t index) {
  Random rng{seed * 0xD1B54A32D192ED03ull + (index + 1) * 0x8CB92BA72F3D8DD7ull};
  int64_t n = attn_tensor_numel(&t);
  for (int64_t i = 0; i < n; ++i) {
    switch (t.dtype) {
    case ATTN_F32:
      static_cast<float *>(t.data)[i] =
          static_cast<float>(rng.next() >> 40) * 0x1p-23f - 1.0f;
      break;
    case ATTN_F64:
      static_cast<double *>(t.data)[i] =
          static_cast<double>(rng.next() >> 11) * 0x1p-52 - 1.0;
      break;
    case ATTN_F16:
      static_cast<uint16_t *>(t.data)[i] = attn_f32_to_f16(
          static_cast<float>(rng.below(2048) - 1024) / 1024.0f);
      break;
    case ATTN_BF16:
      static_cast<uint16_t *>(t.data)[i] = attn_f32_to_bf16(
          static_cast<float>(rng.below(256) - 128) / 128.0f);
      break;
    case ATTN_I64:
      static_cast<int64_t *>(t.data)[i] = rng.below(10);
      break;
    case ATTN_I32:
      static_cast<int32_t *>(t.data)[i] = static_cast<int32_t>(rng.below(10));
      break;
    case ATTN_I16:
      static_cast<int16_t *>(t.data)[i] = static_cast<int16_t>(rng.below(10));
      break;
    case ATTN_I8:
      static_cast<int8_t *>(t.data)[i] = static_cast<int8_t>(rng.below(10));
      break;
    case ATTN_U8:
      static_cast<uint8_t *>(t.data)[i] = static_cast<uint8_t>(rng.below(10));
      break;
    case ATTN_BOOL:
      static_cast<uint8_t *>(t.data)[i] = static_cast<uint8_t>(rng.below(2));
      break;
    }
  }
}

/// Loads the .npy files and makes the random inputs into `session.inputs`,
/// in signature order.
int loadInputs(const Options &opts, Session &session) {
  attn_model *model = session.model;
  size_t numInputs = attn_model_num_inputs(model);
  std::vector<attn_tensor_info> infos(numInputs);
  for (size_t i = 0; i < numInputs; ++i)
    attn_model_input_info(model, i, &infos[i]);
  std::vector<std::string> files(numInputs);
  std::vector<bool> given(numInputs, false), random(numInputs, false);
  for (const auto &[name, file] : opts.inputs) {
    int64_t index = attn_model_find_input(model, name.c_str());
    if (index < 0) {
      std::string known;
      for (size_t i = 0; i < numInputs; ++i)
        known += (i ? ", " : "") + std::string(infos[i].name);
      return error("unknown input '" + name + "'; the model's inputs are: " +
                   (known.empty() ? "(none)" : known));
    }
    if (given[index])
      return error("input '" + name + "' is given twice");
    given[index] = true;
    files[index] = file;
    random[index] = file == kRandom;
  }
  std::string missing;
  for (size_t i = 0; i < numInputs; ++i) {
    if (given[i])
      continue;
    if (opts.randomInputs) {
      random[i] = true;
      continue;
    }
    missing += std::string(missing.empty() ? "" : "\n") + "missing input '" +
               infos[i].name + "' (" + describe(infos[i]) + "); pass --input " +
               infos[i].name + "=FILE.npy or --input " + infos[i].name +
               "=random";
  }
  if (!missing.empty())
    return error(missing);

  // --dim names must be dim names of the signature's inputs.
  std::map<std::string, int64_t> dims;
  for (const auto &[name, size] : opts.dims) {
    std::string known;
    bool found = false;
    for (const attn_tensor_info &info : infos)
      for (int32_t d = 0; d < info.rank; ++d) {
        if (info.shape[d] >= 0 || std::strcmp(info.dim_names[d], "?") == 0)
          continue;
        found |= name == info.dim_names[d];
        std::string entry = std::string("'") + info.dim_names[d] + "'";
        if (known.find(entry) == std::string::npos)
          known += (known.empty() ? "" : ", ") + entry;
      }
    if (!found)
      return error("--dim " + name + "=" + std::to_string(size) +
                   ": the model's inputs have no symbolic dim '" + name +
                   "'; their symbolic dims are: " +
                   (known.empty() ? "(none)" : known));
    if (!dims.emplace(name, size).second)
      return error("--dim " + name + " is given twice");
  }

  session.inputs.resize(numInputs);
  // Files first: a dim without --dim takes its size from them. (With only
  // files and no --dim, the runtime alone checks the shapes.)
  bool checkDims = !opts.dims.empty() ||
                   std::find(random.begin(), random.end(), true) != random.end();
  std::map<std::string, std::string> dimSource;
  for (size_t i = 0; i < numInputs; ++i) {
    if (random[i])
      continue;
    const attn_tensor_info &info = infos[i];
    attn_tensor &t = session.inputs[i];
    // numpy has no bf16 and f16 files are rare: float32 converts to both,
    // and bf16 also comes as raw 16-bit words (uint16 views, ml_dtypes).
    if (attn_npy_load_as(files[i].c_str(), info.dtype, &t) != ATTN_OK)
      return error("input '" + std::string(info.name) +
                   "': " + attn_last_error());
    // A wrong dtype or rank is reported by the runtime, with what it
    // expected.
    if (!checkDims || t.dtype != info.dtype || t.rank != info.rank)
      continue;
    for (int32_t d = 0; d < info.rank; ++d) {
      if (info.shape[d] >= 0 || std::strcmp(info.dim_names[d], "?") == 0)
        continue;
      std::string name = info.dim_names[d];
      auto [it, inserted] = dims.emplace(name, t.shape[d]);
      if (inserted)
        dimSource[name] = info.name;
      else if (it->second != t.shape[d])
        return error(
            "input '" + std::string(info.name) + "' dim " + std::to_string(d) +
            " ('" + name + "'): expected " + std::to_string(it->second) +
            (dimSource.count(name) ? " (as in input '" + dimSource[name] + "')"
                                   : " (--dim " + name + "=" +
                                         std::to_string(it->second) + ")") +
            ", got " + std::to_string(t.shape[d]));
    }
  }
  for (size_t i = 0; i < numInputs; ++i) {
    if (!random[i])
      continue;
    const attn_tensor_info &info = infos[i];
    int64_t shape[ATTN_MAX_RANK];
    for (int32_t d = 0; d < info.rank; ++d) {
      if (info.shape[d] >= 0) {
        shape[d] = info.shape[d];
        continue;
      }
      std::string name = info.dim_names[d];
      if (name == "?")
        return error("input '" + std::string(info.name) + "' (" +
                     describe(info) + ") cannot be random: its dim " +
                     std::to_string(d) +
                     " is dynamic and has no name to give --dim; pass "
                     "--input " +
                     info.name + "=FILE.npy");
      auto it = dims.find(name);
      if (it == dims.end())
        return error("input '" + std::string(info.name) + "' (" +
                     describe(info) + ") is random but its dim " +
                     std::to_string(d) + " ('" + name +
                     "') has no size; pass --dim " + name + "=SIZE");
      shape[d] = it->second;
    }
    attn_tensor &t = session.inputs[i];
    if (attn_tensor_alloc(info.dtype, info.rank, shape, &t) != ATTN_OK)
      return error("input '" + std::string(info.name) +
                   "': " + attn_last_error());
    fillRandom(t, opts.seed, i);
  }
  return 0;
}

/// Edge items per dim in --print (numpy's default): a dim longer than twice
/// this shows its first and last kEdgeItems entries with "..." between.
constexpr int64_t kEdgeItems = 3;

/// Element `i` of `t` as a double (bool: 0/1).
double elementValue(const attn_tensor &t, int64_t i) {
  switch (t.dtype) {
  case ATTN_F32:
    return static_cast<const float *>(t.data)[i];
  case ATTN_F64:
    return static_cast<const double *>(t.data)[i];
  case ATTN_F16:
    return attn_f16_to_f32(static_cast<const uint16_t *>(t.data)[i]);
  case ATTN_BF16:
    return attn_bf16_to_f32(static_cast<const uint16_t *>(t.data)[i]);
  case ATTN_I64:
    return static_cast<double>(static_cast<const int64_t *>(t.data)[i]);
  case ATTN_I32:
    return static_cast<const int32_t *>(t.data)[i];
  case ATTN_I16:
    return static_cast<const int16_t *>(t.data)[i];
  case ATTN_I8:
    return static_cast<const int8_t *>(t.data)[i];
  case ATTN_U8:
  case ATTN_BOOL:
    return static_cast<const uint8_t *>(t.data)[i];
  }
  return 0;
}

bool isFloat(attn_dtype dtype) {
  return dtype == ATTN_F32 || dtype == ATTN_F64 || dtype == ATTN_F16 ||
         dtype == ATTN_BF16;
}

/// A float as numpy prints it: nan, inf, -inf, else 6 significant digits.
std::string formatDouble(double v) {
  if (std::isnan(v))
    return "nan";
  if (std::isinf(v))
    return v > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

/// Element `i` of `t` as text (exact for integers).
std::string formatElement(const attn_tensor &t, int64_t i) {
  switch (t.dtype) {
  case ATTN_I64:
    return std::to_string(static_cast<const int64_t *>(t.data)[i]);
  case ATTN_BOOL:
    return static_cast<const uint8_t *>(t.data)[i] ? "True" : "False";
  default:
    break;
  }
  if (isFloat(t.dtype))
    return formatDouble(elementValue(t, i));
  return std::to_string(static_cast<long long>(elementValue(t, i)));
}

/// Appends the values of `t` numpy-style: nested brackets, rows on their own
/// lines, blank lines between blocks of rank >= 3, "..." for the middle of
/// dims longer than 2 * kEdgeItems, entries right-aligned to one width.
class ArrayPrinter {
public:
  explicit ArrayPrinter(const attn_tensor &t) : t(t) {
    strides.assign(static_cast<size_t>(t.rank), 1);
    for (int32_t d = t.rank - 2; d >= 0; --d)
      strides[d] = strides[d + 1] * t.shape[d + 1];
  }

  std::string print() {
    if (t.rank == 0)
      return formatElement(t, 0);
    // Pass 1 formats the shown entries, pass 2 lays them out.
    walk(0, 0, "");
    for (const std::string &e : entries)
      width = std::max(width, e.size());
    out.clear();
    next = 0;
    layout = true;
    walk(0, 0, "");
    return out;
  }

private:
  void walk(int32_t dim, int64_t offset, const std::string &indent) {
    int64_t n = t.shape[dim];
    bool summarize = n > 2 * kEdgeItems;
    out += '[';
    for (int64_t k = 0; k < n; ++k) {
      if (summarize && k == kEdgeItems) {
        out += dim + 1 == t.rank ? ", ..." : separator(dim, indent) + "...";
        k = n - kEdgeItems - 1;
        continue;
      }
      if (k)
        out += dim + 1 == t.rank ? ", " : separator(dim, indent);
      if (dim + 1 < t.rank) {
        walk(dim + 1, offset + k * strides[dim], indent + " ");
      } else if (!layout) {
        entries.push_back(formatElement(t, offset + k));
      } else {
        const std::string &e = entries[next++];
        out += std::string(width - e.size(), ' ') + e;
      }
    }
    out += ']';
  }

  /// Between two sub-arrays of `dim`: a comma, a newline, a blank line per
  /// dim below the innermost two, and the indent.
  std::string separator(int32_t dim, const std::string &indent) const {
    return ",\n" + std::string(static_cast<size_t>(t.rank - dim - 2), '\n') +
           indent + " ";
  }

  const attn_tensor &t;
  std::vector<int64_t> strides;
  std::vector<std::string> entries;
  size_t width = 0, next = 0;
  bool layout = false;
  std::string out;
};

/// "min -0.5, max 2, mean 0.75" over all elements (NaNs counted apart).
std::string summarize(const attn_tensor &t) {
  int64_t n = attn_tensor_numel(&t);
  if (n <= 0)
    return "empty";
  double sum = 0, lo = 0, hi = 0;
  int64_t nans = 0, count = 0;
  // Integers keep their exact extremes (int64 beyond 2^53).
  bool exact = t.dtype == ATTN_I64;
  int64_t ilo = 0, ihi = 0;
  for (int64_t i = 0; i < n; ++i) {
    double v = elementValue(t, i);
    if (std::isnan(v)) {
      ++nans;
      continue;
    }
    if (exact) {
      int64_t iv = static_cast<const int64_t *>(t.data)[i];
      ilo = count ? std::min(ilo, iv) : iv;
      ihi = count ? std::max(ihi, iv) : iv;
    }
    lo = count ? std::min(lo, v) : v;
    hi = count ? std::max(hi, v) : v;
    sum += v;
    ++count;
  }
  std::string s;
  if (count == 0) {
    s = "min nan, max nan, mean nan";
  } else if (isFloat(t.dtype)) {
    s = "min " + formatDouble(lo) + ", max " + formatDouble(hi);
  } else if (exact) {
    s = "min " + std::to_string(ilo) + ", max " + std::to_string(ihi);
  } else {
    s = "min " + std::to_string(static_cast<long long>(lo)) + ", max " +
        std::to_string(static_cast<long long>(hi));
  }
  if (count)
    s += ", mean " + formatDouble(sum / static_cast<double>(count));
  if (nans)
    s += ", " + std::to_string(nans) + " NaN" + (nans == 1 ? "" : "s");
  return s;
}

/// --print: the values of an output, indented under its "output" line.
void printValues(const attn_tensor &t) {
  std::string text = attn_tensor_numel(&t) == 0 ? std::string("[]")
                                                 : ArrayPrinter(t).print();
  text += "\n" + summarize(t);
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos)
      end = text.size();
    std::string line = text.substr(start, end - start);
    if (line.empty())
      std::putchar('\n');
    else
      std::printf("  %s\n", line.c_str());
    start = end + 1;
  }
}

/// Top-level fields of the signature JSON that the C API does not expose:
/// the strings "cpu" and "arch", and the length of the "checks" array. The
/// runtime has validated the JSON; a reader that fails leaves them empty.
struct SignatureExtras {
  std::string cpu, arch;
  long checks = -1;
};

class SignatureReader {
public:
  explicit SignatureReader(const char *text) : p(text) {}

  SignatureExtras read() {
    SignatureExtras extras;
    ws();
    if (*p != '{')
      return extras;
    ++p;
    ws();
    if (*p == '}')
      return extras;
    while (true) {
      ws();
      std::string key;
      if (!string(key))
        return extras;
      ws();
      if (*p++ != ':')
        return extras;
      ws();
      if ((key == "cpu" || key == "arch") && *p == '"') {
        if (!string(key == "cpu" ? extras.cpu : extras.arch))
          return extras;
      } else if (key == "checks" && *p == '[') {
        long count = 0;
        if (!value(0, &count))
          return extras;
        extras.checks = count;
      } else if (!value(0, nullptr)) {
        return extras;
      }
      ws();
      if (*p == '}')
        return extras;
      if (*p++ != ',')
        return extras;
    }
  }

private:
  void ws() {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
      ++p;
  }

  /// Reads a string (escapes kept as written but for \" and \\).
  bool string(std::string &out) {
    if (*p != '"')
      return false;
    ++p;
    out.clear();
    while (*p && *p != '"') {
      if (*p == '\\') {
        ++p;
        if (!*p)
          return false;
      }
      out += *p++;
    }
    if (*p != '"')
      return false;
    ++p;
    return true;
  }

  /// Skips a value; for an array, stores its length in `count`.
  bool value(int depth, long *count) {
    if (depth > 64)
      return false;
    ws();
    if (*p == '"') {
      std::string ignored;
      return string(ignored);
    }
    if (*p == '[' || *p == '{') {
      char close = *p == '[' ? ']' : '}';
      bool object = *p == '{';
      ++p;
      ws();
      long n = 0;
      if (*p == close) {
        ++p;
      } else {
        while (true) {
          if (object) {
            std::string ignored;
            ws();
            if (!string(ignored))
              return false;
            ws();
            if (*p++ != ':')
              return false;
          }
          if (!value(depth + 1, nullptr))
            return false;
          ++n;
          ws();
          if (*p == close) {
            ++p;
            break;
          }
          if (*p++ != ',')
            return false;
        }
      }
      if (count)
        *count = n;
      return true;
    }
    const char *start = p;
    while (*p && std::strchr("+-.0123456789eEtruefalsn", *p))
      ++p;
    return p != start;
  }

  const char *p;
};

/// --signature without --json: one line per input and output, the target
/// and the number of run-time checks.
void printSignature(const Options &opts, attn_model *model) {
  SignatureExtras extras =
      SignatureReader(attn_model_signature_json(model)).read();
  std::string target = attn_model_target(model);
  std::printf("model '%s'\n", opts.library.c_str());
  std::string line = "target: " + (target.empty() ? "(none)" : target);
  if (!extras.cpu.empty())
    line += ", CPU " + extras.cpu;
  if (!extras.arch.empty())
    line += ", arch " + extras.arch;
  std::printf("%s\n", line.c_str());
  for (size_t i = 0, n = attn_model_num_inputs(model); i < n; ++i) {
    attn_tensor_info info;
    attn_model_input_info(model, i, &info);
    std::printf("input  '%s': %s\n", info.name, describe(info).c_str());
  }
  for (size_t i = 0, n = attn_model_num_outputs(model); i < n; ++i) {
    attn_tensor_info info;
    attn_model_output_info(model, i, &info);
    std::printf("output '%s': %s\n", info.name, describe(info).c_str());
  }
  std::printf("run-time checks: %ld\n", std::max(extras.checks, 0L));
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

/// --generate N: a generation session over the library (runtime.h,
/// "Generation"), its tokens and timings on stdout.
int generate(const Options &opts, Session &session) {
  attn_tensor ids{}, mask{};
  bool haveIds = false, haveMask = false;
  struct Free {
    attn_tensor &a, &b;
    ~Free() {
      attn_tensor_free(&a);
      attn_tensor_free(&b);
    }
  } release{ids, mask};
  for (const auto &[name, file] : opts.inputs) {
    bool isIds = name == "input_ids", isMask = name == "attention_mask";
    if (!isIds && !isMask)
      return error("--generate: unknown input '" + name +
                   "'; generation takes input_ids and attention_mask (the "
                   "other inputs are filled by the generation loop)");
    if ((isIds && haveIds) || (isMask && haveMask))
      return error("input '" + name + "' is given twice");
    if (file == kRandom)
      return error("--generate: input '" + name + "' must be a .npy file");
    attn_tensor &t = isIds ? ids : mask;
    if (attn_npy_load(file.c_str(), &t) != ATTN_OK)
      return error("input '" + name + "': " + attn_last_error());
    if (t.dtype != ATTN_I64 || t.rank != 2)
      return error("input '" + name + "': expected i64[batch,seq], got " +
                   describe(t));
    (isIds ? haveIds : haveMask) = true;
  }
  if (!haveIds)
    return error("--generate needs --input input_ids=FILE.npy (i64 [batch, "
                 "seq])");
  if (ids.shape[0] < 1 || ids.shape[1] < 1)
    return error("input 'input_ids': expected at least one row and one "
                 "token, got " +
                 describe(ids));
  if (haveMask && (mask.shape[0] != ids.shape[0] ||
                   mask.shape[1] != ids.shape[1]))
    return error("input 'attention_mask': expected the shape of input_ids, " +
                 describe(ids) + ", got " +
                 describe(mask));
  attn_gen_options o;
  attn_gen_options_init(&o);
  o.max_new_tokens = static_cast<int32_t>(opts.generate);
  o.temperature = static_cast<float>(opts.temperature);
  o.top_k = static_cast<int32_t>(opts.topK);
  o.top_p = static_cast<float>(opts.topP);
  o.seed = opts.seed;
  o.stop_token_ids = opts.stopTokens.data();
  o.n_stop_token_ids = opts.stopTokens.size();
  o.pad_token_id = opts.padToken;
  attn_gen_session *gen = nullptr;
  if (attn_gen_session_create(session.model, ids.shape[0], opts.maxLength, &o,
                              &gen) != ATTN_OK)
    return error(attn_last_error());
  attn_gen_result r{};
  attn_status st =
      attn_gen_generate(gen, &ids, haveMask ? &mask : nullptr, &r);
  bool kv = attn_gen_session_kv_cache(gen) != 0;
  attn_gen_session_free(gen);
  if (st != ATTN_OK)
    return error(attn_last_error());
  std::string json = "{\"tokens\": [";
  for (int64_t b = 0; b < r.batch; ++b) {
    std::string line, list;
    for (int64_t k = 0; k < r.n_steps; ++k) {
      std::string id = std::to_string(r.tokens[b * r.n_steps + k]);
      line += (k ? " " : "") + id;
      list += (k ? ", " : "") + id;
    }
    std::printf("%s\n", line.c_str());
    json += (b ? ", [" : "[") + list + "]";
  }
  json += "], \"counts\": [";
  for (int64_t b = 0; b < r.batch; ++b)
    json += (b ? ", " : "") + std::to_string(r.counts[b]);
  int threads = attn_get_num_threads();
  std::printf("prefill: %.3f ms (%lld x %lld tokens)\n", r.prefill_ms,
              static_cast<long long>(ids.shape[0]),
              static_cast<long long>(ids.shape[1]));
  std::printf("decode: %.3f ms/token, %.1f tokens/s (%lld step%s, batch %lld, "
              "%d thread%s, %s)\n",
              r.decode_ms_per_token, r.tokens_per_s,
              static_cast<long long>(r.n_steps > 0 ? r.n_steps - 1 : 0),
              r.n_steps == 2 ? "" : "s", static_cast<long long>(r.batch),
              threads, threads == 1 ? "" : "s",
              kv ? "in-place kv cache" : "past/present");
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "], \"prefill_ms\": %.6f, \"decode_ms_per_token\": %.6f, "
                "\"tokens_per_s\": %.6f, \"threads\": %d, \"kv_cache\": %s}",
                r.prefill_ms, r.decode_ms_per_token, r.tokens_per_s, threads,
                kv ? "true" : "false");
  json += buf;
  attn_gen_result_free(&r);
  if (opts.json)
    std::printf("%s\n", json.c_str());
  return 0;
}

} // namespace

extern "C" int attn_run_main(int argc, char **argv,
                             const attn_run_linked_model *linked) {
  Options opts;
  if (linked) {
    // Messages name the program as they name a library: by its path.
    tool.linked = linked;
    opts.library = argc > 0 && argv[0] && argv[0][0] ? argv[0] : "model";
    tool.program = std::filesystem::path(opts.library).filename().string();
    if (tool.program.empty())
      tool.program = "model";
  }
  int exitCode;
  if (!parseArgs(argc, argv, opts, exitCode))
    return exitCode;
  if (opts.threads > 0 &&
      attn_set_num_threads(static_cast<int>(opts.threads)) != ATTN_OK)
    return error(attn_last_error());

  Session session;
  attn_status loaded =
      linked ? attn_model_from_symbols(opts.library.c_str(), linked->signature,
                                       linked->run, linked->run_ex,
                                       &session.model)
             : attn_model_load(opts.library.c_str(), &session.model);
  if (loaded != ATTN_OK)
    return error(attn_last_error());
  if (opts.signature) {
    if (opts.json)
      std::printf("%s\n", attn_model_signature_json(session.model));
    else
      printSignature(opts, session.model);
    return std::fflush(stdout) == 0
               ? 0
               : error(std::string("cannot write to stdout: ") +
                       std::strerror(errno));
  }
  if (opts.haveGenerate) {
    if (int rc = generate(opts, session))
      return rc;
    return std::fflush(stdout) == 0
               ? 0
               : error(std::string("cannot write to stdout: ") +
                       std::strerror(errno));
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
    if (opts.print)
      printValues(session.outputs[j]);
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
