//===- SymbolicShape.cpp - symbolic tensor dims of attn-dialect graphs ----===//
//
// The rules per attn op: which operand dims (or shape-tensor elements) a
// result dim comes from. An op without a rule gives an unknown dim.
//
//===----------------------------------------------------------------------===//
#include "Support/SymbolicShape.h"
#include "Support/ConstantEval.h"

#include "attn/Dialect/AttnDialect.h"
#include "attn/Dialect/ShapeInference.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/JSON.h"

#include <algorithm>
#include <limits>

using namespace mlir;
using namespace mlir::attn;

/// A ConstantReader element (a double) as int64, saturating (INT64_MAX, a
/// slice's "to the end", is not exactly a double).
static int64_t toInt(double d) {
  if (d >= 9.2233720368547758e18)
    return std::numeric_limits<int64_t>::max();
  if (d <= -9.2233720368547758e18)
    return std::numeric_limits<int64_t>::min();
  return (int64_t)d;
}

static int64_t rankOf(Value v) { return cast<RankedTensorType>(v.getType()).getRank(); }

SymbolicDim SymbolicDim::broadcast(const SymbolicDim &a, const SymbolicDim &b) {
  if (a.isOne())
    return b;
  if (b.isOne() || a.same(b))
    return a;
  // n against min(n, c): n when n <= c; otherwise c and n > c differ, which
  // is a broadcast error unless c = 1, and then n again.
  if (a.arg && b.arg && a.arg == b.arg && a.idx == b.idx && a.clamped() != b.clamped())
    return a.clamped() ? b : a;
  if (a.isStatic())
    return a;
  if (b.isStatic())
    return b;
  return SymbolicDim();
}

