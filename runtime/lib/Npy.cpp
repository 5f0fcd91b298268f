//===- Npy.cpp - .npy reader and writer
//------------------------------------===//
//
// The format (numpy/lib/format.py): "\x93NUMPY", a version byte pair, a
// little-endian header length (2 bytes in v1, 4 bytes in v2/v3), a Python dict
// literal {'descr': ..., 'fortran_order': ..., 'shape': (...)} padded with
// spaces and a newline, then the raw data.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>

using namespace attn::rt;

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the .npy code assumes a little-endian host"
#endif

namespace {

/// Closes a FILE on every return path.
struct FileCloser {
  void operator()(std::FILE *f) const {
    if (f)
      std::fclose(f);
  }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

/// The parsed header dict.
struct NpyHeader {
  std::string descr;
  bool haveDescr = false, haveFortran = false, haveShape = false;
  bool fortranOrder = false;
  std::vector<int64_t> shape;
};

/// A parser for the restricted Python literal numpy writes as the header.
class HeaderParser {
public:
  explicit HeaderParser(const std::string &text) : text(text) {}

  /// Returns an empty string on success, else what was wrong.
  std::string parse(NpyHeader &header) {
    skipSpace();
    if (!consume('{'))
      return "expected '{'";
    while (true) {
      skipSpace();
      if (consume('}'))
        break;
      std::string key;
      if (!parseString(key))
        return "expected a string key";
      skipSpace();
      if (!consume(':'))
        return "expected ':' after '" + key + "'";
      skipSpace();
      if (key == "descr") {
        if (peek() == '[')
          return "structured dtypes are not supported";
        if (!parseString(header.descr))
          return "'descr' is not a string";
        header.haveDescr = true;
      } else if (key == "fortran_order") {
        if (consumeWord("True"))
          header.fortranOrder = true;
        else if (consumeWord("False"))
          header.fortranOrder = false;
        else
          return "'fortran_order' is not True or False";
        header.haveFortran = true;
      } else if (key == "shape") {
        if (!parseShape(header.shape))
          return "'shape' is not a tuple of non-negative integers";
        header.haveShape = true;
      } else {
        return "unexpected key '" + key + "'";
      }
      skipSpace();
      if (consume(','))
        continue;
      skipSpace();
      if (consume('}'))
        break;
      return "expected ',' or '}'";
    }
    skipSpace();
    if (pos != text.size())
      return "unexpected characters after the dict";
    if (!header.haveDescr || !header.haveFortran || !header.haveShape)
      return "missing 'descr', 'fortran_order' or 'shape'";
    return "";
  }

private:
  const std::string &text;
  size_t pos = 0;

  char peek() const { return pos < text.size() ? text[pos] : '\0'; }
  bool consume(char c) {
    if (peek() != c)
      return false;
    ++pos;
    return true;
  }
  bool consumeWord(const char *word) {
    size_t n = std::strlen(word);
    if (text.compare(pos, n, word) != 0)
      return false;
    pos += n;
    return true;
  }
  void skipSpace() {
    while (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')
      ++pos;
  }
  bool parseString(std::string &out) {
    char quote = peek();
    if (quote != '\'' && quote != '"')
      return false;
    ++pos;
    out.clear();
    // numpy never writes escapes in these strings.
    while (pos < text.size() && text[pos] != quote)
      out += text[pos++];
    return consume(quote);
  }
  bool parseShape(std::vector<int64_t> &shape) {
    if (!consume('('))
      return false;
    shape.clear();
    while (true) {
      skipSpace();
      if (consume(')'))
        return true;
      if (!(peek() >= '0' && peek() <= '9'))
        return false;
      int64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (v > (INT64_MAX - 9) / 10)
          return false;
        v = v * 10 + (text[pos++] - '0');
      }
      consume('L'); // Python 2 longs, as old numpy wrote them
      shape.push_back(v);
      skipSpace();
      if (consume(','))
        continue;
      skipSpace();
      if (consume(')'))
        return true;
      return false;
    }
  }
};

} // namespace

/// `text` for a message: bytes outside printable ASCII as \xNN, cut short.
static std::string printable(const std::string &text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (out.size() >= 64) {
      out += "...";
      break;
    }
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f)
      out += static_cast<char>(c);
    else
      out += format("\\x%02x", c);
  }
  return out;
}

