//===- RuntimeChecks.cpp - run-time shape and index checks ---------------===//
#include "Support/RuntimeChecks.h"
#include "Support/KernelRegion.h"
#include "Support/LoweringUtils.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;

static std::optional<std::string> nodeName(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().getValue().str();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location l : fused.getLocations())
      if (auto n = nodeName(l))
        return n;
  if (auto callsite = dyn_cast<CallSiteLoc>(loc))
    return nodeName(callsite.getCallee());
  return std::nullopt;
}

std::string attn::describeNode(Operation *op) {
  std::string s;
  llvm::raw_string_ostream os(s);
  StringRef opName = op->getName().getStringRef();
  opName.consume_front("attn.");
  if (auto n = nodeName(op->getLoc()))
    os << "node '" << *n << "' (" << opName << ")";
  else
    os << "an op (" << opName << ")";
  return s;
}

std::string attn::describeNodeAt(Location loc) {
  if (auto n = nodeName(loc))
    return "node '" + *n + "'";
  return "an op";
}

void attn::recordRuntimeCheck(OpBuilder &b, Location loc, Value bad, Value a, Value bsize,
                              StringRef messageTemplate, int64_t code) {
  Value bad64 = arith::ExtUIOp::create(b, loc, b.getI64Type(), bad);
  auto asI64 = [&](Value v) -> Value {
    if (v.getType().isIndex())
      return toI64(b, loc, v);
    if (v.getType().getIntOrFloatBitWidth() < 64)
      return arith::ExtSIOp::create(b, loc, b.getI64Type(), v);
    return v;
  };
  auto marker = tensor::FromElementsOp::create(b,
      loc, RankedTensorType::get({3}, b.getI64Type()),
      ValueRange{bad64, asI64(a), asI64(bsize)});
  marker->setAttr(kRuntimeCheckAttr, b.getStringAttr(messageTemplate));
  marker->setAttr(kRuntimeCheckCodeAttr, b.getI64IntegerAttr(code));
}

