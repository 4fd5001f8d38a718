"""Tests of examples/train_byte_lm.py (run by CTest): its orthogonality measurement against an
independent fp64 reference, and the --quick benchmark end to end (real `rootopt tune` and
`rootopt audit` with reduced settings, every optimizer, both corpora, 2 seeds).

Usage: byte_lm_smoke_test.py EXAMPLE BUILD_DIR ROOTOPT_CLI. Skipped (77) without torch, h5py or
the corpora (Debian jargon-text and fortunes; tools/install-deps installs them).
"""

import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile

try:
    import h5py  # noqa: F401  (rootopt tables)
    import numpy as np
    import torch
except ImportError as error:
    print(f"skipped: {error}")
    sys.exit(77)

EXAMPLE, BUILD, CLI = sys.argv[1:4]
spec = importlib.util.spec_from_file_location("train_byte_lm", EXAMPLE)
lm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lm)  # puts examples/ on sys.path
import byte_lm_orthogonality as ortho  # noqa: E402
missing = [name for name in lm.CORPORA if not lm.corpus_files(name)
           or not all(os.path.isfile(f) for f in lm.corpus_files(name))]
if missing:
    print(f"skipped: corpora not installed: {', '.join(missing)} (tools/install-deps)")
    sys.exit(77)

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAIL: {message}")


MUON = (3.4445, -4.7750, 2.0315)


def reference_update(u, quantile):
    """Independent fp64 ROOT step on U (momentum and Nesterov already applied): numpy's linear
    quantile, clamp, Frobenius normalisation, 5 Muon quintic steps; and the fp64 spectral error
    RMS(p(s_i) - 1) of the composed scalar map on the singular values of X0."""
    u = u.astype(np.float64)
    eps = np.quantile(np.abs(u), quantile, method="linear")
    b = np.clip(u, -eps, eps)
    x = b / np.linalg.norm(b)
    wide = x.T if x.shape[0] > x.shape[1] else x
    s = np.linalg.svd(wide, compute_uv=False)
    for a, bb, c in [MUON] * 5:
        g = wide @ wide.T
        wide = a * wide + (bb * g + c * g @ g) @ wide
        s = a * s + bb * s ** 3 + c * s ** 5
    return (wide.T if x.shape[0] > x.shape[1] else wide), b, float(np.sqrt(np.mean((s - 1) ** 2)))


def test_measurement():
    """The benchmark's recovery of the applied update and its orthogonality error, on a real
    runtime step (fp32 Newton-Schulz, Muon triple, quantile soft-threshold), against the fp64
    reference. Tolerance (RMS per sqrt(r)): the recovery's own fp32 rounding bound (~5e-5 here:
    lr 0.05, |theta| ~ 1) plus 1e-5 for the fp32 Newton-Schulz, which differs from fp64 by ~4e-6
    at these sizes (5 steps, inner dimensions <= 40, coefficients <= 4.8, unit roundoff 6e-8)."""
    rootopt_torch = lm.import_rootopt(BUILD)
    generator = torch.Generator().manual_seed(1234)
    for shape in ((40, 24), (24, 40)):  # tall (processed transposed) and wide
        param = torch.randn(shape, generator=generator)
        grad = torch.randn(shape, generator=generator)
        grad[0, :3] *= 30  # outliers for the soft-threshold
        lr, wd, momentum = 0.05, 0.1, 0.95
        optimizer = rootopt_torch.ROOT([param], table=None, fallback="muon", lr=lr,
                                       momentum=momentum, weight_decay=wd, precision="fp32",
                                       threshold_quantile=0.9)
        param.grad = grad.clone()
        before = param.detach().clone()
        optimizer.step()
        # Rebuilt from the state as the benchmark does; from zero momentum M' = g, U = (1+mu) g.
        state_u = param.grad + momentum * optimizer.state[param]["momentum_buffer"]
        got = ortho.measure_update(state_u, 0.9, before, param.detach(), lr, wd, {})
        u = (grad * (1 + momentum)).numpy()
        x_ref, b_ref, error_ref = reference_update(u, 0.9)
        tolerance = got["rounding_bound"] + 1e-5
        check(abs(got["ns_error"] - error_ref) < tolerance,
              f"{shape}: ns_error {got['ns_error']:.6f} vs fp64 spectral {error_ref:.6f}")
        check(got["rounding_bound"] < 2e-4, f"{shape}: rounding bound {got['rounding_bound']}")
        scale = 0.2 * math.sqrt(max(shape))
        x, _ = ortho.applied_update(before, param.detach(), lr, wd, scale)
        deviation = np.linalg.norm(x - x_ref) / math.sqrt(min(shape))
        check(deviation < tolerance, f"{shape}: recovered update vs fp64 reference {deviation:.2e}")
        # Against the polar factor of U (the unclamped momentum) the error is larger: the
        # clamp changed the direction.
        polar_u = ortho.polar_factor(u)
        check(abs(got["momentum_error"] - ortho.orthogonality_error(x_ref, polar_u)) < tolerance,
              f"{shape}: momentum_error {got['momentum_error']}")
        check(got["momentum_error"] > got["ns_error"] + 0.05,
              f"{shape}: clamping 10 % of U should move its polar factor")
        # The probe runs the same Newton-Schulz on a given matrix.
        variant = lm.Variant("m", "muon", "", schedule="muon")
        probe = lm.newton_schulz_probe(variant, shape, dict(build=BUILD, precision="fp32"))
        deviation = np.linalg.norm(probe(torch.from_numpy(b_ref).float()) - x_ref)
        check(deviation / math.sqrt(min(shape)) < 1e-5, f"{shape}: probe vs fp64 {deviation:.2e}")


