//===- OpsNormalization.cpp - Softmax, LayerNorm, Reduce* -> attn ---------===//
//
// Converters for Softmax (the pre-opset-13 form flattens to 2-D),
// LayerNormalization (its training outputs Mean and InvStdDev decomposed) and
// the Reduce* ops, with the axis rules shared by every Reduce* node
// (getReduceAxes).
//
//===----------------------------------------------------------------------===//
#include "Frontend/ImporterImpl.h"

#include "attn/Dialect/ShapeInference.h"

#include <cstdio>
#include <cstdlib>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::onnx_import;

namespace {
using GI = GraphImporter;

//===----------------------------------------------------------------------===//
// Normalization
//===----------------------------------------------------------------------===//

LogicalResult convertSoftmax(GI &g) {
  auto x = g.requiredInput(0);
  bool legacy = g.opset() < 13;
  auto axisAttr = g.attrInt("axis", legacy ? 1 : -1);
  if (failed(x) || failed(axisAttr))
    return failure();
  auto t = cast<RankedTensorType>(x->getType());
  if (!isa<FloatType>(t.getElementType()))
    return g.nodeError() << "expects a floating-point input, got " << t;
  int64_t rank = t.getRank();
  auto axis = normalizeAxis(*axisAttr, rank);
  if (!axis)
    return g.nodeError() << "axis " << *axisAttr << " is out of range for rank "
                         << rank;

  Value r;
  if (!legacy || *axis == rank - 1) {
    r = g.createInferred<SoftmaxOp>(*x, (uint64_t)*axis);
    if (r)
      g.copyDims(r, *x);
  } else {
    // Before opset 13, Softmax flattens to [prod(d0..axis-1), prod(rest)] and
    // normalizes each row.
    using DS = GI::DimSource;
    Value flat = g.reshapeTo(*x, {DS::dims(0, *axis), DS::dims(*axis, rank)});
    Value s = g.createInferred<SoftmaxOp>(flat, (uint64_t)1);
    if (!s)
      return failure();
    SmallVector<DS> back;
    for (int64_t i = 0; i < rank; ++i)
      back.push_back(DS::dims(i, i + 1));
    Value shape = g.buildShapeTensor(*x, back);
    r = g.createTyped<ReshapeOp>(t, s, shape, /*allowzero=*/true);
    g.copyDims(r, *x);
  }
  if (!r)
    return failure();
  g.setOutput(0, r);
  return success();
}

/// The double nearest to the shortest decimal that round-trips `f` (ONNX
/// stores float attributes; 1e-5f should become 1e-5, not 9.99999974e-6).
double floatAttrToDouble(float f) {
  char buf[32];
  for (int precision = 6; precision <= 9; ++precision) {
    snprintf(buf, sizeof(buf), "%.*g", precision, double(f));
    double d = strtod(buf, nullptr);
    if (float(d) == f)
      return d;
  }
  return double(f);
}

LogicalResult convertLayerNorm(GI &g) {
  auto x = g.requiredInput(0);
  auto scale = g.requiredInput(1);
  auto axisAttr = g.attrInt("axis", -1);
  auto eps = g.attrFloat("epsilon", 1e-5f);
  if (failed(x) || failed(scale) || failed(axisAttr) || failed(eps))
    return failure();
  if (!(*eps >= 0)) // NaN or negative: NaN outputs, silently
    return g.nodeError() << "epsilon must be >= 0, got " << *eps;
  Value bias = g.input(2);
  auto t = cast<RankedTensorType>(x->getType());
  if (!isa<FloatType>(t.getElementType()))
    return g.nodeError() << "expects a floating-point input, got " << t;
  SmallVector<Value> operands{*x, *scale};
  if (bias)
    operands.push_back(bias);
  if (failed(g.checkSameElementType(operands)))
    return failure();
  auto axis = normalizeAxis(*axisAttr, t.getRank());
  if (!axis)
    return g.nodeError() << "axis " << *axisAttr << " is out of range for rank "
                         << t.getRank();
  OpBuilder &b = g.getBuilder();
  Value r = g.createInferred<LayerNormOp>(*x, Value(), *scale, bias,
                                          b.getI64IntegerAttr(*axis),
                                          b.getF64FloatAttr(floatAttrToDouble(*eps)));
  if (!r)
    return failure();
  g.copyDims(r, *x);
  g.setOutput(0, r);
  if (!g.isOutputUsed(1) && !g.isOutputUsed(2))
    return success();

  // Mean and InvStdDev (training outputs), in stash_type precision.
  auto stash = g.attrInt("stash_type", onnx::TensorProto::FLOAT);
  if (failed(stash))
    return failure();
  Type stashType = convertDataType(g.getContext(), *stash);
  if (!stashType || !isa<FloatType>(stashType))
    return g.nodeError() << "unsupported stash_type "
                         << onnxDataTypeName(*stash);
  SmallVector<int64_t> axes;
  for (int64_t i = *axis; i < t.getRank(); ++i)
    axes.push_back(i);
  Value xs = g.castTo(*x, stashType);
  Value mean = g.reduce(ReduceKind::mean, xs, axes, true);
  Value d = mean ? g.binary<SubOp>(xs, mean) : Value();
  Value d2 = d ? g.binary<MulOp>(d, d) : Value();
  Value var = d2 ? g.reduce(ReduceKind::mean, d2, axes, true) : Value();
  Value ve = var ? g.binary<AddOp>(var, g.scalarConstant(stashType,
                                                          floatAttrToDouble(*eps)))
                 : Value();
  if (!ve)
    return failure();
  Value inv = g.unary<ReciprocalOp>(g.unary<SqrtOp>(ve));
  g.setOutput(1, mean);
  g.setOutput(2, inv);
  return success();
}

//===----------------------------------------------------------------------===//
// RMS normalization: ONNX RMSNormalization (opset 23), ORT's
// SimplifiedLayerNormalization, SkipSimplifiedLayerNormalization and
// SkipLayerNormalization (com.microsoft contrib ops)
//===----------------------------------------------------------------------===//

/// Errors (naming the node's output) when an output we do not compute is
/// used: the training statistics (mean, inverse standard deviation).
LogicalResult refuseUsedOutputs(GI &g, ArrayRef<std::pair<unsigned, const char *>> outs) {
  for (auto [i, name] : outs)
    if (g.isOutputUsed(i))
      return g.nodeError() << "output " << i << " ('" << name
                           << "') is not supported (only the normalized output and the sum)";
  return success();
}

/// `scale` as an operand of a norm over `normShape`: its element type cast
/// to `et`, leading size-1 dims beyond the normalized rank dropped; an error
/// (naming `what`) when it does not broadcast to the normalized dims.
FailureOr<Value> normScale(GI &g, Value scale, Type et, ArrayRef<int64_t> normShape,
                           StringRef what) {
  auto st = cast<RankedTensorType>(scale.getType());
  if (!isa<FloatType>(st.getElementType()))
    return g.nodeError() << what << " must be a float tensor, got " << st;
  ArrayRef<int64_t> shape = st.getShape();
  int64_t extra = st.getRank() - static_cast<int64_t>(normShape.size());
  for (int64_t i = 0; i < extra; ++i)
    if (shape[i] != 1)
      return g.nodeError() << what << " of shape " << shapeStr(shape)
                           << " does not broadcast to the normalized dims " << shapeStr(normShape);
  if (!broadcastsTo(shape.drop_front(std::max<int64_t>(extra, 0)), normShape))
    return g.nodeError() << what << " of shape " << shapeStr(shape)
                         << " does not broadcast to the normalized dims " << shapeStr(normShape);
  Value v = g.castTo(scale, et);
  if (extra > 0) {
    using DS = GI::DimSource;
    SmallVector<DS> dims;
    for (int64_t i = extra; i < st.getRank(); ++i)
      dims.push_back(DS::dims(i, i + 1));
    v = g.reshapeTo(v, dims);
    if (!v)
      return failure();
  }
  return v;
}

/// attn.rms_norm(input [+ residual]) with the results' dims recorded.
RmsNormOp buildRms(GI &g, Value input, Value residual, Value scale, int64_t axis, double eps,
                   bool withSum) {
  auto op = RmsNormOp::create(g.getBuilder(), g.loc(), input, residual, scale, axis, eps, withSum);
  for (Value r : op.getResults())
    g.copyDims(r, input);
  return op;
}

/// RMSNormalization (ONNX, opset 23) and SimplifiedLayerNormalization (ORT;
/// the ONNX domain or com.microsoft): Y = X / sqrt(mean(X^2, [axis, rank)) +
/// epsilon) * scale, statistics in f32 (stash_type 1; f64 inputs in f64).
LogicalResult convertRmsNorm(GI &g) {
  auto x = g.requiredInput(0);
  auto scale = g.requiredInput(1);
  auto axisAttr = g.attrInt("axis", -1);
  auto eps = g.attrFloat("epsilon", 1e-5f);
  auto stash = g.attrInt("stash_type", onnx::TensorProto::FLOAT);
  if (failed(x) || failed(scale) || failed(axisAttr) || failed(eps) || failed(stash))
    return failure();
  if (failed(refuseUsedOutputs(g, {{1, "inv_std_var"}})))
    return failure();
  auto t = cast<RankedTensorType>(x->getType());
  if (!isa<FloatType>(t.getElementType()))
    return g.nodeError() << "expects a floating-point input, got " << t;
  if (*stash != onnx::TensorProto::FLOAT && *stash != onnx::TensorProto::DOUBLE)
    return g.nodeError() << "unsupported stash_type " << onnxDataTypeName(*stash)
                         << " (FLOAT or DOUBLE)";
  auto axis = normalizeAxis(*axisAttr, t.getRank());
  if (!axis)
    return g.nodeError() << "axis " << *axisAttr << " is out of range for rank " << t.getRank();
  if (!(*eps >= 0))
    return g.nodeError() << "epsilon must be >= 0, got " << *eps;
  // Y has the scale's element type (ONNX: V), computed in X's.
  Type outType = cast<RankedTensorType>(scale->getType()).getElementType();
  auto s = normScale(g, *scale, t.getElementType(), t.getShape().drop_front(*axis), "the scale");
  if (failed(s))
    return failure();
  Value r = buildRms(g, *x, Value(), *s, *axis, floatAttrToDouble(*eps), false).getResult();
  if (outType != t.getElementType())
    r = g.castTo(r, outType);
  g.setOutput(0, r);
  return success();
}

/// Checks the common inputs of ORT's Skip*LayerNormalization: input and skip
/// of one float type, rank >= 1, normalized over the last dim.
LogicalResult checkSkipInputs(GI &g, Value x, Value skip) {
  auto t = cast<RankedTensorType>(x.getType());
  if (!isa<FloatType>(t.getElementType()) || t.getRank() < 1)
    return g.nodeError() << "expects a floating-point input of rank >= 1, got " << t;
  return g.checkSameElementType({x, skip});
}

/// input + bias (a 1-D [hidden] bias; none: input itself).
FailureOr<Value> addSkipBias(GI &g, Value x, Value bias) {
  if (!bias)
    return x;
  auto t = cast<RankedTensorType>(x.getType());
  auto bt = cast<RankedTensorType>(bias.getType());
  if (bt.getElementType() != t.getElementType() ||
      !broadcastsTo(bt.getShape(), t.getShape().take_back(1)))
    return g.nodeError() << "the bias " << bt << " must be [hidden] of the input's element type ("
                         << t << ")";
  Value r = g.binary<AddOp>(x, bias);
  if (!r || r.getType() != x.getType())
    return g.nodeError() << "the bias does not broadcast to the input";
  return r;
}

/// com.microsoft::SkipSimplifiedLayerNormalization(input, skip, gamma,
/// [bias]) -> (output, [mean], [inv_std_var], [input_skip_bias_sum]):
/// s = input + skip (+ bias), output = RMSNorm(s, last dim) * gamma.
LogicalResult convertSkipSimplifiedLayerNorm(GI &g) {
  auto x = g.requiredInput(0);
  auto skip = g.requiredInput(1);
  auto gamma = g.requiredInput(2);
  auto eps = g.attrFloat("epsilon", 1e-12f);
  if (failed(x) || failed(skip) || failed(gamma) || failed(eps))
    return failure();
  if (!(*eps >= 0)) // NaN or negative: NaN outputs, silently
    return g.nodeError() << "epsilon must be >= 0, got " << *eps;
  if (failed(refuseUsedOutputs(g, {{1, "mean"}, {2, "inv_std_var"}})) ||
      failed(checkSkipInputs(g, *x, *skip)))
    return failure();
  auto t = cast<RankedTensorType>(x->getType());
  auto s = normScale(g, *gamma, t.getElementType(), t.getShape().take_back(1), "gamma");
  auto xb = addSkipBias(g, *x, g.input(3));
  if (failed(s) || failed(xb))
    return failure();
  bool wantSum = g.isOutputUsed(3);
  RmsNormOp op;
  if (skip->getType() == xb->getType()) {
    op = buildRms(g, *xb, *skip, *s, t.getRank() - 1, floatAttrToDouble(*eps), wantSum);
    if (wantSum)
      g.setOutput(3, op.getSum());
  } else {
    // A skip that broadcasts ([1, S, H], [S, H]): the sum first.
    Value sum = g.binary<AddOp>(*xb, *skip);
    if (!sum || sum.getType() != xb->getType())
      return g.nodeError() << "skip " << skip->getType() << " does not broadcast to the input "
                           << t;
    op = buildRms(g, sum, Value(), *s, t.getRank() - 1, floatAttrToDouble(*eps), false);
    g.setOutput(3, sum);
  }
  g.setOutput(0, op.getResult());
  return success();
}

/// com.microsoft::SkipLayerNormalization(input, skip, gamma, [beta], [bias])
/// -> (output, [mean], [inv_std_var], [input_skip_bias_sum]): LayerNorm of
/// input + skip (+ bias) over the last dim, as attn.layer_norm with the
/// residual (or of the sum when the sum is an output too).
LogicalResult convertSkipLayerNorm(GI &g) {
  auto x = g.requiredInput(0);
  auto skip = g.requiredInput(1);
  auto gamma = g.requiredInput(2);
  auto eps = g.attrFloat("epsilon", 1e-12f);
  if (failed(x) || failed(skip) || failed(gamma) || failed(eps))
    return failure();
  if (!(*eps >= 0)) // NaN or negative: NaN outputs, silently
    return g.nodeError() << "epsilon must be >= 0, got " << *eps;
  if (failed(refuseUsedOutputs(g, {{1, "mean"}, {2, "inv_std_var"}})) ||
      failed(checkSkipInputs(g, *x, *skip)))
    return failure();
  auto t = cast<RankedTensorType>(x->getType());
  auto s = normScale(g, *gamma, t.getElementType(), t.getShape().take_back(1), "gamma");
  auto xb = addSkipBias(g, *x, g.input(4));
  if (failed(s) || failed(xb))
    return failure();
  Value beta;
  if (Value b = g.input(3)) {
    auto bs = normScale(g, b, t.getElementType(), t.getShape().take_back(1), "beta");
    if (failed(bs))
      return failure();
    beta = *bs;
  }
  OpBuilder &b = g.getBuilder();
  Value input = *xb, residual = *skip;
  if (g.isOutputUsed(3) || skip->getType() != xb->getType()) {
    input = g.binary<AddOp>(*xb, *skip);
    if (!input || input.getType() != xb->getType())
      return g.nodeError() << "skip " << skip->getType() << " does not broadcast to the input "
                           << t;
    residual = Value();
    g.setOutput(3, input);
  }
  Value r = g.createInferred<LayerNormOp>(input, residual, *s, beta,
                                          b.getI64IntegerAttr(t.getRank() - 1),
                                          b.getF64FloatAttr(floatAttrToDouble(*eps)));
  if (!r)
    return failure();
  g.copyDims(r, *x);
  g.setOutput(0, r);
  return success();
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

template <ReduceKind Kind>
LogicalResult convertReduce(GI &g) {
  auto x = g.requiredInput(0);
  auto keepdims = g.attrInt("keepdims", 1);
  if (failed(x) || failed(keepdims))
    return failure();
  int64_t rank = cast<RankedTensorType>(x->getType()).getRank();
  SmallVector<int64_t> axes;
  bool noop = false;
  if (failed(getReduceAxes(g, rank, axes, noop)))
    return failure();
  Value r = noop ? *x : g.reduce(Kind, *x, axes, *keepdims != 0);
  if (!r)
    return failure();
  g.setOutput(0, r);
  return success();
}

} // namespace

LogicalResult onnx_import::getReduceAxes(GraphImporter &g, int64_t rank,
                                         SmallVectorImpl<int64_t> &axes,
                                         bool &noop) {
  auto noopAttr = g.attrInt("noop_with_empty_axes", 0);
  if (failed(noopAttr))
    return failure();
  bool axesAsInput =
      g.node().op_type() == "ReduceSum" ? g.opset() >= 13 : g.opset() >= 18;
  SmallVector<int64_t> given;
  if (axesAsInput) {
    if (Value a = g.input(1)) {
      auto c = g.constantInts(a);
      if (!c)
        return g.nodeError() << "the axes input must be a constant";
      given = *c;
    }
  } else {
    auto a = g.attrInts("axes");
    if (failed(a))
      return failure();
    if (*a)
      given = **a;
  }
  noop = false;
  axes.clear();
  if (given.empty()) {
    if (*noopAttr && axesAsInput) {
      noop = true;
      return success();
    }
    for (int64_t i = 0; i < rank; ++i)
      axes.push_back(i);
    return success();
  }
  SmallVector<bool> reduced(rank, false);
  for (int64_t a : given) {
    auto n = normalizeAxis(a, rank);
    if (!n)
      return g.nodeError() << "axis " << a << " is out of range for rank "
                           << rank;
    reduced[*n] = true;
  }
  for (int64_t i = 0; i < rank; ++i)
    if (reduced[i])
      axes.push_back(i);
  return success();
}

void onnx_import::registerNormalizationConverters(
    llvm::StringMap<OpConverter> &t) {
  t["Softmax"] = convertSoftmax;
  t["LayerNormalization"] = convertLayerNorm;
  t["RMSNormalization"] = convertRmsNorm;
  t["SimplifiedLayerNormalization"] = convertRmsNorm; // ORT registers it in the ONNX domain
  t["com.microsoft::SimplifiedLayerNormalization"] = convertRmsNorm;
  t["com.microsoft::SkipSimplifiedLayerNormalization"] = convertSkipSimplifiedLayerNorm;
  t["com.microsoft::SkipLayerNormalization"] = convertSkipLayerNorm;
  t["ReduceMean"] = convertReduce<ReduceKind::mean>;
  t["ReduceSum"] = convertReduce<ReduceKind::sum>;
  t["ReduceMax"] = convertReduce<ReduceKind::max>;
  t["ReduceMin"] = convertReduce<ReduceKind::min>;
  t["ReduceProd"] = convertReduce<ReduceKind::prod>;
}
