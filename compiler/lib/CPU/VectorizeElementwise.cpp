//===- VectorizeElementwise.cpp - elementwise linalg.generic as vector loops --===//
//
// What is left of a model after the fused kernels (residual adds of pre-LN
// blocks, embedding sums, casts, unfused softmax/normalization steps, mask
// arithmetic) lowers to all-parallel linalg.generic ops, which
// convert-linalg-to-loops turns into scalar, single-threaded loops. This
// pass writes such a generic directly as a vector loop over rows x columns:
//
//   forall row chunks (when the op is large enough to share):
//     for each row: per-row operands loaded once (splat)
//       for j in 0..n step VW: body on vector<VW x T> (loads, clone of the
//                              scalar body with vector types, store)
//       tail: the same with a mask (maskedload / maskedstore)
//
// Operands must be one of: the full shape (identity map), broadcast over the
// rows (the innermost dim only: a bias), broadcast along the columns (the
// outer dims only: a per-row statistic), or a single element. Full and
// column operands are viewed as [rows, n] / [n] through a 1-D collapse
// (bufferization copies a non-contiguous operand there), so vector loads
// always see unit stride. The body may hold arith and math ops only. Others
// (reductions, index-dependent bodies, bool results) stay as they are.
//
//===----------------------------------------------------------------------===//
#include "Support/LoweringUtils.h"
#include "attn/Compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::attn {
#define GEN_PASS_DEF_VECTORIZEELEMENTWISEPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr int64_t kMinElements = 64;        // smaller ops (shape arithmetic) stay scalar
constexpr int64_t kTaskElements = 256 * 1024; // elements per parallel task

enum class Kind { Full, Columns, Rows, Scalar };

/// How input `map` reads the r-dim iteration space, or nullopt.
std::optional<Kind> classify(AffineMap map, int64_t r) {
  if (map.isIdentity() && map.getNumResults() == r)
    return Kind::Full;
  ArrayRef<AffineExpr> res = map.getResults();
  auto isZero = [](AffineExpr e) {
    auto c = dyn_cast<AffineConstantExpr>(e);
    return c && c.getValue() == 0;
  };
  auto isDim = [](AffineExpr e, int64_t d) {
    auto de = dyn_cast<AffineDimExpr>(e);
    return de && de.getPosition() == d;
  };
  if (llvm::all_of(res, isZero))
    return Kind::Scalar;
  // [0.., d_{r-1}]: a vector over the columns.
  if (!res.empty() && isDim(res.back(), r - 1) && llvm::all_of(res.drop_back(), isZero))
    return Kind::Columns;
  // [d0, .., d_{r-2}] or [d0, .., d_{r-2}, 0]: one value per row.
  ArrayRef<AffineExpr> outer = res;
  if (!outer.empty() && isZero(outer.back()))
    outer = outer.drop_back();
  if ((int64_t)outer.size() == r - 1 && r > 1) {
    bool ok = true;
    for (int64_t i = 0; i < r - 1; ++i)
      ok = ok && isDim(outer[i], i);
    if (ok)
      return Kind::Rows;
  }
  return std::nullopt;
}

bool vectorizableBody(linalg::GenericOp g) {
  // A static 0 dim (beside dynamic ones) has nothing to vectorize, and its
  // flat views would fold to a static 0 that memref.collapse_shape rejects
  // for groups with dynamic dims: the generic stays a (zero-trip) loop nest.
  for (Value v : g->getOperands())
    if (auto t = dyn_cast<RankedTensorType>(v.getType()); t && llvm::is_contained(t.getShape(), 0))
      return false;
  Block &body = g.getRegion().front();
  // The output's current value must not be read.
  if (!body.getArgument(body.getNumArguments() - 1).use_empty())
    return false;
  for (Operation &op : body.without_terminator()) {
    Dialect *d = op.getDialect();
    if (!d || !isa<arith::ArithDialect, math::MathDialect>(d) || op.getNumRegions() != 0)
      return false;
    // Integer powers become calls to generated scalar functions later.
    if (isa<math::IPowIOp, math::FPowIOp>(op))
      return false;
    for (Type t : op.getResultTypes())
      if (!t.isIntOrIndexOrFloat() || t.isIndex())
        return false;
  }
  return true;
}

struct Vectorizer {
  OpBuilder &b;
  Location loc;
  linalg::GenericOp g;
  int64_t VW;

