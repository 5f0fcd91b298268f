//===- OpsShape.cpp - shape computation and data movement ops -------------===//
//
// Shape, Size, Reshape, Expand, ConstantOfShape, Range, Gather, Slice, Split,
// Concat, Unsqueeze, Squeeze, Flatten and Transpose. Where their inputs are
// shape values (ImporterImpl.h) they are evaluated at import time: fully known
// results become constants, partially known ones still give the consumers
// (Reshape, Expand, ...) the most static result type possible.
//
//===----------------------------------------------------------------------===//
#include "Frontend/ImporterImpl.h"

#include "attn/Dialect/ShapeInference.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::onnx_import;

namespace {
using GI = GraphImporter;
using DV = SymbolicDim;
using DS = GraphImporter::DimSource;

Type elementTypeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getElementType();
}

/// Checks that `v` is a 1-D integer tensor of static length (a "shape"
/// operand); `i64Only` additionally requires i64.
LogicalResult checkShapeOperand(GI &g, Value v, llvm::StringRef what,
                                bool i64Only = true) {
  auto t = cast<RankedTensorType>(v.getType());
  bool eltOk = i64Only ? t.getElementType().isInteger(64)
                       : (t.getElementType().isInteger(64) ||
                          t.getElementType().isInteger(32));
  if (!eltOk)
    return g.nodeError() << what << " must be an int64 tensor, got " << t;
  if (t.getRank() != 1 || t.isDynamicDim(0))
    return g.nodeError() << what << " must be a 1-D tensor of static length, got "
                         << t;
  return success();
}

/// Shape value of a 1-D shape operand, or all-unknown when not tracked.
ShapeValue shapeOperandValue(GI &g, Value v) {
  if (auto sv = g.shapeValue(v))
    return *sv;
  int64_t n = cast<RankedTensorType>(v.getType()).getDimSize(0);
  return ShapeValue(n, DV());
}

/// Sets `v` (or its constant replacement when fully known) as output #0.
/// Returns the value bound.
Value bindWithShapeValue(GI &g, Value v, std::optional<ShapeValue> sv) {
  if (sv)
    g.setShapeValue(v, *sv);
  g.setOutput(0, v);
  return v;
}

//===----------------------------------------------------------------------===//
// Shape / Size
//===----------------------------------------------------------------------===//

LogicalResult convertShape(GI &g) {
  auto x = g.requiredInput(0);
  if (failed(x))
    return failure();
  int64_t rank = cast<RankedTensorType>(x->getType()).getRank();
  auto startAttr = g.attrInt("start", 0);
  auto endAttr = g.attrInt("end", rank);
  if (failed(startAttr) || failed(endAttr))
    return failure();
  auto clampDim = [&](int64_t d) {
    if (d < 0)
      d += rank;
    return std::clamp<int64_t>(d, 0, rank);
  };
  int64_t start = clampDim(*startAttr), end = clampDim(*endAttr);
  end = std::max(start, end);
  ShapeValue dims = g.dimsOf(*x);
  ShapeValue elems(dims.begin() + start, dims.begin() + end);
  auto type = RankedTensorType::get({end - start}, g.getBuilder().getI64Type());
  if (Value c = g.materializeIfKnown(type, elems)) {
    g.setOutput(0, c);
    return success();
  }
  Value r = g.createInferred<ShapeOp>(*x, (uint64_t)start, (uint64_t)end);
  if (!r)
    return failure();
  bindWithShapeValue(g, r, elems);
  return success();
}

LogicalResult convertSize(GI &g) {
  auto x = g.requiredInput(0);
  if (failed(x))
    return failure();
  auto t = cast<RankedTensorType>(x->getType());
  auto scalar = RankedTensorType::get({}, g.getBuilder().getI64Type());
  if (t.hasStaticShape()) {
    g.setOutput(0, g.intConstant(scalar, {t.getNumElements()}));
    return success();
  }
  Value s = g.createInferred<ShapeOp>(*x, (uint64_t)0, (uint64_t)t.getRank());
  Value r = s ? g.createInferred<ReduceOp>(ReduceKind::prod, s,
                                           ArrayRef<int64_t>{0}, false)
              : Value();
  if (!r)
    return failure();
  ShapeValue prod = g.dimsFromSources(*x, {DS::dims(0, t.getRank())});
  bindWithShapeValue(g, r, prod);
  return success();
}

//===----------------------------------------------------------------------===//
// Reshape / Expand / ConstantOfShape / Range
//===----------------------------------------------------------------------===//

