// audit_json: every number of the report with its provenance (nlohmann-json, ordered keys).
#include <nlohmann/json.hpp>

#include "report_fields.h"
#include "rootopt/audit.h"

namespace rootopt {
namespace {

using Json = nlohmann::ordered_json;

Json shape_json(Shape s) { return Json::array({s.rows, s.cols}); }
// Not applicable (a recipe without a spectral model): null, never a number.
Json number_if(bool applicable, double x) { return applicable ? Json(x) : Json(nullptr); }

Json result_json(const ScheduleAudit& r) {
  const SpectralAudit& s = r.spectral;
  const MatrixAudit& m = r.matrix;
  return Json{{"schedule", r.schedule},
              {"recipe", r.recipe},
              {"cost", r.cost},
              {"origin", r.origin},
              {"fallback", r.fallback},
              {"unsafe", r.unsafe},
              {"flags", r.flags},
              {"spectral",
               {{"applicable", s.applicable},
                {"spectra", s.spectra},
                {"rms", number_if(s.applicable, s.rms)},
                {"max_dev", number_if(s.applicable, s.max_dev)},
                {"min", number_if(s.applicable, s.min_value)},
                {"max", number_if(s.applicable, s.max_value)},
                {"envelope_max", s.envelope_max},
                {"envelope_min", s.envelope_min},
                {"step_min", s.step_min}}},
              {"matrix",
               {{"shape", shape_json(m.shape)},
                {"proxy", m.proxy},
                {"matrices", m.matrices},
                {"rms", m.rms},
                {"max_dev", m.max_dev},
                {"min_sv", m.min_sv},
                {"max_sv", m.max_sv},
                {"exact_rms", m.exact_rms},
                {"exact_source", audit::exact_source(m)}}}};
}

}  // namespace

std::string audit_json(const AuditReport& report) {
  Json provenance = Json::object();
  for (const auto& [key, value] : report.provenance) provenance[key] = value;
  Json rows = Json::array();
  for (const AuditRow& row : report.rows) {
    Json results = Json::array();
    for (const ScheduleAudit& r : row.results) results.push_back(result_json(r));
    rows.push_back({{"pattern", row.weight.pattern},
                    {"shape", shape_json(row.weight.shape)},
                    {"key", shape_json(row.weight.key())},
                    {"count", row.weight.count},
                    {"adamw", row.weight.adamw},
                    {"audited", row.audited},
                    {"source", row.source},
                    {"results", results}});
  }
  const Json out{{"format", "rootopt.audit"},     {"format_version", 2},
                 {"provenance", provenance},      {"envelope_bound", report.envelope_bound},
                 {"schedules", report.schedules}, {"rows", rows}};
  // Names and paths come from the user's files and need not be UTF-8 (Linux file names are bytes):
  // invalid bytes become U+FFFD rather than failing the audit at its last step.
  return out.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace rootopt