/// True for the descrs of 16-bit raw words that tools use to store bfloat16
/// (numpy has no bfloat16): uint16/int16 views, and the two-byte void type
/// np.save writes for an ml_dtypes.bfloat16 array ('<V2', '|V2' for a plain
/// np.void), or 'bfloat16' as written from str(array.dtype).
static bool isBf16Words(const std::string &descr) {
  return descr == "<u2" || descr == "<i2" || descr == "<V2" ||
         descr == "|V2" || descr == "bfloat16";
}

/// Maps a numpy descr to our dtype; fails with a message naming `path`.
static attn_status dtypeFromDescr(const std::string &descr,
                                  const std::string &path, attn_dtype &out) {
  bool hasOrder = !descr.empty() && std::strchr("<>|=", descr[0]);
  char order = hasOrder ? descr[0] : '|';
  std::string kind = hasOrder ? descr.substr(1) : descr;
  if (!kind.empty() && kind[0] == 'O')
    return fail(ATTN_ERR_DTYPE,
                format("'%s': object arrays are not supported", path.c_str()));
  bool singleByte = kind.size() == 2 && kind[1] == '1';
  if (order == '>' && !singleByte)
    return fail(ATTN_ERR_FORMAT,
                format("'%s': big-endian data ('%s') is not supported; "
                       "convert with arr.astype(arr.dtype.newbyteorder('<'))",
                       path.c_str(), printable(descr).c_str()));
  static const struct {
    const char *kind;
    attn_dtype dtype;
  } kKinds[] = {{"f4", ATTN_F32}, {"f8", ATTN_F64}, {"f2", ATTN_F16},
                {"i8", ATTN_I64}, {"i4", ATTN_I32}, {"i2", ATTN_I16},
                {"i1", ATTN_I8},  {"u1", ATTN_U8},  {"b1", ATTN_BOOL}};
  for (const auto &k : kKinds) {
    if (kind == k.kind) {
      out = k.dtype;
      return ATTN_OK;
    }
  }
  return fail(ATTN_ERR_DTYPE,
              format("'%s': unsupported dtype '%s' (supported: f4 f8 f2 i8 i4 "
                     "i2 i1 u1 b1)",
                     path.c_str(), printable(descr).c_str()));
}

