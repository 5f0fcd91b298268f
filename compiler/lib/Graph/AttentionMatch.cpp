//===- AttentionMatch.cpp - attn-fuse-attention's top-level matcher ------===//
//
// The shape rules of the fused op (what may broadcast, what must agree) and
// matchAttention: softmax -> output matmul, the score chain, the Q/K
// operands, the attributes, then the shapes of the fused op.
//
//===----------------------------------------------------------------------===//
#include "Graph/AttentionMatch.h"
#include "Support/ConstantEval.h"
#include "attn/Dialect/ShapeInference.h"

#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::attn;

namespace mlir::attn::fuse {

bool fitsInto(ArrayRef<int64_t> from, ArrayRef<int64_t> to) {
  if (from.size() > to.size())
    return false;
  size_t off = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i) {
    int64_t f = from[i], t = to[off + i];
    if (f == 1)
      continue;
    if (t == 1)
      return false;
    if (!ShapedType::isDynamic(f) && !ShapedType::isDynamic(t) && f != t)
      return false;
  }
  return true;
}

/// Batch dims of Q, K and V must be the same (attn.attention does not
/// broadcast them). Static dims must be equal; a static 1 against a dynamic dim
/// is a broadcast in disguise and is rejected.
bool sameDims(ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
  if (a.size() != b.size())
    return false;
  for (auto [x, y] : llvm::zip(a, b)) {
    bool dx = ShapedType::isDynamic(x), dy = ShapedType::isDynamic(y);
    if (!dx && !dy) {
      if (x != y)
        return false;
    } else if (x == 1 || y == 1) {
      return false;
    }
  }
  return true;
}

bool compatibleDim(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

SmallVector<int64_t> identityPerm(int64_t rank) {
  return llvm::to_vector(llvm::seq<int64_t>(0, rank));
}

SmallVector<int64_t> swapLastTwo(ArrayRef<int64_t> perm) {
  SmallVector<int64_t> p(perm);
  std::swap(p[p.size() - 1], p[p.size() - 2]);
  return p;
}

SmallVector<int64_t> permuteShape(ArrayRef<int64_t> shape,
                                  ArrayRef<int64_t> perm) {
  return llvm::map_to_vector(perm, [&](int64_t p) { return shape[p]; });
}

LogicalResult matchAttention(SoftmaxOp softmax, const DimNames *names,
                             AttentionMatch &m, Why &why) {
  m = AttentionMatch();
  m.softmax = softmax;
  auto inTy = softmax.getInput().getType();
  int64_t rank = inTy.getRank();
  std::optional<int64_t> axis =
      normalizeAxis(static_cast<int64_t>(softmax.getAxis()), rank);
  if (!axis || *axis != rank - 1)
    return why.fail("the softmax is not on the last axis");
  if (rank < 2)
    return why.fail("the softmax input has rank < 2");

  // out = matmul(softmax, V), possibly through identity casts.
  Value p = softmax.getResult();
  Operation *user = nullptr;
  while (true) {
    if (!m.nanToZero && !p.hasOneUse()) {
      if (SelectOp sel = matchNanToZero(p)) {
        m.nanToZero = true;
        m.passthrough.push_back(sel.getCondition().getDefiningOp());
        m.passthrough.push_back(sel);
        p = sel.getResult();
        continue;
      }
    }
    if (!p.hasOneUse())
      return why.fail(llvm::formatv("the softmax result has {0} users",
                                    std::distance(p.use_begin(), p.use_end())));
    user = *p.getUsers().begin();
    if (!isIdentityCast(user))
      break;
    m.passthrough.push_back(user);
    p = user->getResult(0);
  }
  auto out = dyn_cast<MatmulOp>(user);
  if (!out || out.getLhs() != p)
    return why.fail("the softmax result is not the left operand of a matmul");
  m.output = out;
  m.value = out.getRhs();

  if (failed(matchScoreChain(softmax.getInput(), m, why)))
    return failure();
  if ((int64_t)shapeOf(m.scores.getLhs()).size() != rank ||
      (int64_t)shapeOf(m.scores.getRhs()).size() != rank)
    return why.fail("the scores matmul's operands do not have the rank of the "
                    "scores");
  SymbolicShapes dims(names);
  if (failed(matchOperand(m.scores.getLhs(), /*isKey=*/false, dims, m.query, why)) ||
      failed(matchOperand(m.scores.getRhs(), /*isKey=*/true, dims, m.key, why)))
    return failure();

  // Shapes: same rank, same batch dims, matching head dim and key length.
  SmallVector<int64_t> q = m.query.shape(), k = m.key.shape();
  ArrayRef<int64_t> v = shapeOf(m.value);
  if ((int64_t)q.size() != rank || (int64_t)k.size() != rank ||
      (int64_t)v.size() != rank)
    return why.fail("query, key and value do not all have the rank of the "
                    "scores");
  auto batch = [&](ArrayRef<int64_t> s) { return s.drop_back(2); };
  if (!sameDims(batch(q), batch(k)) || !sameDims(batch(q), batch(v)))
    return why.fail(llvm::formatv(
        "the batch dims of query {0}, key {1} and value {2} differ (they would "
        "broadcast)",
        shapeStr(q), shapeStr(k), shapeStr(v)));
  if (!compatibleDim(q[rank - 1], k[rank - 1]) ||
      !compatibleDim(k[rank - 2], v[rank - 2]))
    return why.fail("query/key head dims or key/value lengths differ");
  // The fused op's type (query shape, value head dim) must agree with the
  // output matmul's.
  SmallVector<int64_t> fused(q);
  fused.back() = v.back();
  if (failed(verifyCompatibleShape(fused, shapeOf(out.getResult()))))
    return why.fail("the output matmul's shape differs from the fused one");
  SmallVector<int64_t> scores(q.begin(), q.end() - 1);
  scores.push_back(k[rank - 2]);

  SymbolicDim sq = dims.dim(m.scores.getResult(), -2);
  SymbolicDim sk = dims.dim(m.scores.getResult(), -1);
  if (failed(matchAttributes(m, sq, sk, dims, shapeOf(m.scores.getResult()),
                             inTy.getElementType(), why)))
    return failure();
  // The mask must not broadcast the scores (checked per edit) and must
  // broadcast to the scores of the fused op.
  if (m.mask || m.maskBuild) {
    ArrayRef<int64_t> maskShape =
        m.maskBuild ? m.maskBuild->type.getShape() : shapeOf(m.mask);
    Type maskType = m.maskBuild ? m.maskBuild->type.getElementType()
                                : getElementTypeOrSelf(m.mask.getType());
    if (!fitsInto(maskShape, scores))
      return why.fail(llvm::formatv(
          "the mask shape {0} does not fit the scores shape {1}",
          shapeStr(maskShape), shapeStr(scores)));
    if (m.maskKind == MaskKind::additive && maskType != inTy.getElementType())
      return why.fail("the additive mask's element type differs");
  }
  return success();
}

} // namespace mlir::attn::fuse