  Value cIdx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  /// 1-D view (all elements, row-major) of a tensor: bufferization copies a
  /// non-contiguous one, so the buffer has unit stride.
  Value flat(Value v) {
    auto t = cast<RankedTensorType>(v.getType());
    if (t.getRank() == 1)
      return v;
    if (t.getRank() == 0)
      return tensor::ExpandShapeOp::create(b, loc, RankedTensorType::get({1}, t.getElementType()), v,
                                             ArrayRef<ReassociationIndices>{},
                                             ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
    ReassociationIndices all;
    for (int64_t i = 0; i < t.getRank(); ++i)
      all.push_back(i);
    return tensor::CollapseShapeOp::create(b, loc, v, ArrayRef<ReassociationIndices>{all});
  }

  Value toBuffer(Value tensor, ArrayRef<int64_t> shape, ArrayRef<int64_t> strides) {
    auto t = cast<RankedTensorType>(tensor.getType());
    auto mt = MemRefType::get(shape, t.getElementType(),
                              StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides));
    return bufferization::ToBufferOp::create(b, loc, mt, tensor, b.getUnitAttr());
  }

  /// The body with each block argument replaced by `args` (vectors of VW
  /// lanes, or scalars when `vt` is null), returning the yielded value.
  Value emitBody(ArrayRef<Value> args, Type resultType) {
    Block &body = g.getRegion().front();
    IRMapping map;
    for (auto [a, v] : llvm::zip(body.getArguments(), args))
      map.map(a, v);
    auto vectorOf = [&](Type t) -> Type {
      if (auto vt = dyn_cast<VectorType>(resultType))
        return VectorType::get(vt.getShape(), t);
      return t;
    };
    // A value of the body, or one defined outside it (the same for every
    // element: broadcast).
    auto mapped = [&](Value o) -> Value {
      if (Value m = map.lookupOrNull(o))
        return m;
      return isa<VectorType>(resultType)
                 ? vector::BroadcastOp::create(b, loc, vectorOf(o.getType()), o).getResult()
                 : o;
    };
    for (Operation &op : body.without_terminator()) {
      if (auto c = dyn_cast<arith::ConstantOp>(op)) {
        Value v = isa<VectorType>(resultType)
                      ? arith::ConstantOp::create(b,
                             loc, DenseElementsAttr::get(cast<ShapedType>(vectorOf(c.getType())),
                                                         c.getValue()))
                            .getResult()
                      : arith::ConstantOp::create(b, loc, c.getValue()).getResult();
        map.map(c.getResult(), v);
        continue;
      }
      SmallVector<Value> operands;
      for (Value o : op.getOperands())
        operands.push_back(mapped(o));
      SmallVector<Type> types;
      for (Type t : op.getResultTypes())
        types.push_back(vectorOf(t));
      OperationState st(loc, op.getName(), operands, types, op.getAttrs());
      Operation *clone = b.create(st);
      for (auto [o, n] : llvm::zip(op.getResults(), clone->getResults()))
        map.map(o, n);
    }
    return mapped(body.getTerminator()->getOperand(0));
  }

