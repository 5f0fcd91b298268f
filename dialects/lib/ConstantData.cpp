//===- ConstantData.cpp - reading and writing constant tensors ------------===//
#include "attn/Dialect/ConstantData.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

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

std::string attn::constantBlobName(Value v, StringRef suffix, StringRef fallback) {
  std::string base = fallback.str();
  if (auto cst = v.getDefiningOp<arith::ConstantOp>())
    if (auto res = dyn_cast<DenseResourceElementsAttr>(cst.getValue()))
      base = res.getRawHandle().getKey().str();
  return base + suffix.str();
}

std::optional<double> attn::getSplatValue(Value v) {
  auto cst = v.getDefiningOp<arith::ConstantOp>();
  if (!cst)
    return std::nullopt;
  auto dense = dyn_cast<DenseElementsAttr>(cst.getValue());
  if (!dense || !(dense.isSplat() || dense.getNumElements() == 1))
    return std::nullopt;
  Type et = dense.getElementType();
  if (isa<FloatType>(et))
    return (*dense.getValues<APFloat>().begin()).convertToDouble();
  if (auto it = dyn_cast<IntegerType>(et)) {
    APInt a = *dense.getValues<APInt>().begin();
    return it.isUnsigned() || it.getWidth() == 1 ? (double)a.getZExtValue()
                                                 : (double)a.getSExtValue();
  }
  return std::nullopt;
}
