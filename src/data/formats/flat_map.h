// FlatMap: open-addressing hash map from nonzero 64-bit keys to V, with linear probing.
// Faster than std::unordered_map for counting values while preparing data (one array of
// (key, value) slots, so a lookup touches one cache line; no node allocations). Key 0
// marks an empty slot, so 0 cannot be a key.
#pragma once

#include <cstdint>
#include <vector>

#include "util/check.h"
#include "util/random.h"

namespace cembed {

template <typename V>
class FlatMap {
 public:
  FlatMap() { rehash(16); }

  // The value of `key`, inserted as V{} when absent.
  V& operator[](uint64_t key) {
    CEMBED_CHECK(key != 0, "FlatMap: key 0 is reserved");
    if ((size_ + 1) * 4 > slots_.size() * 3) rehash(slots_.size() * 2);
    size_t i = mix64(key) & mask_;
    while (slots_[i].key != 0 && slots_[i].key != key) i = (i + 1) & mask_;
    if (slots_[i].key == 0) {
      slots_[i].key = key;
      ++size_;
    }
    return slots_[i].value;
  }

  const V* find(uint64_t key) const {
    size_t i = mix64(key) & mask_;
    while (slots_[i].key != 0) {
      if (slots_[i].key == key) return &slots_[i].value;
      i = (i + 1) & mask_;
    }
    return nullptr;
  }

  // Hint that `key` will be looked up soon (its slot is read at random).
  void prefetch(uint64_t key) const { __builtin_prefetch(&slots_[mix64(key) & mask_]); }

  size_t size() const { return size_; }

  template <typename F>
  void for_each(F f) const {
    for (const Slot& s : slots_) {
      if (s.key != 0) f(s.key, s.value);
    }
  }

 private:
  struct Slot {
    uint64_t key = 0;
    V value{};
  };

  void rehash(size_t capacity) {
    std::vector<Slot> old(capacity);
    old.swap(slots_);
    mask_ = capacity - 1;
    size_ = 0;
    for (const Slot& s : old) {
      if (s.key != 0) (*this)[s.key] = s.value;
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0, size_ = 0;
};

}  // namespace cembed
