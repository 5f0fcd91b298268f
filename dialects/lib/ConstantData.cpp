//===- ConstantData.cpp - reading and writing constant tensors ------------===//
#include "attn/Dialect/ConstantData.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <cstring>

using namespace mlir;
using namespace mlir::attn;

/// Elements this small stay inline as a dense attribute.
static constexpr int64_t kMaxInlineElements = 16;

static int64_t elementBytes(Type t) {
  if (!t.isIntOrFloat() || t.isInteger(1))
    return 0;
  return t.getIntOrFloatBitWidth() / 8;
}

std::optional<ConstantBytes> attn::getConstantBytes(Value v) {
  auto cst = v.getDefiningOp<arith::ConstantOp>();
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!cst || !type || !type.hasStaticShape())
    return std::nullopt;
  int64_t eb = elementBytes(type.getElementType());
  if (eb == 0 || type.getElementType().getIntOrFloatBitWidth() % 8 != 0)
    return std::nullopt;
  int64_t n = type.getNumElements();
  if (auto dense = dyn_cast<DenseElementsAttr>(cst.getValue())) {
    ArrayRef<char> raw = dense.getRawData();
    if (dense.isSplat())
      return ConstantBytes{raw.take_front(eb), true, eb};
    if ((int64_t)raw.size() != n * eb)
      return std::nullopt;
    return ConstantBytes{raw, false, eb};
  }
  if (auto res = dyn_cast<DenseResourceElementsAttr>(cst.getValue())) {
    AsmResourceBlob *blob = res.getRawHandle().getBlob();
    if (!blob)
      return std::nullopt;
    ArrayRef<char> raw = blob->getData();
    if ((int64_t)raw.size() != n * eb)
      return std::nullopt;
    return ConstantBytes{raw, false, eb};
  }
  return std::nullopt;
}

Value attn::createConstantFromBytes(OpBuilder &b, Location loc, RankedTensorType type,
                                    ArrayRef<char> bytes, StringRef blobName) {
  ElementsAttr attr;
  if (type.getNumElements() <= kMaxInlineElements) {
    attr = DenseElementsAttr::getFromRawBuffer(type, bytes);
  } else {
    AsmResourceBlob blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
        bytes, /*align=*/64, /*dataIsMutable=*/false);
    attr = DenseResourceElementsAttr::get(type, blobName, std::move(blob));
  }
  return arith::ConstantOp::create(b, loc, type, cast<TypedAttr>(attr));
}

Value attn::createConstantFilled(OpBuilder &b, Location loc, RankedTensorType type,
                                 StringRef blobName,
                                 function_ref<void(MutableArrayRef<char>)> fill) {
  size_t bytes = size_t(type.getNumElements()) * elementBytes(type.getElementType());
  if (type.getNumElements() <= kMaxInlineElements) {
    std::vector<char> data(bytes);
    fill(data);
    return createConstantFromBytes(b, loc, type, data, blobName);
  }
  AsmResourceBlob blob = HeapAsmResourceBlob::allocate(bytes, /*align=*/64);
  fill(blob.getMutableData());
  auto attr = DenseResourceElementsAttr::get(type, blobName, std::move(blob));
  return arith::ConstantOp::create(b, loc, type, cast<TypedAttr>(attr));
}

std::string attn::constantBlobName(Value v, StringRef suffix, StringRef fallback) {
  std::string base = fallback.str();
  if (auto cst = v.getDefiningOp<arith::ConstantOp>())
    if (auto res = dyn_cast<DenseResourceElementsAttr>(cst.getValue()))
      base = res.getRawHandle().getKey().str();
  return base + suffix.str();
}

//===----------------------------------------------------------------------===//
// Releasing copied weights
//===----------------------------------------------------------------------===//

/// The blob entries `op`'s attributes reference (a resource listed twice in
/// one op counts twice: conservative).
static void forEachResource(Operation *op, function_ref<void(const void *)> fn) {
  op->getAttrDictionary().walk([&](DenseResourceElementsAttr attr) {
    fn(attr.getRawHandle().getResource());
  });
}

BlobReleaser::BlobReleaser(Operation *function, bool enable) {
  if (!enable || !function)
    return;
  auto module = dyn_cast_or_null<ModuleOp>(function->getParentOp());
  if (!module)
    return;
  // Only a function pass's own function may be walked: other functions may
  // be rewritten at the same time by other threads. A function op without a
  // region body (a declaration) cannot reference weights.
  unsigned bodies = 0;
  for (Operation &op : module.getBody()->getOperations())
    if (op.getNumRegions() > 0 && !op.getRegion(0).empty())
      ++bodies;
  if (bodies != 1 || function->getNumRegions() == 0 || function->getRegion(0).empty())
    return;
  function->walk([&](Operation *op) {
    forEachResource(op, [&](const void *r) { ++references[r]; });
  });
  enabled = true;
}

uint64_t BlobReleaser::releaseAttr(Attribute value) {
  auto res = dyn_cast<DenseResourceElementsAttr>(value);
  if (!res)
    return 0;
  auto *entry = res.getRawHandle().getResource();
  auto it = references.find(entry);
  if (it == references.end() || it->second != 1)
    return 0;
  AsmResourceBlob *blob = entry->getBlob();
  // Only blobs that own their memory (a deleter): not views of someone
  // else's buffer.
  if (!blob || blob->getData().empty() || !blob->getDeleter())
    return 0;
  uint64_t freed = blob->getData().size();
  entry->setBlob(AsmResourceBlob()); // runs the deleter
  it->second = 0;
  ++blobs;
  bytes += freed;
  return freed;
}

