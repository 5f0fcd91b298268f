//===- Generate.cpp - token-by-token generation over a with-past model ----===//
//
// The generation API of attn/runtime.h ("Generation"). A session recognizes
// the inputs and outputs of a with-past causal-LM export (input_ids,
// attention_mask, position_ids, past/present K/V pairs, logits), keeps the
// context state (mask, positions, past tensors or in-place caches) and
// selects tokens (greedy or sampled) from the last position's logits.
//
// Two kinds of library (the --kv-cache ABI, see attnc --kv-cache):
//  - plain: each call's present outputs become the next call's pasts;
//  - kv-cache (signature key "kv_cache"): cache buffers [B, H, N, D] owned
//    by the session, written in place by the model; past_sequence_length
//    says how many positions are valid.
// Everything model-related goes through the public C API (attn_model_*),
// so a session has no state shared with others: sessions of one model may
// run in different threads at once.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>

using namespace attn::rt;

namespace {

/// One past input and where its next value comes from.
struct CachePair {
  size_t input = 0;
  /// Plain libraries: the present output's index; kv-cache: -1.
  int64_t output = -1;
  std::string inputName, outputName;
  attn_dtype dtype = ATTN_F32;
  int64_t heads = 0, headDim = 0;
};

/// xoshiro256**, seeded through splitmix64.
struct Xoshiro {
  uint64_t s[4];
  void seed(uint64_t seed) {
    for (uint64_t &word : s) {
      uint64_t z = (seed += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      word = z ^ (z >> 31);
    }
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1p-53; }
};

bool isFloatType(attn_dtype d) {
  return d == ATTN_F32 || d == ATTN_F64 || d == ATTN_F16 || d == ATTN_BF16;
}

/// Parses "<prefix><digits><suffix>" and returns the digits, or "".
std::string layerOf(const std::string &name, const std::string &prefix,
                    const std::string &suffix) {
  if (name.size() <= prefix.size() + suffix.size() ||
      name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return "";
  std::string digits = name.substr(prefix.size(), name.size() - prefix.size() -
                                                      suffix.size());
  for (char c : digits)
    if (c < '0' || c > '9')
      return "";
  return digits;
}

/// The present output a plain library pairs with past input `name` (the
/// KVCACHE-ABI name pairs), or "" if `name` is not a past input.
std::string presentFor(const std::string &name) {
  std::string layer;
  if (!(layer = layerOf(name, "past_key_values.", ".key")).empty())
    return "present." + layer + ".key";
  if (!(layer = layerOf(name, "past_key_values.", ".value")).empty())
    return "present." + layer + ".value";
  if (!(layer = layerOf(name, "past_key_", "")).empty())
    return "present_key_" + layer;
  if (!(layer = layerOf(name, "past_value_", "")).empty())
    return "present_value_" + layer;
  return "";
}

constexpr int64_t kUnbounded = INT64_MAX;
/// Largest batch and vocabulary a session takes (far beyond real models;
/// keeps every product below of int64 range).
constexpr int64_t kMaxBatch = int64_t(1) << 20;
constexpr int64_t kMaxVocab = int64_t(1) << 31;

} // namespace

struct attn_gen_session {
  attn_model *model = nullptr;
  int64_t batch = 0;
  int64_t maxLen = kUnbounded;
  attn_gen_options options{};
  std::vector<int64_t> stops;
  int64_t pad = 0;

  // Layout of the model.
  bool kv = false;
  int64_t kvCapacity = 0;
  std::vector<attn_tensor_info> inInfo, outInfo;
  int64_t inIds = -1, inMask = -1, inPos = -1, inPastLen = -1, inUseCache = -1;
  int64_t outLogits = -1;
  std::vector<CachePair> pairs;

  // State.
  /// Plain: the current pasts (owned); kv: the cache buffers (owned).
  std::vector<attn_tensor> pasts;
  /// Row-major [batch, context] of 0/1, rows stored apart.
  std::vector<std::vector<int64_t>> mask;
  /// Per row, the number of 1s in its mask so far.
  std::vector<int64_t> seen;
  int64_t context = 0;
  bool prefilled = false;
  /// Tokens the last step emitted and the model has not seen yet.
  bool pendingFeed = false;
  std::vector<int64_t> pending;
  /// Logits of the last model call (not yet selected from) and of the last
  /// selection, f32 [batch, vocab].
  std::vector<float> fresh, selected;
  bool haveFresh = false, haveSelected = false;
  int64_t vocab = -1;
  std::vector<uint8_t> finished;
  Xoshiro rng{};

