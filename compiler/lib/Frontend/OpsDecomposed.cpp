//===- OpsDecomposed.cpp - ONNX ops expressed with several attn ops --------===//
//
// Activations (LeakyRelu, Elu, Selu, Celu, HardSigmoid, HardSwish, Softplus,
// Softsign, ThresholdedRelu, PRelu, Mish, Sign), Clip, CastLike, IsNaN, IsInf,
// GatherND, LogSoftmax, ONNX Runtime's contrib GELUs (com.microsoft Gelu,
// BiasGelu, FastGelu, QuickGelu)
// and the reductions without an attn.reduce kind of their own (ReduceL1,
// ReduceL2, ReduceSumSquare, ReduceLogSum, ReduceLogSumExp).
//
//===----------------------------------------------------------------------===//
#include "Frontend/ImporterImpl.h"

#include "attn/Dialect/ShapeInference.h"

#include <limits>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::onnx_import;

namespace {
using GI = GraphImporter;

Type elementTypeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getElementType();
}

/// Small expression helpers; every one propagates null (a diagnosed failure).
struct Expr {
  GI &g;
  Type elt;
  Value c(double v) { return g.scalarConstant(elt, v); }
  Value add(Value a, Value b) { return a && b ? g.binary<AddOp>(a, b) : Value(); }
  Value sub(Value a, Value b) { return a && b ? g.binary<SubOp>(a, b) : Value(); }
  Value mul(Value a, Value b) { return a && b ? g.binary<MulOp>(a, b) : Value(); }
  Value div(Value a, Value b) { return a && b ? g.binary<DivOp>(a, b) : Value(); }
  Value max(Value a, Value b) { return a && b ? g.binary<MaxOp>(a, b) : Value(); }
  Value min(Value a, Value b) { return a && b ? g.binary<MinOp>(a, b) : Value(); }
  Value exp(Value a) { return a ? g.unary<ExpOp>(a) : Value(); }
  Value log(Value a) { return a ? g.unary<LogOp>(a) : Value(); }
  Value abs(Value a) { return a ? g.unary<AbsOp>(a) : Value(); }
  Value sqrt(Value a) { return a ? g.unary<SqrtOp>(a) : Value(); }
  Value tanh(Value a) { return a ? g.unary<TanhOp>(a) : Value(); }
  Value relu(Value a) { return a ? g.unary<ReluOp>(a) : Value(); }
  Value cmp(CmpPredicate p, Value a, Value b) {
    return a && b ? g.compare(p, a, b) : Value();
  }
  Value select(Value cond, Value a, Value b) {
    if (!cond || !a || !b)
      return {};
    Value r = g.createInferred<SelectOp>(cond, a, b);
    if (r)
      g.setDims(r, g.broadcastDims({cond, a, b}));
    return r;
  }
};

/// The float input #0 of the node, or failure (diagnosed).
FailureOr<Value> floatInput(GI &g) {
  auto x = g.requiredInput(0);
  if (failed(x))
    return failure();
  if (!isa<FloatType>(elementTypeOf(*x))) {
    g.nodeError() << "expects a floating-point input, got " << x->getType();
    return failure();
  }
  return *x;
}

LogicalResult bind(GI &g, Value r) {
  if (!r)
    return failure();
  g.setOutput(0, r);
  return success();
}

/// y = f(x, attribute alpha [, beta]) activations.
template <typename Fn>
LogicalResult activation(GI &g, std::optional<float> alphaDefault,
                         std::optional<float> betaDefault, Fn fn) {
  auto x = floatInput(g);
  if (failed(x))
    return failure();
  float alpha = 0, beta = 0;
  if (alphaDefault) {
    auto a = g.attrFloat("alpha", *alphaDefault);
    if (failed(a))
      return failure();
    alpha = *a;
  }
  if (betaDefault) {
    auto b = g.attrFloat(g.node().op_type() == "Selu" ? "gamma" : "beta",
                         *betaDefault);
    if (failed(b))
      return failure();
    beta = *b;
  }
  Expr e{g, elementTypeOf(*x)};
  return bind(g, fn(e, *x, alpha, beta));
}

