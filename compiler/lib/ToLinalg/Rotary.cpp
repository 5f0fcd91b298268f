//===- Rotary.cpp - attn.rotary -> vector kernel or linalg.generic --------===//
//
// attn.rotary (AttnOps.td) with `y = input[..., :R]`:
//
//   result[..., j] = y[j] * cos[j] + sign(j) * y[partner(j)] * sin[j]   (j < R)
//   result[..., j] = input[..., j]                                        (j >= R)
//
// half split: partner(j) = (j + R/2) mod R, sign = -1 for j < R/2;
// interleaved: partner(j) = j xor 1, sign = -1 for even j.
//
// CPU f32 with a vector width (AVX2 8, AVX-512 16) and a static last dim:
// one vector pass over the rows (all dims but the last, in parallel tasks),
// each row read once:
//
//   half split:  for j in [0, R/2) step VW:  x1 = x[j], x2 = x[j + R/2]
//                  out[j] = x1 * cos[j] - x2 * sin[j]
//                  out[j + R/2] = x2 * cos[j + R/2] + x1 * sin[j + R/2]
//   interleaved: for j in [0, R) step VW:  v = x[j..]; swapped pairs of v
//                  out[j..] = v * cos + swap(v) * (sin * [-1, 1, -1, 1, ..])
//   pass:        out[R..D) = x[R..D)
//
// (each loop with a masked tail when its length is not a multiple of VW).
// The cos/sin row of an input row is found through the broadcast: the row
// index is split into the input's outer dims and the dims cos/sin do not
// broadcast over are strided into them.
//
// Otherwise (GPU, other element types, a dynamic last dim): one elementwise
// linalg.generic over `y` reading the partner channel with tensor.extract,
// inserted into the input when R < D.
//
//===----------------------------------------------------------------------===//
#include "ToLinalg/Patterns.h"
#include "Support/LoweringUtils.h"
#include "Support/RuntimeChecks.h"
#include "Support/KernelRegion.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

/// `v` collapsed to 1-D.
Value flatten1d(OpBuilder &b, Location loc, Value v) {
  auto t = rtype(v);
  if (t.getRank() == 1)
    return v;
  SmallVector<ReassociationIndices> re{{}};
  for (int64_t i = 0; i < t.getRank(); ++i)
    re[0].push_back(i);
  return tensor::CollapseShapeOp::create(b, loc, v, re);
}

/// The generic form: any element type, any shapes the verifier allows.
Value buildRotaryGeneric(OpBuilder &b, RotaryOp op) {
  Location loc = op.getLoc();
  Value x = op.getInput();
  auto t = rtype(x);
  int64_t rank = t.getRank();
  int64_t r = rtype(op.getCos()).getShape().back();
  bool partial = t.isDynamicDim(rank - 1) || t.getDimSize(rank - 1) != r;
  SmallVector<Value> dims = getDimValues(b, loc, x);
  Value y = x;
  SmallVector<int64_t> yShape(t.getShape());
  yShape.back() = r;
  auto yType = RankedTensorType::get(yShape, t.getElementType());
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)), sizes, strides(rank, b.getIndexAttr(1));
  for (int64_t i = 0; i < rank; ++i)
    sizes.push_back(i == rank - 1 ? OpFoldResult(b.getIndexAttr(r))
                                  : (t.isDynamicDim(i) ? OpFoldResult(dims[i])
                                                       : OpFoldResult(b.getIndexAttr(t.getDimSize(i)))));
  if (partial)
    y = tensor::ExtractSliceOp::create(b, loc, yType, x, offsets, sizes, strides);
  bool interleaved = op.getInterleaved();
  int64_t h = r / 2;
  Value rot = buildElementwise(
      b, loc, yType, ValueRange{y, op.getCos(), op.getSin()},
      [&](OpBuilder &bb, Location l, ValueRange a) -> Value {
        SmallVector<Value> idx;
        for (int64_t i = 0; i < rank; ++i)
          idx.push_back(linalg::IndexOp::create(bb, l, i));
        Value j = idx.back();
        Value neg; // whether the partner term is subtracted
        if (interleaved) {
          Value one = arith::ConstantIndexOp::create(bb, l, 1);
          idx.back() = arith::XOrIOp::create(bb, l, j, one);
          Value odd = arith::AndIOp::create(bb, l, j, one);
          neg = arith::CmpIOp::create(bb, l, arith::CmpIPredicate::eq, odd,
                                      arith::ConstantIndexOp::create(bb, l, 0));
        } else {
          Value hc = arith::ConstantIndexOp::create(bb, l, h);
          neg = arith::CmpIOp::create(bb, l, arith::CmpIPredicate::ult, j, hc);
          idx.back() = arith::SelectOp::create(bb, l, neg, arith::AddIOp::create(bb, l, j, hc),
                                               arith::SubIOp::create(bb, l, j, hc));
        }
        Value p = tensor::ExtractOp::create(bb, l, y, idx);
        Value xc = arith::MulFOp::create(bb, l, a[0], a[1]);
        Value ps = arith::MulFOp::create(bb, l, p, a[2]);
        return arith::SelectOp::create(bb, l, neg, arith::SubFOp::create(bb, l, xc, ps),
                                       arith::AddFOp::create(bb, l, xc, ps));
      });
  if (!partial)
    return rot;
  return tensor::InsertSliceOp::create(b, loc, rot, x, offsets, sizes, strides);
}

