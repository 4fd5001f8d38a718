"""The committed captured spectra (data/spectra/): they load through rootopt's `captured` family,
and the fit / held-out split holds whole models and whole corpora out (docs/spectra.md).

Reads every data/spectra/{fit,heldout}/*.h5 with h5py and checks: the source attributes
(model_id, architecture, corpus, optimizer) are present; every 1-D dataset is a spectrum of its
stated shape (min(rows, cols) finite, non-negative values in descending order, not all zero; the
rank-deficient ones hold exact zeros, see docs/spectra.md); no model_id and no corpus appears in
both sets; each set holds both optimizers and several sources; the whole directory stays small.
Then runs `rootopt eval` on captured:set=fit, captured:set=heldout and captured:file=<each file>,
so the C++ reader accepts every file. Usage: spectra_split_test.py DATA_DIR ROOTOPT_CLI
"""

import glob
import os
import subprocess
import sys

try:
    import h5py
    import numpy as np
except ImportError as error:  # CTest SKIP_RETURN_CODE
    print(f"skipped: {error}")
    sys.exit(77)

DATA, CLI = sys.argv[1:3]
SOURCE_ATTRIBUTES = ("model_id", "architecture", "corpus", "optimizer")
# docs/spectra.md promises "a few MB"; the committed set is about 5 MB.
MAX_TOTAL_BYTES = 8 << 20

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAIL: {message}")


def read_file(path):
    """(source attributes, number of spectra) of one file, checking every spectrum."""
    count = 0
    with h5py.File(path, "r") as f:
        source = {k: f.attrs.get(k) for k in SOURCE_ATTRIBUTES}
        check(all(isinstance(v, str) and v for v in source.values()),
              f"{path}: source attributes {source}")

        def visit(name, obj):
            nonlocal count
            if not (isinstance(obj, h5py.Dataset) and obj.ndim == 1):
                return
            s, a = obj[()], obj.attrs
            where = f"{path}:{name}"
            check(s.dtype == np.float64, f"{where}: float64")
            check(len(s) == min(a["rows"], a["cols"]), f"{where}: {len(s)} values for "
                  f"{a['rows']}x{a['cols']}")
            check(np.all(np.isfinite(s)) and s.min() >= 0 and s[0] > 0,
                  f"{where}: finite, non-negative, not all zero")
            check(np.all(np.diff(s) <= 0), f"{where}: descending")
            count += 1

        f.visititems(visit)
    check(count > 0, f"{path}: holds spectra")
    return source, count


sets = {}
for split in ("fit", "heldout"):
    files = sorted(glob.glob(os.path.join(DATA, split, "*.h5")))
    check(files, f"no files in {DATA}/{split}")
    sets[split] = [(path, *read_file(path)) for path in files]

for key in ("model_id", "corpus"):
    values = {split: {source[key] for _, source, _ in items} for split, items in sets.items()}
    both = values["fit"] & values["heldout"]
    check(not both, f"{key} in both fit and heldout: {sorted(both)}")
    print(f"{key}: fit {sorted(values['fit'])}; heldout {sorted(values['heldout'])}")
for split, items in sets.items():
    optimizers = {source["optimizer"] for _, source, _ in items}
    check(optimizers == {"muon", "adamw"}, f"{split}: optimizers {sorted(optimizers)}")
    models = {source["model_id"] for _, source, _ in items}
    check(len(models) >= 3, f"{split}: {len(models)} models")
    print(f"{split}: {len(items)} files, {sum(n for *_, n in items)} spectra")

total = sum(os.path.getsize(p) for items in sets.values() for p, *_ in items)
check(total <= MAX_TOTAL_BYTES, f"data/spectra holds {total} bytes, over {MAX_TOTAL_BYTES}")


def rootopt_eval(family):
    env = dict(os.environ, ROOTOPT_DATA_DIR=os.path.dirname(os.path.abspath(DATA)))
    r = subprocess.run([CLI, "eval", "--schedule", "polar-express", "--shape", "128x512",
                        "--samples", "16", "--matrix-samples", "0", "--precision", "fp64", "--family",
                        family], capture_output=True, text=True, env=env)
    check(r.returncode == 0 and f"spectra:   1 * {family}" in r.stdout
          and "mean RMS deviation" in r.stdout, f"rootopt eval --family {family}: "
          f"{r.stderr[-1000:]}")


for split, items in sets.items():
    rootopt_eval(f"captured:set={split}")
    for path, *_ in items:
        rootopt_eval(f"captured:file={os.path.abspath(path)}")

print("FAILED" if failures else "OK", f"({len(failures)} failures)")
sys.exit(1 if failures else 0)
