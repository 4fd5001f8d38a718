#!/usr/bin/python3
"""Draws the plots of a rootopt audit (audit.json, format_version 2).

Usage: plot_audit.py AUDIT.json OUT.svg|OUT.png [COST.svg|COST.png]

OUT: orthogonality error per layer for each schedule. Two panels share the layer axis: the
spectral level (exact composed map on the sampled spectra) and the matrix level (each recipe in
the audit's precision against an fp64 SVD polar factor). Bars are grouped per layer, one colour
per schedule, on a log scale. A hatched bar is a fallback (the schedule has nothing published or
tuned for that shape); a bar with a red edge and a red "!" is unsafe (envelope above the bound, or
a step map going negative); "n/a" marks a schedule without a spectral model (turbo-muon).

COST: the precision-vs-cost view, one panel per layer shape: each schedule is a point, its error
against its cost (GEMM flops relative to Polar Express at that shape). Filled markers are the
matrix level in the audit's precision (every schedule, turbo-muon included); hollow markers the
spectral level on the full shape, where it applies. The dashed lines cross at Polar Express's
matrix-level point: a schedule below and left of it is more precise and cheaper.

Called by `rootopt audit`; exits with status 3 when matplotlib is not installed, so the caller
can skip the plots.
"""
import json
import math
import sys

NO_MATPLOTLIB = 3


def short_label(pattern):
    """model.layers.*.self_attn.q_proj -> self_attn.q_proj (the repeated-layer prefix says little)."""
    parts = pattern.split(".")
    if "*" in parts:
        parts = parts[parts.index("*") + 1:]
    return ".".join(parts)


def schedule_colours(plt, count):
    """tab10 without its red (which marks unsafe schedules) and its grey (which the cost view's
    legend uses for marker kinds); one colour per schedule."""
    colours = [c for i, c in enumerate(plt.get_cmap("tab10").colors) if i not in (3, 7)]
    return [colours[j % len(colours)] for j in range(count)]


def log_axis(ax, ticker):
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%.2g"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.grid(axis="y", which="both", alpha=0.3)


def source_text(prov):
    if prov.get("spectra", "") == "user matrices":
        return "user matrices"
    return f"{prov.get('samples', '?')} sampled spectra/shape"


def save(fig, path):
    """The same audit gives the same file: no date in an SVG, fixed element ids."""
    if path.endswith(".svg"):
        fig.savefig(path, metadata={"Date": None})
    else:
        fig.savefig(path)