LogicalResult convertReshape(GI &g) {
  auto data = g.requiredInput(0);
  auto shape = g.requiredInput(1);
  auto allowzero = g.opset() >= 14 ? g.attrInt("allowzero", 0)
                                   : FailureOr<int64_t>(0);
  if (failed(data) || failed(shape) || failed(allowzero))
    return failure();
  if (failed(checkShapeOperand(g, *shape, "the shape input")))
    return failure();
  ShapeValue entries = shapeOperandValue(g, *shape);
  ShapeValue in = g.dimsOf(*data);
  ShapeValue out;
  std::optional<size_t> negIdx;
  bool hasZero = false;
  for (auto [i, e] : llvm::enumerate(entries)) {
    if (!e.isStatic()) {
      out.push_back(e.arg ? e : DV());
      continue;
    }
    int64_t v = e.size;
    if (v < -1)
      return g.nodeError() << "shape entry " << i << " is " << v
                           << "; only -1 and sizes >= 0 are allowed";
    if (v == -1) {
      if (negIdx)
        return g.nodeError() << "shape has more than one -1 entry";
      negIdx = i;
      out.push_back(DV());
    } else if (v == 0 && !*allowzero) {
      if (i >= in.size())
        return g.nodeError() << "shape entry " << i
                             << " is 0 (copy the input dim) but the input has "
                                "rank "
                             << in.size();
      out.push_back(in[i]);
    } else {
      hasZero |= v == 0;
      out.push_back(DV::fixed(v));
    }
  }
  if (negIdx && hasZero)
    return g.nodeError() << "shape has both -1 and 0 entries with allowzero=1";
  if (negIdx) {
    out[*negIdx] = reshapeMinusOne(in, out, *negIdx);
    // A static input whose size the other (constant) entries do not divide.
    if (!out[*negIdx].isStatic() && isFullyKnown(in)) {
      int64_t inCount = 1, others = 1;
      bool known = true;
      for (const DV &d : in)
        known = known && !llvm::MulOverflow(inCount, d.size, inCount);
      for (auto [j, d] : llvm::enumerate(out))
        if (j != *negIdx)
          known = known && d.isStatic() &&
                  !llvm::MulOverflow(others, d.size, others);
      if (known && (others == 0 || inCount % others != 0))
        return g.nodeError() << "cannot infer the -1 entry of the shape: the "
                                "input's "
                             << inCount
                             << " elements are not divisible by the product "
                                "of the other entries ("
                             << others << ")";
    }
  }

  auto type = GI::tensorType(out, elementTypeOf(*data));
  auto inType = cast<RankedTensorType>(data->getType());
  std::string sizeError = staticSizeError(type);
  if (!sizeError.empty())
    return g.nodeError() << "result " << sizeError;
  if (inType.hasStaticShape() && type.hasStaticShape() &&
      inType.getNumElements() != type.getNumElements())
    return g.nodeError() << "cannot reshape " << inType << " to " << type;

  std::optional<ShapeValue> sv = g.shapeValue(*data);
  if (sv && type.hasStaticShape() &&
      type.getNumElements() == (int64_t)sv->size()) {
    if (Value c = g.materializeIfKnown(type, *sv)) {
      g.setOutput(0, c);
      return success();
    }
  } else {
    sv.reset();
  }
  Value r = g.createTyped<ReshapeOp>(type, *data, *shape, *allowzero != 0);
  g.setDims(r, out);
  bindWithShapeValue(g, r, sv);
  return success();
}

LogicalResult convertExpand(GI &g) {
  auto x = g.requiredInput(0);
  auto shape = g.requiredInput(1);
  if (failed(x) || failed(shape))
    return failure();
  if (failed(checkShapeOperand(g, *shape, "the shape input")))
    return failure();
  ShapeValue s = shapeOperandValue(g, *shape);
  ShapeValue in = g.dimsOf(*x);
  size_t rank = std::max(in.size(), s.size());
  ShapeValue out;
  for (size_t i = 0; i < rank; ++i) {
    DV a = i < rank - in.size() ? DV::fixed(1) : in[i - (rank - in.size())];
    DV e = i < rank - s.size() ? DV::fixed(1) : s[i - (rank - s.size())];
    if (e.isStatic() && e.size < 0)
      return g.nodeError() << "shape entry " << i - (rank - s.size())
                           << " is negative (" << e.size << ")";
    if (e.isStatic() && e.size == 1) {
      out.push_back(a);
    } else if (a.isStatic() && a.size == 1) {
      out.push_back(e);
    } else if (e.isStatic()) {
      if (a.isStatic() && a.size != e.size)
        return g.nodeError() << "cannot expand dim " << i << " of size "
                             << a.size << " to " << e.size;
      out.push_back(e);
    } else if (a.isStatic()) {
      out.push_back(a); // a static dim > 1 stays (the entry must be 1 or it)
    } else if (e.arg && e.same(a)) {
      out.push_back(a);
    } else {
      out.push_back(DV());
    }
  }
  auto type = GI::tensorType(out, elementTypeOf(*x));
  Value r = g.createTyped<ExpandOp>(type, *x, *shape);
  g.setDims(r, out);
  g.setOutput(0, r);
  return success();
}

