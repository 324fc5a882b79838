// Writes numpy .npy files (format 1.0, little-endian, C order): used to hand weights and
// batches to the Python references.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cembed {

void write_npy(const std::string& path, const std::vector<float>& data, const std::vector<int64_t>& shape);
void write_npy(const std::string& path, const std::vector<double>& data, const std::vector<int64_t>& shape);
void write_npy(const std::string& path, const std::vector<int64_t>& data, const std::vector<int64_t>& shape);

class Dlrm;
// bottom_w{l}.npy, bottom_b{l}.npy, top_w{l}.npy, top_b{l}.npy and table{t}.npy (the first
// parameter block of each table, rows x dim) into `dir`.
void export_dlrm_parameters(Dlrm& model, const std::string& dir);

}  // namespace cembed