def test_split_and_schedule():
    data = lm.load_corpus("jargon")
    info = data["info"]
    check(info["train_bytes"] + info["heldout_bytes"] == info["bytes"], "split loses bytes")
    check(abs(info["heldout_bytes"] / info["bytes"] - 0.1) < 0.01,
          f"held-out fraction {info['heldout_bytes'] / info['bytes']:.3f}")
    raw = lm.read_bytes(lm.CORPORA["jargon"]["paths"][0])
    block = lm.HELDOUT_BLOCK
    check(bytes(data["heldout"][:block].numpy()) == raw[9 * block:10 * block],
          "held-out split starts with block 9")
    factors = [lm.lr_factor(i, 100, 0.1, 0.1) for i in range(100)]
    check(factors[0] == 0.1 and factors[9] == 1.0 and abs(factors[-1] - 0.1) < 1e-12
          and all(a >= b for a, b in zip(factors[9:], factors[10:])),
          f"lr schedule {factors[:3]} ... {factors[-3:]}")


def test_quick():
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([sys.executable, EXAMPLE, "--quick", "--build", BUILD, "--cli", CLI,
                            "--out", tmp], capture_output=True, text=True)
        print(r.stdout[-2500:])
        check(r.returncode == 0, f"--quick failed: {r.stderr[-3000:]}")
        if r.returncode != 0:
            return
        with open(os.path.join(tmp, "results.json")) as f:
            data = json.load(f)
        names = [v.name for v in lm.VARIANTS]
        seeds = (0, 1)
        runs = {(r["corpus"], r["optimizer"], r["seed"]): r for r in data["runs"]}
        probe_differences = []
        expected = [(c, o, s) for c in ("jargon", "fortunes") for o in names for s in seeds]
        check(sorted(runs) == sorted(expected), f"runs {sorted(runs)}")
        for key, run in runs.items():
            loss = run["train_loss"]
            check(np.mean(loss[-5:]) < np.mean(loss[:5]) - 0.1, f"{key}: loss did not fall")
            # Uniform over 256 bytes is 8 bits/byte; 40 steps reach ~4.3-4.8.
            check(run["heldout_bpb"] < 6, f"{key}: held-out {run['heldout_bpb']} bits/byte")
            if run["optimizer"] == "adamw":
                check(not run["orthogonality"], f"{key}: AdamW has no Newton-Schulz input")
                continue
            check(len(run["orthogonality"]) == 4, f"{key}: orthogonality logged every 10 steps")
            for point in run["orthogonality"]:
                own = point["same_input"][run["optimizer"]]
                probe_differences.append(abs(own - point["ns_error"]) / point["ns_error"])
                # The recovery's rounding moves the error by at most the bound: keep it small
                # against the smallest error measured (ROOT's, ~0.014 here).
                check(point["rounding_bound"] < 0.05 * point["ns_error"],
                      f"{key}: recovery rounding {point['rounding_bound']} vs error")
                # The probe repeats the applied Newton-Schulz on the rebuilt input; they differ
                # only by the recovery's rounding and bf16 roundings flipped by an fp32 ulp in U.
                # One flipped rounding moves the error by ~1 % (measured up to 1.2 %), so a point
                # may differ by a few percent; most agree to ~1e-6 (checked below).
                check(abs(own - point["ns_error"]) < 0.03 * point["ns_error"],
                      f"{key}: probe {own} vs applied {point['ns_error']}")
        check(float(np.median(probe_differences)) < 1e-4,
              f"probe vs applied: median relative difference {np.median(probe_differences)}")
        shapes = {key for audit in data["audits"].values() for key in audit["rows"]}
        check(shapes == {"64x64", "64x256"}, f"audited shapes {shapes}")
        with open(os.path.join(tmp, "report.md")) as f:
            report = f.read()
        check("±" in report and "seeds won" in report and "not a result" in report,
              "report with mean ± std, paired differences and the --quick warning")
        for name in ("loss", "sweep", "orthogonality"):
            path = os.path.join(tmp, f"byte_lm_{name}.png")
            check(os.path.isfile(path) and os.path.getsize(path) > 0, f"plot {path}")


def test_bad_input():
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([sys.executable, EXAMPLE, "--quick", "--out", tmp, "--build",
                            os.path.join(tmp, "absent")], capture_output=True, text=True)
        check(r.returncode != 0 and "build rootopt first" in r.stderr, "missing build is named")
        config = os.path.join(tmp, "bad.json")
        with open(config, "w") as f:
            json.dump({"model_type": "llama", "hidden_size": 64}, f)
        r = subprocess.run([sys.executable, EXAMPLE, "--model-config", config, "--out", tmp,
                            "--build", BUILD], capture_output=True, text=True)
        check(r.returncode != 0 and "num_hidden_layers" in r.stderr and config in r.stderr,
              f"bad model config is named: {r.stderr[-500:]}")
        r = subprocess.run([sys.executable, EXAMPLE, "--lrs", "0.01", "--out", tmp],
                           capture_output=True, text=True)
        check(r.returncode != 0 and "same number of points" in r.stderr, "unequal sweeps refused")


test_measurement()
test_split_and_schedule()
test_bad_input()
test_quick()
print("FAILED" if failures else "OK", f"({len(failures)} failures)")
sys.exit(1 if failures else 0)
