//===- AttnOps.cpp - attn dialect op verifiers and type inference ---------===//
#include "attn/Dialect/AttnDialect.h"
#include "attn/Dialect/ShapeInference.h"
#include "attn/Dialect/ConstantData.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cstring>

using namespace mlir;
using namespace mlir::attn;

static RankedTensorType rankedType(Type t) {
  return llvm::cast<RankedTensorType>(t);
}

/// Two tensor type lists are compatible when ranks and element types match
/// and static dims agree (a dynamic dim is compatible with anything).
static bool compatibleTensorTypes(TypeRange l, TypeRange r) {
  if (l.size() != r.size())
    return false;
  for (auto [a, b] : llvm::zip(l, r)) {
    auto ta = llvm::dyn_cast<RankedTensorType>(a);
    auto tb = llvm::dyn_cast<RankedTensorType>(b);
    if (!ta || !tb || ta.getElementType() != tb.getElementType() ||
        failed(verifyCompatibleShape(ta.getShape(), tb.getShape())))
      return false;
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Binary / compare / select
//===----------------------------------------------------------------------===//

static LogicalResult inferBroadcast(std::optional<Location> loc, Type lhs,
                                    Type rhs, Type elementType,
                                    SmallVectorImpl<Type> &results) {
  auto l = rankedType(lhs), r = rankedType(rhs);
  auto shape = broadcastShapes(l.getShape(), r.getShape());
  if (!shape)
    return emitOptionalError(loc, "operand shapes ", shapeStr(l.getShape()),
                             " and ", shapeStr(r.getShape()),
                             " do not broadcast");
  results.push_back(RankedTensorType::get(*shape, elementType));
  return success();
}

LogicalResult attn::verifyBroadcastBinary(Operation *op) {
  Type l = getElementTypeOrSelf(op->getOperand(0).getType());
  Type r = getElementTypeOrSelf(op->getOperand(1).getType());
  if (l != r)
    return op->emitOpError("operand element types differ: ") << l << " vs " << r;
  if (getElementTypeOrSelf(op->getResult(0).getType()) != l)
    return op->emitOpError("result element type must be ") << l;
  if (isa<AndOp, OrOp, XorOp>(op) && !l.isInteger(1))
    return op->emitOpError("expects i1 operands, got ") << l;
  return success();
}

#define ATTN_BINARY_INFER(OP)                                                  \
  LogicalResult OP::inferReturnTypes(                                          \
      MLIRContext *, std::optional<Location> loc, Adaptor adaptor,             \
      SmallVectorImpl<Type> &results) {                                        \
    return inferBroadcast(loc, adaptor.getLhs().getType(),                     \
                          adaptor.getRhs().getType(),                          \
                          getElementTypeOrSelf(adaptor.getLhs().getType()),    \
                          results);                                            \
  }                                                                            \
  bool OP::isCompatibleReturnTypes(TypeRange l, TypeRange r) {                 \
    return compatibleTensorTypes(l, r);                                        \
  }
ATTN_BINARY_INFER(AddOp)
ATTN_BINARY_INFER(SubOp)
ATTN_BINARY_INFER(MulOp)
ATTN_BINARY_INFER(DivOp)
ATTN_BINARY_INFER(PowOp)
ATTN_BINARY_INFER(MaxOp)
ATTN_BINARY_INFER(MinOp)
ATTN_BINARY_INFER(AndOp)
ATTN_BINARY_INFER(OrOp)
ATTN_BINARY_INFER(XorOp)
#undef ATTN_BINARY_INFER

LogicalResult CmpOp::inferReturnTypes(MLIRContext *ctx,
                                      std::optional<Location> loc,
                                      Adaptor adaptor,
                                      SmallVectorImpl<Type> &results) {
  return inferBroadcast(loc, adaptor.getLhs().getType(),
                        adaptor.getRhs().getType(), IntegerType::get(ctx, 1),
                        results);
}
bool CmpOp::isCompatibleReturnTypes(TypeRange l, TypeRange r) {
  return compatibleTensorTypes(l, r);
}
LogicalResult CmpOp::verify() {
  if (getElementTypeOrSelf(getLhs().getType()) !=
      getElementTypeOrSelf(getRhs().getType()))
    return emitOpError("operand element types differ");
  return success();
}

LogicalResult SelectOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  SmallVector<Type> tmp;
  if (failed(inferBroadcast(loc, adaptor.getTrueValue().getType(),
                            adaptor.getFalseValue().getType(),
                            getElementTypeOrSelf(adaptor.getTrueValue().getType()),
                            tmp)))
    return failure();
  return inferBroadcast(loc, adaptor.getCondition().getType(), tmp[0],
                        getElementTypeOrSelf(tmp[0]), results);
}
bool SelectOp::isCompatibleReturnTypes(TypeRange l, TypeRange r) {
  return compatibleTensorTypes(l, r);
}
LogicalResult SelectOp::verify() {
  if (getElementTypeOrSelf(getTrueValue().getType()) !=
      getElementTypeOrSelf(getFalseValue().getType()))
    return emitOpError("true and false values have different element types");
  return success();
}

LogicalResult CastOp::verify() {
  if (failed(verifyCompatibleShape(getInput().getType(), getResult().getType())))
    return emitOpError("result shape ")
           << shapeStr(getResult().getType().getShape())
           << " differs from input shape "
           << shapeStr(getInput().getType().getShape());
  return success();
}

//===----------------------------------------------------------------------===//
// Matmul / transpose / reshape / expand / concat / slice / gather / shape
//===----------------------------------------------------------------------===//

LogicalResult MatmulOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  auto l = rankedType(adaptor.getLhs().getType());
  auto r = rankedType(adaptor.getRhs().getType());
  std::string why;
  auto shape = matmulShape(l.getShape(), r.getShape(), &why);
  if (!shape)
    return emitOptionalError(loc, "cannot multiply ", shapeStr(l.getShape()),
                             " by ", shapeStr(r.getShape()), ": ", why);
  results.push_back(RankedTensorType::get(*shape, l.getElementType()));
  return success();
}
bool MatmulOp::isCompatibleReturnTypes(TypeRange l, TypeRange r) {
  return compatibleTensorTypes(l, r);
}
LogicalResult MatmulOp::verify() {
  if (getLhs().getType().getElementType() != getRhs().getType().getElementType())
    return emitOpError("operand element types differ");
  return success();
}

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  auto t = rankedType(adaptor.getInput().getType());
  ArrayRef<int64_t> perm = adaptor.getPerm();
  if ((int64_t)perm.size() != t.getRank())
    return emitOptionalError(loc, "perm has ", perm.size(),
                             " entries but the input has rank ", t.getRank());
  SmallVector<bool> seen(perm.size(), false);
  SmallVector<int64_t> shape;
  for (int64_t p : perm) {
    if (p < 0 || p >= t.getRank() || seen[p])
      return emitOptionalError(loc, "perm ", shapeStr(perm),
                               " is not a permutation of [0, ", t.getRank(),
                               ")");
    seen[p] = true;
    shape.push_back(t.getDimSize(p));
  }
  results.push_back(RankedTensorType::get(shape, t.getElementType()));
  return success();
}
bool TransposeOp::isCompatibleReturnTypes(TypeRange l, TypeRange r) {
  return compatibleTensorTypes(l, r);
}
OpFoldResult TransposeOp::fold(FoldAdaptor) {
  if (llvm::equal(getPerm(), llvm::seq<int64_t>(0, getPerm().size())) &&
      getInput().getType() == getType())
    return getInput();
  return {};
}

