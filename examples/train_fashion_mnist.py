#!/usr/bin/python3
"""Fashion-MNIST comparison of AdamW, Muon and ROOT on a small MLP and a small CNN (issue 6).

Every (model, optimizer, seed) run sees the same initial weights and the same batches for a seed,
the same number of steps and the same cosine learning-rate schedule. ROOT uses a coefficient
table tuned for the models' own matrix shapes by `rootopt tune --shapes ...` (run here, unless
--table gives one); Muon uses the fixed Muon triple (3.4445, -4.7750, 2.0315) for every shape and
no soft-threshold; both come from the rootopt package (rootopt.torch) with the same lr, momentum,
weight decay, update scale and Newton-Schulz precision, so they differ only in the coefficients
and ROOT's outlier soft-threshold. Weights a Muon user leaves to AdamW (output heads, the CNN's
1-channel first convolution, biases) use AdamW inside both, with the baseline's AdamW settings.

Data: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist). Needs a build of
rootopt (the CLI and the Python module): tools/build, then

    /usr/bin/python3 examples/train_fashion_mnist.py --build build

Prints final test accuracy and loss per model and optimizer as mean +- std over seeds and writes
a plot of the loss curves (docs/img/fashion_mnist_loss.png) and the raw numbers (--json).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from rootopt_capture import datasets, models  # noqa: E402  (shared with the capture tool)
from rootopt_capture.progress import Progress  # noqa: E402

MODELS = ("mlp", "cnn")
OPTIMIZERS = ("adamw", "muon", "root")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(REPO, "build"),
                   help="rootopt build folder: <build>/cli/rootopt and <build>/python/rootopt")
    p.add_argument("--cli", help="rootopt CLI for tuning (default <build>/cli/rootopt)")
    p.add_argument("--table", help="use this coefficient table instead of running rootopt tune")
    p.add_argument("--tune-args", default="",
                   help="extra arguments for rootopt tune, e.g. '--samples 64'")
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    # Smaller than the capture tool's defaults (512-256 MLP; 32-64-64 CNN) so that 3 optimizers
    # x 2 models x 3 seeds fit in minutes on a 2-core CPU.
    p.add_argument("--mlp-hidden", nargs=2, type=int, default=[256, 128], metavar="N")
    p.add_argument("--cnn-channels", nargs=3, type=int, default=[16, 32, 32], metavar="C")
    p.add_argument("--optimizers", nargs="+", choices=OPTIMIZERS, default=list(OPTIMIZERS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--steps", type=int, default=600, help="optimizer steps per run (600)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--eval-every", type=int, default=200, help="test-set evaluation interval")
    p.add_argument("--adamw-lr", type=float, default=3e-3,
                   help="AdamW lr: the baseline, and 1-D/head parameters inside Muon and ROOT")
    p.add_argument("--lr", type=float, default=0.01, help="Muon and ROOT lr (scale 'rms')")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--threshold-quantile", type=float, default=0.9, help="ROOT soft-threshold")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="bf16",
                   help="Newton-Schulz arithmetic of Muon and ROOT")
    p.add_argument("--fashion-mnist", default=datasets.FASHION_MNIST_DIR)
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (1: on a shared 2-core machine more threads thrash)")
    p.add_argument("--plot", default=os.path.join(REPO, "docs", "img", "fashion_mnist_loss.png"))
    p.add_argument("--json", help="write every run's curves and final metrics to this file")
    args = p.parse_args(argv)
    for name in ("steps", "batch_size", "eval_every", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if min(args.mlp_hidden + args.cnn_channels) < 1:
        p.error("--mlp-hidden and --cnn-channels must be positive")
    return args


def import_rootopt(build):
    """rootopt.torch from <build>/python (where the build assembles the package)."""
    package_dir = os.path.join(build, "python")
    if not os.path.isdir(os.path.join(package_dir, "rootopt")):
        raise SystemExit(f"rootopt Python package not found in {package_dir}: build rootopt first "
                         f"(tools/build) or pass --build <your build folder>")
    sys.path.insert(0, package_dir)
    import rootopt.torch
    return rootopt.torch


def build_model(name, args):
    return (models.MLP(tuple(args.mlp_hidden)) if name == "mlp"
            else models.CNN(tuple(args.cnn_channels)))


def canonical_shapes(args):
    """Sorted unique canonical (min, max) matrix shapes of the models' ROOT-routed weights."""
    shapes = set()
    for name in args.models:
        shapes.update((min(s), max(s)) for s in models.matrix_shapes(build_model(name, args)))
    return sorted(shapes)


