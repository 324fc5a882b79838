// LMA and ROBE: signatures built in one pass equal the direct ones, memory shared in
// proportion to J^K, gradients with shared slots, byte accounting, save/load.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <numeric>
#include <set>

#include "cembed/dataset.h"
#include "cembed/factory.h"
#include "cembed/signatures.h"
#include "data/dataset_writer.h"
#include "method_cases.h"
#include "test_helpers.h"
#include "util/binary_io.h"
#include "util/check.h"

namespace cembed {
namespace {

using testing::vectors_of;

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("cembed_lma_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

// A dataset with a one-hot, a multi-hot and a skewed one-hot feature.
std::string write_dataset(int rows) {
  DatasetSchema s;
  s.dense_names = {"d"};
  s.sparse = {{"a", 7}, {"b", 30}, {"c", 500}};
  s.multi_hot = {false, true, false};
  const std::string path = temp_path("sig.cds");
  DatasetWriter w(path, s);
  Rng rng(5);
  for (int r = 0; r < rows; ++r) {
    const float dense = 0.5f;
    const Id a = static_cast<Id>(rng.below(7));
    std::vector<Id> b;
    for (uint64_t k = 0; k < rng.below(4); ++k) b.push_back(static_cast<Id>(rng.below(30)));
    const Id c = static_cast<Id>(rng.below(400));  // values 400..499 never appear
    const std::span<const Id> bags[3] = {{&a, 1}, b, {&c, 1}};
    w.add_row(static_cast<float>(r % 2), {&dense, 1}, bags);
  }
  w.finish();
  return path;
}

TEST(Signatures, OnePassEqualsSignaturesOfTheExplicitSets) {
  const Dataset data = Dataset::open(write_dataset(3000));
  const std::vector<int64_t> cards = {7, 30, 500};
  const std::vector<int64_t> offset = {0, 7, 37, 537};
  for (SignatureKind kind : {SignatureKind::Rows, SignatureKind::Context}) {
    for (double sample : {1.0, 0.3}) {
      SignatureConfig c;
      c.kind = kind;
      c.num_hashes = 12;
      c.sample = sample;
      const ValueSignatures streamed = compute_signatures(data, c);
      // The sets, built naively; the sample is re-drawn with the same rule.
      std::vector<std::set<uint64_t>> sets(537);
      Rng unused(0);
      for (int64_t r = 0; r < data.rows(); ++r) {
        const bool in =
            sample >= 1.0 ||
            static_cast<double>(mix64(static_cast<uint64_t>(r) ^ mix64(c.seed + 1)) >> 11) * 0x1.0p-53 < sample;
        if (!in) continue;
        for (int f = 0; f < 3; ++f) {
          for (Id v : data.bag(f, r)) {
            if (kind == SignatureKind::Rows) {
              sets[offset[f] + v].insert(static_cast<uint64_t>(r));
            } else {
              for (int u = 0; u < 3; ++u) {
                if (u == f) continue;
                for (Id w : data.bag(u, r)) sets[offset[f] + v].insert(static_cast<uint64_t>(offset[u] + w));
              }
            }
          }
        }
      }
      std::vector<std::vector<uint64_t>> lists;
      for (const auto& s : sets) lists.emplace_back(s.begin(), s.end());
      const ValueSignatures direct = signatures_from_sets(lists, cards, c);
      EXPECT_EQ(streamed.offset, direct.offset);
      EXPECT_EQ(streamed.present, direct.present) << signature_kind_name(kind) << " sample " << sample;
      EXPECT_EQ(streamed.minhash, direct.minhash) << signature_kind_name(kind) << " sample " << sample;
      // Values never seen have no signature.
      EXPECT_EQ(streamed.of(2, 450), nullptr);
      EXPECT_NE(streamed.of(0, 3), nullptr);
    }
  }
}

TEST(Signatures, SidecarRoundTripAndDamagedFilesAreRefused) {
  const Dataset data = Dataset::open(write_dataset(500));
  const ValueSignatures s = compute_signatures(data, {});
  const std::string path = signature_path(data.path(), SignatureKind::Rows);
  EXPECT_TRUE(path.ends_with("sig.rows.sig")) << path;
  save_signatures(path, s);
  const ValueSignatures back = load_signatures(path);
  EXPECT_EQ(back.minhash, s.minhash);
  EXPECT_EQ(back.present, s.present);
  EXPECT_EQ(back.offset, s.offset);
  fs::resize_file(path, fs::file_size(path) - 3);
  EXPECT_THROW(load_signatures(path), Error);
}

// Pairs of sets with Jaccard similarity J: |A & B| = J * 300, |A | B| = 300.
ValueSignatures pair_signatures(int pairs, double jaccard, int hashes, uint64_t salt) {
  std::vector<std::vector<uint64_t>> sets;
  const int u = 300, common = static_cast<int>(jaccard * u + 0.5), own = (u - common) / 2;
  for (int p = 0; p < pairs; ++p) {
    const uint64_t base = (salt << 40) + static_cast<uint64_t>(p) * 1000;
    std::vector<uint64_t> a, b;
    for (int i = 0; i < common; ++i) a.push_back(base + i), b.push_back(base + i);
    for (int i = 0; i < own; ++i) a.push_back(base + 400 + i), b.push_back(base + 700 + i);
    sets.push_back(a);
    sets.push_back(b);
  }
  SignatureConfig c;
  c.num_hashes = hashes;
  return signatures_from_sets(sets, {static_cast<int64_t>(sets.size())}, c);
}

// Fraction of the (pair, element) slots where the two values of a pair read the same
// float (random floats in a large array are equal only when the slot is shared).
double shared_fraction(const std::string& spec, const ValueSignatures& sigs, int pairs, int64_t dim) {
  auto t = make_table(spec, {dim, {2 * pairs}});
  const int features[1] = {0};
  t->attach_signatures(sigs, features);
  t->init(1);
  std::vector<Id> ids(2 * pairs);
  std::iota(ids.begin(), ids.end(), 0u);
  const auto v = vectors_of(*t, ids);
  int64_t shared = 0;
  for (int p = 0; p < pairs; ++p) {
    for (int64_t j = 0; j < dim; ++j) shared += v[(2 * p) * dim + j] == v[(2 * p + 1) * dim + j];
  }
  return static_cast<double>(shared) / static_cast<double>(pairs * dim);
}

TEST(Lma, SharedSlotsFollowJaccardToTheK) {
  // 2^22 floats: a chance collision of two unrelated slots is below 1e-5 (Z = 1).
  const int pairs = 400, hashes = 16;
  const int64_t dim = 16;
  for (int64_t block : {1, 4}) {
    for (int k : {1, 2, 3}) {
      for (double j : {0.0, 0.2, 0.5, 0.8, 1.0}) {
        const auto sigs = pair_signatures(pairs, j, hashes, static_cast<uint64_t>(k * 10 + block));
        const std::string spec = "lma:size=4194304,block=" + std::to_string(block) + ",k=" + std::to_string(k);
        const double got = shared_fraction(spec, sigs, pairs, dim);
        const double want = std::pow(j, k);
        // Each pair gives hashes / k independent sharing decisions: 400 * 16 / k trials,
        // standard deviation at most 0.5 / sqrt(6400 / 3) = 0.011; tolerance 0.045 (4 sd)
        // also covers densification's extra variance for the 300-element sets.
        EXPECT_NEAR(got, want, 0.045) << spec << " J=" << j;
        if (j == 1.0) {
          EXPECT_EQ(got, 1.0) << spec;
        }
        if (j == 0.0) {
          EXPECT_LT(got, 0.002) << spec;
        }
      }
    }
  }
}

TEST(Robe, DistinctValuesShareOnlyByChance) {
  // 1000 values x 16 elements in 64 blocks of 4: any slot is shared by chance with
  // probability 1/64 per pair of chunks; identical ids read identical vectors.
  auto t = make_table("robe:size=256,block=4", {16, {1000}});
  t->init(2);
  std::vector<Id> ids(1000);
  std::iota(ids.begin(), ids.end(), 0u);
  const auto v = vectors_of(*t, ids);
  int64_t shared = 0, total = 0;
  for (int p = 0; p + 1 < 1000; p += 2) {
    for (int c = 0; c < 4; ++c, ++total) shared += v[p * 16 + c * 4] == v[(p + 1) * 16 + c * 4];
  }
  EXPECT_NEAR(static_cast<double>(shared) / total, 1.0 / 64, 0.01);
  EXPECT_EQ(t->parameter_bytes(), 256 * 4);
  EXPECT_EQ(t->auxiliary_bytes(), 0);
}

TEST(Robe, DefaultBlockIsAtMostTheVectorSoEveryFloatIsRead) {
  // Blocks are aligned: with Z = 32 at dim 16 a value would read half of its block and half
  // of the array would never be read. The default Z is min(32, dim): 1000 values at dim 16
  // in 256 floats read all 256 (16 blocks of 16, each reached by some value).
  auto t = make_table("robe:size=256", {16, {1000}});
  t->init(2);
  std::vector<Id> ids(1000);
  std::iota(ids.begin(), ids.end(), 0u);
  const auto v = vectors_of(*t, ids);
  const std::set<float> read(v.begin(), v.end());
  const auto array = t->parameter_blocks()[0];
  const std::set<float> all(array.begin(), array.end());
  EXPECT_EQ(read.size(), all.size()) << "floats of the array no value reads";
  EXPECT_EQ(all.size(), 256u);  // init draws 256 distinct floats
  EXPECT_EQ(make_table("robe:size=256", {8, {10}})->parameter_row_widths()[0], 8);
  EXPECT_EQ(make_table("robe:size=256", {64, {10}})->parameter_row_widths()[0], 32);
  // A block wider than the vector is refused, naming why.
  try {
    make_table("robe:size=256,block=32", {16, {10}});
    ADD_FAILURE() << "block 32 at dim 16 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("wider than the vector"), std::string::npos) << e.what();
  }
}

// loss = sum_f sum_b <out_f[b], R_f[b]> for a table serving several features.
double probe(const EmbeddingTable& t, const std::vector<BagBatch>& bags, Pooling p,
             const std::vector<std::vector<float>>& r) {
  double loss = 0;
  std::vector<std::vector<float>> out(bags.size());
  std::vector<MatrixView> views;
  for (size_t f = 0; f < bags.size(); ++f) {
    out[f].resize(bags[f].batch_size() * t.dim());
    views.push_back({out[f].data(), bags[f].batch_size(), t.dim(), t.dim()});
  }
  t.forward(bags, p, views);
  for (size_t f = 0; f < bags.size(); ++f) {
    for (size_t i = 0; i < out[f].size(); ++i) loss += static_cast<double>(out[f][i]) * r[f][i];
  }
  return loss;
}

TEST(Lma, GradientsWithSlotsSharedAcrossFeaturesAndValues) {
  // Two features whose values share memory through their row sets, in a small array so
  // slots are also shared by chance; multi-hot bags with repeats and weights.
  const std::vector<int64_t> cards = {20, 15};
  std::vector<std::vector<uint64_t>> sets(35);
  Rng rng(8);
  for (auto& s : sets) {
    for (int i = 0; i < 6; ++i) s.push_back(rng.below(12));  // heavy overlap
  }
  sets[34].clear();  // a value without a signature
  // Every case of a method whose one array serves several features.
  for (const testing::MethodCase& c : testing::method_cases()) {
    if (!method_info(c.method()).shared_across_features) continue;
    const std::string& spec = c.spec;
    for (Pooling pooling : {Pooling::Sum, Pooling::Mean}) {
      auto t = make_table(spec, {8, cards});
      if (t->signature_kind()) {
        SignatureConfig sc;
        sc.kind = *t->signature_kind();
        sc.num_hashes = 4;
        const int features[2] = {0, 1};
        t->attach_signatures(signatures_from_sets(sets, cards, sc), features);
      }
      t->init(4);
      t->set_optimizer({OptimizerKind::Sgd});
      const auto b0 = testing::random_bags(rng, 6, 20, 0, 4, true);
      const auto b1 = testing::random_bags(rng, 6, 15, 1, 3, false);
      const std::vector<BagBatch> bags = {b0.view(), b1.view()};
      const std::vector<std::vector<float>> r = {testing::random_vector(rng, 48), testing::random_vector(rng, 48)};
      auto block = t->parameter_blocks()[0];
      const std::vector<float> before(block.begin(), block.end());
      std::vector<double> fd(block.size());
      for (size_t i = 0; i < block.size(); ++i) {
        fd[i] = testing::finite_difference([&] { return probe(*t, bags, pooling, r); }, block[i], 1e-2);
      }
      const std::vector<ConstMatrixView> grads = {{r[0].data(), 6, 8, 8}, {r[1].data(), 6, 8, 8}};
      t->backward(bags, pooling, grads, 1.0f);
      int touched = 0;
      for (size_t i = 0; i < block.size(); ++i) {
        const double g = static_cast<double>(before[i]) - block[i];
        ASSERT_TRUE(testing::close(g, fd[i], 2e-3, 2e-4)) << spec << " slot " << i << ": " << g << " vs " << fd[i];
        touched += g != 0;
      }
      EXPECT_GT(touched, 0) << spec;
    }
  }
}

// 8-minhash signatures of random sets (set_size draws from [0, universe)), one per value
// of features with these cardinalities.
ValueSignatures random_signatures(const std::vector<int64_t>& cards, int set_size, uint64_t universe, uint64_t seed) {
  int64_t values = 0;
  for (int64_t c : cards) values += c;
  std::vector<std::vector<uint64_t>> sets(values);
  Rng rng(seed);
  for (auto& s : sets) {
    for (int i = 0; i < set_size; ++i) s.push_back(rng.below(universe));
  }
  SignatureConfig sc;
  sc.num_hashes = 8;
  return signatures_from_sets(sets, cards, sc);
}

TEST(Lma, BytesSignaturesSaveLoadAndErrors) {
  const std::vector<int64_t> cards = {50, 70};
  const ValueSignatures sigs = random_signatures(cards, 5, 40, 3);
  auto a = make_table("lma:size=256,block=2,k=2", {8, cards});
  EXPECT_EQ(a->parameter_bytes(), 256 * 4);
  // Without signatures the table refuses to run and says how to get them.
  std::vector<Id> ids = {1};
  std::vector<uint32_t> offsets = {0, 1};
  std::vector<float> out(8);
  std::vector<BagBatch> bags = {{ids, offsets, {}}, {ids, offsets, {}}};
  std::vector<MatrixView> views = {{out.data(), 1, 8, 8}, {out.data(), 1, 8, 8}};
  EXPECT_THROW(a->forward(bags, Pooling::Sum, views), Error);
  const int features[2] = {0, 1};
  a->attach_signatures(sigs, features);
  // 4 chunks x K = 2 read all 8 minhashes: their 17 bytes per value make way for the
  // value's 4 blocks (16 bytes).
  EXPECT_EQ(a->auxiliary_bytes(), 120 * 4 * 4);
  a->init(1);
  a->set_optimizer({OptimizerKind::Adagrad});
  std::vector<float> g(8, 0.1f);
  std::vector<ConstMatrixView> gv = {{g.data(), 1, 8, 8}, {g.data(), 1, 8, 8}};
  a->backward(bags, Pooling::Sum, gv, 0.1f);
  BinaryWriter w;
  a->save(w);
  auto b = make_table("lma:size=256,block=2,k=2", {8, cards});
  b->set_optimizer({OptimizerKind::Adagrad});
  BinaryReader r(w.bytes().data(), w.bytes().size(), "test");
  b->load(r);  // signatures come back with the model
  r.expect_end();
  std::vector<float> out_a(8), out_b(8);
  std::vector<MatrixView> va = {{out_a.data(), 1, 8, 8}, {out.data(), 1, 8, 8}};
  std::vector<MatrixView> vb = {{out_b.data(), 1, 8, 8}, {out.data(), 1, 8, 8}};
  a->forward(bags, Pooling::Sum, va);
  b->forward(bags, Pooling::Sum, vb);
  EXPECT_EQ(out_a, out_b);
  EXPECT_EQ(b->auxiliary_bytes(), a->auxiliary_bytes());
  // Wrong kind of signatures, or size not a multiple of the block.
  auto c = make_table("lma:size=256,block=2,signature=context", {8, cards});
  EXPECT_THROW(c->attach_signatures(sigs, features), Error);
  EXPECT_THROW(make_table("robe:size=30,block=4", {8, {10}}), Error);
}

// A table keeps only the minhashes its chunks read, and places values exactly as with all
// of them: dim 8 in blocks of 4 with K = 1 reads minhashes 0 and 1 of 8 (2 x 2 bytes and a
// presence flag per value; its 2 blocks would take 8). With K = 2 the 4 minhashes and the
// flag take 9 bytes, the blocks 8: it keeps the blocks.
TEST(Lma, KeepsOnlyWhatItReads) {
  const std::vector<int64_t> cards = {60};
  const ValueSignatures sigs = random_signatures(cards, 6, 50, 8);
  const int features[1] = {0};
  std::vector<Id> ids(60);
  std::iota(ids.begin(), ids.end(), Id{0});
  for (int k : {1, 2}) {
    const std::string spec = "lma:size=64,block=4,k=" + std::to_string(k);
    auto table_with = [&](const ValueSignatures& s) {
      auto t = make_table(spec, {8, cards});
      t->attach_signatures(s, features);
      t->init(5);
      return t;
    };
    auto a = table_with(sigs);
    EXPECT_EQ(a->auxiliary_bytes(), k == 1 ? 60 * (2 * 2 + 1) : 60 * 2 * 4) << spec;
    // Changing minhashes 2k..7 of every value changes nothing; changing minhash 0 does.
    ValueSignatures tail = sigs, head = sigs;
    for (int64_t v = 0; v < 60; ++v) {
      for (int i = 2 * k; i < 8; ++i) tail.minhash[v * 8 + i] ^= 0x5a5a;
      head.minhash[v * 8] ^= 0x5a5a;
    }
    EXPECT_EQ(vectors_of(*a, ids), vectors_of(*table_with(tail), ids)) << spec;
    EXPECT_NE(vectors_of(*a, ids), vectors_of(*table_with(head), ids)) << spec;
    // Either form comes back with the model; a value block beyond the array is refused.
    a->set_optimizer({OptimizerKind::Sgd});
    BinaryWriter w;
    a->save(w);
    auto b = make_table(spec, {8, cards});
    b->set_optimizer({OptimizerKind::Sgd});
    BinaryReader r(w.bytes().data(), w.bytes().size(), "test");
    b->load(r);
    EXPECT_EQ(vectors_of(*a, ids), vectors_of(*b, ids)) << spec;
    EXPECT_EQ(b->auxiliary_bytes(), a->auxiliary_bytes()) << spec;
    if (k == 2) {
      std::string bytes(w.bytes().begin(), w.bytes().end());
      const uint32_t beyond = 16;  // 64 floats in blocks of 4
      std::memcpy(bytes.data() + bytes.size() - 4, &beyond, 4);
      auto c = make_table(spec, {8, cards});
      c->set_optimizer({OptimizerKind::Sgd});
      BinaryReader bad(bytes.data(), bytes.size(), "test");
      EXPECT_THROW(c->load(bad), Error) << spec;
    }
  }
}

}  // namespace
}  // namespace cembed
