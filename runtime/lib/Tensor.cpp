//===- Tensor.cpp - errors, element types and host tensors
//-----------------===//

#include "Internal.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace attn::rt;

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

// One message per thread: models may run concurrently on several threads and
// each caller must see its own failure.
static thread_local std::string lastError;

attn_status attn::rt::fail(attn_status status, std::string message) {
  lastError = std::move(message);
  return status;
}

std::string attn::rt::format(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  va_list copy;
  va_copy(copy, args);
  int n = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  std::string result;
  if (n > 0) {
    result.resize(static_cast<size_t>(n) + 1);
    std::vsnprintf(&result[0], result.size(), fmt, args);
    result.resize(static_cast<size_t>(n));
  }
  va_end(args);
  return result;
}

extern "C" const char *attn_last_error(void) { return lastError.c_str(); }

extern "C" const char *attn_status_string(attn_status status) {
  switch (status) {
  case ATTN_OK:
    return "ok";
  case ATTN_ERR_IO:
    return "i/o error";
  case ATTN_ERR_LOAD:
    return "load error";
  case ATTN_ERR_INVALID_ARGUMENT:
    return "invalid argument";
  case ATTN_ERR_SHAPE:
    return "shape mismatch";
  case ATTN_ERR_DTYPE:
    return "dtype mismatch";
  case ATTN_ERR_RUNTIME:
    return "runtime error";
  case ATTN_ERR_NO_DEVICE:
    return "no device";
  case ATTN_ERR_OUT_OF_MEMORY:
    return "out of memory";
  case ATTN_ERR_FORMAT:
    return "format error";
  }
  return "unknown status";
}

//===----------------------------------------------------------------------===//
// Element types
//===----------------------------------------------------------------------===//

namespace {
struct DTypeEntry {
  const char *name;
  size_t size;
};
} // namespace

// Indexed by attn_dtype; names match the signature JSON (docs/DESIGN.md).
static const DTypeEntry kDTypes[ATTN_NUM_DTYPES] = {
    {"f32", 4}, {"f64", 8}, {"f16", 2}, {"bf16", 2}, {"i64", 8},
    {"i32", 4}, {"i16", 2}, {"i8", 1},  {"u8", 1},   {"bool", 1}};

extern "C" const char *attn_dtype_name(attn_dtype dtype) {
  return isValidDType(dtype) ? kDTypes[dtype].name : "invalid";
}

extern "C" size_t attn_dtype_size(attn_dtype dtype) {
  return isValidDType(dtype) ? kDTypes[dtype].size : 0;
}

extern "C" attn_status attn_dtype_from_name(const char *name, attn_dtype *out) {
  if (!name || !out)
    return fail(ATTN_ERR_INVALID_ARGUMENT,
                "attn_dtype_from_name: NULL argument");
  for (int i = 0; i < ATTN_NUM_DTYPES; ++i) {
    if (std::strcmp(name, kDTypes[i].name) == 0) {
      *out = static_cast<attn_dtype>(i);
      return ATTN_OK;
    }
  }
  return fail(ATTN_ERR_DTYPE, format("unknown dtype '%s'", name));
}

//===----------------------------------------------------------------------===//
// Tensors
//===----------------------------------------------------------------------===//

std::string attn::rt::shapeString(const attn_tensor &tensor) {
  std::string s = attn_dtype_name(tensor.dtype);
  s += '[';
  for (int32_t i = 0; i < tensor.rank && i < ATTN_MAX_RANK; ++i) {
    if (i)
      s += ',';
    s += std::to_string(tensor.shape[i]);
  }
  s += ']';
  return s;
}

attn_status attn::rt::checkTensorShape(const attn_tensor &tensor,
                                       const std::string &what, int64_t &numel,
                                       size_t &nbytes) {
  if (!isValidDType(tensor.dtype))
    return fail(ATTN_ERR_DTYPE,
                format("%s: invalid dtype value %d", what.c_str(),
                       static_cast<int>(tensor.dtype)));
  if (tensor.rank < 0 || tensor.rank > ATTN_MAX_RANK)
    return fail(ATTN_ERR_SHAPE,
                format("%s: rank %d is outside [0, %d]", what.c_str(),
                       tensor.rank, ATTN_MAX_RANK));
  bool empty = false;
  for (int32_t i = 0; i < tensor.rank; ++i) {
    if (tensor.shape[i] < 0)
      return fail(ATTN_ERR_SHAPE,
                  format("%s: dim %d is negative (%lld)", what.c_str(), i,
                         static_cast<long long>(tensor.shape[i])));
    empty |= tensor.shape[i] == 0;
  }
  // Sizes are bounded so that byte counts and strides never overflow int64;
  // an empty tensor is fine however large its other dims are.
  const int64_t elemSize = static_cast<int64_t>(attn_dtype_size(tensor.dtype));
  const int64_t maxElems = INT64_MAX / 2 / elemSize;
  numel = 1;
  for (int32_t i = 0; i < tensor.rank && !empty; ++i) {
    if (numel > maxElems / tensor.shape[i])
      return fail(ATTN_ERR_SHAPE,
                  format("%s: shape %s is too large", what.c_str(),
                         shapeString(tensor).c_str()));
    numel *= tensor.shape[i];
  }
  if (empty)
    numel = 0;
  nbytes = static_cast<size_t>(numel * elemSize);
  return ATTN_OK;
}