LogicalResult convertConstantOfShape(GI &g) {
  auto shape = g.requiredInput(0);
  if (failed(shape))
    return failure();
  if (failed(checkShapeOperand(g, *shape, "the input")))
    return failure();
  OpBuilder &b = g.getBuilder();
  TypedAttr fill = b.getF32FloatAttr(0.0f);
  if (const onnx::AttributeProto *a = g.findAttr("value")) {
    if (a->type() != onnx::AttributeProto::TENSOR)
      return g.nodeError() << "attribute 'value' must be a tensor";
    auto e = g.importTensor(
        a->t(), "ONNX node '" + g.nodeName() + "' (ConstantOfShape): value",
        "fill", g.loc());
    if (failed(e))
      return failure();
    auto dense = dyn_cast<DenseElementsAttr>(*e);
    if (!dense || dense.getNumElements() != 1)
      return g.nodeError() << "attribute 'value' must hold exactly one element";
    fill = cast<TypedAttr>(dense.getSplatValue<Attribute>());
  }
  ShapeValue s = shapeOperandValue(g, *shape);
  for (auto [i, d] : llvm::enumerate(s))
    if (d.isStatic() && d.size < 0)
      return g.nodeError() << "shape entry " << i << " is negative ("
                           << d.size << ")";
  auto type = GI::tensorType(s, fill.getType());
  std::string sizeError = staticSizeError(type);
  if (!sizeError.empty())
    return g.nodeError() << "result " << sizeError;
  // Small static results are splat constants; big ones are filled at run
  // time (a splat of billions of elements must never be materialized).
  if (type.hasStaticShape() &&
      type.getNumElements() <= kMaxMaterializedSplatElements) {
    g.setOutput(0, g.constant(DenseElementsAttr::get(type, fill)));
    return success();
  }
  Value r = g.createTyped<ConstantOfShapeOp>(type, *shape, fill);
  g.setDims(r, s);
  g.setOutput(0, r);
  return success();
}

LogicalResult convertRange(GI &g) {
  auto start = g.requiredInput(0);
  auto limit = g.requiredInput(1);
  auto delta = g.requiredInput(2);
  if (failed(start) || failed(limit) || failed(delta))
    return failure();
  if (failed(g.checkSameElementType({*start, *limit, *delta})))
    return failure();
  for (Value v : {*start, *limit, *delta})
    if (cast<RankedTensorType>(v.getType()).getRank() != 0)
      return g.nodeError() << "start, limit and delta must be scalars, got "
                           << v.getType();
  Type elt = elementTypeOf(*start);
  constexpr int64_t kMaxFolded = 1 << 16;
  DV len = DV();
  if (isa<IntegerType>(elt)) {
    auto s = g.shapeValue(*start), l = g.shapeValue(*limit),
         d = g.shapeValue(*delta);
    if (s && l && d) {
      DV sv = (*s)[0], lv = (*l)[0], dv = (*d)[0];
      if (dv.isStatic() && dv.size == 0)
        return g.nodeError() << "delta must not be 0";
      if (sv.isStatic() && lv.isStatic() && dv.isStatic()) {
        int64_t st = sv.size, lim = lv.size, de = dv.size;
        // In 128 bits: limit - start and the rounding overflow int64.
        __int128 span = de > 0 ? __int128(lim) - st : __int128(st) - lim;
        __int128 step = de > 0 ? __int128(de) : -__int128(de);
        __int128 count = span > 0 ? (span + step - 1) / step : 0;
        if (count > std::numeric_limits<int64_t>::max())
          return g.nodeError() << "Range(" << st << ", " << lim << ", " << de
                               << ") has more elements than int64 can count";
        int64_t n = int64_t(count);
        if (n <= kMaxFolded) {
          SmallVector<int64_t> vals;
          for (int64_t i = 0; i < n; ++i)
            vals.push_back(st + i * de);
          g.setOutput(0, g.intConstant(RankedTensorType::get({n}, elt), vals));
          return success();
        }
        len = DV::fixed(n);
      } else if (isa<IntegerType>(elt) && sv.isStatic() && sv.size == 0 &&
                 dv.isStatic() && dv.size == 1 && lv.arg) {
        len = lv; // Range(0, dim, 1) has `dim` elements
      }
    }
  } else if (isa<FloatType>(elt)) {
    auto s = g.constantFloats(*start), l = g.constantFloats(*limit),
         d = g.constantFloats(*delta);
    if (s && l && d) {
      double st = (*s)[0], lim = (*l)[0], de = (*d)[0];
      if (de == 0)
        return g.nodeError() << "delta must not be 0";
      double count = std::ceil((lim - st) / de);
      if (std::isnan(count))
        return g.nodeError() << "start, limit and delta give no element count"
                                " (NaN or infinite values)";
      if (count >= 0x1p62)
        return g.nodeError() << "Range(" << st << ", " << lim << ", " << de
                             << ") has too many elements (" << count << ")";
      int64_t n = count <= 0 ? 0 : (int64_t)count;
      if (n <= kMaxFolded) {
        SmallVector<Attribute> vals;
        for (int64_t i = 0; i < n; ++i)
          vals.push_back(FloatAttr::get(elt, st + double(i) * de));
        g.setOutput(0, g.constant(DenseElementsAttr::get(
                           RankedTensorType::get({n}, elt), vals)));
        return success();
      }
      len = DV::fixed(n);
    }
  }
  auto type = GI::tensorType({len}, elt);
  Value r = g.createTyped<RangeOp>(type, *start, *limit, *delta);
  g.setDims(r, {len});
  g.setOutput(0, r);
  return success();
}