def tune_table(args, out_dir):
    """Runs `rootopt tune --shapes ...` for the models' shapes; returns the table's path."""
    cli = args.cli or os.path.join(args.build, "cli", "rootopt")
    if not os.access(cli, os.X_OK):
        raise SystemExit(f"rootopt CLI not found at {cli}: build rootopt first (tools/build)")
    shapes = ",".join(f"{r}x{c}" for r, c in canonical_shapes(args))
    table = os.path.join(out_dir, "fashion_mnist_table.h5")
    command = [cli, "tune", "--shapes", shapes, "--out", table, *args.tune_args.split()]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True)  # progress and summary go to the terminal
    return table


def provenance(args, table):
    """What a result depends on: the rootopt commit, torch, and the ROOT table's schedules."""
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    out = dict(command=" ".join(sys.argv), rootopt_commit=commit, torch=torch.__version__,
               arguments=vars(args))
    if table:
        import h5py
        text = lambda v: v.decode() if isinstance(v, bytes) else str(v)  # v2: fixed-length
        with h5py.File(table, "r") as f:  # docs/table-format.md (versions 1 and 2)
            out["table"] = dict(shapes=f["shapes"][()].tolist(),
                                coefficients=f["coefficients"][()].tolist(),  # v2: NaN padded
                                attributes={k: text(v) for k, v in f.attrs.items()})
            if "steps" in f:
                out["table"]["steps"] = f["steps"][()].tolist()
            if "provenance" in f:
                out["table"]["provenance"] = {text(k): text(v) for k, v in f["provenance"][()]}
    return out


def make_optimizer(kind, model, args, table, rootopt_torch):
    ortho, adamw = models.split_parameters(model)
    betas = (0.9, 0.95)
    if kind == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=args.adamw_lr, betas=betas,
                                 weight_decay=args.weight_decay)
    groups = [{"params": ortho}, {"params": adamw, "use_root": False}]
    common = dict(lr=args.lr, momentum=0.95, nesterov=True, weight_decay=args.weight_decay,
                  scale="rms", precision=args.precision, adamw_lr=args.adamw_lr,
                  adamw_betas=betas)
    if kind == "muon":
        return rootopt_torch.Muon(groups, schedule="muon", **common)
    return rootopt_torch.ROOT(groups, table=table, fallback="nearest",
                              threshold_quantile=args.threshold_quantile, **common)


