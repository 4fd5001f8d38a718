"""Statistics and plots of captured spectra files (the `summarize` command).

Per spectrum, normalised to unit Frobenius norm (s / ||s||_2, as the tuner sees X0 = U/||U||_F):
top = s_1, median = median_i s_i, stable rank = ||s||_2^2 / s_1^2 = 1 / top^2."""

import collections
import os

import h5py
import numpy as np


def read_spectra(path):
    """[(model, layer, step, rows, cols, normalised descending float64 spectrum)] of one file."""
    out = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.ndim == 1:
            s = np.sort(np.asarray(obj[()], dtype=np.float64))[::-1]
            if not np.all(np.isfinite(s)) or s[0] <= 0:
                raise ValueError(f"{path}:{name}: not a spectrum (non-finite or all zero)")
            # Files from other tools may lack the attributes: the dataset then stands for a
            # square matrix of its own length, at an unknown step.
            a = obj.attrs
            out.append((str(a.get("model", os.path.basename(path))), str(a.get("layer", name)),
                        int(a.get("step", -1)), int(a.get("rows", len(s))),
                        int(a.get("cols", len(s))), s / np.linalg.norm(s)))

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    if not out:
        raise ValueError(f"{path}: no 1-D spectrum dataset")
    return out


def statistics(paths):
    """Rows of per-(file, model, shape) statistics: mean and [min, max] over layers and steps."""
    rows = []
    for path in paths:
        groups = collections.defaultdict(list)
        for model, _, step, r, c, s in read_spectra(path):
            groups[(model, r, c)].append((step, s))
        for (model, r, c), items in sorted(groups.items()):
            tops = np.array([s[0] for _, s in items])
            medians = np.array([np.median(s) for _, s in items])
            stable = 1.0 / tops ** 2
            steps = [step for step, _ in items]
            rows.append(dict(file=path, model=model, shape=f"{r}x{c}", rank=min(r, c),
                             spectra=len(items), steps=f"{min(steps)}-{max(steps)}",
                             top=tops, median=medians, stable_rank=stable))
    return rows


def markdown_table(rows):
    fmt = lambda v, p: f"{v.mean():.{p}f} [{v.min():.{p}f}, {v.max():.{p}f}]"
    lines = ["| file | model | shape (rows x cols) | spectra | steps | top s1 | median s_i | "
             "stable rank |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['file']} | {r['model']} | {r['shape']} | {r['spectra']} | "
                     f"{r['steps']} | {fmt(r['top'], 3)} | {fmt(r['median'], 4)} | "
                     f"{fmt(r['stable_rank'], 1)} |")
    return "\n".join(lines)


def marchenko_pastur_spectrum(rows, cols, seed=0):
    """Normalised singular values of a Gaussian rows x cols matrix (fp64 SVD)."""
    g = np.random.default_rng(seed).standard_normal((rows, cols))
    s = np.linalg.svd(g, compute_uv=False)
    return s / np.linalg.norm(s)


def plot(paths, out_png, max_panels=12):
    """One panel per (model, shape): one layer (the middle one by name, not the first layer,
    whose input subspace is the small embedding space) at a few training steps, vs the
    Marchenko-Pastur spectrum of a Gaussian matrix of the same shape. Written atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = collections.defaultdict(list)
    for path in paths:
        for model, layer, step, r, c, s in read_spectra(path):
            panels[(model, r, c)].append((step, layer, s))
    keys = sorted(panels)[:max_panels]
    cols = min(3, len(keys))
    nrows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(4.6 * cols, 3.6 * nrows), squeeze=False)
    cmap = plt.get_cmap("viridis")
    for ax, key in zip(axes.flat, keys):
        model, r, c = key
        items = sorted(panels[key], key=lambda t: (t[0], t[1]))
        layers = sorted({it[1] for it in items})
        layer = layers[len(layers) // 2]
        chosen = [it for it in items if it[1] == layer]
        chosen = chosen[:: max(1, len(chosen) // 5)]
        steps = [it[0] for it in chosen]
        for step, _, s in chosen:
            frac = (step - min(steps)) / max(1, max(steps) - min(steps))
            ax.semilogy((np.arange(len(s)) + 0.5) / len(s), s, color=cmap(frac), lw=1.2,
                        label=f"step {step}")
        mp = marchenko_pastur_spectrum(r, c)
        ax.semilogy((np.arange(len(mp)) + 0.5) / len(mp), mp, "k--", lw=1.2,
                    label="Marchenko-Pastur")
        ax.set_title(f"{model} {layer}\n{r}x{c}", fontsize=9)
        ax.set_xlabel("relative index i / r")
        ax.set_ylabel("s_i / ||s||_2")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.tight_layout()
    tmp = f"{out_png}.tmp.{os.getpid()}.png"
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, out_png)
