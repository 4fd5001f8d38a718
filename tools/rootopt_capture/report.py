"""Statistics and plots of captured spectra files (the `summarize` command).

A source is one training run's model, corpus and optimizer (the file attributes model_id,
corpus, optimizer that `train` and `label` write); its set is the directory the file lies in
(fit/, heldout/). Per spectrum s (descending):
- top after Schatten-p normalisation: s_1 / ||s||_p, ||s||_p = (sum_i s_i^p)^(1/p); p = 2 is
  the Frobenius norm Newton-Schulz divides by today (X0 = U/||U||_F), p = 4 and 8 the
  normalisations issue 9 proposes (computable from the Gram products of the first step);
- median s_i / ||s||_2 and stable rank ||s||_2^2 / s_1^2."""

import collections
import os

import h5py
import numpy as np

SCHATTEN_P = (2, 4, 8)
# Relative-index grid on which spectra of different ranks are compared (cell centres, as the
# tuner's captured family rescales a spectrum to another rank).
GRID = (np.arange(200) + 0.5) / 200

Captured = collections.namedtuple("Captured", "source set layer step rows cols values")


def schatten_top(values, p):
    """s_1 / ||s||_p of a descending spectrum (scaled by s_1 first: no overflow for large p)."""
    x = values / values[0]
    return 1.0 / np.sum(x ** p) ** (1.0 / p)


def source_of(path, attrs):
    """(model_id, corpus, optimizer) from a file's attributes; files from other tools without
    them stand for themselves."""
    name = os.path.basename(path)
    return (str(attrs.get("model_id", attrs.get("model", name))),
            str(attrs.get("corpus", attrs.get("dataset", "?"))),
            str(attrs.get("optimizer", "?")))


def read_spectra(path):
    """[Captured] of one file: raw descending float64 spectra with their source and position."""
    out = []
    with h5py.File(path, "r") as f:
        source = source_of(path, f.attrs)
        split = os.path.basename(os.path.dirname(os.path.abspath(path)))

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.ndim == 1:
                s = np.sort(np.abs(np.asarray(obj[()], dtype=np.float64)))[::-1]
                if not np.all(np.isfinite(s)) or s[0] <= 0:
                    raise ValueError(f"{path}:{name}: not a spectrum (non-finite or all zero)")
                # Files from other tools may lack the attributes: the dataset then stands for a
                # square matrix of its own length, at an unknown step.
                a = obj.attrs
                out.append(Captured(source, split, str(a.get("layer", name)),
                                    int(a.get("step", -1)), int(a.get("rows", len(s))),
                                    int(a.get("cols", len(s))), s))

        f.visititems(visit)
    if not out:
        raise ValueError(f"{path}: no 1-D spectrum dataset")
    return out


def statistics(paths):
    """Rows of per-(file, shape) statistics over all layers of that shape and all captures."""
    rows = []
    for path in paths:
        groups = collections.defaultdict(list)
        for c in read_spectra(path):
            groups[(c.source, c.rows, c.cols)].append(c)
        for (source, r, c), items in sorted(groups.items()):
            steps = [it.step for it in items]
            rows.append(dict(file=path, source=source, shape=f"{r}x{c}", spectra=len(items),
                             steps=f"{min(steps)}-{max(steps)}",
                             top={p: np.array([schatten_top(it.values, p) for it in items])
                                  for p in SCHATTEN_P},
                             median=np.array([np.median(it.values) / np.linalg.norm(it.values)
                                              for it in items])))
    return rows