uint64_t BlobReleaser::release(Value weight, ArrayRef<Operation *> users) {
  if (!enabled)
    return 0;
  auto cst = weight.getDefiningOp<arith::ConstantOp>();
  if (!cst)
    return 0;
  for (Operation *user : weight.getUsers())
    if (!llvm::is_contained(users, user))
      return 0;
  return releaseAttr(cst.getValue());
}

uint64_t BlobReleaser::releaseErased(Operation *constant) {
  auto cst = dyn_cast<arith::ConstantOp>(constant);
  if (!enabled || !cst || !cst->use_empty())
    return 0;
  return releaseAttr(cst.getValue());
}

//===----------------------------------------------------------------------===//
// Reading elements
//===----------------------------------------------------------------------===//

/// Bytes per element of the dense_resource element types read by
/// readConstantElements (0: not read). The same set as MLIR's typed
/// DenseResourceElementsAttrBase<T> views (bool, int8_t, uint8_t, int32_t,
/// int64_t, float, double).
static int64_t resourceElementBytes(Type t) {
  if (t.isF32())
    return 4;
  if (t.isF64())
    return 8;
  if (t.isSignlessInteger(1))
    return 1; // one byte per bool
  auto it = dyn_cast<IntegerType>(t);
  if (!it)
    return 0;
  if (it.getWidth() == 8)
    return 1; // i8, si8, ui8
  if ((it.getWidth() == 32 || it.getWidth() == 64) && !it.isUnsigned())
    return it.getWidth() / 8;
  return 0;
}

template <typename T> static T loadAt(ArrayRef<char> raw, int64_t i) {
  T x;
  std::memcpy(&x, raw.data() + i * sizeof(T), sizeof(T));
  return x;
}

static bool zeroExtends(IntegerType it) {
  return it.isUnsigned() || it.getWidth() == 1;
}

std::optional<ConstantElements> attn::readConstantElements(ElementsAttr attr) {
  auto type = dyn_cast_or_null<RankedTensorType>(attr ? attr.getShapedType() : Type());
  if (!type || !type.hasStaticShape())
    return std::nullopt;
  Type et = type.getElementType();
  if (!isa<IntegerType, FloatType>(et))
    return std::nullopt;
  ConstantElements e;
  e.type = type;
  e.numElements = type.getNumElements();
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    e.dense = dense;
    e.splat = dense.isSplat();
    return e;
  }
  if (auto res = dyn_cast<DenseResourceElementsAttr>(attr)) {
    int64_t eb = resourceElementBytes(et);
    AsmResourceBlob *blob = res.getRawHandle().getBlob();
    if (!eb || !blob)
      return std::nullopt;
    ArrayRef<char> raw = blob->getData();
    if ((int64_t)raw.size() / eb != e.numElements)
      return std::nullopt;
    e.raw = raw;
    e.elementBytes = eb;
    e.splat = e.numElements == 1;
    return e;
  }
  return std::nullopt;
}

std::optional<ConstantElements> attn::readConstantElements(Value v) {
  auto cst = v.getDefiningOp<arith::ConstantOp>();
  if (!cst || !isa<RankedTensorType>(v.getType()))
    return std::nullopt;
  return readConstantElements(dyn_cast<ElementsAttr>(cst.getValue()));
}

double ConstantElements::getDouble(int64_t i) const {
  Type et = getElementType();
  if (dense) {
    int64_t at = splat ? 0 : i;
    if (isa<FloatType>(et))
      return dense.getValues<APFloat>()[at].convertToDouble();
    APInt a = dense.getValues<APInt>()[at];
    return zeroExtends(cast<IntegerType>(et)) ? (double)a.getZExtValue()
                                              : (double)a.getSExtValue();
  }
  if (et.isF32())
    return loadAt<float>(raw, i);
  if (et.isF64())
    return loadAt<double>(raw, i);
  return static_cast<double>(getInt(i));
}

int64_t ConstantElements::getInt(int64_t i) const {
  auto it = cast<IntegerType>(getElementType());
  if (dense) {
    APInt a = dense.getValues<APInt>()[splat ? 0 : i];
    return zeroExtends(it) ? (int64_t)a.getZExtValue() : a.getSExtValue();
  }
  if (it.getWidth() == 1)
    return loadAt<char>(raw, i) != 0;
  if (it.getWidth() == 8)
    return it.isUnsigned() ? (int64_t)loadAt<uint8_t>(raw, i)
                           : (int64_t)loadAt<int8_t>(raw, i);
  if (it.getWidth() == 32)
    return loadAt<int32_t>(raw, i);
  return loadAt<int64_t>(raw, i);
}

std::optional<double> attn::getSplatValue(Value v) {
  auto cst = v.getDefiningOp<arith::ConstantOp>();
  if (!cst || !isa<DenseElementsAttr>(cst.getValue()))
    return std::nullopt;
  std::optional<ConstantElements> e = readConstantElements(v);
  if (!e || (e->size() != 1 && !e->isSplat()))
    return std::nullopt;
  return e->getDouble(0);
}