extern "C" int64_t attn_tensor_numel(const attn_tensor *tensor) {
  if (!tensor)
    return -1;
  std::string saved = lastError;
  int64_t numel;
  size_t nbytes;
  attn_status status = checkTensorShape(*tensor, "tensor", numel, nbytes);
  lastError = std::move(saved); // A query does not clobber the last error.
  return status == ATTN_OK ? numel : -1;
}

extern "C" size_t attn_tensor_nbytes(const attn_tensor *tensor) {
  if (!tensor)
    return 0;
  std::string saved = lastError;
  int64_t numel;
  size_t nbytes;
  attn_status status = checkTensorShape(*tensor, "tensor", numel, nbytes);
  lastError = std::move(saved);
  return status == ATTN_OK ? nbytes : 0;
}

extern "C" attn_status attn_tensor_alloc(attn_dtype dtype, int32_t rank,
                                         const int64_t *shape,
                                         attn_tensor *out) {
  if (!out || (rank > 0 && !shape))
    return fail(ATTN_ERR_INVALID_ARGUMENT, "attn_tensor_alloc: NULL argument");
  attn_tensor t;
  std::memset(&t, 0, sizeof(t));
  std::memset(out, 0, sizeof(*out));
  t.dtype = dtype;
  t.rank = rank;
  // The rank is checked before `shape` is read (it has `rank` entries).
  if (rank < 0 || rank > ATTN_MAX_RANK)
    return fail(ATTN_ERR_SHAPE, format("attn_tensor_alloc: rank %d is outside [0, %d]", rank,
                                       ATTN_MAX_RANK));
  for (int32_t i = 0; i < rank; ++i)
    t.shape[i] = shape[i];
  int64_t numel;
  size_t nbytes;
  if (attn_status s = checkTensorShape(t, "attn_tensor_alloc", numel, nbytes))
    return s;
  // Never hand out NULL, even for an empty tensor: callers may treat NULL
  // data as "not produced".
  t.data = std::calloc(nbytes ? nbytes : 1, 1);
  if (!t.data)
    return fail(ATTN_ERR_OUT_OF_MEMORY,
                format("cannot allocate %zu bytes for %s", nbytes,
                       shapeString(t).c_str()));
  *out = t;
  return ATTN_OK;
}

extern "C" void attn_tensor_free(attn_tensor *tensor) {
  if (!tensor)
    return;
  std::free(tensor->data);
  tensor->data = nullptr;
}

//===----------------------------------------------------------------------===//
// Floating-point conversions
//===----------------------------------------------------------------------===//

static uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

static float bitsToFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

extern "C" uint16_t attn_f32_to_f16(float value) {
  uint32_t x = floatBits(value);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  uint32_t absx = x & 0x7FFFFFFFu;
  if (absx >= 0x7F800000u) {
    // Inf stays inf; NaN keeps its top payload bits and is forced quiet.
    if (absx == 0x7F800000u)
      return sign | 0x7C00u;
    return sign | 0x7E00u | static_cast<uint16_t>((absx >> 13) & 0x3FFu);
  }
  if (absx >= 0x477FF000u) // >= 65520 rounds to infinity
    return sign | 0x7C00u;
  if (absx >= 0x38800000u) { // normal in f16 (>= 2^-14)
    uint32_t odd = (absx >> 13) & 1u;
    absx -= 112u << 23;   // rebias exponent 127 -> 15
    absx += 0xFFFu + odd; // round to nearest, ties to even
    return sign | static_cast<uint16_t>(absx >> 13);
  }
  // Subnormal in f16 (or zero): value = m * 2^(e-150); f16 subnormal units
  // are 2^-24, so the result is m >> (126 - e), rounded to nearest even.
  uint32_t e = absx >> 23;
  if (e == 0)
    return sign; // f32 zero/subnormal: far below f16's smallest subnormal
  uint32_t m = (absx & 0x7FFFFFu) | 0x800000u;
  uint32_t shift = 126u - e;
  if (shift > 24u)
    return sign;
  uint32_t q = m >> shift;
  uint32_t rem = m & ((1u << shift) - 1u);
  uint32_t half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (q & 1u)))
    ++q;
  return sign | static_cast<uint16_t>(q);
}