LogicalResult convertLeakyRelu(GI &g) {
  return activation(g, 0.01f, std::nullopt,
                    [](Expr &e, Value x, float alpha, float) {
                      return e.select(e.cmp(CmpPredicate::lt, x, e.c(0)),
                                      e.mul(x, e.c(alpha)), x);
                    });
}

LogicalResult convertElu(GI &g) {
  return activation(g, 1.0f, std::nullopt,
                    [](Expr &e, Value x, float alpha, float) {
                      Value em1 = e.sub(e.exp(x), e.c(1));
                      return e.select(e.cmp(CmpPredicate::lt, x, e.c(0)),
                                      e.mul(em1, e.c(alpha)), x);
                    });
}

LogicalResult convertSelu(GI &g) {
  return activation(g, 1.67326319217681884765625f, 1.05070102214813232421875f,
                    [](Expr &e, Value x, float alpha, float gamma) {
                      Value em1 = e.sub(e.exp(x), e.c(1));
                      Value y = e.select(e.cmp(CmpPredicate::le, x, e.c(0)),
                                         e.mul(em1, e.c(alpha)), x);
                      return e.mul(y, e.c(gamma));
                    });
}

LogicalResult convertCelu(GI &g) {
  return activation(g, 1.0f, std::nullopt,
                    [](Expr &e, Value x, float alpha, float) {
                      Value em1 = e.sub(e.exp(e.div(x, e.c(alpha))), e.c(1));
                      return e.add(e.relu(x),
                                   e.min(e.c(0), e.mul(em1, e.c(alpha))));
                    });
}

LogicalResult convertHardSigmoid(GI &g) {
  return activation(g, 0.2f, 0.5f, [](Expr &e, Value x, float alpha, float beta) {
    Value lin = e.add(e.mul(x, e.c(alpha)), e.c(beta));
    return e.max(e.c(0), e.min(e.c(1), lin));
  });
}

/// x + bias for the contrib GELUs: bias (input 1, optional unless
/// `required`) is 1-D, the size of x's last dim.
FailureOr<Value> addContribBias(GI &g, Value x, bool required) {
  Value bias = g.input(1);
  if (!bias) {
    if (required) {
      g.nodeError() << "needs its bias input (input 1)";
      return failure();
    }
    return x;
  }
  auto xt = cast<RankedTensorType>(x.getType());
  auto bt = cast<RankedTensorType>(bias.getType());
  if (bt.getElementType() != xt.getElementType()) {
    g.nodeError() << "bias element type " << bt.getElementType()
                  << " differs from the input's " << xt.getElementType();
    return failure();
  }
  int64_t n = xt.getRank() ? xt.getShape().back() : 1;
  if (bt.getRank() != 1 || xt.getRank() < 1 ||
      (!ShapedType::isDynamic(n) && !bt.isDynamicDim(0) && bt.getDimSize(0) != n)) {
    g.nodeError() << "bias must be 1-D with the size of the input's last dim, got "
                  << bias.getType() << " for input " << x.getType();
    return failure();
  }
  Value sum = g.binary<AddOp>(x, bias);
  if (!sum)
    return failure();
  return sum;
}

/// com.microsoft Gelu (exact), BiasGelu (exact, of x + bias), FastGelu (tanh
/// approximation, of x [+ bias]).
template <bool Tanh, bool HasBias, bool BiasRequired>
LogicalResult convertContribGelu(GI &g) {
  auto x = floatInput(g);
  if (failed(x))
    return failure();
  Value v = *x;
  if (HasBias) {
    auto sum = addContribBias(g, *x, BiasRequired);
    if (failed(sum))
      return failure();
    v = *sum;
  }
  Value r = g.createTyped<GeluOp>(v.getType(), v, Tanh);
  g.copyDims(r, v);
  return bind(g, r);
}

/// com.microsoft QuickGelu: x * sigmoid(alpha x), alpha 1.702 by default.
LogicalResult convertQuickGelu(GI &g) {
  return activation(g, 1.702f, std::nullopt, [&](Expr &e, Value x, float alpha, float) {
    Value ax = alpha == 1.0f ? x : e.mul(x, e.c(alpha));
    return e.mul(x, ax ? g.unary<SigmoidOp>(ax) : Value());
  });
}

