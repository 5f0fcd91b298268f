//===- LoweringUtils.cpp - helpers shared by the attn lowerings -----------===//
#include "Support/LoweringUtils.h"
#include "Support/RuntimeChecks.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::attn;

SmallVector<Value> attn::getDimValues(OpBuilder &b, Location loc, Value t) {
  auto type = cast<RankedTensorType>(t.getType());
  SmallVector<Value> dims;
  for (int64_t i = 0; i < type.getRank(); ++i) {
    if (type.isDynamicDim(i))
      dims.push_back(tensor::DimOp::create(b, loc, t, i));
    else
      dims.push_back(arith::ConstantIndexOp::create(b, loc, type.getDimSize(i)));
  }
  return dims;
}

SmallVector<Value> attn::broadcastResultDims(OpBuilder &b, Location loc,
                                             RankedTensorType resultType,
                                             ValueRange operands) {
  int64_t rank = resultType.getRank();
  SmallVector<Value> dims;
  for (int64_t i = 0; i < rank; ++i) {
    if (!resultType.isDynamicDim(i)) {
      dims.push_back(arith::ConstantIndexOp::create(b, loc, resultType.getDimSize(i)));
      continue;
    }
    Value dim;
    for (Value op : operands) {
      auto t = cast<RankedTensorType>(op.getType());
      int64_t j = i - (rank - t.getRank());
      if (j < 0 || t.getDimSize(j) == 1)
        continue;
      Value d = t.isDynamicDim(j)
                    ? tensor::DimOp::create(b, loc, op, j).getResult()
                    : arith::ConstantIndexOp::create(b, loc, t.getDimSize(j))
                          .getResult();
      dim = dim ? arith::MaxUIOp::create(b, loc, dim, d).getResult() : d;
    }
    if (!dim)
      dim = arith::ConstantIndexOp::create(b, loc, 1);
    dims.push_back(dim);
  }
  return dims;
}

AffineMap attn::broadcastIndexingMap(MLIRContext *ctx,
                                     RankedTensorType operandType,
                                     int64_t resultRank) {
  SmallVector<AffineExpr> exprs;
  int64_t off = resultRank - operandType.getRank();
  for (int64_t j = 0; j < operandType.getRank(); ++j) {
    if (operandType.getDimSize(j) == 1)
      exprs.push_back(getAffineConstantExpr(0, ctx));
    else
      exprs.push_back(getAffineDimExpr(j + off, ctx));
  }
  return AffineMap::get(resultRank, 0, exprs, ctx);
}

Value attn::createEmptyTensor(OpBuilder &b, Location loc, RankedTensorType type,
                              ArrayRef<Value> dims) {
  SmallVector<Value> dyn;
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (type.isDynamicDim(i))
      dyn.push_back(dims[i]);
  return tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType(),
                                   dyn);
}

Value attn::materializeDynamicBroadcast(OpBuilder &b, Location loc,
                                        Value operand,
                                        ArrayRef<Value> resultDims,
                                        StringRef what) {
  return conformOperand(b, loc, operand, resultDims, /*allowBroadcast=*/true, what);
}

Value attn::createScalarConstant(OpBuilder &b, Location loc, Type type,
                                 double v) {
  if (auto vt = dyn_cast<VectorType>(type)) {
    Type et = vt.getElementType();
    Attribute e = isa<FloatType>(et) ? Attribute(b.getFloatAttr(et, v))
                                     : Attribute(b.getIntegerAttr(et, static_cast<int64_t>(v)));
    return arith::ConstantOp::create(b, loc, DenseElementsAttr::get(vt, e));
  }
  if (auto ft = dyn_cast<FloatType>(type))
    return arith::ConstantOp::create(b, loc, b.getFloatAttr(ft, v));
  if (type.isIndex())
    return arith::ConstantIndexOp::create(b, loc, static_cast<int64_t>(v));
  return arith::ConstantOp::create(b,
      loc, b.getIntegerAttr(type, static_cast<int64_t>(v)));
}

Value attn::toIndex(OpBuilder &b, Location loc, Value v) {
  if (v.getType().isIndex())
    return v;
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
}

