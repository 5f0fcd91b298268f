//===- AttentionSemantics.h - attn.attention's visibility rules -*- C++ -*-===//
//
// One definition of the parts of attn.attention's semantics (AttnOps.td)
// that every lowering must agree on and that are not plain arithmetic:
//
//   * which keys a query sees: with `causal`, key k is visible to query q iff
//         k <= q + o            o = 0 (top_left) or Sk - Sq (bottom_right)
//     and, with `window = W`, also k > q + o - W (with `causal_fill` the
//     hidden keys score the fill instead of being removed);
//   * logit soft-capping: s' = c * tanh(s / c) on the scaled score, before
//     the mask;
//   * grouped-query attention: query head h reads key/value head h / G
//     (G = getKvGroupSize()).
//
// The CPU flash kernel (CPU/AttentionKernel.cpp), the generic tiled lowering
// (CPU/LowerAttentionToLoops.cpp) and the GPU kernels (GPU/GpuAttention.cpp)
// all build these from here, so they cannot drift apart. The builders work on
// index values, and `hidden`/`softcap` also on integer/float scalars and
// vectors (the CPU kernel's lanes). Index arithmetic is signed: the
// bottom-right offset Sk - Sq is negative when there are more queries than
// keys (those first rows then see nothing: all scores -inf, NaN rows as
// PyTorch; 0 with nan_to_zero).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_SUPPORT_ATTENTIONSEMANTICS_H
#define ATTN_SUPPORT_ATTENTIONSEMANTICS_H

#include "attn/Dialect/AttnDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/TypeUtilities.h"

#include <optional>

namespace mlir::attn {

struct AttentionRules {
  bool causal = false;
  bool bottomRight = false;
  std::optional<int64_t> window;
  std::optional<double> softcap;
  /// Query heads per key/value head.
  int64_t kvGroup = 1;

  static AttentionRules of(AttentionOp op) {
    AttentionRules r;
    r.causal = op.getCausal();
    r.bottomRight = op.getCausalAlign() == CausalAlign::bottom_right;
    if (std::optional<uint64_t> w = op.getWindow())
      r.window = static_cast<int64_t>(*w);
    if (std::optional<APFloat> c = op.getSoftcap())
      r.softcap = c->convertToDouble();
    r.kvGroup = op.getKvGroupSize();
    return r;
  }

  /// The same, from the op's attributes copied with `prefix` onto another op
  /// (the GPU kernels' placeholder call), and the group size `kvGroup`.
  static AttentionRules fromAttrs(Operation *op, StringRef prefix, int64_t kvGroup) {
    AttentionRules r;
    auto get = [&](StringRef n) { return op->getAttr((prefix + n).str()); };
    r.causal = static_cast<bool>(get("causal"));
    if (auto a = dyn_cast_or_null<CausalAlignAttr>(get("causal_align")))
      r.bottomRight = a.getValue() == CausalAlign::bottom_right;
    if (auto w = dyn_cast_or_null<IntegerAttr>(get("window")))
      r.window = w.getInt();
    if (auto c = dyn_cast_or_null<FloatAttr>(get("softcap")))
      r.softcap = c.getValueAsDouble();
    r.kvGroup = kvGroup;
    return r;
  }

  //===--------------------------------------------------------------------===//
  // Index arithmetic (index type, signed)
  //===--------------------------------------------------------------------===//

  /// The causal offset o: 0 (top_left) or Sk - Sq (bottom_right).
  Value offset(OpBuilder &b, Location loc, Value Sq, Value Sk) const {
    if (!causal || !bottomRight)
      return arith::ConstantIndexOp::create(b, loc, 0);
    return arith::SubIOp::create(b, loc, Sk, Sq);
  }

  /// The first key any query at position >= `qo` - o may see, where `qo` is
  /// the smallest q + o of a block of rows: max(0, qo - W + 1) with a
  /// window, else 0. Not clamped above (callers bound it by keyEnd).
  Value keyBegin(OpBuilder &b, Location loc, Value qoMin) const {
    Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
    if (!causal || !window)
      return c0;
    Value first = arith::SubIOp::create(
        b, loc, qoMin, arith::ConstantIndexOp::create(b, loc, *window - 1));
    return arith::MaxSIOp::create(b, loc, first, c0);
  }

