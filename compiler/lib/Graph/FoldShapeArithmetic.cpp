//===- FoldShapeArithmetic.cpp - shape tensors -> scalar arithmetic -------===//
//
// Exporters compute the shapes of dynamic models with tensor ops on small
// integer tensors: Shape -> Gather -> Unsqueeze -> Concat -> Reshape, Mul of
// two dims, Where(Equal(shape, -1), 1, shape) before Expand, Slice of a
// shape. Lowered as they are, each is a loop over a 1- to 4-element buffer,
// and on the GPU a kernel of its own whose result the host reads back (a
// stream synchronization each time).
//
// This pass tracks the elements of every small (at most 16 elements, rank
// <= 1) integer tensor whose value follows from constants and tensor dims,
// as scalars: attn.shape -> tensor.dim, constants, gather with constant
// indices, concat, reshape, slice with constant parameters, integer
// add/sub/mul/div/max/min, cmp, select, integer casts. Each such tensor
// computed by an attn op becomes a constant (all elements constant) or a
// tensor.from_elements of the scalars; the ops that consumed the shape
// (reshape, expand, range, constant_of_shape, ...) read its elements with
// tensor.extract, which folds, so the shape arithmetic is host scalar code
// and the tensor ops die.
//
//===----------------------------------------------------------------------===//
#include "Support/LoweringUtils.h"
#include "Support/SymbolicShape.h"
#include "attn/Compiler/Passes.h"
#include "attn/Compiler/Statistics.h"
#include "attn/Dialect/ShapeInference.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::attn {
#define GEN_PASS_DEF_FOLDSHAPEARITHMETICPASS
#include "attn/Compiler/Passes.h.inc"
} // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr int64_t kMaxElements = 16;

/// A small integer tensor: static shape, rank <= 1, at most kMaxElements.
bool isShapeLike(Type t) {
  auto rt = dyn_cast<RankedTensorType>(t);
  return rt && rt.hasStaticShape() && rt.getRank() <= 1 && rt.getNumElements() <= kMaxElements &&
         isa<IntegerType>(rt.getElementType());
}

std::optional<int64_t> constantInt(Value v) {
  APInt c;
  if (matchPattern(v, m_ConstantInt(&c)))
    return c.getSExtValue();
  return std::nullopt;
}

struct ShapeFolder {
  using Elements = SmallVector<Value>;
  OpBuilder b;
  DenseMap<Value, std::optional<Elements>> memo;

  explicit ShapeFolder(MLIRContext *ctx) : b(ctx) {}

  /// The elements of `v` (row-major) when they follow from constants and
  /// dims; scalars are built before v's defining op.
  std::optional<Elements> elements(Value v) {
    if (!isShapeLike(v.getType()))
      return std::nullopt;
    auto it = memo.find(v);
    if (it != memo.end())
      return it->second;
    memo[v] = std::nullopt; // no cycles in SSA, but be safe
    std::optional<Elements> r = compute(v);
    memo[v] = r;
    return r;
  }