//===----------------------------------------------------------------------===//
// Gather / Slice / Split / Concat
//===----------------------------------------------------------------------===//

/// Gather/GatherElements: data, int64/int32 indices and the axis in range.
struct GatherArgs {
  Value data, indices;
  RankedTensorType dt, it;
  int64_t axis;
};
FailureOr<GatherArgs> gatherArgs(GI &g) {
  auto data = g.requiredInput(0);
  auto indices = g.requiredInput(1);
  auto axisAttr = g.attrInt("axis", 0);
  if (failed(data) || failed(indices) || failed(axisAttr))
    return failure();
  auto dt = cast<RankedTensorType>(data->getType());
  auto it = cast<RankedTensorType>(indices->getType());
  if (!it.getElementType().isInteger(64) && !it.getElementType().isInteger(32))
    return g.nodeError() << "indices must be int64 or int32, got " << it;
  auto axis = normalizeAxis(*axisAttr, dt.getRank());
  if (!axis)
    return g.nodeError() << "axis " << *axisAttr << " is out of range for rank "
                         << dt.getRank();
  // Constant indices are checked here: out of range is a compile-time error
  // naming the node (a run-time check would only report it, and a folder
  // must not clamp it into a silent wrong answer).
  if (!dt.isDynamicDim(*axis)) {
    int64_t n = dt.getDimSize(*axis);
    if (auto idx = g.constantInts(*indices))
      for (int64_t i : *idx)
        if (i < -n || i >= n)
          return g.nodeError() << "index " << i << " is out of range for axis " << *axis
                               << " of size " << n << " (valid: " << -n << " to " << n - 1
                               << ")";
  }
  return GatherArgs{*data, *indices, dt, it, *axis};
}

LogicalResult convertGather(GI &g) {
  auto args = gatherArgs(g);
  if (failed(args))
    return failure();
  auto [data, indices, dt, it, axis] = *args;

  // Shape-value folding: Gather(shape, constant index).
  std::optional<ShapeValue> folded;
  if (dt.getRank() == 1) {
    auto dsv = g.shapeValue(data);
    auto isv = g.shapeValue(indices);
    if (dsv && isv && isFullyKnown(*isv)) {
      folded.emplace();
      int64_t n = dsv->size();
      for (const DV &i : *isv) {
        int64_t idx = i.size < 0 ? i.size + n : i.size;
        if (idx < 0 || idx >= n)
          return g.nodeError() << "index " << i.size
                               << " is out of range for a dim of size " << n;
        folded->push_back((*dsv)[idx]);
      }
      auto type = it.clone(dt.getElementType());
      if (Value c = g.materializeIfKnown(type, *folded)) {
        g.setOutput(0, c);
        return success();
      }
    }
  }
  Value r = g.createInferred<GatherOp>(data, indices, (uint64_t)axis);
  if (!r)
    return failure();
  ShapeValue d = g.dimsOf(data), idx = g.dimsOf(indices), out;
  out.append(d.begin(), d.begin() + axis);
  out.append(idx.begin(), idx.end());
  out.append(d.begin() + axis + 1, d.end());
  g.setDims(r, out);
  bindWithShapeValue(g, r, folded);
  return success();
}

LogicalResult convertGatherElements(GI &g) {
  auto args = gatherArgs(g);
  if (failed(args))
    return failure();
  auto [data, indices, dt, it, axis] = *args;
  if (it.getRank() != dt.getRank())
    return g.nodeError() << "indices (rank " << it.getRank() << ") must have the rank of data ("
                         << dt.getRank() << ")";
  Value r = g.createTyped<GatherElementsOp>(it.clone(dt.getElementType()), data, indices,
                                            (uint64_t)axis);
  if (!r)
    return failure();
  g.setDims(r, g.dimsOf(indices));
  g.setOutput(0, r);
  return success();
}