  ~attn_gen_session() {
    for (attn_tensor &t : pasts)
      attn_tensor_free(&t);
  }
};

//===----------------------------------------------------------------------===//
// Recognizing the model
//===----------------------------------------------------------------------===//

static std::string inputList(const attn_gen_session &s) {
  std::string list;
  for (const attn_tensor_info &info : s.inInfo)
    list += (list.empty() ? "" : ", ") + std::string(info.name);
  return list.empty() ? "(none)" : list;
}

static std::string outputList(const attn_gen_session &s) {
  std::string list;
  for (const attn_tensor_info &info : s.outInfo)
    list += (list.empty() ? "" : ", ") + std::string(info.name);
  return list.empty() ? "(none)" : list;
}

static attn_status notLM(const std::string &why) {
  return fail(ATTN_ERR_INVALID_ARGUMENT,
              "the model is not a with-past language model: " + why);
}

/// Checks one past/cache input's signature entry and records its layout.
static attn_status checkPastInput(const attn_gen_session &s, CachePair &pair) {
  const attn_tensor_info &info = s.inInfo[pair.input];
  const char *name = info.name;
  if (!isFloatType(info.dtype) || info.rank != 4)
    return notLM(format("past input '%s' must be a float tensor of rank 4 "
                        "[batch, kv_heads, past, head_dim], not %s of rank %d",
                        name, attn_dtype_name(info.dtype), info.rank));
  if (info.shape[1] < 0 || info.shape[3] < 0)
    return notLM(format("past input '%s' has a dynamic kv_heads or head_dim "
                        "(dims 1 and 3 must be static)",
                        name));
  if (info.shape[0] >= 0 && info.shape[0] != s.batch)
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                format("past input '%s' has a static batch of %lld; the "
                       "session's batch is %lld",
                       name, static_cast<long long>(info.shape[0]),
                       static_cast<long long>(s.batch)));
  pair.dtype = info.dtype;
  pair.heads = info.shape[1];
  pair.headDim = info.shape[3];
  pair.inputName = name;
  return ATTN_OK;
}

/// The signature's "kv_cache" object, checked against the KVCACHE ABI.
static attn_status parseKvCache(attn_gen_session &s, const JsonValue &root,
                                const JsonValue &kv) {
  auto bad = [](const std::string &why) {
    return fail(ATTN_ERR_FORMAT, "bad \"kv_cache\" in the signature: " + why);
  };
  if (kv.kind != JsonValue::Object)
    return bad("not an object");
  const JsonValue *maxLen = kv.get("max_len");
  const JsonValue *pastLen = kv.get("past_length_input");
  const JsonValue *caches = kv.get("caches");
  if (!maxLen || maxLen->kind != JsonValue::Number || !maxLen->isInteger ||
      maxLen->integer < 1)
    return bad("\"max_len\" is not a positive integer");
  if (!pastLen || pastLen->kind != JsonValue::String)
    return bad("\"past_length_input\" is not a string");
  if (!caches || caches->kind != JsonValue::Array || caches->elements.empty())
    return bad("\"caches\" is not a non-empty array");
  for (const auto &member : kv.members)
    if (member.first != "max_len" && member.first != "past_length_input" &&
        member.first != "caches")
      return bad("unknown key \"" + member.first + "\"");
  s.kv = true;
  s.kvCapacity = maxLen->integer;
  int64_t pl = attn_model_find_input(s.model, pastLen->string.c_str());
  if (pl < 0)
    return bad("\"past_length_input\" names no input ('" + pastLen->string +
               "')");
  const attn_tensor_info &plInfo = s.inInfo[static_cast<size_t>(pl)];
  if (plInfo.dtype != ATTN_I64 || plInfo.rank != 0)
    return bad(format("input '%s' (\"past_length_input\") must be an i64 "
                      "scalar, not %s of rank %d",
                      plInfo.name, attn_dtype_name(plInfo.dtype),
                      plInfo.rank));
  s.inPastLen = pl;
  // Which inputs the signature flags "kv_cache": true.
  std::vector<bool> flagged(s.inInfo.size(), false), listed(s.inInfo.size());
  const JsonValue *inputs = root.get("inputs");
  if (inputs && inputs->kind == JsonValue::Array)
    for (size_t i = 0; i < inputs->elements.size() && i < flagged.size(); ++i)
      if (const JsonValue *flag = inputs->elements[i].get("kv_cache"))
        flagged[i] = flag->kind == JsonValue::Bool && flag->boolean;
  for (size_t c = 0; c < caches->elements.size(); ++c) {
    const JsonValue &entry = caches->elements[c];
    const JsonValue *in =
        entry.kind == JsonValue::Object ? entry.get("input") : nullptr;
    const JsonValue *out =
        entry.kind == JsonValue::Object ? entry.get("output") : nullptr;
    if (!in || in->kind != JsonValue::String || !out ||
        out->kind != JsonValue::String)
      return bad(format("cache %zu has no \"input\" and \"output\" strings",
                        c));
    int64_t index = attn_model_find_input(s.model, in->string.c_str());
    if (index < 0)
      return bad(format("cache %zu names no input ('%s')", c,
                        in->string.c_str()));
    size_t i = static_cast<size_t>(index);
    if (listed[i])
      return bad("input '" + in->string + "' is listed twice");
    listed[i] = true;
    if (!flagged[i])
      return bad("input '" + in->string +
                 "' is a cache but its entry lacks \"kv_cache\": true");
    if (presentFor(in->string) != out->string)
      return bad("cache input '" + in->string + "' has output '" +
                 out->string + "'; its pair is '" + presentFor(in->string) +
                 "'");
    for (const attn_tensor_info &o : s.outInfo)
      if (out->string == o.name)
        return bad("the replaced output '" + out->string +
                   "' is still an output");
    CachePair pair;
    pair.input = i;
    pair.outputName = out->string;
    if (attn_status st = checkPastInput(s, pair))
      return st;
    if (s.inInfo[i].shape[2] != s.kvCapacity)
      return bad(format("cache input '%s' has %lld positions (dim 2); "
                        "\"max_len\" is %lld",
                        s.inInfo[i].name,
                        static_cast<long long>(s.inInfo[i].shape[2]),
                        static_cast<long long>(s.kvCapacity)));
    s.pairs.push_back(pair);
  }
  for (size_t i = 0; i < flagged.size(); ++i)
    if (flagged[i] && !listed[i])
      return bad(format("input '%s' has \"kv_cache\": true but is not in "
                        "\"caches\"",
                        s.inInfo[i].name));
  return ATTN_OK;
}

static attn_status recognize(attn_gen_session &s) {
  attn_model *m = s.model;
  s.inInfo.resize(attn_model_num_inputs(m));
  s.outInfo.resize(attn_model_num_outputs(m));
  for (size_t i = 0; i < s.inInfo.size(); ++i)
    if (attn_status st = attn_model_input_info(m, i, &s.inInfo[i]))
      return st;
  for (size_t j = 0; j < s.outInfo.size(); ++j)
    if (attn_status st = attn_model_output_info(m, j, &s.outInfo[j]))
      return st;

  JsonValue root;
  std::string error;
  if (!parseJson(attn_model_signature_json(m), root, error))
    return fail(ATTN_ERR_FORMAT, "malformed signature JSON: " + error);
  if (const JsonValue *kv = root.get("kv_cache"))
    if (attn_status st = parseKvCache(s, root, *kv))
      return st;

  s.inIds = attn_model_find_input(m, "input_ids");
  if (s.inIds < 0)
    return notLM("it has no input 'input_ids' (its inputs: " + inputList(s) +
                 ")");
  const attn_tensor_info &ids = s.inInfo[static_cast<size_t>(s.inIds)];
  if (ids.dtype != ATTN_I64 || ids.rank != 2)
    return notLM(format("input 'input_ids' must be i64 [batch, seq], not %s "
                        "of rank %d",
                        attn_dtype_name(ids.dtype), ids.rank));
  if (ids.shape[0] >= 0 && ids.shape[0] != s.batch)
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                format("input 'input_ids' has a static batch of %lld; the "
                       "session's batch is %lld",
                       static_cast<long long>(ids.shape[0]),
                       static_cast<long long>(s.batch)));
  s.inMask = attn_model_find_input(m, "attention_mask");
  s.inPos = attn_model_find_input(m, "position_ids");
  s.inUseCache = attn_model_find_input(m, "use_cache_branch");
  for (int64_t idx : {s.inMask, s.inPos}) {
    if (idx < 0)
      continue;
    const attn_tensor_info &info = s.inInfo[static_cast<size_t>(idx)];
    if (info.dtype != ATTN_I64 || info.rank != 2)
      return notLM(format("input '%s' must be i64 of rank 2, not %s of rank "
                          "%d",
                          info.name, attn_dtype_name(info.dtype), info.rank));
  }
  if (s.inUseCache >= 0) {
    const attn_tensor_info &info = s.inInfo[static_cast<size_t>(s.inUseCache)];
    if (info.dtype != ATTN_BOOL ||
        !(info.rank == 0 || (info.rank == 1 && info.shape[0] == 1)))
      return notLM("input 'use_cache_branch' must be bool of shape [] or [1]");
  }