  /// One past the last key the rows of a block may see, where `qoMax` is the
  /// largest q + o among them: clamp(qoMax + 1, 0, Sk) with causal, else Sk.
  Value keyEnd(OpBuilder &b, Location loc, Value qoMax, Value Sk) const {
    if (!causal)
      return Sk;
    Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
    Value end = arith::AddIOp::create(b, loc, qoMax, arith::ConstantIndexOp::create(b, loc, 1));
    return arith::MinSIOp::create(b, loc, arith::MaxSIOp::create(b, loc, end, c0), Sk);
  }

  /// Whether every key of [k0, k1) is visible to every row whose q + o lies
  /// in [qoMin, qoMax] (i1; true without causal): k1 - 1 <= qoMin and, with
  /// a window, k0 > qoMax - W.
  Value allVisible(OpBuilder &b, Location loc, Value k0, Value k1, Value qoMin,
                   Value qoMax) const {
    if (!causal)
      return arith::ConstantIntOp::create(b, loc, 1, 1);
    Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
    Value ok = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle,
                                     arith::SubIOp::create(b, loc, k1, c1), qoMin);
    if (window) {
      Value w = arith::ConstantIndexOp::create(b, loc, *window);
      ok = arith::AndIOp::create(
          b, loc, ok,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, k0,
                                arith::SubIOp::create(b, loc, qoMax, w)));
    }
    return ok;
  }

  /// Whether key `k` is hidden from the query whose q + o is `qo` by the
  /// causal/window rules: k > qo, or (window) k <= qo - W. `k` is an index,
  /// an integer or a vector of integers; `qo` a scalar of k's element type
  /// (broadcast to k's lanes). Null without causal. With causal_fill these
  /// are exactly the positions that score the fill.
  Value hidden(OpBuilder &b, Location loc, Value k, Value qo) const {
    if (!causal)
      return Value();
    auto splat = [&](Value s) -> Value {
      if (auto vt = dyn_cast<VectorType>(k.getType()))
        return vector::BroadcastOp::create(b, loc, vt, s);
      return s;
    };
    Value h = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, k, splat(qo));
    if (window) {
      Type et = getElementTypeOrSelf(qo.getType());
      Value w = et.isIndex() ? Value(arith::ConstantIndexOp::create(b, loc, *window))
                             : Value(arith::ConstantIntOp::create(b, loc, et, *window));
      Value lo = splat(arith::SubIOp::create(b, loc, qo, w));
      h = arith::OrIOp::create(
          b, loc, h, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, k, lo));
    }
    return h;
  }

  /// c * tanh(s / c) on an f32 scalar or vector `s`; `s` unchanged without
  /// softcap. (math.tanh: the polynomial of attn-approximate-math on CPU,
  /// libdevice on the GPU.)
  Value applySoftcap(OpBuilder &b, Location loc, Value s) const {
    if (!softcap)
      return s;
    Type t = s.getType();
    auto c = [&](double v) -> Value {
      Type et = getElementTypeOrSelf(t);
      auto attr = b.getFloatAttr(et, v);
      if (auto vt = dyn_cast<VectorType>(t))
        return arith::ConstantOp::create(b, loc, DenseElementsAttr::get(vt, attr));
      return arith::ConstantOp::create(b, loc, attr);
    };
    Value x = arith::MulFOp::create(b, loc, s, c(1.0 / *softcap));
    return arith::MulFOp::create(b, loc, math::TanhOp::create(b, loc, x), c(*softcap));
  }

  /// The key/value head that query head `h` (index) reads.
  Value kvHead(OpBuilder &b, Location loc, Value h) const {
    if (kvGroup == 1)
      return h;
    return arith::DivUIOp::create(b, loc, h, arith::ConstantIndexOp::create(b, loc, kvGroup));
  }
};

} // namespace mlir::attn

#endif // ATTN_SUPPORT_ATTENTIONSEMANTICS_H