/// An i64 version of a Slice parameter (int32 is allowed by ONNX).
FailureOr<Value> sliceParamToI64(GI &g, Value v, llvm::StringRef what) {
  if (failed(checkShapeOperand(g, v, what, /*i64Only=*/false)))
    return failure();
  if (elementTypeOf(v).isInteger(64))
    return v;
  if (auto c = g.constantInts(v))
    return g.i64Vector(*c);
  Value r = g.castTo(v, g.getBuilder().getI64Type());
  if (auto sv = g.shapeValue(v))
    g.setShapeValue(r, *sv);
  return r;
}

LogicalResult convertSlice(GI &g) {
  auto data = g.requiredInput(0);
  if (failed(data))
    return failure();
  auto t = cast<RankedTensorType>(data->getType());
  int64_t rank = t.getRank();
  Value starts, ends, axes, steps;
  if (g.opset() < 10) {
    auto s = g.attrInts("starts"), e = g.attrInts("ends"), a = g.attrInts("axes");
    if (failed(s) || failed(e) || failed(a))
      return failure();
    if (!*s || !*e)
      return g.nodeError() << "attributes 'starts' and 'ends' are required";
    starts = g.i64Vector(**s);
    ends = g.i64Vector(**e);
    if (*a)
      axes = g.i64Vector(**a);
  } else {
    auto s = g.requiredInput(1), e = g.requiredInput(2);
    if (failed(s) || failed(e))
      return failure();
    starts = *s;
    ends = *e;
    axes = g.input(3);
    steps = g.input(4);
  }
  for (auto [v, what] : {std::pair<Value *, const char *>{&starts, "starts"},
                         {&ends, "ends"},
                         {&axes, "axes"},
                         {&steps, "steps"}}) {
    if (!*v)
      continue;
    auto c = sliceParamToI64(g, *v, what);
    if (failed(c))
      return failure();
    *v = *c;
  }
  int64_t n = cast<RankedTensorType>(starts.getType()).getDimSize(0);
  for (Value v : {ends, axes, steps})
    if (v && cast<RankedTensorType>(v.getType()).getDimSize(0) != n)
      return g.nodeError() << "starts, ends, axes and steps must have the same "
                              "length";
  SmallVector<int64_t> iota;
  for (int64_t i = 0; i < n; ++i)
    iota.push_back(i);
  if (!axes)
    axes = g.i64Vector(iota);
  if (!steps)
    steps = g.i64Vector(SmallVector<int64_t>(n, 1));

  // Run-time starts and ends are sliced at run time (clamped, as ONNX says);
  // the lowering needs the axes and steps (which dims, which direction).
  std::optional<SmallVector<int64_t>> axesKnown = g.constantInts(axes);
  if (!axesKnown)
    return g.nodeError() << "the axes input must be a constant (run-time axes are not supported)";
  if (!g.constantInts(steps))
    return g.nodeError() << "the steps input must be a constant (run-time steps are not supported)";
  {
    SmallVector<bool> seen(rank, false);
    bool changed = false;
    for (int64_t &a : *axesKnown) {
      auto na = normalizeAxis(a, rank);
      if (!na)
        return g.nodeError() << "axis " << a << " is out of range for rank "
                             << rank;
      if (seen[*na])
        return g.nodeError() << "axis " << a << " is repeated";
      seen[*na] = true;
      changed |= *na != a;
      a = *na;
    }
    if (changed)
      axes = g.i64Vector(*axesKnown);
  }
  ShapeValue sv = shapeOperandValue(g, starts), ev = shapeOperandValue(g, ends),
             pv = shapeOperandValue(g, steps);
  for (const DV &p : pv)
    if (p.isStatic() && p.size == 0)
      return g.nodeError() << "steps must not be 0";

  ShapeValue in = g.dimsOf(*data), out = in;
  constexpr int64_t kHuge = (int64_t(1) << 31) - 1;
  for (int64_t k = 0; k < n; ++k) {
    int64_t a = (*axesKnown)[k];
    if (!sv[k].isStatic() || !ev[k].isStatic() || !pv[k].isStatic()) {
      out[a] = DV();
      continue;
    }
    int64_t st = sv[k].size, en = ev[k].size, sp = pv[k].size;
    if (in[a].isStatic()) {
      out[a] = DV::fixed(sliceLength(in[a].size, st, en, sp));
    } else if ((sp == 1 && st == 0 && en >= kHuge) ||
               (sp == -1 && (st == -1 || st >= kHuge) && en <= -kHuge)) {
      out[a] = in[a]; // the whole dim, forwards or backwards
    } else {
      out[a] = DV();
    }
  }
  auto type = GI::tensorType(out, t.getElementType());

  // Shape-value folding: slicing a 1-D shape value with known parameters.
  std::optional<ShapeValue> folded;
  if (rank == 1 && isFullyKnown(sv) && isFullyKnown(ev) &&
      isFullyKnown(pv)) {
    if (auto dsv = g.shapeValue(*data)) {
      ShapeValue cur = *dsv;
      for (int64_t k = 0; k < n; ++k) {
        int64_t first = 0, step = pv[k].size;
        int64_t len = sliceLength(cur.size(), sv[k].size, ev[k].size, step,
                                  &first);
        ShapeValue next;
        for (int64_t i = 0; i < len; ++i)
          next.push_back(cur[first + i * step]);
        cur = next;
      }
      folded = cur;
      if (Value c = g.materializeIfKnown(type, *folded)) {
        g.setOutput(0, c);
        return success();
      }
    }
  }
  Value r = g.createTyped<SliceOp>(type, *data, starts, ends, axes, steps);
  g.setDims(r, out);
  bindWithShapeValue(g, r, folded);
  return success();
}

