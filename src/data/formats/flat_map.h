// FlatMap: open-addressing hash map from nonzero 64-bit keys to V, with linear probing.
// Faster than std::unordered_map for counting values while preparing data (one array, no
// node allocations). Key 0 marks an empty slot, so 0 cannot be a key.
#pragma once

#include <cstdint>
#include <vector>

#include "cembed/errors.h"
#include "cembed/random.h"

namespace cembed {

template <typename V>
class FlatMap {
 public:
  FlatMap() { rehash(16); }

  // The value of `key`, inserted as V{} when absent.
  V& operator[](uint64_t key) {
    CEMBED_CHECK(key != 0, "FlatMap: key 0 is reserved");
    if ((size_ + 1) * 4 > keys_.size() * 3) rehash(keys_.size() * 2);
    size_t i = mix64(key) & mask_;
    while (keys_[i] != 0 && keys_[i] != key) i = (i + 1) & mask_;
    if (keys_[i] == 0) {
      keys_[i] = key;
      ++size_;
    }
    return values_[i];
  }

  const V* find(uint64_t key) const {
    size_t i = mix64(key) & mask_;
    while (keys_[i] != 0) {
      if (keys_[i] == key) return &values_[i];
      i = (i + 1) & mask_;
    }
    return nullptr;
  }

  size_t size() const { return size_; }

  template <typename F>
  void for_each(F f) const {
    for (size_t i = 0; i < keys_.size(); ++i) {
      if (keys_[i] != 0) f(keys_[i], values_[i]);
    }
  }

 private:
  void rehash(size_t capacity) {
    std::vector<uint64_t> old_keys(capacity, 0);
    std::vector<V> old_values(capacity);
    old_keys.swap(keys_);
    old_values.swap(values_);
    mask_ = capacity - 1;
    size_ = 0;
    for (size_t i = 0; i < old_keys.size(); ++i) {
      if (old_keys[i] != 0) (*this)[old_keys[i]] = old_values[i];
    }
  }

  std::vector<uint64_t> keys_;
  std::vector<V> values_;
  size_t mask_ = 0, size_ = 0;
};

}  // namespace cembed
