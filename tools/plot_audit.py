#!/usr/bin/python3
"""Draws the plot of a rootopt audit: orthogonality error per layer for each schedule.

Usage: plot_audit.py AUDIT.json OUT.svg|OUT.png

Two panels share the layer axis: the spectral level (exact composed map on the sampled spectra)
and the matrix level (Newton-Schulz in the audit's precision against an fp64 SVD polar factor).
Bars are grouped per layer, one colour per schedule, on a log scale. A hatched bar is a fallback
(the schedule has nothing published or tuned for that shape); a bar with a red edge and a red "!" is
unsafe (envelope above the bound, or a step map going negative). Called by `rootopt audit`;
exits with status 3 when matplotlib is not installed, so the caller can skip the plot.
"""
import json
import sys

NO_MATPLOTLIB = 3


def short_label(pattern):
    """model.layers.*.self_attn.q_proj -> self_attn.q_proj (the repeated-layer prefix says little)."""
    parts = pattern.split(".")
    if "*" in parts:
        parts = parts[parts.index("*") + 1:]
    return ".".join(parts)


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import ticker
        from matplotlib.patches import Patch
    except ImportError as error:
        print(f"plot_audit.py: matplotlib is not available: {error}", file=sys.stderr)
        return NO_MATPLOTLIB

    with open(argv[1]) as f:
        audit = json.load(f)
    rows = [r for r in audit["rows"] if r["audited"]]
    if not rows:
        print("plot_audit.py: no audited rows to plot", file=sys.stderr)
        return 1
    schedules = audit["schedules"]
    prov = audit["provenance"]
    precision = prov.get("precision", "?")
    labels = [f"{short_label(r['pattern'])}\n{r['shape'][0]}x{r['shape'][1]} (x{r['count']})"
              for r in rows]

    # tab10 without its red, which marks unsafe bars.
    colours = [c for i, c in enumerate(plt.get_cmap("tab10").colors) if i != 3]
    width = 0.8 / len(schedules)
    fig, axes = plt.subplots(2, 1, sharex=True,
                             figsize=(max(7.0, 1.3 * len(rows) + 2.5), 7.5))
    panels = [("spectral", "spectral RMS error\n(exact map, sampled spectra)"),
              ("matrix", f"matrix RMS error\n({precision} Newton-Schulz vs fp64 SVD)")]
    for ax, (level, ylabel) in zip(axes, panels):
        for j, name in enumerate(schedules):
            xs = [i + (j - (len(schedules) - 1) / 2) * width for i in range(len(rows))]
            results = [r["results"][j] for r in rows]
            values = [max(res[level]["rms"], 1e-12) for res in results]
            bars = ax.bar(xs, values, width, color=colours[j % len(colours)])
            for bar, res in zip(bars, results):
                if res["fallback"]:
                    bar.set_hatch("//")
                    bar.set_edgecolor("white")
                if res["unsafe"]:
                    bar.set_edgecolor("red")
                    bar.set_linewidth(2.0)
                    ax.annotate("!", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                                ha="center", va="bottom", color="red", fontweight="bold")
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%.2g"))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        low, high = ax.get_ylim()
        ax.set_ylim(low, high * 1.25)  # room for the "!" marks
        ax.set_ylabel(ylabel)
        ax.grid(axis="y", which="both", alpha=0.3)
    proxies = sorted({f"{r['key'][0]}x{r['key'][1]} on {res['matrix']['shape'][0]}x"
                      f"{res['matrix']['shape'][1]}"
                      for r in rows for res in r["results"] if res["matrix"]["proxy"]})
    if proxies:
        axes[1].set_title("proxy matrices (same aspect ratio): " + ", ".join(proxies),
                          fontsize=8, loc="left")
    axes[1].set_xticks(range(len(rows)))
    axes[1].set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    # Plain patches: a legend taken from the bars would copy a fallback's hatch or an unsafe edge.
    handles = [Patch(color=colours[j % len(colours)], label=name) for j, name in enumerate(schedules)]
    axes[0].legend(handles=handles, title="schedule (hatched: fallback, red !: unsafe)", fontsize=8,
                   title_fontsize=8, ncol=min(len(schedules), 5), loc="upper left",
                   bbox_to_anchor=(0, 1.25))
    source = prov.get("spectra", "")
    source = "user matrices" if source == "user matrices" else f"{prov.get('samples', '?')} sampled spectra/shape"
    fig.suptitle(f"rootopt audit: {prov.get('model_name', '?')}  ({source}, seed {prov.get('seed', '?')})",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
