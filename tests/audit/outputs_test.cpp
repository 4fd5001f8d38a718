// audit.csv / audit.json hold every row and number; the output directory is written all or
// nothing; the SHA-256 in the provenance is the real one.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "audit_test_support.h"
#include "rootopt/audit.h"
#include "rootopt/error.h"
#include "sha256.h"
#include "staging_directory.h"

namespace rootopt {
namespace {
namespace fs = std::filesystem;

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"')
        field += '"', ++i;
      else if (c == '"')
        quoted = false;
      else
        field += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(field), field.clear();
    } else if (c == '\n') {
      row.push_back(field), field.clear();
      rows.push_back(row), row.clear();
    } else {
      field += c;
    }
  }
  return rows;
}

bool plotting_available() {
  return std::system("/usr/bin/python3 -c 'import matplotlib' >/dev/null 2>&1") == 0;
}

TEST(AuditOutputs, CsvAndJsonHoldEveryRowAndNumber) {
  test::ScratchDir dir;
  AuditOptions o = test::small_options("tiny-llama.json");
  const AuditReport report = run_audit(o);
  std::vector<std::string> warnings;
  write_audit_outputs(report, {(dir / "out").string(), true},
                      [&](const std::string& w) { warnings.push_back(w); });

  const auto csv = parse_csv(read(dir / "out" / "audit.csv"));
  ASSERT_GE(csv.size(), 2u);
  const std::vector<std::string>& header = csv[0];
  size_t expected_lines = 1;
  for (const AuditRow& row : report.rows) expected_lines += std::max<size_t>(1, row.results.size());
  EXPECT_EQ(csv.size(), expected_lines);
  const auto column = [&header](const std::string& name) {
    return size_t(std::find(header.begin(), header.end(), name) - header.begin());
  };
  size_t line = 1, audited_lines = 0, not_applicable = 0;
  for (const AuditRow& row : report.rows) {
    for (size_t j = 0; j < std::max<size_t>(1, row.results.size()); ++j, ++line) {
      ASSERT_EQ(csv[line].size(), header.size()) << "line " << line;
      EXPECT_EQ(csv[line][column("pattern")], row.weight.pattern);
      if (row.results.empty()) continue;
      const ScheduleAudit& r = row.results[j];
      EXPECT_EQ(csv[line][column("schedule")], r.schedule);
      EXPECT_EQ(csv[line][column("recipe")], r.recipe);
      // Numbers are written in shortest round-trip form: they read back exactly.
      EXPECT_EQ(std::stod(csv[line][column("cost")]), r.cost);
      EXPECT_EQ(std::stod(csv[line][column("matrix_rms")]), r.matrix.rms);
      EXPECT_EQ(std::stod(csv[line][column("matrix_exact_rms")]), r.matrix.exact_rms);
      EXPECT_EQ(std::stod(csv[line][column("envelope_max")]), r.spectral.envelope_max);
      EXPECT_EQ(csv[line][column("spectral_applicable")], r.spectral.applicable ? "1" : "0");
      if (r.spectral.applicable) {
        EXPECT_EQ(std::stod(csv[line][column("spectral_rms")]), r.spectral.rms);
        EXPECT_EQ(csv[line][column("matrix_exact_source")], "spectral map");
      } else {  // turbo-muon: not applicable is an empty field, never a number
        ++not_applicable;
        for (const char* name :
             {"spectra", "spectral_rms", "spectral_max_dev", "spectral_min", "spectral_max"})
          EXPECT_EQ(csv[line][column(name)], "") << name;
        EXPECT_EQ(csv[line][column("matrix_exact_source")], "fp64 iteration");
      }
      ++audited_lines;
    }
  }
  EXPECT_EQ(audited_lines, 7u * 6u);
  EXPECT_EQ(not_applicable, 7u);

  const nlohmann::json json = nlohmann::json::parse(read(dir / "out" / "audit.json"));
  EXPECT_EQ(json["format"], "rootopt.audit");
  EXPECT_EQ(json["format_version"], 2);
  ASSERT_EQ(json["rows"].size(), report.rows.size());
  for (size_t i = 0; i < report.rows.size(); ++i) {
    const nlohmann::json& row = json["rows"][i];
    EXPECT_EQ(row["pattern"], report.rows[i].weight.pattern);
    ASSERT_EQ(row["results"].size(), report.rows[i].results.size());
    for (size_t j = 0; j < report.rows[i].results.size(); ++j) {
      const ScheduleAudit& r = report.rows[i].results[j];
      const nlohmann::json& result = row["results"][j];
      EXPECT_EQ(result["recipe"], r.recipe);
      EXPECT_EQ(result["cost"].get<double>(), r.cost);
      EXPECT_EQ(result["spectral"]["applicable"], r.spectral.applicable);
      if (r.spectral.applicable)
        EXPECT_EQ(result["spectral"]["rms"].get<double>(), r.spectral.rms);
      else
        EXPECT_TRUE(result["spectral"]["rms"].is_null() && result["spectral"]["max"].is_null());
      EXPECT_EQ(result["spectral"]["envelope_max"].get<double>(), r.spectral.envelope_max);
      EXPECT_EQ(result["matrix"]["max_sv"].get<double>(), r.matrix.max_sv);
      EXPECT_GT(r.matrix.max_sv, 0.5);
    }
  }
  const nlohmann::json& prov = json["provenance"];
  EXPECT_EQ(prov["seed"], std::to_string(o.seed));
  EXPECT_EQ(prov["samples"], std::to_string(o.samples));
  EXPECT_EQ(prov["precision"], "bf16");
  EXPECT_EQ(prov["model_sha256"], audit::sha256_file(o.model_path));
  EXPECT_EQ(prov["model_sha256"].get<std::string>().size(), 64u);
  EXPECT_NE(prov["cost"].get<std::string>().find("gpu"), std::string::npos);

  if (plotting_available()) {
    EXPECT_TRUE(warnings.empty()) << warnings.front();
    EXPECT_NE(read(dir / "out" / "audit.svg").find("<svg"), std::string::npos);
    EXPECT_NE(read(dir / "out" / "audit-cost.svg").find("<svg"), std::string::npos);
  } else {
    EXPECT_FALSE(warnings.empty()) << "a skipped plot must say so";
  }
  EXPECT_EQ(test::entries(dir.path()), std::vector<std::string>{"out"}) << "no temporary left";
}

