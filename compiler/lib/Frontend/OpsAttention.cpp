//===- OpsAttention.cpp - ONNX attention ops -> attn.attention ------------===//
//
// Whole-attention nodes become one attn.attention:
//
//  * ONNX `Attention` (opset 23/24): 3-D inputs ([B, S, heads*D], heads from
//    q_num_heads/kv_num_heads) or 4-D ([B, H, S, D]); grouped-query attention
//    by head counts; is_causal (top-left without a cache, offset by the past
//    length with past_key: `causal_align = bottom_right` when the new keys are
//    as many as the queries, an explicit mask otherwise); attn_mask bool
//    (true = keep) or additive; scale; softcap (applied before the mask, as
//    attn.attention does); past_key/past_value concatenated on the sequence
//    axis (present_key/present_value); opset 24's nonpad_kv_seqlen (per-batch
//    key padding and causal offset, an explicit mask). Rows whose keys are all
//    masked give 0 (the reference's guard): `nan_to_zero` whenever a mask is
//    present. The qk_matmul_output output is refused.
//  * com.microsoft `Attention` (packed QKV projection, mask_index, past,
//    attention_bias, unidirectional), `MultiHeadAttention` (separate Q/K/V,
//    bias, key_padding_mask, attention_bias, past_key/past_value): masked
//    keys get ONNX Runtime's additive `mask_filter_value` (-10000 by
//    default), as its kernels do.
//  * com.microsoft `GroupQueryAttention` (seqlens_k padding, past/present in
//    BNSH laid out as ONNX Runtime does, local window, softcap, packed QKV,
//    do_rotary through attn.rotary): see convertMsGroupQueryAttention.
//
// What attn.attention cannot express (Attention/MultiHeadAttention's packed
// QKV and rotary, shared/static past-present buffers, beam-search cache
// indirection, 4-D Megatron masks, the QK output, smooth softmax, quantized
// caches) is refused with an error naming the node.
//
//===----------------------------------------------------------------------===//
#include "Frontend/ImporterImpl.h"

#include "mlir/IR/TypeUtilities.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::onnx_import;

