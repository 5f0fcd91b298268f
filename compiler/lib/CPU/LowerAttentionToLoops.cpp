//===- LowerAttentionToLoops.cpp - attn.attention -> flash loop nest ------===//
//
// attn.attention becomes, on tensors:
//
//   scf.forall (batch..., query tile) shared_outs(out) {
//     m = -inf, l = 0, acc = 0                       // per query row
//     scf.for key tile in [0, causal ? diagonal end : Sk) iter_args(m, l, acc) {
//       s    = Q_tile . K_tileᵀ                      // [tq, tk] only
//       s'   = scale / mask / causal edits (exactly the op's semantics)
//       m'   = max(m, rowmax(s'));  alpha = exp(m - m')
//       p    = exp(s' - m');  l' = alpha l + rowsum(p)
//       acc' = alpha acc + p . V_tile
//     }
//     out[batch, tile] = acc / l                     // deferred normalization
//   }
//
// The Sq x Sk score matrix never exists; memory is O(tile) per iteration.
// A row whose scores are all -inf ends with l = 0 and gives NaN, as PyTorch
// does (0 with nan_to_zero); a row filled with a finite value gives uniform
// weights. With causal_fill the positions causal/window hide score the fill
// value and every key tile is visited.
//
//===----------------------------------------------------------------------===//
#include "CPU/AttentionKernel.h"
#include "Support/AttentionSemantics.h"
#include "Support/LoweringUtils.h"
#include "Support/RuntimeChecks.h"
#include "attn/Compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace mlir::attn {
#define GEN_PASS_DEF_LOWERATTENTIONTOLOOPSPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

using utils::IteratorType;

/// Builds a linalg.generic with the given maps/iterators and a body.
static Value generic(OpBuilder &b, Location loc, Type resultType,
                     ValueRange ins, Value init, ArrayRef<AffineMap> maps,
                     ArrayRef<IteratorType> iters,
                     function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  return linalg::GenericOp::create(b,
          loc, TypeRange{resultType}, ins, ValueRange{init}, maps, iters,
          [&](OpBuilder &bb, Location l, ValueRange a) {
            linalg::YieldOp::create(bb, l, body(bb, l, a));
          })
      .getResult(0);
}

static Value extendTo(OpBuilder &b, Location loc, Value v, Type t) {
  if (v.getType() == t)
    return v;
  if (v.getType().getIntOrFloatBitWidth() < t.getIntOrFloatBitWidth())
    return arith::ExtFOp::create(b, loc, t, v);
  return arith::TruncFOp::create(b, loc, t, v);
}

struct AttentionLowering : OpRewritePattern<AttentionOp> {
  AttentionLowering(MLIRContext *ctx, int64_t tq, int64_t tk,
                    AttentionKernelOptions kernel, bool useKernel)
      : OpRewritePattern(ctx), tileQ(tq), tileK(tk), kernel(kernel),
        useKernel(useKernel) {}