TEST(AuditOutputs, Sha256MatchesTheStandardTestVector) {
  test::ScratchDir dir;
  std::ofstream(dir / "abc") << "abc";
  // FIPS 180-2, appendix B.1.
  EXPECT_EQ(audit::sha256_file((dir / "abc").string()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_THROW(audit::sha256_file((dir / "absent").string()), Error);
}

TEST(AuditOutputs, RewritingReplacesFilesAndDropsAStalePlot) {
  test::ScratchDir dir;
  const AuditReport report = run_audit(test::small_options("tiny-llama.json"));
  fs::create_directories(dir / "out");
  std::ofstream(dir / "out" / "audit.svg") << "old";
  std::ofstream(dir / "out" / "audit-cost.svg") << "old";
  std::ofstream(dir / "out" / "keep.txt") << "user file";
  write_audit_outputs(report, {(dir / "out").string(), false}, [](const std::string&) {});
  EXPECT_EQ(test::entries(dir / "out"),
            (std::vector<std::string>{"audit.csv", "audit.json", "keep.txt"}));
  EXPECT_EQ(test::entries(dir.path()), std::vector<std::string>{"out"});
}

TEST(AuditOutputs, MissingPythonSkipsThePlotWithAWarning) {
  test::ScratchDir dir;
  const AuditReport report = run_audit(test::small_options("tiny-llama.json"));
  std::vector<std::string> warnings;
  setenv("ROOTOPT_PYTHON", "/nonexistent/python3", 1);
  const std::vector<std::string> files = write_audit_outputs(
      report, {(dir / "out").string(), true}, [&](const std::string& w) { warnings.push_back(w); });
  unsetenv("ROOTOPT_PYTHON");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("/nonexistent/python3"), std::string::npos) << warnings[0];
  EXPECT_EQ(files.size(), 2u);
  EXPECT_EQ(test::entries(dir / "out"), (std::vector<std::string>{"audit.csv", "audit.json"}));
}

TEST(AuditOutputs, FailureLeavesNothingBehind) {
  test::ScratchDir dir;
  {
    audit::StagingDirectory staging((dir / "a" / "b" / "out").string());
    std::ofstream(staging.path("audit.csv")) << "partial";
    EXPECT_EQ(test::entries(dir.path()), std::vector<std::string>{"a"});
  }  // destroyed without commit, as when an exception unwinds
  EXPECT_TRUE(test::entries(dir.path()).empty());

  std::ofstream(dir / "file") << "x";
  const AuditReport report = run_audit(test::small_options("tiny-llama.json"));
  EXPECT_THROW(write_audit_outputs(report, {(dir / "file").string(), false}, {}), Error);
  EXPECT_THROW(check_audit_output_directory((dir / "file" / "sub").string()), Error);
  EXPECT_THROW(check_audit_output_directory((dir / "file").string()), Error);
  EXPECT_EQ(test::entries(dir.path()), std::vector<std::string>{"file"});
  check_audit_output_directory((dir / "new" / "out").string());
  EXPECT_EQ(test::entries(dir.path()), std::vector<std::string>{"file"}) << "the probe is removed";
}

TEST(AuditOutputs, BadOptionsFailBeforeAnything) {
  AuditOptions o = test::small_options("tiny-llama.json");
  o.schedules = {"muon", "nonsense"};
  try {
    run_audit(o);
    FAIL() << "unknown schedule accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nonsense"), std::string::npos);
  }
  o = test::small_options("tiny-llama.json");
  o.matrix_samples = 0;
  EXPECT_THROW(run_audit(o), Error);
  o.matrix_samples = o.samples + 5;  // capped: matrices use the first spectra
  EXPECT_EQ(run_audit(o).rows.at(2).results.at(0).matrix.matrices, o.samples);
  o = test::small_options("tiny-llama.json");
  o.envelope_bound = 0.5;
  EXPECT_THROW(run_audit(o), Error);
  o = test::small_options("absent.json");
  EXPECT_THROW(run_audit(o), Error);
}

}  // namespace
}  // namespace rootopt
