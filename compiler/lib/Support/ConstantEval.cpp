//===- ConstantEval.cpp - values of constants through unfolded graph ops --===//
//
// readConstant reads dense and dense_resource constants through ConstantData.h
// (readConstantElements) and looks through the graph ops that only rearrange
// or convert constants; evalScalar folds scalar float arithmetic on top.
//
//===----------------------------------------------------------------------===//
#include "Support/ConstantEval.h"

#include "attn/Dialect/AttnDialect.h"
#include "attn/Dialect/ConstantData.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;

namespace {

/// A dense or dense_resource `arith.constant`, through ConstantData.h's
/// reader.
ConstantReader readAttribute(Value v) {
  std::optional<ConstantElements> e = readConstantElements(v);
  if (!e)
    return {};
  ConstantElements c = *e;
  if (c.isSplat() && c.size() > 0) {
    double d = c.getDouble(0);
    return {c.size(), true, [d](int64_t) { return d; }};
  }
  return {c.size(), false, [c](int64_t i) { return c.getDouble(i); }};
}

} // namespace

ConstantReader mlir::attn::readConstant(Value v, int depth) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || !type.hasStaticShape() || depth > 8)
    return {};
  Operation *def = v.getDefiningOp();
  if (auto trilu = dyn_cast_or_null<TriluOp>(def)) {
    ConstantReader in = readConstant(trilu.getInput(), depth + 1);
    if (!in || type.getRank() < 2)
      return {};
    int64_t rows = type.getDimSize(type.getRank() - 2);
    int64_t cols = type.getShape().back();
    int64_t k = trilu.getK();
    bool upper = trilu.getUpper();
    if (rows * cols == 0)
      return {};
    return {in.numElements, false, [in, rows, cols, k, upper](int64_t i) {
              int64_t c = i % cols, r = (i / cols) % rows;
              bool keep = upper ? c - r >= k : c - r <= k;
              return keep ? in.at(i) : 0.0;
            }};
  }
  if (auto cast = dyn_cast_or_null<CastOp>(def)) {
    ConstantReader in = readConstant(cast.getInput(), depth + 1);
    if (!in)
      return {};
    Type et = type.getElementType();
    std::function<double(double)> convert;
    if (et.isInteger(1))
      convert = [](double x) { return x != 0.0 ? 1.0 : 0.0; };
    else if (isa<FloatType>(et))
      convert = [et](double x) { return roundTo(et, x); };
    else if (isa<IntegerType>(et))
      convert = [](double x) { return std::trunc(x); };
    else
      return {};
    return {in.numElements, in.splat,
            [in, convert](int64_t i) { return convert(in.at(i)); }};
  }
  if (auto cos = dyn_cast_or_null<ConstantOfShapeOp>(def)) {
    double d;
    if (auto f = dyn_cast<FloatAttr>(cos.getValue()))
      d = f.getValueAsDouble();
    else if (auto n = dyn_cast<IntegerAttr>(cos.getValue()))
      d = n.getType().isInteger(1) || n.getType().isUnsignedInteger()
              ? (double)n.getValue().getZExtValue()
              : (double)n.getValue().getSExtValue();
    else
      return {};
    return {type.getNumElements(), true, [d](int64_t) { return d; }};
  }
  auto cst = dyn_cast_or_null<arith::ConstantOp>(def);
  if (!cst)
    return {};
  return readAttribute(cst.getResult());
}

double mlir::attn::roundTo(Type t, double d) {
  auto ft = dyn_cast<FloatType>(t);
  if (!ft)
    return d;
  APFloat a(d);
  bool lost = false;
  a.convert(ft.getFloatSemantics(), APFloat::rmNearestTiesToEven, &lost);
  return a.convertToDouble();
}

std::optional<double> mlir::attn::evalScalar(Value v, int depth) {
  if (depth > 8)
    return std::nullopt;
  Type et = getElementTypeOrSelf(v.getType());
  if (auto reader = readConstant(v)) {
    if (reader.numElements < 1)
      return std::nullopt;
    // Dense attributes store equal elements as a splat.
    if (reader.numElements != 1 && !reader.splat)
      return std::nullopt;
    return reader.at(0);
  }
  Operation *def = v.getDefiningOp();
  if (!def)
    return std::nullopt;
  if (!isa<FloatType>(et) && !isa<CastOp>(def))
    return std::nullopt; // integer arithmetic (truncating division, ...) is not folded
  auto unary = [&](auto fn) -> std::optional<double> {
    auto x = evalScalar(def->getOperand(0), depth + 1);
    if (!x)
      return std::nullopt;
    return roundTo(et, fn(*x));
  };
  auto binary = [&](auto fn) -> std::optional<double> {
    auto x = evalScalar(def->getOperand(0), depth + 1);
    auto y = evalScalar(def->getOperand(1), depth + 1);
    if (!x || !y)
      return std::nullopt;
    return roundTo(et, fn(*x, *y));
  };
  return llvm::TypeSwitch<Operation *, std::optional<double>>(def)
      .Case<SqrtOp>([&](auto) { return unary([](double x) { return std::sqrt(x); }); })
      .Case<NegOp>([&](auto) { return unary([](double x) { return -x; }); })
      .Case<ReciprocalOp>([&](auto) { return unary([](double x) { return 1.0 / x; }); })
      .Case<AbsOp>([&](auto) { return unary([](double x) { return std::fabs(x); }); })
      .Case<ExpOp>([&](auto) { return unary([](double x) { return std::exp(x); }); })
      .Case<LogOp>([&](auto) { return unary([](double x) { return std::log(x); }); })
      .Case<CastOp>([&](CastOp c) -> std::optional<double> {
        if (!isa<FloatType>(et))
          return std::nullopt;
        return unary([](double x) { return x; });
      })
      .Case<MulOp>([&](auto) { return binary([](double x, double y) { return x * y; }); })
      .Case<DivOp>([&](auto) { return binary([](double x, double y) { return x / y; }); })
      .Case<AddOp>([&](auto) { return binary([](double x, double y) { return x + y; }); })
      .Case<SubOp>([&](auto) { return binary([](double x, double y) { return x - y; }); })
      .Case<PowOp>([&](auto) { return binary([](double x, double y) { return std::pow(x, y); }); })
      .Default([](Operation *) { return std::nullopt; });
}

bool mlir::attn::isZero(Value v) {
  auto c = evalScalar(v);
  return c && *c == 0.0;
}