@torch.no_grad()
def evaluate(model, x, y):
    logits = torch.cat([model(x[i:i + 2000]) for i in range(0, len(x), 2000)])
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def train_run(model_name, kind, seed, data, args, table, rootopt_torch, progress, done):
    """One run; returns its curves and final test metrics."""
    train_x, train_y, test_x, test_y = data
    torch.manual_seed(seed)
    model = build_model(model_name, args)
    optimizer = make_optimizer(kind, model, args, table, rootopt_torch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.steps)
    batches = torch.Generator().manual_seed(seed)
    train_loss, test_curve = [], []
    start = time.monotonic()
    for step in range(1, args.steps + 1):
        index = torch.randint(0, len(train_x), (args.batch_size,), generator=batches)
        loss = F.cross_entropy(model(train_x[index]), train_y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        train_loss.append(loss.item())
        if step % args.eval_every == 0 or step == args.steps:
            test_curve.append((step, *evaluate(model, test_x, test_y)))
        progress.update(done + step, f"{model_name} {kind} seed {seed} loss {loss.item():.3f}")
    return dict(model=model_name, optimizer=kind, seed=seed, train_loss=train_loss,
                test_curve=test_curve, test_loss=test_curve[-1][1],
                test_accuracy=test_curve[-1][2], seconds=time.monotonic() - start)


def mean_std(values, digits):
    """"mean ± sample std" over seeds ("mean" alone for one seed)."""
    values = np.asarray(values)
    if len(values) < 2:
        return f"{values.mean():.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def summary_table(runs, args):
    lines = ["| model | optimizer | test accuracy (%) | test loss | train loss (last 50 steps) "
             "| s/run |", "|---|---|---|---|---|---|"]
    for model_name in args.models:
        for kind in args.optimizers:
            rs = [r for r in runs if r["model"] == model_name and r["optimizer"] == kind]
            lines.append(" | ".join([
                f"| {model_name}", kind,
                mean_std([100 * r["test_accuracy"] for r in rs], 2),
                mean_std([r["test_loss"] for r in rs], 4),
                mean_std([np.mean(r["train_loss"][-50:]) for r in rs], 4),
                f"{np.mean([r['seconds'] for r in rs]):.0f} |"]))
    return "\n".join(lines)


def plot_curves(runs, args):
    """Per model: training loss (moving average over up to 50 steps, mean over seeds, band =
    min/max over seeds)
    and test loss at the evaluation points. Written atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(args.models), figsize=(6 * len(args.models), 4.2),
                             squeeze=False)
    width = max(1, min(50, args.steps // 10))
    window = np.ones(width) / width
    for ax, model_name in zip(axes[0], args.models):
        for color, kind in zip(("tab:blue", "tab:orange", "tab:green"), args.optimizers):
            rs = [r for r in runs if r["model"] == model_name and r["optimizer"] == kind]
            smooth = np.array([np.convolve(r["train_loss"], window, mode="valid") for r in rs])
            steps = np.arange(smooth.shape[1]) + width
            ax.plot(steps, smooth.mean(0), color=color, label=f"{kind} train")
            ax.fill_between(steps, smooth.min(0), smooth.max(0), color=color, alpha=0.2)
            test = np.array([[point[1] for point in r["test_curve"]] for r in rs])
            ax.plot([point[0] for point in rs[0]["test_curve"]], test.mean(0), "o--",
                    color=color, label=f"{kind} test")
        ax.set_yscale("log")
        ax.set_title(f"Fashion-MNIST {model_name}, seeds: {len(args.seeds)}")
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.plot)), exist_ok=True)
    tmp = f"{args.plot}.tmp.{os.getpid()}.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, args.plot)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        data = datasets.fashion_mnist(args.fashion_mnist)
    except datasets.DataMissing as error:
        raise SystemExit(f"train_fashion_mnist: {error}")
    rootopt_torch = import_rootopt(args.build)
    with tempfile.TemporaryDirectory() as tmp:
        table = args.table if args.table or "root" not in args.optimizers else tune_table(args, tmp)
        total = len(args.models) * len(args.optimizers) * len(args.seeds) * args.steps
        progress = Progress("train_fashion_mnist", total)
        info = provenance(args, table)
        runs = []
        for model_name in args.models:
            for kind in args.optimizers:
                for seed in args.seeds:
                    runs.append(train_run(model_name, kind, seed, data, args, table,
                                          rootopt_torch, progress, len(runs) * args.steps))
    print(summary_table(runs, args))
    plot_curves(runs, args)
    print(f"wrote {args.plot}")
    if args.json:
        tmp = f"{args.json}.tmp.{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(dict(info, runs=runs), f)
        os.replace(tmp, args.json)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
