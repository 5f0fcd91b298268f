//===- OpsElementwise.cpp - ONNX elementwise ops -> attn ------------------===//
//
// Converters for ONNX elementwise ops: arithmetic (Add ... Pow, Mod, the
// variadic Max/Min/Sum/Mean), logic, comparisons, Where, unary math, Gelu and
// Cast. Integer elementwise ops also evaluate on shape values (see
// ImporterImpl.h) so that shape arithmetic folds.
//
//===----------------------------------------------------------------------===//
#include "Frontend/ImporterImpl.h"

#include "mlir/Dialect/Traits.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::onnx_import;

namespace {
using GI = GraphImporter;
using DV = SymbolicDim;
using FoldFn = DV (*)(ArrayRef<DV>);

//===----------------------------------------------------------------------===//
// Shape-value folding
//===----------------------------------------------------------------------===//

// The rules per op are SymbolicShape's (Support/SymbolicShape.h).
namespace df = mlir::attn::dimfold;
constexpr FoldFn foldAdd = df::add, foldSub = df::sub, foldMul = df::mul,
                 foldDiv = df::div, foldMax = df::max, foldMin = df::min,
                 foldEq = df::eq, foldLt = df::lt, foldLe = df::le,
                 foldGt = df::gt, foldGe = df::ge, foldAnd = df::logicalAnd,
                 foldOr = df::logicalOr, foldMod = df::mod,
                 foldFMod = df::fmod, foldWhere = df::where;

/// Evaluates `fold` elementwise on the operands' shape values (numpy
/// broadcasting over rank <= 1); std::nullopt when an operand is not tracked.
std::optional<ShapeValue> foldShapeValues(GI &g, ArrayRef<Value> operands,
                                          FoldFn fold) {
  if (!fold)
    return std::nullopt;
  SmallVector<ShapeValue> ins;
  for (Value v : operands) {
    auto sv = g.shapeValue(v);
    if (!sv)
      return std::nullopt;
    ins.push_back(*sv);
  }
  std::optional<size_t> len;
  for (const ShapeValue &in : ins) {
    if (in.size() == 1)
      continue;
    if (len && *len != in.size())
      return std::nullopt;
    len = in.size();
  }
  ShapeValue out;
  for (size_t i = 0, e = len.value_or(1); i < e; ++i) {
    SmallVector<DV, 3> args;
    for (const ShapeValue &in : ins)
      args.push_back(in.size() == 1 ? in[0] : in[i]);
    out.push_back(fold(args));
  }
  return out;
}

/// The broadcast static shape of `operands` (all of static shape).
std::optional<SmallVector<int64_t>> staticBroadcast(ArrayRef<Value> operands) {
  SmallVector<int64_t> shape;
  for (Value v : operands) {
    auto t = cast<RankedTensorType>(v.getType());
    if (!t.hasStaticShape())
      return std::nullopt;
    SmallVector<int64_t> b;
    if (!OpTrait::util::getBroadcastedShape(shape, t.getShape(), b))
      return std::nullopt;
    shape = b;
  }
  return shape;
}

/// Folds to a constant when the shape values of `operands` determine the
/// result; otherwise calls `create` and records what is known.
template <typename CreateFn>
Value foldOrCreate(GI &g, ArrayRef<Value> operands, Type resultElt,
                   FoldFn fold, CreateFn create) {
  std::optional<ShapeValue> sv = foldShapeValues(g, operands, fold);
  if (sv && isFullyKnown(*sv)) {
    if (auto shape = staticBroadcast(operands))
      if (Value c = g.materializeIfKnown(
              RankedTensorType::get(*shape, resultElt), *sv))
        return c;
  }
  Value r = create();
  if (!r)
    return {};
  g.setDims(r, g.broadcastDims(operands));
  if (sv)
    g.setShapeValue(r, *sv);
  return r;
}

template <typename OpTy>
Value emitBinary(GI &g, Value a, Value b, FoldFn fold = nullptr) {
  return foldOrCreate(g, {a, b}, getElementTypeOrSelf(a), fold,
                      [&] { return g.createInferred<OpTy>(a, b); });
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

/// Before opset 7, binary ops broadcast only with `broadcast=1`, placing B's
/// dims at A's dim `axis` (default: trailing, which is numpy's rule). Returns
/// B reshaped for numpy broadcasting.
FailureOr<Value> legacyBroadcast(GI &g, Value a, Value b) {
  if (g.opset() >= 7 || !g.findAttr("broadcast"))
    return b;
  auto bc = g.attrInt("broadcast");
  if (failed(bc))
    return failure();
  if (!*bc || !g.findAttr("axis"))
    return b;
  auto axisAttr = g.attrInt("axis");
  if (failed(axisAttr))
    return failure();
  int64_t ra = cast<RankedTensorType>(a.getType()).getRank();
  int64_t rb = cast<RankedTensorType>(b.getType()).getRank();
  int64_t axis = *axisAttr < 0 ? *axisAttr + ra : *axisAttr;
  if (axis < 0 || axis + rb > ra)
    return g.nodeError() << "broadcast axis " << *axisAttr
                         << " does not fit B's rank " << rb << " into rank "
                         << ra;
  using DS = GI::DimSource;
  SmallVector<DS> dims;
  for (int64_t i = 0; i < rb; ++i)
    dims.push_back(DS::dims(i, i + 1));
  for (int64_t i = axis + rb; i < ra; ++i)
    dims.push_back(DS::cst(1));
  return g.reshapeTo(b, dims);
}

template <typename OpTy, FoldFn Fold = nullptr, bool BoolOnly = false>
LogicalResult convertBinary(GI &g) {
  auto lhs = g.requiredInput(0);
  auto rhs0 = g.requiredInput(1);
  if (failed(lhs) || failed(rhs0))
    return failure();
  auto rhs = legacyBroadcast(g, *lhs, *rhs0);
  if (failed(rhs))
    return failure();
  if (failed(g.checkSameElementType({*lhs, *rhs})))
    return failure();
  if (BoolOnly && !getElementTypeOrSelf(*lhs).isInteger(1))
    return g.nodeError() << "expects bool inputs, got " << lhs->getType();
  Value r = emitBinary<OpTy>(g, *lhs, *rhs, Fold);
  if (!r)
    return failure();
  g.setOutput(0, r);
  return success();
}

template <CmpPredicate Pred, FoldFn Fold>
LogicalResult convertCompare(GI &g) {
  auto lhs = g.requiredInput(0);
  auto rhs0 = g.requiredInput(1);
  if (failed(lhs) || failed(rhs0))
    return failure();
  auto rhs = legacyBroadcast(g, *lhs, *rhs0);
  if (failed(rhs))
    return failure();
  if (failed(g.checkSameElementType({*lhs, *rhs})))
    return failure();
  Value r = foldOrCreate(g, {*lhs, *rhs}, g.getBuilder().getI1Type(), Fold,
                         [&] {
                           return g.createInferred<CmpOp>(Pred, *lhs, *rhs);
                         });
  if (!r)
    return failure();
  g.setOutput(0, r);
  return success();
}

enum class Operand { Any, Float, Bool, Numeric };

template <typename OpTy, Operand Kind = Operand::Any>
LogicalResult convertUnary(GI &g) {
  auto x = g.requiredInput(0);
  if (failed(x))
    return failure();
  auto t = cast<RankedTensorType>(x->getType());
  Type elt = t.getElementType();
  if (Kind == Operand::Float && !isa<FloatType>(elt))
    return g.nodeError() << "expects a floating-point input, got " << t;
  if (Kind == Operand::Bool && !elt.isInteger(1))
    return g.nodeError() << "expects a bool input, got " << t;
  if (Kind == Operand::Numeric && elt.isInteger(1))
    return g.nodeError() << "expects a numeric input, got " << t;
  Value r = g.createTyped<OpTy>(t, *x);
  g.copyDims(r, *x);
  g.setOutput(0, r);
  return success();
}

LogicalResult convertNeg(GI &g) {
  auto x = g.requiredInput(0);
  if (failed(x))
    return failure();
  auto t = cast<RankedTensorType>(x->getType());
  if (t.getElementType().isInteger(1) ||
      (isa<IntegerType>(t.getElementType()) &&
       cast<IntegerType>(t.getElementType()).isUnsigned()))
    return g.nodeError() << "expects a signed numeric input, got " << t;
  std::optional<ShapeValue> out;
  if (auto sv = g.shapeValue(*x)) {
    out.emplace();
    for (const DV &d : *sv)
      out->push_back(d.isStatic() ? DV::fixed(-d.size) : DV());
    if (Value c = g.materializeIfKnown(t, *out)) {
      g.setOutput(0, c);
      return success();
    }
  }
  Value r = g.createTyped<NegOp>(t, *x);
  g.copyDims(r, *x);
  if (out)
    g.setShapeValue(r, *out);
  g.setOutput(0, r);
  return success();
}

LogicalResult convertGelu(GI &g) {
  auto x = g.requiredInput(0);
  auto approx = g.attrString("approximate", std::string("none"));
  if (failed(x) || failed(approx))
    return failure();
  auto t = cast<RankedTensorType>(x->getType());
  if (!isa<FloatType>(t.getElementType()))
    return g.nodeError() << "expects a floating-point input, got " << t;
  if (*approx != "none" && *approx != "tanh")
    return g.nodeError() << "attribute 'approximate' must be \"none\" or "
                            "\"tanh\", got \""
                         << *approx << "\"";
  Value r = g.createTyped<GeluOp>(t, *x, *approx == "tanh");
  g.copyDims(r, *x);
  g.setOutput(0, r);
  return success();
}

LogicalResult convertPow(GI &g) {
  auto base = g.requiredInput(0);
  auto exponent = g.requiredInput(1);
  if (failed(base) || failed(exponent))
    return failure();
  // ONNX lets the exponent type differ; attn.pow wants equal types. An
  // integer base with a float exponent is computed in floating point (as
  // numpy does) and cast back; otherwise the exponent takes the base type.
  Type baseElt = getElementTypeOrSelf(*base), expElt = getElementTypeOrSelf(*exponent);
  Value r;
  if (isa<IntegerType>(baseElt) && isa<FloatType>(expElt)) {
    Value p = emitBinary<PowOp>(g, g.castTo(*base, expElt), *exponent);
    r = p ? g.castTo(p, baseElt) : Value();
  } else {
    r = emitBinary<PowOp>(g, *base, g.castTo(*exponent, baseElt));
  }
  if (!r)
    return failure();
  g.setOutput(0, r);
  return success();
}

/// Max/Min/Sum/Mean with any number of inputs.
template <typename OpTy, FoldFn Fold, bool IsMean = false>
LogicalResult convertVariadic(GI &g) {
  SmallVector<Value> ins;
  for (unsigned i = 0; i < g.numInputs(); ++i) {
    auto v = g.requiredInput(i);
    if (failed(v))
      return failure();
    ins.push_back(*v);
  }
  if (ins.empty())
    return g.nodeError() << "needs at least one input";
  if (failed(g.checkSameElementType(ins)))
    return failure();
  Value acc = ins.front();
  for (Value v : ArrayRef<Value>(ins).drop_front()) {
    acc = emitBinary<OpTy>(g, acc, v, Fold);
    if (!acc)
      return failure();
  }
  if (IsMean && ins.size() > 1) {
    Type elt = getElementTypeOrSelf(acc);
    if (!isa<FloatType>(elt))
      return g.nodeError() << "Mean expects floating-point inputs";
    acc = emitBinary<DivOp>(g, acc, g.scalarConstant(elt, ins.size()));
    if (!acc)
      return failure();
  }
  g.setOutput(0, acc);
  return success();
}

/// Integer Mod: `fmod=0` takes the sign of the divisor (Python), `fmod=1`
/// the sign of the dividend (C). Folded on shape values; otherwise built from
/// div/mul/sub (attn.div truncates).
LogicalResult convertMod(GI &g) {
  auto a = g.requiredInput(0);
  auto b = g.requiredInput(1);
  auto fmod = g.attrInt("fmod", 0);
  if (failed(a) || failed(b) || failed(fmod))
    return failure();
  if (failed(g.checkSameElementType({*a, *b})))
    return failure();
  Type elt = getElementTypeOrSelf(*a);
  if (isa<FloatType>(elt)) {
    if (!*fmod)
      return g.nodeError() << "floating-point Mod requires fmod=1";
    // fmod: a - trunc(a / b) * b, trunc(q) = q < 0 ? ceil(q) : floor(q).
    Value q = g.binary<DivOp>(*a, *b);
    if (!q)
      return failure();
    Value neg = g.compare(CmpPredicate::lt, q, g.scalarConstant(elt, 0));
    Value tq = neg ? g.createInferred<SelectOp>(neg, g.unary<CeilOp>(q),
                                                g.unary<FloorOp>(q))
                   : Value();
    Value tb = tq ? g.binary<MulOp>(tq, *b) : Value();
    Value r = tb ? g.binary<SubOp>(*a, tb) : Value();
    if (!r)
      return failure();
    g.setDims(r, g.broadcastDims({*a, *b}));
    g.setOutput(0, r);
    return success();
  }
  if (!isa<IntegerType>(elt) || elt.isInteger(1))
    return g.nodeError() << "Mod expects numeric inputs, got "
                         << a->getType();
  auto rem = [&]() -> Value {
    Value q = emitBinary<DivOp>(g, *a, *b);
    Value qb = q ? emitBinary<MulOp>(g, q, *b) : Value();
    Value r = qb ? emitBinary<SubOp>(g, *a, qb) : Value();
    if (!r || *fmod)
      return r;
    // Python semantics: add b where r != 0 and sign(r) != sign(b).
    Value zero = g.scalarConstant(elt, 0);
    Value rNeg = g.createInferred<CmpOp>(CmpPredicate::lt, r, zero);
    Value bNeg = g.createInferred<CmpOp>(CmpPredicate::lt, *b, zero);
    Value rNonZero = g.createInferred<CmpOp>(CmpPredicate::ne, r, zero);
    if (!rNeg || !bNeg || !rNonZero)
      return {};
    Value signDiffers = g.createInferred<XorOp>(rNeg, bNeg);
    Value fix = signDiffers ? g.createInferred<AndOp>(signDiffers, rNonZero)
                            : Value();
    Value rb = emitBinary<AddOp>(g, r, *b);
    Value out = fix && rb ? g.createInferred<SelectOp>(fix, rb, r) : Value();
    if (out)
      g.setDims(out, g.broadcastDims({*a, *b}));
    return out;
  };
  Value r = foldOrCreate(g, {*a, *b}, elt, *fmod ? foldFMod : foldMod, rem);
  if (!r)
    return failure();
  g.setOutput(0, r);
  return success();
}

LogicalResult convertNot(GI &g) { return convertUnary<NotOp, Operand::Bool>(g); }

LogicalResult convertWhere(GI &g) {
  auto c = g.requiredInput(0);
  auto x = g.requiredInput(1);
  auto y = g.requiredInput(2);
  if (failed(c) || failed(x) || failed(y))
    return failure();
  if (!getElementTypeOrSelf(*c).isInteger(1))
    return g.nodeError() << "condition must be a bool tensor, got "
                         << c->getType();
  if (failed(g.checkSameElementType({*x, *y}, "the X and Y inputs")))
    return failure();
  Value r = foldOrCreate(g, {*c, *x, *y}, getElementTypeOrSelf(*x), foldWhere, [&] {
    return g.createInferred<SelectOp>(*c, *x, *y);
  });
  if (!r)
    return failure();
  g.setOutput(0, r);
  return success();
}

LogicalResult convertCast(GI &g) {
  auto x = g.requiredInput(0);
  auto to = g.attrInt("to");
  if (failed(x) || failed(to))
    return failure();
  Type elt = convertDataType(g.getContext(), *to);
  if (!elt)
    return g.nodeError() << "cast to unsupported element type "
                         << onnxDataTypeName(*to);
  auto t = cast<RankedTensorType>(x->getType());
  if (t.getElementType() == elt) {
    g.setOutput(0, *x);
    return success();
  }
  auto rt = t.clone(elt);
  std::optional<ShapeValue> out;
  if (auto sv = g.shapeValue(*x)) {
    out.emplace();
    for (const DV &d : *sv) {
      if (elt.isInteger(1))
        out->push_back(d.isStatic() ? DV::fixed(d.size != 0) : DV());
      else if (isa<IntegerType>(elt))
        out->push_back(d); // dims survive integer casts
      else
        out->push_back(d.isStatic() ? d : DV());
    }
    if (Value c = g.materializeIfKnown(rt, *out)) {
      g.setOutput(0, c);
      return success();
    }
  }
  Value r = g.createTyped<CastOp>(rt, *x);
  g.copyDims(r, *x);
  if (out)
    g.setShapeValue(r, *out);
  g.setOutput(0, r);
  return success();
}

} // namespace

void onnx_import::registerElementwiseConverters(
    llvm::StringMap<OpConverter> &t) {
  t["Add"] = convertBinary<AddOp, foldAdd>;
  t["Sub"] = convertBinary<SubOp, foldSub>;
  t["Mul"] = convertBinary<MulOp, foldMul>;
  t["Div"] = convertBinary<DivOp, foldDiv>;
  t["Pow"] = convertPow;
  t["And"] = convertBinary<AndOp, foldAnd, /*BoolOnly=*/true>;
  t["Or"] = convertBinary<OrOp, foldOr, /*BoolOnly=*/true>;
  t["Xor"] = convertBinary<XorOp, nullptr, /*BoolOnly=*/true>;
  t["Mod"] = convertMod;
  t["Max"] = convertVariadic<MaxOp, foldMax>;
  t["Min"] = convertVariadic<MinOp, foldMin>;
  t["Sum"] = convertVariadic<AddOp, foldAdd>;
  t["Mean"] = convertVariadic<AddOp, nullptr, /*IsMean=*/true>;

  t["Equal"] = convertCompare<CmpPredicate::eq, foldEq>;
  t["Less"] = convertCompare<CmpPredicate::lt, foldLt>;
  t["LessOrEqual"] = convertCompare<CmpPredicate::le, foldLe>;
  t["Greater"] = convertCompare<CmpPredicate::gt, foldGt>;
  t["GreaterOrEqual"] = convertCompare<CmpPredicate::ge, foldGe>;
  t["Not"] = convertNot;
  t["Where"] = convertWhere;

  t["Neg"] = convertNeg;
  t["Abs"] = convertUnary<AbsOp, Operand::Numeric>;
  t["Relu"] = convertUnary<ReluOp, Operand::Numeric>;
  t["Sqrt"] = convertUnary<SqrtOp, Operand::Float>;
  t["Reciprocal"] = convertUnary<ReciprocalOp, Operand::Float>;
  t["Exp"] = convertUnary<ExpOp, Operand::Float>;
  t["Log"] = convertUnary<LogOp, Operand::Float>;
  t["Erf"] = convertUnary<ErfOp, Operand::Float>;
  t["Tanh"] = convertUnary<TanhOp, Operand::Float>;
  t["Cos"] = convertUnary<CosOp, Operand::Float>;
  t["Sin"] = convertUnary<SinOp, Operand::Float>;
  t["Sigmoid"] = convertUnary<SigmoidOp, Operand::Float>;
  t["Floor"] = convertUnary<FloorOp, Operand::Float>;
  t["Ceil"] = convertUnary<CeilOp, Operand::Float>;
  t["Gelu"] = convertGelu;
  t["Cast"] = convertCast;
}
