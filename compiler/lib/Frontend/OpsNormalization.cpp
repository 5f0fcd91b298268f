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
  t["ReduceMean"] = convertReduce<ReduceKind::mean>;
  t["ReduceSum"] = convertReduce<ReduceKind::sum>;
  t["ReduceMax"] = convertReduce<ReduceKind::max>;
  t["ReduceMin"] = convertReduce<ReduceKind::min>;
  t["ReduceProd"] = convertReduce<ReduceKind::prod>;
}
