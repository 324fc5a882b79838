// The identity of a vocabulary (DatasetSchema::vocabulary_id): which id each value of each
// feature gets. It is an order-independent hash of every feature's name, cardinality and
// (value key, id) pairs, so the same vocabulary gives the same identity whether prepare
// counted it from the data or loaded it from vocabulary.bin (--vocabulary), and whatever
// order a hash map visits its pairs in.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "util/file_format.h"
#include "util/random.h"

namespace cembed {

class VocabularyIdentity {
 public:
  // Starts the next feature; its pairs follow.
  void feature(std::string_view name, int64_t cardinality) {
    fold();
    state_ = mix64(state_ ^ checksum64(name.data(), name.size(), static_cast<uint64_t>(cardinality)));
  }
  void pair(uint64_t key, uint64_t id) { pairs_ += mix64(mix64(key) ^ (id * 0x9e3779b97f4a7c15ULL)); }
  // "vocab:" and 16 hex digits.
  std::string finish() {
    fold();
    return fmt::format("vocab:{:016x}", state_);
  }

 private:
  void fold() {
    state_ = mix64(state_ ^ pairs_);
    pairs_ = 0;
  }
  uint64_t state_ = 0x76f3a1c5d2b94e87ULL, pairs_ = 0;
};

}  // namespace cembed