/// Reads `path`; with `bf16Words`, 16-bit raw words (isBf16Words) are read
/// as bf16.
static attn_status loadNpy(const char *path, bool bf16Words,
                           attn_tensor *out) {
  std::memset(out, 0, sizeof(*out));
  std::string p = path;
  FilePtr file(std::fopen(path, "rb"));
  if (!file)
    return fail(ATTN_ERR_IO,
                format("cannot open '%s': %s", path, std::strerror(errno)));

  unsigned char prefix[8];
  if (std::fread(prefix, 1, 8, file.get()) != 8 ||
      std::memcmp(prefix, "\x93NUMPY", 6) != 0)
    return fail(ATTN_ERR_FORMAT, format("'%s': not a .npy file", path));
  unsigned major = prefix[6];
  uint32_t headerLen = 0;
  if (major == 1) {
    unsigned char len[2];
    if (std::fread(len, 1, 2, file.get()) != 2)
      return fail(ATTN_ERR_FORMAT, format("'%s': truncated header", path));
    headerLen = len[0] | (len[1] << 8);
  } else if (major == 2 || major == 3) {
    unsigned char len[4];
    if (std::fread(len, 1, 4, file.get()) != 4)
      return fail(ATTN_ERR_FORMAT, format("'%s': truncated header", path));
    headerLen = len[0] | (len[1] << 8) | (len[2] << 16) |
                (static_cast<uint32_t>(len[3]) << 24);
  } else {
    return fail(ATTN_ERR_FORMAT,
                format("'%s': unsupported .npy version %u", path, major));
  }
  // Real headers are a few hundred bytes; refuse to allocate for garbage.
  if (headerLen > (1u << 20))
    return fail(ATTN_ERR_FORMAT, format("'%s': header too large", path));
  std::string headerText(headerLen, '\0');
  if (headerLen &&
      std::fread(&headerText[0], 1, headerLen, file.get()) != headerLen)
    return fail(ATTN_ERR_FORMAT, format("'%s': truncated header", path));

  NpyHeader header;
  std::string problem = HeaderParser(headerText).parse(header);
  if (!problem.empty())
    return fail(ATTN_ERR_FORMAT,
                format("'%s': malformed header: %s", path, problem.c_str()));
  attn_tensor t;
  std::memset(&t, 0, sizeof(t));
  if (bf16Words && isBf16Words(header.descr))
    t.dtype = ATTN_BF16;
  else if (attn_status s = dtypeFromDescr(header.descr, p, t.dtype))
    return s;
  if (header.shape.size() > ATTN_MAX_RANK)
    return fail(ATTN_ERR_SHAPE,
                format("'%s': rank %zu exceeds the maximum %d", path,
                       header.shape.size(), ATTN_MAX_RANK));
  t.rank = static_cast<int32_t>(header.shape.size());
  size_t nonUnitDims = 0;
  for (int32_t i = 0; i < t.rank; ++i) {
    t.shape[i] = header.shape[i];
    nonUnitDims += header.shape[i] != 1;
  }
  // Fortran order only differs from C order when two dims exceed 1.
  if (header.fortranOrder && nonUnitDims > 1)
    return fail(ATTN_ERR_FORMAT,
                format("'%s': Fortran-order arrays are not supported; save "
                       "np.ascontiguousarray(arr)",
                       path));

  int64_t numel;
  size_t nbytes;
  if (attn_status s = checkTensorShape(t, "'" + p + "'", numel, nbytes))
    return s;
  auto truncated = [&](size_t found) {
    return fail(ATTN_ERR_FORMAT,
                format("'%s': truncated data: expected %zu bytes for %s, "
                       "found %zu",
                       path, nbytes, shapeString(t).c_str(), found));
  };
  // Check the size first, so a corrupt header claiming a huge shape fails
  // fast instead of allocating for it.
  struct stat st;
  long dataStart = std::ftell(file.get());
  if (fstat(fileno(file.get()), &st) == 0 && S_ISREG(st.st_mode) &&
      dataStart >= 0 && static_cast<uint64_t>(st.st_size - dataStart) < nbytes)
    return truncated(static_cast<size_t>(st.st_size - dataStart));
  attn_tensor result;
  if (attn_status s = attn_tensor_alloc(t.dtype, t.rank, t.shape, &result))
    return s;
  size_t got = nbytes ? std::fread(result.data, 1, nbytes, file.get()) : 0;
  if (got != nbytes) {
    attn_tensor_free(&result);
    return truncated(got);
  }
  // Bytes after the array mean the header does not describe the data (a
  // wrong shape or dtype): refuse rather than read the wrong values.
  if (std::fgetc(file.get()) != EOF) {
    attn_tensor_free(&result);
    long end = -1;
    if (std::fseek(file.get(), 0, SEEK_END) == 0)
      end = std::ftell(file.get());
    long extra = end >= 0 && dataStart >= 0
                     ? end - dataStart - static_cast<long>(nbytes)
                     : -1;
    return fail(ATTN_ERR_FORMAT,
                extra > 0
                    ? format("'%s': %ld bytes of data after the %zu bytes of "
                             "%s (the header does not match the data)",
                             path, extra, nbytes, shapeString(t).c_str())
                    : format("'%s': data after the %zu bytes of %s (the "
                             "header does not match the data)",
                             path, nbytes, shapeString(t).c_str()));
  }
  // Models treat bool as i1 and may rely on 0/1; numpy may hold other bytes.
  if (t.dtype == ATTN_BOOL) {
    auto *bytes = static_cast<unsigned char *>(result.data);
    for (size_t i = 0; i < nbytes; ++i)
      bytes[i] = bytes[i] != 0;
  }
  *out = result;
  return ATTN_OK;
}

extern "C" attn_status attn_npy_load(const char *path, attn_tensor *out) {
  if (!path || !out)
    return fail(ATTN_ERR_INVALID_ARGUMENT, "attn_npy_load: NULL argument");
  return loadNpy(path, /*bf16Words=*/false, out);
}