arith::CmpIPredicate attn::integerPredicate(CmpPredicate p, Type elementType) {
  bool u = elementType.isInteger(1) || elementType.isUnsignedInteger();
  switch (p) {
  case CmpPredicate::eq: return arith::CmpIPredicate::eq;
  case CmpPredicate::ne: return arith::CmpIPredicate::ne;
  case CmpPredicate::lt: return u ? arith::CmpIPredicate::ult : arith::CmpIPredicate::slt;
  case CmpPredicate::le: return u ? arith::CmpIPredicate::ule : arith::CmpIPredicate::sle;
  case CmpPredicate::gt: return u ? arith::CmpIPredicate::ugt : arith::CmpIPredicate::sgt;
  case CmpPredicate::ge: return u ? arith::CmpIPredicate::uge : arith::CmpIPredicate::sge;
  }
  llvm_unreachable("unknown attn.cmp predicate");
}

Value attn::toI64(OpBuilder &b, Location loc, Value v) {
  if (v.getType().isInteger(64))
    return v;
  if (v.getType().isIndex())
    return arith::IndexCastOp::create(b, loc, b.getI64Type(), v);
  return arith::ExtSIOp::create(b, loc, b.getI64Type(), v);
}

Value attn::applyActivation(OpBuilder &b, Location l, Value x, Activation act) {
  Type t = x.getType();
  auto c = [&](double v) { return createScalarConstant(b, l, t, v); };
  switch (act) {
  case Activation::none:
    return x;
  case Activation::relu:
    return arith::MaximumFOp::create(b, l, x, c(0.0));
  case Activation::gelu: {
    // 0.5 x (1 + erf(x / sqrt(2)))
    Value inner = math::ErfOp::create(b, l, arith::MulFOp::create(b, l, x, c(0.7071067811865476)));
    return arith::MulFOp::create(b, l, arith::MulFOp::create(b, l, c(0.5), x),
                                   arith::AddFOp::create(b, l, c(1.0), inner));
  }
  case Activation::gelu_tanh: {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    Value x3 = arith::MulFOp::create(b, l, x, arith::MulFOp::create(b, l, x, x));
    Value poly = arith::AddFOp::create(b, l, x, arith::MulFOp::create(b, l, c(0.044715), x3));
    Value inner = math::TanhOp::create(b,
        l, arith::MulFOp::create(b, l, c(0.7978845608028654), poly));
    return arith::MulFOp::create(b, l, arith::MulFOp::create(b, l, c(0.5), x),
                                   arith::AddFOp::create(b, l, c(1.0), inner));
  }
  case Activation::silu: {
    // x * sigmoid(x) = x / (1 + e^-x); e^-x = inf for x << 0 gives -0.
    Value e = math::ExpOp::create(b, l, arith::NegFOp::create(b, l, x));
    return arith::DivFOp::create(b, l, x, arith::AddFOp::create(b, l, c(1.0), e));
  }
  }
  llvm_unreachable("unknown activation");
}

attn::AttentionOp attn::materializeAttentionLayout(RewriterBase &rw, AttentionOp op) {
  if (!op.hasLayoutPerms())
    return op;
  Location loc = op.getLoc();
  rw.setInsertionPoint(op);
  auto logical = [&](Value v, std::optional<ArrayRef<int64_t>> perm) -> Value {
    if (!perm)
      return v;
    return TransposeOp::create(rw, loc, v, *perm);
  };
  Value q = logical(op.getQuery(), op.getQueryPerm());
  Value k = logical(op.getKey(), op.getKeyPerm());
  Value v = logical(op.getValue(), op.getValuePerm());
  auto canonical = AttentionOp::create(rw,
      loc, op.getLogicalResultType(), q, k, v, op.getMask(), op.getScale(), op.getMaskKind(),
      op.getFillValue(), op.getMaskFirst(), op.getCausal(), op.getCausalFillAttr(),
      op.getNanToZero());
  // Every other attribute (causal_align, window, softcap, ...) as it was.
  for (NamedAttribute a : op->getAttrs())
    if (!a.getName().strref().ends_with("_perm"))
      canonical->setAttr(a.getName(), a.getValue());
  Value r = canonical.getResult();
  if (std::optional<ArrayRef<int64_t>> perm = op.getResultPerm())
    r = TransposeOp::create(rw, loc, r, *perm);
  rw.replaceOp(op, r);
  // Whatever lowers the canonical op goes before it (and before the
  // transpose of its result).
  rw.setInsertionPoint(canonical);
  return canonical;
}
