//===- OpsControlFlow.cpp - ONNX If ----------------------------------------===//
//
// ONNX `If` (opsets 1 to 21: a one-element bool condition, `then_branch` and
// `else_branch` subgraphs without inputs that read enclosing values by name)
// becomes `scf.if` on the condition's element, each branch imported through
// the same converter table as the main graph. A constant condition inlines
// the taken branch. Branch results whose static dims differ join to a dynamic
// dim (tensor.cast in the branch that is more static). Loop and Scan are not
// supported (the "unsupported ONNX op" message).
//
//===----------------------------------------------------------------------===//
#include "Frontend/ImporterImpl.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/ScopeExit.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::onnx_import;

FailureOr<SmallVector<Value>>
GraphImporter::importSubgraph(const onnx::GraphProto &graph,
                              llvm::StringRef attrName) {
  // The enclosing node's state, restored on every exit.
  const onnx::NodeProto *savedNode = curNode;
  std::string savedName = curNodeName;
  Location savedLoc = nodeLoc;
  SmallVector<Value> savedOperands = curOperands;
  llvm::StringMap<Value> savedValues = values;
  llvm::StringMap<const onnx::TensorProto *> savedInitializers = initializers;
  llvm::StringSet<> savedLocal = localInitializers;
  llvm::scope_exit restore([&] {
    curNode = savedNode;
    curNodeName = savedName;
    nodeLoc = savedLoc;
    curOperands = savedOperands;
    values = std::move(savedValues);
    initializers = std::move(savedInitializers);
    localInitializers = std::move(savedLocal);
  });
  std::string where = "subgraph '" + attrName.str() + "'";
  if (graph.input_size() > 0)
    return nodeError() << where << " has " << graph.input_size()
                       << " inputs; an If branch takes none";
  if (graph.sparse_initializer_size() > 0)
    return nodeError() << where << ": sparse initializer '"
                       << graph.sparse_initializer(0).values().name()
                       << "' is not supported";
  llvm::StringSet<> own;
  for (const auto &t : graph.initializer()) {
    if (t.name().empty())
      return nodeError() << where << " has an initializer without a name";
    if (!own.insert(t.name()).second)
      return nodeError() << where << ": initializer '" << t.name()
                         << "' is defined twice";
    initializers[t.name()] = &t;
    localInitializers.insert(t.name());
    values.erase(t.name());
  }

  std::string prefix = curNodeName + "/" + attrName.str() + "/";
  SmallVector<int> order;
  // Names of the enclosing scopes: values imported so far, initializers.
  auto isOuter = [&](llvm::StringRef name) {
    return values.count(name) || initializers.count(name) ||
           initializerValues.count(name);
  };
  if (failed(sortGraph(graph, isOuter, /*outerMayBeRedefined=*/true, prefix,
                       order)))
    return failure();
  for (int index : order) {
    const onnx::NodeProto &n = graph.node(index);
    std::string name = n.name().empty()
                           ? prefix + n.op_type() + "_" + std::to_string(index)
                           : n.name();
    if (failed(convertNode(n, name)))
      return failure();
  }
  SmallVector<Value> results;
  for (const auto &vi : graph.output()) {
    Value v = vi.name().empty() ? Value() : lookup(vi.name());
    if (!v) {
      curNode = savedNode;
      curNodeName = savedName;
      nodeLoc = savedLoc;
      return nodeError() << where << " output '" << vi.name()
                         << "' is not produced by any node and is not a "
                            "visible value";
    }
    results.push_back(v);
  }
  return results;
}

