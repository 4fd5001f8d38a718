// write_audit_outputs and check_audit_output_directory (audit.h): csv, json and plot, staged
// next to the target directory and moved in only when all of them were written.
#include <fstream>

#include "check.h"
#include "plot.h"
#include "rootopt/audit.h"
#include "staging_directory.h"

namespace rootopt {
namespace {

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  ROOTOPT_CHECK(out, "cannot write ", path.string());
}

}  // namespace

void check_audit_output_directory(const std::string& directory) {
  audit::StagingDirectory probe(directory);  // removed again on destruction
}

std::vector<std::string> write_audit_outputs(const AuditReport& report,
                                             const AuditOutputOptions& options,
                                             const std::function<void(const std::string&)>& warn) {
  audit::StagingDirectory staging(options.directory);
  std::vector<std::string> files{"audit.csv", "audit.json"};
  write_text(staging.path("audit.csv"), audit_csv(report));
  write_text(staging.path("audit.json"), audit_json(report));
  const auto say = [&warn](const std::string& text) {
    if (warn) warn(text);
  };
  if (options.plot && audit::plot_audit({options.python, staging.path("audit.json").string(),
                                         staging.path("audit.svg").string()},
                                        say))
    files.push_back("audit.svg");
  staging.commit({"audit.svg"});
  for (std::string& file : files) file = (std::filesystem::path(options.directory) / file).string();
  return files;
}

}  // namespace rootopt
