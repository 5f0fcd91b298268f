//===- Indexing.cpp - attn.gather, attn.gather_elements -> linalg ---------===//
//
// Gather and GatherElements become a linalg.generic reading the data with
// tensor.extract at clamped indices (bad input never reads outside the
// table); a second generic computes the "index out of range" flag that the
// pass returns as the model's status (kIndexCheckAttr).
//
//===----------------------------------------------------------------------===//
#include "ToLinalg/Patterns.h"
#include "Support/LoweringUtils.h"
#include "Support/RuntimeChecks.h"
#include "attn/Dialect/ShapeInference.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::attn;

/// Index `v` (integer) into a dim of size `dim`: negative indices count from
/// the end, out-of-range ones are clamped so that bad input never reads
/// outside the table (checkIndices reports them).
static Value clampIndex(OpBuilder &b, Location l, Value v, Value dim) {
  Value i = toIndex(b, l, v);
  Value zero = arith::ConstantIndexOp::create(b, l, 0);
  Value neg = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, i, zero);
  i = arith::SelectOp::create(b, l, neg, arith::AddIOp::create(b, l, i, dim), i);
  Value last = arith::SubIOp::create(b, l, dim, arith::ConstantIndexOp::create(b, l, 1));
  return arith::MaxSIOp::create(b, l, arith::MinSIOp::create(b, l, i, last), zero);
}

/// Indices outside [-dim, dim) are clamped by clampIndex; the model also
/// reports them (a run then fails with ATTN_MODEL_ERR_INDEX_OUT_OF_RANGE
/// instead of returning silently wrong values, e.g. a sequence longer than
/// a positional-embedding table). Constant indices were checked statically.
/// `bounds` (dim of `indices`, size) adds checks that an index position is
/// below that size (GatherElements: indices may not outgrow data).
static void checkIndices(OpBuilder &rw, Location loc, Value indices, Value axisDim,
                         ArrayRef<std::pair<int64_t, Value>> bounds = {}) {
  DenseElementsAttr constIdx;
  if (bounds.empty() && matchPattern(indices, m_Constant(&constIdx)))
    return;
  int64_t ir = rtype(indices).getRank();
  auto flagType = RankedTensorType::get({}, rw.getI1Type());
  Value init = tensor::EmptyOp::create(rw, loc, ArrayRef<int64_t>{}, rw.getI1Type());
  Value falseV = arith::ConstantIntOp::create(rw, loc, 0, 1);
  Value filled = linalg::FillOp::create(rw, loc, falseV, init).getResult(0);
  SmallVector<AffineMap> cmaps{rw.getMultiDimIdentityMap(ir),
                               AffineMap::get(ir, 0, {}, rw.getContext())};
  SmallVector<utils::IteratorType> citers(ir, utils::IteratorType::reduction);
  auto check = linalg::GenericOp::create(rw,
      loc, TypeRange{flagType}, ValueRange{indices}, ValueRange{filled}, cmaps, citers,
      [&](OpBuilder &b, Location l, ValueRange a) {
        Value i = toI64(b, l, a[0]);
        Value dim = toI64(b, l, axisDim);
        Value low = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, i,
                                            arith::SubIOp::create(b, l, arith::ConstantIntOp::create(b, l, 0, 64), dim));
        Value high = arith::CmpIOp::create(b, l, arith::CmpIPredicate::sge, i, dim);
        Value bad = arith::OrIOp::create(b, l, low, high);
        for (auto [d, size] : bounds)
          bad = arith::OrIOp::create(b,
              l, bad, arith::CmpIOp::create(b, l, arith::CmpIPredicate::sge,
                                              linalg::IndexOp::create(b, l, d), size));
        linalg::YieldOp::create(b, l, ValueRange{arith::OrIOp::create(b, l, a[1], bad).getResult()});
      });
  check->setAttr(kIndexCheckAttr,
                 rw.getStringAttr(describeNodeAt(loc) +
                                  ": an index is out of range (e.g. a Gather index beyond its "
                                  "table)"));
}