SmallVector<SymbolicDim, 4>
mlir::attn::broadcastDims(ArrayRef<SmallVector<SymbolicDim, 4>> all) {
  size_t rank = 0;
  for (const auto &dims : all)
    rank = std::max(rank, dims.size());
  SmallVector<SymbolicDim, 4> out;
  for (size_t i = 0; i < rank; ++i) {
    SymbolicDim r = SymbolicDim::fixed(1);
    for (const auto &dims : all)
      if (i >= rank - dims.size())
        r = SymbolicDim::broadcast(r, dims[i - (rank - dims.size())]);
    out.push_back(r);
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Element arithmetic
//===----------------------------------------------------------------------===//

namespace {
using SD = SymbolicDim;
bool isCst(const SD &d, int64_t v) { return d.isStatic() && d.size == v; }
bool bothCst(ArrayRef<SD> a) { return a[0].isStatic() && a[1].isStatic(); }
/// Provably equal and known (a constant or a symbol).
bool sameKnown(const SD &a, const SD &b) { return a.same(b); }
/// The same symbol (not a constant).
bool sameSymbol(const SD &a, const SD &b) { return a.arg && a.same(b); }
int64_t modFloor(int64_t a, int64_t b) {
  if (b == -1)
    return 0; // INT64_MIN % -1 traps on x86
  int64_t r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
} // namespace

SD dimfold::add(ArrayRef<SD> a) {
  if (bothCst(a))
    return SD::fixed(int64_t(uint64_t(a[0].size) + uint64_t(a[1].size)));
  if (isCst(a[0], 0))
    return a[1];
  if (isCst(a[1], 0))
    return a[0];
  return SD();
}
SD dimfold::sub(ArrayRef<SD> a) {
  if (bothCst(a))
    return SD::fixed(int64_t(uint64_t(a[0].size) - uint64_t(a[1].size)));
  if (isCst(a[1], 0))
    return a[0];
  if (sameSymbol(a[0], a[1]))
    return SD::fixed(0);
  return SD();
}
SD dimfold::mul(ArrayRef<SD> a) {
  if (bothCst(a))
    return SD::fixed(int64_t(uint64_t(a[0].size) * uint64_t(a[1].size)));
  if (isCst(a[0], 1))
    return a[1];
  if (isCst(a[1], 1))
    return a[0];
  if (isCst(a[0], 0) || isCst(a[1], 0))
    return SD::fixed(0);
  return SD();
}
SD dimfold::div(ArrayRef<SD> a) {
  // INT64_MIN / -1 traps on x86: -x (wrapping) instead.
  if (bothCst(a) && a[1].size == -1)
    return SD::fixed(int64_t(0 - uint64_t(a[0].size)));
  if (bothCst(a) && a[1].size != 0)
    return SD::fixed(a[0].size / a[1].size); // truncates, as ONNX
  if (isCst(a[1], 1))
    return a[0];
  return SD();
}
SD dimfold::max(ArrayRef<SD> a) {
  if (bothCst(a))
    return SD::fixed(std::max(a[0].size, a[1].size));
  if (sameKnown(a[0], a[1]))
    return a[0];
  return SD();
}
SD dimfold::min(ArrayRef<SD> a) {
  if (bothCst(a))
    return SD::fixed(std::min(a[0].size, a[1].size));
  if (sameKnown(a[0], a[1]))
    return a[0];
  return SD();
}
SD dimfold::eq(ArrayRef<SD> a) {
  if (bothCst(a))
    return SD::fixed(a[0].size == a[1].size);
  if (sameSymbol(a[0], a[1]))
    return SD::fixed(1);
  return SD();
}
SD dimfold::lt(ArrayRef<SD> a) {
  return bothCst(a) ? SD::fixed(a[0].size < a[1].size) : SD();
}
SD dimfold::le(ArrayRef<SD> a) {
  return bothCst(a) ? SD::fixed(a[0].size <= a[1].size) : SD();
}
SD dimfold::gt(ArrayRef<SD> a) {
  return bothCst(a) ? SD::fixed(a[0].size > a[1].size) : SD();
}
SD dimfold::ge(ArrayRef<SD> a) {
  return bothCst(a) ? SD::fixed(a[0].size >= a[1].size) : SD();
}
SD dimfold::logicalAnd(ArrayRef<SD> a) {
  if (isCst(a[0], 0) || isCst(a[1], 0))
    return SD::fixed(0);
  return bothCst(a) ? SD::fixed(1) : SD();
}
SD dimfold::logicalOr(ArrayRef<SD> a) {
  if ((a[0].isStatic() && a[0].size) || (a[1].isStatic() && a[1].size))
    return SD::fixed(1);
  return bothCst(a) ? SD::fixed(0) : SD();
}
SD dimfold::mod(ArrayRef<SD> a) {
  if (bothCst(a) && a[1].size != 0)
    return SD::fixed(modFloor(a[0].size, a[1].size));
  return SD();
}
SD dimfold::fmod(ArrayRef<SD> a) {
  if (bothCst(a) && a[1].size != 0)
    return SD::fixed(a[1].size == -1 ? 0 // INT64_MIN % -1 traps on x86
                                     : a[0].size % a[1].size); // C
  return SD();
}
SD dimfold::where(ArrayRef<SD> a) {
  if (a[0].isStatic())
    return a[0].size ? a[1] : a[2];
  if (sameKnown(a[1], a[2]))
    return a[1];
  return SD();
}

int64_t mlir::attn::sliceLength(int64_t dim, int64_t start, int64_t end,
                                int64_t step, int64_t *first) {
  if (dim == 0)
    return 0;
  if (start < 0)
    start += dim;
  if (end < 0)
    end += dim;
  int64_t len;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    len = end > start ? int64_t((__int128(end) - start + step - 1) / step) : 0;
  } else {
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    len = start > end
              ? int64_t((__int128(start) - end - step - 1) / -__int128(step))
              : 0;
  }
  if (first)
    *first = start;
  return len;
}

SymbolicDim mlir::attn::reshapeMinusOne(ArrayRef<SymbolicDim> in,
                                         ArrayRef<SymbolicDim> out, size_t negIdx) {
  int64_t inConst = 1, outConst = 1;
  SmallVector<SymbolicDim> inSyms;
  for (const SymbolicDim &d : in) {
    if (d.isStatic()) {
      if (d.size < 0 || llvm::MulOverflow(inConst, d.size, inConst))
        return SymbolicDim();
    } else if (d.arg) {
      inSyms.push_back(d);
    } else {
      return SymbolicDim();
    }
  }
  for (size_t j = 0; j < out.size(); ++j) {
    if (j == negIdx)
      continue;
    const SymbolicDim &d = out[j];
    if (d.isStatic()) {
      if (d.size < 0 || llvm::MulOverflow(outConst, d.size, outConst))
        return SymbolicDim();
    } else if (d.arg) {
      auto it = llvm::find_if(inSyms, [&](const SymbolicDim &x) { return x.same(d); });
      if (it == inSyms.end())
        return SymbolicDim();
      inSyms.erase(it);
    } else {
      return SymbolicDim();
    }
  }
  if (outConst == 0)
    return SymbolicDim();
  if (inSyms.empty())
    return inConst % outConst == 0 ? SymbolicDim::fixed(inConst / outConst)
                                   : SymbolicDim();
  if (inSyms.size() == 1 && inConst == outConst)
    return inSyms[0];
  return SymbolicDim();
}

DimNames::DimNames(func::FuncOp func) {
  auto module = func->getParentOfType<ModuleOp>();
  auto attr = module ? module->getAttrOfType<StringAttr>("attn.signature") : StringAttr();
  if (!attr)
    return;
  llvm::Expected<llvm::json::Value> parsed = llvm::json::parse(attr.getValue());
  if (!parsed) {
    llvm::consumeError(parsed.takeError());
    return;
  }
  const llvm::json::Object *sig = parsed->getAsObject();
  const llvm::json::Array *inputs = sig ? sig->getArray("inputs") : nullptr;
  if (!inputs || inputs->size() != func.getNumArguments())
    return;
  llvm::StringMap<std::pair<Value, int64_t>> first;
  for (auto [i, in] : llvm::enumerate(*inputs)) {
    const llvm::json::Object *o = in.getAsObject();
    const llvm::json::Array *shape = o ? o->getArray("shape") : nullptr;
    Value arg = func.getArgument(i);
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!shape || !type || (int64_t)shape->size() != type.getRank())
      return;
    for (auto [d, dim] : llvm::enumerate(*shape)) {
      std::optional<llvm::StringRef> name = dim.getAsString();
      if (!name || *name == "?" || !type.isDynamicDim(d))
        continue;
      auto it = first.try_emplace(*name, arg, (int64_t)d).first;
      canonicalDim[{arg, (int64_t)d}] = it->second;
    }
  }
}

/// a + sign * b, terms merged (a term whose coefficient cancels is dropped).
static SymbolicSum plus(SymbolicSum a, const SymbolicSum &b, int64_t sign) {
  a.c += sign * b.c;
  for (const auto &[d, k] : b.terms) {
    auto it = llvm::find_if(a.terms, [&](const auto &t) { return t.first.same(d); });
    if (it == a.terms.end())
      a.terms.push_back({d, sign * k});
    else
      it->second += sign * k;
  }
  llvm::erase_if(a.terms, [](const auto &t) { return t.second == 0; });
  return a;
}

std::optional<SymbolicSum> SymbolicShapes::sum(const SymbolicDim &d) const {
  SymbolicSum r;
  if (!d.known())
    return std::nullopt;
  if (d.isStatic()) {
    r.c = d.size;
    return r;
  }
  if (!d.clamped())
    if (auto it = repSums.find({d.arg, d.idx}); it != repSums.end())
      return it->second;
  r.terms.push_back({d, 1});
  return r;
}

SymbolicDim SymbolicShapes::intern(SymbolicSum s, Value v, int64_t idx) {
  if (s.terms.empty())
    return s.c >= 0 ? SymbolicDim::fixed(s.c) : SymbolicDim();
  if (s.c == 0 && s.terms.size() == 1 && s.terms[0].second == 1)
    return s.terms[0].first;
  // Canonical order of the terms: by symbol.
  SumKey key;
  key.first = s.c;
  for (const auto &[d, k] : s.terms)
    key.second.emplace_back(d.arg.getAsOpaquePointer(), d.idx, d.clamp, k);
  llvm::sort(key.second);
  auto [it, inserted] = sumReps.try_emplace(std::move(key), SymbolicDim::of(v, idx));
  if (inserted)
    repSums[{v, idx}] = std::move(s);
  return it->second;
}

SymbolicDim SymbolicShapes::dim(Value v, int64_t i, int depth) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || depth > kMaxDepth)
    return SymbolicDim();
  auto axis = normalizeAxis(i, type.getRank());
  if (!axis)
    return SymbolicDim();
  if (!type.isDynamicDim(*axis))
    return SymbolicDim::fixed(type.getDimSize(*axis));
  if (isa<BlockArgument>(v)) {
    auto [arg, idx] = names ? names->canonical(v, *axis) : std::make_pair(v, *axis);
    return SymbolicDim::of(arg, idx);
  }
  auto key = std::make_pair(v, *axis);
  if (auto it = dimCache.find(key); it != dimCache.end())
    return it->second;
  SymbolicDim s = computeDim(v.getDefiningOp(), v, *axis, depth + 1);
  // Not traced to an input: still "dim i of v" itself, so that shapes built
  // from shape(v) prove equal to v's own dims (a size, never negative).
  if (!s.known())
    s = SymbolicDim::of(v, *axis);
  dimCache[key] = s;
  return s;
}