LogicalResult convertHardSwish(GI &g) {
  return activation(g, std::nullopt, std::nullopt,
                    [](Expr &e, Value x, float, float) {
                      Value lin = e.add(e.mul(x, e.c(1.0 / 6.0)), e.c(0.5));
                      return e.mul(x, e.max(e.c(0), e.min(e.c(1), lin)));
                    });
}

/// softplus(x) = relu(x) + log(1 + exp(-|x|)) (no overflow for large x).
Value softplus(Expr &e, Value x) {
  return e.add(e.relu(x),
               e.log(e.add(e.c(1), e.exp(e.sub(e.c(0), e.abs(x))))));
}

LogicalResult convertSoftplus(GI &g) {
  return activation(g, std::nullopt, std::nullopt,
                    [](Expr &e, Value x, float, float) { return softplus(e, x); });
}

LogicalResult convertMish(GI &g) {
  return activation(g, std::nullopt, std::nullopt,
                    [](Expr &e, Value x, float, float) {
                      return e.mul(x, e.tanh(softplus(e, x)));
                    });
}

LogicalResult convertSoftsign(GI &g) {
  return activation(g, std::nullopt, std::nullopt,
                    [](Expr &e, Value x, float, float) {
                      return e.div(x, e.add(e.c(1), e.abs(x)));
                    });
}

LogicalResult convertThresholdedRelu(GI &g) {
  return activation(g, 1.0f, std::nullopt,
                    [](Expr &e, Value x, float alpha, float) {
                      return e.select(e.cmp(CmpPredicate::gt, x, e.c(alpha)), x,
                                      e.c(0));
                    });
}

LogicalResult convertPRelu(GI &g) {
  auto x = g.requiredInput(0);
  auto slope = g.requiredInput(1);
  if (failed(x) || failed(slope) ||
      failed(g.checkSameElementType({*x, *slope})))
    return failure();
  // Before opset 7 a 1-D slope of size C is per channel (dim 1).
  auto xt = cast<RankedTensorType>(x->getType());
  auto st = cast<RankedTensorType>(slope->getType());
  if (g.opset() < 7 && st.getRank() == 1 && xt.getRank() >= 2 &&
      st.getDimSize(0) != 1 && !broadcastsTo(st.getShape(), xt.getShape())) {
    using DS = GI::DimSource;
    SmallVector<DS> dims{DS::dims(0, 1)};
    for (int64_t i = 2; i < xt.getRank(); ++i)
      dims.push_back(DS::cst(1));
    slope = g.reshapeTo(*slope, dims);
  }
  Expr e{g, elementTypeOf(*x)};
  Value r = e.select(e.cmp(CmpPredicate::lt, *x, e.c(0)), e.mul(*x, *slope), *x);
  // The result has x's shape (slope broadcasts unidirectionally).
  return bind(g, r);
}

LogicalResult convertSign(GI &g) {
  auto x = g.requiredInput(0);
  if (failed(x))
    return failure();
  Type elt = elementTypeOf(*x);
  if (elt.isInteger(1))
    return g.nodeError() << "expects a numeric input, got " << x->getType();
  Expr e{g, elt};
  Value neg = e.select(e.cmp(CmpPredicate::lt, *x, e.c(0)), e.c(-1), e.c(0));
  return bind(g, e.select(e.cmp(CmpPredicate::gt, *x, e.c(0)), e.c(1), neg));
}

LogicalResult convertClip(GI &g) {
  auto x = g.requiredInput(0);
  if (failed(x))
    return failure();
  Type elt = elementTypeOf(*x);
  Expr e{g, elt};
  Value lo, hi;
  if (g.opset() < 11) {
    auto mn = g.attrFloat("min", std::numeric_limits<float>::lowest());
    auto mx = g.attrFloat("max", std::numeric_limits<float>::max());
    if (failed(mn) || failed(mx))
      return failure();
    if (g.findAttr("min"))
      lo = e.c(*mn);
    if (g.findAttr("max"))
      hi = e.c(*mx);
  } else {
    lo = g.input(1);
    hi = g.input(2);
    for (Value v : {lo, hi})
      if (v && failed(g.checkSameElementType({*x, v})))
        return failure();
  }
  Value r = *x;
  if (lo)
    r = e.max(r, lo);
  if (hi)
    r = e.min(r, hi);
  return bind(g, r);
}

