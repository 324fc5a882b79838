// vocabulary.bin, the file `cembed prepare` writes beside the datasets (and reads back with
// --vocabulary): per feature its name, cardinality and (value key, id) pairs, in a framed,
// checksummed file (file_format.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cembed/dataset.h"
#include "data/formats/flat_map.h"

namespace cembed {

// Writes the features `names` with their cardinalities from `schema` and value -> id maps.
void save_vocabulary(const std::string& path, const std::vector<std::string>& names,
                     const std::vector<FlatMap<Id>>& vocab, const DatasetSchema& schema);

// Reads a vocabulary of exactly the features `names` (in order), checking every id against
// its feature's cardinality; fills vocab and cardinality per feature.
void load_vocabulary(const std::string& path, const std::vector<std::string>& names, std::vector<FlatMap<Id>>& vocab,
                     std::vector<int64_t>& cardinality);

// load_vocabulary's two steps: the file's checked payload, and its parsing (`context` names
// the source in errors; exported models carry the payload, inference.h).
std::string read_vocabulary_payload(const std::string& path);
void parse_vocabulary(std::string_view payload, const std::string& context, const std::vector<std::string>& names,
                      std::vector<FlatMap<Id>>& vocab, std::vector<int64_t>& cardinality);

}  // namespace cembed