  std::optional<Elements> compute(Value v) {
    Operation *def = v.getDefiningOp();
    if (!def)
      return std::nullopt;
    auto rt = cast<RankedTensorType>(v.getType());
    Type et = rt.getElementType();
    int64_t count = rt.getNumElements();
    Location loc = def->getLoc();

    DenseIntElementsAttr dense;
    if (matchPattern(v, m_Constant(&dense))) {
      b.setInsertionPoint(def);
      Elements out;
      for (APInt x : dense.getValues<APInt>())
        out.push_back(arith::ConstantOp::create(b, loc, b.getIntegerAttr(et, x)));
      return out;
    }
    if (auto fe = dyn_cast<tensor::FromElementsOp>(def))
      return Elements(fe.getElements().begin(), fe.getElements().end());

    if (auto shape = dyn_cast<ShapeOp>(def)) {
      b.setInsertionPoint(def);
      Elements out;
      for (int64_t i = 0; i < count; ++i) {
        Value d = tensor::DimOp::create(b, loc, shape.getInput(),
                                          static_cast<int64_t>(shape.getStart()) + i);
        out.push_back(arith::IndexCastOp::create(b, loc, et, d));
      }
      return out;
    }
    if (auto reshape = dyn_cast<ReshapeOp>(def))
      return elements(reshape.getInput());
    if (auto concat = dyn_cast<ConcatOp>(def)) {
      Elements out;
      for (Value in : concat.getInputs()) {
        auto e = elements(in);
        if (!e || cast<RankedTensorType>(in.getType()).getRank() != 1)
          return std::nullopt;
        out.append(*e);
      }
      return out;
    }
    if (auto gather = dyn_cast<GatherOp>(def)) {
      auto data = elements(gather.getData());
      auto idx = elements(gather.getIndices());
      if (!data || !idx || cast<RankedTensorType>(gather.getData().getType()).getRank() != 1)
        return std::nullopt;
      int64_t n = data->size();
      Elements out;
      for (Value i : *idx) {
        auto c = constantInt(i);
        if (!c || *c < -n || *c >= n) // out of range: the run-time check reports it
          return std::nullopt;
        out.push_back((*data)[*c < 0 ? *c + n : *c]);
      }
      return out;
    }
    if (auto slice = dyn_cast<SliceOp>(def)) {
      auto in = elements(slice.getInput());
      auto starts = elements(slice.getStarts()), ends = elements(slice.getEnds()),
           axes = elements(slice.getAxes()), steps = elements(slice.getSteps());
      if (!in || !starts || !ends || !axes || !steps || starts->size() != 1 || ends->size() != 1 ||
          axes->size() != 1 || steps->size() != 1 ||
          cast<RankedTensorType>(slice.getInput().getType()).getRank() != 1)
        return std::nullopt;
      auto s = constantInt((*starts)[0]), e = constantInt((*ends)[0]),
           a = constantInt((*axes)[0]), st = constantInt((*steps)[0]);
      if (!s || !e || !a || !st || (*a != 0 && *a != -1) || *st == 0)
        return std::nullopt;
      // ONNX Slice clamping on a 1-D tensor (the importer's rule).
      int64_t first = 0;
      int64_t len = sliceLength(static_cast<int64_t>(in->size()), *s, *e, *st, &first);
      Elements out;
      for (int64_t k = 0; k < len; ++k)
        out.push_back((*in)[first + k * *st]);
      if (static_cast<int64_t>(out.size()) != count)
        return std::nullopt;
      return out;
    }
    if (auto cast = dyn_cast<CastOp>(def)) {
      auto in = elements(cast.getInput());
      auto from = dyn_cast<IntegerType>(getElementTypeOrSelf(cast.getInput().getType()));
      if (!in || !from || from.getWidth() == 1)
        return std::nullopt;
      unsigned fw = from.getWidth(), tw = et.getIntOrFloatBitWidth();
      if (tw == 1)
        return std::nullopt;
      b.setInsertionPoint(def);
      Elements out;
      for (Value x : *in)
        out.push_back(fw == tw   ? x
                      : fw < tw ? arith::ExtSIOp::create(b, loc, et, x).getResult()
                                : arith::TruncIOp::create(b, loc, et, x).getResult());
      return out;
    }
    if (auto select = dyn_cast<SelectOp>(def)) {
      auto c = elements(select.getCondition()), t = elements(select.getTrueValue()),
           f = elements(select.getFalseValue());
      if (!c || !t || !f)
        return std::nullopt;
      b.setInsertionPoint(def);
      return map(count, {&*c, &*t, &*f}, [&](ArrayRef<Value> x) -> Value {
        return arith::SelectOp::create(b, loc, x[0], x[1], x[2]);
      });
    }
    if (auto cmp = dyn_cast<CmpOp>(def)) {
      auto l = elements(cmp.getLhs()), r = elements(cmp.getRhs());
      if (!l || !r)
        return std::nullopt;
      arith::CmpIPredicate pred =
          integerPredicate(cmp.getPredicate(), getElementTypeOrSelf(cmp.getLhs().getType()));
      b.setInsertionPoint(def);
      return map(count, {&*l, &*r}, [&](ArrayRef<Value> x) -> Value {
        return arith::CmpIOp::create(b, loc, pred, x[0], x[1]);
      });
    }
    return binary(def, count);
  }