namespace {
struct GatherPattern : OpRewritePattern<GatherOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GatherOp op, PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto dt = rtype(op.getData());
    auto idxT = rtype(op.getIndices());
    auto rt = rtype(op.getResult());
    int64_t axis = *normalizeAxis(op.getAxis(), dt.getRank());
    int64_t ir = idxT.getRank(), rank = rt.getRank();
    SmallVector<Value> dd = getDimValues(rw, loc, op.getData());
    SmallVector<Value> id = getDimValues(rw, loc, op.getIndices());
    SmallVector<Value> dims(dd.begin(), dd.begin() + axis);
    dims.append(id.begin(), id.end());
    dims.append(dd.begin() + axis + 1, dd.end());
    Value init = createEmptyTensor(rw, loc, rt, dims);
    MLIRContext *ctx = rw.getContext();
    SmallVector<AffineExpr> ie;
    for (int64_t j = 0; j < ir; ++j)
      ie.push_back(getAffineDimExpr(axis + j, ctx));
    SmallVector<AffineMap> maps{AffineMap::get(rank, 0, ie, ctx),
                                rw.getMultiDimIdentityMap(rank)};
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    Value data = op.getData();
    Value axisDim = dd[axis];
    auto gen = linalg::GenericOp::create(rw,
        loc, TypeRange{rt}, ValueRange{op.getIndices()}, ValueRange{init}, maps,
        iters, [&](OpBuilder &b, Location l, ValueRange a) {
          Value i = clampIndex(b, l, a[0], axisDim);
          SmallVector<Value> idx;
          for (int64_t j = 0; j < axis; ++j)
            idx.push_back(linalg::IndexOp::create(b, l, j));
          idx.push_back(i);
          for (int64_t j = axis + 1; j < dt.getRank(); ++j)
            idx.push_back(linalg::IndexOp::create(b, l, j - 1 + ir));
          linalg::YieldOp::create(b, l, tensor::ExtractOp::create(b, l, data, idx).getResult());
        });
    checkIndices(rw, loc, op.getIndices(), axisDim);
    rw.replaceOp(op, gen.getResult(0));
    return success();
  }
};

/// ONNX GatherElements: a generic over the indices reading data at the
/// element's own position with the axis coordinate replaced (clamped).
struct GatherElementsPattern : OpRewritePattern<GatherElementsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GatherElementsOp op, PatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto dt = rtype(op.getData());
    auto rt = rtype(op.getResult());
    int64_t rank = dt.getRank();
    int64_t axis = *normalizeAxis(op.getAxis(), rank);
    SmallVector<Value> dd = getDimValues(rw, loc, op.getData());
    Value init = createEmptyTensor(rw, loc, rt, getDimValues(rw, loc, op.getIndices()));
    SmallVector<AffineMap> maps{rw.getMultiDimIdentityMap(rank), rw.getMultiDimIdentityMap(rank)};
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    Value data = op.getData(), axisDim = dd[axis];
    // Dims other than axis where the indices may (at run time) be larger
    // than data: their positions are clamped and reported like bad indices.
    auto it = rtype(op.getIndices());
    SmallVector<int64_t> unsafe;
    for (int64_t j = 0; j < rank; ++j)
      if (j != axis && (it.isDynamicDim(j) || dt.isDynamicDim(j)))
        unsafe.push_back(j);
    auto gen = linalg::GenericOp::create(rw,
        loc, TypeRange{rt}, ValueRange{op.getIndices()}, ValueRange{init}, maps, iters,
        [&](OpBuilder &b, Location l, ValueRange a) {
          SmallVector<Value> idx;
          for (int64_t j = 0; j < rank; ++j) {
            if (j == axis) {
              idx.push_back(clampIndex(b, l, a[0], axisDim));
              continue;
            }
            Value p = linalg::IndexOp::create(b, l, j);
            if (llvm::is_contained(unsafe, j))   // never read outside data
              p = arith::MinSIOp::create(b,
                  l, p, arith::SubIOp::create(b, l, dd[j], arith::ConstantIndexOp::create(b, l, 1)));
            idx.push_back(p);
          }
          linalg::YieldOp::create(b, l, tensor::ExtractOp::create(b, l, data, idx).getResult());
        });
    SmallVector<std::pair<int64_t, Value>> bounds;
    for (int64_t j : unsafe)
      bounds.push_back({j, dd[j]});
    checkIndices(rw, loc, op.getIndices(), axisDim, bounds);
    rw.replaceOp(op, gen.getResult(0));
    return success();
  }
};
} // namespace

void attn::populateIndexingPatterns(RewritePatternSet &patterns) {
  patterns.add<GatherPattern, GatherElementsPattern>(patterns.getContext());
}
