// Output folders written whole or not at all (a prepared dataset folder).
//
// A StagedFolder for <parent>/<name>:
//  - locks <parent>/.<name>.lock (flock; the file stays): a second writer of the same
//    folder is refused at once, naming the folder, before any long work;
//  - removes what a killed earlier writer left (<parent>/.<name>.staging.*);
//  - refuses an existing <name> that holds anything `replaceable` does not accept (so a
//    folder with other files, such as the current folder, is never replaced);
//  - creates the empty folder <parent>/.<name>.staging.<pid>, where the caller writes.
// commit() fsyncs the staging folder and puts it in place of <name> in one step (renameat2
// RENAME_EXCHANGE when <name> exists, else rename), removes the folder it replaced and
// fsyncs <parent>. Destroyed without commit() (an error, an exception), the staging folder
// is removed and <name> is as it was. A kill leaves <name> as it was or whole and new.
#pragma once

#include <functional>
#include <string>

namespace cembed {

class StagedFolder {
 public:
  // replaceable(file name): whether a file found in an existing <name> may be replaced.
  StagedFolder(const std::string& folder, const std::function<bool(const std::string&)>& replaceable,
               const std::string& what);
  ~StagedFolder();
  StagedFolder(const StagedFolder&) = delete;
  StagedFolder& operator=(const StagedFolder&) = delete;

  const std::string& path() const { return staging_; }  // write here
  const std::string& target() const { return shown_; }  // where it goes, as given
  void commit();
  // `message` with the staging folder's path replaced by the folder's (for errors).
  std::string as_target(std::string message) const;

 private:
  std::string shown_;   // the folder as given
  std::string target_;  // its absolute path, symbolic links resolved
  std::string staging_, lock_path_;
  int lock_fd_ = -1;
  bool committed_ = false;
};

}  // namespace cembed
