// audit_csv: one line per (weight, schedule); weights not audited get one line with no numbers.
#include <fmt/format.h>

#include "report_fields.h"
#include "rootopt/audit.h"

namespace rootopt {
namespace {

std::string field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string number(double x) { return fmt::format("{}", x); }
// Not applicable (a recipe without a spectral model): an empty field, never a number.
std::string number_if(bool applicable, double x) { return applicable ? number(x) : ""; }

}  // namespace

std::string audit_csv(const AuditReport& report) {
  std::string out =
      "pattern,rows,cols,key_rows,key_cols,count,adamw,audited,source,schedule,origin,fallback,"
      "unsafe,flags,spectra,spectral_rms,spectral_max_dev,spectral_min,spectral_max,"
      "envelope_max,envelope_min,step_min,envelope_bound,matrix_rows,matrix_cols,matrix_proxy,"
      "matrices,matrix_rms,matrix_max_dev,matrix_min_sv,matrix_max_sv,matrix_exact_rms,recipe,"
      "cost,spectral_applicable,matrix_exact_source\n";
  for (const AuditRow& row : report.rows) {
    const ModelWeight& w = row.weight;
    const std::string head = fmt::format(
        FMT_STRING("{},{},{},{},{},{},{},{},{}"), field(w.pattern), w.shape.rows, w.shape.cols,
        w.key().rows, w.key().cols, w.count, int(w.adamw), int(row.audited), field(row.source));
    if (row.results.empty()) out += head + std::string(27, ',') + "\n";
    for (const ScheduleAudit& r : row.results) {
      std::string flags;
      for (const std::string& f : r.flags) flags += (flags.empty() ? "" : ";") + f;
      const SpectralAudit& s = r.spectral;
      const MatrixAudit& m = r.matrix;
      out += fmt::format(
          FMT_STRING(
              "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},"
              "{},{}\n"),
          head, field(r.schedule), field(r.origin), int(r.fallback), int(r.unsafe), field(flags),
          s.applicable ? std::to_string(s.spectra) : "", number_if(s.applicable, s.rms),
          number_if(s.applicable, s.max_dev), number_if(s.applicable, s.min_value),
          number_if(s.applicable, s.max_value), number(s.envelope_max), number(s.envelope_min),
          number(s.step_min), number(report.envelope_bound), m.shape.rows, m.shape.cols,
          int(m.proxy), m.matrices, number(m.rms), number(m.max_dev), number(m.min_sv),
          number(m.max_sv), number(m.exact_rms), field(r.recipe), number(r.cost), int(s.applicable),
          audit::exact_source(m));
    }
  }
  return out;
}

}  // namespace rootopt
