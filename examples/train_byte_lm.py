#!/usr/bin/python3
"""Byte-level language-model benchmark: AdamW vs Muon vs Polar Express vs ROOT recipes (issue 13).

A small pre-LayerNorm decoder (byte vocabulary, separate q/k/v/o projections, 4x GELU MLP, so its
matrices have the square and 1:4 shapes of real transformers) is trained on real text that Debian
ships, and every optimizer is scored in bits per byte on a fixed held-out split:

1. sweep: each optimizer's learning rate over the same number of grid points, on the first corpus
   and the first seed (AdamW first: its best lr also drives the parameters a Muon user leaves to
   AdamW inside Muon and ROOT);
2. seeds: every optimizer at its best lr on every seed and corpus (the sweep's run is reused for
   the first seed). For a seed all optimizers start from the same weights and see the same batches.

The optimizers are the data-driven list VARIANTS below: a new recipe is one line. ROOT tables are
tuned for the model's own shapes by `rootopt tune --model <model config>` (run here) and audited
by `rootopt audit` on the same config. Every --ortho-every steps the run logs, for the largest
orthogonalized weight, the orthogonality error of the update the optimizer actually applied
against the fp64 SVD polar factor of that update's Newton-Schulz input (byte_lm_orthogonality.py).

Data: the Jargon File (Debian jargon-text) and the fortune-cookie files (Debian fortunes); the
model: data/models/byte-lm.json. Needs a build of rootopt (tools/build). The full benchmark:

    /usr/bin/python3 examples/train_byte_lm.py --build build

writes docs/results/byte-lm.md (tables), docs/img/byte_lm_*.png (plots) and <out>/results.json
(every curve and number); --quick is the CI-sized smoke run (asserts that the training loss
falls for every optimizer) and writes only under --out.
"""

import argparse
import concurrent.futures
import dataclasses
import gzip
import hashlib
import json
import math
import multiprocessing
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import byte_lm_report  # noqa: E402
from byte_lm_orthogonality import NewtonSchulzProbe, measure_update  # noqa: E402
from rootopt_capture import datasets, models  # noqa: E402  (shared with the capture tool)
from rootopt_capture.arguments import positive  # noqa: E402
from rootopt_capture.progress import Progress  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Variant:
    """One optimizer of the comparison.

    kind: "adamw" (torch.optim.AdamW), "muon" (rootopt.torch.Muon with the built-in `schedule`
    for every shape, no soft-threshold) or "root" (rootopt.torch.ROOT with a table from
    `rootopt tune --model CONFIG` plus `tune_args`). `options`: further keyword arguments of the
    optimizer's constructor, as (name, value) pairs."""
    name: str
    kind: str
    description: str
    schedule: str = ""
    tune_args: tuple = ()
    options: tuple = ()


# A recipe is one more line, e.g. Polar Express under Schatten-8 normalisation:
#   Variant("polar-express-s8", "muon", "Polar Express, Schatten-8", schedule="polar-express",
#           options=(("normalization", "schatten8"),)),
# or a table tuned with other `rootopt tune` options:
#   Variant("root-gram", "root", "ROOT, Gram-form table", tune_args=("--form", "gram")),
# (and, to see it in the paired table, a pair in COMPARISONS).
VARIANTS = (
    Variant("adamw", "adamw", "torch.optim.AdamW"),
    Variant("muon", "muon", "Muon triple (3.4445, -4.7750, 2.0315) x 5, Frobenius",
            schedule="muon"),
    Variant("polar-express", "muon", "Polar Express, 5 steps, Frobenius",
            schedule="polar-express"),
    Variant("root", "root", "ROOT, table tuned by `rootopt tune` with its defaults "
            "(the default recipe)"),
    Variant("root-frob5", "root", "ROOT, table tuned with 5 steps and Frobenius normalisation",
            tune_args=("--steps", "5", "--normalization", "frobenius")),
)
VARIANT_BY_NAME = {v.name: v for v in VARIANTS}

