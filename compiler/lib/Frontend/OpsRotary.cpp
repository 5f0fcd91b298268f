//===- OpsRotary.cpp - ONNX Rotary ops -> attn ------------------------------===//
//
// `RotaryEmbedding` (opset 23) and ONNX Runtime's `com.microsoft::
// RotaryEmbedding` become one attn.rotary:
//
//  * X is [B, H, S, D] (opset 23 only) or [B, S, H*D] (num_heads given; it
//    is viewed as [B, S, H, D] and reshaped back).
//  * The caches are half width ([max_pos, R/2]) and gathered by position_ids
//    ([B, S]); opset 23 without position_ids takes [B, S, R/2] caches as
//    they are. The gathered rows are widened to the full width attn.rotary
//    wants (half split: [c, c]; interleaved: each element twice) and get a
//    unit head dim ([B, S, 1, R], or [B, 1, S, R] for 4-D X).
//  * rotary_embedding_dim R (0: the whole head) < D leaves the other channels
//    as they are (partial rotary).
//
// Refused with an error naming the node: the contrib op's packed batching,
// a scale other than 1, a 1-element position offset, odd or too wide rotary
// widths, caches whose last dim is not R/2.
//
//===----------------------------------------------------------------------===//
#include "Frontend/ImporterImpl.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::onnx_import;