namespace {
using GI = GraphImporter;
using DS = GI::DimSource;
using DV = SymbolicDim;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

Value emitTranspose(GI &g, Value x, ArrayRef<int64_t> perm) {
  if (!x)
    return {};
  Value r = g.createInferred<TransposeOp>(x, perm);
  if (!r)
    return {};
  ShapeValue in = g.dimsOf(x), out;
  for (int64_t p : perm)
    out.push_back(in[p]);
  g.setDims(r, out);
  return r;
}

/// The double nearest to the shortest decimal that round-trips `f` (ONNX
/// stores float attributes: scale = 0.2 should become 0.2, not 0.200000003).
double attrDouble(float f) {
  char buf[32];
  for (int precision = 6; precision <= 9; ++precision) {
    snprintf(buf, sizeof(buf), "%.*g", precision, double(f));
    double d = strtod(buf, nullptr);
    if (float(d) == f)
      return d;
  }
  return double(f);
}

int64_t rankOf(Value v) { return cast<RankedTensorType>(v.getType()).getRank(); }
int64_t dimOf(Value v, int64_t i) {
  return cast<RankedTensorType>(v.getType()).getDimSize(i);
}

/// Whether dim `i` of `a` and dim `j` of `b` are provably equal.
bool sameDim(GI &g, Value a, int64_t i, Value b, int64_t j) {
  int64_t da = dimOf(a, i), db = dimOf(b, j);
  if (!ShapedType::isDynamic(da) || !ShapedType::isDynamic(db))
    return da == db;
  return g.dimSymbol(a, i).same(g.dimSymbol(b, j));
}

/// [B, S, heads*D] -> [B, heads, S, D] (reshape + transpose).
Value splitHeads(GI &g, Value x, int64_t heads, llvm::StringRef what) {
  auto t = cast<RankedTensorType>(x.getType());
  int64_t hidden = t.getDimSize(2);
  if (ShapedType::isDynamic(hidden)) {
    g.nodeError() << what << ": the hidden size (last dim) must be static, got "
                  << t;
    return {};
  }
  if (heads <= 0 || hidden % heads != 0) {
    g.nodeError() << what << ": hidden size " << hidden
                  << " is not a multiple of the head count " << heads;
    return {};
  }
  Value r = g.reshapeTo(x, {DS::dims(0, 1), DS::dims(1, 2), DS::cst(heads),
                            DS::cst(hidden / heads)});
  return emitTranspose(g, r, {0, 2, 1, 3});
}

/// [B, H, S, D] -> [B, S, H*D].
Value mergeHeads(GI &g, Value y) {
  Value t = emitTranspose(g, y, {0, 2, 1, 3});
  if (!t)
    return {};
  return g.reshapeTo(t, {DS::dims(0, 1), DS::dims(1, 2), DS::dims(2, 4)});
}

/// [d0, ...] -> [1, d0, ...].
Value unsqueezeFront(GI &g, Value x) {
  SmallVector<DS> dims{DS::cst(1)};
  for (int64_t i = 0; i < rankOf(x); ++i)
    dims.push_back(DS::dims(i, i + 1));
  return g.reshapeTo(x, dims);
}

/// x reshaped to `x`'s dims followed by `ones` dims of size 1 (and `lead`
/// size-1 dims in front).
Value withUnitDims(GI &g, Value x, int64_t lead, int64_t trail) {
  if (!x)
    return {};
  SmallVector<DS> dims;
  for (int64_t i = 0; i < lead; ++i)
    dims.push_back(DS::cst(1));
  for (int64_t i = 0; i < rankOf(x); ++i)
    dims.push_back(DS::dims(i, i + 1));
  for (int64_t i = 0; i < trail; ++i)
    dims.push_back(DS::cst(1));
  return g.reshapeTo(x, dims);
}

Value concat(GI &g, ArrayRef<Value> parts, int64_t axis) {
  for (Value p : parts)
    if (!p)
      return {};
  Value r = g.createInferred<ConcatOp>(ValueRange(parts), (uint64_t)axis);
  if (!r)
    return {};
  ShapeValue out = g.dimsOf(parts[0]);
  // The concatenated dim is static or unknown (dimsOf gives static dims).
  if (ShapedType::isDynamic(dimOf(r, axis)))
    out[axis] = DV();
  else
    out[axis] = DV::fixed(dimOf(r, axis));
  for (int64_t i = 0; i < (int64_t)out.size(); ++i)
    if (i != axis && !out[i].isStatic() && !ShapedType::isDynamic(dimOf(r, i)))
      out[i] = DV::fixed(dimOf(r, i));
  g.setDims(r, out);
  return r;
}

/// Dim `i` of `v` as a 0-d i64 tensor.
Value dimScalar(GI &g, Value v, int64_t i) {
  Type i64 = g.getBuilder().getI64Type();
  int64_t d = dimOf(v, i);
  if (!ShapedType::isDynamic(d))
    return g.scalarConstant(i64, (double)d);
  Value s = g.createInferred<ShapeOp>(v, (uint64_t)i, (uint64_t)(i + 1));
  if (!s)
    return {};
  g.setShapeValue(s, {g.dimsOf(v)[i]});
  return g.createTyped<ReshapeOp>(RankedTensorType::get({}, i64), s,
                                  g.i64Vector({}), /*allowzero=*/false);
}

/// [0, 1, ..., n-1] (i64) for n = dim `i` of `v`.
Value iota(GI &g, Value v, int64_t i) {
  Type i64 = g.getBuilder().getI64Type();
  int64_t d = dimOf(v, i);
  if (!ShapedType::isDynamic(d) && d <= 4096) {
    SmallVector<int64_t> vals;
    for (int64_t k = 0; k < d; ++k)
      vals.push_back(k);
    return g.intConstant(RankedTensorType::get({d}, i64), vals);
  }
  Value n = dimScalar(g, v, i);
  if (!n)
    return {};
  DV len = g.dimsOf(v)[i];
  Value r = g.createTyped<RangeOp>(GI::tensorType({len}, i64),
                                   g.scalarConstant(i64, 0), n,
                                   g.scalarConstant(i64, 1));
  g.setDims(r, {len});
  return r;
}

Value select(GI &g, Value c, Value a, Value b) {
  if (!c || !a || !b)
    return {};
  Value r = g.createInferred<SelectOp>(c, a, b);
  if (r)
    g.setDims(r, g.broadcastDims({c, a, b}));
  return r;
}

/// Constant slice [start, end) of the last dim of `x`.
Value sliceLast(GI &g, Value x, int64_t start, int64_t end) {
  auto t = cast<RankedTensorType>(x.getType());
  int64_t last = t.getRank() - 1;
  ShapeValue dims = g.dimsOf(x);
  dims[last] = DV::fixed(end - start);
  auto type = GI::tensorType(dims, t.getElementType());
  Value r = g.createTyped<SliceOp>(type, x, g.i64Vector({start}),
                                   g.i64Vector({end}), g.i64Vector({last}),
                                   g.i64Vector({1}));
  g.setDims(r, dims);
  return r;
}

/// Element `idx` of dim 0 of `x` (dim removed).
Value takeFront(GI &g, Value x, int64_t idx) {
  Value r = g.createInferred<GatherOp>(
      x, g.scalarConstant(g.getBuilder().getI64Type(), (double)idx),
      (uint64_t)0);
  if (!r)
    return {};
  ShapeValue d = g.dimsOf(x);
  g.setDims(r, ArrayRef<DV>(d).drop_front());
  return r;
}

//===----------------------------------------------------------------------===//
// The attention op
//===----------------------------------------------------------------------===//

/// Everything the emitted attn.attention needs, in the logical layout:
/// q [B, Hq, Sq, D], k [B, Hkv, Sk, D], v [B, Hkv, Sk, Dv].
struct AttentionSpec {
  Value q, k, v;
  double scale = 1.0;
  std::optional<double> softcap;
  bool causal = false;
  CausalAlign align = CausalAlign::top_left;
  std::optional<int64_t> window;
  Value keep; ///< i1, true = attend; broadcasts to [B, Hq, Sq, Sk]
  Value bias; ///< additive, query's element type; broadcasts likewise
  bool nanToZero = false;
};

void andKeep(GI &g, AttentionSpec &s, Value k) {
  if (!k)
    return;
  s.keep = s.keep ? g.binary<AndOp>(s.keep, k) : k;
}
void addBias(GI &g, AttentionSpec &s, Value b) {
  if (!b)
    return;
  s.bias = s.bias ? g.binary<AddOp>(s.bias, b) : b;
}

/// Keys at positions j <= i + offset (query i), as a bool [.., Sq, Sk] mask;
/// `offset` is a 0-d i64 or a [B] i64 tensor (then [B, 1, Sq, Sk]), or null
/// for 0. With `window` W also j > i + offset - W.
Value causalKeep(GI &g, Value q, Value k, Value offset,
                 std::optional<int64_t> window = std::nullopt) {
  Value qpos = g.reshapeTo(iota(g, q, 2), {DS::dims(0, 1), DS::cst(1)});
  Value kpos = iota(g, k, 2);
  if (!qpos || !kpos)
    return {};
  if (offset) {
    if (rankOf(offset) == 1)
      offset = withUnitDims(g, offset, 0, 3);
    qpos = offset ? g.binary<AddOp>(qpos, offset) : Value();
  }
  Value keep = qpos ? g.compare(CmpPredicate::le, kpos, qpos) : Value();
  if (keep && window) {
    Value lo = g.binary<SubOp>(
        qpos, g.scalarConstant(g.getBuilder().getI64Type(), (double)*window));
    Value w = lo ? g.compare(CmpPredicate::gt, kpos, lo) : Value();
    keep = w ? g.binary<AndOp>(keep, w) : Value();
  }
  return keep;
}

/// Whether `mask` broadcasts (numpy rules, dynamic dims allowed) to `scores`.
bool maskBroadcasts(RankedTensorType mask, ArrayRef<int64_t> scores) {
  if (mask.getRank() > (int64_t)scores.size())
    return false;
  int64_t off = scores.size() - mask.getRank();
  for (int64_t i = 0; i < mask.getRank(); ++i) {
    int64_t m = mask.getDimSize(i), s = scores[off + i];
    if (m == 1 || ShapedType::isDynamic(m) || ShapedType::isDynamic(s) || m == s)
      continue;
    return false;
  }
  return true;
}

/// Emits attn.attention for `s` ([B, Hq, Sq, Dv]); null (error emitted) on
/// failure.
Value emitAttention(GI &g, AttentionSpec &s) {
  if (!s.q || !s.k || !s.v)
    return {};
  OpBuilder &b = g.getBuilder();
  MLIRContext *ctx = g.getContext();
  auto qt = cast<RankedTensorType>(s.q.getType());
  Type elt = qt.getElementType();
  int64_t hq = qt.getDimSize(1), hk = dimOf(s.k, 1), hv = dimOf(s.v, 1);
  // Grouped-query attention: both head counts static, the key's dividing
  // the query's. A dynamic count is checked at run time (equal counts).
  for (int64_t h : {hk, hv}) {
    if (ShapedType::isDynamic(hq) || ShapedType::isDynamic(h))
      continue;
    if (h <= 0 || hq % h != 0) {
      g.nodeError() << "the key/value head count " << h
                    << " does not divide the query head count " << hq;
      return {};
    }
  }
  if (hk != hv && !ShapedType::isDynamic(hk) && !ShapedType::isDynamic(hv)) {
    g.nodeError() << "key and value head counts differ (" << hk << " vs " << hv
                  << ")";
    return {};
  }
  Value mask;
  MaskKind kind = MaskKind::none;
  double fill = 0.0;
  if (s.bias) {
    s.bias = g.castTo(s.bias, elt);
    if (s.keep)
      s.bias = select(g, s.keep, s.bias,
                      g.scalarConstant(elt, -std::numeric_limits<double>::infinity()));
    mask = s.bias;
    kind = MaskKind::additive;
  } else if (s.keep) {
    mask = s.keep;
    kind = MaskKind::fill_if_zero;
    fill = -std::numeric_limits<double>::infinity();
  }
  if ((s.bias || s.keep) && !mask)
    return {};
  if (mask) {
    auto mt = cast<RankedTensorType>(mask.getType());
    SmallVector<int64_t> scores{dimOf(s.q, 0), hq, dimOf(s.q, 2), dimOf(s.k, 2)};
    if (!maskBroadcasts(mt, scores)) {
      g.nodeError() << "the attention mask " << mt
                    << " does not broadcast to the scores [batch, heads, "
                       "q_len, kv_len] = "
                    << RankedTensorType::get(scores, elt);
      return {};
    }
  }

  Value r = g.createInferred<AttentionOp>(
      s.q, s.k, s.v, mask, b.getF64FloatAttr(s.scale),
      MaskKindAttr::get(ctx, kind), b.getF64FloatAttr(fill), UnitAttr(),
      s.causal ? b.getUnitAttr() : UnitAttr(), FloatAttr(),
      s.nanToZero ? b.getUnitAttr() : UnitAttr(),
      CausalAlignAttr::get(ctx, s.align),
      s.window ? b.getI64IntegerAttr(*s.window) : IntegerAttr(),
      s.softcap ? b.getF64FloatAttr(*s.softcap) : FloatAttr(),
      DenseI64ArrayAttr(), DenseI64ArrayAttr(), DenseI64ArrayAttr(),
      DenseI64ArrayAttr());
  if (!r)
    return {};
  ShapeValue qd = g.dimsOf(s.q), vd = g.dimsOf(s.v);
  g.setDims(r, {qd[0], qd[1], qd[2], vd[3]});
  return r;
}

/// 1/sqrt(head dim of q), or failure when that dim is not static.
FailureOr<double> defaultScale(GI &g, Value q4) {
  int64_t d = dimOf(q4, 3);
  if (ShapedType::isDynamic(d) || d <= 0)
    return g.nodeError() << "the default scale 1/sqrt(head_size) needs a "
                            "static head size, got "
                         << q4.getType();
  return 1.0 / std::sqrt((double)d);
}

LogicalResult checkFloatInputs(GI &g, ArrayRef<Value> vals) {
  for (Value v : vals)
    if (!isa<FloatType>(getElementTypeOrSelf(v.getType())))
      return g.nodeError() << "expects floating-point inputs, got "
                           << v.getType();
  return g.checkSameElementType(vals);
}

//===----------------------------------------------------------------------===//
// ONNX Attention (opset 23, 24)
//===----------------------------------------------------------------------===//

/// Pads the last dim of `mask` to `sk` (static) with `padValue` (the
/// reference pads a shorter attn_mask with False / -inf).
Value padMask(GI &g, Value mask, int64_t sk) {
  auto mt = cast<RankedTensorType>(mask.getType());
  int64_t m = mt.getDimSize(mt.getRank() - 1);
  if (ShapedType::isDynamic(m) || ShapedType::isDynamic(sk) || m >= sk)
    return mask;
  if (!mt.hasStaticShape()) {
    g.nodeError() << "attn_mask " << mt << " is shorter than the " << sk
                  << " keys and has dynamic dims (padding it is not supported)";
    return {};
  }
  SmallVector<int64_t> padShape(mt.getShape());
  padShape.back() = sk - m;
  auto padType = RankedTensorType::get(padShape, mt.getElementType());
  TypedAttr fill;
  if (mt.getElementType().isInteger(1))
    fill = g.getBuilder().getBoolAttr(false);
  else
    fill = FloatAttr::get(mt.getElementType(),
                          -std::numeric_limits<double>::infinity());
  Value pad = g.constant(DenseElementsAttr::get(padType, fill));
  return concat(g, {mask, pad}, mt.getRank() - 1);
}

LogicalResult convertOnnxAttention(GI &g) {
  if (g.opset() < 23)
    return g.nodeError() << "Attention is an ONNX op from opset 23 on (the "
                            "model imports opset "
                         << g.opset() << ")";
  auto q = g.requiredInput(0), k = g.requiredInput(1), v = g.requiredInput(2);
  auto isCausal = g.attrInt("is_causal", 0);
  auto softcap = g.attrFloat("softcap", 0.0f);
  auto qkMode = g.attrInt("qk_matmul_output_mode", 0);
  if (failed(q) || failed(k) || failed(v) || failed(isCausal) ||
      failed(softcap) || failed(qkMode))
    return failure();
  if (g.isOutputUsed(3))
    return g.nodeError() << "the qk_matmul_output output (mode " << *qkMode
                         << ") is not supported";
  if (failed(checkFloatInputs(g, {*q, *k, *v})))
    return failure();
  Value attnMask = g.input(3), pastK = g.input(4), pastV = g.input(5);
  Value nonpad = g.opset() >= 24 ? g.input(6) : Value();
  if (!pastK != !pastV)
    return g.nodeError() << "past_key and past_value must be given together";
  if (nonpad && pastK)
    return g.nodeError()
           << "nonpad_kv_seqlen cannot be combined with past_key/past_value";
  if (!std::isfinite(*softcap) || *softcap < 0)
    return g.nodeError() << "softcap must be finite and >= 0, got " << *softcap;
  if (const auto *sp = g.findAttr("softmax_precision")) {
    Type t = convertDataType(g.getContext(), (int32_t)sp->i());
    if (!t || !isa<FloatType>(t))
      return g.nodeError() << "unsupported softmax_precision "
                           << onnxDataTypeName((int32_t)sp->i());
    // Softmax runs in f32 (or the input's wider type) in every lowering.
  }

  int64_t rank = rankOf(*q);
  if (rank != rankOf(*k) || rank != rankOf(*v) || (rank != 3 && rank != 4))
    return g.nodeError() << "Q, K and V must all be 3-D or all 4-D, got "
                         << q->getType() << ", " << k->getType() << ", "
                         << v->getType();
  Value q4 = *q, k4 = *k, v4 = *v;
  const auto *qhAttr = g.findAttr("q_num_heads");
  const auto *khAttr = g.findAttr("kv_num_heads");
  if (rank == 3) {
    if (!qhAttr || !khAttr)
      return g.nodeError()
             << "3-D inputs need the q_num_heads and kv_num_heads attributes";
    auto qh = g.attrInt("q_num_heads"), kh = g.attrInt("kv_num_heads");
    if (failed(qh) || failed(kh))
      return failure();
    q4 = splitHeads(g, *q, *qh, "Q");
    k4 = q4 ? splitHeads(g, *k, *kh, "K") : Value();
    v4 = k4 ? splitHeads(g, *v, *kh, "V") : Value();
    if (!v4)
      return failure();
  } else {
    // 4-D: the heads are the inputs' dim 1; attributes, when given, must agree.
    for (auto [attr, val, what] :
         {std::tuple{qhAttr, *q, "q_num_heads"}, std::tuple{khAttr, *k, "kv_num_heads"}}) {
      if (!attr)
        continue;
      auto h = g.attrInt(what);
      if (failed(h))
        return failure();
      int64_t d = dimOf(val, 1);
      if (!ShapedType::isDynamic(d) && d != *h)
        return g.nodeError() << what << " = " << *h << " disagrees with the "
                             << "input's head dim " << d;
    }
  }

  Value kCur = k4;
  if (pastK) {
    if (rankOf(pastK) != 4 || rankOf(pastV) != 4)
      return g.nodeError() << "past_key/past_value must be 4-D [batch, heads, "
                              "past_len, head_size], got "
                           << pastK.getType() << ", " << pastV.getType();
    if (failed(checkFloatInputs(g, {*q, pastK, pastV})))
      return failure();
    k4 = concat(g, {pastK, k4}, 2);
    v4 = k4 ? concat(g, {pastV, v4}, 2) : Value();
    if (!v4)
      return g.nodeError() << "past_key/past_value do not concatenate with the "
                              "new keys/values";
  }

  AttentionSpec s;
  s.q = q4;
  s.k = k4;
  s.v = v4;
  if (const auto *sc = g.findAttr("scale")) {
    (void)sc;
    auto f = g.attrFloat("scale");
    if (failed(f))
      return failure();
    if (!std::isfinite(*f))
      return g.nodeError() << "scale must be finite";
    s.scale = attrDouble(*f);
  } else {
    auto d = defaultScale(g, q4);
    if (failed(d))
      return failure();
    s.scale = *d;
  }
  if (*softcap > 0)
    s.softcap = attrDouble(*softcap);

  Type elt = getElementTypeOrSelf(q->getType());
  if (attnMask) {
    Type mt = getElementTypeOrSelf(attnMask.getType());
    if (rankOf(attnMask) > 4)
      return g.nodeError() << "attn_mask must have rank <= 4, got "
                           << attnMask.getType();
    if (rankOf(attnMask) == 0)
      attnMask = withUnitDims(g, attnMask, 0, 1);
    attnMask = padMask(g, attnMask, dimOf(k4, 2));
    if (!attnMask)
      return failure();
    if (mt.isInteger(1)) {
      andKeep(g, s, attnMask);
    } else if (isa<FloatType>(mt)) {
      addBias(g, s, g.castTo(attnMask, elt));
    } else {
      return g.nodeError() << "attn_mask must be bool or floating-point, got "
                           << attnMask.getType();
    }
    s.nanToZero = true; // rows with every key masked give 0
  }

  if (nonpad) {
    if (rankOf(nonpad) != 1 ||
        !isa<IntegerType>(getElementTypeOrSelf(nonpad.getType())))
      return g.nodeError() << "nonpad_kv_seqlen must be a 1-D integer tensor, "
                              "got "
                           << nonpad.getType();
    Value n = g.castTo(nonpad, g.getBuilder().getI64Type());
    Value n4 = withUnitDims(g, n, 0, 3); // [B, 1, 1, 1]
    Value kpos = iota(g, k4, 2);
    Value pad = n4 && kpos ? g.compare(CmpPredicate::lt, kpos, n4) : Value();
    if (!pad)
      return failure();
    andKeep(g, s, pad);
    if (*isCausal) {
      Value off = g.binary<SubOp>(n, dimScalar(g, q4, 2));
      andKeep(g, s, off ? causalKeep(g, q4, k4, off) : Value());
    }
    s.nanToZero = true;
  } else if (*isCausal) {
    s.causal = true;
    if (pastK) {
      // Query i sees the keys j <= i + past_len.
      if (sameDim(g, kCur, 2, q4, 2)) {
        s.align = CausalAlign::bottom_right;
      } else {
        s.causal = false;
        andKeep(g, s, causalKeep(g, q4, k4, dimScalar(g, pastK, 2)));
        s.nanToZero = true;
      }
    }
  }
  if ((attnMask || nonpad) && !s.keep && !s.bias)
    return failure();

  Value y = emitAttention(g, s);
  if (y && rank == 3)
    y = mergeHeads(g, y);
  if (!y)
    return failure();
  g.setOutput(0, y);
  g.setOutput(1, k4);
  g.setOutput(2, v4);
  return success();
}

//===----------------------------------------------------------------------===//
// com.microsoft contrib ops
//===----------------------------------------------------------------------===//

/// ONNX Runtime's key-padding mask as an additive bias (0 where kept,
/// `filter` where masked), shaped to broadcast to [B, H, S, T]:
///  * [B] int: right padding, keys >= mask[b] masked;
///  * [2B] int: also keys < mask[B + b] masked (left padding);
///  * [B, T]: 0/1 per key; [B, S, T]: 0/1 per query and key.
/// `q` is [B, H, S, D] and `k` [B, H, T, D] (after any past concat).
Value keyMaskBias(GI &g, Value mask, Value q, Value k, double filter,
                  llvm::StringRef what, bool allowStartPositions) {
  auto mt = cast<RankedTensorType>(mask.getType());
  Type elt = getElementTypeOrSelf(q.getType());
  Type i64 = g.getBuilder().getI64Type();
  if (!isa<IntegerType>(mt.getElementType())) {
    g.nodeError() << what << " must be an integer tensor, got " << mt;
    return {};
  }
  Value zero = g.scalarConstant(elt, 0.0), fill = g.scalarConstant(elt, filter);
  Value m = g.castTo(mask, i64);
  Value keep;
  if (mt.getRank() == 1) {
    int64_t n = mt.getDimSize(0), bsz = dimOf(q, 0);
    bool lengths = sameDim(g, mask, 0, q, 0);
    bool startEnd = allowStartPositions && !ShapedType::isDynamic(n) &&
                    !ShapedType::isDynamic(bsz) && n == 2 * bsz;
    if (!lengths && !startEnd) {
      g.nodeError() << what << " " << mt
                    << ": a 1-D mask must provably hold one length per batch "
                       "item (or end and start positions, [2 * batch])";
      return {};
    }
    Value kpos = iota(g, k, 2);
    Value end = withUnitDims(g, startEnd ? sliceLast(g, m, 0, bsz) : m, 0, 1);
    keep = end && kpos ? g.compare(CmpPredicate::lt, kpos, end) : Value();
    if (keep && startEnd) {
      Value start = withUnitDims(g, sliceLast(g, m, bsz, 2 * bsz), 0, 1);
      Value ks = start ? g.compare(CmpPredicate::ge, kpos, start) : Value();
      keep = ks ? g.binary<AndOp>(keep, ks) : Value();
    }
    // [B, T] -> [B, 1, 1, T]
    Value bias = select(g, keep, zero, fill);
    return bias ? g.reshapeTo(bias, {DS::dims(0, 1), DS::cst(1), DS::cst(1),
                                     DS::dims(1, 2)})
                : Value();
  }
  if (mt.getRank() == 2 || mt.getRank() == 3) {
    keep = g.compare(CmpPredicate::gt, m, g.scalarConstant(i64, 0));
    Value bias = select(g, keep, zero, fill);
    if (!bias)
      return {};
    if (mt.getRank() == 2)
      return g.reshapeTo(bias, {DS::dims(0, 1), DS::cst(1), DS::cst(1),
                                DS::dims(1, 2)});
    return g.reshapeTo(bias, {DS::dims(0, 1), DS::cst(1), DS::dims(1, 2),
                              DS::dims(2, 3)});
  }
  g.nodeError() << what << " " << mt
                << " is not supported (1-D lengths, 2-D [batch, kv_len] or "
                   "3-D [batch, q_len, kv_len] masks are)";
  return {};
}

/// Causal (unidirectional) with the queries after `past` keys.
void setCausalAfterPast(GI &g, AttentionSpec &s, Value kCur, Value past) {
  s.causal = true;
  if (!past)
    return;
  if (sameDim(g, kCur, 2, s.q, 2)) {
    s.align = CausalAlign::bottom_right;
    return;
  }
  s.causal = false;
  andKeep(g, s, causalKeep(g, s.q, s.k, dimScalar(g, past, 2)));
  s.nanToZero = true;
}

FailureOr<double> contribScale(GI &g, Value q4) {
  auto sc = g.attrFloat("scale", 0.0f);
  if (failed(sc))
    return failure();
  if (!std::isfinite(*sc))
    return g.nodeError() << "scale must be finite";
  if (*sc != 0.0f)
    return attrDouble(*sc);
  return defaultScale(g, q4);
}

LogicalResult refuseIfSet(GI &g, llvm::StringRef attr, llvm::StringRef what) {
  auto v = g.attrInt(attr, 0);
  if (failed(v))
    return failure();
  if (*v != 0)
    return g.nodeError() << what << " (" << attr << " = " << *v
                         << ") is not supported";
  return success();
}

/// What ORT's Attention and MultiHeadAttention share once Q/K/V are
/// [B, H, S, D] (any past already concatenated): ORT's scale, the key padding
/// mask as a mask_filter_value bias, the attention bias (same element type as
/// `biasRef`), `unidirectional` aligned after the past. Returns the output
/// merged to [B, S, H*D], or null (diagnosed).
Value emitContribAttention(GI &g, Value q4, Value k4, Value v4, Value keyMask,
                           llvm::StringRef maskName, bool maskIndexForms,
                           double filter, Value attnBias, Value biasRef,
                           bool unidirectional, Value kCur, Value pastK) {
  AttentionSpec s;
  s.q = q4;
  s.k = k4;
  s.v = v4;
  auto scale = contribScale(g, q4);
  if (failed(scale))
    return {};
  s.scale = *scale;
  if (keyMask) {
    Value mb = keyMaskBias(g, keyMask, q4, k4, filter, maskName, maskIndexForms);
    if (!mb)
      return {};
    addBias(g, s, mb);
  }
  if (attnBias) {
    if (failed(checkFloatInputs(g, {biasRef, attnBias})))
      return {};
    addBias(g, s, attnBias);
  }
  if (unidirectional)
    setCausalAfterPast(g, s, kCur, pastK);
  Value y = emitAttention(g, s);
  return y ? mergeHeads(g, y) : Value();
}

LogicalResult convertMsAttention(GI &g) {
  auto x = g.requiredInput(0), w = g.requiredInput(1);
  auto heads = g.attrInt("num_heads");
  auto uni = g.attrInt("unidirectional", 0);
  auto filter = g.attrFloat("mask_filter_value", -10000.0f);
  if (failed(x) || failed(w) || failed(heads) || failed(uni) || failed(filter))
    return failure();
  if (failed(refuseIfSet(g, "do_rotary", "rotary embedding inside Attention")) ||
      failed(refuseIfSet(g, "past_present_share_buffer",
                         "a past/present buffer shared in place")))
    return failure();
  if (g.input(6))
    return g.nodeError() << "the past_sequence_length input is not supported";
  if (g.isOutputUsed(2))
    return g.nodeError() << "output #2 is not supported";
  Value bias = g.input(2), maskIndex = g.input(3), past = g.input(4),
        attnBias = g.input(5);
  SmallVector<Value> fl{*x, *w};
  if (bias)
    fl.push_back(bias);
  if (failed(checkFloatInputs(g, fl)))
    return failure();
  if (rankOf(*x) != 3 || rankOf(*w) != 2)
    return g.nodeError() << "expects input [batch, seq, hidden] and weights "
                            "[hidden, qkv_hidden], got "
                         << x->getType() << ", " << w->getType();
  int64_t total = dimOf(*w, 1);
  if (ShapedType::isDynamic(total))
    return g.nodeError() << "the weights' last dim must be static, got "
                         << w->getType();
  SmallVector<int64_t> sizes;
  auto qkvSizes = g.attrInts("qkv_hidden_sizes");
  if (failed(qkvSizes))
    return failure();
  if (*qkvSizes) {
    sizes = **qkvSizes;
    if (sizes.size() != 3 || sizes[0] != sizes[1] || sizes[0] <= 0 ||
        sizes[2] <= 0 || sizes[0] + sizes[1] + sizes[2] != total)
      return g.nodeError() << "qkv_hidden_sizes must be 3 positive sizes (Q and "
                              "K equal) summing to the weights' "
                           << total << " columns";
  } else {
    if (total % 3)
      return g.nodeError() << "the weights' " << total
                           << " columns do not split into Q, K and V";
    sizes = {total / 3, total / 3, total / 3};
  }
  if (bias && (rankOf(bias) != 1 || dimOf(bias, 0) != total))
    return g.nodeError() << "bias must be [" << total << "], got "
                         << bias.getType();

  Value proj = g.createInferred<MatmulOp>(*x, *w);
  if (!proj)
    return failure();
  {
    ShapeValue d = g.dimsOf(*x);
    d.back() = DV::fixed(total);
    g.setDims(proj, d);
  }
  if (bias)
    proj = g.binary<AddOp>(proj, bias);
  if (!proj)
    return failure();
  Value q = sliceLast(g, proj, 0, sizes[0]);
  Value k = sliceLast(g, proj, sizes[0], sizes[0] + sizes[1]);
  Value v = sliceLast(g, proj, sizes[0] + sizes[1], total);
  Value q4 = splitHeads(g, q, *heads, "Q");
  Value k4 = q4 ? splitHeads(g, k, *heads, "K") : Value();
  Value v4 = k4 ? splitHeads(g, v, *heads, "V") : Value();
  if (!v4)
    return failure();
  Value kCur = k4, pastK;
  if (past) {
    if (rankOf(past) != 5 || dimOf(past, 0) != 2)
      return g.nodeError() << "past must be [2, batch, heads, past_len, "
                              "head_size], got "
                           << past.getType();
    if (failed(checkFloatInputs(g, {*x, past})))
      return failure();
    pastK = takeFront(g, past, 0);
    Value pastV = takeFront(g, past, 1);
    k4 = concat(g, {pastK, k4}, 2);
    v4 = concat(g, {pastV, v4}, 2);
    if (!k4 || !v4)
      return g.nodeError() << "past does not concatenate with the new keys";
  }

  Value y = emitContribAttention(g, q4, k4, v4, maskIndex, "mask_index", true,
                                 attrDouble(*filter), attnBias, *x, *uni, kCur, pastK);
  if (!y)
    return failure();
  g.setOutput(0, y);
  if (g.isOutputUsed(1)) {
    Value present = concat(g, {unsqueezeFront(g, k4), unsqueezeFront(g, v4)}, 0);
    if (!present)
      return failure();
    g.setOutput(1, present);
  }
  return success();
}

LogicalResult convertMsMultiHeadAttention(GI &g) {
  auto q = g.requiredInput(0);
  auto heads = g.attrInt("num_heads");
  auto uni = g.attrInt("unidirectional", 0);
  auto filter = g.attrFloat("mask_filter_value", -10000.0f);
  if (failed(q) || failed(heads) || failed(uni) || failed(filter))
    return failure();
  Value k = g.input(1), v = g.input(2), bias = g.input(3),
        keyMask = g.input(4), attnBias = g.input(5), pastK = g.input(6),
        pastV = g.input(7);
  if (!k || !v)
    return g.nodeError() << "packed QKV/KV inputs (no separate key and value) "
                            "are not supported";
  if (g.input(8))
    return g.nodeError() << "the past_sequence_length input is not supported";
  if (g.input(9))
    return g.nodeError() << "cache_indirection (beam search) is not supported";
  if (g.isOutputUsed(3))
    return g.nodeError() << "the qk output is not supported";
  if (!pastK != !pastV)
    return g.nodeError() << "past_key and past_value must be given together";
  if (failed(checkFloatInputs(g, {*q, k, v})))
    return failure();
  if (rankOf(*q) != 3)
    return g.nodeError() << "query must be [batch, seq, hidden], got "
                         << q->getType();
  int64_t kr = rankOf(k);
  if ((kr != 3 && kr != 4) || rankOf(v) != kr)
    return g.nodeError() << "key and value must both be [batch, kv_len, "
                            "hidden] or [batch, heads, kv_len, head_size], got "
                         << k.getType() << ", " << v.getType();
  if (kr == 4 && (pastK || bias))
    return g.nodeError() << "4-D key/value with past_key or bias is not "
                            "supported";
  Value qIn = *q, kIn = k, vIn = v;
  if (bias) {
    if (failed(checkFloatInputs(g, {*q, bias})))
      return failure();
    int64_t dq = dimOf(*q, 2), dk = dimOf(k, 2), dv = dimOf(v, 2);
    if (ShapedType::isDynamic(dq) || ShapedType::isDynamic(dk) ||
        ShapedType::isDynamic(dv) || rankOf(bias) != 1 ||
        dimOf(bias, 0) != dq + dk + dv)
      return g.nodeError() << "bias " << bias.getType()
                           << " must be [q_hidden + k_hidden + v_hidden]";
    qIn = g.binary<AddOp>(qIn, sliceLast(g, bias, 0, dq));
    kIn = g.binary<AddOp>(kIn, sliceLast(g, bias, dq, dq + dk));
    vIn = g.binary<AddOp>(vIn, sliceLast(g, bias, dq + dk, dq + dk + dv));
    if (!qIn || !kIn || !vIn)
      return failure();
  }
  Value q4 = splitHeads(g, qIn, *heads, "query");
  Value k4 = kIn, v4 = vIn;
  if (q4 && kr == 3) {
    k4 = splitHeads(g, kIn, *heads, "key");
    v4 = k4 ? splitHeads(g, vIn, *heads, "value") : Value();
  }
  if (!q4 || !k4 || !v4)
    return failure();
  Value kCur = k4;
  if (pastK) {
    if (rankOf(pastK) != 4 || rankOf(pastV) != 4)
      return g.nodeError() << "past_key/past_value must be 4-D, got "
                           << pastK.getType() << ", " << pastV.getType();
    if (failed(checkFloatInputs(g, {*q, pastK, pastV})))
      return failure();
    k4 = concat(g, {pastK, k4}, 2);
    v4 = concat(g, {pastV, v4}, 2);
    if (!k4 || !v4)
      return g.nodeError() << "past_key/past_value do not concatenate with the "
                              "new keys/values";
  }
  Value y = emitContribAttention(g, q4, k4, v4, keyMask, "key_padding_mask", false,
                                 attrDouble(*filter), attnBias, *q, *uni, kCur, pastK);
  if (!y)
    return failure();
  g.setOutput(0, y);
  g.setOutput(1, k4);
  g.setOutput(2, v4);
  return success();
}


//===----------------------------------------------------------------------===//
// com.microsoft GroupQueryAttention
//===----------------------------------------------------------------------===//
//
// ONNX Runtime's semantics (CPU kernel, 1.32), with T_b = seqlens_k[b] + 1
// the valid length of batch item b after this step, S the new tokens and P
// the past buffer's length:
//  * the new tokens sit at absolute positions pv_b + i, pv_b = T_b - S (0 on
//    the first prompt: pv_b = max(T_b - S, 0)); the past holds pv_b valid
//    rows (right padding beyond them);
//  * query i sees the keys at absolute positions <= pv_b + i that are valid
//    (past rows < pv_b, new rows at positions < T_b), and with
//    local_window_size W > 0 only the last W of them (the query's own
//    included; measured against onnxruntime 1.32, whose older kernels kept
//    W + 1);
//  * present = past[:pv_b] ++ new ++ zeros, of length P + S (a "dynamic"
//    cache: total_sequence_length must be P + S; ONNX Runtime's static cache,
//    total_sequence_length <= P, would give a present of length P: it fails
//    at run time with an index-out-of-range error naming the node);
//  * do_rotary: Q and the new K rotated at positions pv_b + i with the half
//    width caches cos_cache/sin_cache [max_pos, R/2] (R < head size: partial).
// The attention runs on concat(past, new) with bottom-right causal alignment
// (query i sees keys j <= P + i) and a [B, 1, 1|S, P+S] keep mask for the
// padding (and the window, whose positions are per batch item with a past).

/// `x` [d0] as [1, d0] (lead) or [d0, 1] (!lead).
Value col(GI &g, Value x, bool lead) {
  return withUnitDims(g, x, lead ? 1 : 0, lead ? 0 : 1);
}

LogicalResult convertMsGroupQueryAttention(GI &g) {
  auto q = g.requiredInput(0);
  auto heads = g.attrInt("num_heads"), kvHeads = g.attrInt("kv_num_heads");
  auto window = g.attrInt("local_window_size", -1);
  auto doRotary = g.attrInt("do_rotary", 0);
  auto interleaved = g.attrInt("rotary_interleaved", 0);
  auto softcap = g.attrFloat("softcap", 0.0f);
  auto smooth = g.attrInt("smooth_softmax", -1);
  auto causal = g.attrInt("causal", 1);
  auto qkOutput = g.attrInt("qk_output", 0);
  auto kq = g.attrString("k_quant_type", std::string("NONE"));
  auto vq = g.attrString("v_quant_type", std::string("NONE"));
  if (failed(q) || failed(heads) || failed(kvHeads) || failed(window) ||
      failed(doRotary) || failed(interleaved) || failed(softcap) ||
      failed(smooth) || failed(causal) || failed(qkOutput) || failed(kq) ||
      failed(vq))
    return failure();
  if (*smooth == 1)
    return g.nodeError() << "smooth_softmax = 1 is not supported";
  if (*qkOutput != 0 || g.isOutputUsed(3))
    return g.nodeError() << "the output_qk output (qk_output = " << *qkOutput
                         << ") is not supported";
  if (*causal != 1)
    return g.nodeError() << "causal = " << *causal
                         << " is not supported (only causal attention is)";
  if (*kq != "NONE" || *vq != "NONE")
    return g.nodeError() << "a quantized KV cache (k_quant_type = " << *kq
                         << ", v_quant_type = " << *vq << ") is not supported";
  if (failed(refuseIfSet(g, "kv_cache_bit_width", "a quantized KV cache")) ||
      failed(refuseIfSet(g, "sliding_window_cache",
                         "a window-sized KV cache")))
    return failure();
  static const char *const extraInputs[] = {
      "position_ids", "attention_bias", "head_sink",     "k_scale",
      "v_scale",      "q_norm_weight",  "k_norm_weight", "query_seqlens"};
  for (unsigned i = 9; i < g.numInputs() && i < 9 + 8; ++i)
    if (g.input(i))
      return g.nodeError() << "the " << extraInputs[i - 9]
                           << " input is not supported";
  if (g.numInputs() > 17)
    return g.nodeError() << "expects at most 17 inputs, got " << g.numInputs();
  if (*heads <= 0 || *kvHeads <= 0 || *heads % *kvHeads != 0)
    return g.nodeError() << "kv_num_heads (" << *kvHeads
                         << ") must be positive and divide num_heads ("
                         << *heads << ")";
  if (!std::isfinite(*softcap) || *softcap < 0)
    return g.nodeError() << "softcap must be finite and >= 0, got " << *softcap;
  if (*window == 0 || *window < -1)
    return g.nodeError() << "local_window_size must be -1 or positive, got "
                         << *window;

  Value k = g.input(1), v = g.input(2), pastK = g.input(3),
        pastV = g.input(4);
  auto seqlens = g.requiredInput(5);
  auto total = g.requiredInput(6);
  if (failed(seqlens) || failed(total))
    return failure();
  if (!k != !v)
    return g.nodeError() << "key and value must be given together (or both "
                            "absent for a packed QKV query)";
  if (!pastK != !pastV)
    return g.nodeError() << "past_key and past_value must be given together";
  SmallVector<Value> fl{*q};
  for (Value x : {k, v, pastK, pastV})
    if (x)
      fl.push_back(x);
  if (failed(checkFloatInputs(g, fl)))
    return failure();
  if (rankOf(*q) != 3)
    return g.nodeError() << "query must be [batch, seq, hidden], got "
                         << q->getType();

  // Q, K, V as [B, heads, S, D].
  Value q4, k4, v4;
  if (!k) {
    int64_t hidden = dimOf(*q, 2), parts = *heads + 2 * *kvHeads;
    if (ShapedType::isDynamic(hidden) || hidden % parts)
      return g.nodeError() << "packed QKV query " << q->getType()
                           << ": the last dim must be static and a multiple "
                              "of num_heads + 2 * kv_num_heads = "
                           << parts;
    int64_t d = hidden / parts, qh = *heads * d, kh = *kvHeads * d;
    q4 = splitHeads(g, sliceLast(g, *q, 0, qh), *heads, "query");
    k4 = q4 ? splitHeads(g, sliceLast(g, *q, qh, qh + kh), *kvHeads, "key")
            : Value();
    v4 = k4 ? splitHeads(g, sliceLast(g, *q, qh + kh, hidden), *kvHeads,
                         "value")
            : Value();
  } else {
    if (rankOf(k) != 3 || rankOf(v) != 3)
      return g.nodeError() << "key and value must be [batch, seq, hidden], "
                              "got "
                           << k.getType() << ", " << v.getType();
    if (!sameDim(g, k, 1, *q, 1) && !ShapedType::isDynamic(dimOf(k, 1)) &&
        !ShapedType::isDynamic(dimOf(*q, 1)))
      return g.nodeError() << "key has " << dimOf(k, 1)
                           << " tokens, the query " << dimOf(*q, 1)
                           << " (they must be equal)";
    q4 = splitHeads(g, *q, *heads, "query");
    k4 = q4 ? splitHeads(g, k, *kvHeads, "key") : Value();
    v4 = k4 ? splitHeads(g, v, *kvHeads, "value") : Value();
  }
  if (!v4)
    return failure();
  int64_t headSize = dimOf(q4, 3);
  if (dimOf(k4, 3) != headSize)
    return g.nodeError() << "query and key head sizes differ (" << headSize
                         << " vs " << dimOf(k4, 3) << ")";
  if (pastK) {
    if (rankOf(pastK) != 4 || rankOf(pastV) != 4)
      return g.nodeError() << "past_key/past_value must be 4-D [batch, "
                              "kv_num_heads, past_len, head_size], got "
                           << pastK.getType() << ", " << pastV.getType();
    for (auto [p, x, what] : {std::tuple{pastK, k4, "past_key"},
                              std::tuple{pastV, v4, "past_value"}})
      for (int64_t i : {1, 3}) {
        int64_t a = dimOf(p, i), b = dimOf(x, i);
        if (!ShapedType::isDynamic(a) && !ShapedType::isDynamic(b) && a != b)
          return g.nodeError() << what << " " << p.getType() << " has " << a
                               << (i == 1 ? " heads" : " channels per head")
                               << ", expected " << b;
      }
  }

  Type i64 = g.getBuilder().getI64Type();
  Type elt = getElementTypeOrSelf(q->getType());
  // seqlens_k [B] -> T_b = seqlens_k + 1 (i64).
  auto st = cast<RankedTensorType>(seqlens->getType());
  if (st.getRank() != 1 || !isa<IntegerType>(st.getElementType()))
    return g.nodeError() << "seqlens_k must be a 1-D integer tensor [batch], "
                            "got "
                         << st;
  if (!ShapedType::isDynamic(st.getDimSize(0)) &&
      !ShapedType::isDynamic(dimOf(*q, 0)) && st.getDimSize(0) != dimOf(*q, 0))
    return g.nodeError() << "seqlens_k " << st << " must hold one length per "
                         << "batch item (" << dimOf(*q, 0) << ")";
  Value one = g.scalarConstant(i64, 1), zero = g.scalarConstant(i64, 0);
  Value tot = g.binary<AddOp>(g.castTo(*seqlens, i64), one);
  Value sLen = dimScalar(g, q4, 2);
  Value pLen = pastK ? dimScalar(g, pastK, 2) : Value();
  if (!tot || !sLen || (pastK && !pLen))
    return failure();

  // total_sequence_length must be P + S (the dynamic cache).
  {
    auto tt = cast<RankedTensorType>(total->getType());
    if (tt.getNumElements() != 1 || tt.getRank() > 1 ||
        !isa<IntegerType>(tt.getElementType()))
      return g.nodeError() << "total_sequence_length must be an integer "
                              "scalar, got "
                           << tt;
    Value expect = pastK ? g.binary<AddOp>(pLen, sLen) : sLen;
    std::optional<SmallVector<int64_t>> tc = g.constantInts(*total);
    int64_t sd = dimOf(q4, 2), pd = pastK ? dimOf(pastK, 2) : 0;
    bool staticExpect = !ShapedType::isDynamic(sd) && !ShapedType::isDynamic(pd);
    if (tc && tc->size() == 1 && staticExpect && (*tc)[0] != sd + pd)
      return g.nodeError() << "total_sequence_length " << (*tc)[0]
                           << " is not past_len + seq_len = " << sd + pd
                           << " (a static, shared KV cache is not supported)";
    if (!tc || !staticExpect) {
      // Checked at run time: an index |total - (P + S)| into a one-element
      // table is out of range unless they are equal.
      Value t0 = g.castTo(*total, i64);
      if (tt.getRank() == 1)
        t0 = t0 ? takeFront(g, t0, 0) : Value();
      Value d = t0 && expect ? g.binary<SubOp>(t0, expect) : Value();
      Value diff = d ? g.binary<MaxOp>(d, g.unary<NegOp>(d)) : Value(); // |d|
      Value chk = diff ? g.createInferred<GatherOp>(g.i64Vector({0}), diff,
                                                    (uint64_t)0)
                       : Value();
      if (!chk)
        return failure();
      g.setDims(chk, {});
      tot = g.binary<AddOp>(tot, chk);
    }
  }
  // seqlens_k[b] must be in [0, P + S), i.e. T_b in [1, P + S] (ONNX Runtime
  // refuses the rest; out of it T_b < 1 gives rows with no key, NaN, and
  // T_b > P + S reads no more keys than there are): checked at run time, an
  // index |T_b - clamp(T_b, 1, P + S)| into a one-element table.
  {
    Value limit = pastK ? g.binary<AddOp>(pLen, sLen) : sLen;
    Value lo = limit ? g.binary<MaxOp>(tot, one) : Value();
    Value clamped = lo ? g.binary<MinOp>(lo, limit) : Value();
    Value d = clamped ? g.binary<SubOp>(tot, clamped) : Value();
    Value nd = d ? g.unary<NegOp>(d) : Value();
    Value diff = nd ? g.binary<MaxOp>(d, nd) : Value(); // |d|
    Value chk = diff ? g.createInferred<GatherOp>(g.i64Vector({0}), diff,
                                                  (uint64_t)0)
                     : Value();
    if (!chk)
      return failure();
    g.setDims(chk, g.dimsOf(diff));
    tot = g.binary<AddOp>(tot, chk);
    if (!tot)
      return failure();
  }
  // pv_b = max(T_b - S, 0), the valid past rows (only with a past).
  Value pv = pastK ? g.binary<MaxOp>(g.binary<SubOp>(tot, sLen), zero) : Value();
  if (pastK && !pv)
    return failure();

  // Rotary embedding of Q and the new K at positions pv_b + i.
  if (*doRotary) {
    Value cosC = g.input(7), sinC = g.input(8);
    if (!cosC || !sinC)
      return g.nodeError() << "do_rotary = 1 needs cos_cache and sin_cache";
    auto ct = cast<RankedTensorType>(cosC.getType());
    if (ct.getRank() != 2 || cosC.getType() != sinC.getType() ||
        !isa<FloatType>(ct.getElementType()) ||
        ShapedType::isDynamic(ct.getDimSize(1)))
      return g.nodeError() << "cos_cache/sin_cache must be 2-D float "
                              "[max_position, rotary_dim / 2] with a static "
                              "last dim, got "
                           << cosC.getType() << ", " << sinC.getType();
    int64_t r = 2 * ct.getDimSize(1);
    if (r <= 0 || ShapedType::isDynamic(headSize) || r > headSize)
      return g.nodeError() << "rotary width " << r << " (2 * cos_cache's last "
                           << "dim) must be in [2, head_size = " << headSize
                           << "]";
    Value pos = col(g, iota(g, q4, 2), true); // [1, S]
    if (pv)
      pos = g.binary<AddOp>(pos, col(g, pv, false)); // [B, S]
    SmallVector<int64_t> widen;
    for (int64_t j = 0; j < r; ++j)
      widen.push_back(*interleaved ? j / 2 : j % (r / 2));
    Value c = g.castTo(cosC, elt), sn = g.castTo(sinC, elt);
    auto gather = [&](Value data, Value idx, int64_t axis) -> Value {
      if (!data || !idx)
        return {};
      Value res = g.createInferred<GatherOp>(data, idx, (uint64_t)axis);
      if (!res)
        return {};
      ShapeValue d = g.dimsOf(data), id = g.dimsOf(idx), out;
      out.append(d.begin(), d.begin() + axis);
      out.append(id.begin(), id.end());
      out.append(d.begin() + axis + 1, d.end());
      g.setDims(res, out);
      return res;
    };
    Value widx = g.i64Vector(widen);
    c = gather(gather(c, pos, 0), widx, 2); // [B|1, S, R]
    sn = gather(gather(sn, pos, 0), widx, 2);
    SmallVector<DS> cs{DS::dims(0, 1), DS::cst(1), DS::dims(1, 2), DS::cst(r)};
    c = c ? g.reshapeTo(c, cs) : Value();
    sn = sn ? g.reshapeTo(sn, cs) : Value();
    if (!c || !sn)
      return failure();
    UnitAttr il = *interleaved ? g.getBuilder().getUnitAttr() : UnitAttr();
    Value qr = g.createTyped<RotaryOp>(q4.getType(), q4, c, sn, il);
    g.copyDims(qr, q4);
    Value kr = g.createTyped<RotaryOp>(k4.getType(), k4, c, sn, il);
    g.copyDims(kr, k4);
    q4 = qr;
    k4 = kr;
  }

  Value kc = k4, vc = v4;
  if (pastK) {
    kc = concat(g, {pastK, k4}, 2);
    vc = kc ? concat(g, {pastV, v4}, 2) : Value();
    if (!vc)
      return g.nodeError() << "past_key/past_value do not concatenate with the "
                              "new keys/values";
  }

  AttentionSpec s;
  s.q = q4;
  s.k = kc;
  s.v = vc;
  auto scale = contribScale(g, q4);
  if (failed(scale))
    return failure();
  s.scale = *scale;
  if (*softcap > 0)
    s.softcap = attrDouble(*softcap);
  s.causal = true;
  s.align = CausalAlign::bottom_right;
  // Valid keys [B, T] and their absolute positions.
  Value j = col(g, iota(g, kc, 2), true); // [1, T]
  Value valid, kabs;
  if (!pastK) {
    kabs = j;
    valid = j ? g.compare(CmpPredicate::lt, j, col(g, tot, false)) : Value();
    if (*window > 0)
      s.window = *window;
  } else {
    Value pvc = col(g, pv, false), totc = col(g, tot, false); // [B, 1]
    Value isPast = j ? g.compare(CmpPredicate::lt, j, pLen) : Value();
    Value newAbs = g.binary<SubOp>(g.binary<AddOp>(j, pvc), pLen);
    kabs = select(g, isPast, j, newAbs);
    valid = select(g, isPast, g.compare(CmpPredicate::lt, j, pvc),
                   kabs ? g.compare(CmpPredicate::lt, kabs, totc) : Value());
  }
  if (!valid)
    return failure();
  // [B, T] -> [B, 1, 1, T]
  andKeep(g, s, g.reshapeTo(valid, {DS::dims(0, 1), DS::cst(1), DS::cst(1),
                                    DS::dims(1, 2)}));
  if (pastK && *window > 0) {
    // kabs > qabs - W, qabs = pv_b + i: [B, 1, S, T].
    Value qabs = g.binary<AddOp>(col(g, iota(g, q4, 2), true),
                                 col(g, pv, false)); // [B, S]
    Value lo = qabs ? g.binary<SubOp>(qabs, g.scalarConstant(
                                                i64, (double)*window))
                    : Value();
    Value lo4 = lo ? g.reshapeTo(lo, {DS::dims(0, 1), DS::cst(1),
                                      DS::dims(1, 2), DS::cst(1)})
                   : Value();
    Value k4abs = g.reshapeTo(kabs, {DS::dims(0, 1), DS::cst(1), DS::cst(1),
                                     DS::dims(1, 2)});
    Value w = lo4 && k4abs ? g.compare(CmpPredicate::gt, k4abs, lo4) : Value();
    if (!w)
      return failure();
    andKeep(g, s, w);
  }
  if (!s.keep)
    return failure();

  Value y = emitAttention(g, s);
  y = y ? mergeHeads(g, y) : Value();
  if (!y)
    return failure();
  g.setOutput(0, y);

  if (!g.isOutputUsed(1) && !g.isOutputUsed(2))
    return success();
  if (!pastK) {
    g.setOutput(1, k4);
    g.setOutput(2, v4);
    return success();
  }
  // present[b, :, t] = concat(past, new)[b, :, idx], idx = t (t < pv_b) or
  // t - pv_b + P (new rows), 0 beyond pv_b + S.
  Value t = j; // [1, T]
  Value pvc = col(g, pv, false);
  Value inNew = g.binary<SubOp>(g.binary<AddOp>(t, pLen), pvc); // [B, T]
  Value idx = select(g, g.compare(CmpPredicate::lt, t, pvc), t, inNew);
  Value live = g.compare(CmpPredicate::lt, t, g.binary<AddOp>(pvc, sLen));
  idx = select(g, live, idx, zero);
  if (!idx || !live)
    return failure();
  Value idx4 = g.reshapeTo(idx, {DS::dims(0, 1), DS::cst(1), DS::dims(1, 2),
                                 DS::cst(1)});
  Value live4 = g.reshapeTo(live, {DS::dims(0, 1), DS::cst(1), DS::dims(1, 2),
                                   DS::cst(1)});
  if (!idx4 || !live4)
    return failure();
  auto present = [&](Value cache) -> Value {
    Value shape = g.createInferred<ShapeOp>(cache, (uint64_t)0, (uint64_t)4);
    if (!shape)
      return {};
    ShapeValue cd = g.dimsOf(cache);
    g.setShapeValue(shape, cd);
    Value ix = g.createTyped<ExpandOp>(GI::tensorType(cd, i64), idx4, shape);
    g.setDims(ix, cd);
    Value gathered = g.createTyped<GatherElementsOp>(cache.getType(), cache,
                                                     ix, (uint64_t)2);
    g.setDims(gathered, cd);
    return select(g, live4, gathered, g.scalarConstant(elt, 0.0));
  };
  Value pk = present(kc), pvv = present(vc);
  if (!pk || !pvv)
    return failure();
  g.setOutput(1, pk);
  g.setOutput(2, pvv);
  return success();
}

} // namespace

void onnx_import::registerAttentionConverters(llvm::StringMap<OpConverter> &t) {
  t["Attention"] = convertOnnxAttention;
  t["com.microsoft::Attention"] = convertMsAttention;
  t["com.microsoft::MultiHeadAttention"] = convertMsMultiHeadAttention;
  t["com.microsoft::GroupQueryAttention"] = convertMsGroupQueryAttention;
}