namespace {
/// transpose(constant) -> constant: weights exported transposed (Gemm with
/// transB, nn.Linear's W^T) become plain [K, N] weights at compile time
/// instead of a transpose on every run. The data is permuted once into a new
/// dense_resource blob; a constant with other users keeps its own copy, so
/// only singly used (or small) constants are folded.
struct FoldConstantTranspose : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  static constexpr int64_t kMaxSharedBytes = 1 << 20;
  LogicalResult matchAndRewrite(TransposeOp op, PatternRewriter &rw) const override {
    auto inType = llvm::cast<RankedTensorType>(op.getInput().getType());
    auto outType = llvm::dyn_cast<RankedTensorType>(op.getType());
    std::optional<ConstantBytes> in = getConstantBytes(op.getInput());
    if (!in || !outType || !outType.hasStaticShape())
      return failure();
    int64_t n = inType.getNumElements(), eb = in->elementBytes;
    if (!op.getInput().hasOneUse() && n * eb > kMaxSharedBytes)
      return failure();
    ArrayRef<int64_t> perm = op.getPerm();
    int64_t rank = inType.getRank();
    std::vector<char> out(n * eb);
    if (in->splat) {
      for (int64_t i = 0; i < n; ++i)
        std::memcpy(out.data() + i * eb, in->data.data(), eb);
    } else {
      // Input strides, then walk the output in row-major order.
      SmallVector<int64_t> inStride(rank, 1);
      for (int64_t d = rank - 2; d >= 0; --d)
        inStride[d] = inStride[d + 1] * inType.getDimSize(d + 1);
      SmallVector<int64_t> idx(rank, 0);
      for (int64_t o = 0; o < n; ++o) {
        int64_t src = 0;
        for (int64_t d = 0; d < rank; ++d)
          src += idx[d] * inStride[perm[d]];
        std::memcpy(out.data() + o * eb, in->data.data() + src * eb, eb);
        for (int64_t d = rank - 1; d >= 0; --d) {
          if (++idx[d] < outType.getDimSize(d))
            break;
          idx[d] = 0;
        }
      }
    }
    Value c = createConstantFromBytes(rw, op.getLoc(), outType, out,
                                      constantBlobName(op.getInput(), ".T"));
    rw.replaceOp(op, c);
    return success();
  }
};
} // namespace

void TransposeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                              MLIRContext *ctx) {
  results.add<FoldConstantTranspose>(ctx);
}

LogicalResult ReshapeOp::verify() {
  auto shapeTy = getShape().getType();
  if (shapeTy.getRank() != 1)
    return emitOpError("shape must be a 1-D tensor");
  if (!shapeTy.isDynamicDim(0) && shapeTy.getDimSize(0) != getType().getRank())
    return emitOpError("shape has ")
           << shapeTy.getDimSize(0) << " entries but the result has rank "
           << getType().getRank();
  if (getInput().getType().getElementType() != getType().getElementType())
    return emitOpError("element type changes");
  auto in = getInput().getType(), out = getType();
  if (in.hasStaticShape() && out.hasStaticShape() &&
      in.getNumElements() != out.getNumElements())
    return emitOpError("cannot reshape ")
           << shapeStr(in.getShape()) << " (" << in.getNumElements()
           << " elements) to " << shapeStr(out.getShape());
  return success();
}

LogicalResult ExpandOp::verify() {
  auto shapeTy = getShape().getType();
  if (shapeTy.getRank() != 1)
    return emitOpError("shape must be a 1-D tensor");
  if (getInput().getType().getRank() > getType().getRank())
    return emitOpError("result rank is smaller than the input rank");
  if (!broadcastsTo(getInput().getType().getShape(), getType().getShape()))
    return emitOpError("input shape ")
           << shapeStr(getInput().getType().getShape())
           << " does not broadcast to " << shapeStr(getType().getShape());
  return success();
}

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  if (adaptor.getInputs().empty())
    return emitOptionalError(loc, "needs at least one input");
  auto first = rankedType(adaptor.getInputs()[0].getType());
  auto axis = normalizeAxis(adaptor.getAxis(), first.getRank());
  if (!axis)
    return emitOptionalError(loc, "axis ",
                             static_cast<int64_t>(adaptor.getAxis()),
                             " out of range for rank ", first.getRank());
  SmallVector<int64_t> shape(first.getShape());
  shape[*axis] = 0;
  for (Value v : adaptor.getInputs()) {
    auto t = rankedType(v.getType());
    if (t.getRank() != first.getRank() ||
        t.getElementType() != first.getElementType())
      return emitOptionalError(loc, "inputs differ in rank or element type");
    for (int64_t i = 0; i < t.getRank(); ++i) {
      int64_t d = t.getDimSize(i);
      if (i == *axis) {
        shape[i] = (ShapedType::isDynamic(shape[i]) || ShapedType::isDynamic(d))
                       ? ShapedType::kDynamic
                       : shape[i] + d;
      } else if (ShapedType::isDynamic(shape[i])) {
        shape[i] = d;
      } else if (!ShapedType::isDynamic(d) && d != shape[i]) {
        return emitOptionalError(loc, "inputs differ in dim ", i, " (",
                                 shape[i], " vs ", d, ")");
      }
    }
  }
  results.push_back(RankedTensorType::get(shape, first.getElementType()));
  return success();
}
bool ConcatOp::isCompatibleReturnTypes(TypeRange l, TypeRange r) {
  return compatibleTensorTypes(l, r);
}

LogicalResult SliceOp::verify() {
  for (Value v : {getStarts(), getEnds(), getAxes(), getSteps()})
    if (llvm::cast<RankedTensorType>(v.getType()).getRank() != 1)
      return emitOpError("starts, ends, axes and steps must be 1-D tensors");
  if (getInput().getType().getRank() != getType().getRank() ||
      getInput().getType().getElementType() != getType().getElementType())
    return emitOpError("result must have the input's rank and element type");
  return success();
}

LogicalResult GatherOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  auto data = rankedType(adaptor.getData().getType());
  auto idx = rankedType(adaptor.getIndices().getType());
  auto axis = normalizeAxis(adaptor.getAxis(), data.getRank());
  if (!axis)
    return emitOptionalError(loc, "axis ",
                             static_cast<int64_t>(adaptor.getAxis()),
                             " out of range for rank ", data.getRank());
  SmallVector<int64_t> shape(data.getShape().take_front(*axis));
  llvm::append_range(shape, idx.getShape());
  llvm::append_range(shape, data.getShape().drop_front(*axis + 1));
  results.push_back(RankedTensorType::get(shape, data.getElementType()));
  return success();
}
bool GatherOp::isCompatibleReturnTypes(TypeRange l, TypeRange r) {
  return compatibleTensorTypes(l, r);
}
/// Constant indices out of [-n, n) for a static axis of size n: an error
/// (never clamped into a silent wrong answer).
static LogicalResult verifyConstantIndices(Operation *op, Value indices,
                                           RankedTensorType data, int64_t axis) {
  if (data.isDynamicDim(axis))
    return success();
  DenseIntElementsAttr idx;
  if (!matchPattern(indices, m_Constant(&idx)))
    return success();
  int64_t n = data.getDimSize(axis);
  for (const APInt &v : idx.getValues<APInt>()) {
    int64_t i = v.getSExtValue();
    if (i < -n || i >= n)
      return op->emitOpError("index ") << i << " is out of range for axis " << axis
                                       << " of size " << n;
  }
  return success();
}

