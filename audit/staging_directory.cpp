#include "staging_directory.h"

#include <unistd.h>

#include <algorithm>

#include "check.h"

namespace rootopt::audit {
namespace fs = std::filesystem;
namespace {

fs::path absolute_directory(const std::string& target) {
  ROOTOPT_CHECK(!target.empty(), "the output directory name is empty");
  std::error_code ec;
  fs::path absolute = fs::absolute(target, ec);
  ROOTOPT_CHECK(!ec, "output directory ", target, ": ", ec.message());
  return absolute;
}

}  // namespace

StagingDirectory::StagingDirectory(const std::string& target)
    : target_(absolute_directory(target)) {
  if (!target_.has_filename()) target_ = target_.parent_path();  // "out/" -> "out"
  std::error_code ec;
  ROOTOPT_CHECK(!fs::exists(target_, ec) || fs::is_directory(target_, ec), "output path ",
                target_.string(), " exists and is not a directory");
  // Files are moved in one by one at commit; make sure that cannot fail half-way.
  ROOTOPT_CHECK(!fs::exists(target_, ec) || access(target_.c_str(), W_OK | X_OK) == 0,
                "output directory ", target_.string(), " is not writable");
  const fs::path parent = target_.parent_path();
  for (fs::path p = parent; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
    created_ = p;
    if (p == p.parent_path()) break;
  }
  fs::create_directories(parent, ec);
  ROOTOPT_CHECK(!ec, "cannot create output directory ", parent.string(), ": ", ec.message());
  staging_ = parent / ("." + target_.filename().string() + ".tmp." + std::to_string(getpid()));
  fs::remove_all(staging_, ec);
  const bool made = fs::create_directory(staging_, ec);
  if (!made || ec) {
    const std::string reason = ec ? ec.message() : "already exists";
    if (!created_.empty()) fs::remove_all(created_, ec);
    ROOTOPT_FAIL("cannot write output directory ", target_.string(), " (creating ",
                 staging_.string(), ": ", reason, ")");
  }
}

StagingDirectory::~StagingDirectory() {
  std::error_code ec;
  fs::remove_all(staging_, ec);
  if (!committed_ && !created_.empty()) fs::remove_all(created_, ec);
}

void StagingDirectory::commit(const std::vector<std::string>& stale) {
  std::error_code ec;
  if (!fs::exists(target_, ec)) {
    fs::rename(staging_, target_, ec);  // one atomic step
    ROOTOPT_CHECK(!ec, "cannot move ", staging_.string(), " to ", target_.string(), ": ",
                  ec.message());
    committed_ = true;
    return;
  }
  std::vector<fs::path> files;
  for (fs::directory_iterator it(staging_, ec), end; !ec && it != end; it.increment(ec))
    files.push_back(it->path());
  ROOTOPT_CHECK(!ec, "cannot list ", staging_.string(), ": ", ec.message());
  for (const fs::path& file : files) {
    fs::rename(file, target_ / file.filename(), ec);
    ROOTOPT_CHECK(!ec, "cannot move ", file.string(), " into ", target_.string(), ": ",
                  ec.message());
  }
  for (const std::string& name : stale) {
    const auto produced = [&name](const fs::path& f) { return f.filename() == name; };
    if (std::none_of(files.begin(), files.end(), produced)) fs::remove(target_ / name, ec);
  }
  committed_ = true;
}

}  // namespace rootopt::audit
