// Same seed -> the same report, whatever the thread count; another seed -> other samples.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "audit_test_support.h"
#include "rootopt/audit.h"

namespace rootopt {
namespace {

TEST(AuditDeterminism, SameSeedSameReportAcrossThreadCounts) {
  AuditOptions o = test::small_options("tiny-llama.json");
  o.threads = 1;
  const std::string one = audit_json(run_audit(o));
  o.threads = 2;
  const std::string two = audit_json(run_audit(o));
  EXPECT_EQ(one, two);
  EXPECT_EQ(audit_csv(run_audit(o)), audit_csv(run_audit(o)));
}

TEST(AuditDeterminism, OtherSeedOtherSamples) {
  AuditOptions o = test::small_options("tiny-llama.json");
  const AuditReport a = run_audit(o);
  o.seed += 1;
  const AuditReport b = run_audit(o);
  const ScheduleAudit& ra = a.rows.at(2).results.at(0);
  const ScheduleAudit& rb = b.rows.at(2).results.at(0);
  EXPECT_NE(ra.spectral.rms, rb.spectral.rms);
  EXPECT_NE(ra.matrix.rms, rb.matrix.rms);
  EXPECT_EQ(ra.spectral.envelope_max, rb.spectral.envelope_max) << "a property of the schedule";
}

TEST(AuditDeterminism, ProgressRisesToTheTotal) {
  std::vector<std::pair<int64_t, int64_t>> calls;
  run_audit(test::small_options("tiny-llama.json"),
            [&calls](int64_t done, int64_t total) { calls.emplace_back(done, total); });
  ASSERT_FALSE(calls.empty());
  for (size_t i = 1; i < calls.size(); ++i) {
    EXPECT_GT(calls[i].first, calls[i - 1].first);
    EXPECT_EQ(calls[i].second, calls[0].second);
  }
  EXPECT_EQ(calls.back().first, calls.back().second);
}

TEST(AuditDeterminism, ShapeSeedsDifferPerShapeAndSeed) {
  EXPECT_NE(audit_shape_seed(0, {64, 64}), audit_shape_seed(0, {64, 128}));
  EXPECT_NE(audit_shape_seed(0, {64, 128}), audit_shape_seed(1, {64, 128}));
  EXPECT_EQ(audit_shape_seed(5, {32, 64}), audit_shape_seed(5, {32, 64}));
}

}  // namespace
}  // namespace rootopt
