// prepare_dataset: the prepared folder written whole or not at all (see prepare.h).
#include <string>

#include "cembed/errors.h"
#include "cembed/output_dir.h"
#include "cembed/prepare.h"

namespace cembed {
namespace {

// What a prepare writes (and what an earlier one may have left): an existing folder holding
// anything else is not replaced.
bool prepare_output(const std::string& name) {
  auto ends = [&](std::string_view tail) { return name.size() > tail.size() && name.ends_with(tail); };
  return name == "prepare.json" || ends(".cds") || ends(".sig") || ends(".bin") ||
         name.find(".tmp.") != std::string::npos || name.find(".spill.") != std::string::npos;
}

}  // namespace

nlohmann::json prepare_dataset(const PrepareConfig& c, const std::function<void(const std::string& folder)>& also_write) {
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
