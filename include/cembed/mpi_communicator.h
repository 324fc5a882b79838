// The MPI communicator (built when CMake finds MPI: target cembed_mpi, CEMBED_HAS_MPI).
//
// launched_by_mpi() says whether this process was started by mpirun / mpiexec (OpenMPI,
// MPICH, PMIx) or srun; MpiCommunicator initialises MPI on construction (MPI_Init_thread,
// funneled) and finalises it on destruction. One per process; split() gives groups of its ranks
// (MpiCommunicators over MPI_Comm_split's communicators), to be destroyed before it.
#pragma once

#include <memory>

#include "cembed/communicator.h"

namespace cembed {

bool launched_by_mpi();

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(int* argc, char*** argv);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(std::span<float> values) override;
  void allreduce_sum(std::span<double> values) override;
  void allreduce_sum(std::span<int64_t> values) override;
  std::vector<std::byte> allgather(std::span<const std::byte> mine, std::vector<int64_t>& counts) override;
  std::string broadcast(const std::string& text, int root) override;
  std::unique_ptr<Communicator> split(int color) override;
  [[noreturn]] void abort(const std::string& message) override;

 private:
  struct Comm;  // the MPI_Comm (mpi.h stays out of this header)
  explicit MpiCommunicator(std::unique_ptr<Comm> comm);
  std::unique_ptr<Comm> comm_;
  bool world_ = false;  // MPI_COMM_WORLD: MPI initialised by this object
  int rank_ = 0, size_ = 1;
};

}  // namespace cembed