  LogicalResult matchAndRewrite(AttentionOp op, PatternRewriter &rw) const override {
    if (useKernel && canUseAttentionKernel(op, kernel)) {
      FailureOr<Value> r = buildAttentionKernel(rw, op, kernel);
      if (failed(r))
        return failure();
      rw.replaceOp(op, *r);
      return success();
    }
    // The generic lowering reads canonical layouts: explicit transposes.
    op = materializeAttentionLayout(rw, op);
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    Value Q = op.getQuery(), K = op.getKey(), V = op.getValue(), M = op.getMask();
    // Causal offset, window, softcap, GQA heads: Support/AttentionSemantics.h.
    AttentionRules rules = AttentionRules::of(op);
    // K and V must agree with Q (batch dims, head dim) and with each other
    // (keys) at run time: checked, and read clamped when they do not.
    {
      int64_t r = cast<RankedTensorType>(Q.getType()).getRank(), n = r - 2;
      SmallVector<Value> qdim = getDimValues(rw, loc, Q), kdim = getDimValues(rw, loc, K),
                         vdim = getDimValues(rw, loc, V);
      SmallVector<Value> kWant(qdim.begin(), qdim.begin() + n);
      if (rules.kvGroup != 1) // GQA: static key/value heads dividing Q's
        kWant[n - 1] = kdim[n - 1];
      SmallVector<Value> vWant(kWant);
      kWant.push_back(kdim[n]);
      kWant.push_back(qdim[n + 1]);
      vWant.push_back(kdim[n]);
      vWant.push_back(vdim[n + 1]);
      std::string node = describeNode(op);
      K = conformOperand(rw, loc, K, kWant, /*allowBroadcast=*/false, node + ": the key");
      V = conformOperand(rw, loc, V, vWant, /*allowBroadcast=*/false, node + ": the value");
    }
    auto qt = cast<RankedTensorType>(Q.getType());
    auto kt = cast<RankedTensorType>(K.getType());
    auto vt = cast<RankedTensorType>(V.getType());
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Type et = qt.getElementType();
    Type acc = et.getIntOrFloatBitWidth() < 32 ? rw.getF32Type() : et;
    int64_t rank = qt.getRank(), nb = rank - 2;
    double scale = op.getScale().convertToDouble();
    double fill = op.getFillValue().convertToDouble();
    MaskKind kind = op.getMaskKind();
    bool maskFirst = op.getMaskFirst(), causal = op.getCausal();
    std::optional<double> causalFill;
    if (std::optional<APFloat> f = op.getCausalFill())
      causalFill = f->convertToDouble();
    bool nanToZero = op.getNanToZero();

    SmallVector<Value> qd = getDimValues(rw, loc, Q), kd = getDimValues(rw, loc, K),
                       vd = getDimValues(rw, loc, V);
    Value Sq = qd[nb], Sk = kd[nb], D = qd[nb + 1], Dv = vd[nb + 1];
    SmallVector<Value> outDims(qd.begin(), qd.begin() + nb);
    outDims.push_back(Sq);
    outDims.push_back(Dv);
    // Batch dims of the result come from whichever operand knows them.
    Value out = createEmptyTensor(rw, loc, resultType, outDims);

    // The mask's dynamic dims must equal the scores' dims (or be static 1).
    if (M) {
      SmallVector<Value> scoreDims(qd.begin(), qd.begin() + nb + 1);
      scoreDims.push_back(Sk);
      M = materializeDynamicBroadcast(rw, loc, M, scoreDims, describeNode(op) + ": the mask");
    }

    Value c0 = arith::ConstantIndexOp::create(rw, loc, 0);
    Value cTQ = arith::ConstantIndexOp::create(rw, loc, tileQ);
    Value cTK = arith::ConstantIndexOp::create(rw, loc, tileK);
    Value numQT = arith::CeilDivUIOp::create(rw, loc, Sq, cTQ);

    SmallVector<OpFoldResult> ubs;
    for (int64_t i = 0; i < nb; ++i)
      ubs.push_back(qd[i]);
    ubs.push_back(numQT);
    auto forall = scf::ForallOp::create(rw, loc, ubs, ValueRange{out}, std::nullopt);
    OpBuilder::InsertionGuard guard(rw);
    rw.setInsertionPointToStart(forall.getBody());
    SmallVector<Value> ivs = forall.getInductionVars();
    Value qs = arith::MulIOp::create(rw, loc, ivs[nb], cTQ);
    Value tq = arith::MinUIOp::create(rw, loc, cTQ, arith::SubIOp::create(rw, loc, Sq, qs));

    auto dyn = ShapedType::kDynamic;
    // A [rows, cols] slice of a [batch..., S, X] operand at (batch ivs, row0).
    // K/V slices read key/value head h / G for query head h.
    auto slice2d = [&](Value src, Value row0, Value rows, Value cols,
                       int64_t staticCols, bool kv = false) -> Value {
      SmallVector<OpFoldResult> offs, sizes, strides(rank, rw.getIndexAttr(1));
      for (int64_t i = 0; i < nb; ++i) {
        offs.push_back(kv && i == nb - 1 ? rules.kvHead(rw, loc, ivs[i]) : ivs[i]);
        sizes.push_back(rw.getIndexAttr(1));
      }
      offs.push_back(row0);
      offs.push_back(rw.getIndexAttr(0));
      sizes.push_back(getAsOpFoldResult(rows));
      sizes.push_back(getAsOpFoldResult(cols));
      auto t = RankedTensorType::get(
          {dyn, staticCols},
          cast<RankedTensorType>(src.getType()).getElementType());
      return tensor::ExtractSliceOp::create(rw, loc, t, src, offs, sizes, strides);
    };
    Value qTile = slice2d(Q, qs, tq, D, qt.getDimSize(rank - 1));

    auto vec = RankedTensorType::get({dyn}, acc);
    auto accType = RankedTensorType::get({dyn, vt.getDimSize(rank - 1)}, acc);
    auto sType = RankedTensorType::get({dyn, dyn}, acc);
    auto fillT = [&](RankedTensorType t, ArrayRef<Value> dims, double v) {
      Value e = createEmptyTensor(rw, loc, t, dims);
      return linalg::FillOp::create(rw, loc, createScalarConstant(rw, loc, acc, v), e)
          .getResult(0);
    };
    Value mInit = fillT(vec, {tq}, -INFINITY);
    Value lInit = fillT(vec, {tq}, 0.0);
    Value accInit = fillT(accType, {tq, Dv}, 0.0);

    // Causal: key tiles beyond the last query row of this tile are skipped
    // (not with causal_fill: those positions score the fill value); with a
    // window, also those before the first row's window.
    Value causalOff = rules.offset(rw, loc, Sq, Sk);
    Value kEnd = Sk, kBegin = c0;
    if (causal && !causalFill) {
      Value qoMax = arith::AddIOp::create(
          rw, loc, arith::SubIOp::create(rw, loc, arith::AddIOp::create(rw, loc, qs, tq),
                                         arith::ConstantIndexOp::create(rw, loc, 1)),
          causalOff);
      kEnd = rules.keyEnd(rw, loc, qoMax, Sk);
      if (rules.window)
        kBegin = arith::MinSIOp::create(
            rw, loc, rules.keyBegin(rw, loc, arith::AddIOp::create(rw, loc, qs, causalOff)), kEnd);
    }

    AffineExpr d0 = getAffineDimExpr(0, ctx), d1 = getAffineDimExpr(1, ctx),
               d2 = getAffineDimExpr(2, ctx);
    auto map = [&](unsigned n, ArrayRef<AffineExpr> e) {
      return AffineMap::get(n, 0, e, ctx);
    };
    IteratorType P = IteratorType::parallel, R = IteratorType::reduction;

    auto loop = scf::ForOp::create(rw,
        loc, kBegin, kEnd, cTK, ValueRange{mInit, lInit, accInit},
        [&](OpBuilder &b, Location l, Value ks, ValueRange iter) {
          Value m = iter[0], lsum = iter[1], accT = iter[2];
          Value tk = arith::MinUIOp::create(b, l, cTK, arith::SubIOp::create(b, l, kEnd, ks));
          OpBuilder::InsertionGuard g(rw);
          rw.setInsertionPoint(b.getInsertionBlock(), b.getInsertionPoint());
          Value kTile = slice2d(K, ks, tk, D, kt.getDimSize(rank - 1), /*kv=*/true);
          Value vTile = slice2d(V, ks, tk, Dv, vt.getDimSize(rank - 1), /*kv=*/true);

          // s = q . kᵀ
          Value sInit = fillT(sType, {tq, tk}, 0.0);
          Value s = generic(b, l, sType, ValueRange{qTile, kTile}, sInit,
                            {map(3, {d0, d2}), map(3, {d1, d2}), map(3, {d0, d1})},
                            {P, P, R}, [&](OpBuilder &bb, Location bl, ValueRange a) -> Value {
                              Value x = extendTo(bb, bl, a[0], acc);
                              Value y = extendTo(bb, bl, a[1], acc);
                              return arith::AddFOp::create(bb, bl, a[2], arith::MulFOp::create(bb, bl, x, y));
                            });

          // s' = scale, mask and causal edits.
          SmallVector<Value> ins{s};
          SmallVector<AffineMap> maps{map(2, {d0, d1})};
          if (M) {
            auto mt = cast<RankedTensorType>(M.getType());
            int64_t mr = mt.getRank(), off = rank - mr;
            SmallVector<OpFoldResult> offs, sizes, strides(mr, b.getIndexAttr(1));
            SmallVector<AffineExpr> me;
            SmallVector<int64_t> shape;
            for (int64_t j = 0; j < mr; ++j) {
              int64_t i = j + off;
              bool one = mt.getDimSize(j) == 1;
              if (one || i < nb) {
                offs.push_back(one ? OpFoldResult(b.getIndexAttr(0)) : OpFoldResult(ivs[i]));
                sizes.push_back(b.getIndexAttr(1));
                shape.push_back(1);
                me.push_back(getAffineConstantExpr(0, ctx));
              } else {
                offs.push_back(i == nb ? qs : ks);
                sizes.push_back(i == nb ? tq : tk);
                shape.push_back(dyn);
                me.push_back(i == nb ? d0 : d1);
              }
            }
            auto tt = RankedTensorType::get(shape, mt.getElementType());
            ins.push_back(tensor::ExtractSliceOp::create(b, l, tt, M, offs, sizes, strides));
            maps.push_back(map(2, me));
          }
          maps.push_back(map(2, {d0, d1}));
          Value sInit2 = createEmptyTensor(b, l, sType, {tq, tk});
          Value s2 = generic(
              b, l, sType, ins, sInit2, maps, {P, P},
              [&](OpBuilder &bb, Location bl, ValueRange a) -> Value {
                Value v = a[0];
                Value sc = createScalarConstant(bb, bl, acc, scale);
                auto applyMask = [&](Value x) -> Value {
                  Value mv = a[1];
                  if (kind == MaskKind::additive)
                    return arith::AddFOp::create(bb, bl, x, extendTo(bb, bl, mv, acc));
                  Value isZero;
                  Type mt = mv.getType();
                  if (isa<FloatType>(mt))
                    isZero = arith::CmpFOp::create(bb, bl, arith::CmpFPredicate::OEQ, mv,
                                                      createScalarConstant(bb, bl, mt, 0));
                  else
                    isZero = arith::CmpIOp::create(bb,
                        bl, arith::CmpIPredicate::eq, mv,
                        arith::ConstantOp::create(bb, bl, bb.getIntegerAttr(mt, 0)));
                  Value f = createScalarConstant(bb, bl, acc, fill);
                  return kind == MaskKind::fill_if_zero
                             ? arith::SelectOp::create(bb, bl, isZero, f, x).getResult()
                             : arith::SelectOp::create(bb, bl, isZero, x, f).getResult();
                };
                if (kind != MaskKind::none && maskFirst) {
                  v = arith::MulFOp::create(bb, bl, applyMask(v), sc);
                } else {
                  v = arith::MulFOp::create(bb, bl, v, sc);
                  v = rules.applySoftcap(bb, bl, v); // before the mask
                  if (kind != MaskKind::none)
                    v = applyMask(v);
                }
                if (causal) {
                  Value qi = arith::AddIOp::create(bb, bl, qs, linalg::IndexOp::create(bb, bl, 0));
                  Value ki = arith::AddIOp::create(bb, bl, ks, linalg::IndexOp::create(bb, bl, 1));
                  Value qo = arith::AddIOp::create(bb, bl, qi, causalOff);
                  // causal_fill: every hidden position (future, or before
                  // the window) scores the fill.
                  Value hidden = rules.hidden(bb, bl, ki, qo);
                  v = arith::SelectOp::create(bb,
                      bl, hidden, createScalarConstant(bb, bl, acc, causalFill.value_or(-INFINITY)),
                      v);
                }
                return v;
              });

          // Online softmax update.
          Value rowMax = generic(b, l, vec, ValueRange{s2}, fillT(vec, {tq}, -INFINITY),
                                 {map(2, {d0, d1}), map(2, {d0})}, {P, R},
                                 [](OpBuilder &bb, Location bl, ValueRange a) -> Value {
                                   return arith::MaximumFOp::create(bb, bl, a[0], a[1]);
                                 });
          // m' = max(m, rowmax); the safe version is 0 where m' = -inf so that
          // fully masked prefixes give exp(-inf) = 0 rather than NaN.
          auto safe = [&](OpBuilder &bb, Location bl, Value x) -> Value {
            Value ninf = createScalarConstant(bb, bl, acc, -INFINITY);
            Value isNinf = arith::CmpFOp::create(bb, bl, arith::CmpFPredicate::OEQ, x, ninf);
            return arith::SelectOp::create(bb, bl, isNinf, createScalarConstant(bb, bl, acc, 0), x);
          };
          Value mNew = generic(b, l, vec, ValueRange{m, rowMax}, createEmptyTensor(b, l, vec, {tq}),
                               {map(1, {d0}), map(1, {d0}), map(1, {d0})}, {P},
                               [](OpBuilder &bb, Location bl, ValueRange a) -> Value {
                                 return arith::MaximumFOp::create(bb, bl, a[0], a[1]);
                               });
          Value alpha = generic(b, l, vec, ValueRange{m, mNew}, createEmptyTensor(b, l, vec, {tq}),
                                {map(1, {d0}), map(1, {d0}), map(1, {d0})}, {P},
                                [&](OpBuilder &bb, Location bl, ValueRange a) -> Value {
                                  return math::ExpOp::create(bb,
                                      bl, arith::SubFOp::create(bb, bl, a[0], safe(bb, bl, a[1])));
                                });
          Value p = generic(b, l, sType, ValueRange{s2, mNew}, createEmptyTensor(b, l, sType, {tq, tk}),
                            {map(2, {d0, d1}), map(2, {d0}), map(2, {d0, d1})}, {P, P},
                            [&](OpBuilder &bb, Location bl, ValueRange a) -> Value {
                              return math::ExpOp::create(bb,
                                  bl, arith::SubFOp::create(bb, bl, a[0], safe(bb, bl, a[1])));
                            });
          Value rowSum = generic(b, l, vec, ValueRange{p}, fillT(vec, {tq}, 0.0),
                                 {map(2, {d0, d1}), map(2, {d0})}, {P, R},
                                 [](OpBuilder &bb, Location bl, ValueRange a) -> Value {
                                   return arith::AddFOp::create(bb, bl, a[0], a[1]);
                                 });
          Value lNew = generic(b, l, vec, ValueRange{lsum, alpha, rowSum},
                               createEmptyTensor(b, l, vec, {tq}),
                               {map(1, {d0}), map(1, {d0}), map(1, {d0}), map(1, {d0})}, {P},
                               [](OpBuilder &bb, Location bl, ValueRange a) -> Value {
                                 return arith::AddFOp::create(bb,
                                     bl, arith::MulFOp::create(bb, bl, a[0], a[1]), a[2]);
                               });
          Value accScaled = generic(b, l, accType, ValueRange{alpha}, accT,
                                    {map(2, {d0}), map(2, {d0, d1})}, {P, P},
                                    [](OpBuilder &bb, Location bl, ValueRange a) -> Value {
                                      return arith::MulFOp::create(bb, bl, a[1], a[0]);
                                    });
          Value accNew = generic(b, l, accType, ValueRange{p, vTile}, accScaled,
                                 {map(3, {d0, d2}), map(3, {d2, d1}), map(3, {d0, d1})},
                                 {P, P, R}, [&](OpBuilder &bb, Location bl, ValueRange a) -> Value {
                                   Value y = extendTo(bb, bl, a[1], acc);
                                   return arith::AddFOp::create(bb,
                                       bl, a[2], arith::MulFOp::create(bb, bl, a[0], y));
                                 });
          scf::YieldOp::create(b, l, ValueRange{mNew, lNew, accNew});
        });

    // out = acc / l
    auto tileType = RankedTensorType::get({dyn, vt.getDimSize(rank - 1)}, et);
    Value outTile = generic(
        rw, loc, tileType, ValueRange{loop.getResult(2), loop.getResult(1)},
        createEmptyTensor(rw, loc, tileType, {tq, Dv}),
        {map(2, {d0, d1}), map(2, {d0}), map(2, {d0, d1})}, {P, P},
        [&](OpBuilder &bb, Location bl, ValueRange a) -> Value {
          Value o = arith::DivFOp::create(bb, bl, a[0], a[1]);
          if (nanToZero) {
            // l > 0 fails exactly for the rows whose weights are NaN (l = 0:
            // every score -inf; l = NaN: a NaN or +inf score).
            Value ok = arith::CmpFOp::create(bb, bl, arith::CmpFPredicate::OGT, a[1],
                                                createScalarConstant(bb, bl, acc, 0.0));
            o = arith::SelectOp::create(bb, bl, ok, o, createScalarConstant(bb, bl, acc, 0.0));
          }
          return extendTo(bb, bl, o, et);
        });

    rw.setInsertionPointToStart(forall.getTerminator().getBody());
    SmallVector<OpFoldResult> offs, sizes, strides(rank, rw.getIndexAttr(1));
    for (int64_t i = 0; i < nb; ++i) {
      offs.push_back(ivs[i]);
      sizes.push_back(rw.getIndexAttr(1));
    }
    offs.push_back(qs);
    offs.push_back(rw.getIndexAttr(0));
    sizes.push_back(tq);
    sizes.push_back(getAsOpFoldResult(Dv));
    tensor::ParallelInsertSliceOp::create(rw, loc, outTile, forall.getRegionOutArgs()[0],
                                             offs, sizes, strides);
    rw.replaceOp(op, forall.getResult(0));
    return success();
  }

  int64_t tileQ, tileK;
  AttentionKernelOptions kernel;
  bool useKernel;
};

struct LowerAttentionToLoopsPass
    : attn::impl::LowerAttentionToLoopsPassBase<LowerAttentionToLoopsPass> {
  using Base::Base;
  void runOnOperation() override {
    if (queryTile <= 0 || keyTile <= 0) {
      getOperation().emitError("attn-lower-attention: tile sizes must be positive");
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    AttentionKernelOptions kernel;
    kernel.vectorWidth = vectorWidth;
    kernel.queryBlock = queryTile;
    kernel.keyBlock = keyTile;
    patterns.add<AttentionLowering>(&getContext(), queryTile, keyTile, kernel,
                                    vectorWidth > 0);
    // One walk, no dead-code elimination: the run-time check markers the
    // lowering records (RuntimeChecks.h) have no users until
    // attn-lower-to-linalg folds them into the status result.
    walkAndApplyPatterns(getOperation(), std::move(patterns));
  }
};
} // namespace
