// format_audit_table: the aligned terminal view of an audit report.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "report_fields.h"
#include "rootopt/audit.h"

namespace rootopt {
namespace {

using Line = std::vector<std::string>;

std::string aligned(const std::vector<Line>& lines) {
  // A line's last cell is not padded, so it does not widen its column (a weight that was not
  // audited says why in the flags column without pushing the recipe column to the right).
  std::vector<size_t> width;
  for (const Line& line : lines)
    for (size_t c = 0; c + 1 < line.size(); ++c) {
      if (width.size() <= c) width.push_back(0);
      width[c] = std::max(width[c], line[c].size());
    }
  std::string out;
  for (const Line& line : lines) {
    std::string text;
    for (size_t c = 0; c < line.size(); ++c)
      text += c + 1 < line.size() ? fmt::format("{:<{}}  ", line[c], width[c]) : line[c];
    text.erase(text.find_last_not_of(' ') + 1);
    out += text + "\n";
  }
  return out;
}

std::string sci(double x) { return fmt::format("{:.2e}", x); }

constexpr const char* kNotApplicable = "n/a";

}  // namespace

std::string format_audit_table(const AuditReport& report) {
  std::string precision = "matrix";
  for (const auto& [key, value] : report.provenance)
    if (key == "precision") precision = value;
  std::vector<Line> lines{{"layer", "shape", "key", "n", "schedule", "cost", "spectral rms",
                           "max dev", "p(s) range", "envelope", precision + " rms", "exact", "on",
                           "flags", "recipe"}};
  std::set<std::string> proxies, without_spectral;
  for (const AuditRow& row : report.rows) {
    const ModelWeight& w = row.weight;
    Line head{w.pattern, to_string(w.shape), to_string(w.key()), std::to_string(w.count)};
    if (!row.audited) {
      head.insert(head.end(), {"-", "", "", "", "", "", "", "", "", "(" + row.source + ")"});
      lines.push_back(head);
      continue;
    }
    for (size_t j = 0; j < row.results.size(); ++j) {
      const ScheduleAudit& r = row.results[j];
      Line line = j == 0 ? head : Line{"", "", "", ""};
      std::string flags;
      for (const std::string& f : r.flags) flags += (flags.empty() ? "" : ",") + f;
      if (r.fallback && r.schedule == "table") flags += " (" + r.origin + ")";
      std::string on = to_string(r.matrix.shape);
      if (r.matrix.proxy) {
        on += "*";
        proxies.insert(to_string(r.matrix.shape) + " for " + to_string(w.key()));
      }
      const SpectralAudit& sp = r.spectral;
      line.insert(
          line.end(),
          {r.schedule, fmt::format("{:.2f}", r.cost), sp.applicable ? sci(sp.rms) : kNotApplicable,
           sp.applicable ? sci(sp.max_dev) : kNotApplicable,
           sp.applicable ? fmt::format("[{:.3f}, {:.3f}]", sp.min_value, sp.max_value)
                         : kNotApplicable,
           fmt::format("{:.3f}", sp.envelope_max), sci(r.matrix.rms), sci(r.matrix.exact_rms), on,
           flags, r.recipe});
      if (!sp.applicable) without_spectral.insert(r.schedule);
      lines.push_back(line);
    }
  }
  std::string out = aligned(lines);
  out += std::string("cost: ") + audit::kCostDefinition + ".\n";
  out += fmt::format(
      "spectral: exact composed map on sampled spectra normalized as the recipe says (mean RMS "
      "of p(s)-1, max |p(s)-1|, range); envelope: max of p on [0,1], unsafe above {}.\n",
      report.envelope_bound);
  out += fmt::format(
      "{} rms: the recipe in {} vs fp64 SVD polar factor, mean over matrices; exact: the same "
      "matrices' spectra through the exact map (the gap is rounding).\n",
      precision, precision);
  for (const std::string& name : without_spectral)
    out += name +
           ": no spectral model (AOL changes the singular vectors): spectral n/a; exact is the "
           "recipe in fp64 against the original matrix's polar factor.\n";
  for (const std::string& p : proxies)
    out += "* proxy " + p + " (same aspect ratio; full size too slow for the matrix level)\n";
  return out;
}

}  // namespace rootopt