  if (!s.kv) {
    for (size_t i = 0; i < s.inInfo.size(); ++i) {
      std::string present = presentFor(s.inInfo[i].name);
      if (present.empty())
        continue;
      CachePair pair;
      pair.input = i;
      pair.outputName = present;
      for (size_t j = 0; j < s.outInfo.size(); ++j)
        if (present == s.outInfo[j].name)
          pair.output = static_cast<int64_t>(j);
      if (pair.output < 0)
        return notLM(format("past input '%s' has no present output '%s' "
                            "(its outputs: %s)",
                            s.inInfo[i].name, present.c_str(),
                            outputList(s).c_str()));
      if (attn_status st = checkPastInput(s, pair))
        return st;
      const attn_tensor_info &out = s.outInfo[static_cast<size_t>(pair.output)];
      if (out.dtype != pair.dtype || out.rank != 4)
        return notLM(format("present output '%s' (%s, rank %d) does not match "
                            "past input '%s' (%s, rank 4)",
                            out.name, attn_dtype_name(out.dtype), out.rank,
                            s.inInfo[i].name, attn_dtype_name(pair.dtype)));
      s.pairs.push_back(pair);
    }
    if (s.pairs.empty())
      return notLM("it has no past key/value inputs (past_key_values.{i}."
                   "key|value or past_key_{i}/past_value_{i}; its inputs: " +
                   inputList(s) + ")");
  }
  // Every input must be one the session fills.
  for (size_t i = 0; i < s.inInfo.size(); ++i) {
    int64_t idx = static_cast<int64_t>(i);
    bool known = idx == s.inIds || idx == s.inMask || idx == s.inPos ||
                 idx == s.inPastLen || idx == s.inUseCache;
    for (const CachePair &pair : s.pairs)
      known |= pair.input == i;
    if (!known)
      return notLM(format("generation does not know how to fill its input "
                          "'%s'",
                          s.inInfo[i].name));
  }
  s.outLogits = -1;
  for (size_t j = 0; j < s.outInfo.size(); ++j)
    if (std::strcmp(s.outInfo[j].name, "logits") == 0)
      s.outLogits = static_cast<int64_t>(j);
  if (s.outLogits < 0)
    return notLM("it has no output 'logits' (its outputs: " + outputList(s) +
                 ")");
  const attn_tensor_info &logits = s.outInfo[static_cast<size_t>(s.outLogits)];
  if (!isFloatType(logits.dtype) || logits.rank != 3)
    return notLM(format("output 'logits' must be a float tensor [batch, seq, "
                        "vocab], not %s of rank %d",
                        attn_dtype_name(logits.dtype), logits.rank));
  return ATTN_OK;
}