LogicalResult GatherOp::verify() {
  auto data = getData().getType();
  auto axis = normalizeAxis(getAxis(), data.getRank());
  if (!axis) // reported by the type inference
    return success();
  return verifyConstantIndices(*this, getIndices(), data, *axis);
}

LogicalResult GatherElementsOp::verify() {
  auto data = getData().getType(), idx = getIndices().getType(), res = getType();
  auto axis = normalizeAxis(getAxis(), data.getRank());
  if (!axis)
    return emitOpError("axis ") << getAxis() << " out of range for rank " << data.getRank();
  if (idx.getRank() != data.getRank())
    return emitOpError("indices must have the rank of data (") << data.getRank() << "), got "
                                                               << idx.getRank();
  if (res.getElementType() != data.getElementType() ||
      failed(verifyCompatibleShape(res.getShape(), idx.getShape())))
    return emitOpError("result must have the shape of indices ")
           << shapeStr(idx.getShape()) << " and the element type of data";
  for (int64_t d = 0; d < data.getRank(); ++d)
    if (d != *axis && !idx.isDynamicDim(d) && !data.isDynamicDim(d) &&
        idx.getDimSize(d) > data.getDimSize(d))
      return emitOpError("indices dim ") << d << " (" << idx.getDimSize(d)
                                         << ") is larger than data's (" << data.getDimSize(d) << ")";
  return verifyConstantIndices(*this, getIndices(), data, *axis);
}

LogicalResult ShapeOp::inferReturnTypes(MLIRContext *ctx,
                                        std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &results) {
  int64_t rank = rankedType(adaptor.getInput().getType()).getRank();
  // I64Attrs read as uint64_t: -1 would be 2^64 - 1. The range is normalized
  // (the importer wraps and clamps ONNX's values): anything else is refused.
  int64_t start = static_cast<int64_t>(adaptor.getStart());
  int64_t end = static_cast<int64_t>(adaptor.getEnd());
  if (start < 0 || start > end || end > rank)
    return emitOptionalError(loc, "start ", start, " and end ", end,
                             " must satisfy 0 <= start <= end <= rank (", rank, ")");
  results.push_back(RankedTensorType::get({end - start}, IntegerType::get(ctx, 64)));
  return success();
}
bool ShapeOp::isCompatibleReturnTypes(TypeRange l, TypeRange r) {
  return compatibleTensorTypes(l, r);
}

LogicalResult ConstantOfShapeOp::verify() {
  if (getShape().getType().getRank() != 1)
    return emitOpError("shape must be a 1-D tensor");
  if (getValue().getType() != getType().getElementType())
    return emitOpError("fill value type ")
           << getValue().getType() << " differs from the result element type "
           << getType().getElementType();
  return success();
}

LogicalResult RangeOp::verify() {
  for (Value v : {getStart(), getLimit(), getDelta()}) {
    auto t = llvm::cast<RankedTensorType>(v.getType());
    if (t.getRank() != 0)
      return emitOpError("start, limit and delta must be 0-d tensors");
    if (t.getElementType() != getType().getElementType())
      return emitOpError("operand and result element types differ");
  }
  if (getType().getRank() != 1)
    return emitOpError("result must be 1-D");
  return success();
}

LogicalResult TriluOp::verify() {
  if (getInput().getType().getRank() < 2)
    return emitOpError("input must have rank >= 2");
  if (getInput().getType() != getType())
    return emitOpError("result type must equal the input type");
  return success();
}

//===----------------------------------------------------------------------===//
// Reduce / softmax / layer_norm
//===----------------------------------------------------------------------===//

LogicalResult ReduceOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &results) {
  auto t = rankedType(adaptor.getInput().getType());
  SmallVector<bool> reduced(t.getRank(), false);
  for (int64_t a : adaptor.getAxes()) {
    auto axis = normalizeAxis(a, t.getRank());
    if (!axis)
      return emitOptionalError(loc, "axis ", a, " out of range for rank ",
                               t.getRank());
    reduced[*axis] = true;
  }
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < t.getRank(); ++i) {
    if (!reduced[i])
      shape.push_back(t.getDimSize(i));
    else if (adaptor.getKeepdims())
      shape.push_back(1);
  }
  results.push_back(RankedTensorType::get(shape, t.getElementType()));
  return success();
}
bool ReduceOp::isCompatibleReturnTypes(TypeRange l, TypeRange r) {
  return compatibleTensorTypes(l, r);
}