def markdown_table(rows):
    """Per (file, shape): median [min, max] of the top value under each normalisation, of the
    Frobenius-normalised median value, and of the stable rank 1 / top_2^2."""
    fmt = lambda v, p: f"{np.median(v):.{p}f} [{v.min():.{p}f}, {v.max():.{p}f}]"
    lines = ["| file | model | corpus | optimizer | shape | spectra | steps | "
             "top s1/‖s‖₂ | top s1/‖s‖₄ | top s1/‖s‖₈ | median s_i/‖s‖₂ | stable rank |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        model, corpus, optimizer = r["source"]
        lines.append(f"| {r['file']} | {model} | {corpus} | {optimizer} | {r['shape']} | "
                     f"{r['spectra']} | {r['steps']} | {fmt(r['top'][2], 3)} | "
                     f"{fmt(r['top'][4], 3)} | {fmt(r['top'][8], 3)} | {fmt(r['median'], 4)} | "
                     f"{fmt(1.0 / r['top'][2] ** 2, 1)} |")
    return "\n".join(lines)


def step_text(steps):
    """'50-1500 every 50' for evenly spaced steps, else the list."""
    gaps = set(np.diff(steps))
    if len(steps) > 3 and len(gaps) == 1:
        return f"{steps[0]}-{steps[-1]} every {gaps.pop()}"
    return ", ".join(map(str, steps))


def file_table(paths):
    """Per file: its source, captured steps, shapes and number of spectra (the split table of
    docs/spectra.md)."""
    lines = ["| file | model | corpus | optimizer | steps captured | shapes (rows x cols) | "
             "spectra | KiB |", "|---|---|---|---|---|---|---|---|"]
    for path in paths:
        items = read_spectra(path)
        model, corpus, optimizer = items[0].source
        steps = sorted({c.step for c in items})
        shapes = sorted({(c.rows, c.cols) for c in items})
        lines.append(f"| {os.path.join(items[0].set, os.path.basename(path))} | {model} | "
                     f"{corpus} | {optimizer} | {step_text(steps)} | "
                     f"{', '.join(f'{r}x{c}' for r, c in shapes)} | {len(items)} | "
                     f"{os.path.getsize(path) // 1024} |")
    return "\n".join(lines)


def by_source(paths):
    """{(set, source): [Captured]} over all files, sorted by set then source."""
    groups = collections.defaultdict(list)
    for path in paths:
        for c in read_spectra(path):
            groups[(c.set, c.source)].append(c)
    return dict(sorted(groups.items()))


def source_table(paths):
    """Per source: spectra count and the median top value under each normalisation, then the
    same medians over all spectra of each set."""
    groups = by_source(paths)
    lines = ["| set | model | corpus | optimizer | spectra | median top, ‖s‖₂ | ‖s‖₄ | ‖s‖₈ |",
             "|---|---|---|---|---|---|---|---|"]
    pooled = collections.defaultdict(list)
    for (split, source), items in groups.items():
        tops = [np.median([schatten_top(it.values, p) for it in items]) for p in SCHATTEN_P]
        pooled[split].extend(items)
        lines.append(f"| {split} | {' | '.join(source)} | {len(items)} | "
                     + " | ".join(f"{t:.3f}" for t in tops) + " |")
    for split, items in sorted(pooled.items()):
        tops = [np.median([schatten_top(it.values, p) for it in items]) for p in SCHATTEN_P]
        lines.append(f"| {split}, all | | | | {len(items)} | "
                     + " | ".join(f"**{t:.3f}**" for t in tops) + " |")
    return "\n".join(lines)


def relative_profile(values):
    """s_i / s_1 on GRID (linear interpolation in relative index, cell centres (i+1/2)/r)."""
    r = len(values)
    return np.interp(GRID, (np.arange(r) + 0.5) / r, values / values[0])


def plot(paths, out_png):
    """Per source: median and 10-90% band of s_i/s_1 against i/r over all its layers and captures,
    the median of its early captures (first fifth of its steps) dashed; last panel: top value
    after Frobenius, Schatten-4 and Schatten-8 normalisation per source (median, quartiles).
    Written atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = by_source(paths)
    colours = {"fit": "tab:blue", "heldout": "tab:orange"}
    cols = 4
    nrows = (len(groups) + cols - 1) // cols
    bottom = 1.0 + 0.3 * len(groups)
    fig = plt.figure(figsize=(4.0 * cols, 2.9 * nrows + bottom))
    grid = fig.add_gridspec(nrows + 1, cols, height_ratios=[2.9] * nrows + [bottom])
    for k, ((split, source), items) in enumerate(groups.items()):
        ax = fig.add_subplot(grid[k // cols, k % cols])
        colour = colours.get(split, "tab:gray")
        profiles = np.array([relative_profile(it.values) for it in items])
        lo, med, hi = np.quantile(profiles, [0.1, 0.5, 0.9], axis=0)
        ax.fill_between(GRID, lo, hi, color=colour, alpha=0.25, lw=0)
        ax.semilogy(GRID, med, color=colour, lw=1.5, label="median, 10-90%")
        early_end = max(it.step for it in items) // 5
        early = [p for p, it in zip(profiles, items) if it.step <= early_end]
        if early:
            ax.semilogy(GRID, np.median(early, axis=0), color=colour, lw=1.0, ls="--",
                        label=f"median of steps <= {early_end}")
        shapes = sorted({(it.rows, it.cols) for it in items})
        ax.set_title(f"{split}: {source[0]}\n{source[1]}, {source[2]}; {len(items)} spectra, "
                     f"{len(shapes)} shapes", fontsize=8)
        ax.set_ylim(1e-4, 1.2)
        ax.grid(True, which="both", alpha=0.3)
        ax.tick_params(labelsize=7)
        if k % cols == 0:
            ax.set_ylabel("s_i / s_1", fontsize=8)
        ax.set_xlabel("i / r", fontsize=8)
        ax.legend(fontsize=6, loc="lower left")
    ax = fig.add_subplot(grid[nrows, :])
    labels = [f"{split}: {s[0]} / {s[1]} / {s[2]}" for split, s in groups]
    y = np.arange(len(groups))[::-1]
    for p, marker, offset in zip(SCHATTEN_P, "o^s", (0.2, 0.0, -0.2)):
        tops = [np.quantile([schatten_top(it.values, p) for it in items], [0.25, 0.5, 0.75])
                for items in groups.values()]
        for (lo, _, hi), row in zip(tops, y):
            ax.plot([lo, hi], [row + offset] * 2, color="0.4", lw=0.8)
        ax.scatter([t[1] for t in tops], y + offset, marker=marker, s=26, zorder=3,
                   c=[colours.get(split, "tab:gray") for split, _ in groups],
                   edgecolors="k", linewidths=0.5)
        ax.scatter([], [], marker=marker, c="white", edgecolors="k",
                   label=f"s_1 / ||s||_{p}: median, 25-75%")
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlim(0.2, 1.01)
    ax.set_xlabel("median top singular value after normalisation (1 = spectral norm)", fontsize=8)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    tmp = f"{out_png}.tmp.{os.getpid()}.png"
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    os.replace(tmp, out_png)