/// IsNaN(x) = (x != x): the only value unequal to itself is NaN (attn.cmp ne
/// on floats is the unordered comparison). PyTorch's SDPA export emits
/// `Where(IsNaN(softmax), 0, softmax)`, which the attention fusion matches in
/// this form.
LogicalResult convertIsNaN(GI &g) {
  auto x = floatInput(g);
  if (failed(x))
    return failure();
  Expr e{g, elementTypeOf(*x)};
  return bind(g, e.cmp(CmpPredicate::ne, *x, *x));
}

/// IsInf(x) = (|x| == inf), or (x == +inf) / (x == -inf) with one of
/// detect_positive / detect_negative off; both off gives false everywhere.
LogicalResult convertIsInf(GI &g) {
  auto x = floatInput(g);
  auto neg = g.attrInt("detect_negative", 1);
  auto pos = g.attrInt("detect_positive", 1);
  if (failed(x) || failed(neg) || failed(pos))
    return failure();
  Expr e{g, elementTypeOf(*x)};
  double inf = std::numeric_limits<double>::infinity();
  Value r;
  if (*neg && *pos)
    r = e.cmp(CmpPredicate::eq, e.abs(*x), e.c(inf));
  else if (*pos)
    r = e.cmp(CmpPredicate::eq, *x, e.c(inf));
  else if (*neg)
    r = e.cmp(CmpPredicate::eq, *x, e.c(-inf));
  else
    r = e.cmp(CmpPredicate::gt, e.abs(*x), e.c(inf)); // nothing is > inf
  return bind(g, r);
}

/// GatherND (batch_dims = 0) as one Gather on the flattened leading dims:
/// data [d0, ..., dk-1, rest...] -> [d0 * ... * dk-1, rest...], flat index
/// sum_j i_j * stride_j with negative i_j wrapped. An i_j out of [-d_j, d_j)
/// makes the flat index d0 * ... * dk-1, which Gather reports at run time
/// (dynamo's export of transformers' padding mask `mask[batch, kv_idx]`).
LogicalResult convertGatherND(GI &g) {
  auto data = g.requiredInput(0);
  auto indices = g.requiredInput(1);
  auto batchDims = g.attrInt("batch_dims", 0);
  if (failed(data) || failed(indices) || failed(batchDims))
    return failure();
  if (*batchDims != 0)
    return g.nodeError() << "batch_dims = " << *batchDims << " is not supported (only 0)";
  auto dt = cast<RankedTensorType>(data->getType());
  auto it = cast<RankedTensorType>(indices->getType());
  if (!it.getElementType().isInteger(64) && !it.getElementType().isInteger(32))
    return g.nodeError() << "indices must be int64 or int32, got " << it;
  if (it.getRank() < 1 || it.isDynamicDim(it.getRank() - 1))
    return g.nodeError() << "the last dim of indices must be static, got " << it;
  int64_t k = it.getShape().back(), r = dt.getRank(), q = it.getRank();
  if (k < 1 || k > r)
    return g.nodeError() << "indices address " << k << " dims of a rank-" << r
                         << " tensor";
  Type i64 = g.getBuilder().getI64Type();
  Expr e{g, i64};
  Value idx = g.castTo(*indices, i64);
  // Dim j of data as an i64 tensor (a constant when static).
  auto dimOf = [&](int64_t j) -> Value {
    if (!dt.isDynamicDim(j))
      return e.c(dt.getDimSize(j));
    Value s = g.createInferred<ShapeOp>(*data, (uint64_t)j, (uint64_t)(j + 1));
    return g.createTyped<ReshapeOp>(RankedTensorType::get({}, i64), s,
                                    g.i64Vector({}), /*allowzero=*/false);
  };
  Value flat, bad, count;
  for (int64_t j = k - 1; j >= 0; --j) {
    Value d = dimOf(j);
    Value ij = g.createInferred<GatherOp>(idx, e.c(j), (uint64_t)(q - 1));
    if (!ij)
      return failure();
    g.setDims(ij, ArrayRef<SymbolicDim>(g.dimsOf(idx)).drop_back());
    Value wrapped = e.select(e.cmp(CmpPredicate::lt, ij, e.c(0)), e.add(ij, d), ij);
    Value outside = e.cmp(CmpPredicate::lt, wrapped, e.c(0));
    Value beyond = e.cmp(CmpPredicate::ge, wrapped, d);
    Value badJ = outside && beyond ? g.binary<OrOp>(outside, beyond) : Value();
    Value term = count ? e.mul(wrapped, count) : wrapped;
    flat = flat ? e.add(flat, term) : term;
    bad = bad ? (bad && badJ ? g.binary<OrOp>(bad, badJ) : Value()) : badJ;
    count = count ? e.mul(count, d) : d;
    if (!flat || !bad || !count)
      return failure();
  }
  flat = e.select(bad, count, flat);
  using DS = GI::DimSource;
  SmallVector<DS> dims{DS::dims(0, k)};
  for (int64_t j = k; j < r; ++j)
    dims.push_back(DS::dims(j, j + 1));
  Value flatData = g.reshapeTo(*data, dims);
  if (!flat || !flatData)
    return failure();
  Value result = g.createInferred<GatherOp>(flatData, flat, (uint64_t)0);
  if (!result)
    return failure();
  ShapeValue out(g.dimsOf(flat));
  ShapeValue dd = g.dimsOf(*data);
  out.append(dd.begin() + k, dd.end());
  g.setDims(result, out);
  return bind(g, result);
}

