//===- Linear.cpp - attn.linear, attn.matmul -> kernels/linalg ------------===//
//
// Linear layers ([b..., K] x [K, N], bias, activation, split results) become
// the CPU matmul vector kernel where it applies, else linalg.matmul with a
// generic epilogue; batched matmuls become one broadcasting generic
// contraction. Contraction dims that are dynamic are checked at run time.
//
//===----------------------------------------------------------------------===//
#include "ToLinalg/Patterns.h"
#include "Support/LoweringUtils.h"
#include "Support/RuntimeChecks.h"
#include "CPU/MatmulKernel.h"
#include "attn/Dialect/ConstantData.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::attn;

/// act(x [b..., K] · w [K, N] + bias), as the results `resultTypes` ([b...,
/// N_i], splitting N in order): the vector kernel when it applies, else
/// linalg.matmul with a generic epilogue, one per result on its columns of
/// the weight (the GPU's tiled kernels fuse the epilogue).
/// Gated: act(x · w[:, :N/2] + bias[:N/2]) * (x · w[:, N/2:] + bias[N/2:]),
/// the results splitting N/2: the kernel's gated epilogue, else two
/// linalg.matmuls (gate, up) and one generic combining them (on the GPU it
/// is fused into the up matmul's kernel).
static SmallVector<Value> lowerLinear(OpBuilder &b, Location loc, Value x, Value w,
                                      Value bias, Activation act,
                                      ArrayRef<Type> resultTypes, int64_t vectorWidth,
                                      bool gated = false) {
  auto xt = rtype(x);
  auto wt = rtype(w);
  Type et = xt.getElementType();
  int64_t rank = xt.getRank();
  // The contraction dims must agree at run time when either is dynamic.
  if (xt.isDynamicDim(rank - 1) || wt.isDynamicDim(0)) {
    SmallVector<Value> target = getDimValues(b, loc, x);
    target.back() = getDimValues(b, loc, w)[0];
    SmallVector<int64_t> skip;
    for (int64_t i = 0; i + 1 < rank; ++i)
      skip.push_back(i);
    x = conformOperand(b, loc, x, target, /*allowBroadcast=*/false,
                       describeNodeAt(loc) + ": the contraction dimension of the input "
                                             "(the weight's rows)",
                       skip);
    xt = rtype(x);
  }
  // [b..., K] -> [M, K]
  SmallVector<ReassociationIndices> re{{}};
  for (int64_t i = 0; i < rank - 1; ++i)
    re[0].push_back(i);
  re.push_back({rank - 1});
  Value a = rank > 2 ? tensor::CollapseShapeOp::create(b, loc, x, re).getResult() : x;
  auto at = rtype(a);
  SmallVector<int64_t> splits;
  for (Type t : resultTypes)
    splits.push_back(cast<RankedTensorType>(t).getShape().back());
  if (resultTypes.size() == 1)
    splits.clear(); // all of N (which may be dynamic here)

  SmallVector<Value> dims = getDimValues(b, loc, a), wdims = getDimValues(b, loc, w);
  // fill + linalg.matmul + a generic epilogue (bias, activation) for the
  // weight columns [col, col + n) (all of them when n < 0).
  auto plainLinear = [&](int64_t col, int64_t n, bool epilogue = true) -> Value {
    Value wc = w, bc = bias, nv = wdims[1];
    int64_t nStatic = wt.getDimSize(1);
    if (n >= 0) {
      SmallVector<OpFoldResult> one{b.getIndexAttr(1), b.getIndexAttr(1)};
      wc = tensor::ExtractSliceOp::create(b,
          loc, w, SmallVector<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(col)},
          SmallVector<OpFoldResult>{wt.isDynamicDim(0) ? OpFoldResult(wdims[0])
                                                       : OpFoldResult(b.getIndexAttr(wt.getDimSize(0))),
                                    b.getIndexAttr(n)},
          one);
      if (bias)
        bc = tensor::ExtractSliceOp::create(b, loc, bias, SmallVector<OpFoldResult>{b.getIndexAttr(col)},
                                              SmallVector<OpFoldResult>{b.getIndexAttr(n)},
                                              SmallVector<OpFoldResult>{b.getIndexAttr(1)});
      nv = arith::ConstantIndexOp::create(b, loc, n);
      nStatic = n;
    }
    auto mmType = RankedTensorType::get({at.getDimSize(0), nStatic}, et);
    // Per result: a fresh buffer each (tensor.empty + fill would be CSE'd
    // into one shared, copied fill).
    Value init = n < 0 ? createEmptyTensor(b, loc, mmType, {dims[0], nv})
                       : bufferization::AllocTensorOp::create(b,
                              loc, mmType, mmType.isDynamicDim(0) ? ValueRange{dims[0]} : ValueRange{})
                             .getResult();
    Value zero = createScalarConstant(b, loc, et, 0);
    Value filled = linalg::FillOp::create(b, loc, zero, init).getResult(0);
    Value mm = linalg::MatmulOp::create(b, loc, TypeRange{mmType}, ValueRange{a, wc},
                                          ValueRange{filled})
                   .getResult(0);
    if (epilogue && (bias || act != Activation::none)) {
      SmallVector<Value> operands{mm};
      if (bc)
        operands.push_back(bc);
      bool hasBias = static_cast<bool>(bc);
      mm = buildElementwise(b, loc, mmType, operands,
                            [&](OpBuilder &bb, Location l, ValueRange v) -> Value {
                              Value y = hasBias ? arith::AddFOp::create(bb, l, v[0], v[1]).getResult()
                                                : v[0];
                              return applyActivation(bb, l, y, act);
                            });
    }
    return mm;
  };

  // Gated without the kernel: gate and up products, then one generic.
  auto gatedLinear = [&]() -> Value {
    int64_t half = wt.getDimSize(1) / 2;
    Value g = plainLinear(0, half, /*epilogue=*/false);
    Value u = plainLinear(half, half, /*epilogue=*/false);
    SmallVector<Value> operands{g, u};
    if (bias)
      for (int64_t col : {int64_t(0), half})
        operands.push_back(tensor::ExtractSliceOp::create(b,
            loc, bias, SmallVector<OpFoldResult>{b.getIndexAttr(col)},
            SmallVector<OpFoldResult>{b.getIndexAttr(half)},
            SmallVector<OpFoldResult>{b.getIndexAttr(1)}));
    bool hasBias = static_cast<bool>(bias);
    return buildElementwise(b, loc, rtype(g), operands,
                            [&](OpBuilder &bb, Location l, ValueRange v) -> Value {
                              Value gv = v[0], uv = v[1];
                              if (hasBias) {
                                gv = arith::AddFOp::create(bb, l, gv, v[2]);
                                uv = arith::AddFOp::create(bb, l, uv, v[3]);
                              }
                              return arith::MulFOp::create(bb, l, applyActivation(bb, l, gv, act), uv);
                            });
  };

  SmallVector<Value> parts;
  // A constant weight is packed at compile time, so the kernel also takes a
  // plain N off its panel width (zero-padded panels, masked tail stores).
  bool wConst = vectorWidth > 0 && getConstantBytes(w).has_value();
  if (canUseMatmulKernel(at, wt, splits, vectorWidth, gated, wConst)) {
    MatmulKernelArgs args{a, w, bias, act, splits};
    args.gated = gated;
    parts = buildMatmulKernel(b, loc, args, vectorWidth);
  } else if (!gated && !splits.empty() && !canUseMatmulKernel(at, wt, {}, vectorWidth, false, wConst)) {
    // No kernel: one matmul per result on its columns of the weight (each
    // result written once, as its own buffer: no copies).
    int64_t col = 0;
    for (int64_t n : splits) {
      parts.push_back(plainLinear(col, n));
      col += n;
    }
  } else {
    // All of N at once (the kernel when only the splits are off its tiles),
    // then each split copied out.
    Value mm;
    if (canUseMatmulKernel(at, wt, {}, vectorWidth, gated, wConst)) {
      MatmulKernelArgs args{a, w, bias, act, {}};
      args.gated = gated;
      mm = buildMatmulKernel(b, loc, args, vectorWidth)[0];
    } else {
      mm = gated ? gatedLinear() : plainLinear(0, -1);
    }
    if (splits.empty()) {
      parts.push_back(mm);
    } else {
      int64_t col = 0;
      for (int64_t n : splits) {
        SmallVector<OpFoldResult> offsets{b.getIndexAttr(0), b.getIndexAttr(col)};
        SmallVector<OpFoldResult> sizes{OpFoldResult(dims[0]), b.getIndexAttr(n)};
        SmallVector<OpFoldResult> strides{b.getIndexAttr(1), b.getIndexAttr(1)};
        Value slice = tensor::ExtractSliceOp::create(b, loc, mm, offsets, sizes, strides);
        // A contiguous copy: each result is its own tensor.
        auto st = RankedTensorType::get({at.getDimSize(0), n}, et);
        Value copyInit = createEmptyTensor(b, loc, st, {dims[0], arith::ConstantIndexOp::create(b, loc, n)});
        parts.push_back(linalg::CopyOp::create(b, loc, slice, copyInit).getResult(0));
        col += n;
      }
    }
  }
  // [M, N_i] -> [b..., N_i]
  SmallVector<Value> results;
  SmallVector<Value> xdims = getDimValues(b, loc, x);
  for (auto [part, type] : llvm::zip(parts, resultTypes)) {
    auto rtT = cast<RankedTensorType>(type);
    Value r = part;
    if (rank > 2) {
      SmallVector<OpFoldResult> outShape;
      for (int64_t i = 0; i < rank; ++i) {
        if (!rtT.isDynamicDim(i))
          outShape.push_back(b.getIndexAttr(rtT.getDimSize(i)));
        else if (i < rank - 1)
          outShape.push_back(xdims[i]);
        else
          outShape.push_back(tensor::DimOp::create(b, loc, part, 1).getResult());
      }
      auto expanded = RankedTensorType::get(
          [&] {
            SmallVector<int64_t> shape(xt.getShape().drop_back());
            shape.push_back(rtype(part).getShape().back());
            return shape;
          }(),
          et);
      r = tensor::ExpandShapeOp::create(b, loc, expanded, part, re, outShape);
    }
    if (r.getType() != rtT)
      r = tensor::CastOp::create(b, loc, rtT, r);
    results.push_back(r);
  }
  return results;
}

