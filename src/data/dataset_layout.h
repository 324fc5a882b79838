// The byte layout of a .cds file (see cembed/dataset.h), shared by its reader
// (dataset_file.cpp) and its writer (dataset_writer.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include "cembed/dataset.h"

namespace cembed {

inline constexpr char kDatasetMagic[] = "CEMBDSET";
inline constexpr char kDatasetEndMagic[] = "CEMBDEND";
inline constexpr uint32_t kDatasetVersion = 1;

// Where each section starts; every section starts at a multiple of 64 bytes.
struct DatasetLayout {
  uint64_t labels = 0, dense = 0;
  std::vector<uint64_t> offsets, ids;  // per feature (offsets 0 for one-hot)
  uint64_t end = 0;                    // where the trailer starts
};

// The layout of `rows` rows of `schema` with nnz[f] ids of feature f, its data from
// `data_start` (the end of the header) on.
DatasetLayout dataset_layout(uint64_t data_start, int64_t rows, const DatasetSchema& schema,
                             const std::vector<uint64_t>& nnz);

}  // namespace cembed
