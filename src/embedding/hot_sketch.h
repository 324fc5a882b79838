// HotSketch (after CAFE, Zhang et al., SIGMOD 2024): finds a feature's hot values while
// training, for `hot:find=sketch` (hot_table.cpp). `buckets` buckets of `slots` slots; a slot
// holds a value, its importance score, the error of that score and its hot row (or none).
// A value lives in bucket h(value) mod buckets. The rule, for a batch:
//
// 1. add(), for each occurrence of value v with score s, in the batch's order:
//    hit:  v holds a slot of its bucket -> its score += s
//    miss: v takes the bucket's first empty slot (score s, error 0), or else the slot of the
//          lowest score (the first such in slot order) with score = that lowest score + s and
//          error = that lowest score (Space-Saving); the value it replaces loses its slot and,
//          if it had one, its hot row (demotion: the row goes back to the free rows)
// 2. promote(), once for the batch, by guaranteed score (score - error: what the value has
//    surely earned since it took its slot; a newcomer's inherited score does not count): the
//    batch's values that hold a slot, have no hot row and a guaranteed score of at least
//    `threshold` are candidates, taken highest first (ties: first seen in the batch first).
//    Each takes a free row (the last one freed first; at the start rows 0, 1, 2, ... in
//    order), or, when none is free, the row of the hot value of the lowest guaranteed score in
//    the whole sketch (ties: the lowest slot) if that is below its own (that value stays in
//    the sketch, cold); the first candidate that can do neither ends the pass.
//
// So the hot values are, as far as the sketch can tell, the `rows` values of the highest
// guaranteed scores above the threshold.
//
// Memory: 16 bytes a slot (value, row, score, error) and 4 bytes a hot row (the free rows), all
// counted in the table's bytes (bytes()). Scores are floats: a count stops growing at 2^24.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "cembed/bags.h"

namespace cembed {

class BinaryWriter;
class BinaryReader;

struct HotSlot {
  Id value = 0;
  int32_t row = -1;     // the value's hot row, -1: cold
  float score = -1.0f;  // < 0: empty slot
  float error = 0.0f;   // the score it inherited when it took the slot
  bool empty() const { return score < 0; }
  float guaranteed() const { return score - error; }
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
  // The index in slots() of v's slot, or -1 when the sketch does not track v.
  int64_t slot_of(Id value) const;
  // Step 1 of the rule: one occurrence of v with score s >= 0.
  void add(Id value, float score);
  // Step 2 of the rule, for a batch whose values (in order, repeats allowed) are `values`.
  // Each value given a hot row is appended to `promoted` as (row, value).
  void promote(std::span<const Id> values, std::vector<std::pair<int32_t, Id>>& promoted);

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
  // promote()'s scratch: candidates (slot, first position), hot slots as (score, slot).
  std::vector<std::pair<int64_t, int64_t>> candidates_;
  std::vector<std::pair<float, int64_t>> hot_;  // (guaranteed score, slot)
};

}  // namespace cembed