LogicalResult SoftmaxOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &results) {
  auto t = rankedType(adaptor.getInput().getType());
  if (!normalizeAxis(adaptor.getAxis(), t.getRank()))
    return emitOptionalError(loc, "axis ",
                             static_cast<int64_t>(adaptor.getAxis()),
                             " out of range for rank ", t.getRank());
  results.push_back(t);
  return success();
}
bool SoftmaxOp::isCompatibleReturnTypes(TypeRange l, TypeRange r) {
  return compatibleTensorTypes(l, r);
}

LogicalResult LayerNormOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  auto t = rankedType(adaptor.getInput().getType());
  if (!normalizeAxis(adaptor.getAxis(), t.getRank()))
    return emitOptionalError(loc, "axis ",
                             static_cast<int64_t>(adaptor.getAxis()),
                             " out of range for rank ", t.getRank());
  if (adaptor.getResidual() && adaptor.getResidual().getType() != t)
    return emitOptionalError(loc, "residual type must equal the input type");
  results.push_back(t);
  return success();
}
bool LayerNormOp::isCompatibleReturnTypes(TypeRange l, TypeRange r) {
  return compatibleTensorTypes(l, r);
}
LogicalResult LayerNormOp::verify() {
  // verify() runs before the result-type inference check: an out-of-range
  // axis is reported by inferReturnTypes.
  auto axis = normalizeAxis(getAxis(), getInput().getType().getRank());
  if (!axis)
    return success();
  auto normShape = getInput().getType().getShape().drop_front(*axis);
  for (Value v : {getScale(), getBias()}) {
    if (!v)
      continue;
    auto t = llvm::cast<RankedTensorType>(v.getType());
    if (!broadcastsTo(t.getShape(), normShape))
      return emitOpError("scale/bias shape ")
             << shapeStr(t.getShape())
             << " does not broadcast to the normalized dims "
             << shapeStr(normShape);
  }
  return success();
}


//===----------------------------------------------------------------------===//
// Linear
//===----------------------------------------------------------------------===//

void LinearOp::build(OpBuilder &b, OperationState &state, Value input,
                     Value weight, Value bias, Activation activation,
                     ArrayRef<int64_t> splits, bool gated) {
  auto in = rankedType(input.getType());
  auto w = rankedType(weight.getType());
  SmallVector<int64_t> shape(in.getShape());
  SmallVector<Type> results;
  if (splits.empty()) {
    int64_t n = w.getDimSize(1);
    shape.back() = gated && !ShapedType::isDynamic(n) ? n / 2 : n;
    results.push_back(RankedTensorType::get(shape, in.getElementType()));
  }
  for (int64_t n : splits) {
    shape.back() = n;
    results.push_back(RankedTensorType::get(shape, in.getElementType()));
  }
  build(b, state, results, input, weight, bias,
        ActivationAttr::get(b.getContext(), activation),
        gated ? b.getUnitAttr() : UnitAttr());
}

LogicalResult LinearOp::verify() {
  auto in = getInput().getType();
  auto w = getWeight().getType();
  Type et = in.getElementType();
  if (w.getRank() != 2)
    return emitOpError("weight must be [K, N], got ") << shapeStr(w.getShape());
  if (in.getRank() < 2)
    return emitOpError("input must be [batch..., K] with rank >= 2, got rank ") << in.getRank();
  if (w.getElementType() != et)
    return emitOpError("weight element type ") << w.getElementType()
           << " differs from the input's " << et;
  int64_t k = in.getShape().back(), n = w.getDimSize(1);
  if (getGated()) {
    if (ShapedType::isDynamic(n) || n % 2 != 0)
      return emitOpError("a gated linear needs a static, even N (gate and up "
                         "halves), got N = ")
             << (ShapedType::isDynamic(n) ? std::string("?") : std::to_string(n));
  }
  if (failed(verifyCompatibleShape(ArrayRef<int64_t>{k}, ArrayRef<int64_t>{w.getDimSize(0)})))
    return emitOpError("input inner dim ") << k << " differs from the weight's K = "
                                           << w.getDimSize(0);
  if (Value bias = getBias()) {
    auto bt = llvm::cast<RankedTensorType>(bias.getType());
    if (bt.getElementType() != et)
      return emitOpError("bias element type ") << bt.getElementType()
             << " differs from the input's " << et;
    if (bt.getRank() != 1 ||
        failed(verifyCompatibleShape(bt.getShape(), ArrayRef<int64_t>{n})))
      return emitOpError("bias must be [N] = ") << shapeStr({n}) << ", got "
                                                << shapeStr(bt.getShape());
  }
  if (getResults().empty())
    return emitOpError("needs at least one result");
  int64_t total = 0;
  bool allStatic = true;
  for (Type t : getResultTypes()) {
    auto rt = llvm::cast<RankedTensorType>(t);
    if (rt.getElementType() != et)
      return emitOpError("result element type ") << rt.getElementType()
             << " differs from the input's " << et;
    if (rt.getRank() != in.getRank() ||
        failed(verifyCompatibleShape(rt.getShape().drop_back(), in.getShape().drop_back())))
      return emitOpError("result shape ") << shapeStr(rt.getShape())
             << " does not match the input's batch dims " << shapeStr(in.getShape());
    if (rt.isDynamicDim(rt.getRank() - 1))
      allStatic = false;
    else
      total += rt.getShape().back();
  }
  if (getNumResults() > 1 && !allStatic)
    return emitOpError("results that split N must have static last dims");
  int64_t outN = getGated() ? n / 2 : n;
  if (allStatic && !ShapedType::isDynamic(n) && total != outN)
    return emitOpError("result widths add up to ")
           << total << " but " << (getGated() ? "N/2 = " : "N = ") << outN;
  return success();
}

