//===- ImporterSupport.cpp - node helpers, dim symbols, shape values -------===//
#include "Frontend/ImporterImpl.h"

#include "attn/Dialect/ConstantData.h"
#include "attn/Dialect/ShapeInference.h"

#include "mlir/IR/BuiltinAttributeInterfaces.h"
#include "llvm/ADT/APFloat.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::onnx_import;

bool onnx_import::isFullyKnown(ArrayRef<SymbolicDim> dims) {
  return llvm::all_of(dims, [](const SymbolicDim &d) { return d.isStatic(); });
}

//===----------------------------------------------------------------------===//
// Node helpers
//===----------------------------------------------------------------------===//

InFlightDiagnostic GraphImporter::nodeError() {
  return emitError(nodeLoc) << "ONNX node '" << curNodeName << "' ("
                            << curNode->op_type() << "): ";
}

FailureOr<Value> GraphImporter::requiredInput(unsigned i) {
  if (Value v = input(i))
    return v;
  return nodeError() << "missing required input #" << i;
}

bool GraphImporter::isOutputUsed(unsigned i) const {
  if (i >= (unsigned)curNode->output_size())
    return false;
  const std::string &name = curNode->output(i);
  return !name.empty() && usedNames.contains(name);
}

void GraphImporter::setOutput(unsigned i, Value v) {
  if (i >= (unsigned)curNode->output_size() || curNode->output(i).empty())
    return;
  values[curNode->output(i)] = v;
}