extern "C" void attn_gen_options_init(attn_gen_options *options) {
  if (!options)
    return;
  std::memset(options, 0, sizeof(*options));
  options->max_new_tokens = 16;
  options->temperature = 0.0f;
  options->top_k = 0;
  options->top_p = 1.0f;
  options->seed = 0;
  options->stop_token_ids = nullptr;
  options->n_stop_token_ids = 0;
  options->pad_token_id = -1;
}

extern "C" attn_status attn_gen_session_create(attn_model *model, int64_t batch,
                                               int64_t max_len,
                                               const attn_gen_options *options,
                                               attn_gen_session **out) {
  if (!out)
    return fail(ATTN_ERR_INVALID_ARGUMENT, "attn_gen_session_create: out is NULL");
  *out = nullptr;
  if (!model)
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                "attn_gen_session_create: model is NULL");
  if (batch < 1 || batch > kMaxBatch)
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                format("attn_gen_session_create: batch %lld is outside [1, "
                       "%lld]",
                       static_cast<long long>(batch),
                       static_cast<long long>(kMaxBatch)));
  attn_gen_options opts;
  attn_gen_options_init(&opts);
  if (options)
    opts = *options;
  if (opts.max_new_tokens < 0)
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                format("max_new_tokens must not be negative, got %d",
                       opts.max_new_tokens));
  if (std::isnan(opts.temperature))
    return fail(ATTN_ERR_INVALID_ARGUMENT, "temperature is NaN");
  // Negative would silently mean greedy, infinity a uniform draw.
  if (!(opts.temperature >= 0.0f) || std::isinf(opts.temperature))
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                format("temperature must be finite and >= 0, got %g",
                       static_cast<double>(opts.temperature)));
  if (opts.top_k < 0)
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                format("top_k must not be negative, got %d", opts.top_k));
  if (!(opts.top_p > 0.0f && opts.top_p <= 1.0f))
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                format("top_p must be in (0, 1], got %g",
                       static_cast<double>(opts.top_p)));
  if (opts.n_stop_token_ids && !opts.stop_token_ids)
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                "stop_token_ids is NULL but n_stop_token_ids is not 0");
  auto s = std::make_unique<attn_gen_session>();
  s->model = model;
  s->batch = batch;
  s->options = opts;
  s->stops.assign(opts.stop_token_ids,
                  opts.stop_token_ids + opts.n_stop_token_ids);
  for (int64_t id : s->stops)
    if (id < 0)
      return fail(ATTN_ERR_INVALID_ARGUMENT,
                  format("stop token id %lld is negative",
                         static_cast<long long>(id)));
  s->options.stop_token_ids = nullptr;
  s->pad = opts.pad_token_id >= 0 ? opts.pad_token_id
           : s->stops.empty()     ? 0
                                  : s->stops.front();
  s->rng.seed(opts.seed);
  if (attn_status st = recognize(*s))
    return st;
  if (s->kv) {
    if (max_len > s->kvCapacity)
      return fail(ATTN_ERR_INVALID_ARGUMENT,
                  format("max_len %lld exceeds the library's cache of %lld "
                         "positions (attnc --kv-cache=%lld)",
                         static_cast<long long>(max_len),
                         static_cast<long long>(s->kvCapacity),
                         static_cast<long long>(s->kvCapacity)));
    s->maxLen = max_len > 0 ? max_len : s->kvCapacity;
    // The caches, zeroed once.
    for (const CachePair &pair : s->pairs) {
      int64_t shape[4] = {batch, pair.heads, s->kvCapacity, pair.headDim};
      attn_tensor t;
      if (attn_status st = attn_tensor_alloc(pair.dtype, 4, shape, &t))
        return st;
      s->pasts.push_back(t);
    }
  } else {
    s->maxLen = max_len > 0 ? max_len : kUnbounded;
    s->pasts.resize(s->pairs.size());
    for (attn_tensor &t : s->pasts)
      std::memset(&t, 0, sizeof(t));
  }
  *out = s.release();
  return ATTN_OK;
}

extern "C" void attn_gen_session_free(attn_gen_session *session) {
  delete session;
}

extern "C" int attn_gen_session_kv_cache(const attn_gen_session *session) {
  return session && session->kv ? 1 : 0;
}

extern "C" int64_t attn_gen_session_max_len(const attn_gen_session *session) {
  return session ? session->maxLen : 0;
}

extern "C" int64_t
attn_gen_session_context_len(const attn_gen_session *session) {
  return session ? session->context : 0;
}

//===----------------------------------------------------------------------===//
// One model call
//===----------------------------------------------------------------------===//

