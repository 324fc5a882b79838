// Communicator: the collective operations data-parallel training needs, over the processes
// of one job (ranks 0 .. size-1). The library trains through this interface only; an MPI
// implementation (cembed/mpi_communicator.h, built when MPI is found) connects the ranks of
// `mpirun` or `srun`, and SingleProcess is the job of one.
//
// Every rank calls the same collectives in the same order with the same sizes where a size
// is fixed (allreduce); allgather takes a different byte count from each rank. A rank that
// fails aborts the whole job (abort()), so the others never wait on it.
//
// split() cuts the job into groups, each a job of its own (the sweep's cells trained by groups
// of ranks); abort() on a group's communicator still ends the whole job.
//
// bytes_sent() counts the payload this rank hands to collectives (its own bytes of each
// allreduce and allgather); the transport moves about twice that for a ring allreduce.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace cembed {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Element-wise sum over the ranks, in place, the same on every rank.
  virtual void allreduce_sum(std::span<float> values) = 0;
  virtual void allreduce_sum(std::span<double> values) = 0;
  virtual void allreduce_sum(std::span<int64_t> values) = 0;
  // Every rank's bytes concatenated in rank order; `counts` receives each rank's byte count.
  virtual std::vector<std::byte> allgather(std::span<const std::byte> mine, std::vector<int64_t>& counts) = 0;
  // Rank `root`'s text on every rank.
  virtual std::string broadcast(const std::string& text, int root) = 0;
  // The ranks that pass the same `color` (>= 0), as a job of their own, ranked in this job's
  // order; every rank calls it (MPI_Comm_split).
  virtual std::unique_ptr<Communicator> split(int color) = 0;
  // Ends the whole job with `message` on stderr (names this rank); does not return.
  [[noreturn]] virtual void abort(const std::string& message) = 0;

  int64_t bytes_sent() const { return bytes_sent_; }

  // Typed allgather of trivially copyable values.
  template <class T>
  std::vector<T> allgather_values(std::span<const T> mine, std::vector<int64_t>* counts = nullptr) {
    std::vector<int64_t> byte_counts;
    const auto bytes = allgather(std::as_bytes(mine), byte_counts);
    std::vector<T> out(bytes.size() / sizeof(T));
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
    if (counts != nullptr) {
      counts->clear();
      for (int64_t c : byte_counts) counts->push_back(c / static_cast<int64_t>(sizeof(T)));
    }
    return out;
  }

 protected:
  int64_t bytes_sent_ = 0;
};

// The job of one process: every collective is the identity.
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(std::span<float>) override {}
  void allreduce_sum(std::span<double>) override {}
  void allreduce_sum(std::span<int64_t>) override {}
  std::vector<std::byte> allgather(std::span<const std::byte> mine, std::vector<int64_t>& counts) override {
    counts.assign(1, static_cast<int64_t>(mine.size()));
    return {mine.begin(), mine.end()};
  }
  std::string broadcast(const std::string& text, int) override { return text; }
  std::unique_ptr<Communicator> split(int) override { return std::make_unique<SingleProcess>(); }
  [[noreturn]] void abort(const std::string& message) override;
};

}  // namespace cembed
