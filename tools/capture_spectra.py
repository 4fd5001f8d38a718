#!/usr/bin/python3
"""Capture singular-value spectra of Muon momentum matrices from real training (docs/spectra.md).

  capture_spectra.py train --model transformer --steps 400 --every 20 --out fit.h5 \
      --heldout-out heldout.h5 --heldout-after 0.7 [--save-matrices matrices.h5]
  capture_spectra.py summarize data/spectra/*/*.h5 [--plot docs/img/spectra.png]

`train` runs one demo model (byte-level transformer on the Jargon File from Debian's
jargon-text; MLP or CNN on Fashion-MNIST from dataset-fashion-mnist) with Muon and writes the
spectra of every orthogonalized weight's Nesterov update every --every steps. To capture your own
model, use rootopt_capture.SpectrumRecorder in your training loop (see docs/spectra.md).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from rootopt_capture import datasets, report, train  # noqa: E402

# Per-model defaults (steps, every, batch size, Muon lr, AdamW lr), chosen to take a few minutes
# of 2-core CPU each.
DEFAULTS = {
    "transformer": dict(steps=400, every=20, batch_size=16, lr=0.02, adamw_lr=3e-3),
    "mlp": dict(steps=600, every=25, batch_size=128, lr=0.02, adamw_lr=1e-3),
    "cnn": dict(steps=400, every=25, batch_size=128, lr=0.02, adamw_lr=1e-3),
}


def positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


def fraction(text):
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {text}")
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a demo model and capture its momentum spectra")
    t.add_argument("--model", choices=sorted(DEFAULTS), required=True)
    t.add_argument("--out", required=True, help="spectra HDF5 file (all captures, or the "
                   "captures up to --heldout-after when --heldout-out is given)")
    t.add_argument("--heldout-out", help="second file for the captures after --heldout-after")
    t.add_argument("--heldout-after", type=fraction, default=0.7,
                   help="fraction of --steps after which captures go to --heldout-out (0.7)")
    t.add_argument("--save-matrices", metavar="FILE.h5",
                   help="also save the last captured update matrices (2-D float32 per layer)")
    t.add_argument("--steps", type=positive(int))
    t.add_argument("--every", type=positive(int), help="capture every N steps")
    t.add_argument("--batch-size", type=positive(int))
    t.add_argument("--lr", type=positive(float), help="Muon learning rate")
    t.add_argument("--adamw-lr", type=positive(float), help="AdamW learning rate (other params)")
    t.add_argument("--momentum", type=fraction, default=0.95)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="cpu", help="torch device for training (cpu, cuda)")
    t.add_argument("--threads", type=positive(int), default=2, help="torch CPU threads (2)")
    t.add_argument("--text", default=datasets.JARGON_TEXT, help="text corpus (.txt or .gz)")
    t.add_argument("--fashion-mnist", default=datasets.FASHION_MNIST_DIR,
                   help="directory with the Fashion-MNIST IDX .gz files")
    t.add_argument("--d-model", type=positive(int), default=256)
    t.add_argument("--layers", type=positive(int), default=4)
    t.add_argument("--heads", type=positive(int), default=4)
    t.add_argument("--mlp-dim", type=positive(int), default=1024)
    t.add_argument("--seq-len", type=positive(int), default=128)

    s = sub.add_parser("summarize", help="print statistics of spectra files as a Markdown table")
    s.add_argument("files", nargs="+")
    s.add_argument("--plot", metavar="PNG", help="also plot spectra vs Marchenko-Pastur")

    args = parser.parse_args(argv)
    if args.command == "train":
        for key, value in DEFAULTS[args.model].items():
            if getattr(args, key) is None:
                setattr(args, key, value)
        if args.every > args.steps:
            parser.error(f"--every {args.every} exceeds --steps {args.steps}: nothing captured")
    return args


def run_train(args):
    import torch
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {args.device}: torch sees no CUDA device; use --device cpu")
    torch.set_num_threads(args.threads)
    capture = train.capture_transformer if args.model == "transformer" else train.capture_classifier
    recorder, summary = capture(args)
    provenance = {"command": " ".join(sys.argv), "seed": args.seed, "device": args.device, "steps": args.steps,
                  "every": args.every, "muon_lr": args.lr, "adamw_lr": args.adamw_lr,
                  **{k: v for k, v in summary.items()}}
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


def main(argv=None):
    args = parse_args(argv)
    try:
        if args.command == "train":
            run_train(args)
        else:
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