static attn_status contextFull(int64_t need, int64_t max) {
  return fail(ATTN_ERR_INVALID_ARGUMENT,
              format("context full: %lld of %lld tokens",
                     static_cast<long long>(need),
                     static_cast<long long>(max)));
}

/// Runs the model on `ids` / `newMask` ([batch, t] row-major) on top of the
/// context; on success the context grows by t and `fresh` holds the last
/// position's logits.
static attn_status runModel(attn_gen_session &s, const std::vector<int64_t> &ids,
                            const std::vector<int64_t> &newMask, int64_t t) {
  const int64_t B = s.batch, P = s.context;
  if (t > s.maxLen - P)
    return contextFull(P + t, s.maxLen);
  // Mask and positions of the new tokens.
  std::vector<int64_t> mask(static_cast<size_t>(B * (P + t)));
  std::vector<int64_t> pos(static_cast<size_t>(B * t));
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<int64_t> &row = s.mask[static_cast<size_t>(b)];
    std::copy(row.begin(), row.end(), mask.begin() + b * (P + t));
    int64_t seen = s.seen[static_cast<size_t>(b)];
    for (int64_t j = 0; j < t; ++j) {
      int64_t m = newMask[static_cast<size_t>(b * t + j)];
      mask[static_cast<size_t>(b * (P + t) + P + j)] = m;
      seen += m;
      pos[static_cast<size_t>(b * t + j)] = m ? seen - 1 : 1;
    }
  }
  int64_t pastLen = P;
  uint8_t useCache = P > 0;
  std::vector<attn_tensor> in(s.inInfo.size());
  for (attn_tensor &x : in)
    std::memset(&x, 0, sizeof(x));
  auto view = [](attn_tensor &x, attn_dtype dtype, std::vector<int64_t> shape,
                 const void *data) {
    x.dtype = dtype;
    x.rank = static_cast<int32_t>(shape.size());
    for (size_t d = 0; d < shape.size(); ++d)
      x.shape[d] = shape[d];
    x.data = const_cast<void *>(data);
  };
  view(in[static_cast<size_t>(s.inIds)], ATTN_I64, {B, t}, ids.data());
  if (s.inMask >= 0)
    view(in[static_cast<size_t>(s.inMask)], ATTN_I64, {B, P + t}, mask.data());
  if (s.inPos >= 0)
    view(in[static_cast<size_t>(s.inPos)], ATTN_I64, {B, t}, pos.data());
  if (s.inPastLen >= 0)
    view(in[static_cast<size_t>(s.inPastLen)], ATTN_I64, {}, &pastLen);
  if (s.inUseCache >= 0) {
    const attn_tensor_info &info = s.inInfo[static_cast<size_t>(s.inUseCache)];
    view(in[static_cast<size_t>(s.inUseCache)], ATTN_BOOL,
         info.rank ? std::vector<int64_t>{1} : std::vector<int64_t>{},
         &useCache);
  }
  std::vector<attn_tensor> pastViews;
  for (size_t k = 0; k < s.pairs.size(); ++k) {
    const CachePair &pair = s.pairs[k];
    attn_tensor &x = in[pair.input];
    if (s.kv) {
      x = s.pasts[k];
    } else if (P == 0) {
      // Pasts with 0 positions (data never read).
      view(x, pair.dtype, {B, pair.heads, 0, pair.headDim}, &pastLen);
    } else {
      x = s.pasts[k];
    }
  }
  std::vector<attn_tensor> out(s.outInfo.size());
  if (attn_status st = attn_model_execute(s.model, in.data(), in.size(),
                                          out.data(), out.size()))
    return st;
  struct Release {
    std::vector<attn_tensor> &out;
    ~Release() {
      for (attn_tensor &x : out)
        attn_tensor_free(&x);
    }
  } release{out};

  // Logits [B, t or 1, V]: the last position of each row.
  const attn_tensor &logits = out[static_cast<size_t>(s.outLogits)];
  if (logits.rank != 3 || logits.shape[0] != B || logits.shape[1] < 1 ||
      logits.shape[1] > t || logits.shape[2] < 1 ||
      logits.shape[2] > kMaxVocab || (s.vocab >= 0 && logits.shape[2] != s.vocab))
    return fail(ATTN_ERR_RUNTIME,
                format("output 'logits' has shape %s; expected [%lld, %lld "
                       "(or 1), vocab]",
                       shapeString(logits).c_str(), static_cast<long long>(B),
                       static_cast<long long>(t)));
  const int64_t L = logits.shape[1], V = logits.shape[2];
  s.vocab = V;
  s.fresh.resize(static_cast<size_t>(B * V));
  for (int64_t b = 0; b < B; ++b) {
    int64_t base = (b * L + L - 1) * V;
    float *dst = s.fresh.data() + b * V;
    for (int64_t v = 0; v < V; ++v) {
      int64_t i = base + v;
      switch (logits.dtype) {
      case ATTN_F32:
        dst[v] = static_cast<const float *>(logits.data)[i];
        break;
      case ATTN_F64:
        dst[v] = static_cast<float>(static_cast<const double *>(logits.data)[i]);
        break;
      case ATTN_F16:
        dst[v] = attn_f16_to_f32(static_cast<const uint16_t *>(logits.data)[i]);
        break;
      default:
        dst[v] =
            attn_bf16_to_f32(static_cast<const uint16_t *>(logits.data)[i]);
        break;
      }
    }
  }
  if (!s.kv) {
    // The presents become the next pasts: check them all before taking any.
    for (const CachePair &pair : s.pairs) {
      const attn_tensor &p = out[static_cast<size_t>(pair.output)];
      if (p.dtype != pair.dtype || p.rank != 4 || p.shape[0] != B ||
          p.shape[1] != pair.heads || p.shape[2] != P + t ||
          p.shape[3] != pair.headDim)
        return fail(ATTN_ERR_RUNTIME,
                    format("output '%s' has shape %s; expected %s[%lld,%lld,"
                           "%lld,%lld] (past '%s' plus %lld new positions)",
                           pair.outputName.c_str(), shapeString(p).c_str(),
                           attn_dtype_name(pair.dtype),
                           static_cast<long long>(B),
                           static_cast<long long>(pair.heads),
                           static_cast<long long>(P + t),
                           static_cast<long long>(pair.headDim),
                           pair.inputName.c_str(), static_cast<long long>(t)));
    }
    for (size_t k = 0; k < s.pairs.size(); ++k) {
      attn_tensor_free(&s.pasts[k]);
      attn_tensor &p = out[static_cast<size_t>(s.pairs[k].output)];
      s.pasts[k] = p;
      p.data = nullptr; // taken
    }
  }
  for (int64_t b = 0; b < B; ++b) {
    std::vector<int64_t> &row = s.mask[static_cast<size_t>(b)];
    for (int64_t j = 0; j < t; ++j) {
      int64_t m = newMask[static_cast<size_t>(b * t + j)];
      row.push_back(m);
      s.seen[static_cast<size_t>(b)] += m;
    }
  }
  s.context = P + t;
  s.haveFresh = true;
  return ATTN_OK;
}

