//===- SplitLinearResults.cpp - column slices of a linear as its results --===//
//
// PyTorch's packed in-projection (nn.MultiheadAttention self-attention)
// computes x · W_in [E, 3E] and then cuts the result into Q, K and V:
//
//   1.13 exporter   Slice(y, [0:E] / [E:2E] / [2E:3E], axis -1)
//   2.x exporter    y.unflatten(-1, (3, E)).unsqueeze(0).transpose(0, -2)
//                    .squeeze(-2)[i]       (Reshape, Reshape, Transpose,
//                                           Reshape, Gather i on axis 0)
//
// Both materialize copies (the second a transpose of all of y). When every
// use of the linear's result reaches a value that is exactly a column range
// of it, re-laid-out only by row-major reshapes, the linear gets one result
// per range instead (the kernel writes each range into its own buffer) and
// each such value becomes that result, reshaped when its shape differs.
//
// The analysis tracks, for each value derived from the result y [rows..., N]
// through layout ops, a label per dim: Row (part of y's row index, rows in
// their original order), Unit (size 1), Chunk (a column chunk index: column
// = offset + chunk * stride + col) and Col (the columns, always last), and
// proves that each layout op keeps "element = y[row][column]":
//
//   attn.slice     on Col, constant, step 1: narrows the column range
//   attn.reshape   static shapes; Col kept, or split into [Chunk, Col]; the
//                  rows between the markers re-factored with equal products;
//                  or, of the linear's result itself, run-time rows with Col
//                  kept (GPT-2's Conv1D): then only column slices may follow,
//                  and each result is reshaped by that reshape's rows
//   attn.transpose Col stays last, Row dims keep their relative order
//   attn.gather    a constant scalar index on the Chunk (selects a chunk) or
//                  on a Unit dim
//
// Any other use makes the value a terminal, which must have no Chunk left.
// The terminals' column ranges must be disjoint (gaps become extra results).
//
//===----------------------------------------------------------------------===//
#include "attn/Compiler/Passes.h"
#include "attn/Compiler/Statistics.h"
#include "Graph/GraphUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::attn {
#define GEN_PASS_DEF_SPLITLINEARRESULTSPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

enum class Label { Row, Unit, Chunk, Col };

struct ViewState {
  SmallVector<Label> labels;
  int64_t offset = 0; // first column
  int64_t width = 0;  // columns per chunk (the Col dim)
  int64_t stride = 0; // columns between chunks
  /// Set when a reshape with run-time row dims (of the linear's result
  /// itself, keeping the columns) made this view: its rows are those of
  /// that reshape's result (only column slices may follow).
  ReshapeOp rowsFrom;
  bool hasChunk() const { return llvm::is_contained(labels, Label::Chunk); }
};

struct Terminal {
  Value value;
  int64_t offset, width;
  ReshapeOp rowsFrom;
};

std::optional<SmallVector<int64_t>> constantInts(Value v) {
  DenseIntElementsAttr attr;
  if (!matchPattern(v, m_Constant(&attr)))
    return std::nullopt;
  SmallVector<int64_t> out;
  for (const APInt &a : attr.getValues<APInt>())
    out.push_back(a.getSExtValue());
  return out;
}

