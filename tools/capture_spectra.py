#!/usr/bin/python3
"""Capture singular-value spectra of Muon momentum matrices from real training (docs/spectra.md).

  capture_spectra.py train --model llama --corpus fortunes --optimizer muon --steps 300 \
      --capture-at 5,10,20,40,80,150,300 --out spectra.h5 [--save-matrices matrices.h5]
  capture_spectra.py summarize data/spectra/*/*.h5 [--plot docs/img/spectra.png]
  capture_spectra.py label FILE.h5 --model-id ID --architecture A --corpus C --optimizer O

`train` runs one demo model (byte-level GPT-style or Llama-style transformer or LSTM on a text
corpus from a Debian package; MLP or CNN on Fashion-MNIST from dataset-fashion-mnist) with Muon
or AdamW and writes the spectra of every orthogonalized weight's Nesterov update every --every
steps or at the --capture-at steps. `label` sets the source attributes (model, corpus,
optimizer) that the fit / held-out split is checked on, for files made by other tools. To capture
your own model, use rootopt_capture.SpectrumRecorder in your training loop (docs/spectra.md).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from rootopt_capture import atomic, datasets, report, train  # noqa: E402
from rootopt_capture.arguments import positive  # noqa: E402

# Per-model defaults (steps, every, batch size, Muon lr, AdamW lr). The AdamW lr applies to the
# non-orthogonalized weights under --optimizer muon and to all weights under --optimizer adamw.
DEFAULTS = {
    "transformer": dict(steps=400, every=20, batch_size=16, lr=0.02, adamw_lr=3e-3),
    "llama": dict(steps=400, every=20, batch_size=16, lr=0.02, adamw_lr=3e-3),
    "lstm": dict(steps=400, every=20, batch_size=16, lr=0.02, adamw_lr=3e-3),
    "mlp": dict(steps=600, every=25, batch_size=128, lr=0.02, adamw_lr=1e-3),
    "cnn": dict(steps=400, every=25, batch_size=128, lr=0.02, adamw_lr=1e-3),
}
# The architecture family each --model trains (file attribute `architecture`).
ARCHITECTURES = {"transformer": "gpt", "llama": "llama", "lstm": "lstm", "mlp": "mlp",
                 "cnn": "cnn"}
# File attributes naming a run's source; the fit / held-out split keeps model_id and corpus apart.
SOURCE_ATTRIBUTES = ("model_id", "architecture", "corpus", "optimizer")


def fraction(text):
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {text}")
    return value


def step_list(text):
    try:
        steps = sorted({int(v) for v in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated steps, got {text}") from None
    if steps[0] < 1:
        raise argparse.ArgumentTypeError(f"steps must be >= 1, got {text}")
    return steps


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a demo model and capture its momentum spectra")
    t.add_argument("--model", choices=sorted(DEFAULTS), required=True,
                   help="transformer (GPT-style), llama (Llama-style), lstm: byte-level LMs on "
                   "--corpus; mlp, cnn: Fashion-MNIST classifiers")
    t.add_argument("--optimizer", choices=train.OPTIMIZERS, default="muon",
                   help="muon: Muon on the orthogonalized weights, AdamW on the rest; adamw: "
                   "AdamW on all weights, the recorder keeps its own momentum (muon)")
    t.add_argument("--out", required=True, help="spectra HDF5 file (all captures, or the "
                   "captures up to --heldout-after when --heldout-out is given)")
    t.add_argument("--heldout-out", help="second file for the captures after --heldout-after")
    t.add_argument("--heldout-after", type=fraction, default=0.7,
                   help="fraction of --steps after which captures go to --heldout-out (0.7)")
    t.add_argument("--save-matrices", metavar="FILE.h5",
                   help="also save the last captured update matrices (2-D float32 per layer)")
    t.add_argument("--steps", type=positive(int))
    t.add_argument("--every", type=positive(int), help="capture every N steps")
    t.add_argument("--capture-at", type=step_list, metavar="S1,S2,...",
                   help="capture at these steps instead of every --every")
    t.add_argument("--batch-size", type=positive(int))
    t.add_argument("--lr", type=positive(float), help="Muon learning rate")
    t.add_argument("--adamw-lr", type=positive(float), help="AdamW learning rate (other params)")
    t.add_argument("--momentum", type=fraction, default=0.95)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="cpu", help="torch device for training (cpu, cuda)")
    t.add_argument("--threads", type=positive(int), default=2, help="torch CPU threads (2)")
    t.add_argument("--corpus", choices=sorted(datasets.CORPORA), default="jargon",
                   help="text corpus from a Debian package (jargon)")
    t.add_argument("--text", help="train on this text file (.txt or .gz) instead of --corpus")
    t.add_argument("--fashion-mnist", default=datasets.FASHION_MNIST_DIR,
                   help="directory with the Fashion-MNIST IDX .gz files")
    t.add_argument("--d-model", type=positive(int), default=256)
    t.add_argument("--layers", type=positive(int), default=4)
    t.add_argument("--heads", type=positive(int), default=4)
    t.add_argument("--kv-heads", type=positive(int),
                   help="llama: key/value heads (grouped-query attention; default --heads)")
    t.add_argument("--mlp-dim", type=positive(int),
                   help="MLP width (default 4 * d-model; llama: 8/3 * d-model rounded up to 32)")
    t.add_argument("--embed-dim", type=positive(int), default=128,
                   help="lstm: byte embedding width (the hidden size is --d-model)")
    t.add_argument("--seq-len", type=positive(int), default=128)

    s = sub.add_parser("summarize", help="print the files, sources and statistics of spectra "
                       "files as Markdown tables")
    s.add_argument("files", nargs="+")
    s.add_argument("--plot", metavar="PNG", help="also plot the spectra by source")
    s.add_argument("--by-shape", action="store_true",
                   help="also print statistics per file and weight shape")

    lab = sub.add_parser("label", help="set a spectra file's source attributes (model_id, "
                         "architecture, corpus, optimizer)")
    lab.add_argument("file")
    for key in SOURCE_ATTRIBUTES:
        lab.add_argument(f"--{key.replace('_', '-')}", required=True)

    args = parser.parse_args(argv)
    if args.command == "train":
        if args.capture_at and args.every:
            parser.error("give --every or --capture-at, not both")
        for key, value in DEFAULTS[args.model].items():
            if getattr(args, key) is None:
                setattr(args, key, value)
        if args.capture_at:
            if args.capture_at[-1] > args.steps:
                parser.error(f"--capture-at step {args.capture_at[-1]} exceeds "
                             f"--steps {args.steps}")
        elif args.every > args.steps:
            parser.error(f"--every {args.every} exceeds --steps {args.steps}: nothing captured")
    return args


def run_train(args):
    import torch
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {args.device}: torch sees no CUDA device; use --device cpu")
    torch.set_num_threads(args.threads)
    classifier = args.model in ("mlp", "cnn")
    capture = train.capture_classifier if classifier else train.capture_text_model
    recorder, model, summary = capture(args)
    provenance = {"command": " ".join(sys.argv), "seed": args.seed, "device": args.device,
                  "steps": args.steps, "captured_steps": recorder.steps(),
                  "adamw_lr": args.adamw_lr, "model_id": model.model_id(),
                  "architecture": ARCHITECTURES[args.model], "optimizer": args.optimizer,
                  "corpus": "fashion-mnist" if classifier else (args.text or args.corpus),
                  **summary}
    if args.optimizer == "muon":
        provenance["muon_lr"] = args.lr
    if not args.capture_at:
        provenance["every"] = args.every
    if args.heldout_out:
        split = int(args.steps * args.heldout_after)
        n_fit = recorder.save(args.out, max_step=split, attributes=provenance)
        n_held = recorder.save(args.heldout_out, min_step=split + 1, attributes=provenance)
        print(f"wrote {n_fit} spectra (steps <= {split}) to {args.out}, "
              f"{n_held} (steps > {split}) to {args.heldout_out}")
    else:
        print(f"wrote {recorder.save(args.out, attributes=provenance)} spectra to {args.out}")
    if args.save_matrices:
        count = recorder.save_matrices(args.save_matrices, attributes=provenance)
        print(f"wrote {count} matrices to {args.save_matrices}")
    print(", ".join(f"{k} {v:.4g}" for k, v in summary.items()))


def run_label(args):
    """Rewrites the file with the source attributes set (copy, edit, rename: atomic)."""
    report.read_spectra(args.file)  # raises ValueError unless it holds spectra
    with atomic.atomic_edit(args.file) as f:
        for key in SOURCE_ATTRIBUTES:
            f.attrs[key] = getattr(args, key)
    print(f"labelled {args.file}: " + ", ".join(f"{k} {getattr(args, k)}"
                                                for k in SOURCE_ATTRIBUTES))


def main(argv=None):
    args = parse_args(argv)
    try:
        if args.command == "train":
            run_train(args)
        elif args.command == "label":
            run_label(args)
        else:
            print(report.file_table(args.files))
            print()
            print(report.source_table(args.files))
            if args.by_shape:
                print()
                print(report.markdown_table(report.statistics(args.files)))
            if args.plot:
                report.plot(args.files, args.plot)
                print(f"wrote {args.plot}")
    except (datasets.DataMissing, ValueError, OSError, KeyError) as error:
        print(f"capture_spectra: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