//===----------------------------------------------------------------------===//
// Token selection
//===----------------------------------------------------------------------===//

/// Greedy: the first maximum (NaN counts as the largest, as torch.argmax).
static int64_t argmax(const float *x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(x[i]))
      return i;
    if (x[i] > x[best])
      best = i;
  }
  return best;
}

/// Temperature, top-k, top-p (Hugging Face's order and rules), softmax and
/// one draw.
static int64_t sample(attn_gen_session &s, const float *x, int64_t n) {
  const attn_gen_options &o = s.options;
  std::vector<double> scores(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    scores[static_cast<size_t>(i)] =
        static_cast<double>(x[i]) / static_cast<double>(o.temperature);
  const double ninf = -INFINITY;
  if (o.top_k > 0 && o.top_k < n) {
    // TopKLogitsWarper: remove scores below the k-th largest (ties stay).
    std::vector<double> sorted = scores;
    std::nth_element(sorted.begin(), sorted.begin() + (o.top_k - 1),
                     sorted.end(), std::greater<double>());
    double kth = sorted[static_cast<size_t>(o.top_k - 1)];
    for (double &v : scores)
      if (v < kth)
        v = ninf;
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  auto softmaxOf = [&](const std::vector<int64_t> &idx,
                       std::vector<double> &probs) {
    double mx = ninf;
    for (int64_t i : idx)
      mx = std::max(mx, scores[static_cast<size_t>(i)]);
    probs.assign(idx.size(), 0.0);
    double sum = 0;
    for (size_t k = 0; k < idx.size(); ++k) {
      double v = scores[static_cast<size_t>(idx[k])];
      probs[k] = v == ninf ? 0.0 : std::exp(v - mx);
      sum += probs[k];
    }
    for (double &p : probs)
      p = sum > 0 ? p / sum : 0.0;
  };
  if (o.top_p < 1.0f) {
    // TopPLogitsWarper: sort ascending, remove while the cumulative
    // probability is <= 1 - top_p, always keep the largest.
    // Stable by index (order starts as iota): std::sort with the index as the
    // tie-break, because libstdc++ 12's std::stable_sort uses the deprecated
    // get_temporary_buffer, an error in the -Werror ASan build.
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      double sa = scores[static_cast<size_t>(a)], sb = scores[static_cast<size_t>(b)];
      return sa < sb || (sa == sb && a < b);
    });
    std::vector<double> probs;
    softmaxOf(order, probs);
    double cum = 0, limit = 1.0 - static_cast<double>(o.top_p);
    for (size_t k = 0; k + 1 < order.size(); ++k) {
      cum += probs[k];
      if (cum <= limit)
        scores[static_cast<size_t>(order[k])] = ninf;
    }
    std::iota(order.begin(), order.end(), 0);
  }
  std::vector<double> probs;
  softmaxOf(order, probs);
  double u = s.rng.uniform(), cum = 0;
  int64_t last = -1;
  for (size_t k = 0; k < order.size(); ++k) {
    if (probs[k] <= 0)
      continue;
    last = order[k];
    cum += probs[k];
    if (u < cum)
      return order[k];
  }
  // Rounding left u above the total, or nothing was finite: the last
  // candidate, else greedy.
  return last >= 0 ? last : argmax(x, n);
}