bool canUseRotaryKernel(RotaryOp op, int64_t vw) {
  auto t = rtype(op.getInput());
  return vw > 0 && t.getElementType().isF32() && !t.isDynamicDim(t.getRank() - 1);
}

/// The CPU vector kernel (see the file comment).
Value buildRotaryKernel(OpBuilder &builder, RotaryOp op, int64_t VW) {
  Location loc = op.getLoc();
  ImplicitLocOpBuilder b(loc, builder);
  MLIRContext *ctx = b.getContext();
  Value x = op.getInput();
  auto t = rtype(x);
  int64_t rank = t.getRank();
  int64_t d = t.getShape().back();
  int64_t r = rtype(op.getCos()).getShape().back();
  Type f32 = b.getF32Type();
  auto vecT = VectorType::get({VW}, f32);
  auto maskT = VectorType::get({VW}, b.getI1Type());
  auto cIdx = [&](int64_t v) { return arith::ConstantIndexOp::create(b, v).getResult(); };

  SmallVector<Value> dims = getDimValues(b, loc, x);
  // cos/sin conformed to the input's outer dims (a dynamic 1 expanded).
  SmallVector<Value> target(dims);
  target.back() = cIdx(r);
  std::string node = describeNodeAt(loc);
  Value cosT = materializeDynamicBroadcast(b, loc, op.getCos(), target, node + ": cos");
  Value sinT = materializeDynamicBroadcast(b, loc, op.getSin(), target, node + ": sin");
  auto ct = rtype(cosT);
  int64_t cr = ct.getRank();
  SmallVector<Value> cdims = getDimValues(b, loc, cosT);
  // Stride (in cos elements) of each outer input axis; null where cos broadcasts.
  SmallVector<Value> cstride(rank - 1);
  {
    Value s = cIdx(r);
    for (int64_t k = cr - 2; k >= 0; --k) {
      int64_t i = k + rank - cr;
      if (ct.getDimSize(k) != 1)
        cstride[i] = s;
      s = arith::MulIOp::create(b, s, cdims[k]);
    }
  }

  Value rows = cIdx(1);
  for (int64_t i = 0; i + 1 < rank; ++i)
    rows = arith::MulIOp::create(b, rows, dims[i]);
  Value total = arith::MulIOp::create(b, rows, cIdx(d));

  auto flatType = MemRefType::get({ShapedType::kDynamic}, f32,
                                  StridedLayoutAttr::get(ctx, ShapedType::kDynamic, {1}));
  auto asBuf = [&](Value v) -> Value {
    Value flat = flatten1d(b, loc, v);
    auto dynT = RankedTensorType::get({ShapedType::kDynamic}, f32);
    if (flat.getType() != dynT)
      flat = tensor::CastOp::create(b, dynT, flat);
    return bufferization::ToBufferOp::create(b, flatType, flat, b.getUnitAttr());
  };
  Value in = asBuf(x), cosB = asBuf(cosT), sinB = asBuf(sinT);
  auto outType = MemRefType::get({ShapedType::kDynamic}, f32);
  Value out = memref::AllocOp::create(b, outType, ValueRange{total}, b.getI64IntegerAttr(64));

  int64_t rowsPerTask = std::max<int64_t>(1, 8192 / std::max<int64_t>(d, 1));
  Value numTasks = arith::CeilDivUIOp::create(b, rows, cIdx(rowsPerTask));
  auto forall = scf::ForallOp::create(b, ArrayRef<OpFoldResult>{numTasks}, ValueRange{},
                                      std::nullopt);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(forall.getBody());
    Value r0 = arith::MulIOp::create(b, forall.getInductionVars()[0], cIdx(rowsPerTask));
    Value r1 = arith::MinUIOp::create(b, arith::AddIOp::create(b, r0, cIdx(rowsPerTask)), rows);
    auto rowLoop = scf::ForOp::create(b, r0, r1, cIdx(1));
    b.setInsertionPointToStart(rowLoop.getBody());
    Value row = rowLoop.getInductionVar();
    Value xo = arith::MulIOp::create(b, row, cIdx(d));
    // The cos/sin row: split the row index into the outer dims.
    Value co = cIdx(0), rest = row;
    for (int64_t i = rank - 2; i >= 0; --i) {
      if (!llvm::any_of(ArrayRef<Value>(cstride).take_front(i + 1), [](Value v) { return (bool)v; }))
        break;
      Value idx = i == 0 ? rest : arith::RemUIOp::create(b, rest, dims[i]).getResult();
      if (cstride[i])
        co = arith::AddIOp::create(b, co, arith::MulIOp::create(b, idx, cstride[i]));
      if (i > 0)
        rest = arith::DivUIOp::create(b, rest, dims[i]);
    }
    Value zeroV = arith::ConstantOp::create(b, DenseElementsAttr::get(vecT, 0.0f));

    // `body(j, mask)` over [begin, end) in steps of VW; the last partial
    // step with a mask (null mask: a full step).
    auto loop = [&](int64_t begin, int64_t end, function_ref<void(Value, Value)> body) {
      int64_t n = end - begin, full = n - n % VW;
      if (full > 0) {
        auto f = scf::ForOp::create(b, cIdx(begin), cIdx(begin + full), cIdx(VW));
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(f.getBody());
        body(f.getInductionVar(), Value());
      }
      if (n % VW) {
        Value mask = vector::CreateMaskOp::create(b, maskT, ValueRange{cIdx(n % VW)});
        body(cIdx(begin + full), mask);
      }
    };
    auto load = [&](Value buf, Value base, Value j, Value mask) -> Value {
      Value i = arith::AddIOp::create(b, base, j);
      if (mask)
        return vector::MaskedLoadOp::create(b, vecT, buf, ValueRange{i}, mask, zeroV);
      return vector::LoadOp::create(b, vecT, buf, ValueRange{i});
    };
    auto store = [&](Value v, Value base, Value j, Value mask) {
      Value i = arith::AddIOp::create(b, base, j);
      if (mask)
        vector::MaskedStoreOp::create(b, out, ValueRange{i}, mask, v);
      else
        vector::StoreOp::create(b, v, out, ValueRange{i});
    };
    if (!op.getInterleaved()) {
      int64_t h = r / 2;
      Value hc = cIdx(h);
      loop(0, h, [&](Value j, Value mask) {
        Value j2 = arith::AddIOp::create(b, j, hc);
        Value x1 = load(in, xo, j, mask), x2 = load(in, xo, j2, mask);
        Value c1 = load(cosB, co, j, mask), c2 = load(cosB, co, j2, mask);
        Value s1 = load(sinB, co, j, mask), s2 = load(sinB, co, j2, mask);
        Value o1 = arith::SubFOp::create(b, arith::MulFOp::create(b, x1, c1),
                                         arith::MulFOp::create(b, x2, s1));
        Value o2 = arith::AddFOp::create(b, arith::MulFOp::create(b, x2, c2),
                                         arith::MulFOp::create(b, x1, s2));
        store(o1, xo, j, mask);
        store(o2, xo, j2, mask);
      });
    } else {
      SmallVector<int64_t> swap;
      SmallVector<float> signs;
      for (int64_t i = 0; i < VW; ++i) {
        swap.push_back(i ^ 1);
        signs.push_back(i % 2 ? 1.0f : -1.0f);
      }
      Value signV = arith::ConstantOp::create(b, DenseElementsAttr::get(vecT, ArrayRef<float>(signs)));
      loop(0, r, [&](Value j, Value mask) {
        Value v = load(in, xo, j, mask);
        Value c = load(cosB, co, j, mask), s = load(sinB, co, j, mask);
        Value sw = vector::ShuffleOp::create(b, v, v, swap);
        Value o = arith::AddFOp::create(
            b, loc, arith::MulFOp::create(b, v, c),
            arith::MulFOp::create(b, sw, arith::MulFOp::create(b, s, signV)));
        store(o, xo, j, mask);
      });
    }
    loop(r, d, [&](Value j, Value mask) { store(load(in, xo, j, mask), xo, j, mask); });
  }
  // [rows * D] -> the input's shape.
  auto flatT = RankedTensorType::get({ShapedType::kDynamic}, f32);
  Value result = bufferization::ToTensorOp::create(b, flatT, out, /*restrict=*/true,
                                                   /*writable=*/true);
  if (t.hasStaticShape())
    result = tensor::CastOp::create(b, RankedTensorType::get({t.getNumElements()}, f32), result);
  if (rank == 1)
    return tensor::CastOp::create(b, t, result);
  SmallVector<ReassociationIndices> re{{}};
  SmallVector<OpFoldResult> shape;
  for (int64_t i = 0; i < rank; ++i) {
    re[0].push_back(i);
    shape.push_back(t.isDynamicDim(i) ? OpFoldResult(dims[i]) : b.getIndexAttr(t.getDimSize(i)));
  }
  return tensor::ExpandShapeOp::create(b, t, result, re, shape);
}

struct RotaryPattern : OpRewritePattern<RotaryOp> {
  RotaryPattern(MLIRContext *ctx, int64_t vectorWidth) : OpRewritePattern(ctx), vectorWidth(vectorWidth) {}
  int64_t vectorWidth;
  LogicalResult matchAndRewrite(RotaryOp op, PatternRewriter &rw) const override {
    Value r;
    if (canUseRotaryKernel(op, vectorWidth)) {
      // A function shared by every rotary of this shape (Support/KernelRegion.h).
      scf::ExecuteRegionOp region =
          openKernelRegion(rw, op.getLoc(), "rotary", TypeRange{op.getType()});
      r = closeKernelRegion(rw, region, buildRotaryKernel(rw, op, vectorWidth))[0];
    } else {
      r = buildRotaryGeneric(rw, op);
    }
    if (r.getType() != op.getType())
      r = tensor::CastOp::create(rw, op.getLoc(), op.getType(), r);
    rw.replaceOp(op, r);
    return success();
  }
};

} // namespace

void attn::populateRotaryPatterns(RewritePatternSet &patterns, int64_t vectorWidth) {
  patterns.add<RotaryPattern>(patterns.getContext(), vectorWidth);
}