namespace {
struct LinearPattern : OpRewritePattern<LinearOp> {
  LinearPattern(MLIRContext *ctx, int64_t vectorWidth, BlobReleaser *releaser)
      : OpRewritePattern(ctx), vectorWidth(vectorWidth), releaser(releaser) {}
  int64_t vectorWidth;
  BlobReleaser *releaser;
  LogicalResult matchAndRewrite(LinearOp op, PatternRewriter &rw) const override {
    SmallVector<Type> types(op.getResultTypes());
    SmallVector<Value> results = lowerLinear(rw, op.getLoc(), op.getInput(), op.getWeight(),
                                             op.getBias(), op.getActivation(), types,
                                             vectorWidth, op.getGated());
    // A weight the kernel packed at compile time is no longer read: its
    // blob goes now, not after the next canonicalization (the release
    // checks that only `op` still uses it).
    if (releaser)
      releaser->release(op.getWeight(), {op});
    rw.replaceOp(op, results);
    return success();
  }
};
} // namespace

namespace {
struct MatmulPattern : OpRewritePattern<MatmulOp> {
  MatmulPattern(MLIRContext *ctx, int64_t vectorWidth, BlobReleaser *releaser)
      : OpRewritePattern(ctx), vectorWidth(vectorWidth), releaser(releaser) {}
  int64_t vectorWidth;
  BlobReleaser *releaser;
  LogicalResult matchAndRewrite(MatmulOp op, PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Value lhs = op.getLhs(), rhs = op.getRhs();
    auto lt = cast<RankedTensorType>(lhs.getType()), rt = cast<RankedTensorType>(rhs.getType());
    auto resultType = cast<RankedTensorType>(rtype(op.getResult()));
    Type et = resultType.getElementType();
    if (lt.getRank() < 2 || rt.getRank() < 2)
      return rw.notifyMatchFailure(op, "1-D matmul operands are reshaped by the frontend");

    Value zero = createScalarConstant(rw, loc, et, 0);
    // Linear layer: [b..., M, K] x [K, N] -> one 2-D matmul on the collapsed rows.
    if (rt.getRank() == 2) {
      SmallVector<Value> results =
          lowerLinear(rw, loc, lhs, rhs, Value(), Activation::none, {resultType}, vectorWidth);
      if (releaser)
        releaser->release(rhs, {op});
      rw.replaceOp(op, results);
      return success();
    }

    // General batched case: broadcast the batch dims, one generic contraction.
    int64_t rank = resultType.getRank(); // batch dims + M + N
    int64_t nb = rank - 2;
    // Batch dims of the result.
    SmallVector<Value> rdims;
    {
      // Dynamic result batch dims: max of aligned operand batch dims.
      SmallVector<Value> ld = getDimValues(rw, loc, lhs), rd = getDimValues(rw, loc, rhs);
      for (int64_t i = 0; i < nb; ++i) {
        if (!resultType.isDynamicDim(i)) {
          rdims.push_back(arith::ConstantIndexOp::create(rw, loc, resultType.getDimSize(i)));
          continue;
        }
        Value d;
        for (auto [t, dv] : {std::pair{lt, &ld}, std::pair{rt, &rd}}) {
          int64_t j = i - (nb - (t.getRank() - 2));
          if (j < 0 || t.getDimSize(j) == 1)
            continue;
          d = d ? arith::MaxUIOp::create(rw, loc, d, (*dv)[j]).getResult() : (*dv)[j];
        }
        rdims.push_back(d ? d : arith::ConstantIndexOp::create(rw, loc, 1).getResult());
      }
      SmallVector<Value> lfull(rdims), rfull(rdims);
      lfull.push_back(ld[lt.getRank() - 2]);
      lfull.push_back(ld[lt.getRank() - 1]);
      rfull.push_back(rd[rt.getRank() - 2]);
      rfull.push_back(rd[rt.getRank() - 1]);
      std::string node = describeNodeAt(loc);
      lhs = materializeDynamicBroadcast(rw, loc, lhs, lfull, node + ": operand 0");
      rhs = materializeDynamicBroadcast(rw, loc, rhs, rfull, node + ": operand 1");
      // The contraction: rhs's K must be lhs's K.
      if (lt.isDynamicDim(lt.getRank() - 1) || rt.isDynamicDim(rt.getRank() - 2)) {
        SmallVector<Value> target = getDimValues(rw, loc, rhs);
        target[rt.getRank() - 2] = ld[lt.getRank() - 1];
        SmallVector<int64_t> skip;
        for (int64_t i = 0; i < rt.getRank(); ++i)
          if (i != rt.getRank() - 2)
            skip.push_back(i);
        rhs = conformOperand(rw, loc, rhs, target, /*allowBroadcast=*/false,
                             node + ": the contraction dimension of operand 1", skip);
      }
      rdims.push_back(ld[lt.getRank() - 2]);
      rdims.push_back(rd[rt.getRank() - 1]);
    }
    MLIRContext *ctx = rw.getContext();
    // Loop dims: batch (nb), m, n, k.
    int64_t nLoops = nb + 3;
    auto mapFor = [&](RankedTensorType t, bool isLhs) {
      SmallVector<AffineExpr> e;
      int64_t tb = t.getRank() - 2;
      for (int64_t j = 0; j < tb; ++j) {
        int64_t i = j + (nb - tb);
        e.push_back(t.getDimSize(j) == 1 ? getAffineConstantExpr(0, ctx)
                                         : getAffineDimExpr(i, ctx));
      }
      if (isLhs) {
        e.push_back(getAffineDimExpr(nb, ctx));
        e.push_back(getAffineDimExpr(nb + 2, ctx));
      } else {
        e.push_back(getAffineDimExpr(nb + 2, ctx));
        e.push_back(getAffineDimExpr(nb + 1, ctx));
      }
      return AffineMap::get(nLoops, 0, e, ctx);
    };
    SmallVector<AffineExpr> outE;
    for (int64_t i = 0; i < nb + 2; ++i)
      outE.push_back(getAffineDimExpr(i, ctx));
    SmallVector<AffineMap> maps{mapFor(lt, true), mapFor(rt, false),
                                AffineMap::get(nLoops, 0, outE, ctx)};
    SmallVector<utils::IteratorType> iters(nb + 2, utils::IteratorType::parallel);
    iters.push_back(utils::IteratorType::reduction);
    Value init = createEmptyTensor(rw, loc, resultType, rdims);
    Value filled = linalg::FillOp::create(rw, loc, zero, init).getResult(0);
    auto gen = linalg::GenericOp::create(rw,
        loc, TypeRange{resultType}, ValueRange{lhs, rhs}, ValueRange{filled},
        maps, iters, [&](OpBuilder &b, Location l, ValueRange a) {
          ArithBuilder ab(b, l);
          linalg::YieldOp::create(b, l, ab.add(a[2], ab.mul(a[0], a[1])));
        });
    rw.replaceOp(op, gen.getResult(0));
    return success();
  }
};
} // namespace

void attn::populateLinearPatterns(RewritePatternSet &patterns, int64_t vectorWidth,
                                  BlobReleaser *releaser) {
  patterns.add<MatmulPattern, LinearPattern>(patterns.getContext(), vectorWidth, releaser);
}