extern "C" attn_status attn_gen_prefill(attn_gen_session *session,
                                        const attn_tensor *input_ids,
                                        const attn_tensor *attention_mask) {
  if (!session || !input_ids)
    return fail(ATTN_ERR_INVALID_ARGUMENT, "attn_gen_prefill: NULL argument");
  attn_gen_session &s = *session;
  const int64_t B = s.batch;
  if (input_ids->dtype != ATTN_I64 || input_ids->rank != 2)
    return fail(ATTN_ERR_DTYPE,
                format("input_ids must be i64 [batch, seq], got %s",
                       shapeString(*input_ids).c_str()));
  const int64_t T = input_ids->shape[1];
  if (input_ids->shape[0] != B || T < 1 || !input_ids->data)
    return fail(ATTN_ERR_SHAPE,
                format("input_ids must be [%lld, seq] with seq >= 1, got %s",
                       static_cast<long long>(B),
                       shapeString(*input_ids).c_str()));
  if (T > s.maxLen)
    return contextFull(T, s.maxLen);
  if (T > (int64_t(1) << 40) / B)
    return fail(ATTN_ERR_SHAPE, "input_ids is too large");
  std::vector<int64_t> ids(static_cast<const int64_t *>(input_ids->data),
                           static_cast<const int64_t *>(input_ids->data) +
                               B * T);
  // Token ids are >= 0: the model's Gather would take -1 as the last row
  // of its table (ONNX's negative indices), a silent wrong token.
  for (int64_t i = 0; i < B * T; ++i)
    if (ids[static_cast<size_t>(i)] < 0)
      return fail(ATTN_ERR_INVALID_ARGUMENT,
                  format("input_ids[%lld, %lld] is %lld; token ids must be "
                         ">= 0",
                         static_cast<long long>(i / T),
                         static_cast<long long>(i % T),
                         static_cast<long long>(ids[static_cast<size_t>(i)])));
  std::vector<int64_t> mask(static_cast<size_t>(B * T), 1);
  if (attention_mask) {
    if (attention_mask->dtype != ATTN_I64 || attention_mask->rank != 2 ||
        attention_mask->shape[0] != B || attention_mask->shape[1] != T ||
        !attention_mask->data)
      return fail(ATTN_ERR_SHAPE,
                  format("attention_mask must be i64 [%lld, %lld] like "
                         "input_ids, got %s",
                         static_cast<long long>(B), static_cast<long long>(T),
                         shapeString(*attention_mask).c_str()));
    const int64_t *m = static_cast<const int64_t *>(attention_mask->data);
    bool padded = false;
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t j = 0; j < T; ++j) {
        int64_t v = m[b * T + j];
        if (v != 0 && v != 1)
          return fail(ATTN_ERR_INVALID_ARGUMENT,
                      format("attention_mask[%lld, %lld] is %lld; only 0 and "
                             "1 are allowed",
                             static_cast<long long>(b),
                             static_cast<long long>(j),
                             static_cast<long long>(v)));
        padded |= v == 0;
        mask[static_cast<size_t>(b * T + j)] = v;
      }
      if (m[b * T + T - 1] != 1)
        return fail(ATTN_ERR_INVALID_ARGUMENT,
                    format("attention_mask row %lld ends with padding; "
                           "generation needs left padding (0s first, the "
                           "last token a 1)",
                           static_cast<long long>(b)));
    }
    if (padded && s.inMask < 0)
      return fail(ATTN_ERR_INVALID_ARGUMENT,
                  "attention_mask has padding but the model has no input "
                  "'attention_mask'");
  }
  // Start over.
  s.context = 0;
  s.mask.assign(static_cast<size_t>(B), {});
  s.seen.assign(static_cast<size_t>(B), 0);
  s.finished.assign(static_cast<size_t>(B), 0);
  s.pendingFeed = false;
  s.haveFresh = s.haveSelected = false;
  s.prefilled = false;
  if (!s.kv)
    for (attn_tensor &t : s.pasts)
      attn_tensor_free(&t);
  s.rng.seed(s.options.seed);
  if (attn_status st = runModel(s, ids, mask, T))
    return st;
  // A finished row feeds the pad id back: it must be a token of the model.
  if (!s.stops.empty() && s.pad >= s.vocab)
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                format("pad token id %lld%s is not below the model's "
                       "vocabulary size %lld (the pad id is fed back for "
                       "finished rows)",
                       static_cast<long long>(s.pad),
                       s.options.pad_token_id < 0
                           ? " (the first stop token, the default pad id)"
                           : "",
                       static_cast<long long>(s.vocab)));
  s.prefilled = true;
  return ATTN_OK;
}