SymbolicDim SymbolicShapes::elem(Value v, int64_t j, int depth) {
  if (depth > kMaxDepth)
    return SymbolicDim();
  auto key = std::make_pair(v, j);
  if (auto it = elemCache.find(key); it != elemCache.end())
    return it->second;
  SymbolicDim s = computeElem(v, j, depth + 1);
  elemCache[key] = s;
  return s;
}

SymbolicDim SymbolicShapes::alignedDim(Value operand, int64_t rank, int64_t i, int depth) {
  int64_t off = rank - rankOf(operand);
  if (i < off)
    return SymbolicDim::fixed(1);
  return dim(operand, i - off, depth);
}

SymbolicDim SymbolicShapes::computeDim(Operation *def, Value v, int64_t i, int depth) {
  if (!def)
    return SymbolicDim();
  int64_t rank = rankOf(v);
  // Same shape as the (first) input.
  if (def->hasTrait<OpTrait::SameOperandsAndResultType>() ||
      isa<CastOp, SoftmaxOp, LayerNormOp, RmsNormOp, TriluOp, RotaryOp>(def))
    return dim(def->getOperand(0), i, depth);
  // Reductions: a reduced dim is 1 (keepdims) or gone; the others are the
  // input's.
  if (auto red = dyn_cast<ReduceOp>(def)) {
    int64_t inRank = rankOf(red.getInput());
    SmallVector<bool> reduced(inRank, false);
    for (int64_t a : red.getAxes()) {
      auto ax = normalizeAxis(a, inRank);
      if (!ax)
        return SymbolicDim();
      reduced[*ax] = true;
    }
    if (red.getKeepdims())
      return reduced[i] ? SymbolicDim::fixed(1) : dim(red.getInput(), i, depth);
    for (int64_t k = 0, seen = 0; k < inRank; ++k)
      if (!reduced[k] && seen++ == i)
        return dim(red.getInput(), k, depth);
    return SymbolicDim();
  }
  // A linear layer keeps its input's batch dims; the last is a weight column
  // count (static in every result type that splits N).
  if (auto l = dyn_cast<LinearOp>(def)) {
    if (i < rank - 1)
      return dim(l.getInput(), i, depth);
    return SymbolicDim();
  }
  // Numpy broadcasting of all operands.
  if (isa<AddOp, SubOp, MulOp, DivOp, PowOp, MaxOp, MinOp, AndOp, OrOp, XorOp,
          CmpOp, SelectOp>(def)) {
    SymbolicDim s = SymbolicDim::fixed(1);
    for (Value operand : def->getOperands())
      s = SymbolicDim::broadcast(s, alignedDim(operand, rank, i, depth));
    return s;
  }
  if (auto mm = dyn_cast<MatmulOp>(def)) {
    int64_t lr = rankOf(mm.getLhs()), rr = rankOf(mm.getRhs());
    if (lr < 2 || rr < 2)
      return SymbolicDim();
    if (i == rank - 2)
      return dim(mm.getLhs(), -2, depth);
    if (i == rank - 1)
      return dim(mm.getRhs(), -1, depth);
    // Batch dims broadcast.
    int64_t batch = rank - 2;
    auto batchDim = [&](Value operand, int64_t r) {
      int64_t off = batch - (r - 2);
      return i < off ? SymbolicDim::fixed(1) : dim(operand, i - off, depth);
    };
    return SymbolicDim::broadcast(batchDim(mm.getLhs(), lr), batchDim(mm.getRhs(), rr));
  }
  if (auto t = dyn_cast<TransposeOp>(def))
    return dim(t.getInput(), t.getPerm()[i], depth);
  if (auto r = dyn_cast<ReshapeOp>(def)) {
    SymbolicDim e = elem(r.getShape(), i, depth);
    if (e.isStatic() && e.size == 0 && !r.getAllowzero())
      return dim(r.getInput(), i, depth);
    if (e.isStatic() && e.size == -1)
      return inferredDim(r, i, depth);
    if (e.isStatic() && e.size < 0)
      return SymbolicDim();
    return e;
  }
  if (auto e = dyn_cast<ExpandOp>(def))
    return SymbolicDim::broadcast(alignedDim(e.getInput(), rank, i, depth),
                        elem(e.getShape(), i, depth));
  if (auto c = dyn_cast<ConstantOfShapeOp>(def))
    return elem(c.getShape(), i, depth);
  if (auto g = dyn_cast<GatherOp>(def)) {
    int64_t axis = *normalizeAxis((int64_t)g.getAxis(), rankOf(g.getData()));
    int64_t ir = rankOf(g.getIndices());
    if (i < axis)
      return dim(g.getData(), i, depth);
    if (i < axis + ir)
      return dim(g.getIndices(), i - axis, depth);
    return dim(g.getData(), i - ir + 1, depth);
  }
  if (auto s = dyn_cast<SliceOp>(def)) {
    ConstantReader axes = readConstant(s.getAxes());
    if (!axes)
      return SymbolicDim();
    for (int64_t a = 0; a < axes.numElements; ++a) {
      auto ax = normalizeAxis((int64_t)axes.at(a), rank);
      if (!ax)
        return SymbolicDim();
      if (*ax != i)
        continue;
      // [0, n) with step 1 of a static dim d: min(n, d) (n is a size).
      ConstantReader st = readConstant(s.getStarts()), sp = readConstant(s.getSteps());
      auto in = cast<RankedTensorType>(s.getInput().getType());
      if (!st || !sp || st.numElements != axes.numElements ||
          sp.numElements != axes.numElements || st.at(a) != 0 || sp.at(a) != 1 ||
          in.isDynamicDim(i))
        return SymbolicDim();
      SymbolicDim n = elem(s.getEnds(), a, depth);
      if (n.isStatic())
        return n.size >= 0 ? SymbolicDim::fixed(std::min(n.size, in.getDimSize(i))) : SymbolicDim();
      if (!n.arg || n.clamped())
        return SymbolicDim();
      n.clamp = in.getDimSize(i);
      return n;
    }
    return dim(s.getInput(), i, depth);
  }
  if (auto c = dyn_cast<ConcatOp>(def)) {
    if (i != *normalizeAxis((int64_t)c.getAxis(), rank))
      return dim(c.getInputs()[0], i, depth);
    // Along the axis: the sum of the inputs' dims (`past + seq`).
    SymbolicSum total;
    for (Value in : c.getInputs()) {
      std::optional<SymbolicSum> d = sum(dim(in, i, depth));
      if (!d)
        return SymbolicDim();
      total = plus(total, *d, 1);
    }
    return intern(std::move(total), v, i);
  }
  if (auto r = dyn_cast<RangeOp>(def)) {
    // range(0, n, 1) has n elements.
    auto start = evalScalar(r.getStart()), delta = evalScalar(r.getDelta());
    if (start && delta && *start == 0.0 && *delta == 1.0)
      return elem(r.getLimit(), 0, depth);
    return SymbolicDim();
  }
  if (auto a = dyn_cast<AttentionOp>(def)) {
    if (i == rank - 1)
      return dim(a.getValue(), -1, depth);
    return dim(a.getQuery(), i, depth);
  }
  return SymbolicDim();
}