LogicalResult convertSplit(GI &g) {
  auto x = g.requiredInput(0);
  auto axisAttr = g.attrInt("axis", 0);
  if (failed(x) || failed(axisAttr))
    return failure();
  auto t = cast<RankedTensorType>(x->getType());
  auto axis = normalizeAxis(*axisAttr, t.getRank());
  if (!axis)
    return g.nodeError() << "axis " << *axisAttr << " is out of range for rank "
                         << t.getRank();
  int64_t numOut = g.numOutputs();
  if (numOut < 1)
    return g.nodeError() << "has no outputs";
  std::optional<SmallVector<int64_t>> sizes;
  if (g.opset() < 13) {
    auto s = g.attrInts("split");
    if (failed(s))
      return failure();
    if (*s)
      sizes = **s;
  } else if (Value s = g.input(1)) {
    sizes = g.constantInts(s);
    if (!sizes)
      return g.nodeError() << "the split input must be a constant";
  }
  bool ceilChunks = false;
  if (g.opset() >= 18 && g.findAttr("num_outputs")) {
    auto no = g.attrInt("num_outputs");
    if (failed(no))
      return failure();
    if (*no != numOut)
      return g.nodeError() << "num_outputs is " << *no << " but the node has "
                           << numOut << " outputs";
    ceilChunks = true;
  }
  int64_t dim = t.getDimSize(*axis);
  if (sizes) {
    if ((int64_t)sizes->size() != numOut)
      return g.nodeError() << "split has " << sizes->size()
                           << " entries but the node has " << numOut
                           << " outputs";
    int64_t sum = 0;
    for (int64_t s : *sizes) {
      if (s < 0)
        return g.nodeError() << "split sizes must be >= 0";
      sum += s;
    }
    if (!t.isDynamicDim(*axis) && sum != dim)
      return g.nodeError() << "split sizes add up to " << sum
                           << " but the dim has size " << dim;
  } else if (!t.isDynamicDim(*axis)) {
    int64_t chunk = ceilChunks ? (dim + numOut - 1) / numOut : dim / numOut;
    if (!ceilChunks && dim % numOut != 0)
      return g.nodeError() << "cannot split a dim of size " << dim << " into "
                           << numOut << " equal parts";
    sizes.emplace();
    for (int64_t i = 0; i < numOut; ++i)
      sizes->push_back(std::clamp<int64_t>(dim - i * chunk, 0, chunk));
  }

  ShapeValue in = g.dimsOf(*x);
  Value axesV = g.i64Vector({*axis}), stepsV = g.i64Vector({1});
  std::optional<ShapeValue> dsv;
  if (t.getRank() == 1)
    dsv = g.shapeValue(*x);

  // Runtime chunk size for a dynamic dim without explicit sizes.
  Value chunk;
  if (!sizes) {
    Value d = g.createInferred<ShapeOp>(*x, (uint64_t)*axis,
                                        (uint64_t)*axis + 1);
    if (!d)
      return failure();
    Value plus = g.createInferred<AddOp>(d, g.i64Vector({numOut - 1}));
    chunk = plus ? g.createInferred<DivOp>(plus, g.i64Vector({numOut}))
                 : Value();
    if (!chunk)
      return failure();
  }
  int64_t offset = 0;
  for (int64_t i = 0; i < numOut; ++i) {
    ShapeValue outDims = in;
    Value startV, endV;
    if (sizes) {
      int64_t sz = (*sizes)[i];
      outDims[*axis] = DV::fixed(sz);
      if (dsv) {
        ShapeValue part(dsv->begin() + offset, dsv->begin() + offset + sz);
        auto type = GI::tensorType(outDims, t.getElementType());
        if (Value c = g.materializeIfKnown(type, part)) {
          g.setOutput(i, c);
          offset += sz;
          continue;
        }
      }
      startV = g.i64Vector({offset});
      endV = g.i64Vector({offset + sz});
      offset += sz;
    } else {
      outDims[*axis] = DV();
      auto times = [&](int64_t k) -> Value {
        if (k == 0)
          return g.i64Vector({0});
        if (k == 1)
          return chunk;
        return g.createInferred<MulOp>(chunk, g.i64Vector({k}));
      };
      startV = times(i);
      endV = times(i + 1);
      if (!startV || !endV)
        return failure();
    }
    auto type = GI::tensorType(outDims, t.getElementType());
    Value r = g.createTyped<SliceOp>(type, *x, startV, endV, axesV, stepsV);
    g.setDims(r, outDims);
    if (dsv && sizes)
      g.setShapeValue(r, ShapeValue(dsv->begin() + offset - (*sizes)[i],
                                    dsv->begin() + offset));
    g.setOutput(i, r);
  }
  return success();
}

