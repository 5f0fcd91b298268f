//===- OpsMatmul.cpp - ONNX MatMul and Gemm -> attn -----------------------===//
//
// MatMul becomes attn.matmul (numpy semantics, dim symbols recorded); Gemm
// becomes optional transposes, attn.matmul, and the alpha/beta scaling and
// bias as broadcasting elementwise ops.
//
//===----------------------------------------------------------------------===//
#include "Frontend/ImporterImpl.h"

#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::onnx_import;

namespace {
using GI = GraphImporter;
using DV = SymbolicDim;

/// Result dims of numpy matmul, symbols included.
ShapeValue matmulDims(GI &g, Value a, Value b) {
  ShapeValue l = g.dimsOf(a), r = g.dimsOf(b);
  bool lhsVec = l.size() == 1, rhsVec = r.size() == 1;
  if (lhsVec)
    l.insert(l.begin(), DV::fixed(1));
  if (rhsVec)
    r.push_back(DV::fixed(1));
  ShapeValue out = mlir::attn::broadcastDims(
      {ShapeValue(l.begin(), l.end() - 2), ShapeValue(r.begin(), r.end() - 2)});
  if (!lhsVec)
    out.push_back(l[l.size() - 2]);
  if (!rhsVec)
    out.push_back(r.back());
  return out;
}

Value emitMatmul(GI &g, Value a, Value b) {
  Value r = g.createInferred<MatmulOp>(a, b);
  if (r)
    g.setDims(r, matmulDims(g, a, b));
  return r;
}

Value emitTranspose(GI &g, Value x, ArrayRef<int64_t> perm) {
  Value r = g.createInferred<TransposeOp>(x, perm);
  if (!r)
    return {};
  ShapeValue in = g.dimsOf(x), out;
  for (int64_t p : perm)
    out.push_back(in[p]);
  g.setDims(r, out);
  return r;
}

LogicalResult convertMatMul(GI &g) {
  auto a = g.requiredInput(0);
  auto b = g.requiredInput(1);
  if (failed(a) || failed(b))
    return failure();
  if (failed(g.checkSameElementType({*a, *b})))
    return failure();
  Value r = emitMatmul(g, *a, *b);
  if (!r)
    return failure();
  g.setOutput(0, r);
  return success();
}

LogicalResult convertGemm(GI &g) {
  auto a = g.requiredInput(0);
  auto b = g.requiredInput(1);
  auto transA = g.attrInt("transA", 0);
  auto transB = g.attrInt("transB", 0);
  auto alpha = g.attrFloat("alpha", 1.0f);
  auto beta = g.attrFloat("beta", 1.0f);
  if (failed(a) || failed(b) || failed(transA) || failed(transB) ||
      failed(alpha) || failed(beta))
    return failure();
  Value c = g.input(2);
  SmallVector<Value> operands{*a, *b};
  if (c)
    operands.push_back(c);
  if (failed(g.checkSameElementType(operands)))
    return failure();
  for (Value v : {*a, *b})
    if (cast<RankedTensorType>(v.getType()).getRank() != 2)
      return g.nodeError() << "A and B must be 2-D, got " << v.getType();
  Type elt = getElementTypeOrSelf(*a);
  if (!isa<FloatType>(elt) && (*alpha != 1.0f || (c && *beta != 1.0f)))
    return g.nodeError() << "alpha/beta scaling needs floating-point operands";

  Value lhs = *a, rhs = *b;
  if (*transA)
    lhs = emitTranspose(g, lhs, {1, 0});
  if (lhs && *transB)
    rhs = emitTranspose(g, rhs, {1, 0});
  if (!lhs || !rhs)
    return failure();
  Value y = emitMatmul(g, lhs, rhs);
  if (y && *alpha != 1.0f)
    y = g.binary<MulOp>(y, g.scalarConstant(elt, *alpha));
  if (y && c && *beta != 0.0f) {
    Value cv = c;
    if (*beta != 1.0f)
      cv = g.binary<MulOp>(c, g.scalarConstant(elt, *beta));
    y = cv ? g.binary<AddOp>(y, cv) : Value();
  }
  if (!y)
    return failure();
  g.setOutput(0, y);
  return success();
}

} // namespace

void onnx_import::registerMatmulConverters(llvm::StringMap<OpConverter> &t) {
  t["MatMul"] = convertMatMul;
  t["Gemm"] = convertGemm;
}
