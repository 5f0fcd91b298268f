//===- SymbolicShape.h - symbolic tensor dims of attn-dialect graphs -*- C++ -*-===//
//
// The project's symbolic-shape facility. A dynamic (`?`) dim of an attn
// tensor is followed through the graph back to the function arguments, so
// that two `?` dims can be proven equal: "dim 1 of input_ids", possibly
// clamped by a static table (`position_ids[:, :seq]`). The values of the
// small integer tensors ONNX exports compute shapes with (Shape, Gather,
// Concat, Slice, Mul/Div of dims, `Where(shape == -1, 1, shape)`) are
// followed the same way, element by element.
//
// Typical use (a graph pass proving a mask has exactly the scores' dims):
//
//   DimNames names(func);            // ONNX dim_params: same name = same size
//   SymbolicShapes shapes(&names);
//   if (shapes.dim(mask, -1).same(shapes.dim(scores, -1))) ...
//
// Nothing here changes the IR. Results are cached per (value, index); build a
// new SymbolicShapes after the IR changed.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_SUPPORT_SYMBOLICSHAPE_H
#define ATTN_SUPPORT_SYMBOLICSHAPE_H

#include "attn/Dialect/AttnDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"

#include <map>
#include <optional>
#include <tuple>
#include <vector>

namespace mlir::attn {

/// A dim size known statically, or as "dim `idx` of `arg`": a block argument
/// (the model's symbolic input dims) or, when a dim cannot be followed to an
/// input, the value itself (its own dim: equal only to itself and to what is
/// provably built from it), or unknown (the default).
///
/// The ONNX importer uses the same type for what it knows about the elements
/// of small integer tensors (shape values): there a static "size" is any
/// int64 constant, INT64_MIN (ONNX's "to the start" slice end) included.
struct SymbolicDim {
  int64_t size = ShapedType::kDynamic;
  /// `size` holds the value (a separate flag: kDynamic is INT64_MIN, which is
  /// a valid element of an integer tensor).
  bool hasSize = false;
  Value arg;
  int64_t idx = -1;
  /// With `arg`: the size is min(that dim, clamp) (a slice [0, n) of a static
  /// table: BERT's position ids, `position_ids[:, :seq]`).
  int64_t clamp = ShapedType::kDynamic;

  static SymbolicDim fixed(int64_t s) {
    SymbolicDim r;
    r.size = s;
    r.hasSize = true;
    return r;
  }
  static SymbolicDim of(Value a, int64_t i) {
    SymbolicDim r;
    r.arg = a;
    r.idx = i;
    return r;
  }
  bool isStatic() const { return hasSize; }
  bool isOne() const { return isStatic() && size == 1; }
  bool known() const { return isStatic() || arg; }
  /// Provably the same size.
  bool same(const SymbolicDim &o) const {
    if (!known() || !o.known())
      return false;
    if (isStatic() || o.isStatic())
      return isStatic() && o.isStatic() && size == o.size;
    return arg == o.arg && idx == o.idx && clamp == o.clamp;
  }
  bool clamped() const { return !ShapedType::isDynamic(clamp); }

  /// Numpy broadcast of two dims: a 1 gives the other; a static dim > 1 wins
  /// (the other is it or 1); two symbols only when they are the same.
  static SymbolicDim broadcast(const SymbolicDim &a, const SymbolicDim &b);
};

/// Numpy broadcast of dim lists (right-aligned, a missing dim is 1), dim by
/// dim with SymbolicDim::broadcast.
SmallVector<SymbolicDim, 4> broadcastDims(ArrayRef<SmallVector<SymbolicDim, 4>> operands);

/// What follows about an element of an integer tensor op's result from what
/// is known about its operands' elements (`a` holds one element per operand):
/// constants fold (two's-complement wrapping, as the generated code
/// computes), identities (x + 0, x * 1, x / 1, x - x, max(x, x), x == x)
/// keep symbols; anything else is unknown. The importer folds shape values
/// with these; SymbolicShapes follows Mul/Div of sizes with them.
namespace dimfold {
SymbolicDim add(ArrayRef<SymbolicDim> a);
SymbolicDim sub(ArrayRef<SymbolicDim> a);
SymbolicDim mul(ArrayRef<SymbolicDim> a);
SymbolicDim div(ArrayRef<SymbolicDim> a); ///< truncating, as ONNX
SymbolicDim max(ArrayRef<SymbolicDim> a);
SymbolicDim min(ArrayRef<SymbolicDim> a);
SymbolicDim eq(ArrayRef<SymbolicDim> a);
SymbolicDim lt(ArrayRef<SymbolicDim> a);
SymbolicDim le(ArrayRef<SymbolicDim> a);
SymbolicDim gt(ArrayRef<SymbolicDim> a);
SymbolicDim ge(ArrayRef<SymbolicDim> a);
SymbolicDim logicalAnd(ArrayRef<SymbolicDim> a);
SymbolicDim logicalOr(ArrayRef<SymbolicDim> a);
SymbolicDim mod(ArrayRef<SymbolicDim> a);  ///< Python's %, ONNX Mod fmod=0
SymbolicDim fmod(ArrayRef<SymbolicDim> a); ///< C's %, ONNX Mod fmod=1
SymbolicDim where(ArrayRef<SymbolicDim> a); ///< (condition, x, y)
} // namespace dimfold

/// The size a single -1 entry (index `negIdx` of `out`) of a reshape from
/// dims `in` stands for, when the other entries and the input's dims
/// determine it: constants multiply, equal symbols cancel (x[B, S] ->
/// [B, -1] is S); unknown otherwise. The importer types Reshape with it,
/// SymbolicShapes follows attn.reshape with it.
SymbolicDim reshapeMinusOne(ArrayRef<SymbolicDim> in, ArrayRef<SymbolicDim> out,
                            size_t negIdx);

/// ONNX Slice on a dim of static size `dim`: the number of elements taken
/// from `start` to `end` by `step` (!= 0) after ONNX's clamping (negative
/// indices count from the back; starts clamp to [0, dim] forwards and
/// [0, dim - 1] backwards, ends to [0, dim] and [-1, dim - 1]). `first`
/// receives the first index taken. The importer sizes slices and folds
/// sliced shape values with it, SymbolicShapes follows sliced shape tensors,
/// attn-fold-shape-arithmetic picks a sliced shape tensor's elements.
int64_t sliceLength(int64_t dim, int64_t start, int64_t end, int64_t step,
                    int64_t *first = nullptr);

/// The model's named symbolic dims: dims of different inputs with the same
/// ONNX dim_param (`seq` of input_ids and of attention_mask) are equal, because
/// the runtime rejects inputs whose named dims disagree. Read from the
/// module's `attn.signature` when it describes `func` (same number of inputs,
/// same ranks); empty otherwise.
class DimNames {
public:
  explicit DimNames(func::FuncOp func);

