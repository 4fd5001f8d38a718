// An output directory written all-or-nothing: files go into a temporary directory next to the
// target (same file system), and only commit() moves them in. Until then, and whenever anything
// fails, the target is untouched and every directory this object created is removed again.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace rootopt::audit {

class StagingDirectory {
 public:
  // Creates missing parents and the temporary directory; throws rootopt::Error naming the
  // directory when it cannot be created or `target` exists and is not a directory.
  explicit StagingDirectory(const std::string& target);
  ~StagingDirectory();  // removes what was created unless committed
  StagingDirectory(const StagingDirectory&) = delete;
  StagingDirectory& operator=(const StagingDirectory&) = delete;

  std::filesystem::path path(const std::string& file) const { return staging_ / file; }
  // Moves every staged file into the target (created when missing), replacing files of the
  // same name; `stale` names are removed from the target when this run did not produce them.
  void commit(const std::vector<std::string>& stale = {});

 private:
  std::filesystem::path target_;
  std::filesystem::path staging_;
  std::filesystem::path created_;  // outermost parent directory this object created, if any
  bool committed_ = false;
};

}  // namespace rootopt::audit
