//===- AttentionMatch.h - attn-fuse-attention's match, between its files -*- C++ -*-===//
//
// The match of attn-fuse-attention (FuseAttention.cpp) and the matchers that
// fill it, one concern per file:
//
//   AttentionMatch.cpp  shape rules; matchAttention, the top-level matcher
//   ChainMatch.cpp      the score chain, its scales and masks, the Q/K
//                       operands (transposes, scales), the SDPA NaN select
//   CausalMask.cpp      mask patterns of positions, causal detection and the
//                       causal & padding split; the attributes of the op
//
// Constants come from Support/ConstantEval.h, symbolic dims from
// Support/SymbolicShape.h. Matching never changes the IR.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_GRAPH_ATTENTIONMATCH_H
#define ATTN_GRAPH_ATTENTIONMATCH_H

#include "Support/SymbolicShape.h"
#include "attn/Dialect/AttnDialect.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/IR/Operation.h"
#include "llvm/ADT/Twine.h"

#include <optional>
#include <string>

namespace mlir::attn::fuse {

/// A masked entry turns into the causal flag only if its (scaled) score is
/// -inf or at most this: exp(x - rowmax) is then 0 in every float type for any
/// realistic score range (f32 underflows below -104, f16 below -17).
constexpr double kCausalMaskThreshold = -1.0e4;

/// Why a match failed; becomes the remark text.
struct Why {
  std::string text;
  LogicalResult fail(const Twine &t) {
    text = t.str();
    return failure();
  }
};

inline std::string opName(Operation *op) {
  return ("'" + op->getName().getStringRef() + "'").str();
}

inline ArrayRef<int64_t> shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

//===----------------------------------------------------------------------===//
// Shape rules (AttentionMatch.cpp)
//===----------------------------------------------------------------------===//

/// Whether broadcasting `from` against `to` (numpy rules) leaves `to`
/// unchanged, i.e. `from` only ever gets broadcast. A dynamic dim in `to` is
/// assumed to equal a static `from` dim > 1 (the program would be invalid or
/// would broadcast `to` otherwise, and a dynamic `to` dim of 1 broadcasting is
/// not something shape-polymorphic attention graphs do); a static 1 in `to`
/// against anything but a static 1 is a real broadcast and is rejected.
bool fitsInto(ArrayRef<int64_t> from, ArrayRef<int64_t> to);

/// Batch dims of Q, K and V must be the same (attn.attention does not
/// broadcast them). Static dims must be equal; a static 1 against a dynamic dim
/// is a broadcast in disguise and is rejected.
bool sameDims(ArrayRef<int64_t> a, ArrayRef<int64_t> b);

bool compatibleDim(int64_t a, int64_t b);
SmallVector<int64_t> identityPerm(int64_t rank);
SmallVector<int64_t> swapLastTwo(ArrayRef<int64_t> perm);
SmallVector<int64_t> permuteShape(ArrayRef<int64_t> shape, ArrayRef<int64_t> perm);

//===----------------------------------------------------------------------===//
// The match
//===----------------------------------------------------------------------===//

/// How to obtain the query or key operand of attn.attention.
struct OperandPlan {
  /// The value to use, or the input of a new attn.transpose when `perm` is set.
  Value base;
  SmallVector<int64_t> perm;
  /// Product of the scalar scales peeled off the operand.
  double scale = 1.0;
  bool scaled = false;
  /// Locations of the transposes the new attn.transpose replaces.
  SmallVector<Location> locs;

  SmallVector<int64_t> shape() const {
    return perm.empty() ? SmallVector<int64_t>(shapeOf(base))
                        : permuteShape(shapeOf(base), perm);
  }
};

/// A mask operand the rewrite creates: attn.select(cond, trueValue,
/// falseValue) of type `type` (the padding half of `Where(causal & padding,
/// 0, min)` once the causal half became the flag).
struct NewSelect {
  Value cond, trueValue, falseValue;
  RankedTensorType type;
  Operation *from; // the select it replaces in the mask
};

/// One mask applied to the scores.
struct MaskEdit {
  MaskKind kind = MaskKind::none;
  Value mask; // null when `build` says how to make it
  double fill = 0.0; // for fill_if_zero / fill_if_nonzero
  std::optional<NewSelect> build;