LogicalResult convertCastLike(GI &g) {
  auto x = g.requiredInput(0);
  auto like = g.requiredInput(1);
  if (failed(x) || failed(like))
    return failure();
  return bind(g, g.castTo(*x, elementTypeOf(*like)));
}

//===----------------------------------------------------------------------===//
// LogSoftmax
//===----------------------------------------------------------------------===//

/// log_softmax along `axis`: (x - max) - log(sum(exp(x - max))).
Value logSoftmax(GI &g, Value x, int64_t axis) {
  Expr e{g, elementTypeOf(x)};
  Value m = g.reduce(ReduceKind::max, x, {axis}, true);
  Value s = e.sub(x, m);
  Value ex = e.exp(s);
  Value sum = ex ? g.reduce(ReduceKind::sum, ex, {axis}, true) : Value();
  return e.sub(s, e.log(sum));
}

LogicalResult convertLogSoftmax(GI &g) {
  auto x = floatInput(g);
  bool legacy = g.opset() < 13;
  auto axisAttr = g.attrInt("axis", legacy ? 1 : -1);
  if (failed(x) || failed(axisAttr))
    return failure();
  auto t = cast<RankedTensorType>(x->getType());
  int64_t rank = t.getRank();
  auto axis = normalizeAxis(*axisAttr, rank);
  if (!axis)
    return g.nodeError() << "axis " << *axisAttr << " is out of range for rank "
                         << rank;
  if (!legacy || *axis == rank - 1)
    return bind(g, logSoftmax(g, *x, *axis));
  // Before opset 13: over the flattened [prod(d0..axis-1), prod(rest)].
  using DS = GI::DimSource;
  Value flat = g.reshapeTo(*x, {DS::dims(0, *axis), DS::dims(*axis, rank)});
  Value s = logSoftmax(g, flat, 1);
  if (!s)
    return failure();
  SmallVector<DS> back;
  for (int64_t i = 0; i < rank; ++i)
    back.push_back(DS::dims(i, i + 1));
  Value r = g.createTyped<ReshapeOp>(t, s, g.buildShapeTensor(*x, back),
                                     /*allowzero=*/true);
  g.copyDims(r, *x);
  return bind(g, r);
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

enum class ReduceExtra { L1, L2, SumSquare, LogSum, LogSumExp };

template <ReduceExtra Kind>
LogicalResult convertReduceExtra(GI &g) {
  auto x = g.requiredInput(0);
  auto keepdims = g.attrInt("keepdims", 1);
  if (failed(x) || failed(keepdims))
    return failure();
  Type elt = elementTypeOf(*x);
  bool needsFloat = Kind == ReduceExtra::L2 || Kind == ReduceExtra::LogSum ||
                    Kind == ReduceExtra::LogSumExp;
  if (elt.isInteger(1) || (needsFloat && !isa<FloatType>(elt)))
    return g.nodeError() << "unsupported input type " << x->getType();
  int64_t rank = cast<RankedTensorType>(x->getType()).getRank();
  SmallVector<int64_t> axes;
  bool noop = false;
  if (failed(getReduceAxes(g, rank, axes, noop)))
    return failure();
  Expr e{g, elt};
  bool keep = *keepdims != 0;
  Value r;
  switch (Kind) {
  case ReduceExtra::L1:
    // noop_with_empty_axes still applies the elementwise part.
    r = noop ? e.abs(*x) : g.reduce(ReduceKind::sum, e.abs(*x), axes, keep);
    break;
  case ReduceExtra::L2: {
    Value sq = e.mul(*x, *x);
    r = e.sqrt(noop ? sq : g.reduce(ReduceKind::sum, sq, axes, keep));
    break;
  }
  case ReduceExtra::SumSquare: {
    Value sq = e.mul(*x, *x);
    r = noop ? sq : g.reduce(ReduceKind::sum, sq, axes, keep);
    break;
  }
  case ReduceExtra::LogSum:
    r = e.log(noop ? *x : g.reduce(ReduceKind::sum, *x, axes, keep));
    break;
  case ReduceExtra::LogSumExp: {
    if (noop) {
      r = *x; // log(exp(x))
      break;
    }
    // m + log(sum(exp(x - m))), m = max over the axes (kept for broadcast).
    Value m = g.reduce(ReduceKind::max, *x, axes, true);
    Value s = g.reduce(ReduceKind::sum, e.exp(e.sub(*x, m)), axes, true);
    r = e.add(e.log(s), m);
    if (r && !keep) {
      using DS = GI::DimSource;
      SmallVector<DS> dims;
      for (int64_t i = 0; i < rank; ++i)
        if (!llvm::is_contained(axes, i))
          dims.push_back(DS::dims(i, i + 1));
      r = g.reshapeTo(r, dims);
    }
    break;
  }
  }
  return bind(g, r);
}

} // namespace