/// Labels for a static reshape of a value with labels `in` (shape `inShape`)
/// to `outShape`, or std::nullopt when the reshape does not keep the view.
std::optional<ViewState> reshapeView(const ViewState &in, ArrayRef<int64_t> inShape,
                                     ArrayRef<int64_t> outShape) {
  if (outShape.empty() || llvm::any_of(outShape, ShapedType::isDynamic) ||
      llvm::any_of(inShape, ShapedType::isDynamic))
    return std::nullopt;
  ViewState out = in;
  out.labels.assign(outShape.size(), Label::Row);
  auto rowLabel = [](int64_t d) { return d == 1 ? Label::Unit : Label::Row; };
  if (!in.hasChunk()) {
    if (outShape.back() == in.width) {
      for (size_t i = 0; i + 1 < outShape.size(); ++i)
        out.labels[i] = rowLabel(outShape[i]);
      out.labels.back() = Label::Col;
      return out;
    }
    // [..., W] -> [..., C, W / C]
    if (outShape.size() < 2)
      return std::nullopt;
    int64_t c = outShape[outShape.size() - 2], e = outShape.back();
    if (c <= 1 || c * e != in.width)
      return std::nullopt;
    for (size_t i = 0; i + 2 < outShape.size(); ++i)
      out.labels[i] = rowLabel(outShape[i]);
    out.labels[outShape.size() - 2] = Label::Chunk;
    out.labels.back() = Label::Col;
    out.width = e;
    out.stride = e;
    return out;
  }
  // Chunk present: products of the rows before it (p1) and between it and
  // Col (p2), and its size, must be kept.
  int64_t p1 = 1, p2 = 1, c = 0;
  bool seen = false;
  for (size_t i = 0; i + 1 < inShape.size(); ++i) {
    if (in.labels[i] == Label::Chunk) {
      seen = true;
      c = inShape[i];
    } else {
      (seen ? p2 : p1) *= inShape[i];
    }
  }
  if (outShape.back() != in.width)
    return std::nullopt;
  int64_t prefix = 1;
  for (size_t q = 0; q + 1 < outShape.size(); ++q) {
    if (prefix == p1 && outShape[q] == c) {
      int64_t rest = 1;
      for (size_t i = q + 1; i + 1 < outShape.size(); ++i)
        rest *= outShape[i];
      if (rest != p2)
        return std::nullopt;
      for (size_t i = 0; i + 1 < outShape.size(); ++i)
        out.labels[i] = i == q ? Label::Chunk : rowLabel(outShape[i]);
      out.labels.back() = Label::Col;
      return out;
    }
    prefix *= outShape[q];
    if (prefix > p1)
      break;
  }
  return std::nullopt;
}

/// The view after `op` (a user of `v` with view `s`), or std::nullopt when
/// `op` is not a layout op that keeps it.
std::optional<ViewState> follow(Operation *op, Value v, const ViewState &s) {
  auto vt = cast<RankedTensorType>(v.getType());
  int64_t rank = vt.getRank();
  if (s.rowsFrom && !isa<SliceOp>(op))
    return std::nullopt;
  if (auto slice = dyn_cast<SliceOp>(op)) {
    auto starts = constantInts(slice.getStarts()), ends = constantInts(slice.getEnds());
    auto axes = constantInts(slice.getAxes()), steps = constantInts(slice.getSteps());
    if (!starts || !ends || !axes || !steps || starts->size() != 1 || axes->size() != 1)
      return std::nullopt;
    int64_t axis = (*axes)[0] < 0 ? (*axes)[0] + rank : (*axes)[0];
    int64_t w = s.width;
    int64_t b = std::clamp<int64_t>((*starts)[0] < 0 ? (*starts)[0] + w : (*starts)[0], 0, w);
    int64_t e = std::clamp<int64_t>((*ends)[0] < 0 ? (*ends)[0] + w : (*ends)[0], 0, w);
    if (axis != rank - 1 || (*steps)[0] != 1 || e <= b)
      return std::nullopt;
    ViewState out = s;
    out.offset += b;
    out.width = e - b;
    return out;
  }
  if (auto reshape = dyn_cast<ReshapeOp>(op)) {
    if (auto out = reshapeView(s, vt.getShape(), reshape.getType().getShape()))
      return out;
    // [rows..., N] -> [rows'..., N] with run-time rows (GPT-2's Conv1D
    // un-flattening the rows of its Gemm): row-major, so every element stays
    // y[row][column]. Only of the linear's result itself, so that the
    // reshape's shape operand also gives a result's rows.
    auto rt = reshape.getType();
    if (reshape.getInput() != v || !v.getDefiningOp<LinearOp>() || s.hasChunk() ||
        rt.getRank() < 2 || rt.isDynamicDim(rt.getRank() - 1) || rt.getShape().back() != s.width)
      return std::nullopt;
    ViewState out = s;
    out.labels.assign(rt.getRank(), Label::Row);
    for (int64_t i = 0; i + 1 < rt.getRank(); ++i)
      if (rt.getDimSize(i) == 1)
        out.labels[i] = Label::Unit;
    out.labels.back() = Label::Col;
    out.rowsFrom = reshape;
    return out;
  }
  if (auto tr = dyn_cast<TransposeOp>(op)) {
    ArrayRef<int64_t> perm = tr.getPerm();
    if (perm.back() != rank - 1)
      return std::nullopt;
    ViewState out = s;
    int64_t lastRow = -1;
    for (int64_t i = 0; i < rank; ++i) {
      out.labels[i] = s.labels[perm[i]];
      if (out.labels[i] == Label::Row) {
        if (perm[i] < lastRow)
          return std::nullopt; // rows reordered
        lastRow = perm[i];
      }
    }
    return out;
  }
  if (auto g = dyn_cast<GatherOp>(op)) {
    auto idx = constantInts(g.getIndices());
    if (g.getData() != v || !idx || idx->size() != 1 ||
        cast<RankedTensorType>(g.getIndices().getType()).getRank() > 1)
      return std::nullopt;
    // The attribute is an I64Attr read as uint64_t: -1 is 2^64 - 1.
    int64_t axis = static_cast<int64_t>(g.getAxis());
    if (axis < 0)
      axis += rank;
    if (axis < 0 || axis >= rank - 1 || vt.isDynamicDim(axis))
      return std::nullopt;
    int64_t size = vt.getDimSize(axis), i = (*idx)[0] < 0 ? (*idx)[0] + size : (*idx)[0];
    if (i < 0 || i >= size)
      return std::nullopt;
    bool keepDim = cast<RankedTensorType>(g.getIndices().getType()).getRank() == 1;
    ViewState out = s;
    if (s.labels[axis] == Label::Chunk)
      out.offset += i * s.stride;
    else if (s.labels[axis] != Label::Unit)
      return std::nullopt;
    if (keepDim)
      out.labels[axis] = Label::Unit;
    else
      out.labels.erase(out.labels.begin() + axis);
    return out;
  }
  return std::nullopt;
}

