//===- ConstantData.h - reading and writing constant tensors ----*- C++ -*-===//
//
// The one place that reads constant tensors (dense and dense_resource
// `arith.constant`s): readConstantElements gives their values element by
// element (masks, indices, shape values, scalars), getConstantBytes their raw
// bytes. Graph passes and lowerings that rewrite weights at compile time
// (transpose of a constant, Q/K/V weight concatenation, matmul weight
// packing) read those bytes and write new constants as dense_resource blobs
// (createConstantFromBytes), so the data is copied once and never becomes
// per-element attributes.
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_DIALECT_CONSTANTDATA_H
#define ATTN_DIALECT_CONSTANTDATA_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"

#include <optional>

namespace mlir::attn {

/// The row-major element bytes of a constant tensor with a static shape:
/// `splat` means `data` holds one element that stands for all of them.
struct ConstantBytes {
  ArrayRef<char> data;
  bool splat = false;
  int64_t elementBytes = 0;
  /// Element `i` (a splat answers every index with its one element).
  ArrayRef<char> element(int64_t i) const {
    return data.slice(splat ? 0 : i * elementBytes, elementBytes);
  }
};

/// The bytes of `v` if it is an `arith.constant` holding a dense or
/// dense_resource attribute of a non-bool element type (bools are bit-packed
/// in dense attributes), with a static shape; std::nullopt otherwise.
std::optional<ConstantBytes> getConstantBytes(Value v);

/// An `arith.constant` of `type` holding `bytes` (row-major elements): a
/// dense_resource blob named after `blobName` (uniqued), or an inline dense
/// attribute when the tensor is tiny.
Value createConstantFromBytes(OpBuilder &b, Location loc, RankedTensorType type,
                              ArrayRef<char> bytes, StringRef blobName);

/// createConstantFromBytes for data built in place: `fill` writes the
/// type's row-major bytes (all of them) straight into the new blob, so a
/// rewritten weight (packed, concatenated) is never staged in a second
/// buffer first.
Value createConstantFilled(OpBuilder &b, Location loc, RankedTensorType type,
                           StringRef blobName,
                           llvm::function_ref<void(MutableArrayRef<char>)> fill);

/// The elements of a constant tensor, read one at a time as numbers: THE
/// reader of constant values for the dialect, the importer and the passes
/// (getConstantBytes above is the byte view for code that copies weights).
/// Cheap to copy: it refers to the attribute's storage (the MLIRContext owns
/// it), so it must not outlive the constant's attribute.
class ConstantElements {
public:
  /// The constant's type (static shape).
  RankedTensorType getType() const { return type; }
  Type getElementType() const { return type.getElementType(); }
  /// The number of elements.
  int64_t size() const { return numElements; }
  /// All elements are element 0 (a splat, or a single element).
  bool isSplat() const { return splat; }
  /// Element `i` (row-major, 0 <= i < size()) as a double: floats exactly
  /// (f16/bf16/f32/f64), integers zero-extended when unsigned or i1 and
  /// sign-extended otherwise (so int64 beyond 2^53 rounds: use getInt).
  double getDouble(int64_t i) const;
  /// Element `i` of an integer constant, extended as getDouble says.
  /// Asserts an integer element type.
  int64_t getInt(int64_t i) const;

private:
  friend std::optional<ConstantElements> readConstantElements(ElementsAttr);
  ConstantElements() = default;
  RankedTensorType type;
  int64_t numElements = 0;
  bool splat = false;
  /// Exactly one of the two holds the data.
  DenseElementsAttr dense;
  ArrayRef<char> raw; // a dense_resource blob, numElements * elementBytes
  int64_t elementBytes = 0;
};

/// The elements of `attr` if it has a static shape of integer or float
/// elements and is a dense attribute (any such type) or a dense_resource blob
/// of one of f32, f64, i1, i8, ui8, i32, i64 (signless or signed) whose data
/// is present and large enough; std::nullopt otherwise.
std::optional<ConstantElements> readConstantElements(ElementsAttr attr);

/// The elements of `v` if it is an `arith.constant` that
/// readConstantElements(ElementsAttr) reads; std::nullopt otherwise.
std::optional<ConstantElements> readConstantElements(Value v);

/// The value of a constant all of whose elements are equal (a splat or a
/// one-element dense constant; dense_resource blobs are not read), as a
/// double; std::nullopt otherwise.
std::optional<double> getSplatValue(Value v);

/// Frees, while a pass runs, the blobs of weights the pass has just copied
/// into a new form (merged Q/K/V or gate/up weights, matmul panels), so that
/// originals and copies are not all alive until the next canonicalization:
/// a compile's peak memory stays near one copy of the weights.
///
/// Only safe when nothing outside the pass can read the blob again: the
/// caller owns the module (the compile session does; a module someone passed
/// in may share its attributes with a copy they keep), the module has one
/// function with a body (a function pass may run on several functions at
/// once, and they may share a weight), and no other op of that function
/// references the blob (counted once, when the releaser is made). Disabled,
/// it releases nothing.
class BlobReleaser {
public:
  BlobReleaser(Operation *function, bool enabled);
  /// Frees the blob of `weight` if it is an arith.constant of a
  /// dense_resource whose only remaining users are `users` (being replaced or
  /// erased; empty: it is dead), and the only op referencing that blob.
  /// The constant op itself is left to whoever erases it; getConstantBytes
  /// then answers std::nullopt for it. Returns the bytes freed.
  uint64_t release(Value weight, ArrayRef<Operation *> users = {});
  /// release() for a constant op the caller is about to erase (dead).
  uint64_t releaseErased(Operation *constant);
  /// Blobs and bytes freed so far.
  unsigned releasedBlobs() const { return blobs; }
  uint64_t releasedBytes() const { return bytes; }

private:
  uint64_t releaseAttr(Attribute value);
  bool enabled = false;
  llvm::DenseMap<const void *, unsigned> references;
  unsigned blobs = 0;
  uint64_t bytes = 0;
};

/// A name for a blob derived from `v`'s constant (its blob name, or `fallback`).
std::string constantBlobName(Value v, StringRef suffix, StringRef fallback = "weight");

} // namespace mlir::attn

#endif // ATTN_DIALECT_CONSTANTDATA_H
