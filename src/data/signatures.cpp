#include "cembed/signatures.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "cembed/dataset.h"
#include "util/binary_io.h"
#include "util/check.h"
#include "util/file_format.h"
#include "util/random.h"

namespace cembed {

SignatureKind parse_signature_kind(const std::string& name) {
  if (name == "rows") return SignatureKind::Rows;
  if (name == "context") return SignatureKind::Context;
  fail("unknown signature kind '{}' (rows, context)", name);
}

std::string signature_kind_name(SignatureKind kind) { return kind == SignatureKind::Rows ? "rows" : "context"; }

namespace {

constexpr uint32_t kEmpty = std::numeric_limits<uint32_t>::max();

// One-permutation hashing state of one value: the minimum hash of each bin.
struct Bins {
  uint32_t* min;
  int count;
  void add(uint64_t h) const {
    const auto bin = static_cast<int>(((h >> 32) * static_cast<uint64_t>(count)) >> 32);
    const auto v = static_cast<uint32_t>(h);
    // kEmpty is reserved for empty bins; the hash value 2^32-1 counts as 2^32-2.
    min[bin] = std::min(min[bin], std::min(v, kEmpty - 1));
  }
};

uint64_t element_hash(uint64_t element, uint64_t seed) { return mix64(element ^ mix64(seed)); }

bool in_sample(int64_t row, const SignatureConfig& c) {
  if (c.sample >= 1.0) return true;
  return static_cast<double>(mix64(static_cast<uint64_t>(row) ^ mix64(c.seed + 1)) >> 11) * 0x1.0p-53 < c.sample;
}

// Densifies and packs value g's bins into 16-bit minhashes; returns false for an empty set.
bool finish(const uint32_t* min, int count, uint16_t* out) {
  int first = -1;
  for (int i = 0; i < count && first < 0; ++i) {
    if (min[i] != kEmpty) first = i;
  }
  if (first < 0) {
    std::fill(out, out + count, uint16_t{0});
    return false;
  }
  for (int i = 0; i < count; ++i) {
    // Rotation: an empty bin takes the next non-empty bin to its right, rehashed with the
    // distance, so two values agree on it only when they agree on that bin.
    int j = i, dist = 0;
    while (min[j] == kEmpty) {
      j = (j + 1) % count;
      ++dist;
    }
    out[i] = static_cast<uint16_t>(mix64((static_cast<uint64_t>(min[j]) << 8) ^ static_cast<uint64_t>(dist)) >> 48);
  }
  return true;
}

ValueSignatures empty_signatures(const std::vector<int64_t>& cardinalities, const SignatureConfig& config) {
  CEMBED_CHECK(config.num_hashes >= 1 && config.num_hashes <= 256, "signatures: num_hashes must be in [1, 256], got {}",
               config.num_hashes);
  CEMBED_CHECK(config.sample > 0 && config.sample <= 1, "signatures: sample must be in (0, 1], got {}", config.sample);
  ValueSignatures s;
  s.config = config;
  s.offset.push_back(0);
  for (int64_t n : cardinalities) s.offset.push_back(s.offset.back() + n);
  s.minhash.resize(s.num_values() * config.num_hashes);
  s.present.resize(s.num_values());
  return s;
}

}  // namespace

ValueSignatures signatures_from_sets(const std::vector<std::vector<uint64_t>>& sets,
                                     const std::vector<int64_t>& cardinalities, const SignatureConfig& config) {
  ValueSignatures s = empty_signatures(cardinalities, config);
  CEMBED_CHECK(static_cast<int64_t>(sets.size()) == s.num_values(), "signatures: {} sets for {} values", sets.size(),
               s.num_values());
  const int L = config.num_hashes;
  std::vector<uint32_t> min(L);
  for (int64_t g = 0; g < s.num_values(); ++g) {
    std::fill(min.begin(), min.end(), kEmpty);
    const Bins bins{min.data(), L};
    for (uint64_t e : sets[g]) bins.add(element_hash(e, config.seed));
    s.present[g] = finish(min.data(), L, s.minhash.data() + g * L);
  }
  return s;
}

namespace {

// The one pass behind compute_signatures and signatures_from_bags: `bag(f, r)` gives the ids
// of feature f in row r, for `rows` rows.
template <typename BagOf>
ValueSignatures signatures_pass(const std::vector<int64_t>& cards, int64_t rows, BagOf bag,
                                const SignatureConfig& config) {
  ValueSignatures s = empty_signatures(cards, config);
  const int L = config.num_hashes;
  const int F = static_cast<int>(cards.size());
  std::vector<uint8_t> sampled(rows);
  for (int64_t r = 0; r < rows; ++r) sampled[r] = in_sample(r, config);

    // Threads own features: every value's bins are touched by one thread only.
#pragma omp parallel for schedule(dynamic, 1)
  for (int f = 0; f < F; ++f) {
    std::vector<uint32_t> min(cards[f] * L, kEmpty);
    for (int64_t r = 0; r < rows; ++r) {
      if (!sampled[r]) continue;
      if (config.kind == SignatureKind::Rows) {
        const uint64_t h = element_hash(static_cast<uint64_t>(r), config.seed);
        for (Id v : bag(f, r)) Bins{min.data() + static_cast<int64_t>(v) * L, L}.add(h);
      } else {
        for (int u = 0; u < F; ++u) {
          if (u == f) continue;
          for (Id w : bag(u, r)) {
            const uint64_t h = element_hash(static_cast<uint64_t>(s.offset[u] + w), config.seed);
            for (Id v : bag(f, r)) Bins{min.data() + static_cast<int64_t>(v) * L, L}.add(h);
          }
        }
      }
    }
    for (int64_t v = 0; v < cards[f]; ++v) {
      const int64_t g = s.offset[f] + v;
      s.present[g] = finish(min.data() + v * L, L, s.minhash.data() + g * L);
    }
  }
  return s;
}

}  // namespace

ValueSignatures compute_signatures(const Dataset& data, const SignatureConfig& config) {
  std::vector<int64_t> cards;
  for (const auto& f : data.schema().sparse) cards.push_back(f.cardinality);
  return signatures_pass(
      cards, data.rows(), [&](int f, int64_t r) { return data.bag(f, r); }, config);
}

ValueSignatures signatures_from_bags(std::span<const BagBatch> features, const std::vector<int64_t>& cardinalities,
                                     const SignatureConfig& config) {
  CEMBED_CHECK(features.size() == cardinalities.size(), "signatures: {} features of bags for {} cardinalities",
               features.size(), cardinalities.size());
  const int64_t rows = features.empty() ? 0 : features[0].batch_size();
  for (size_t f = 0; f < features.size(); ++f) {
    const BagBatch& b = features[f];
    CEMBED_CHECK(b.batch_size() == rows, "signatures: feature {} has {} rows, feature 0 has {}", f, b.batch_size(),
                 rows);
    CEMBED_CHECK(b.offsets.empty() || (b.offsets[0] == 0 && b.offsets.back() == b.ids.size()),
                 "signatures: feature {}: offsets must start at 0 and end at the {} ids", f, b.ids.size());
    for (int64_t r = 0; r < rows; ++r) {
      CEMBED_CHECK(b.offsets[r] <= b.offsets[r + 1], "signatures: feature {}: offsets decrease at row {}", f, r);
    }
    for (size_t k = 0; k < b.ids.size(); ++k) {
      CEMBED_CHECK(b.ids[k] < cardinalities[f], "signatures: feature {}: id {} (entry {}) out of range [0, {})", f,
                   b.ids[k], k, cardinalities[f]);
    }
  }
  return signatures_pass(
      cardinalities, rows,
      [&](int f, int64_t r) { return features[f].ids.subspan(features[f].offsets[r], features[f].bag_length(r)); },
      config);
}

std::string signature_path(const std::string& dataset_path, SignatureKind kind) {
  std::string base = dataset_path;
  if (base.size() > 4 && base.ends_with(".cds")) base.resize(base.size() - 4);
  return base + "." + signature_kind_name(kind) + ".sig";
}

namespace {
constexpr char kMagic[] = "CEMBSIGN";
constexpr uint32_t kVersion = 1;
}  // namespace

void save_signatures(const std::string& path, const ValueSignatures& sigs) {
  BinaryWriter w;
  nlohmann::json header = {{"kind", signature_kind_name(sigs.config.kind)},
                           {"num_hashes", sigs.config.num_hashes},
                           {"sample", sigs.config.sample},
                           {"seed", sigs.config.seed},
                           {"offset", sigs.offset}};
  w.str(header.dump());
  w.u64(sigs.minhash.size());
  w.raw(sigs.minhash.data(), sigs.minhash.size() * sizeof(uint16_t));
  w.u64(sigs.present.size());
  w.raw(sigs.present.data(), sigs.present.size());
  write_framed_file(path, std::string_view(kMagic, 8), kVersion, w.bytes());
}

ValueSignatures load_signatures(const std::string& path) {
  const std::string payload = read_framed_file(path, std::string_view(kMagic, 8), kVersion);
  BinaryReader r(payload.data(), payload.size(), path);
  ValueSignatures s;
  try {
    const auto header = nlohmann::json::parse(r.str("signature header"));
    s.config.kind = parse_signature_kind(header.at("kind"));
    s.config.num_hashes = header.at("num_hashes");
    s.config.sample = header.at("sample");
    s.config.seed = header.at("seed");
    s.offset = header.at("offset").get<std::vector<int64_t>>();
  } catch (const nlohmann::json::exception& e) {
    fail("{}: bad signature header: {}", path, e.what());
  }
  CEMBED_CHECK(!s.offset.empty() && s.config.num_hashes >= 1, "{}: bad signature header", path);
  const uint64_t n = r.u64("minhash count");
  CEMBED_CHECK(n == static_cast<uint64_t>(s.num_values() * s.config.num_hashes),
               "{}: {} minhashes for {} values x {} hashes", path, n, s.num_values(), s.config.num_hashes);
  s.minhash.resize(n);
  r.raw_into(s.minhash.data(), n * sizeof(uint16_t), "minhashes");
  const uint64_t p = r.u64("presence count");
  CEMBED_CHECK(p == static_cast<uint64_t>(s.num_values()), "{}: {} presence flags for {} values", path, p,
               s.num_values());
  s.present.resize(p);
  r.raw_into(s.present.data(), p, "presence flags");
  r.expect_end();
  return s;
}

}  // namespace cembed