//===----------------------------------------------------------------------===//
// RMS normalization and rotary embedding
//===----------------------------------------------------------------------===//

void RmsNormOp::build(OpBuilder &b, OperationState &state, Value input,
                      Value residual, Value scale, int64_t axis, double epsilon,
                      bool withSum) {
  SmallVector<Type> results(withSum ? 2 : 1, input.getType());
  build(b, state, results, input, residual, scale, b.getI64IntegerAttr(axis),
        b.getF64FloatAttr(epsilon));
}

LogicalResult RmsNormOp::verify() {
  auto t = getInput().getType();
  auto axis = normalizeAxis(getAxis(), t.getRank());
  if (!axis)
    return emitOpError("axis ") << getAxis() << " out of range for rank "
                                << t.getRank();
  if (getResidual() && getResidual().getType() != t)
    return emitOpError("residual type must equal the input type");
  if (getResults().empty() || getResults().size() > 2)
    return emitOpError("has one result (normalized) or two (normalized, sum)");
  if (getResults().size() == 2 && !getResidual())
    return emitOpError("the sum result needs a residual operand");
  for (Type r : getResultTypes())
    if (failed(verifyCompatibleShape(r, t)) ||
        llvm::cast<RankedTensorType>(r).getElementType() != t.getElementType())
      return emitOpError("results must have the input's type");
  auto normShape = t.getShape().drop_front(*axis);
  auto st = getScale().getType();
  if (st.getElementType() != t.getElementType())
    return emitOpError("scale element type ") << st.getElementType()
           << " differs from the input's " << t.getElementType();
  if (!broadcastsTo(st.getShape(), normShape))
    return emitOpError("scale shape ") << shapeStr(st.getShape())
           << " does not broadcast to the normalized dims " << shapeStr(normShape);
  if (!(getEpsilon().convertToDouble() >= 0))
    return emitOpError("epsilon must be >= 0");
  return success();
}

