#include "embedding/hot_sketch.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "util/binary_io.h"
#include "util/check.h"
#include "util/random.h"

namespace cembed {
namespace {

constexpr uint64_t kBucketSeed = 0x5ca1ab1e0ddba11ULL;

}  // namespace

HotSketch::HotSketch(int64_t buckets, int slots, int64_t rows, float threshold)
    : buckets_(buckets), slots_per_bucket_(slots), rows_(rows), threshold_(threshold) {
  CEMBED_CHECK(buckets >= 1 && slots >= 1 && slots <= kMaxSlots && rows >= 1 && rows < (int64_t{1} << 31),
               "hot sketch: {} buckets of {} slots for {} rows", buckets, slots, rows);
  CEMBED_CHECK(std::isfinite(threshold) && threshold >= 0, "hot sketch: threshold {}", threshold);
  clear();
}

int64_t HotSketch::bytes(int64_t buckets, int slots, int64_t rows) {
  return buckets * slots * static_cast<int64_t>(sizeof(HotSlot)) + rows * static_cast<int64_t>(sizeof(int32_t));
}

void HotSketch::clear() {
  slots_.assign(static_cast<size_t>(buckets_ * slots_per_bucket_), HotSlot{});
  free_.resize(static_cast<size_t>(rows_));
  for (int64_t i = 0; i < rows_; ++i) free_[i] = static_cast<int32_t>(rows_ - 1 - i);
}

int64_t HotSketch::bucket_of(Id value) const {
  return static_cast<int64_t>(mix64(kBucketSeed ^ value) % static_cast<uint64_t>(buckets_));
}

int32_t HotSketch::row_of(Id value) const {
  const int64_t slot = slot_of(value);
  return slot >= 0 ? slots_[slot].row : -1;
}

int64_t HotSketch::slot_of(Id value) const {
  const int64_t first = bucket_of(value) * slots_per_bucket_;
  for (int64_t i = first; i < first + slots_per_bucket_; ++i) {
    if (!slots_[i].empty() && slots_[i].value == value) return i;
  }
  return -1;
}

void HotSketch::add(Id value, float score) {
  HotSlot* s = slots_.data() + bucket_of(value) * slots_per_bucket_;
  for (int i = 0; i < slots_per_bucket_; ++i) {
    if (!s[i].empty() && s[i].value == value) {
      s[i].score += score;
      return;
    }
  }
  int empty = -1, lowest = 0;
  for (int i = 0; i < slots_per_bucket_; ++i) {
    if (s[i].empty()) {
      empty = i;
      break;
    }
    if (s[i].score < s[lowest].score) lowest = i;
  }
  const int at = empty >= 0 ? empty : lowest;
  const float base = empty >= 0 ? 0.0f : s[at].score;
  if (s[at].row >= 0) free_.push_back(s[at].row);  // demoted with its slot
  s[at] = {value, -1, base + score, base};
}

void HotSketch::promote(std::span<const Id> values, std::vector<std::pair<int32_t, Id>>& promoted) {
  candidates_.clear();
  for (size_t k = 0; k < values.size(); ++k) {
    const int64_t slot = slot_of(values[k]);
    if (slot >= 0 && slots_[slot].row < 0 && slots_[slot].guaranteed() >= threshold_) {
      candidates_.emplace_back(slot, static_cast<int64_t>(k));
    }
  }
  if (candidates_.empty()) return;
  // One entry per slot, at its first position; then by score, highest first.
  std::sort(candidates_.begin(), candidates_.end());
  candidates_.erase(std::unique(candidates_.begin(), candidates_.end(),
                                [](const auto& a, const auto& b) { return a.first == b.first; }),
                    candidates_.end());
  std::sort(candidates_.begin(), candidates_.end(), [&](const auto& a, const auto& b) {
    const float sa = slots_[a.first].guaranteed(), sb = slots_[b.first].guaranteed();
    return sa != sb ? sa > sb : a.second < b.second;
  });
  bool heap_built = false;
  const auto lower = std::greater<>();  // a min-heap of (score, slot)
  for (const auto& [slot, first] : candidates_) {
    HotSlot& c = slots_[slot];
    int32_t row = -1;
    if (!free_.empty()) {
      row = free_.back();
      free_.pop_back();
    } else {
      if (!heap_built) {
        hot_.clear();
        for (int64_t i = 0; i < static_cast<int64_t>(slots_.size()); ++i) {
          if (slots_[i].row >= 0) hot_.emplace_back(slots_[i].guaranteed(), i);
        }
        std::make_heap(hot_.begin(), hot_.end(), lower);
        heap_built = true;
      }
      if (hot_.empty() || hot_.front().first >= c.guaranteed()) break;
      std::pop_heap(hot_.begin(), hot_.end(), lower);
      HotSlot& victim = slots_[hot_.back().second];
      hot_.pop_back();
      row = victim.row;
      victim.row = -1;
    }
    c.row = row;
    promoted.emplace_back(row, c.value);
  }
}

void HotSketch::save(BinaryWriter& out) const {
  out.i64(buckets_);
  out.i64(slots_per_bucket_);
  out.i64(rows_);
  out.raw(slots_.data(), slots_.size() * sizeof(HotSlot));
  out.u64(free_.size());
  out.raw(free_.data(), free_.size() * sizeof(int32_t));
}

void HotSketch::load(BinaryReader& in) {
  const std::string& where = in.context();
  const int64_t buckets = in.i64("hot sketch buckets"), slots = in.i64("hot sketch slots"),
                rows = in.i64("hot sketch rows");
  CEMBED_CHECK(buckets == buckets_ && slots == slots_per_bucket_ && rows == rows_,
               "{}: hot sketch of {} buckets x {} slots for {} rows, expected {} x {} for {} (spec differs)", where,
               buckets, slots, rows, buckets_, slots_per_bucket_, rows_);
  std::vector<HotSlot> read(slots_.size());
  in.raw_into(read.data(), read.size() * sizeof(HotSlot), "hot sketch slots");
  const uint64_t num_free = in.u64("hot sketch free rows");
  CEMBED_CHECK(num_free <= static_cast<uint64_t>(rows_), "{}: hot sketch has {} free rows of {}", where, num_free,
               rows_);
  std::vector<int32_t> free(num_free);
  in.raw_into(free.data(), free.size() * sizeof(int32_t), "hot sketch free rows");
  // Every row once: owned by one slot or free.
  std::vector<uint8_t> seen(static_cast<size_t>(rows_), 0);
  auto claim = [&](int32_t row, const char* by) {
    CEMBED_CHECK(row >= 0 && row < rows_ && !seen[row], "{}: hot sketch row {} ({}) is out of range or given twice",
                 where, row, by);
    seen[row] = 1;
  };
  for (size_t i = 0; i < read.size(); ++i) {
    const HotSlot& s = read[i];
    if (s.empty()) {
      CEMBED_CHECK(s.score == -1.0f && s.row == -1 && s.error == 0.0f,
                   "{}: hot sketch slot {} is neither empty nor filled", where, i);
      continue;
    }
    CEMBED_CHECK(std::isfinite(s.score) && s.error >= 0 && s.error <= s.score,
                 "{}: hot sketch slot {} has score {}, error {}", where, i, s.score, s.error);
    const auto bucket = static_cast<int64_t>(i) / slots_per_bucket_;
    CEMBED_CHECK(bucket_of(s.value) == bucket, "{}: hot sketch slot {} holds value {} of another bucket", where, i,
                 s.value);
    for (int64_t j = bucket * slots_per_bucket_; j < static_cast<int64_t>(i); ++j) {
      CEMBED_CHECK(read[j].empty() || read[j].value != s.value, "{}: hot sketch holds value {} twice", where, s.value);
    }
    if (s.row >= 0) claim(s.row, "a slot's");
  }
  for (int32_t row : free) claim(row, "free");
  for (int64_t r = 0; r < rows_; ++r) {
    CEMBED_CHECK(seen[r], "{}: hot sketch row {} is neither owned nor free", where, r);
  }
  slots_ = std::move(read);
  free_ = std::move(free);
}

}  // namespace cembed