LogicalResult convertConcat(GI &g) {
  auto axisAttr = g.attrInt("axis");
  if (failed(axisAttr))
    return failure();
  SmallVector<Value> ins;
  for (unsigned i = 0; i < g.numInputs(); ++i) {
    auto v = g.requiredInput(i);
    if (failed(v))
      return failure();
    ins.push_back(*v);
  }
  if (ins.empty())
    return g.nodeError() << "needs at least one input";
  if (failed(g.checkSameElementType(ins)))
    return failure();
  auto t0 = cast<RankedTensorType>(ins[0].getType());
  for (Value v : ins)
    if (cast<RankedTensorType>(v.getType()).getRank() != t0.getRank())
      return g.nodeError() << "inputs have different ranks (" << t0 << " vs "
                           << v.getType() << ")";
  auto axis = normalizeAxis(*axisAttr, t0.getRank());
  if (!axis)
    return g.nodeError() << "axis " << *axisAttr << " is out of range for rank "
                         << t0.getRank();

  std::optional<ShapeValue> folded;
  if (t0.getRank() == 1) {
    folded.emplace();
    for (Value v : ins) {
      auto sv = g.shapeValue(v);
      if (!sv) {
        folded.reset();
        break;
      }
      folded->append(sv->begin(), sv->end());
    }
    if (folded && folded->size() <= (size_t)kMaxShapeValueElements) {
      auto type = RankedTensorType::get({(int64_t)folded->size()},
                                        t0.getElementType());
      if (Value c = g.materializeIfKnown(type, *folded)) {
        g.setOutput(0, c);
        return success();
      }
    }
  }
  Value r = g.createInferred<ConcatOp>(ValueRange(ins), (uint64_t)*axis);
  if (!r)
    return failure();
  // Dims: non-axis dims agree across inputs; the axis dim is a sum.
  SmallVector<ShapeValue> all;
  for (Value v : ins)
    all.push_back(g.dimsOf(v));
  ShapeValue out = all[0];
  for (int64_t i = 0; i < t0.getRank(); ++i) {
    if (i == *axis) {
      SmallVector<DV> nonZero;
      for (const ShapeValue &d : all)
        if (!(d[i].isStatic() && d[i].size == 0))
          nonZero.push_back(d[i]);
      out[i] = nonZero.size() == 1 ? nonZero[0] : DV();
      continue;
    }
    for (const ShapeValue &d : all)
      if (d[i].isStatic())
        out[i] = d[i];
  }
  g.setDims(r, out);
  bindWithShapeValue(g, r, folded);
  return success();
}

//===----------------------------------------------------------------------===//
// Unsqueeze / Squeeze / Flatten / Transpose
//===----------------------------------------------------------------------===//

/// The axes of Unsqueeze/Squeeze: an attribute before opset 13, an input
/// after. std::nullopt when absent.
FailureOr<std::optional<SmallVector<int64_t>>> getAxes(GI &g) {
  if (g.opset() < 13)
    return g.attrInts("axes");
  Value a = g.input(1);
  if (!a)
    return std::optional<SmallVector<int64_t>>();
  auto c = g.constantInts(a);
  if (!c) {
    g.nodeError() << "the axes input must be a constant";
    return failure();
  }
  return std::optional<SmallVector<int64_t>>(*c);
}

/// Reshapes `x` to `dims` (built from its own dims), keeping shape values.
LogicalResult emitReshapeLike(GI &g, Value x, ArrayRef<DS> dims) {
  auto t = cast<RankedTensorType>(x.getType());
  std::optional<ShapeValue> sv = g.shapeValue(x);
  ShapeValue outDims = g.dimsFromSources(x, dims);
  auto type = GI::tensorType(outDims, t.getElementType());
  if (sv) {
    if (Value c = g.materializeIfKnown(type, *sv)) {
      g.setOutput(0, c);
      return success();
    }
  }
  Value r = g.reshapeTo(x, dims);
  bindWithShapeValue(g, r, sv);
  return success();
}