const onnx::AttributeProto *GraphImporter::findAttr(llvm::StringRef name) const {
  for (const auto &a : curNode->attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

FailureOr<int64_t> GraphImporter::attrInt(llvm::StringRef name,
                                          std::optional<int64_t> dflt) {
  const onnx::AttributeProto *a = findAttr(name);
  if (!a) {
    if (dflt)
      return *dflt;
    return nodeError() << "missing required attribute '" << name << "'";
  }
  if (a->type() != onnx::AttributeProto::INT)
    return nodeError() << "attribute '" << name << "' must be an int";
  return a->i();
}

FailureOr<float> GraphImporter::attrFloat(llvm::StringRef name,
                                          std::optional<float> dflt) {
  const onnx::AttributeProto *a = findAttr(name);
  if (!a) {
    if (dflt)
      return *dflt;
    return nodeError() << "missing required attribute '" << name << "'";
  }
  if (a->type() != onnx::AttributeProto::FLOAT)
    return nodeError() << "attribute '" << name << "' must be a float";
  return a->f();
}

FailureOr<std::string> GraphImporter::attrString(llvm::StringRef name,
                                                 std::optional<std::string> dflt) {
  const onnx::AttributeProto *a = findAttr(name);
  if (!a) {
    if (dflt)
      return *dflt;
    return nodeError() << "missing required attribute '" << name << "'";
  }
  if (a->type() != onnx::AttributeProto::STRING)
    return nodeError() << "attribute '" << name << "' must be a string";
  return a->s();
}

FailureOr<std::optional<SmallVector<int64_t>>>
GraphImporter::attrInts(llvm::StringRef name) {
  const onnx::AttributeProto *a = findAttr(name);
  if (!a)
    return std::optional<SmallVector<int64_t>>();
  if (a->type() != onnx::AttributeProto::INTS &&
      !(a->type() == onnx::AttributeProto::UNDEFINED && a->ints_size() == 0))
    return nodeError() << "attribute '" << name << "' must be a list of ints";
  return std::optional<SmallVector<int64_t>>(
      SmallVector<int64_t>(a->ints().begin(), a->ints().end()));
}

//===----------------------------------------------------------------------===//
// Op creation
//===----------------------------------------------------------------------===//

Value GraphImporter::finishInferred(Operation *op) {
  SmallVector<Type, 1> types;
  auto iface = cast<InferTypeOpInterface>(op);
  if (failed(iface.inferReturnTypes(&ctx, op->getLoc(), op->getOperands(),
                                    op->getRawDictionaryAttrs(),
                                    op->getPropertiesStorage(),
                                    op->getRegions(), types)) ||
      types.size() != 1) {
    op->erase();
    return {};
  }
  op->getResult(0).setType(types[0]);
  return op->getResult(0);
}

Value GraphImporter::constant(TypedAttr attr) {
  return arith::ConstantOp::create(builder, nodeLoc, attr).getResult();
}

static Attribute makeScalarAttr(Type elt, double v) {
  if (auto ft = dyn_cast<FloatType>(elt)) {
    llvm::APFloat f(v);
    bool lost;
    f.convert(ft.getFloatSemantics(), llvm::APFloat::rmNearestTiesToEven,
              &lost);
    return FloatAttr::get(elt, f);
  }
  auto it = cast<IntegerType>(elt);
  if (it.getWidth() == 1)
    return IntegerAttr::get(elt, llvm::APInt(1, v != 0));
  return IntegerAttr::get(
      elt, llvm::APInt(it.getWidth(), static_cast<uint64_t>(int64_t(v)),
                       /*isSigned=*/false, /*implicitTrunc=*/true));
}

Value GraphImporter::intConstant(RankedTensorType type,
                                 ArrayRef<int64_t> vals) {
  Type elt = type.getElementType();
  DenseElementsAttr attr;
  if (isa<FloatType>(elt)) {
    SmallVector<Attribute> attrs;
    for (int64_t v : vals)
      attrs.push_back(makeScalarAttr(elt, double(v)));
    attr = DenseElementsAttr::get(type, attrs);
  } else {
    unsigned width = cast<IntegerType>(elt).getWidth();
    SmallVector<llvm::APInt> ints;
    ints.reserve(vals.size());
    for (int64_t v : vals)
      ints.push_back(width == 1 ? llvm::APInt(1, v != 0)
                                : llvm::APInt(width, static_cast<uint64_t>(v),
                                              /*isSigned=*/false,
                                              /*implicitTrunc=*/true));
    attr = DenseElementsAttr::get(type, ints);
  }
  Value c = constant(attr);
  if (isShapeValueType(type)) {
    ShapeValue elems;
    for (int64_t v : vals)
      elems.push_back(SymbolicDim::fixed(v));
    setShapeValue(c, elems);
  }
  return c;
}

Value GraphImporter::i64Vector(ArrayRef<int64_t> vals) {
  return intConstant(
      RankedTensorType::get({(int64_t)vals.size()}, builder.getI64Type()),
      vals);
}

Value GraphImporter::scalarConstant(Type elt, double v) {
  auto type = RankedTensorType::get({}, elt);
  return constant(DenseElementsAttr::get(type, makeScalarAttr(elt, v)));
}

Value GraphImporter::reduce(ReduceKind kind, Value x, ArrayRef<int64_t> axes,
                            bool keepdims) {
  Value r = createInferred<ReduceOp>(kind, x, axes, keepdims);
  if (!r)
    return {};
  ShapeValue in = dimsOf(x), out;
  for (int64_t i = 0; i < (int64_t)in.size(); ++i) {
    if (!llvm::is_contained(axes, i))
      out.push_back(in[i]);
    else if (keepdims)
      out.push_back(SymbolicDim::fixed(1));
  }
  setDims(r, out);
  return r;
}

Value GraphImporter::compare(CmpPredicate pred, Value lhs, Value rhs) {
  Value r = createInferred<CmpOp>(pred, lhs, rhs);
  if (r)
    setDims(r, broadcastDims({lhs, rhs}));
  return r;
}

Value GraphImporter::castTo(Value v, Type elt) {
  auto t = cast<RankedTensorType>(v.getType());
  if (t.getElementType() == elt)
    return v;
  Value r = createTyped<CastOp>(t.clone(elt), v);
  copyDims(r, v);
  return r;
}

LogicalResult GraphImporter::checkSameElementType(ArrayRef<Value> vals,
                                                  llvm::StringRef what) {
  for (Value v : vals.drop_front()) {
    Type a = cast<ShapedType>(vals.front().getType()).getElementType();
    Type b = cast<ShapedType>(v.getType()).getElementType();
    if (a != b)
      return nodeError() << what << " have different element types (" << a
                         << " vs " << b
                         << "); ONNX does not promote types implicitly";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Dim symbols
//===----------------------------------------------------------------------===//

SymbolicDim GraphImporter::namedSymbol(llvm::StringRef name, SymbolicDim dim) {
  auto [it, inserted] = namedSymbols.try_emplace(name, dim);
  if (inserted && dim.arg)
    symbolNames[{dim.arg, dim.idx}] = name.str();
  return it->second;
}

llvm::StringRef GraphImporter::symbolName(const SymbolicDim &sym) const {
  if (!sym.arg)
    return "";
  auto it = symbolNames.find({sym.arg, sym.idx});
  return it == symbolNames.end() ? llvm::StringRef() : llvm::StringRef(it->second);
}

SymbolicDim GraphImporter::dimSymbol(Value v, int64_t i) {
  auto t = cast<RankedTensorType>(v.getType());
  if (i < 0 || i >= t.getRank() || !t.isDynamicDim(i))
    return SymbolicDim();
  auto &syms = dimSymbols[v];
  if ((int64_t)syms.size() != t.getRank())
    syms.assign(t.getRank(), SymbolicDim());
  if (!syms[i].arg)
    syms[i] = SymbolicDim::of(v, i);
  return syms[i];
}

ShapeValue GraphImporter::dimsOf(Value v) {
  auto t = cast<RankedTensorType>(v.getType());
  ShapeValue dims;
  for (int64_t i = 0; i < t.getRank(); ++i)
    dims.push_back(t.isDynamicDim(i) ? dimSymbol(v, i)
                                     : SymbolicDim::fixed(t.getDimSize(i)));
  return dims;
}

void GraphImporter::setDims(Value v, ArrayRef<SymbolicDim> dims) {
  auto t = cast<RankedTensorType>(v.getType());
  if ((int64_t)dims.size() != t.getRank())
    return;
  auto &syms = dimSymbols[v];
  if ((int64_t)syms.size() != t.getRank())
    syms.assign(t.getRank(), SymbolicDim());
  for (int64_t i = 0; i < t.getRank(); ++i)
    if (t.isDynamicDim(i) && dims[i].arg)
      syms[i] = dims[i];
}

RankedTensorType GraphImporter::tensorType(ArrayRef<SymbolicDim> dims, Type elt) {
  SmallVector<int64_t> shape;
  for (const SymbolicDim &d : dims)
    shape.push_back(d.isStatic() && d.size >= 0 ? d.size
                                                    : ShapedType::kDynamic);
  return RankedTensorType::get(shape, elt);
}

void GraphImporter::copyDims(Value to, Value from) {
  auto tt = cast<RankedTensorType>(to.getType());
  auto ft = cast<RankedTensorType>(from.getType());
  if (tt.getRank() != ft.getRank())
    return;
  setDims(to, dimsOf(from));
}

ShapeValue GraphImporter::broadcastDims(ArrayRef<Value> operands) {
  SmallVector<ShapeValue> all;
  for (Value v : operands)
    all.push_back(dimsOf(v));
  return mlir::attn::broadcastDims(all);
}

//===----------------------------------------------------------------------===//
// Shape values
//===----------------------------------------------------------------------===//

bool GraphImporter::isShapeValueType(Type type) {
  auto t = dyn_cast<RankedTensorType>(type);
  return t && isa<IntegerType>(t.getElementType()) && t.getRank() <= 1 &&
         t.hasStaticShape() && t.getNumElements() <= kMaxShapeValueElements;
}

/// Constants with more elements than this are not read as numbers.
constexpr int64_t kMaxReadElements = int64_t(1) << 20;

/// Integer contents of a constant elements attribute (inline or resource).
static std::optional<SmallVector<int64_t>> readIntElements(ElementsAttr attr) {
  std::optional<ConstantElements> e = readConstantElements(attr);
  if (!e || !isa<IntegerType>(e->getElementType()) || e->size() > kMaxReadElements)
    return std::nullopt;
  // Blobs of integers narrower than 32 bits are not read here (the importer
  // keeps bools inline, and never read i8 blobs as shape values before).
  if (isa<DenseResourceElementsAttr>(attr) &&
      e->getElementType().getIntOrFloatBitWidth() < 32)
    return std::nullopt;
  SmallVector<int64_t> out;
  out.reserve(e->size());
  for (int64_t i = 0; i < e->size(); ++i)
    out.push_back(e->getInt(i));
  return out;
}

static ElementsAttr constantAttrOf(Value v) {
  if (auto c = v.getDefiningOp<arith::ConstantOp>())
    return dyn_cast<ElementsAttr>(c.getValue());
  return {};
}

std::optional<ShapeValue> GraphImporter::shapeValue(Value v) {
  auto it = shapeValues.find(v);
  if (it != shapeValues.end())
    return it->second;
  if (!isShapeValueType(v.getType()))
    return std::nullopt;
  if (ElementsAttr attr = constantAttrOf(v)) {
    if (auto ints = readIntElements(attr)) {
      ShapeValue elems;
      for (int64_t x : *ints)
        elems.push_back(SymbolicDim::fixed(x));
      shapeValues[v] = elems;
      return elems;
    }
  }
  return std::nullopt;
}

void GraphImporter::setShapeValue(Value v, ArrayRef<SymbolicDim> elems) {
  if (!isShapeValueType(v.getType()) ||
      (int64_t)elems.size() !=
          cast<RankedTensorType>(v.getType()).getNumElements())
    return;
  shapeValues[v] = ShapeValue(elems.begin(), elems.end());
}

std::optional<SmallVector<int64_t>> GraphImporter::constantInts(Value v) {
  if (auto sv = shapeValue(v); sv && isFullyKnown(*sv)) {
    SmallVector<int64_t> out;
    for (const SymbolicDim &d : *sv)
      out.push_back(d.size);
    return out;
  }
  if (ElementsAttr attr = constantAttrOf(v))
    return readIntElements(attr);
  return std::nullopt;
}

std::optional<SmallVector<double>> GraphImporter::constantFloats(Value v) {
  if (auto ints = constantInts(v)) {
    SmallVector<double> out(ints->begin(), ints->end());
    return out;
  }
  // Inline float constants only (weights in blobs are not read here).
  ElementsAttr attr = constantAttrOf(v);
  std::optional<ConstantElements> e =
      isa_and_nonnull<DenseElementsAttr>(attr) ? readConstantElements(attr)
                                               : std::nullopt;
  if (!e || !isa<FloatType>(e->getElementType()) || e->size() > kMaxReadElements)
    return std::nullopt;
  SmallVector<double> out;
  out.reserve(e->size());
  for (int64_t i = 0; i < e->size(); ++i)
    out.push_back(e->getDouble(i));
  return out;
}

Value GraphImporter::materializeIfKnown(RankedTensorType type,
                                        ArrayRef<SymbolicDim> elems) {
  if (!isFullyKnown(elems) || !type.hasStaticShape() ||
      type.getNumElements() != (int64_t)elems.size())
    return {};
  SmallVector<int64_t> vals;
  for (const SymbolicDim &d : elems)
    vals.push_back(d.size);
  return intConstant(type, vals);
}

//===----------------------------------------------------------------------===//
// Building shape tensors
//===----------------------------------------------------------------------===//

ShapeValue GraphImporter::dimsFromSources(Value src, ArrayRef<DimSource> dims) {
  ShapeValue srcDims = dimsOf(src);
  ShapeValue out;
  for (const DimSource &d : dims) {
    if (d.constant >= 0) {
      out.push_back(SymbolicDim::fixed(d.constant));
      continue;
    }
    int64_t prod = 1, numDynamic = 0;
    SymbolicDim sym;
    for (int64_t i = d.begin; i < d.end; ++i) {
      if (srcDims[i].isStatic()) {
        prod *= srcDims[i].size;
      } else {
        ++numDynamic;
        sym = srcDims[i];
      }
    }
    if (numDynamic == 0)
      out.push_back(SymbolicDim::fixed(prod));
    else if (numDynamic == 1 && prod == 1)
      out.push_back(sym);
    else
      out.push_back(SymbolicDim());
  }
  return out;
}

Value GraphImporter::buildShapeTensor(Value src, ArrayRef<DimSource> dims) {
  ShapeValue vals = dimsFromSources(src, dims);
  int64_t numDynamic = 0;
  bool staticNonZero = true;
  for (const SymbolicDim &d : vals) {
    if (!d.isStatic())
      ++numDynamic;
    else if (d.size == 0)
      staticNonZero = false;
  }
  if (numDynamic <= 1 && staticNonZero) {
    SmallVector<int64_t> c;
    for (const SymbolicDim &d : vals)
      c.push_back(d.isStatic() ? d.size : -1);
    return i64Vector(c);
  }
  // Compute the dynamic entries at runtime.
  SmallVector<Value> pieces;
  SmallVector<int64_t> pendingConstants;
  auto flush = [&]() {
    if (!pendingConstants.empty())
      pieces.push_back(i64Vector(pendingConstants));
    pendingConstants.clear();
  };
  for (auto [d, v] : llvm::zip(dims, vals)) {
    if (v.isStatic()) {
      pendingConstants.push_back(v.size);
      continue;
    }
    flush();
    Value s = createInferred<ShapeOp>(src, (uint64_t)d.begin, (uint64_t)d.end);
    if (d.end - d.begin > 1)
      s = createInferred<ReduceOp>(ReduceKind::prod, s, ArrayRef<int64_t>{0},
                                   /*keepdims=*/true);
    pieces.push_back(s);
  }
  flush();
  Value shape = pieces.size() == 1
                    ? pieces.front()
                    : createInferred<ConcatOp>(ValueRange(pieces), (uint64_t)0);
  setShapeValue(shape, vals);
  return shape;
}

Value GraphImporter::reshapeTo(Value src, ArrayRef<DimSource> dims) {
  Value shape = buildShapeTensor(src, dims);
  ShapeValue outDims = dimsFromSources(src, dims);
  auto type = tensorType(outDims,
                         cast<RankedTensorType>(src.getType()).getElementType());
  // allowzero: a runtime-computed entry may be 0 and must not mean "copy".
  Value r = createTyped<ReshapeOp>(type, src, shape, /*allowzero=*/true);
  setDims(r, outDims);
  return r;
}
