//===- Statistics.h - pass statistics that work in release builds -*- C++ -*-===//
//
// mlir::Pass::Statistic is an llvm::Statistic, which LLVM's release builds
// (Debian's libMLIR among them) compile to a no-op: --mlir-pass-statistics
// then prints an empty report. attnc's passes count with PassStatistic
// instead; attnc prints the counts in MLIR's report format when the flag is
// given. Counts are per process (atomic: function passes run in parallel).
//
//===----------------------------------------------------------------------===//
#ifndef ATTN_COMPILER_STATISTICS_H
#define ATTN_COMPILER_STATISTICS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <atomic>
#include <cstdint>

namespace mlir::attn {

class PassStatistic {
public:
  /// `pass` is the pass argument (attn-fuse-attention), `name` the
  /// statistic's (fused-chains); instances with the same pair share a count.
  PassStatistic(llvm::StringRef pass, llvm::StringRef name, llvm::StringRef description);
  PassStatistic &operator++() {
    counter->fetch_add(1, std::memory_order_relaxed);
    return *this;
  }
  PassStatistic &operator+=(uint64_t n) {
    counter->fetch_add(n, std::memory_order_relaxed);
    return *this;
  }
  uint64_t value() const { return counter->load(std::memory_order_relaxed); }

private:
  std::atomic<uint64_t> *counter;
};

/// Prints every statistic of the passes that ran, grouped by pass.
void printPassStatistics(llvm::raw_ostream &os);

} // namespace mlir::attn

#endif // ATTN_COMPILER_STATISTICS_H