namespace {
using GI = GraphImporter;
using DS = GI::DimSource;

RankedTensorType rt(Value v) { return cast<RankedTensorType>(v.getType()); }

/// attn.gather along `axis` with dims recorded.
Value gather(GI &g, Value data, Value indices, int64_t axis) {
  Value r = g.createInferred<GatherOp>(data, indices, (uint64_t)axis);
  if (!r)
    return {};
  ShapeValue d = g.dimsOf(data), idx = g.dimsOf(indices), out;
  out.append(d.begin(), d.begin() + axis);
  out.append(idx.begin(), idx.end());
  out.append(d.begin() + axis + 1, d.end());
  g.setDims(r, out);
  return r;
}

LogicalResult convertRotary(GI &g, bool contrib) {
  // Operand order: opset 23 (X, cos, sin, position_ids?); contrib (X,
  // position_ids, cos, sin).
  auto x = g.requiredInput(0);
  if (failed(x))
    return failure();
  auto cosIn = g.requiredInput(contrib ? 2 : 1), sinIn = g.requiredInput(contrib ? 3 : 2);
  if (failed(cosIn) || failed(sinIn))
    return failure();
  Value pos = contrib ? g.input(1) : g.input(3);
  if (contrib && !pos)
    return g.nodeError() << "position_ids (input 1) is required";
  auto interleaved = g.attrInt("interleaved", 0);
  auto rdimAttr = g.attrInt("rotary_embedding_dim", 0);
  auto heads = g.attrInt("num_heads", 0);
  if (failed(interleaved) || failed(rdimAttr) || failed(heads))
    return failure();
  if (contrib) {
    auto packed = g.attrInt("is_packed_batching", 0);
    auto scale = g.attrFloat("scale", 1.0f);
    if (failed(packed) || failed(scale))
      return failure();
    if (*packed != 0)
      return g.nodeError() << "is_packed_batching is not supported";
    if (*scale != 1.0f)
      return g.nodeError() << "scale " << *scale << " is not supported (only 1)";
  }
  if (failed(g.checkSameElementType({*x, *cosIn, *sinIn})))
    return failure();
  auto xt = rt(*x);
  if (!isa<FloatType>(xt.getElementType()))
    return g.nodeError() << "X must be a float tensor, got " << xt;

  // X as [B, S, H, D] (3-D) or [B, H, S, D] (4-D).
  bool bhsd = xt.getRank() == 4;
  if (bhsd && contrib)
    return g.nodeError() << "4-D input is not supported for com.microsoft RotaryEmbedding";
  Value x4 = *x;
  int64_t d;
  if (xt.getRank() == 3) {
    int64_t hidden = xt.getDimSize(2);
    if (*heads <= 0)
      return g.nodeError() << "3-D X needs the num_heads attribute";
    if (ShapedType::isDynamic(hidden) || hidden % *heads != 0)
      return g.nodeError() << "X's hidden size (last dim) must be static and a multiple of num_heads "
                           << *heads << ", got " << xt;
    d = hidden / *heads;
    x4 = g.reshapeTo(*x, {DS::dims(0, 1), DS::dims(1, 2), DS::cst(*heads), DS::cst(d)});
    if (!x4)
      return failure();
  } else if (bhsd) {
    d = xt.getDimSize(3);
    if (ShapedType::isDynamic(d))
      return g.nodeError() << "X's head size (last dim) must be static, got " << xt;
  } else {
    return g.nodeError() << "X must be 3-D [B, S, hidden] or 4-D [B, H, S, D], got " << xt;
  }
  int64_t r = *rdimAttr ? *rdimAttr : d;
  if (r <= 0 || r % 2 != 0 || r > d)
    return g.nodeError() << "rotary_embedding_dim " << r << " must be even, positive and at most the head size "
                         << d;

  // The caches' rows for each (b, s): [B, S, R/2].
  Value c = *cosIn, s = *sinIn;
  auto ct = rt(c), st = rt(s);
  if (ct.getShape() != st.getShape())
    return g.nodeError() << "cos_cache " << ct << " and sin_cache " << st << " differ in shape";
  if (ct.getRank() < 1 || ct.getShape().back() != r / 2)
    return g.nodeError() << "cos_cache/sin_cache last dim must be rotary_embedding_dim / 2 = " << r / 2
                         << ", got " << ct;
  if (pos) {
    auto pt = rt(pos);
    if (!isa<IntegerType>(pt.getElementType()))
      return g.nodeError() << "position_ids must be an integer tensor, got " << pt;
    if (pt.getRank() != 2)
      return g.nodeError() << "position_ids must be 2-D [batch, sequence], got " << pt
                           << (pt.getRank() == 1 ? " (a position offset is not supported)" : "");
    if (ct.getRank() != 2)
      return g.nodeError() << "with position_ids the caches must be 2-D [max_position, R/2], got " << ct;
    // A position must be in [0, max_position) (ONNX Runtime refuses the
    // rest). attn.gather takes ONNX's negative indices ([-n, -1] wrap), so
    // a negative position is moved far below -n: pos + max(min(pos, 0), -1)
    // * 2^62, out of range (the run-time index check names this node).
    Type i64 = g.getBuilder().getI64Type();
    Value p64 = g.castTo(pos, i64);
    Value flag = p64 ? g.binary<MaxOp>(g.binary<MinOp>(p64, g.scalarConstant(i64, 0)),
                                       g.scalarConstant(i64, -1))
                     : Value();
    Value far = flag ? g.binary<MulOp>(flag, g.scalarConstant(i64, 0x1p62)) : Value();
    pos = far ? g.binary<AddOp>(p64, far) : Value();
    if (!pos)
      return failure();
    c = gather(g, c, pos, 0);
    s = gather(g, s, pos, 0);
    if (!c || !s)
      return failure();
  } else if (ct.getRank() != 3) {
    return g.nodeError() << "without position_ids the caches must be 3-D [batch, sequence, R/2], got " << ct;
  }
  // Widen to [B, S, R]: half split [c, c]; interleaved c[i] at 2i and 2i+1.
  SmallVector<int64_t> widen;
  for (int64_t j = 0; j < r; ++j)
    widen.push_back(*interleaved ? j / 2 : j % (r / 2));
  Value idx = g.i64Vector(widen);
  c = gather(g, c, idx, 2);
  s = gather(g, s, idx, 2);
  if (!c || !s)
    return failure();
  // A unit head dim.
  SmallVector<DS> cs = bhsd ? SmallVector<DS>{DS::dims(0, 1), DS::cst(1), DS::dims(1, 2), DS::cst(r)}
                            : SmallVector<DS>{DS::dims(0, 1), DS::dims(1, 2), DS::cst(1), DS::cst(r)};
  c = g.reshapeTo(c, cs);
  s = g.reshapeTo(s, cs);
  if (!c || !s)
    return failure();
  Value y = g.createTyped<RotaryOp>(x4.getType(), x4, c, s,
                                    *interleaved ? g.getBuilder().getUnitAttr() : UnitAttr());
  g.copyDims(y, x4);
  if (!bhsd) {
    y = g.reshapeTo(y, {DS::dims(0, 1), DS::dims(1, 2), DS::cst(xt.getDimSize(2))});
    if (!y)
      return failure();
  }
  g.setOutput(0, y);
  return success();
}

LogicalResult convertRotaryEmbedding(GI &g) { return convertRotary(g, false); }
LogicalResult convertMsRotaryEmbedding(GI &g) { return convertRotary(g, true); }

} // namespace

void onnx_import::registerRotaryConverters(llvm::StringMap<OpConverter> &t) {
  t["RotaryEmbedding"] = convertRotaryEmbedding;
  t["com.microsoft::RotaryEmbedding"] = convertMsRotaryEmbedding;
}