  /// The first input dim with the same name as dim `idx` of argument `arg`.
  std::pair<Value, int64_t> canonical(Value arg, int64_t idx) const {
    auto it = canonicalDim.find({arg, idx});
    return it == canonicalDim.end() ? std::make_pair(arg, idx) : it->second;
  }

private:
  DenseMap<std::pair<Value, int64_t>, std::pair<Value, int64_t>> canonicalDim;
};

/// A size as a sum of symbolic dims with integer coefficients plus a
/// constant (`past + seq`, the length of a concatenated KV cache).
struct SymbolicSum {
  int64_t c = 0;
  SmallVector<std::pair<SymbolicDim, int64_t>> terms;
};

/// Follows dims through the graph back to the function arguments, and the
/// values of small integer tensors built from them (attn.shape, gather,
/// concat, ...: the shape computations of ONNX exports). Just enough to prove
/// that a mask built from `Shape(x)` has exactly the scores' dims.
///
/// Sums of dims (a concatenation along an axis, `Add`/`Sub` of scalar sizes:
/// dynamo's `past + seq`) are interned: every size equal to the same sum of
/// the same symbols gets one representative SymbolicDim (the first value dim
/// seen with it), so `same()` proves `concat(past, new).dim(2)` equal to a
/// reshape to `[.., past + seq, ..]`; `sum()` gives the terms back.
class SymbolicShapes {
public:
  /// `names` (optional, must outlive this) merges equally named input dims.
  explicit SymbolicShapes(const DimNames *names = nullptr) : names(names) {}

  /// Dim `i` (negative counts from the back) of a ranked tensor value.
  SymbolicDim dim(Value v, int64_t i, int depth = 0);

  /// The value of element `j` of an integer tensor of rank <= 1, as a size.
  SymbolicDim elem(Value v, int64_t j, int depth = 0);

  /// The terms of a size: a static size is a constant, an interned sum its
  /// terms, any other known dim one term; nullopt when unknown.
  std::optional<SymbolicSum> sum(const SymbolicDim &d) const;

private:
  static constexpr int kMaxDepth = 64;
  const DimNames *names;
  DenseMap<std::pair<Value, int64_t>, SymbolicDim> dimCache, elemCache;
  /// Interned sums: canonical terms -> representative, and back.
  using SumKey = std::pair<int64_t, std::vector<std::tuple<const void *, int64_t, int64_t, int64_t>>>;
  std::map<SumKey, SymbolicDim> sumReps;
  DenseMap<std::pair<Value, int64_t>, SymbolicSum> repSums;

  /// The size `s` as a SymbolicDim: a constant, a single symbol, or the
  /// representative of its sum (`of(v, idx)` when new: dim `idx` of a
  /// concatenation, or `-1 - j` for element j of an Add/Sub).
  SymbolicDim intern(SymbolicSum s, Value v, int64_t idx);

  /// Dim `i` of an operand broadcast (right-aligned) to `rank` dims; a missing
  /// dim is 1.
  SymbolicDim alignedDim(Value operand, int64_t rank, int64_t i, int depth);
  SymbolicDim computeDim(Operation *def, Value v, int64_t i, int depth);
  SymbolicDim inferredDim(ReshapeOp r, int64_t i, int depth);
  SymbolicDim computeElem(Value v, int64_t j, int depth);
};

} // namespace mlir::attn

#endif // ATTN_SUPPORT_SYMBOLICSHAPE_H