namespace {
using GI = GraphImporter;

FailureOr<const onnx::GraphProto *> branchAttr(GI &g, llvm::StringRef name) {
  const onnx::AttributeProto *a = g.findAttr(name);
  if (!a)
    return g.nodeError() << "missing required attribute '" << name << "'";
  if (a->type() != onnx::AttributeProto::GRAPH || !a->has_g())
    return g.nodeError() << "attribute '" << name << "' must be a graph";
  return &a->g();
}

LogicalResult convertIf(GI &g) {
  auto cond = g.requiredInput(0);
  if (failed(cond))
    return failure();
  auto thenGraph = branchAttr(g, "then_branch");
  auto elseGraph = branchAttr(g, "else_branch");
  if (failed(thenGraph) || failed(elseGraph))
    return failure();
  unsigned numResults = g.numOutputs();
  for (auto [name, graph] : {std::pair{"then_branch", *thenGraph},
                             std::pair{"else_branch", *elseGraph}})
    if ((unsigned)graph->output_size() != numResults)
      return g.nodeError() << "subgraph '" << name << "' has "
                           << graph->output_size() << " outputs but the node has "
                           << numResults;
  auto condType = dyn_cast<RankedTensorType>(cond->getType());
  if (!condType || !condType.getElementType().isInteger(1))
    return g.nodeError() << "condition must be a bool tensor, got "
                         << cond->getType();
  if (!condType.hasStaticShape() || condType.getNumElements() != 1)
    return g.nodeError() << "condition must have exactly one element, got "
                         << condType
                         << " (a dynamic or empty condition is not supported)";

  // A constant condition (initializer, Constant, folded shape arithmetic):
  // the taken branch is imported inline.
  if (auto known = g.constantInts(*cond); known && known->size() == 1) {
    bool taken = (*known)[0] != 0;
    auto results = g.importSubgraph(taken ? **thenGraph : **elseGraph,
                                    taken ? "then_branch" : "else_branch");
    if (failed(results))
      return failure();
    for (auto [i, v] : llvm::enumerate(*results))
      g.setOutput(i, v);
    return success();
  }

  OpBuilder &b = g.getBuilder();
  Location loc = g.loc();
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  SmallVector<Value> indices(condType.getRank(), zero);
  Value pred = tensor::ExtractOp::create(b, loc, *cond, indices);

  // Branches are imported into a result-less scf.if (so that values hoisted
  // out of them have a place in the function body), then moved into the
  // final one once the result types are known.
  auto holder = scf::IfOp::create(b, loc, TypeRange{}, pred,
                                  /*withElseRegion=*/true);
  llvm::scope_exit eraseHolder([&] {
    if (holder)
      holder->erase();
  });
  SmallVector<Value> branchResults[2];
  Region *regions[2] = {&holder.getThenRegion(), &holder.getElseRegion()};
  const onnx::GraphProto *graphs[2] = {*thenGraph, *elseGraph};
  const char *names[2] = {"then_branch", "else_branch"};
  for (int k = 0; k < 2; ++k) {
    OpBuilder::InsertionGuard guard(b);
    Block &block = regions[k]->front();
    b.setInsertionPoint(block.getTerminator());
    auto results = g.importSubgraph(*graphs[k], names[k]);
    if (failed(results))
      return failure();
    branchResults[k] = std::move(*results);
  }

  // Result types: equal element types and ranks; dims that differ (or are
  // dynamic in either branch) are dynamic.
  SmallVector<Type> resultTypes;
  for (unsigned i = 0; i < numResults; ++i) {
    auto t0 = dyn_cast<RankedTensorType>(branchResults[0][i].getType());
    auto t1 = dyn_cast<RankedTensorType>(branchResults[1][i].getType());
    std::string what = "output #" + std::to_string(i) + " ('" +
                       g.node().output(i) + "')";
    if (!t0 || !t1)
      return g.nodeError() << what << " is not a ranked tensor in both branches";
    if (t0.getElementType() != t1.getElementType())
      return g.nodeError() << what << " is " << t0.getElementType()
                           << " in then_branch but " << t1.getElementType()
                           << " in else_branch";
    if (t0.getRank() != t1.getRank())
      return g.nodeError() << what << " has rank " << t0.getRank()
                           << " in then_branch but " << t1.getRank()
                           << " in else_branch; attnc needs equal ranks";
    SmallVector<int64_t> shape;
    for (int64_t d = 0; d < t0.getRank(); ++d)
      shape.push_back(t0.getDimSize(d) == t1.getDimSize(d)
                          ? t0.getDimSize(d)
                          : ShapedType::kDynamic);
    resultTypes.push_back(RankedTensorType::get(shape, t0.getElementType()));
  }
  for (int k = 0; k < 2; ++k) {
    Block &block = regions[k]->front();
    Operation *oldYield = block.getTerminator();
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(oldYield);
    SmallVector<Value> yielded;
    for (auto [v, t] : llvm::zip(branchResults[k], resultTypes))
      yielded.push_back(v.getType() == t
                            ? v
                            : tensor::CastOp::create(b, loc, t, v).getResult());
    scf::YieldOp::create(b, loc, yielded);
    oldYield->erase();
  }
  auto ifOp = scf::IfOp::create(b, loc, resultTypes, pred,
                                /*addThenBlock=*/false, /*addElseBlock=*/false);
  ifOp.getThenRegion().takeBody(holder.getThenRegion());
  ifOp.getElseRegion().takeBody(holder.getElseRegion());
  // (The holder is erased on exit; it is empty now.)

  for (unsigned i = 0; i < numResults; ++i) {
    Value r = ifOp.getResult(i);
    Value v0 = branchResults[0][i], v1 = branchResults[1][i];
    // A dim the branches provably share keeps its symbol.
    ShapeValue d0 = g.dimsOf(v0), d1 = g.dimsOf(v1), dims;
    for (auto [a, c] : llvm::zip(d0, d1))
      dims.push_back(a.same(c) ? a : SymbolicDim());
    g.setDims(r, dims);
    auto s0 = g.shapeValue(v0), s1 = g.shapeValue(v1);
    // Equal elements: the same constant or symbol, or both unknown.
    auto sameElem = [](const SymbolicDim &x, const SymbolicDim &y) {
      return x.same(y) || (!x.known() && !y.known());
    };
    if (s0 && s1 && std::equal(s0->begin(), s0->end(), s1->begin(), s1->end(), sameElem))
      g.setShapeValue(r, *s0);
    g.setOutput(i, r);
  }
  return success();
}

} // namespace

void onnx_import::registerControlFlowConverters(
    llvm::StringMap<OpConverter> &table) {
  table["If"] = convertIf;
}