/// The -1 entry of a reshape: the element count over the other entries.
/// Symbolic entries cancel against equal input dims (x[B, S] -> [B, -1]);
/// what is left must be static on the output side and at most one dim on
/// the input side (range(n) -> [1, -1] or [-1, 1]).
SymbolicDim SymbolicShapes::inferredDim(ReshapeOp r, int64_t i, int depth) {
  int64_t rank = rankOf(r.getResult());
  auto inTy = cast<RankedTensorType>(r.getInput().getType());
  SmallVector<SymbolicDim> ins, outs;
  for (int64_t j = 0; j < inTy.getRank(); ++j)
    ins.push_back(dim(r.getInput(), j, depth));
  for (int64_t j = 0; j < rank; ++j) {
    SymbolicDim e = j == i ? SymbolicDim() : elem(r.getShape(), j, depth);
    if (e.isStatic() && e.size == 0 && !r.getAllowzero())
      e = dim(r.getInput(), j, depth);
    outs.push_back(e);
  }
  return reshapeMinusOne(ins, outs, i);
}

SymbolicDim SymbolicShapes::computeElem(Value v, int64_t j, int depth) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || type.getRank() > 1 || !isa<IntegerType>(type.getElementType()))
    return SymbolicDim();
  if (ConstantReader c = readConstant(v)) {
    if (j < 0 || j >= c.numElements)
      return SymbolicDim();
    // INT64_MIN is no size (and was never followed as one here).
    int64_t x = toInt(c.at(j));
    return x == std::numeric_limits<int64_t>::min() ? SymbolicDim() : SymbolicDim::fixed(x);
  }
  Operation *def = v.getDefiningOp();
  if (!def)
    return SymbolicDim();
  if (auto s = dyn_cast<ShapeOp>(def)) {
    int64_t rank = rankOf(s.getInput());
    int64_t start = (int64_t)s.getStart();
    if (start < 0)
      start += rank;
    start = std::clamp<int64_t>(start, 0, rank);
    return dim(s.getInput(), start + j, depth);
  }
  if (auto g = dyn_cast<GatherOp>(def)) {
    ConstantReader idx = readConstant(g.getIndices());
    auto data = cast<RankedTensorType>(g.getData().getType());
    if (!idx || data.getRank() != 1 || data.isDynamicDim(0) || j >= idx.numElements)
      return SymbolicDim();
    int64_t k = (int64_t)idx.at(j);
    if (k < 0)
      k += data.getDimSize(0);
    return elem(g.getData(), k, depth);
  }
  if (auto r = dyn_cast<ReshapeOp>(def))
    return elem(r.getInput(), j, depth);
  if (auto c = dyn_cast<CastOp>(def))
    return elem(c.getInput(), j, depth);
  if (auto sl = dyn_cast<SliceOp>(def)) {
    // shape(x)[a:b:c] (dynamo's shape computations); without constant ends,
    // to the end in the step's direction.
    auto data = cast<RankedTensorType>(sl.getInput().getType());
    ConstantReader st = readConstant(sl.getStarts()), en = readConstant(sl.getEnds()),
                   sp = readConstant(sl.getSteps());
    if (data.getRank() != 1 || data.isDynamicDim(0) || !st || !sp ||
        st.numElements != 1 || sp.numElements != 1 || toInt(sp.at(0)) == 0)
      return SymbolicDim();
    int64_t step = toInt(sp.at(0));
    int64_t end = en && en.numElements == 1 ? toInt(en.at(0))
                  : step > 0                ? std::numeric_limits<int64_t>::max()
                                            : std::numeric_limits<int64_t>::min();
    int64_t first = 0;
    int64_t len = sliceLength(data.getDimSize(0), toInt(st.at(0)), end, step, &first);
    return j >= 0 && j < len ? elem(sl.getInput(), first + j * step, depth) : SymbolicDim();
  }
  if (auto c = dyn_cast<ConcatOp>(def)) {
    int64_t off = 0;
    for (Value in : c.getInputs()) {
      auto t = cast<RankedTensorType>(in.getType());
      int64_t n = t.getRank() == 0 ? 1 : t.getDimSize(0);
      if (ShapedType::isDynamic(n))
        return SymbolicDim();
      if (j < off + n)
        return elem(in, j - off, depth);
      off += n;
    }
    return SymbolicDim();
  }
  if (isa<AddOp, SubOp>(def)) {
    // Sums of sizes (dynamo's `past + seq`); a one-element operand
    // broadcasts.
    auto operand = [&](Value x) {
      auto t = cast<RankedTensorType>(x.getType());
      return sum(elem(x, t.getRank() == 0 || t.getDimSize(0) == 1 ? 0 : j, depth));
    };
    std::optional<SymbolicSum> a = operand(def->getOperand(0)), b = operand(def->getOperand(1));
    if (!a || !b)
      return SymbolicDim();
    // A new representative is named by an index no dim has (-1 - j), so it
    // never meets `v`'s own dim j.
    return intern(plus(*a, *b, isa<AddOp>(def) ? 1 : -1), v, -1 - j);
  }
  if (isa<MulOp, DivOp>(def)) {
    // Size arithmetic of the exporters: (a * b) / a is b (dynamo's
    // `(batch*seq)//batch` key length). Sizes are not 0 here: a model
    // with an empty batch divides by zero.
    auto operand = [&](Value x) {
      auto t = cast<RankedTensorType>(x.getType());
      return elem(x, t.getRank() == 0 || t.getDimSize(0) == 1 ? 0 : j, depth);
    };
    SymbolicDim a = operand(def->getOperand(0)), b = operand(def->getOperand(1));
    if (isa<MulOp>(def))
      return dimfold::mul({a, b});
    // Sizes: no negative constants, no division by 0.
    if ((b.isStatic() && b.size == 0) ||
        (a.isStatic() && b.isStatic() && (a.size < 0 || b.size < 0)))
      return SymbolicDim();
    if (SymbolicDim q = dimfold::div({a, b}); q.known())
      return q;
    if (auto mul = def->getOperand(0).getDefiningOp<MulOp>()) {
      SymbolicDim x = operand(mul.getLhs()), y = operand(mul.getRhs());
      if (x.same(b) && y.known())
        return y;
      if (y.same(b) && x.known())
        return x;
    }
    return SymbolicDim();
  }
  if (auto sel = dyn_cast<SelectOp>(def)) {
    // The exporters' `where(shape == -1, 1, shape)`: a size is never
    // negative, so the comparison with a negative constant is false.
    auto cmp = sel.getCondition().getDefiningOp<CmpOp>();
    if (cmp && cmp.getPredicate() == CmpPredicate::eq &&
        rankOf(sel.getCondition()) <= 1 && rankOf(sel.getFalseValue()) <= 1) {
      SymbolicDim x = elem(cmp.getLhs(), j, depth), c = elem(cmp.getRhs(), j, depth);
      // A sum with a negative part (`past - seq`) may be negative.
      std::optional<SymbolicSum> xs = sum(x);
      bool nonNegative = xs && xs->c >= 0 &&
                         llvm::all_of(xs->terms, [](const auto &t) { return t.second > 0; });
      if (nonNegative && c.isStatic() && c.size < 0)
        return elem(sel.getFalseValue(), j, depth);
    }
    return SymbolicDim();
  }
  return SymbolicDim();
}
