//===- TensorImport.cpp - ONNX element types and tensor data ---------------===//
//
// TensorProto -> ElementsAttr. Weights go into DenseResourceElementsAttr blobs
// copied straight from the protobuf's raw_data (or an external data file), so
// a 100 MB weight costs one memcpy, never one attribute per element.
//
//===----------------------------------------------------------------------===//
#include "Frontend/ImporterImpl.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cstring>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::onnx_import;

Type onnx_import::convertDataType(MLIRContext *ctx, int32_t onnxType) {
  Builder b(ctx);
  switch (onnxType) {
  case onnx::TensorProto::FLOAT:
    return b.getF32Type();
  case onnx::TensorProto::DOUBLE:
    return b.getF64Type();
  case onnx::TensorProto::FLOAT16:
    return b.getF16Type();
  case onnx::TensorProto::BFLOAT16:
    return b.getBF16Type();
  case onnx::TensorProto::INT64:
    return b.getI64Type();
  case onnx::TensorProto::INT32:
    return b.getI32Type();
  case onnx::TensorProto::INT16:
    return b.getI16Type();
  case onnx::TensorProto::INT8:
    return b.getI8Type();
  case onnx::TensorProto::UINT8:
    return IntegerType::get(ctx, 8, IntegerType::Unsigned);
  case onnx::TensorProto::BOOL:
    return b.getI1Type();
  default:
    return {};
  }
}

std::string onnx_import::onnxDataTypeName(int32_t onnxType) {
  if (onnx::TensorProto::DataType_IsValid(onnxType))
    return onnx::TensorProto::DataType_Name(
        static_cast<onnx::TensorProto::DataType>(onnxType));
  return "<data type " + std::to_string(onnxType) + ">";
}

std::string onnx_import::dtypeName(Type type) {
  if (type.isF32())
    return "f32";
  if (type.isF64())
    return "f64";
  if (type.isF16())
    return "f16";
  if (type.isBF16())
    return "bf16";
  if (type.isInteger(1))
    return "bool";
  if (auto it = dyn_cast<IntegerType>(type)) {
    if (it.isUnsigned())
      return "u" + std::to_string(it.getWidth());
    return "i" + std::to_string(it.getWidth());
  }
  std::string s;
  llvm::raw_string_ostream os(s);
  os << type;
  return s;
}

std::optional<int64_t> onnx_import::checkedProduct(ArrayRef<int64_t> dims) {
  int64_t prod = 1;
  for (int64_t d : dims) {
    if (d < 0 || llvm::MulOverflow(prod, d, prod))
      return std::nullopt;
  }
  return prod;
}

std::string onnx_import::staticSizeError(RankedTensorType type) {
  SmallVector<int64_t> dims;
  for (int64_t d : type.getShape())
    if (!ShapedType::isDynamic(d))
      dims.push_back(d);
  Type elt = type.getElementType();
  int64_t eltBytes =
      elt.isIntOrFloat() ? std::max<int64_t>(1, elt.getIntOrFloatBitWidth() / 8)
                         : 8;
  std::optional<int64_t> elems = checkedProduct(dims);
  int64_t bytes = 0;
  std::string msg;
  llvm::raw_string_ostream os(msg);
  if (!elems) {
    os << type << " has more elements than int64 can count";
  } else if (llvm::MulOverflow(*elems, eltBytes, bytes) ||
             bytes > kMaxStaticTensorBytes) {
    os << type << " has " << *elems << " elements";
    if (bytes > 0 && !llvm::MulOverflow(*elems, eltBytes, bytes))
      os << " (" << bytes << " bytes)";
    os << ", more than attnc's limit of " << (kMaxStaticTensorBytes >> 30)
       << " GiB per tensor";
  }
  return msg;
}

/// Bytes per element in ONNX raw data (bool is one byte).
static size_t elementBytes(Type elt) {
  if (elt.isInteger(1))
    return 1;
  return elt.getIntOrFloatBitWidth() / 8;
}

/// A resource key made of identifier characters only. The contract reserves
/// the strings "softmax" and "attention" for the attn.softmax and
/// attn.attention ops in --emit=attn output, so weight names like
/// "layers.0.attention.in_proj_weight" are spelled "...att_n..." here.
static std::string blobKey(llvm::StringRef name) {
  std::string key;
  for (char c : name)
    key.push_back(llvm::isAlnum(c) || c == '_' || c == '.' ? c : '_');
  for (auto [word, repl] : {std::pair<llvm::StringRef, llvm::StringRef>{
                                "attention", "att_ntion"},
                            {"softmax", "soft_max"}}) {
    for (size_t pos = 0;
         (pos = llvm::StringRef(key).find_insensitive(word, pos)) !=
         llvm::StringRef::npos;
         pos += repl.size())
      key.replace(pos, word.size(), repl.str());
  }
  if (key.empty() || !llvm::isAlpha(key[0]))
    key.insert(0, "onnx_");
  return key;
}