/// Walks every use of `v`; fills `terms` and `chain` (the layout ops
/// looked through). False when some use ends with a chunk left.
bool analyze(Value v, const ViewState &s, SmallVectorImpl<Terminal> &terms,
             SmallVectorImpl<Operation *> &chain) {
  bool terminal = false;
  for (Operation *user : v.getUsers()) {
    std::optional<ViewState> next = follow(user, v, s);
    if (!next) {
      terminal = true;
      continue;
    }
    if (!llvm::is_contained(chain, user))
      chain.push_back(user);
    if (!analyze(user->getResult(0), *next, terms, chain))
      return false;
  }
  if (terminal) {
    if (s.hasChunk())
      return false;
    terms.push_back({v, s.offset, s.width, s.rowsFrom});
  }
  return true;
}

struct SplitLinear : OpRewritePattern<LinearOp> {
  SplitLinear(MLIRContext *ctx, PassStatistic &count)
      : OpRewritePattern(ctx), count(count) {}

  LogicalResult matchAndRewrite(LinearOp op, PatternRewriter &rw) const override {
    if (op.getNumResults() != 1 || failed(split(rw, op)))
      return failure();
    ++count;
    return success();
  }

  /// Fails without touching the IR, or rewrites `op`.
  static LogicalResult split(PatternRewriter &rw, LinearOp op) {
    Value y = op.getResult(0);
    auto yt = cast<RankedTensorType>(y.getType());
    int64_t n = yt.getShape().back();
    if (ShapedType::isDynamic(n))
      return failure();
    ViewState s;
    s.labels.assign(yt.getRank() - 1, Label::Row);
    for (int64_t i = 0; i + 1 < yt.getRank(); ++i)
      if (yt.getDimSize(i) == 1)
        s.labels[i] = Label::Unit;
    s.labels.push_back(Label::Col);
    s.width = n;
    SmallVector<Terminal> terms;
    SmallVector<Operation *> chain;
    if (!analyze(y, s, terms, chain) || chain.empty())
      return failure();
    // Disjoint ranges (equal ones share a result); gaps become results too.
    SmallVector<std::pair<int64_t, int64_t>> ranges;
    for (const Terminal &t : terms)
      if (!llvm::is_contained(ranges, std::pair{t.offset, t.width}))
        ranges.push_back({t.offset, t.width});
    llvm::sort(ranges);
    SmallVector<int64_t> splits, starts;
    int64_t col = 0;
    for (auto [off, w] : ranges) {
      if (off < col)
        return failure(); // overlap
      if (off > col) {
        splits.push_back(off - col);
        starts.push_back(col);
      }
      splits.push_back(w);
      starts.push_back(off);
      col = off + w;
    }
    if (col < n) {
      splits.push_back(n - col);
      starts.push_back(col);
    }
    if (splits.size() < 2)
      return failure();
    // Each terminal becomes its result, reshaped when it has another shape
    // (static, or the rows of the run-time reshape it came through).
    for (const Terminal &t : terms) {
      auto tt = cast<RankedTensorType>(t.value.getType());
      if (!tt.hasStaticShape() && !t.rowsFrom && tt.getShape().drop_back() != yt.getShape().drop_back())
        return failure();
    }
    rw.setInsertionPoint(op);
    auto linear = LinearOp::create(rw, op.getLoc(), op.getInput(), op.getWeight(), op.getBias(),
                                      op.getActivation(), splits);
    for (auto [res, w] : llvm::zip(linear.getResults(), splits)) {
      SmallVector<int64_t> shape(yt.getShape().drop_back());
      shape.push_back(w);
      res.setType(RankedTensorType::get(shape, yt.getElementType()));
    }
    for (const Terminal &t : terms) {
      Value r = linear.getResult(llvm::find(starts, t.offset) - starts.begin());
      if (r.getType() != t.value.getType()) {
        auto tt = cast<RankedTensorType>(t.value.getType());
        auto shapeT = RankedTensorType::get({tt.getRank()}, rw.getI64Type());
        rw.setInsertionPointAfterValue(t.value);
        Location loc = t.value.getLoc();
        if (ReshapeOp rowsFrom = t.rowsFrom; !tt.hasStaticShape() && rowsFrom) {
          // The rows as that reshape asked for them, then the width. A -1
          // infers the same rows from the result (rows of y times w); a 0
          // without allowzero copied a dim of y: resolved here from the
          // result's rows (y's) or y's static width.
          SmallVector<Value> dims;
          int64_t yRank = yt.getRank();
          for (int64_t i = 0; i + 1 < tt.getRank(); ++i) {
            Value e = tensor::ExtractOp::create(rw,
                loc, rowsFrom.getShape(), ValueRange{arith::ConstantIndexOp::create(rw, loc, i)});
            if (!rowsFrom.getAllowzero() && i < yRank) {
              Value d = i + 1 < yRank
                            ? arith::IndexCastOp::create(rw, loc, rw.getI64Type(),
                                                            tensor::DimOp::create(rw, loc, r, i))
                                  .getResult()
                            : arith::ConstantIntOp::create(rw, loc, n, 64).getResult();
              Value zero = arith::ConstantIntOp::create(rw, loc, 0, 64);
              Value isZero = arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::eq, e, zero);
              e = arith::SelectOp::create(rw, loc, isZero, d, e);
            }
            dims.push_back(e);
          }
          dims.push_back(arith::ConstantIntOp::create(rw, loc, tt.getShape().back(), 64));
          Value shape = tensor::FromElementsOp::create(rw, loc, shapeT, dims);
          r = ReshapeOp::create(rw, loc, tt, r, shape, rw.getUnitAttr());
        } else {
          Value shape = arith::ConstantOp::create(rw,
              loc, DenseIntElementsAttr::get(shapeT, tt.getShape()));
          r = ReshapeOp::create(rw, loc, tt, r, shape, UnitAttr());
        }
      }
      rw.replaceAllUsesWith(t.value, r);
    }
    // The chain is dead now (users before producers).
    SmallVector<Operation *> constants = operandConstants(chain);
    for (Operation *c : llvm::reverse(chain))
      if (c->use_empty())
        rw.eraseOp(c);
    rw.eraseOp(op);
    eraseDeadConstants(rw, constants);
    return success();
  }

  PassStatistic &count;
};

struct SplitLinearResultsPass
    : attn::impl::SplitLinearResultsPassBase<SplitLinearResultsPass> {
  PassStatistic numSplit{"attn-split-linear-results", "split", "Number of attn.linear results split into column ranges"};
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<SplitLinear>(&getContext(), numSplit);
    // One sweep in program order over the linears that exist (the split
    // ones it creates have several results and are not visited).
    (void)applyPatternsGreedily(getOperation(), std::move(patterns), oneSweepConfig());
  }
};

} // namespace