  LogicalResult run() {
    int64_t r = g.getNumLoops();
    auto outType = cast<RankedTensorType>(g.getResultTypes()[0]);
    Type et = outType.getElementType();
    if (r < 1 || !et.isIntOrFloat() || et.getIntOrFloatBitWidth() < 8 ||
        et.getIntOrFloatBitWidth() > 64)
      return failure();
    if (outType.hasStaticShape() && outType.getNumElements() < kMinElements)
      return failure();
    SmallVector<Kind> kinds;
    for (OpOperand *in : g.getDpsInputOperands()) {
      auto k = classify(g.getMatchingIndexingMap(in), r);
      auto t = dyn_cast<RankedTensorType>(in->get().getType());
      if (!k || !t || !t.getElementType().isIntOrFloat())
        return failure();
      // Bools are bytes in memory but bits in vectors: only as row values.
      if (t.getElementType().isInteger(1) && (*k == Kind::Full || *k == Kind::Columns))
        return failure();
      kinds.push_back(*k);
    }
    if (!g.getIndexingMapsArray().back().isIdentity() || !vectorizableBody(g))
      return failure();

    // Iteration space: rows x n.
    Value init = g.getDpsInits()[0];
    SmallVector<Value> dims = getDimValues(b, loc, init);
    Value n = dims[r - 1], rows = cIdx(1);
    int64_t nS = outType.getDimSize(r - 1), rowsS = 1;
    for (int64_t i = 0; i + 1 < r; ++i) {
      rows = arith::MulIOp::create(b, loc, rows, dims[i]);
      rowsS = outType.isDynamicDim(i) || ShapedType::isDynamic(rowsS) ? ShapedType::kDynamic
                                                                       : rowsS * outType.getDimSize(i);
    }
    int64_t rowStride = ShapedType::isDynamic(nS) ? ShapedType::kDynamic : nS;
    auto rowsView = [&](Value v) {
      Value f = flat(v);
      auto ft = cast<RankedTensorType>(f.getType());
      Value t2 = tensor::ExpandShapeOp::create(b,
          loc, RankedTensorType::get({rowsS, nS}, ft.getElementType()), f,
          ArrayRef<ReassociationIndices>{{0, 1}},
          ArrayRef<OpFoldResult>{ShapedType::isDynamic(rowsS) ? OpFoldResult(rows)
                                                               : OpFoldResult(b.getIndexAttr(rowsS)),
                                 ShapedType::isDynamic(nS) ? OpFoldResult(n)
                                                           : OpFoldResult(b.getIndexAttr(nS))});
      return toBuffer(t2, {rowsS, nS}, {rowStride, 1});
    };
    SmallVector<Value> bufs;
    for (auto [in, k] : llvm::zip(g.getDpsInputOperands(), kinds)) {
      Value v = in->get();
      switch (k) {
      case Kind::Full:
        bufs.push_back(rowsView(v));
        break;
      case Kind::Columns:
        bufs.push_back(toBuffer(flat(v), {nS}, {1}));
        break;
      case Kind::Rows:
        bufs.push_back(toBuffer(flat(v), {rowsS}, {1}));
        break;
      case Kind::Scalar: {
        auto t = cast<RankedTensorType>(v.getType());
        SmallVector<Value> zeros(t.getRank(), cIdx(0));
        bufs.push_back(tensor::ExtractOp::create(b, loc, v, zeros));
        break;
      }
      }
    }
    SmallVector<Value> dyn;
    if (ShapedType::isDynamic(rowsS))
      dyn.push_back(rows);
    if (ShapedType::isDynamic(nS))
      dyn.push_back(n);
    Value out = memref::AllocOp::create(b, loc, MemRefType::get({rowsS, nS}, et), dyn,
                                          b.getI64IntegerAttr(64));

    Value c0 = cIdx(0), c1 = cIdx(1), cVW = cIdx(VW);
    auto vecOf = [&](Type t) { return VectorType::get({VW}, t); };
    auto rowLoop = [&](Value r0, Value r1) {
      auto loop = scf::ForOp::create(b, loc, r0, r1, c1);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value row = loop.getInductionVar();
      SmallVector<Value> rowVals(bufs.size());
      for (auto [i, k] : llvm::enumerate(kinds)) {
        if (k == Kind::Rows)
          rowVals[i] = memref::LoadOp::create(b, loc, bufs[i], ValueRange{row});
        else if (k == Kind::Scalar)
          rowVals[i] = bufs[i];
      }
      // j: full vectors, then one masked tail.
      Value full = arith::MulIOp::create(b, loc, arith::DivUIOp::create(b, loc, n, cVW), cVW);
      auto operandsAt = [&](Value j, Value mask) {
        SmallVector<Value> args;
        for (auto [i, k] : llvm::enumerate(kinds)) {
          Type it = cast<MemRefType>(bufs[i].getType()).getElementType();
          if (k == Kind::Rows || k == Kind::Scalar) {
            Value s = rowVals[i];
            args.push_back(vector::BroadcastOp::create(b, loc, vecOf(s.getType()), s));
            continue;
          }
          SmallVector<Value> idx = k == Kind::Full ? SmallVector<Value>{row, j} : SmallVector<Value>{j};
          if (!mask) {
            args.push_back(vector::LoadOp::create(b, loc, vecOf(it), bufs[i], idx));
          } else {
            // Lanes past the end compute on 1s: no integer division by 0.
            Value pass = createScalarConstant(b, loc, vecOf(it), 1.0);
            args.push_back(vector::MaskedLoadOp::create(b, loc, vecOf(it), bufs[i], idx, mask, pass));
          }
        }
        args.push_back(createScalarConstant(b, loc, vecOf(et), 0.0)); // the (unread) output
        return args;
      };
      {
        auto jl = scf::ForOp::create(b, loc, c0, full, cVW);
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(jl.getBody());
        Value j = jl.getInductionVar();
        Value v = emitBody(operandsAt(j, Value()), vecOf(et));
        vector::StoreOp::create(b, loc, v, out, ValueRange{row, j});
      }
      Value rest = arith::SubIOp::create(b, loc, n, full);
      auto tail = scf::IfOp::create(b,
          loc, arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, rest, c0), false);
      OpBuilder::InsertionGuard g3(b);
      b.setInsertionPointToStart(&tail.getThenRegion().front());
      Value mask = vector::CreateMaskOp::create(b, loc, VectorType::get({VW}, b.getI1Type()),
                                                  ValueRange{rest});
      Value v = emitBody(operandsAt(full, mask), vecOf(et));
      vector::MaskedStoreOp::create(b, loc, out, ValueRange{row, full}, mask, v);
    };
    bool small = outType.hasStaticShape() && outType.getNumElements() < 2 * kTaskElements;
    if (small) {
      rowLoop(c0, rows);
    } else {
      Value perTask = arith::MaxUIOp::create(b,
          loc, c1, arith::DivUIOp::create(b, loc, cIdx(kTaskElements), arith::MaxUIOp::create(b, loc, n, c1)));
      Value tasks = arith::CeilDivUIOp::create(b, loc, rows, perTask);
      auto forall = scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{tasks}, ValueRange{},
                                            std::nullopt);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(forall.getBody());
      Value r0 = arith::MulIOp::create(b, loc, forall.getInductionVars()[0], perTask);
      Value r1 = arith::MinUIOp::create(b, loc, arith::AddIOp::create(b, loc, r0, perTask), rows);
      rowLoop(r0, r1);
    }
    // [rows, n] -> the result's shape.
    Value res = bufferization::ToTensorOp::create(b, loc, RankedTensorType::get({rowsS, nS}, et), out,
                                                    /*restrict=*/true, /*writable=*/true);
    Value f = tensor::CollapseShapeOp::create(b, loc, res, ArrayRef<ReassociationIndices>{{0, 1}});
    Value result;
    if (r == 1) {
      result = f.getType() == outType ? f : tensor::CastOp::create(b, loc, outType, f).getResult();
    } else {
      ReassociationIndices all;
      SmallVector<OpFoldResult> shape;
      for (int64_t i = 0; i < r; ++i) {
        all.push_back(i);
        shape.push_back(outType.isDynamicDim(i) ? OpFoldResult(dims[i])
                                                : OpFoldResult(b.getIndexAttr(outType.getDimSize(i))));
      }
      result = tensor::ExpandShapeOp::create(b, loc, outType, f, ArrayRef<ReassociationIndices>{all},
                                               shape);
    }
    g.getResult(0).replaceAllUsesWith(result);
    g.erase();
    return success();
  }
};

struct VectorizeElementwisePass
    : attn::impl::VectorizeElementwisePassBase<VectorizeElementwisePass> {
  using Base::Base;
  void runOnOperation() override {
    if (vectorWidth <= 0)
      return;
    SmallVector<linalg::GenericOp> ops;
    getOperation().walk([&](linalg::GenericOp g) {
      if (g->getParentOfType<scf::ForallOp>() || g.getNumResults() != 1 ||
          !g.hasPureTensorSemantics() ||
          g.getNumParallelLoops() != g.getNumLoops())
        return;
      ops.push_back(g);
    });
    for (linalg::GenericOp g : ops) {
      OpBuilder b(g);
      // The element width sets the lanes: VW f32 lanes fill one register.
      Type et = cast<RankedTensorType>(g.getResultTypes()[0]).getElementType();
      int64_t bits = et.isIntOrFloat() ? et.getIntOrFloatBitWidth() : 32;
      int64_t lanes = std::max<int64_t>(1, vectorWidth * 32 / std::max<int64_t>(bits, 8));
      Vectorizer v{b, g.getLoc(), g, std::min<int64_t>(lanes, 64)};
      (void)v.run();
    }
  }
};

} // namespace