LogicalResult RotaryOp::verify() {
  auto t = getInput().getType();
  if (t.getRank() < 1)
    return emitOpError("input must have rank >= 1");
  if (getResult().getType() != t && failed(verifyCompatibleShape(getResult().getType(), t)))
    return emitOpError("result must have the input's type");
  auto c = getCos().getType(), s = getSin().getType();
  if (c.getShape() != s.getShape())
    return emitOpError("cos ") << shapeStr(c.getShape()) << " and sin "
                               << shapeStr(s.getShape()) << " differ in shape";
  if (c.getElementType() != t.getElementType() || s.getElementType() != t.getElementType())
    return emitOpError("cos/sin must have the input's element type");
  if (c.getRank() < 1 || c.getRank() > t.getRank())
    return emitOpError("cos/sin rank ") << c.getRank()
           << " must be in [1, input rank " << t.getRank() << "]";
  int64_t r = c.getShape().back(), d = t.getShape().back();
  if (ShapedType::isDynamic(r) || r <= 0 || r % 2 != 0)
    return emitOpError("the rotary width (cos/sin last dim) must be static, even "
                       "and positive");
  if (!ShapedType::isDynamic(d) && r > d)
    return emitOpError("rotary width ") << r << " exceeds the input's last dim " << d;
  SmallVector<int64_t> target(t.getShape());
  target.back() = r;
  if (!broadcastsTo(c.getShape(), target))
    return emitOpError("cos/sin shape ") << shapeStr(c.getShape())
           << " does not broadcast to " << shapeStr(target);
  return success();
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

/// `t` with its dims permuted: dim i of the result is dim perm[i] of `t`.
static RankedTensorType permuted(RankedTensorType t, std::optional<ArrayRef<int64_t>> perm) {
  if (!perm || (int64_t)perm->size() != t.getRank())
    return t;
  SmallVector<int64_t> shape;
  for (int64_t p : *perm)
    shape.push_back(p >= 0 && p < t.getRank() ? t.getDimSize(p) : ShapedType::kDynamic);
  return RankedTensorType::get(shape, t.getElementType());
}

/// `t` (permuted by `perm`) back in logical order: the inverse permutation.
static RankedTensorType unpermuted(RankedTensorType t, std::optional<ArrayRef<int64_t>> perm) {
  if (!perm || (int64_t)perm->size() != t.getRank())
    return t;
  SmallVector<int64_t> shape(t.getRank(), ShapedType::kDynamic);
  for (auto [i, p] : llvm::enumerate(*perm))
    if (p >= 0 && p < t.getRank())
      shape[p] = t.getDimSize(i);
  return RankedTensorType::get(shape, t.getElementType());
}

/// Checks that `perm` is a permutation of [0, rank) keeping the last dim.
static LogicalResult checkLayoutPerm(std::optional<Location> loc, StringRef name,
                                     std::optional<ArrayRef<int64_t>> perm, int64_t rank) {
  if (!perm)
    return success();
  SmallVector<bool> seen(rank, false);
  bool ok = (int64_t)perm->size() == rank;
  for (int64_t p : *perm) {
    ok = ok && p >= 0 && p < rank && !seen[p];
    if (ok)
      seen[p] = true;
  }
  if (!ok)
    return emitOptionalError(loc, name, " ", shapeStr(*perm), " is not a permutation of [0, ",
                             rank, ")");
  if (perm->back() != rank - 1)
    return emitOptionalError(loc, name, " ", shapeStr(*perm),
                             " must keep the head dim last");
  return success();
}

LogicalResult AttentionOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &results) {
  auto q0 = rankedType(adaptor.getQuery().getType());
  auto k0 = rankedType(adaptor.getKey().getType());
  auto v0 = rankedType(adaptor.getValue().getType());
  if (q0.getRank() < 2 || q0.getRank() != k0.getRank() ||
      q0.getRank() != v0.getRank())
    return emitOptionalError(
        loc, "query, key and value must have the same rank >= 2 (got ",
        q0.getRank(), ", ", k0.getRank(), ", ", v0.getRank(), ")");
  int64_t r = q0.getRank();
  if (failed(checkLayoutPerm(loc, "query_perm", adaptor.getQueryPerm(), r)) ||
      failed(checkLayoutPerm(loc, "key_perm", adaptor.getKeyPerm(), r)) ||
      failed(checkLayoutPerm(loc, "value_perm", adaptor.getValuePerm(), r)) ||
      failed(checkLayoutPerm(loc, "result_perm", adaptor.getResultPerm(), r)))
    return failure();
  auto q = permuted(q0, adaptor.getQueryPerm());
  auto k = permuted(k0, adaptor.getKeyPerm());
  auto v = permuted(v0, adaptor.getValuePerm());
  auto batchQ = q.getShape().drop_back(2), batchK = k.getShape().drop_back(2),
       batchV = v.getShape().drop_back(2);
  // Grouped-query attention: the heads (last batch dim) of key/value may
  // divide the query's; both static then.
  auto headsOk = [&](ArrayRef<int64_t> kv) {
    if (batchQ.empty())
      return true;
    int64_t hq = batchQ.back(), hk = kv.back();
    if (succeeded(verifyCompatibleShape(ArrayRef<int64_t>{hq}, ArrayRef<int64_t>{hk})))
      return true;
    return !ShapedType::isDynamic(hq) && !ShapedType::isDynamic(hk) && hk > 0 &&
           hq % hk == 0;
  };
  if (failed(verifyCompatibleShape(batchQ.drop_back(batchQ.empty() ? 0 : 1),
                                   batchK.drop_back(batchK.empty() ? 0 : 1))) ||
      failed(verifyCompatibleShape(batchQ.drop_back(batchQ.empty() ? 0 : 1),
                                   batchV.drop_back(batchV.empty() ? 0 : 1))) ||
      !headsOk(batchK) || !headsOk(batchV) ||
      (!batchK.empty() &&
       failed(verifyCompatibleShape(ArrayRef<int64_t>{batchK.back()},
                                    ArrayRef<int64_t>{batchV.back()}))))
    return emitOptionalError(loc, "batch dims differ: query ",
                             shapeStr(q.getShape()), ", key ",
                             shapeStr(k.getShape()), ", value ",
                             shapeStr(v.getShape()),
                             " (key/value heads may only divide the query's)");
  if (failed(verifyCompatibleShape(ArrayRef<int64_t>{q.getDimSize(r - 1)},
                                   ArrayRef<int64_t>{k.getDimSize(r - 1)})))
    return emitOptionalError(loc, "query head dim ", q.getDimSize(r - 1),
                             " differs from key head dim ", k.getDimSize(r - 1));
  if (failed(verifyCompatibleShape(ArrayRef<int64_t>{k.getDimSize(r - 2)},
                                   ArrayRef<int64_t>{v.getDimSize(r - 2)})))
    return emitOptionalError(loc, "key length ", k.getDimSize(r - 2),
                             " differs from value length ", v.getDimSize(r - 2));
  SmallVector<int64_t> shape(q.getShape());
  for (int64_t i = 0; i < r - 3; ++i)
    if (ShapedType::isDynamic(shape[i]))
      shape[i] = ShapedType::isDynamic(k.getDimSize(i)) ? v.getDimSize(i)
                                                         : k.getDimSize(i);
  // The heads dim: the key's only when equal (not a group divisor).
  // A dynamic query head count equals the key's (groups need static heads).
  if (r >= 3 && ShapedType::isDynamic(shape[r - 3]))
    shape[r - 3] = ShapedType::isDynamic(k.getDimSize(r - 3)) ? v.getDimSize(r - 3)
                                                               : k.getDimSize(r - 3);
  shape[r - 1] = v.getDimSize(r - 1);
  results.push_back(permuted(RankedTensorType::get(shape, q.getElementType()),
                             adaptor.getResultPerm()));
  return success();
}