extern "C" attn_status attn_gen_step(attn_gen_session *session,
                                     int64_t *out_tokens) {
  if (!session || !out_tokens)
    return fail(ATTN_ERR_INVALID_ARGUMENT, "attn_gen_step: NULL argument");
  attn_gen_session &s = *session;
  if (!s.prefilled)
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                "attn_gen_step: no prompt (call attn_gen_prefill first)");
  const int64_t B = s.batch;
  if (s.pendingFeed) {
    std::vector<int64_t> ones(static_cast<size_t>(B), 1);
    if (attn_status st = runModel(s, s.pending, ones, 1))
      return st;
    s.pendingFeed = false;
  }
  if (!s.haveFresh)
    return fail(ATTN_ERR_INVALID_ARGUMENT, "attn_gen_step: no logits to "
                                           "select from");
  const int64_t V = s.vocab;
  s.pending.assign(static_cast<size_t>(B), s.pad);
  for (int64_t b = 0; b < B; ++b) {
    if (s.finished[static_cast<size_t>(b)])
      continue;
    const float *row = s.fresh.data() + b * V;
    int64_t token = s.options.temperature > 0.0f ? sample(s, row, V)
                                                 : argmax(row, V);
    s.pending[static_cast<size_t>(b)] = token;
    if (std::find(s.stops.begin(), s.stops.end(), token) != s.stops.end())
      s.finished[static_cast<size_t>(b)] = 1;
  }
  std::copy(s.pending.begin(), s.pending.end(), out_tokens);
  s.selected.swap(s.fresh);
  s.haveSelected = true;
  s.haveFresh = false;
  s.pendingFeed = true;
  return ATTN_OK;
}

extern "C" int attn_gen_done(const attn_gen_session *session) {
  if (!session || session->stops.empty() || session->finished.empty())
    return 0;
  for (uint8_t f : session->finished)
    if (!f)
      return 0;
  return 1;
}

extern "C" attn_status attn_gen_last_logits(const attn_gen_session *session,
                                            attn_tensor *out) {
  if (!session || !out)
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                "attn_gen_last_logits: NULL argument");
  std::memset(out, 0, sizeof(*out));
  if (!session->haveSelected)
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                "attn_gen_last_logits: no step has selected tokens yet");
  out->dtype = ATTN_F32;
  out->rank = 2;
  out->shape[0] = session->batch;
  out->shape[1] = session->vocab;
  out->data = const_cast<float *>(session->selected.data());
  return ATTN_OK;
}

extern "C" attn_status attn_gen_generate(attn_gen_session *session,
                                         const attn_tensor *input_ids,
                                         const attn_tensor *attention_mask,
                                         attn_gen_result *result) {
  if (!session || !input_ids || !result)
    return fail(ATTN_ERR_INVALID_ARGUMENT, "attn_gen_generate: NULL argument");
  std::memset(result, 0, sizeof(*result));
  attn_gen_session &s = *session;
  const int64_t B = s.batch, n = s.options.max_new_tokens;
  if (input_ids->rank == 2 && n > 0) {
    int64_t T = input_ids->shape[1];
    // Every token but the last is fed back to the model.
    if (T >= 0 && T <= s.maxLen && n - 1 > s.maxLen - T)
      return contextFull(T + n - 1, s.maxLen);
  }
  using Clock = std::chrono::steady_clock;
  Clock::time_point start = Clock::now();
  if (attn_status st = attn_gen_prefill(session, input_ids, attention_mask))
    return st;
  std::vector<int64_t> tokens(static_cast<size_t>(B * n));
  std::vector<int64_t> counts(static_cast<size_t>(B), 0);
  std::vector<int64_t> step(static_cast<size_t>(B));
  double prefillMs = 0, decodeMs = 0;
  int64_t steps = 0;
  for (; steps < n; ++steps) {
    if (steps > 0 && attn_gen_done(session))
      break;
    std::vector<uint8_t> before = s.finished;
    if (attn_status st = attn_gen_step(session, step.data()))
      return st;
    Clock::time_point now = Clock::now();
    double ms = std::chrono::duration<double, std::milli>(now - start).count();
    start = now;
    (steps == 0 ? prefillMs : decodeMs) += ms;
    for (int64_t b = 0; b < B; ++b) {
      tokens[static_cast<size_t>(b * n + steps)] = step[static_cast<size_t>(b)];
      if (!before[static_cast<size_t>(b)])
        ++counts[static_cast<size_t>(b)];
    }
  }
  if (n == 0)
    prefillMs = std::chrono::duration<double, std::milli>(Clock::now() - start)
                    .count();
  // tokens holds [B, n]; compact to [B, steps].
  result->tokens = static_cast<int64_t *>(
      std::malloc(static_cast<size_t>(B * std::max<int64_t>(steps, 1)) *
                  sizeof(int64_t)));
  result->counts =
      static_cast<int64_t *>(std::malloc(static_cast<size_t>(B) * sizeof(int64_t)));
  if (!result->tokens || !result->counts) {
    attn_gen_result_free(result);
    return fail(ATTN_ERR_OUT_OF_MEMORY, "cannot allocate the generated tokens");
  }
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t k = 0; k < steps; ++k)
      result->tokens[b * steps + k] = tokens[static_cast<size_t>(b * n + k)];
    result->counts[b] = counts[static_cast<size_t>(b)];
  }
  result->batch = B;
  result->n_steps = steps;
  result->prefill_ms = prefillMs;
  int64_t calls = steps > 0 ? steps - 1 : 0;
  result->decode_ms_per_token = calls ? decodeMs / static_cast<double>(calls) : 0;
  result->tokens_per_s =
      calls && decodeMs > 0
          ? static_cast<double>(B * calls) / (decodeMs / 1000.0)
          : 0;
  return ATTN_OK;
}

extern "C" void attn_gen_result_free(attn_gen_result *result) {
  if (!result)
    return;
  std::free(result->tokens);
  std::free(result->counts);
  result->tokens = nullptr;
  result->counts = nullptr;
}