/// Appends the low `n` bytes of `v` (little-endian) to `out`.
static void appendLE(std::string &out, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

LogicalResult onnx_import::resolveExternalDataFile(Location loc,
                                                  llvm::StringRef what,
                                                  llvm::StringRef location,
                                                  llvm::StringRef modelDir,
                                                  std::string &file) {
  auto outside = [&]() {
    return emitError(loc) << what << ": external data location '" << location
                          << "' is outside the model's directory '" << modelDir
                          << "'";
  };
  if (location.contains('\0'))
    return emitError(loc) << what << ": external data location contains a "
                                     "NUL byte";
  if (llvm::sys::path::is_absolute(location) ||
      llvm::sys::path::has_root_name(location))
    return emitError(loc) << what << ": external data location '" << location
                          << "' must be relative to the model's directory";
  // Lexically: no '..' may climb above the model's directory (also for
  // files that do not exist, so the message says why).
  int depth = 0;
  for (auto it = llvm::sys::path::begin(location),
            end = llvm::sys::path::end(location);
       it != end; ++it) {
    if (*it == "..") {
      if (--depth < 0)
        return outside();
    } else if (*it != ".") {
      ++depth;
    }
  }
  llvm::SmallString<256> joined(modelDir);
  llvm::sys::path::append(joined, location);
  // After resolving symlinks (of the directory and of the file), the file
  // must still lie inside the model's directory.
  llvm::SmallString<256> realDir, realFile;
  if (std::error_code ec = llvm::sys::fs::real_path(modelDir, realDir))
    return emitError(loc) << what << ": cannot resolve the model's directory '"
                          << modelDir << "': " << ec.message();
  if (std::error_code ec = llvm::sys::fs::real_path(joined, realFile))
    return emitError(loc) << what << ": cannot open external data file '"
                          << joined << "': " << ec.message();
  llvm::StringRef dirRef = realDir.str();
  llvm::StringRef fileRef = realFile.str();
  bool inside = fileRef.starts_with(dirRef) &&
                (dirRef.ends_with("/") ||
                 (fileRef.size() > dirRef.size() &&
                  llvm::sys::path::is_separator(fileRef[dirRef.size()])));
  if (!inside)
    return emitError(loc) << what << ": external data location '" << location
                          << "' resolves to '" << realFile
                          << "', outside the model's directory '" << realDir
                          << "'";
  llvm::sys::fs::file_status status;
  if (std::error_code ec = llvm::sys::fs::status(realFile, status))
    return emitError(loc) << what << ": cannot open external data file '"
                          << joined << "': " << ec.message();
  if (status.type() != llvm::sys::fs::file_type::regular_file)
    return emitError(loc) << what << ": external data file '" << joined
                          << "' is not a regular file";
  file = std::string(realFile.str());
  return success();
}

FailureOr<ElementsAttr>
GraphImporter::importTensor(const onnx::TensorProto &t, llvm::StringRef what,
                            llvm::StringRef blobName, Location loc,
                            std::string *takeRawData) {
  if constexpr (llvm::endianness::native != llvm::endianness::little) {
    return emitError(loc) << "ONNX tensor data is little-endian; big-endian "
                             "hosts are not supported";
  }
  Type elt = convertDataType(&ctx, t.data_type());
  if (!elt)
    return emitError(loc) << what << " has unsupported element type "
                          << onnxDataTypeName(t.data_type());
  if (t.has_segment())
    return emitError(loc) << what << " is a segmented tensor (unsupported)";

  SmallVector<int64_t> shape;
  int64_t numElements = 1;
  for (int64_t d : t.dims()) {
    if (d < 0)
      return emitError(loc) << what << " has a negative dim " << d;
    if (d != 0 && numElements > (int64_t(1) << 50) / d)
      return emitError(loc) << what << " is too large";
    shape.push_back(d);
    numElements *= d;
  }
  auto type = RankedTensorType::get(shape, elt);
  const size_t eltBytes = elementBytes(elt);
  const size_t numBytes = size_t(numElements) * eltBytes;

  // Locate the bytes: external file, raw_data, or one of the typed fields.
  std::unique_ptr<llvm::MemoryBuffer> external;
  std::string converted;
  ArrayRef<char> raw;
  if (t.has_data_location() &&
      t.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    std::optional<uint64_t> offset, length;
    for (const auto &kv : t.external_data()) {
      auto parseNum = [&](std::optional<uint64_t> &dst) -> LogicalResult {
        uint64_t v;
        if (llvm::StringRef(kv.value()).getAsInteger(10, v))
          return failure();
        dst = v;
        return success();
      };
      if (kv.key() == "location") {
        location = kv.value();
      } else if (kv.key() == "offset") {
        if (failed(parseNum(offset)))
          return emitError(loc) << what << ": bad external data offset '"
                                << kv.value() << "'";
      } else if (kv.key() == "length") {
        if (failed(parseNum(length)))
          return emitError(loc) << what << ": bad external data length '"
                                << kv.value() << "'";
      }
    }
    if (location.empty())
      return emitError(loc) << what
                            << " has external data without a 'location'";
    std::string file;
    if (failed(resolveExternalDataFile(loc, what, location, modelDir, file)))
      return failure();
    uint64_t fileSize = 0;
    if (std::error_code ec = llvm::sys::fs::file_size(file, fileSize))
      return emitError(loc) << what << ": cannot open external data file '"
                            << file << "': " << ec.message();
    uint64_t off = offset.value_or(0);
    uint64_t len = length ? *length : (off <= fileSize ? fileSize - off : 0);
    if (off > fileSize || len > fileSize - off)
      return emitError(loc) << what << ": external data [" << off << ", "
                            << off + len << ") lies beyond the end of '" << file
                            << "' (" << fileSize << " bytes)";
    if (len != numBytes)
      return emitError(loc) << what << " has " << len
                            << " bytes of external data but its type " << type
                            << " needs " << numBytes;
    if (len > 0) {
      auto buf = llvm::MemoryBuffer::getFileSlice(file, len, off,
                                                  /*IsVolatile=*/false);
      if (!buf)
        return emitError(loc) << what << ": cannot read external data file '"
                              << file << "': " << buf.getError().message();
      external = std::move(*buf);
      raw = ArrayRef<char>(external->getBufferStart(), external->getBufferSize());
    }
  } else if (t.has_raw_data()) {
    raw = ArrayRef<char>(t.raw_data().data(), t.raw_data().size());
  } else {
    int64_t count = -1;
    switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      count = t.float_data_size();
      converted.assign(reinterpret_cast<const char *>(t.float_data().data()),
                       count * sizeof(float));
      break;
    case onnx::TensorProto::DOUBLE:
      count = t.double_data_size();
      converted.assign(reinterpret_cast<const char *>(t.double_data().data()),
                       count * sizeof(double));
      break;
    case onnx::TensorProto::INT64:
      count = t.int64_data_size();
      converted.assign(reinterpret_cast<const char *>(t.int64_data().data()),
                       count * sizeof(int64_t));
      break;
    default:
      // INT32, INT16, INT8, UINT8, BOOL, FLOAT16 and BFLOAT16 (bit patterns)
      // all live in int32_data.
      count = t.int32_data_size();
      converted.reserve(count * eltBytes);
      for (int32_t v : t.int32_data())
        appendLE(converted, static_cast<uint32_t>(v), eltBytes);
      break;
    }
    if (count != numElements)
      return emitError(loc) << what << " has " << count
                            << " data elements but its type " << type
                            << " needs " << numElements;
    raw = ArrayRef<char>(converted.data(), converted.size());
  }
  if (raw.size() != numBytes)
    return emitError(loc) << what << " has " << raw.size()
                          << " bytes of data but its type " << type << " needs "
                          << numBytes;

  // Booleans: one byte each in ONNX, bit-packed in DenseElementsAttr.
  if (elt.isInteger(1)) {
    SmallVector<bool> bits(numElements);
    for (int64_t i = 0; i < numElements; ++i)
      bits[i] = raw[i] != 0;
    return cast<ElementsAttr>(DenseElementsAttr::get(type, bits));
  }

  // Splats of any size stay inline (one element of storage).
  bool splat = numElements > 1;
  for (int64_t i = 1; splat && i < numElements; ++i)
    splat = std::memcmp(raw.data(), raw.data() + i * eltBytes, eltBytes) == 0;
  if (splat)
    return cast<ElementsAttr>(
        DenseElementsAttr::getFromRawBuffer(type, raw.take_front(eltBytes)));
  if (numElements <= kMaxInlineElements)
    return cast<ElementsAttr>(DenseElementsAttr::getFromRawBuffer(type, raw));

  // The protobuf's own buffer, taken over (no copy) when the caller allows
  // it and malloc aligned it for the element type (it aligns to 16).
  if (takeRawData && !takeRawData->empty() && raw.data() == takeRawData->data()) {
    uintptr_t addr = reinterpret_cast<uintptr_t>(takeRawData->data());
    size_t align = std::min<size_t>(64, addr & (~addr + 1)); // lowest set bit
    if (align >= eltBytes) {
      auto *owned = new std::string(std::move(*takeRawData));
      AsmResourceBlob blob(
          ArrayRef<char>(owned->data(), owned->size()), align,
          [owned](void *, size_t, size_t) { delete owned; }, /*dataIsMutable=*/false);
      return cast<ElementsAttr>(
          DenseResourceElementsAttr::get(type, blobKey(blobName), std::move(blob)));
    }
  }
  AsmResourceBlob blob =
      HeapAsmResourceBlob::allocateAndCopyWithAlign(raw, /*align=*/64,
                                                    /*dataIsMutable=*/false);
  return cast<ElementsAttr>(
      DenseResourceElementsAttr::get(type, blobKey(blobName), std::move(blob)));
}