int64_t AttentionOp::getKvGroupSize() {
  auto q = getLogicalQueryType(), k = getLogicalKeyType();
  int64_t r = q.getRank();
  if (r < 3 || k.getRank() != r)
    return 1;
  int64_t hq = q.getDimSize(r - 3), hk = k.getDimSize(r - 3);
  if (ShapedType::isDynamic(hq) || ShapedType::isDynamic(hk) || hk <= 0 || hq == hk)
    return 1;
  return hq / hk;
}

RankedTensorType AttentionOp::getLogicalQueryType() {
  return permuted(getQuery().getType(), getQueryPerm());
}
RankedTensorType AttentionOp::getLogicalKeyType() {
  return permuted(getKey().getType(), getKeyPerm());
}
RankedTensorType AttentionOp::getLogicalValueType() {
  return permuted(getValue().getType(), getValuePerm());
}
RankedTensorType AttentionOp::getLogicalResultType() {
  return unpermuted(getType(), getResultPerm());
}
bool AttentionOp::isCompatibleReturnTypes(TypeRange l, TypeRange r) {
  return compatibleTensorTypes(l, r);
}

LogicalResult AttentionOp::verify() {
  auto q = getLogicalQueryType(), k = getLogicalKeyType(), v = getLogicalValueType();
  if (q.getElementType() != k.getElementType() ||
      q.getElementType() != v.getElementType())
    return emitOpError("query, key and value element types differ");
  bool hasMask = static_cast<bool>(getMask());
  if (hasMask != (getMaskKind() != MaskKind::none))
    return emitOpError(hasMask ? "has a mask operand but mask_kind = none"
                               : "mask_kind needs a mask operand");
  if (getMaskFirst() && !hasMask)
    return emitOpError("mask_first needs a mask");
  if (!std::isfinite(getScale().convertToDouble()))
    return emitOpError("scale must be finite");
  if (getCausalAlign() != CausalAlign::top_left && !getCausal())
    return emitOpError("causal_align needs causal");
  if (std::optional<uint64_t> w = getWindow()) {
    if (!getCausal())
      return emitOpError("window needs causal");
    if (static_cast<int64_t>(*w) < 1)
      return emitOpError("window must be >= 1");
  }
  if (std::optional<APFloat> cap = getSoftcap()) {
    double c = cap->convertToDouble();
    if (!std::isfinite(c) || c <= 0)
      return emitOpError("softcap must be finite and > 0");
    if (getMaskFirst())
      return emitOpError("softcap applies before the mask: not with mask_first");
  }
  if (std::optional<APFloat> fill = getCausalFill()) {
    if (!getCausal())
      return emitOpError("causal_fill needs causal");
    if (!fill->isFinite())
      return emitOpError("causal_fill must be finite (causal alone removes the "
                         "positions k > q)");
  }
  // verify() runs before the result-type inference check, which reports
  // rank mismatches; the mask check below needs equal ranks >= 2.
  if (hasMask && q.getRank() >= 2 && k.getRank() == q.getRank()) {
    auto m = llvm::cast<RankedTensorType>(getMask().getType());
    int64_t r = q.getRank();
    SmallVector<int64_t> scores(q.getShape().drop_back(1));
    scores.push_back(k.getDimSize(r - 2));
    if (m.getRank() > r || !broadcastsTo(m.getShape(), scores))
      return emitOpError("mask shape ")
             << shapeStr(m.getShape())
             << " does not broadcast to the scores shape " << shapeStr(scores);
    if (getMaskKind() == MaskKind::additive &&
        m.getElementType() != q.getElementType())
      return emitOpError("an additive mask must have the element type ")
             << q.getElementType() << ", got " << m.getElementType();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// TableGen'd definitions
//===----------------------------------------------------------------------===//

#define GET_OP_CLASSES
#include "attn/Dialect/AttnOps.cpp.inc"
