// prepare_dataset: the prepared folder written whole or not at all (see prepare.h).
#include <nlohmann/json.hpp>
#include <string>

#include "cembed/prepare.h"
#include "util/check.h"
#include "util/output_dir.h"

namespace cembed {
namespace {

// What a prepare writes (and what an earlier one may have left: its temporaries): an
// existing folder holding anything else is not replaced.
bool prepare_output(const std::string& name) {
  static const char* const kFiles[] = {"prepare.json",      "vocabulary.bin",    "train.cds",       "valid.cds",
                                       "test.cds",          "train.rows.sig",    "valid.rows.sig",  "test.rows.sig",
                                       "train.context.sig", "valid.context.sig", "test.context.sig"};
  for (const char* file : kFiles) {
    const std::string_view f(file);
    if (name == f) return true;
    if (name.starts_with(f) &&
        (name.find(".tmp.", f.size()) == f.size() || name.find(".spill.", f.size()) == f.size())) {
      return true;
    }
  }
  return false;
}

}  // namespace

nlohmann::json prepare_dataset(const PrepareConfig& c,
                               const std::function<void(const std::string& folder)>& also_write) {
  StagedFolder folder(c.out_dir, prepare_output, "prepare");
  PrepareConfig staged = c;
  staged.out_dir = folder.path();
  nlohmann::json stats;
  try {
    stats = write_prepared_files(staged);
    if (also_write) also_write(folder.path());
  } catch (const Error& e) {
    throw Error(folder.as_target(e.what()));  // name out_dir, not the staging folder
  }
  folder.commit();
  return stats;
}

}  // namespace cembed
