// MpiCommunicator: the collectives of communicator.h over MPI_COMM_WORLD or a group of it.
#include "cembed/mpi_communicator.h"

#include <fmt/format.h>
#include <mpi.h>

#include <climits>
#include <cstdlib>

#include "util/check.h"

namespace cembed {
namespace {

void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  fail("MPI: {} failed: {}", what, std::string(text, len));
}

int as_count(size_t n, const char* what) {
  CEMBED_CHECK(n <= static_cast<size_t>(INT_MAX), "MPI: {} of {} elements is over MPI's int count limit", what, n);
  return static_cast<int>(n);
}

}  // namespace

struct MpiCommunicator::Comm {
  MPI_Comm comm = MPI_COMM_WORLD;
};

bool launched_by_mpi() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"}) {
    if (std::getenv(var) != nullptr) return true;
  }
  // srun without an MPI launcher's variables: SLURM_STEP_NUM_TASKS > 1 with a PMI plugin.
  const char* tasks = std::getenv("SLURM_STEP_NUM_TASKS");
  return tasks != nullptr && std::atoi(tasks) > 1;
}

MpiCommunicator::MpiCommunicator(int* argc, char*** argv) : comm_(std::make_unique<Comm>()), world_(true) {
  int provided = 0;
  check_mpi(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  // Errors come back as codes (check_mpi turns them into cembed::Error, and the caller aborts
  // the job), not as MPI's own abort without a message.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

MpiCommunicator::MpiCommunicator(std::unique_ptr<Comm> comm) : comm_(std::move(comm)) {
  MPI_Comm_rank(comm_->comm, &rank_);
  MPI_Comm_size(comm_->comm, &size_);
  MPI_Comm_set_errhandler(comm_->comm, MPI_ERRORS_RETURN);
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (!world_) {
    MPI_Comm_free(&comm_->comm);
  } else {
    MPI_Finalize();
  }
}

std::unique_ptr<Communicator> MpiCommunicator::split(int color) {
  CEMBED_CHECK(color >= 0, "MPI: a group's color must be >= 0, got {}", color);
  auto group = std::make_unique<Comm>();
  check_mpi(MPI_Comm_split(comm_->comm, color, rank_, &group->comm), "MPI_Comm_split");
  return std::unique_ptr<Communicator>(new MpiCommunicator(std::move(group)));
}

void MpiCommunicator::allreduce_sum(std::span<float> v) {
  bytes_sent_ += static_cast<int64_t>(v.size_bytes());
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, v.data(), as_count(v.size(), "allreduce"), MPI_FLOAT, MPI_SUM, comm_->comm),
            "MPI_Allreduce");
}

void MpiCommunicator::allreduce_sum(std::span<double> v) {
  bytes_sent_ += static_cast<int64_t>(v.size_bytes());
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, v.data(), as_count(v.size(), "allreduce"), MPI_DOUBLE, MPI_SUM, comm_->comm),
            "MPI_Allreduce");
}

void MpiCommunicator::allreduce_sum(std::span<int64_t> v) {
  bytes_sent_ += static_cast<int64_t>(v.size_bytes());
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, v.data(), as_count(v.size(), "allreduce"), MPI_INT64_T, MPI_SUM, comm_->comm),
            "MPI_Allreduce");
}

std::vector<std::byte> MpiCommunicator::allgather(std::span<const std::byte> mine, std::vector<int64_t>& counts) {
  bytes_sent_ += static_cast<int64_t>(mine.size());
  int my_count = as_count(mine.size(), "allgather");
  std::vector<int> sizes(size_), displs(size_);
  check_mpi(MPI_Allgather(&my_count, 1, MPI_INT, sizes.data(), 1, MPI_INT, comm_->comm), "MPI_Allgather");
  size_t total = 0;
  for (int r = 0; r < size_; ++r) {
    displs[r] = as_count(total, "allgather");
    total += static_cast<size_t>(sizes[r]);
  }
  as_count(total, "allgather");
  std::vector<std::byte> out(total);
  check_mpi(
      MPI_Allgatherv(mine.data(), my_count, MPI_BYTE, out.data(), sizes.data(), displs.data(), MPI_BYTE, comm_->comm),
      "MPI_Allgatherv");
  counts.assign(sizes.begin(), sizes.end());
  return out;
}

std::string MpiCommunicator::broadcast(const std::string& text, int root) {
  int64_t n = rank_ == root ? static_cast<int64_t>(text.size()) : 0;
  check_mpi(MPI_Bcast(&n, 1, MPI_INT64_T, root, comm_->comm), "MPI_Bcast");
  std::string out = rank_ == root ? text : std::string(static_cast<size_t>(n), '\0');
  if (rank_ == root) bytes_sent_ += n;
  check_mpi(MPI_Bcast(out.data(), as_count(out.size(), "broadcast"), MPI_CHAR, root, comm_->comm), "MPI_Bcast");
  return out;
}

void MpiCommunicator::abort(const std::string& message) {
  // Named by its rank in the whole job (a group's rank would be ambiguous).
  int rank = rank_, size = size_;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  fmt::print(stderr, "cembed: rank {} of {}: {}\n", rank, size, message);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();
}

}  // namespace cembed
