// HotSketch (after CAFE, Zhang et al., SIGMOD 2024): finds a feature's hot values while
// training, for `hot:find=sketch` (hot_table.cpp). `buckets` buckets of `slots` slots; a slot
// holds a value, its importance score and its hot row (or none). A value lives in bucket
// h(value) mod buckets. The rule, for each occurrence of value v with score s (add()):
//
//   hit:  v holds a slot of its bucket -> its score += s
//   miss: v takes the bucket's first empty slot (score s), or else the slot of the lowest
//         score (the first such in slot order) with score = that lowest score + s
//         (Space-Saving); the value it replaces loses its slot and, if it had one, its hot
//         row (demotion: the row goes back to the free rows)
//   then, if v has no hot row and its score >= threshold: v takes a free row (the last one
//         freed first; at the start rows 0, 1, 2, ... in order), or, when none is free, the
//         row of the lowest-scoring hot value of its bucket whose score is below v's (the
//         first such in slot order; that value stays in the sketch, cold)
//
// Memory: 12 bytes a slot (value, row, score) and 4 bytes a hot row (the free rows), all
// counted in the table's bytes (bytes()). Scores are floats: a count stops growing at 2^24.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "cembed/bags.h"

namespace cembed {

class BinaryWriter;
class BinaryReader;

struct HotSlot {
  Id value = 0;
  int32_t row = -1;     // the value's hot row, -1: cold
  float score = -1.0f;  // < 0: empty slot
  bool empty() const { return score < 0; }
};

class HotSketch {
 public:
  static constexpr int kMaxSlots = 64;

  HotSketch(int64_t buckets, int slots, int64_t rows, float threshold);

  // Bytes of a sketch of this size (slots and free rows).
  static int64_t bytes(int64_t buckets, int slots, int64_t rows);

  int64_t bucket_of(Id value) const;
  // v's hot row, or -1 when v is cold.
  int32_t row_of(Id value) const;
  // One occurrence of v with score s >= 0 (the rule above). A value given a hot row is
  // appended to `promoted` as (row, value).
  void add(Id value, float score, std::vector<std::pair<int32_t, Id>>& promoted);

  std::span<const HotSlot> slots() const { return slots_; }
  std::span<const int32_t> free_rows() const { return free_; }
  int64_t num_buckets() const { return buckets_; }
  int slots_per_bucket() const { return slots_per_bucket_; }
  int64_t rows() const { return rows_; }

  // Empty slots, every row free.
  void clear();
  // The whole state; load() checks it against this sketch's size (every row owned by one
  // slot or free, values in their buckets, scores finite), naming the reader's context.
  void save(BinaryWriter& out) const;
  void load(BinaryReader& in);

 private:
  int64_t buckets_;
  int slots_per_bucket_;
  int64_t rows_;
  float threshold_;
  std::vector<HotSlot> slots_;
  std::vector<int32_t> free_;  // a stack: the next row given is free_.back()
};

}  // namespace cembed