extern "C" attn_status attn_npy_load_as(const char *path, attn_dtype dtype,
                                        attn_tensor *out) {
  if (!path || !out)
    return fail(ATTN_ERR_INVALID_ARGUMENT, "attn_npy_load_as: NULL argument");
  if (attn_status s = loadNpy(path, /*bf16Words=*/dtype == ATTN_BF16, out))
    return s;
  // numpy has no bf16 and f16 files are rare: float32 converts to both.
  if (out->dtype == ATTN_F32 && (dtype == ATTN_F16 || dtype == ATTN_BF16)) {
    attn_tensor converted;
    attn_status s = attn_tensor_cast(out, dtype, &converted);
    attn_tensor_free(out);
    if (s != ATTN_OK)
      return fail(s, format("'%s': %s", path, attn_last_error()));
    *out = converted;
  }
  return ATTN_OK;
}

static const char *descrFor(attn_dtype dtype) {
  switch (dtype) {
  case ATTN_F32:
    return "<f4";
  case ATTN_F64:
    return "<f8";
  case ATTN_F16:
    return "<f2";
  case ATTN_BF16:
    return "<f4"; // written as f32, see runtime.h
  case ATTN_I64:
    return "<i8";
  case ATTN_I32:
    return "<i4";
  case ATTN_I16:
    return "<i2";
  case ATTN_I8:
    return "|i1";
  case ATTN_U8:
    return "|u1";
  case ATTN_BOOL:
    return "|b1";
  }
  return nullptr;
}

extern "C" attn_status attn_npy_save(const char *path,
                                     const attn_tensor *tensor) {
  if (!path || !tensor)
    return fail(ATTN_ERR_INVALID_ARGUMENT, "attn_npy_save: NULL argument");
  int64_t numel;
  size_t nbytes;
  if (attn_status s = checkTensorShape(*tensor, "attn_npy_save", numel, nbytes))
    return s;
  if (numel > 0 && !tensor->data)
    return fail(ATTN_ERR_INVALID_ARGUMENT, "attn_npy_save: data is NULL");

  // numpy has no bfloat16: store the exact f32 values instead.
  attn_tensor widened;
  std::memset(&widened, 0, sizeof(widened));
  const attn_tensor *src = tensor;
  if (tensor->dtype == ATTN_BF16) {
    if (attn_status s = attn_tensor_cast(tensor, ATTN_F32, &widened))
      return s;
    src = &widened;
    nbytes *= 2;
  }
  std::unique_ptr<attn_tensor, void (*)(attn_tensor *)> widenedGuard(
      &widened, attn_tensor_free);

  std::string dict = "{'descr': '";
  dict += descrFor(src->dtype);
  dict += "', 'fortran_order': False, 'shape': (";
  for (int32_t i = 0; i < src->rank; ++i) {
    if (i)
      dict += ", ";
    dict += std::to_string(src->shape[i]);
  }
  if (src->rank == 1)
    dict += ',';
  dict += "), }";
  // Pad with spaces so that the data starts at a multiple of 64 bytes (as
  // numpy does), ending the header with a newline.
  size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string prefix("\x93NUMPY\x01\x00", 8);
  prefix += static_cast<char>(dict.size() & 0xFF);
  prefix += static_cast<char>((dict.size() >> 8) & 0xFF);

  FilePtr file(std::fopen(path, "wb"));
  if (!file)
    return fail(ATTN_ERR_IO, format("cannot open '%s' for writing: %s", path,
                                    std::strerror(errno)));
  bool ok = std::fwrite(prefix.data(), 1, prefix.size(), file.get()) ==
                prefix.size() &&
            std::fwrite(dict.data(), 1, dict.size(), file.get()) == dict.size();
  if (ok && nbytes)
    ok = std::fwrite(src->data, 1, nbytes, file.get()) == nbytes;
  // fclose flushes: its failure (e.g. a full disk) is a write failure too.
  ok = (std::fclose(file.release()) == 0) && ok;
  if (!ok)
    return fail(ATTN_ERR_IO,
                format("cannot write '%s': %s", path, std::strerror(errno)));
  return ATTN_OK;
}
