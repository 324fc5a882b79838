#include "embedding/hot_sketch.h"

#include <cmath>

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
  const HotSlot* s = slots_.data() + bucket_of(value) * slots_per_bucket_;
  for (int i = 0; i < slots_per_bucket_; ++i) {
    if (!s[i].empty() && s[i].value == value) return s[i].row;
  }
  return -1;
}

void HotSketch::add(Id value, float score, std::vector<std::pair<int32_t, Id>>& promoted) {
  HotSlot* s = slots_.data() + bucket_of(value) * slots_per_bucket_;
  int at = -1;
  for (int i = 0; i < slots_per_bucket_ && at < 0; ++i) {
    if (!s[i].empty() && s[i].value == value) at = i;
  }
  if (at >= 0) {
    s[at].score += score;
  } else {
    int empty = -1, lowest = 0;
    for (int i = 0; i < slots_per_bucket_; ++i) {
      if (s[i].empty()) {
        empty = i;
        break;
      }
      if (s[i].score < s[lowest].score) lowest = i;
    }
    at = empty >= 0 ? empty : lowest;
    const float base = empty >= 0 ? 0.0f : s[at].score;
    if (s[at].row >= 0) free_.push_back(s[at].row);  // demoted with its slot
    s[at] = {value, -1, base + score};
  }
  if (s[at].row >= 0 || s[at].score < threshold_) return;
  int32_t row = -1;
  if (!free_.empty()) {
    row = free_.back();
    free_.pop_back();
  } else {
    int victim = -1;
    for (int i = 0; i < slots_per_bucket_; ++i) {
      if (i == at || s[i].empty() || s[i].row < 0 || s[i].score >= s[at].score) continue;
      if (victim < 0 || s[i].score < s[victim].score) victim = i;
    }
    if (victim < 0) return;
    row = s[victim].row;
    s[victim].row = -1;
  }
  s[at].row = row;
  promoted.emplace_back(row, value);
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
      CEMBED_CHECK(s.score == -1.0f && s.row == -1, "{}: hot sketch slot {} is neither empty nor filled", where, i);
      continue;
    }
    CEMBED_CHECK(std::isfinite(s.score), "{}: hot sketch slot {} has score {}", where, i, s.score);
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
