//===- Statistics.cpp - pass statistics that work in release builds -------===//
#include "attn/Compiler/Statistics.h"

#include "llvm/Support/FormatVariadic.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

using namespace mlir::attn;

namespace {
struct Entry {
  std::string description;
  std::unique_ptr<std::atomic<uint64_t>> count = std::make_unique<std::atomic<uint64_t>>(0);
};
struct Registry {
  std::mutex mutex;
  // (pass, statistic) in registration order per pass.
  std::map<std::string, std::vector<std::pair<std::string, Entry>>> passes;
  std::vector<std::string> order;
};
Registry &registry() {
  static Registry r;
  return r;
}
} // namespace

PassStatistic::PassStatistic(llvm::StringRef pass, llvm::StringRef name,
                             llvm::StringRef description) {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto [it, inserted] = r.passes.try_emplace(pass.str());
  if (inserted)
    r.order.push_back(pass.str());
  for (auto &[n, e] : it->second)
    if (n == name) {
      counter = e.count.get();
      return;
    }
  it->second.push_back({name.str(), Entry{description.str()}});
  counter = it->second.back().second.count.get();
}

void mlir::attn::printPassStatistics(llvm::raw_ostream &os) {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  os << "===" << std::string(73, '-') << "===\n"
     << "                     ... attnc pass statistics report ...\n"
     << "===" << std::string(73, '-') << "===\n";
  for (const std::string &pass : r.order) {
    os << pass << "\n";
    for (auto &[name, e] : r.passes[pass])
      os << llvm::formatv("  (S) {0,6} {1} - {2}\n", e.count->load(), name, e.description);
  }
}
