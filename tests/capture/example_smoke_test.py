"""Smoke test of examples/train_fashion_mnist.py (run by CTest, ~30 s): the real tuning step
(`rootopt tune`, reduced sample counts) and 20 steps of AdamW, Muon and ROOT on the MLP, 2 seeds.

Checks what the example promises: the table holds exactly the MLP's ROOT-routed shapes, every
(optimizer, seed) run is reported, each learns (test accuracy above 0.5 after 20 steps of batch
128; chance is 0.1, every optimizer measured 0.70-0.74 here), the summary prints mean ± std,
the plot is written; a missing build is a clear error. Skipped (77) without torch, h5py or
Fashion-MNIST. Usage: example_smoke_test.py EXAMPLE BUILD_DIR ROOTOPT_CLI
"""

import json
import os
import subprocess
import sys
import tempfile

try:
    import h5py  # noqa: F401  (the example reads the table with it)
    import torch  # noqa: F401
except ImportError as error:
    print(f"skipped: {error}")
    sys.exit(77)

EXAMPLE, BUILD, CLI = sys.argv[1:4]
if not os.path.isdir("/usr/share/datasets/fashion-mnist"):
    print("skipped: Fashion-MNIST not installed (Debian package dataset-fashion-mnist)")
    sys.exit(77)

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAIL: {message}")


with tempfile.TemporaryDirectory() as tmp:
    results, plot = os.path.join(tmp, "r.json"), os.path.join(tmp, "loss.png")
    r = subprocess.run([sys.executable, EXAMPLE, "--build", BUILD, "--cli", CLI,
                        "--models", "mlp", "--steps", "20", "--eval-every", "10", "--seeds", "0",
                        "1", "--plot", plot, "--json", results, "--tune-args",
                        "--samples 16 --heldout-samples 16 --random-starts 1 "
                        "--validation-matrices 0"], capture_output=True, text=True)
    print(r.stdout[-3000:])
    check(r.returncode == 0, f"example failed: {r.stderr[-3000:]}")
    if r.returncode == 0:
        with open(results) as f:
            data = json.load(f)
        shapes = sorted(map(tuple, data["table"]["shapes"]))
        check(shapes == [(128, 256), (256, 784)], f"table shapes {shapes}")
        runs = {(run["optimizer"], run["seed"]): run for run in data["runs"]}
        check(sorted(runs) == [(o, s) for o in ("adamw", "muon", "root") for s in (0, 1)],
              f"runs {sorted(runs)}")
        for key, run in runs.items():
            check(run["test_accuracy"] > 0.5, f"{key}: test accuracy {run['test_accuracy']}")
            check(run["train_loss"][-1] < run["train_loss"][0], f"{key}: loss did not decrease")
        check("±" in r.stdout and os.path.getsize(plot) > 0, "summary with mean ± std and plot")
    r = subprocess.run([sys.executable, EXAMPLE, "--build", os.path.join(tmp, "absent")],
                       capture_output=True, text=True)
    check(r.returncode != 0 and "build rootopt first" in r.stderr, "missing build is named")
print("FAILED" if failures else "OK", f"({len(failures)} failures)")
sys.exit(1 if failures else 0)