Value attn::conformOperand(OpBuilder &b, Location loc, Value operand, ArrayRef<Value> resultDims,
                           bool allowBroadcast, StringRef what, ArrayRef<int64_t> skipDims) {
  auto type = cast<RankedTensorType>(operand.getType());
  int64_t rank = resultDims.size();
  int64_t off = rank - type.getRank();
  SmallVector<int64_t> shape(type.getShape());
  Value needs;
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto orInto = [&](Value &acc, Value v) {
    acc = acc ? arith::OrIOp::create(b, loc, acc, v).getResult() : v;
  };
  for (int64_t j = 0; j < type.getRank(); ++j) {
    if (llvm::is_contained(skipDims, j))
      continue;
    Value res = resultDims[j + off];
    std::optional<int64_t> resC = getConstantIntValue(res);
    // The operand's own dim: nothing to check.
    if (auto dim = res.getDefiningOp<tensor::DimOp>())
      if (dim.getSource() == operand && getConstantIntValue(dim.getIndex()) == j)
        continue;
    Value d, bad, differs;
    if (!type.isDynamicDim(j)) {
      int64_t s = type.getDimSize(j);
      if ((s == 1 && allowBroadcast) || (resC && *resC == s))
        continue;
      d = arith::ConstantIndexOp::create(b, loc, s);
      differs = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, d, res);
      bad = differs;
      shape[j] = ShapedType::kDynamic; // conformed to the result's size
    } else {
      d = tensor::DimOp::create(b, loc, operand, j);
      differs = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, d, res);
      bad = differs;
      if (allowBroadcast) {
        Value notOne = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, d, one);
        bad = arith::AndIOp::create(b, loc, differs, notOne);
      }
    }
    std::string msg;
    llvm::raw_string_ostream os(msg);
    os << what << ": dimension " << j << " has size {a} but "
       << (allowBroadcast ? "the broadcast result's is {b} (sizes must be equal or 1)"
                          : "{b} is expected");
    if (!what.empty())
      recordRuntimeCheck(b, loc, bad, d, res, msg);
    orInto(needs, differs);
  }
  if (!needs)
    return operand;

  auto conformedType = RankedTensorType::get(shape, type.getElementType());
  SmallVector<Value> dims;
  for (int64_t j = 0; j < type.getRank(); ++j) {
    if (llvm::is_contained(skipDims, j) || (!type.isDynamicDim(j) && shape[j] == type.getDimSize(j)))
      dims.push_back(type.isDynamicDim(j) ? tensor::DimOp::create(b, loc, operand, j).getResult()
                                          : arith::ConstantIndexOp::create(b, loc, type.getDimSize(j))
                                                .getResult());
    else
      dims.push_back(resultDims[j + off]);
  }
  // Slow path: a copy with the result's sizes, reading index 0 along dims
  // that are 1 (broadcast) and clamping every other read into the operand
  // (only a failed check makes that clamp matter). An operand with no
  // elements has nothing to read: zeros. On the CPU the copy is a kernel
  // region (KernelRegion.h): every layer's copy of one shape calls one
  // function, instead of each layer carrying its own rarely run loop nest.
  bool inRegion = kernelRegionsWanted(b);
  auto ifOp = scf::IfOp::create(b,
      loc, needs,
      [&](OpBuilder &tb, Location l) {
        scf::ExecuteRegionOp region;
        if (inRegion)
          region = openKernelRegion(tb, l, "conform", TypeRange{conformedType});
        Value numel = arith::ConstantIndexOp::create(tb, l, 1);
        for (int64_t j = 0; j < type.getRank(); ++j)
          numel = arith::MulIOp::create(tb, l, numel, tensor::DimOp::create(tb, l, operand, j));
        Value zeroIdx = arith::ConstantIndexOp::create(tb, l, 0);
        Value empty = arith::CmpIOp::create(tb, l, arith::CmpIPredicate::eq, numel, zeroIdx);
        Value init = createEmptyTensor(tb, l, conformedType, dims);
        auto inner = scf::IfOp::create(tb,
            l, empty,
            [&](OpBuilder &eb, Location el) {
              Type et = type.getElementType();
              Value zero;
              if (auto it = dyn_cast<IntegerType>(et); it && !it.isSignless())
                zero = UnrealizedConversionCastOp::create(eb,
                             el, et,
                             createScalarConstant(eb, el,
                                                  IntegerType::get(et.getContext(), it.getWidth()),
                                                  0.0))
                           .getResult(0);
              else
                zero = createScalarConstant(eb, el, et, 0.0);
              Value filled = linalg::FillOp::create(eb, el, zero, init).getResult(0);
              scf::YieldOp::create(eb, el, filled);
            },
            [&](OpBuilder &gb, Location gl) {
              SmallVector<AffineMap> maps{gb.getMultiDimIdentityMap(type.getRank())};
              SmallVector<utils::IteratorType> iters(type.getRank(),
                                                     utils::IteratorType::parallel);
              auto gen = linalg::GenericOp::create(gb,
                  gl, TypeRange{conformedType}, ValueRange{}, ValueRange{init}, maps, iters,
                  [&](OpBuilder &bb, Location bl, ValueRange) {
                    SmallVector<Value> idx;
                    Value z = arith::ConstantIndexOp::create(bb, bl, 0);
                    Value o = arith::ConstantIndexOp::create(bb, bl, 1);
                    for (int64_t j = 0; j < type.getRank(); ++j) {
                      Value i = linalg::IndexOp::create(bb, bl, j);
                      if (!llvm::is_contained(skipDims, j) &&
                          (type.isDynamicDim(j) || shape[j] != type.getDimSize(j))) {
                        Value d = type.isDynamicDim(j)
                                      ? tensor::DimOp::create(bb, bl, operand, j).getResult()
                                      : arith::ConstantIndexOp::create(bb, bl, type.getDimSize(j))
                                            .getResult();
                        Value last = arith::SubIOp::create(bb, bl, d, o);
                        i = arith::MinUIOp::create(bb, bl, i, last);
                        if (allowBroadcast) {
                          Value isOne =
                              arith::CmpIOp::create(bb, bl, arith::CmpIPredicate::eq, d, o);
                          i = arith::SelectOp::create(bb, bl, isOne, z, i);
                        }
                      }
                      idx.push_back(i);
                    }
                    Value v = tensor::ExtractOp::create(bb, bl, operand, idx);
                    linalg::YieldOp::create(bb, bl, v);
                  });
              scf::YieldOp::create(gb, gl, gen.getResult(0));
            });
        Value copy = inner.getResult(0);
        if (region)
          copy = closeKernelRegion(tb, region, copy)[0];
        scf::YieldOp::create(tb, l, copy);
      },
      [&](OpBuilder &eb, Location l) {
        Value v = operand;
        if (conformedType != type)
          v = tensor::CastOp::create(eb, l, conformedType, operand);
        scf::YieldOp::create(eb, l, v);
      });
  return ifOp.getResult(0);
}