LogicalResult convertUnsqueeze(GI &g) {
  auto x = g.requiredInput(0);
  auto axesOr = getAxes(g);
  if (failed(x) || failed(axesOr))
    return failure();
  if (!*axesOr)
    return g.nodeError() << "axes are required";
  int64_t rank = cast<RankedTensorType>(x->getType()).getRank();
  int64_t outRank = rank + (*axesOr)->size();
  SmallVector<bool> isNew(outRank, false);
  for (int64_t a : **axesOr) {
    auto na = normalizeAxis(a, outRank);
    if (!na)
      return g.nodeError() << "axis " << a << " is out of range for rank "
                           << outRank;
    if (isNew[*na])
      return g.nodeError() << "axis " << a << " is repeated";
    isNew[*na] = true;
  }
  SmallVector<DS> dims;
  int64_t j = 0;
  for (int64_t p = 0; p < outRank; ++p) {
    if (isNew[p]) {
      dims.push_back(DS::cst(1));
    } else {
      dims.push_back(DS::dims(j, j + 1));
      ++j;
    }
  }
  return emitReshapeLike(g, *x, dims);
}

LogicalResult convertSqueeze(GI &g) {
  auto x = g.requiredInput(0);
  auto axesOr = getAxes(g);
  if (failed(x) || failed(axesOr))
    return failure();
  auto t = cast<RankedTensorType>(x->getType());
  int64_t rank = t.getRank();
  SmallVector<bool> drop(rank, false);
  if (*axesOr && !(*axesOr)->empty()) {
    for (int64_t a : **axesOr) {
      auto na = normalizeAxis(a, rank);
      if (!na)
        return g.nodeError() << "axis " << a << " is out of range for rank "
                             << rank;
      if (!t.isDynamicDim(*na) && t.getDimSize(*na) != 1)
        return g.nodeError() << "cannot squeeze dim " << *na << " of size "
                             << t.getDimSize(*na);
      drop[*na] = true;
    }
  } else {
    for (int64_t i = 0; i < rank; ++i) {
      if (t.isDynamicDim(i))
        return g.nodeError() << "without axes, dim " << i
                             << " is dynamic and may or may not be 1";
      drop[i] = t.getDimSize(i) == 1;
    }
  }
  SmallVector<DS> dims;
  for (int64_t i = 0; i < rank; ++i)
    if (!drop[i])
      dims.push_back(DS::dims(i, i + 1));
  return emitReshapeLike(g, *x, dims);
}

LogicalResult convertFlatten(GI &g) {
  auto x = g.requiredInput(0);
  auto axisAttr = g.attrInt("axis", 1);
  if (failed(x) || failed(axisAttr))
    return failure();
  int64_t rank = cast<RankedTensorType>(x->getType()).getRank();
  int64_t axis = *axisAttr < 0 ? *axisAttr + rank : *axisAttr;
  if (axis < 0 || axis > rank)
    return g.nodeError() << "axis " << *axisAttr << " is out of range for rank "
                         << rank;
  return emitReshapeLike(g, *x, {DS::dims(0, axis), DS::dims(axis, rank)});
}

LogicalResult convertTranspose(GI &g) {
  auto x = g.requiredInput(0);
  auto permOr = g.attrInts("perm");
  if (failed(x) || failed(permOr))
    return failure();
  int64_t rank = cast<RankedTensorType>(x->getType()).getRank();
  SmallVector<int64_t> perm;
  if (*permOr) {
    perm = **permOr;
  } else {
    for (int64_t i = rank - 1; i >= 0; --i)
      perm.push_back(i);
  }
  if ((int64_t)perm.size() != rank)
    return g.nodeError() << "perm has " << perm.size()
                         << " entries but the input has rank " << rank;
  SmallVector<bool> seen(rank, false);
  for (int64_t &p : perm) {
    if (p < 0)
      p += rank;
    if (p < 0 || p >= rank || seen[p])
      return g.nodeError() << "perm is not a permutation of [0, " << rank
                           << ")";
    seen[p] = true;
  }
  Value r = g.createInferred<TransposeOp>(*x, ArrayRef<int64_t>(perm));
  if (!r)
    return failure();
  ShapeValue in = g.dimsOf(*x), out;
  for (int64_t p : perm)
    out.push_back(in[p]);
  g.setDims(r, out);
  bindWithShapeValue(g, r, rank <= 1 ? g.shapeValue(*x) : std::nullopt);
  return success();
}

} // namespace

void onnx_import::registerShapeConverters(llvm::StringMap<OpConverter> &t) {
  t["Shape"] = convertShape;
  t["Size"] = convertSize;
  t["Reshape"] = convertReshape;
  t["Expand"] = convertExpand;
  t["ConstantOfShape"] = convertConstantOfShape;
  t["Range"] = convertRange;
  t["Gather"] = convertGather;
  t["GatherElements"] = convertGatherElements;
  t["Slice"] = convertSlice;
  t["Split"] = convertSplit;
  t["Concat"] = convertConcat;
  t["Unsqueeze"] = convertUnsqueeze;
  t["Squeeze"] = convertSqueeze;
  t["Flatten"] = convertFlatten;
  t["Transpose"] = convertTranspose;
}
