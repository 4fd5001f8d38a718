#include "shipped_files.h"

#include <dlfcn.h>
#include <link.h>

#include <filesystem>

namespace rootopt::detail {
namespace {

namespace fs = std::filesystem;

// The file of the executable or shared object this function was linked into.
fs::path object_holding_this_code() {
  Dl_info info{};
  link_map* map = nullptr;
  if (dladdr1(reinterpret_cast<void*>(&object_holding_this_code), &info,
              reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) == 0 ||
      map == nullptr)
    return {};
  // The main program's link map has an empty name; its file is /proc/self/exe.
  if (map->l_name == nullptr || map->l_name[0] == '\0') return "/proc/self/exe";
  return map->l_name;
}

bool is_under(const fs::path& file, const fs::path& directory) {
  const fs::path relative = file.lexically_relative(directory);
  return !relative.empty() && *relative.begin() != "..";
}

}  // namespace

bool running_from_build_tree() {
  static const bool in_build_tree = [] {
    std::error_code ec;
    const fs::path object = fs::canonical(object_holding_this_code(), ec);
    if (ec) return false;
    const fs::path build = fs::weakly_canonical(ROOTOPT_BINARY_DIR, ec);
    return !ec && is_under(object, build);
  }();
  return in_build_tree;
}

std::string shipped_path(const std::string& in_source, const std::string& installed) {
  const bool build = running_from_build_tree();
  const fs::path root = build ? ROOTOPT_SOURCE_DIR : ROOTOPT_INSTALL_DATA_DIR;
  const std::string& relative = build ? in_source : installed;
  return (relative.empty() ? root : root / relative).string();
}

}  // namespace rootopt::detail