def plot_layers(plt, ticker, Patch, audit, rows, path):
    """Error per layer for each schedule: spectral and matrix level, bars on a log scale."""
    schedules = audit["schedules"]
    prov = audit["provenance"]
    precision = prov.get("precision", "?")
    labels = [f"{short_label(r['pattern'])}\n{r['shape'][0]}x{r['shape'][1]} (x{r['count']})"
              for r in rows]
    colours = schedule_colours(plt, len(schedules))
    width = 0.8 / len(schedules)
    fig, axes = plt.subplots(2, 1, sharex=True,
                             figsize=(max(7.0, 1.3 * len(rows) + 2.5), 7.5))
    panels = [("spectral", "spectral RMS error\n(exact map, sampled spectra)"),
              ("matrix", f"matrix RMS error\n({precision} recipe vs fp64 SVD)")]
    for ax, (level, ylabel) in zip(axes, panels):
        for j in range(len(schedules)):
            xs = [i + (j - (len(schedules) - 1) / 2) * width for i in range(len(rows))]
            results = [r["results"][j] for r in rows]
            for x, res in zip(xs, results):
                value = res[level]["rms"]
                if value is None:  # no spectral model (turbo-muon): say so, draw no bar
                    ax.annotate("n/a", (x, 0), xycoords=("data", "axes fraction"), ha="center",
                                va="bottom", rotation=90, fontsize=7, color=colours[j])
                    continue
                bar = ax.bar([x], [max(value, 1e-12)], width, color=colours[j])[0]
                if res["fallback"]:
                    bar.set_hatch("//")
                    bar.set_edgecolor("white")
                if res["unsafe"]:
                    bar.set_edgecolor("red")
                    bar.set_linewidth(2.0)
                    ax.annotate("!", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                                ha="center", va="bottom", color="red", fontweight="bold")
        log_axis(ax, ticker)
        low, high = ax.get_ylim()
        ax.set_ylim(low, high * 1.25)  # room for the "!" marks
        ax.set_ylabel(ylabel)
    proxies = sorted({f"{r['key'][0]}x{r['key'][1]} on {res['matrix']['shape'][0]}x"
                      f"{res['matrix']['shape'][1]}"
                      for r in rows for res in r["results"] if res["matrix"]["proxy"]})
    if proxies:
        axes[1].set_title("proxy matrices (same aspect ratio): " + ", ".join(proxies),
                          fontsize=8, loc="left")
    axes[1].set_xticks(range(len(rows)))
    axes[1].set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    # Plain patches: a legend taken from the bars would copy a fallback's hatch or an unsafe edge.
    handles = [Patch(color=colours[j], label=name) for j, name in enumerate(schedules)]
    axes[0].legend(handles=handles, title="schedule (hatched: fallback, red !: unsafe)", fontsize=8,
                   title_fontsize=8, ncol=min(len(schedules), 4), loc="upper left",
                   bbox_to_anchor=(0, 1.25 + 0.1 * ((len(schedules) - 1) // 4)))
    fig.suptitle(f"rootopt audit: {prov.get('model_name', '?')}  ({source_text(prov)}, "
                 f"seed {prov.get('seed', '?')})", fontsize=11)
    fig.tight_layout()
    save(fig, path)
    plt.close(fig)


def shape_groups(rows):
    """Rows with the same key shape and source share their numbers: one panel each."""
    groups = {}
    for r in rows:
        groups.setdefault((tuple(r["key"]), r["source"]), []).append(r)
    return list(groups.values())


def plot_cost(plt, ticker, Line2D, audit, rows, path):
    """Precision against cost, one panel per layer shape, each schedule a point."""
    schedules = audit["schedules"]
    prov = audit["provenance"]
    precision = prov.get("precision", "?")
    colours = schedule_colours(plt, len(schedules))
    groups = shape_groups(rows)
    columns = min(3, len(groups))
    lines = math.ceil(len(groups) / columns)
    fig, axes = plt.subplots(lines, columns, squeeze=False,
                             figsize=(4.6 * columns + 0.4, 3.9 * lines + 1.6))
    costs = [res["cost"] for r in rows for res in r["results"]]
    low, high = min(costs + [1.0]), max(costs + [1.0])
    margin = max(0.1, 0.08 * (high - low))
    for ax, group in zip(axes.flat, groups):
        row = group[0]
        for j, res in enumerate(row["results"]):
            # A fallback is another schedule's coefficients: drawn smaller and on top, so the
            # schedule it falls back to stays visible around it.
            # The table's recipe, the point of the audit, is a star.
            size, order = (18, 4) if res["fallback"] else (46, 3)
            table = res["schedule"] == "table"
            if table:
                size *= 3
            point = (res["cost"], max(res["matrix"]["rms"], 1e-12))
            if res["unsafe"]:
                ax.scatter(*point, s=150, facecolors="none", edgecolors="red", linewidths=1.5,
                           zorder=2)
            ax.scatter(*point, s=size, color=colours[j], marker="*" if table else "o",
                       zorder=order)
            if res["spectral"]["rms"] is not None:
                ax.scatter(res["cost"], max(res["spectral"]["rms"], 1e-12), s=size,
                           marker="*" if table else "D", facecolors="none",
                           edgecolors=colours[j], linewidths=1.2, zorder=order)
            if res["schedule"] == "polar-express":
                ax.axvline(res["cost"], color="grey", linestyle="--", linewidth=0.8, zorder=1)
                ax.axhline(res["matrix"]["rms"], color="grey", linestyle="--", linewidth=0.8,
                           zorder=1)
            if res["unsafe"]:
                ax.annotate("!", (res["cost"], res["matrix"]["rms"]), xytext=(5, 2),
                            textcoords="offset points", color="red", fontweight="bold")
        log_axis(ax, ticker)
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlim(low - margin, high + margin)
        names = ", ".join(short_label(r["pattern"]) for r in group)
        matrix = row["results"][0]["matrix"]
        on = (f"; matrix level on {matrix['shape'][0]}x{matrix['shape'][1]}"
              if matrix["proxy"] else "")
        ax.set_title(f"{row['key'][0]}x{row['key'][1]}{on}\n{names}", fontsize=8)
        ax.set_xlabel("cost (GEMM flops / Polar Express's)", fontsize=8)
        ax.set_ylabel("RMS error", fontsize=8)
    for ax in list(axes.flat)[len(groups):]:
        ax.set_visible(False)
    handles = [Line2D([], [], linestyle="none", marker="*" if name == "table" else "o",
                      markersize=11 if name == "table" else 6, color=colours[j], label=name)
               for j, name in enumerate(schedules)]
    handles += [Line2D([], [], linestyle="none", marker="o", color="grey",
                       label=f"{precision} recipe vs fp64 SVD (matrix level)"),
                Line2D([], [], linestyle="none", marker="D", markerfacecolor="none",
                       color="grey", label="exact map, full shape (spectral level)"),
                Line2D([], [], linestyle="none", marker="o", markersize=4, color="grey",
                       label="small: fallback"),
                Line2D([], [], linestyle="none", marker="o", markersize=11,
                       markerfacecolor="none", markeredgecolor="red", label="ringed, !: unsafe")]
    fig.legend(handles=handles, fontsize=8, ncol=min(len(handles), 5), loc="lower center")
    fig.suptitle(f"rootopt audit: {prov.get('model_name', '?')}, precision vs cost "
                 f"({source_text(prov)}, seed {prov.get('seed', '?')})\n"
                 "dashed: Polar Express; below and left of it = more precise and cheaper",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.05 + 0.03 * ((len(handles) - 1) // 5), 1, 1))
    save(fig, path)
    plt.close(fig)


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import matplotlib
        matplotlib.use("Agg")
        matplotlib.rcParams["svg.hashsalt"] = "rootopt-audit"
        import matplotlib.pyplot as plt
        from matplotlib import ticker
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch
    except ImportError as error:
        print(f"plot_audit.py: matplotlib is not available: {error}", file=sys.stderr)
        return NO_MATPLOTLIB

    with open(argv[1]) as f:
        audit = json.load(f)
    if audit.get("format") != "rootopt.audit" or audit.get("format_version") != 2:
        print(f"plot_audit.py: {argv[1]} is not a rootopt audit of format version 2",
              file=sys.stderr)
        return 1
    rows = [r for r in audit["rows"] if r["audited"]]
    if not rows:
        print("plot_audit.py: no audited rows to plot", file=sys.stderr)
        return 1
    plot_layers(plt, ticker, Patch, audit, rows, argv[2])
    if len(argv) == 4:
        plot_cost(plt, ticker, Line2D, audit, rows, argv[3])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