void attn::guardResultDims(OpBuilder &b, Location loc, RankedTensorType type,
                           MutableArrayRef<Value> dims, StringRef what) {
  if (type.hasStaticShape())
    return;
  Type f64 = b.getF64Type(), i64 = b.getI64Type();
  Value zero = arith::ConstantIntOp::create(b, loc, i64, 0);
  Value total = arith::ConstantOp::create(b, loc, b.getF64FloatAttr(1.0));
  Value anyBad;
  for (int64_t i = 0; i < type.getRank(); ++i) {
    Value d = toI64(b, loc, dims[i]);
    if (type.isDynamicDim(i)) {
      Value neg = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, d, zero);
      recordRuntimeCheck(b, loc, neg, d, zero,
                         (what + ": dimension " + llvm::Twine(i) + " of the result would be {a}")
                             .str());
      anyBad = anyBad ? arith::OrIOp::create(b, loc, anyBad, neg).getResult() : neg;
    }
    total = arith::MulFOp::create(b, loc, total, arith::SIToFPOp::create(b, loc, f64, d));
  }
  unsigned bytes = std::max(1u, type.getElementTypeBitWidth() / 8);
  double limit = std::ldexp(1.0, 46) / bytes;
  Value tooBig = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, total,
                                         arith::ConstantOp::create(b, loc, b.getF64FloatAttr(limit)));
  Value capped = arith::MinimumFOp::create(b,
      loc, total, arith::ConstantOp::create(b, loc, b.getF64FloatAttr(std::ldexp(1.0, 62))));
  recordRuntimeCheck(b, loc, tooBig, arith::FPToSIOp::create(b, loc, i64, capped),
                     arith::ConstantIntOp::create(b, loc, i64, (int64_t)limit),
                     (what + ": the result would have {a} elements (at most {b} can be allocated)")
                         .str());
  anyBad = anyBad ? arith::OrIOp::create(b, loc, anyBad, tooBig).getResult() : tooBig;
  Value zeroIdx = arith::ConstantIndexOp::create(b, loc, 0);
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (type.isDynamicDim(i))
      dims[i] = arith::SelectOp::create(b, loc, anyBad, zeroIdx, dims[i]);
}

void attn::returnRuntimeStatus(func::FuncOp fn,
                               ArrayRef<std::pair<Value, std::string>> indexFlags) {
  SmallVector<tensor::FromElementsOp> markers, nested;
  fn.walk([&](tensor::FromElementsOp op) {
    if (!op->hasAttr(kRuntimeCheckAttr))
      return;
    (op->getParentOp() == fn.getOperation() ? markers : nested).push_back(op);
  });
  // A check inside a region (rare) cannot reach the return: its slow path
  // still keeps the reads inside the buffers.
  for (auto op : nested)
    op->erase();
  if (!fn.isPublic() || fn.isExternal() || fn.getBody().empty()) {
    for (auto op : markers)
      op->erase();
    return;
  }
  if (markers.empty() && indexFlags.empty())
    return;
  auto ret = cast<func::ReturnOp>(fn.getBody().back().getTerminator());
  OpBuilder b(ret);
  Location loc = ret.getLoc();
  Type i64 = b.getI64Type();
  auto c64 = [&](int64_t v) { return arith::ConstantIntOp::create(b, loc, i64, v).getResult(); };

  bool hasStatus = fn->hasAttr("attn.status_result");
  SmallVector<Attribute> templates;
  if (auto old = fn->getAttrOfType<ArrayAttr>(kRuntimeChecksAttr))
    templates.append(old.begin(), old.end());

  struct Item {
    Value bad;
    int64_t code, id;
    Value a, b;
  };
  SmallVector<Item> items;
  for (auto &[flag, tmpl] : indexFlags) {
    Value bad = tensor::ExtractOp::create(b, loc, flag, ValueRange{});
    items.push_back({bad, kCheckIndexOutOfRange, (int64_t)templates.size(), c64(0), c64(0)});
    templates.push_back(b.getStringAttr(tmpl));
  }
  for (auto m : markers) {
    Value bad = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, m.getElements()[0], c64(0));
    int64_t code = m->getAttrOfType<IntegerAttr>(kRuntimeCheckCodeAttr).getInt();
    items.push_back({bad, code, (int64_t)templates.size(), m.getElements()[1], m.getElements()[2]});
    templates.push_back(m->getAttr(kRuntimeCheckAttr));
  }

  SmallVector<Value> cur;
  SmallVector<Value> operands(ret.getOperands());
  if (hasStatus) {
    Value old = operands.back();
    for (int64_t k = 0; k < 4; ++k)
      cur.push_back(tensor::ExtractOp::create(b, loc, old,
                                                ValueRange{arith::ConstantIndexOp::create(b, loc, k)}));
  } else {
    cur.assign(4, c64(0));
  }
  // The first failing check wins: build from the last one outwards.
  for (const Item &it : llvm::reverse(items)) {
    Value vals[4] = {c64(it.code), c64(it.id), it.a, it.b};
    for (int64_t k = 0; k < 4; ++k)
      cur[k] = arith::SelectOp::create(b, loc, it.bad, vals[k], cur[k]);
  }
  Value status = tensor::FromElementsOp::create(b, loc, RankedTensorType::get({4}, i64), cur);
  if (hasStatus) {
    operands.back() = status;
  } else {
    operands.push_back(status);
    SmallVector<Type> results(fn.getResultTypes());
    results.push_back(status.getType());
    fn.setType(FunctionType::get(fn.getContext(), fn.getArgumentTypes(), results));
    fn->setAttr("attn.status_result", b.getUnitAttr());
  }
  ret->setOperands(operands);
  fn->setAttr(kRuntimeChecksAttr, b.getArrayAttr(templates));
  for (auto m : markers)
    m->erase();
}