extern "C" float attn_f16_to_f32(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exp = (bits >> 10) & 0x1Fu;
  uint32_t mant = bits & 0x3FFu;
  if (exp == 0x1F)
    return bitsToFloat(sign | 0x7F800000u | (mant << 13));
  if (exp != 0)
    return bitsToFloat(sign | ((exp + 112u) << 23) | (mant << 13));
  // Subnormal or zero: mant * 2^-24 is exact in f32.
  float v = static_cast<float>(mant) * bitsToFloat(0x33800000u); // 2^-24
  return sign ? -v : v;
}

extern "C" uint16_t attn_f32_to_bf16(float value) {
  uint32_t x = floatBits(value);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) // NaN: keep sign, force quiet
    return static_cast<uint16_t>((x >> 16) | 0x0040u);
  uint32_t odd = (x >> 16) & 1u;
  x += 0x7FFFu + odd; // round to nearest, ties to even; overflow gives inf
  return static_cast<uint16_t>(x >> 16);
}

extern "C" float attn_bf16_to_f32(uint16_t bits) {
  return bitsToFloat(static_cast<uint32_t>(bits) << 16);
}

static bool isFloatDType(attn_dtype t) {
  return t == ATTN_F32 || t == ATTN_F64 || t == ATTN_F16 || t == ATTN_BF16;
}

static double loadAsDouble(const void *data, attn_dtype t, int64_t i) {
  switch (t) {
  case ATTN_F32:
    return static_cast<const float *>(data)[i];
  case ATTN_F64:
    return static_cast<const double *>(data)[i];
  case ATTN_F16:
    return attn_f16_to_f32(static_cast<const uint16_t *>(data)[i]);
  case ATTN_BF16:
    return attn_bf16_to_f32(static_cast<const uint16_t *>(data)[i]);
  default:
    return 0;
  }
}

extern "C" attn_status attn_tensor_cast(const attn_tensor *src,
                                        attn_dtype dtype, attn_tensor *out) {
  if (!src || !out)
    return fail(ATTN_ERR_INVALID_ARGUMENT, "attn_tensor_cast: NULL argument");
  int64_t numel;
  size_t nbytes;
  if (attn_status s = checkTensorShape(*src, "attn_tensor_cast", numel, nbytes))
    return s;
  if (numel > 0 && !src->data)
    return fail(ATTN_ERR_INVALID_ARGUMENT, "attn_tensor_cast: data is NULL");
  if (src->dtype != dtype && !(isFloatDType(src->dtype) && isFloatDType(dtype)))
    return fail(ATTN_ERR_DTYPE,
                format("cannot convert %s to %s: only floating-point types "
                       "convert",
                       attn_dtype_name(src->dtype), attn_dtype_name(dtype)));
  attn_tensor result;
  if (attn_status s = attn_tensor_alloc(dtype, src->rank, src->shape, &result))
    return s;
  if (src->dtype == dtype) {
    if (nbytes)
      std::memcpy(result.data, src->data, nbytes);
  } else {
    for (int64_t i = 0; i < numel; ++i) {
      // f16/bf16 from f64 go through f32: double rounding is possible but
      // only in the last bit of ties and irrelevant for numpy inputs, which
      // are f32 whenever a half type is wanted.
      double v = loadAsDouble(src->data, src->dtype, i);
      switch (dtype) {
      case ATTN_F32:
        static_cast<float *>(result.data)[i] = static_cast<float>(v);
        break;
      case ATTN_F64:
        static_cast<double *>(result.data)[i] = v;
        break;
      case ATTN_F16:
        static_cast<uint16_t *>(result.data)[i] =
            src->dtype == ATTN_F32
                ? attn_f32_to_f16(static_cast<const float *>(src->data)[i])
                : attn_f32_to_f16(static_cast<float>(v));
        break;
      case ATTN_BF16:
        static_cast<uint16_t *>(result.data)[i] =
            src->dtype == ATTN_F32
                ? attn_f32_to_bf16(static_cast<const float *>(src->data)[i])
                : attn_f32_to_bf16(static_cast<float>(v));
        break;
      default:
        break;
      }
    }
  }
  *out = result;
  return ATTN_OK;
}
