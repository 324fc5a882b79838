// Checks, before long work starts, that its outputs can be written at the end: a typo in a
// folder name must not cost a whole run.
#pragma once

#include <string>
#include <string_view>

namespace cembed {

// `path` will be written (atomically, beside itself): its folder must exist, be a folder and
// take a new file (a probe file is created there and removed), and `path` must not be a
// folder. `what` names the setting in the message, e.g. "--checkpoint". Empty path: nothing.
void check_file_writable(const std::string& path, std::string_view what);

// `dir` will be created (with its parents) and filled: it must be a folder or not exist yet,
// and its nearest existing ancestor must be a folder that takes a new entry (probed).
void check_dir_writable(const std::string& dir, std::string_view what);

}  // namespace cembed