  ArrayRef<int64_t> shape() const {
    return build ? build->type.getShape() : shapeOf(mask);
  }
  Type elementType() const {
    return build ? build->type.getElementType() : getElementTypeOrSelf(mask.getType());
  }
};

/// A scale or a mask applied to the scores.
struct ScoreEdit {
  Operation *op = nullptr; // null for the scales peeled off Q and K
  double factor = 1.0;     // a scale when `mask` is empty
  std::optional<MaskEdit> mask;
  /// Logit soft-capping `c * tanh(x / c)` (then `factor` is 1 and `mask`
  /// empty); `op` is the outer multiplication by c.
  std::optional<double> softcap;
};

struct AttentionMatch {
  SoftmaxOp softmax;
  MatmulOp scores; // matmul(Q', K')
  MatmulOp output; // matmul(softmax, V)
  OperandPlan query, key;
  Value value;

  /// Scales and masks between `scores` and `softmax`, softmax first.
  SmallVector<ScoreEdit> edits;
  /// Ops looked through (identity casts); fused away with the chain.
  SmallVector<Operation *> passthrough;

  // The attributes of attn.attention.
  double scale = 1.0;
  MaskKind maskKind = MaskKind::none;
  Value mask;
  std::optional<NewSelect> maskBuild; // instead of `mask`
  double fillValue = 0.0;
  bool maskFirst = false;
  bool causal = false;
  /// bottom_right: queries after a KV cache (the mask compared key positions
  /// with `range(Sq) + (Sk - Sq)`).
  CausalAlign causalAlign = CausalAlign::top_left;
  /// A sliding window (`causal & window` masks): keys k <= q + o - W hidden.
  std::optional<int64_t> window;
  std::optional<double> causalFill;
  bool nanToZero = false;
  std::optional<double> softcap;
};

//===----------------------------------------------------------------------===//
// Matchers
//===----------------------------------------------------------------------===//

/// Matches the attention chain around `softmax` (see FuseAttention.cpp) into
/// `m`; on failure `why` says why. `names` may be null. (AttentionMatch.cpp)
LogicalResult matchAttention(SoftmaxOp softmax, const DimNames *names,
                             AttentionMatch &m, Why &why);

// ChainMatch.cpp

bool isIdentityCast(Operation *op);

/// `op` is `attn.mul(x, c)`, `attn.mul(c, x)` or `attn.div(x, c)` with `c` a
/// scalar constant that only broadcasts; returns x and the factor.
LogicalResult matchScaleOp(Operation *op, Value &input, double &factor,
                           Why &why);

/// Walks up from a matmul operand through attn.transpose and scalar scales
/// and plans the query (isKey = false) or key operand of attn.attention.
LogicalResult matchOperand(Value operand, bool isKey, SymbolicShapes &dims,
                           OperandPlan &plan, Why &why);

/// attn.attention broadcasts its mask to the scores, so a broadcast on the
/// mask (`attn.expand`) is dropped as long as the value under it fits the
/// scores.
Value peelBroadcasts(Value mask, ArrayRef<int64_t> scoresShape);

/// Matches the edits between the scores matmul and the softmax, from the
/// softmax upwards, ending at the scores matmul.
LogicalResult matchScoreChain(Value v, AttentionMatch &m, Why &why);

/// `Where(IsNaN(p), 0, p)` (IsNaN imported as `p != p`) after the softmax,
/// PyTorch's SDPA export: the select, or null.
SelectOp matchNanToZero(Value p);

// CausalMask.cpp

/// Turns the edits (and the scales peeled off Q and K) into the attributes of
/// attn.attention: one scale, at most one mask (before or after the scale),
/// and the causal flag for a constant causal mask. `sq`/`sk` are the scores'
/// query and key lengths, `et` their element type.
LogicalResult matchAttributes(AttentionMatch &m, const SymbolicDim &sq,
                              const SymbolicDim &sk, SymbolicShapes &dims,
                              ArrayRef<int64_t> scoresShape, Type et, Why &why);

} // namespace mlir::attn::fuse

#endif // ATTN_GRAPH_ATTENTIONMATCH_H