  /// Integer add/sub/mul/div/max/min (as the linalg lowering computes them).
  std::optional<Elements> binary(Operation *def, int64_t count) {
    if (def->getNumOperands() != 2 || def->getNumResults() != 1 ||
        !isa<AddOp, SubOp, MulOp, DivOp, MaxOp, MinOp>(def))
      return std::nullopt;
    auto l = elements(def->getOperand(0)), r = elements(def->getOperand(1));
    if (!l || !r)
      return std::nullopt;
    Location loc = def->getLoc();
    b.setInsertionPoint(def);
    return map(count, {&*l, &*r}, [&](ArrayRef<Value> x) -> Value {
      return TypeSwitch<Operation *, Value>(def)
          .Case([&](AddOp) { return arith::AddIOp::create(b, loc, x[0], x[1]); })
          .Case([&](SubOp) { return arith::SubIOp::create(b, loc, x[0], x[1]); })
          .Case([&](MulOp) { return arith::MulIOp::create(b, loc, x[0], x[1]); })
          .Case([&](DivOp) { return arith::DivSIOp::create(b, loc, x[0], x[1]); })
          .Case([&](MaxOp) { return arith::MaxSIOp::create(b, loc, x[0], x[1]); })
          .Case([&](MinOp) { return arith::MinSIOp::create(b, loc, x[0], x[1]); });
    });
  }

  /// Elementwise over operands that have `count` elements or one (numpy
  /// broadcasting of rank <= 1 tensors); nullopt for any other size.
  std::optional<Elements> map(int64_t count, ArrayRef<Elements *> ins,
                              function_ref<Value(ArrayRef<Value>)> f) {
    for (Elements *e : ins)
      if (static_cast<int64_t>(e->size()) != count && e->size() != 1)
        return std::nullopt;
    Elements out;
    for (int64_t i = 0; i < count; ++i) {
      SmallVector<Value> x;
      for (Elements *e : ins)
        x.push_back((*e)[e->size() == 1 ? 0 : i]);
      out.push_back(f(x));
    }
    return out;
  }
};

struct FoldShapeArithmeticPass
    : attn::impl::FoldShapeArithmeticPassBase<FoldShapeArithmeticPass> {
  PassStatistic numFolded{"attn-fold-shape-arithmetic", "folded",
                          "Shape tensors computed by attn ops replaced by scalars"};
  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    SmallVector<Operation *> ops;
    fn.walk([&](Operation *op) {
      if (isa<AttnDialect>(op->getDialect()) && op->getNumResults() == 1 &&
          isShapeLike(op->getResult(0).getType()) && !op->use_empty())
        ops.push_back(op);
    });
    ShapeFolder folder(&getContext());
    for (Operation *op : ops) {
      Value v = op->getResult(0);
      auto e = folder.elements(v);
      if (!e)
        continue;
      auto rt = cast<RankedTensorType>(v.getType());
      OpBuilder &b = folder.b;
      b.setInsertionPoint(op);
      SmallVector<Attribute> consts;
      for (Value x : *e) {
        IntegerAttr c;
        if (!matchPattern(x, m_Constant(&c)))
          break;
        consts.push_back(c);
      }
      Value r = consts.size() == e->size()
                    ? arith::ConstantOp::create(b, op->getLoc(), DenseElementsAttr::get(rt, consts))
                          .getResult()
                    : tensor::FromElementsOp::create(b, op->getLoc(), rt, *e).getResult();
      v.replaceAllUsesWith(r);
      folder.memo[r] = *e;
      ++numFolded;
    }
  }
};

} // namespace
