//===- RuntimeChecks.h - run-time shape and index checks --------*- C++ -*-===//
//
// Dims that must agree at run time but cannot be proven equal at compile
// time (broadcast operands, matmul contractions, concat operands, reshape
// element counts, attention operands) are checked where the lowering reads
// them. A failing check never lets the kernel read outside a buffer: the
// operand is first conformed to the sizes the kernel iterates (reads clamped
// into the real tensor, a rare slow path under scf.if), and the failure is
// recorded. Each check is a marker op at function level
//
//   %c = tensor.from_elements %bad_i64, %a_i64, %b_i64 : tensor<3xi64>
//        {attn.runtime_check = "node 'X' (Add): ... {a} ... {b}", code = 2}
//
// and attn-lower-to-linalg folds all of them (and the Gather index checks)
// into one status result of the model function: tensor<4xi64>
// [code, check index, a, b] of the first failing check, zeros when all hold.
// The entry point returns the code and hands the rest to the runtime, which
// prints the check's message template (the signature's "checks" array) with
// {a} and {b} replaced by the sizes.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_COMPILER_RUNTIMECHECKS_H
#define ATTN_COMPILER_RUNTIMECHECKS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <string>

namespace mlir::attn {

/// Marker attributes (see the file comment).
inline constexpr llvm::StringLiteral kRuntimeCheckAttr = "attn.runtime_check";
inline constexpr llvm::StringLiteral kRuntimeCheckCodeAttr = "attn.runtime_check_code";
/// The function attribute listing the check templates by index.
inline constexpr llvm::StringLiteral kRuntimeChecksAttr = "attn.checks";
/// Status codes (attn/abi.h ATTN_MODEL_ERR_*).
inline constexpr int64_t kCheckIndexOutOfRange = 1;
inline constexpr int64_t kCheckShapeMismatch = 2;

/// "node 'X' (OpName)" for the ONNX node an op was imported from (its
/// NameLoc), or "op 'attn.add'" when the location names no node.
std::string describeNode(Operation *op);
/// "node 'X'" for a location naming an ONNX node, else "an op".
std::string describeNodeAt(Location loc);

/// Records a run-time check: `bad` (i1) says it failed, `a` and `b` (index or
/// integer) are the sizes its message template shows as {a} and {b}.
void recordRuntimeCheck(OpBuilder &b, Location loc, Value bad, Value a, Value bsize,
                        llvm::StringRef messageTemplate,
                        int64_t code = kCheckShapeMismatch);

/// Conforms `operand` to `resultDims` (aligned to the trailing dims) for an
/// op that reads it with numpy broadcasting (`allowBroadcast`: static size-1
/// dims read index 0, dynamic dims that are 1 at run time are expanded) or
/// with equal sizes (`allowBroadcast` false: every aligned dim must equal the
/// result's). Returns the operand unchanged when nothing can differ, else the
/// result of an scf.if whose slow path copies the operand with clamped reads
/// into a tensor of the result's sizes; a dim that is neither equal nor (with
/// broadcasting) 1 is recorded as a failed check `what` ("operand 1 of node
/// 'X' (Add)"). Dims the caller marks in `skipDims` (operand dims) are not
/// conformed (e.g. a matmul's non-contracted dims).
Value conformOperand(OpBuilder &b, Location loc, Value operand, ArrayRef<Value> resultDims,
                     bool allowBroadcast, llvm::StringRef what,
                     ArrayRef<int64_t> skipDims = {});

/// Guards result dims computed from tensor values (ConstantOfShape, Expand,
/// Range): a negative dim, or a result of more than 2^46 bytes (whose byte
/// count could also overflow), is a failed check named `what`, and every
/// dynamic dim of `type` in `dims` becomes 0 then (nothing is allocated or
/// written past a buffer).
void guardResultDims(OpBuilder &b, Location loc, RankedTensorType type,
                     MutableArrayRef<Value> dims, llvm::StringRef what);

/// Folds every check marker at the top level of `fn` and every flag in
/// `indexFlags` (0-d i1 tensors: some Gather index was out of range; with
/// their templates) into the trailing status result of `fn` (created, or
/// combined with an existing one), sets `attn.status_result` and the
/// `attn.checks` templates, and erases the markers.
void returnRuntimeStatus(func::FuncOp fn, ArrayRef<std::pair<Value, std::string>> indexFlags);

} // namespace mlir::attn

#endif