void onnx_import::registerDecomposedConverters(
    llvm::StringMap<OpConverter> &t) {
  t["LeakyRelu"] = convertLeakyRelu;
  t["Elu"] = convertElu;
  t["Selu"] = convertSelu;
  t["Celu"] = convertCelu;
  t["HardSigmoid"] = convertHardSigmoid;
  t["HardSwish"] = convertHardSwish;
  t["Softplus"] = convertSoftplus;
  t["Softsign"] = convertSoftsign;
  t["Mish"] = convertMish;
  t["ThresholdedRelu"] = convertThresholdedRelu;
  t["PRelu"] = convertPRelu;
  t["Sign"] = convertSign;
  t["Clip"] = convertClip;
  t["CastLike"] = convertCastLike;
  t["IsNaN"] = convertIsNaN;
  t["IsInf"] = convertIsInf;
  t["GatherND"] = convertGatherND;
  t["LogSoftmax"] = convertLogSoftmax;
  t["com.microsoft::Gelu"] = convertContribGelu</*Tanh=*/false, /*HasBias=*/false, false>;
  t["com.microsoft::BiasGelu"] = convertContribGelu</*Tanh=*/false, /*HasBias=*/true, true>;
  t["com.microsoft::FastGelu"] = convertContribGelu</*Tanh=*/true, /*HasBias=*/true, false>;
  t["com.microsoft::QuickGelu"] = convertQuickGelu;
  t["ReduceL1"] = convertReduceExtra<ReduceExtra::L1>;
  t["ReduceL2"] = convertReduceExtra<ReduceExtra::L2>;
  t["ReduceSumSquare"] = convertReduceExtra<ReduceExtra::SumSquare>;
  t["ReduceLogSum"] = convertReduceExtra<ReduceExtra::LogSum>;
  t["ReduceLogSumExp"] = convertReduceExtra<ReduceExtra::LogSumExp>;
}
