//===- ShapeInference.cpp - shape rules ------------------------------------===//
#include "attn/Dialect/ShapeInference.h"

#include "mlir/Dialect/Traits.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

using namespace mlir;

std::optional<SmallVector<int64_t>>
attn::broadcastShapes(ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
  SmallVector<int64_t> out;
  if (!OpTrait::util::getBroadcastedShape(a, b, out))
    return std::nullopt;
  // MLIR's rule (TensorFlow's) makes `?` against a static 0 dynamic; numpy
  // broadcasting makes it 0 (the `?` must be 1 or 0 at run time), and the
  // inferred types of attn ops have always said 0: keep that.
  size_t rank = out.size();
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if ((da == 0 && ShapedType::isDynamic(db)) || (db == 0 && ShapedType::isDynamic(da)))
      out[i] = 0;
  }
  return out;
}

bool attn::broadcastsTo(ArrayRef<int64_t> from, ArrayRef<int64_t> to) {
  if (from.size() > to.size())
    return false;
  size_t off = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i) {
    int64_t f = from[i], t = to[off + i];
    if (f == 1 || ShapedType::isDynamic(f) || ShapedType::isDynamic(t) || f == t)
      continue;
    return false;
  }
  return true;
}

std::optional<SmallVector<int64_t>>
attn::matmulShape(ArrayRef<int64_t> lhs, ArrayRef<int64_t> rhs,
                  std::string *error) {
  auto fail = [&](std::string msg) -> std::optional<SmallVector<int64_t>> {
    if (error)
      *error = std::move(msg);
    return std::nullopt;
  };
  if (lhs.empty() || rhs.empty())
    return fail("matmul operands must have rank >= 1");
  SmallVector<int64_t> l(lhs), r(rhs);
  bool lhsVec = l.size() == 1, rhsVec = r.size() == 1;
  if (lhsVec)
    l.insert(l.begin(), 1);
  if (rhsVec)
    r.push_back(1);
  int64_t kl = l.back(), kr = r[r.size() - 2];
  if (!ShapedType::isDynamic(kl) && !ShapedType::isDynamic(kr) && kl != kr)
    return fail("contracting dims differ (" + std::to_string(kl) + " vs " +
                std::to_string(kr) + ")");
  auto batch = broadcastShapes(ArrayRef<int64_t>(l).drop_back(2),
                               ArrayRef<int64_t>(r).drop_back(2));
  if (!batch)
    return fail("batch dims do not broadcast");
  SmallVector<int64_t> out(*batch);
  if (!lhsVec)
    out.push_back(l[l.size() - 2]);
  if (!rhsVec)
    out.push_back(r.back());
  return out;
}

std::optional<int64_t> attn::normalizeAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return std::nullopt;
  return axis < 0 ? axis + rank : axis;
}

std::string attn::shapeStr(ArrayRef<int64_t> shape) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "[";
  llvm::interleave(
      shape, os,
      [&](int64_t d) {
        if (ShapedType::isDynamic(d))
          os << "?";
        else
          os << d;
      },
      ", ");
  os << "]";
  return s;
}
