//===- OpsMisc.cpp - Constant, Identity, Dropout, Trilu -> attn -----------===//
//
// Converters for ONNX ops that move or make values rather than compute:
// Constant (every value_* form), Identity, Dropout (inference mode: the
// input, and an all-true mask when asked) and Trilu (attn.trilu). Also
// lookupConverter, the table of every family's converters.
//
//===----------------------------------------------------------------------===//
#include "Frontend/ImporterImpl.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::onnx_import;

namespace {
using GI = GraphImporter;

LogicalResult convertIdentity(GI &g) {
  auto x = g.requiredInput(0);
  if (failed(x))
    return failure();
  g.setOutput(0, *x);
  return success();
}

LogicalResult convertDropout(GI &g) {
  auto x = g.requiredInput(0);
  if (failed(x))
    return failure();
  if (g.opset() >= 12) {
    if (Value mode = g.input(2)) {
      auto c = g.constantInts(mode);
      if (!c || c->size() != 1)
        return g.nodeError() << "training_mode must be a constant";
      if ((*c)[0] != 0)
        return g.nodeError() << "training mode is not supported";
    }
  }
  g.setOutput(0, *x);
  if (g.isOutputUsed(1)) {
    // In inference mode nothing is dropped: the mask is all true.
    auto t = cast<RankedTensorType>(x->getType());
    auto maskType = t.clone(g.getBuilder().getI1Type());
    TypedAttr one = g.getBuilder().getBoolAttr(true);
    Value mask;
    if (maskType.hasStaticShape()) {
      mask = g.constant(DenseElementsAttr::get(maskType, one));
    } else {
      Value shape = g.createInferred<ShapeOp>(*x, (uint64_t)0,
                                              (uint64_t)t.getRank());
      if (!shape)
        return failure();
      mask = g.createTyped<ConstantOfShapeOp>(maskType, shape, one);
      g.copyDims(mask, *x);
    }
    g.setOutput(1, mask);
  }
  return success();
}

LogicalResult convertConstant(GI &g) {
  const onnx::NodeProto &n = g.node();
  if (n.attribute_size() != 1)
    return g.nodeError() << "expects exactly one attribute, got "
                         << n.attribute_size();
  const onnx::AttributeProto &a = n.attribute(0);
  OpBuilder &b = g.getBuilder();
  std::string outName = n.output_size() ? n.output(0) : std::string("const");
  TypedAttr attr;
  auto checkType = [&](onnx::AttributeProto::AttributeType type) {
    if (a.type() == type)
      return success();
    g.nodeError() << "attribute '" << a.name() << "' has the wrong type";
    return failure();
  };
  if (a.name() == "value") {
    if (failed(checkType(onnx::AttributeProto::TENSOR)))
      return failure();
    auto e = g.importTensor(a.t(),
                            "ONNX node '" + g.nodeName() + "' (Constant): value",
                            outName, g.loc());
    if (failed(e))
      return failure();
    attr = cast<TypedAttr>(*e);
  } else if (a.name() == "value_float") {
    if (failed(checkType(onnx::AttributeProto::FLOAT)))
      return failure();
    attr = DenseElementsAttr::get(RankedTensorType::get({}, b.getF32Type()),
                                  a.f());
  } else if (a.name() == "value_floats") {
    if (failed(checkType(onnx::AttributeProto::FLOATS)))
      return failure();
    SmallVector<float> v(a.floats().begin(), a.floats().end());
    attr = DenseElementsAttr::get(
        RankedTensorType::get({(int64_t)v.size()}, b.getF32Type()),
        ArrayRef<float>(v));
  } else if (a.name() == "value_int") {
    if (failed(checkType(onnx::AttributeProto::INT)))
      return failure();
    attr = DenseElementsAttr::get(RankedTensorType::get({}, b.getI64Type()),
                                  (int64_t)a.i());
  } else if (a.name() == "value_ints") {
    if (failed(checkType(onnx::AttributeProto::INTS)))
      return failure();
    SmallVector<int64_t> v(a.ints().begin(), a.ints().end());
    attr = DenseElementsAttr::get(
        RankedTensorType::get({(int64_t)v.size()}, b.getI64Type()),
        ArrayRef<int64_t>(v));
  } else {
    return g.nodeError() << "attribute '" << a.name()
                         << "' is not supported (sparse and string constants "
                            "are not supported)";
  }
  g.setOutput(0, g.constant(attr));
  return success();
}

LogicalResult convertTrilu(GI &g) {
  auto x = g.requiredInput(0);
  auto upper = g.attrInt("upper", 1);
  if (failed(x) || failed(upper))
    return failure();
  auto t = cast<RankedTensorType>(x->getType());
  if (t.getRank() < 2)
    return g.nodeError() << "input must have rank >= 2, got " << t;
  int64_t k = 0;
  if (Value kv = g.input(1)) {
    auto c = g.constantInts(kv);
    if (!c || c->size() != 1)
      return g.nodeError() << "k must be a constant scalar";
    k = (*c)[0];
  }
  OpBuilder &b = g.getBuilder();
  Value r = g.createTyped<TriluOp>(t, *x, b.getI64IntegerAttr(k),
                                   b.getBoolAttr(*upper != 0));
  g.copyDims(r, *x);
  g.setOutput(0, r);
  return success();
}

} // namespace

void onnx_import::registerMiscConverters(llvm::StringMap<OpConverter> &t) {
  t["Identity"] = convertIdentity;
  t["Dropout"] = convertDropout;
  t["Constant"] = convertConstant;
  t["Trilu"] = convertTrilu;
}

OpConverter onnx_import::lookupConverter(llvm::StringRef domain,
                                         llvm::StringRef opType) {
  static const llvm::StringMap<OpConverter> table = [] {
    llvm::StringMap<OpConverter> t;
    registerElementwiseConverters(t);
    registerMatmulConverters(t);
    registerNormalizationConverters(t);
    registerMiscConverters(t);
    registerShapeConverters(t);
    registerDecomposedConverters(t);
    registerAttentionConverters(t);
    registerRotaryConverters(t);
    registerControlFlowConverters(t);
    return t;
  }();
  std::string key = domain.empty() || domain == "ai.onnx"
                        ? opType.str()
                        : (domain + "::" + opType).str();
  auto it = table.find(key);
  return it == table.end() ? nullptr : it->second;
}