# A `rootopt tune` without these options always does what the value asks, so for it the option is
# dropped rather than refused: before per-shape recipes every table was Frobenius-normalised.
IMPLIED_TUNE_OPTIONS = {("--normalization", "frobenius")}

# Paired comparisons (first - second, per seed) for the report; pairs with an absent side are
# left out.
COMPARISONS = (("root", "muon"), ("root", "polar-express"), ("root", "root-frob5"),
               ("root-frob5", "polar-express"), ("polar-express", "muon"), ("muon", "adamw"))

# Learning-rate grids (same number of points for every optimizer, factor 2 apart). Muon and ROOT
# scale their update to AdamW's RMS ("rms": 0.2 sqrt(max(m, n)), Moonlight), so their grid sits
# near AdamW's; the Fashion-MNIST sweep found 3e-3 (AdamW) and 0.01 (Muon) best.
ADAMW_LRS = (1e-3, 2e-3, 4e-3, 8e-3)
ORTHOGONAL_LRS = (2.5e-3, 5e-3, 1e-2, 2e-2)

CORPORA = {
    "jargon": dict(title="Jargon File 4.4.7", package="jargon-text",
                   paths=(datasets.JARGON_TEXT,)),
    "fortunes": dict(title="fortune cookies", package="fortunes (and fortunes-min)",
                     directory="/usr/share/games/fortunes"),
}
# Held-out split: the corpus is cut into blocks of HELDOUT_BLOCK bytes and every
# HELDOUT_EVERY-th block (the last of each group) is held out, so the held-out text is spread over
# the whole corpus (the fortune files are sorted by topic) and never seen in training.
HELDOUT_BLOCK = 8192
HELDOUT_EVERY = 10
BETAS = (0.9, 0.95)
LN2 = math.log(2.0)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(REPO, "build"),
                   help="rootopt build folder: <build>/cli/rootopt and <build>/python/rootopt")
    p.add_argument("--cli", help="rootopt CLI (default <build>/cli/rootopt)")
    p.add_argument("--model-config", default=os.path.join(REPO, "data", "models", "byte-lm.json"),
                   help="the model (llama-style config.json fields; see the file's _comment)")
    p.add_argument("--corpora", nargs="+", choices=sorted(CORPORA), default=["jargon", "fortunes"],
                   help="the first is the one the learning rates are swept on")
    p.add_argument("--optimizers", nargs="+", choices=[v.name for v in VARIANTS],
                   default=[v.name for v in VARIANTS])
    p.add_argument("--adamw-lrs", nargs="+", type=positive(float), default=list(ADAMW_LRS))
    p.add_argument("--lrs", nargs="+", type=positive(float), default=list(ORTHOGONAL_LRS),
                   help="learning rates of Muon and ROOT (scale 'rms')")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2],
                   help="the first is the sweep's seed")
    p.add_argument("--steps", type=positive(int), default=1000)
    # 1000 steps of 12 x 128 bytes: the whole grid (45 runs, 2 at a time) fits 90 min on 2 cores
    # (docs/results/training.md has the estimate).
    p.add_argument("--batch-size", type=positive(int), default=12)
    p.add_argument("--warmup", type=float, default=0.05,
                   help="linear warm-up over this fraction of the steps, then cosine decay")
    p.add_argument("--final-lr", type=float, default=0.1, help="cosine decay to this fraction")
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.95)
    p.add_argument("--threshold-quantile", type=float, default=0.9, help="ROOT soft-threshold")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="bf16",
                   help="Newton-Schulz arithmetic of Muon and ROOT")
    p.add_argument("--eval-every", type=positive(int), default=200,
                   help="held-out evaluation interval (on --eval-windows windows; the last step "
                        "evaluates the whole held-out split)")
    p.add_argument("--eval-windows", type=positive(int), default=128)
    p.add_argument("--final-eval-windows", type=int, default=0,
                   help="windows of the final held-out evaluation (0: all)")
    p.add_argument("--ortho-every", type=positive(int), default=50,
                   help="orthogonality of the largest weight's update every N steps")
    p.add_argument("--tune-args", default="", help="extra arguments for every rootopt tune")
    p.add_argument("--jobs", type=positive(int), default=2,
                   help="runs in parallel (one process each, --threads torch threads each)")
    p.add_argument("--threads", type=positive(int), default=1)
    p.add_argument("--out", default=os.path.join(REPO, "out", "byte-lm"),
                   help="tables, audits and results.json")
    p.add_argument("--report", help="markdown report (default docs/results/byte-lm.md; "
                                    "<out>/report.md with --quick)")
    p.add_argument("--img-dir", help="plots (default docs/img; <out> with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="CI smoke run (<= 60 s): a tiny model, 40 steps, one learning rate per "
                        "optimizer, 2 seeds, reduced tuning; asserts the loss falls")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.batch_size, args.eval_every, args.ortho_every = 40, 8, 20, 10
        args.eval_windows, args.final_eval_windows, args.seeds = 16, 64, args.seeds[:2]
        args.adamw_lrs = [sorted(args.adamw_lrs)[len(args.adamw_lrs) // 2]]
        args.lrs = [sorted(args.lrs)[len(args.lrs) // 2]]
        args.tune_args = ("--samples 16 --heldout-samples 16 --random-starts 1 "
                          "--validation-matrices 0 " + args.tune_args)
    if len(args.adamw_lrs) != len(args.lrs):
        p.error(f"--adamw-lrs has {len(args.adamw_lrs)} points and --lrs {len(args.lrs)}: the "
                f"sweep gives every optimizer the same number of points")
    if not 0 <= args.warmup < 1 or not 0 <= args.final_lr <= 1:
        p.error("--warmup must be in [0, 1) and --final-lr in [0, 1]")
    if len(set(args.seeds)) != len(args.seeds):
        p.error("--seeds must be distinct")
    args.report = args.report or (os.path.join(args.out, "report.md") if args.quick else
                                  os.path.join(REPO, "docs", "results", "byte-lm.md"))
    args.img_dir = args.img_dir or (args.out if args.quick else os.path.join(REPO, "docs", "img"))
    args.cli = args.cli or os.path.join(args.build, "cli", "rootopt")
    return args


# --- model -------------------------------------------------------------------------------------

def load_model_config(path):
    """ByteTransformer dimensions from a llama-style config.json (data/models/byte-lm.json)."""
    try:
        with open(path) as f:
            config = json.load(f)
    except (OSError, ValueError) as error:
        raise SystemExit(f"train_byte_lm: model config {path}: {error}")
    fields = dict(d_model="hidden_size", layers="num_hidden_layers", heads="num_attention_heads",
                  mlp_dim="intermediate_size", seq_len="max_position_embeddings")
    dims = {}
    for key, field in fields.items():
        value = config.get(field)
        if not isinstance(value, int) or value < 1:
            raise SystemExit(f"train_byte_lm: model config {path}: field '{field}' must be a "
                             f"positive integer, got {value!r}")
        dims[key] = value
    checks = [(config.get("model_type") == "llama", "'model_type' must be \"llama\" (the config "
               "type whose weights rootopt tune/audit map to this model's)"),
              (config.get("vocab_size") == 256, "'vocab_size' must be 256 (bytes)"),
              (config.get("num_key_value_heads", dims["heads"]) == dims["heads"],
               "'num_key_value_heads' must equal 'num_attention_heads' (no grouped-query "
               "attention in this model)"),
              (dims["d_model"] % dims["heads"] == 0,
               "'hidden_size' must be divisible by 'num_attention_heads'")]
    for ok, message in checks:
        if not ok:
            raise SystemExit(f"train_byte_lm: model config {path}: {message}")
    return dims


def quick_model_config(out_dir):
    """The --quick model (d 64, 2 layers, context 64): written as a config so that tuning, the
    audit and training read the same file, as in a full run."""
    config = {"_name_or_path": "rootopt/byte-lm-quick", "model_type": "llama",
              "hidden_size": 64, "intermediate_size": 256, "num_attention_heads": 2,
              "num_hidden_layers": 2, "max_position_embeddings": 64, "vocab_size": 256}
    path = os.path.join(out_dir, "byte-lm-quick.json")
    with open(path, "w") as f:
        json.dump(config, f, indent=1)
    return path


def build_model(dims, seed):
    torch.manual_seed(seed)
    return models.ByteTransformer(**dims)


def largest_orthogonalized(model):
    """(name, parameter) of the largest weight the Muon-family optimizers orthogonalize (the
    first of equal size in model order: blocks.0.fc.weight)."""
    ortho, _ = models.split_parameters(model)
    return max(ortho, key=lambda item: item[1].numel())


# --- data --------------------------------------------------------------------------------------

def corpus_files(name):
    spec = CORPORA[name]
    if "paths" in spec:
        return list(spec["paths"])
    directory = spec["directory"]
    if not os.path.isdir(directory):
        return []
    # The fortune text files; *.dat are strfile indexes and *.u8 symlinks to the same text.
    return [os.path.join(directory, n) for n in sorted(os.listdir(directory))
            if not n.endswith(".dat") and not os.path.islink(os.path.join(directory, n))
            and os.path.isfile(os.path.join(directory, n))]


def read_bytes(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read()


def load_corpus(name):
    """{"train", "heldout"}: uint8 tensors of the corpus's bytes, split by held-out blocks, with
    its description (files, size, sha256)."""
    files = corpus_files(name)
    if not files or not all(os.path.isfile(f) for f in files):
        raise datasets.DataMissing(f"corpus '{name}' ({CORPORA[name]['title']}) not found: "
                                   f"install the Debian package {CORPORA[name]['package']} "
                                   f"(tools/install-deps)")
    raw = b"".join(read_bytes(f) for f in files)
    if len(raw) < 100 * HELDOUT_BLOCK:
        raise ValueError(f"corpus '{name}': only {len(raw)} bytes in {', '.join(files)}, too "
                         f"little text for this benchmark")
    data = torch.frombuffer(bytearray(raw), dtype=torch.uint8)
    blocks = torch.arange(len(data)) // HELDOUT_BLOCK
    heldout = blocks % HELDOUT_EVERY == HELDOUT_EVERY - 1
    return dict(train=data[~heldout], heldout=data[heldout],
                info=dict(name=name, title=CORPORA[name]["title"],
                          package=CORPORA[name]["package"], files=len(files), bytes=len(raw),
                          train_bytes=int((~heldout).sum()), heldout_bytes=int(heldout.sum()),
                          sha256=hashlib.sha256(raw).hexdigest()))


def training_batch(train, batch_size, seq_len, generator):
    """Inputs and next-byte targets (B, T) from random windows of the training bytes."""
    starts = torch.randint(0, len(train) - seq_len - 1, (batch_size,), generator=generator)
    windows = train[starts[:, None] + torch.arange(seq_len + 1)[None, :]].long()
    return windows[:, :-1], windows[:, 1:]


def heldout_windows(heldout, seq_len, count=0):
    """Consecutive non-overlapping windows of the held-out bytes (all of them, or `count` evenly
    spaced ones): every held-out byte after the first is predicted once."""
    n = (len(heldout) - 1) // seq_len
    x = heldout[:n * seq_len].view(n, seq_len).long()
    y = heldout[1:n * seq_len + 1].view(n, seq_len).long()
    if 0 < count < n:
        index = torch.linspace(0, n - 1, count).round().long()
        x, y = x[index], y[index]
    return x, y


@torch.no_grad()
def bits_per_byte(model, x, y, batch=64):
    total = 0.0
    for i in range(0, len(x), batch):
        logits = model(x[i:i + batch])
        total += F.cross_entropy(logits.flatten(0, 1), y[i:i + batch].flatten(),
                                 reduction="sum").item()
    return total / y.numel() / LN2


# --- optimizers --------------------------------------------------------------------------------

def import_rootopt(build):
    """rootopt.torch from <build>/python (where the build assembles the package)."""
    package_dir = os.path.join(build, "python")
    if not os.path.isdir(os.path.join(package_dir, "rootopt")):
        raise SystemExit(f"rootopt Python package not found in {package_dir}: build rootopt first "
                         f"(tools/build) or pass --build <your build folder>")
    if package_dir not in sys.path:
        sys.path.insert(0, package_dir)
    import rootopt.torch
    return rootopt.torch


def make_optimizer(variant, model, lr, adamw_lr, setup, table):
    """The optimizer; ROOT and Muon leave embeddings, head, norms and biases to AdamW at
    adamw_lr (the same schedule drives both learning rates)."""
    if variant.kind == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=lr, betas=BETAS,
                                 weight_decay=setup["weight_decay"], **dict(variant.options))
    rootopt_torch = import_rootopt(setup["build"])
    ortho, adamw = models.split_parameters(model)
    groups = [{"params": ortho}, {"params": adamw, "use_root": False}]
    common = dict(lr=lr, momentum=setup["momentum"], nesterov=True,
                  weight_decay=setup["weight_decay"], scale="rms",
                  precision=setup["precision"], adamw_lr=adamw_lr, adamw_betas=BETAS,
                  **dict(variant.options))
    if variant.kind == "muon":
        return rootopt_torch.Muon(groups, schedule=variant.schedule, **common)
    return rootopt_torch.ROOT(groups, table=table, fallback="error",
                              threshold_quantile=setup["threshold_quantile"], **common)


def newton_schulz_probe(variant, shape, setup):
    """The variant's Newton-Schulz on a given matrix (byte_lm_orthogonality.NewtonSchulzProbe):
    the optimizer with lr 1, no momentum, no weight decay, no soft-threshold, scale "none"."""
    rootopt_torch = import_rootopt(setup["build"])
    param = torch.zeros(shape, requires_grad=True)
    common = dict(lr=1.0, momentum=0.0, nesterov=False, weight_decay=0.0, scale="none",
                  precision=setup["precision"], **dict(variant.options))
    if variant.kind == "muon":
        optimizer = rootopt_torch.Muon([param], schedule=variant.schedule, **common)
    else:
        optimizer = rootopt_torch.ROOT([param], table=setup["tables"][variant.name],
                                       fallback="error", threshold_quantile=None, **common)
    return NewtonSchulzProbe(param, optimizer)


def lr_factor(step, steps, warmup, final):
    """Multiplier of the peak lr for 0-based optimizer step `step`: linear warm-up, then cosine
    decay from 1 to `final` (never 0, so every logged update is measurable)."""
    warmup_steps = int(round(warmup * steps))
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, steps - warmup_steps - 1)
    return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


# --- one training run --------------------------------------------------------------------------

_CORPUS_CACHE = {}


def corpus(name):
    if name not in _CORPUS_CACHE:
        _CORPUS_CACHE[name] = load_corpus(name)
    return _CORPUS_CACHE[name]


def train_run(spec, setup):
    """One run (spec: corpus, optimizer, lr, adamw_lr, seed); returns its curves and metrics.
    Timed: forward, backward and optimizer.step() of every step (wall and process CPU time), not
    the evaluations and orthogonality measurements."""
    torch.set_num_threads(setup["threads"])
    variant = VARIANT_BY_NAME[spec["optimizer"]]
    data = corpus(spec["corpus"])
    dims = setup["dims"]
    model = build_model(dims, spec["seed"])
    optimizer = make_optimizer(variant, model, spec["lr"], spec["adamw_lr"], setup,
                               setup["tables"].get(variant.name))
    factor = lambda i: lr_factor(i, setup["steps"], setup["warmup"], setup["final_lr"])  # noqa
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    generator = torch.Generator().manual_seed(spec["seed"])
    eval_x, eval_y = heldout_windows(data["heldout"], dims["seq_len"], setup["eval_windows"])
    watched_name, watched = largest_orthogonalized(model)
    quantile = setup["threshold_quantile"] if variant.kind == "root" else None
    probes = {} if variant.kind == "adamw" else {
        name: newton_schulz_probe(VARIANT_BY_NAME[name], watched.shape, setup)
        for name in setup["orthogonalizers"]}
    train_loss, heldout_curve, orthogonality = [], [], []
    wall = cpu = step_wall = 0.0
    diverged = False
    for step in range(1, setup["steps"] + 1):
        x, y = training_batch(data["train"], setup["batch_size"], dims["seq_len"], generator)
        measure = variant.kind != "adamw" and step % setup["ortho_every"] == 0
        t0, c0 = time.perf_counter(), time.process_time()
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if measure:
            before, lr = watched.detach().clone(), optimizer.param_groups[0]["lr"]
        t1 = time.perf_counter()
        optimizer.step()
        t2, c2 = time.perf_counter(), time.process_time()
        wall, cpu, step_wall = wall + t2 - t0, cpu + c2 - c0, step_wall + t2 - t1
        schedule.step()
        train_loss.append(loss.item())
        if not math.isfinite(train_loss[-1]):
            diverged = True
            break
        if measure:
            u = watched.grad + setup["momentum"] * optimizer.state[watched]["momentum_buffer"]
            orthogonality.append(dict(step=step, **measure_update(
                u, quantile, before, watched.detach(), lr, setup["weight_decay"], probes)))
        if step % setup["eval_every"] == 0 and step < setup["steps"]:
            heldout_curve.append((step, bits_per_byte(model, eval_x, eval_y)))
    steps_done = len(train_loss)
    final = float("nan")
    if not diverged:
        final = bits_per_byte(model, *heldout_windows(data["heldout"], dims["seq_len"],
                                                      setup["final_eval_windows"]))
        heldout_curve.append((steps_done, final))
    return dict(spec, train_loss=train_loss, heldout_curve=heldout_curve, heldout_bpb=final,
                diverged=diverged, orthogonality=orthogonality, watched=watched_name,
                watched_shape=list(watched.shape), wall_per_step=wall / steps_done,
                cpu_per_step=cpu / steps_done, optimizer_step_wall=step_wall / steps_done)


def _worker_init(build):
    # Workers are spawned (a fork would inherit torch's thread pool); they import the package
    # themselves.
    import_rootopt(build)


def run_all(specs, setup, progress, done):
    """Runs `specs` (setup["jobs"] at a time, each in its own process when > 1); returns their
    results in order."""
    if not specs:  # e.g. one seed on the sweep's corpus: the sweep ran them all
        return []
    if setup["jobs"] == 1 or len(specs) == 1:
        results = []
        for spec in specs:
            results.append(train_run(spec, setup))
            done += 1
            progress.update(done, describe(results[-1]))
        return results
    # torch.set_num_threads does not reach the OpenBLAS pool behind Debian's torch: each run had
    # a second busy thread (~45 % of a core), so two runs oversubscribed two cores. OpenBLAS reads
    # OPENBLAS_NUM_THREADS when a process loads it, so the spawned workers get it (a value the
    # user set is kept).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(setup["threads"]))
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(min(setup["jobs"], len(specs)), context,
                                                _worker_init, (setup["build"],)) as pool:
        futures = [pool.submit(train_run, spec, setup) for spec in specs]
        for future in concurrent.futures.as_completed(futures):
            done += 1
            progress.update(done, describe(future.result()))
        return [f.result() for f in futures]


def describe(run):
    return (f"{run['corpus']} {run['optimizer']} lr {run['lr']:g} seed {run['seed']}: "
            f"{run['heldout_bpb']:.3f} bits/byte")


# --- rootopt tune and audit --------------------------------------------------------------------

def tune_options(cli):
    """The option names `rootopt tune --help` lists."""
    r = subprocess.run([cli, "tune", "--help"], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"train_byte_lm: {cli} tune --help failed: {r.stderr.strip()}")
    return {word.split("=")[0].split(",")[-1] for line in r.stdout.splitlines()
            for word in line.split() if word.lstrip(",").startswith("--")}


def tune_arguments(variant, options):
    """The variant's tune arguments for this CLI: an option the CLI lacks is dropped when the CLI
    does what it asks anyway (IMPLIED_TUNE_OPTIONS), else refused."""
    args, items = [], list(variant.tune_args)
    while items:
        item = items.pop(0)
        value = items.pop(0) if items and not items[0].startswith("--") else None
        if item not in options:
            if (item, value) in IMPLIED_TUNE_OPTIONS:
                continue
            raise SystemExit(f"train_byte_lm: optimizer '{variant.name}' needs `rootopt tune "
                             f"{item}`, which this rootopt does not have; update rootopt")
        args += [item] + ([value] if value is not None else [])
    return args


def run_cli(command, log):
    print("$", " ".join(command), flush=True)
    with open(log, "w") as f:
        r = subprocess.run(command, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        with open(log) as f:
            raise SystemExit(f"train_byte_lm: {' '.join(command)} failed:\n{f.read()[-3000:]}")


def tune_and_audit(args, variants, config, out_dir):
    """Per ROOT variant: its table (`rootopt tune --model config`) and the audit of the model
    with it next to Muon and Polar Express. Returns ({name: table path}, {name: audit summary})."""
    if not os.access(args.cli, os.X_OK):
        raise SystemExit(f"rootopt CLI not found at {args.cli}: build rootopt first (tools/build)")
    options = tune_options(args.cli)
    tables, audits = {}, {}
    for variant in variants:
        if variant.kind != "root":
            continue
        table = os.path.join(out_dir, f"table-{variant.name}.h5")
        command = [args.cli, "tune", "--model", config, "--out", table,
                   *tune_arguments(variant, options), *args.tune_args.split()]
        run_cli(command, os.path.join(out_dir, f"tune-{variant.name}.log"))
        tables[variant.name] = table
        audit_dir = os.path.join(out_dir, f"audit-{variant.name}")
        run_cli([args.cli, "audit", "--model", config, "--table", table, "--schedules",
                 "muon,polar-express", "--precision", args.precision, "--out", audit_dir,
                 "--no-plot"], os.path.join(out_dir, f"audit-{variant.name}.log"))
        with open(os.path.join(audit_dir, "audit.json")) as f:
            audits[variant.name] = dict(command=" ".join(command),
                                        rows=audit_rows(json.load(f)))
    return tables, audits


def audit_rows(audit):
    """Per canonical shape: {schedule: (spectral rms, matrix rms, matrix exact rms, flags)}."""
    rows = {}
    for row in audit["rows"]:
        if not row["audited"]:
            continue
        key = "x".join(map(str, row["key"]))
        rows.setdefault(key, dict(count=0, layers=[], results={}))
        rows[key]["count"] += row["count"]
        rows[key]["layers"].append(row["pattern"])
        for r in row["results"]:
            rows[key]["results"][r["schedule"]] = dict(
                spectral=r["spectral"]["rms"], matrix=r["matrix"]["rms"],
                exact=r["matrix"]["exact_rms"], flags=r["flags"])
    return rows


# --- the benchmark -----------------------------------------------------------------------------

def best_lr(runs, optimizer):
    """The swept lr with the lowest held-out bits/byte (a diverged run counts as worst)."""
    swept = [r for r in runs if r["phase"] == "sweep" and r["optimizer"] == optimizer]
    return min(swept, key=lambda r: r["heldout_bpb"] if math.isfinite(r["heldout_bpb"])
               else math.inf)["lr"]


def machine_info():
    load = os.getloadavg()
    return dict(cpus=os.cpu_count(), load_average=[round(v, 2) for v in load])


def provenance(args):
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return dict(command=" ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:]),
                rootopt_commit=commit + ("+changes" if dirty else ""), torch=torch.__version__,
                numpy=np.__version__, arguments=vars(args))


def check_quick(runs):
    """--quick: every run's training loss fell (mean of the last 5 steps below the first 5)."""
    failures = [f"{r['corpus']} {r['optimizer']} seed {r['seed']}: training loss "
                f"{np.mean(r['train_loss'][:5]):.3f} -> {np.mean(r['train_loss'][-5:]):.3f}"
                for r in runs
                if r["diverged"] or not np.mean(r["train_loss"][-5:]) < np.mean(
                    r["train_loss"][:5]) - 0.1]
    for failure in failures:
        print(f"train_byte_lm --quick: loss did not fall: {failure}", file=sys.stderr)
    return not failures


def main(argv=None):
    args = parse_args(argv)
    start = time.monotonic()
    os.makedirs(args.out, exist_ok=True)
    config = quick_model_config(args.out) if args.quick else args.model_config
    dims = load_model_config(config)
    variants = [VARIANT_BY_NAME[name] for name in args.optimizers]
    try:
        corpora = {name: load_corpus(name)["info"] for name in args.corpora}
    except (datasets.DataMissing, ValueError) as error:
        raise SystemExit(f"train_byte_lm: {error}")
    import_rootopt(args.build)  # a missing build fails before any work
    info = dict(provenance(args), machine_start=machine_info(), model_config=config,
                dims=dims, corpora=corpora,
                variants=[dataclasses.asdict(v) for v in variants])
    tables, audits = tune_and_audit(args, variants, config, args.out)
    setup = dict(build=args.build, dims=dims, tables=tables, threads=args.threads,
                 jobs=args.jobs, orthogonalizers=[v.name for v in variants if v.kind != "adamw"],
                 **{k: getattr(args, k) for k in (
                     "steps", "batch_size", "warmup", "final_lr", "weight_decay", "momentum",
                     "threshold_quantile", "precision", "eval_every", "eval_windows",
                     "final_eval_windows", "ortho_every")})
    sweep_corpus, sweep_seed = args.corpora[0], args.seeds[0]
    grid = {v.name: (args.adamw_lrs if v.kind == "adamw" else args.lrs) for v in variants}
    total = (sum(len(g) for g in grid.values()) + len(variants) * (
        len(args.seeds) * len(args.corpora) - 1))
    progress = Progress("train_byte_lm", total)

    def spec(corpus_name, variant, lr, adamw_lr, seed, phase):
        return dict(corpus=corpus_name, optimizer=variant.name, lr=lr, adamw_lr=adamw_lr,
                    seed=seed, phase=phase)

    # Sweep: AdamW first, its best lr then drives the AdamW parameters of the others.
    runs = []
    adamw = [v for v in variants if v.kind == "adamw"]
    runs += run_all([spec(sweep_corpus, v, lr, lr, sweep_seed, "sweep")
                     for v in adamw for lr in grid[v.name]], setup, progress, len(runs))
    adamw_lr = best_lr(runs, adamw[0].name) if adamw else sorted(args.adamw_lrs)[
        len(args.adamw_lrs) // 2]
    others = [v for v in variants if v.kind != "adamw"]
    runs += run_all([spec(sweep_corpus, v, lr, adamw_lr, sweep_seed, "sweep")
                     for v in others for lr in grid[v.name]], setup, progress, len(runs))
    best = {v.name: best_lr(runs, v.name) for v in variants}
    # The slower Newton-Schulz runs first, so the parallel runs end together.
    seed_specs = [spec(c, v, best[v.name], best[v.name] if v.kind == "adamw" else adamw_lr, s,
                       "seeds")
                  for v in others + adamw for c in args.corpora for s in args.seeds
                  if (c, s) != (sweep_corpus, sweep_seed)]
    runs += run_all(seed_specs, setup, progress, len(runs))
    info.update(machine_end=machine_info(), seconds=time.monotonic() - start, audits=audits,
                best_lr=best, inner_adamw_lr=adamw_lr, runs=runs)
    results_path = os.path.join(args.out, "results.json")
    tmp = f"{results_path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(info, f)
    os.replace(tmp, results_path)
    report = byte_lm_report.Report(info, COMPARISONS, args.img_dir, args.report)
    report.write()
    print(report.summary())
    print(f"wrote {results_path}, {args.report} and plots in {args.img_dir} "
          f"({info['seconds']:.0f} s)")
    if args.quick and not check_quick(runs):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
