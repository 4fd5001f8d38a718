"""The table format as other tools see it: version-2 tables written by rootopt read with h5py and
h5dump, and tables written by h5py exactly as docs/table-format.md shows (version 2 with
checksums, version 2 with h5py's defaults, version 1) loaded by `rootopt inspect --json`, values
exact. Damaged hand-written tables are refused with the file and problem named.

usage: h5py_interop_test.py ROOTOPT_BINARY TABLE_FIXTURE_BINARY
"""
import json
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import h5py
import numpy as np

ROOTOPT = FIXTURE = None

# Polar Express as deployed (rootopt's built-in): a schedule the load-time checks accept.
POLAR_EXPRESS = np.array([
    [8.205160414005574, -22.90193498705605, 16.460724910180314],
    [4.066395159942775, -2.8611540867551426, 0.5183995226694741],
    [3.9095949044379155, -2.823351735039516, 0.5250369769390025],
    [3.2855640171986153, -2.415301959635945, 0.48529406552790866],
    [2.277873287083977, -1.619821765265441, 0.39848078704168355],
])


def inspect(*args):
    return subprocess.run([ROOTOPT, "inspect", *map(str, args)], capture_output=True, text=True)


def write_v2(path, shapes, steps, coef, checksummed=True, **fields):
    """A version-2 table as the docs' h5py example writes it. `fields` are the optional recipe
    datasets (normalization, form, restart_after, tail_steps, tail_precision), metrics
    ({name: values}) and provenance ({name: value}); `attrs` overrides root attributes."""
    opts = dict(fletcher32=True) if checksummed else {}
    libver = ("v110", "v110") if checksummed else None
    with h5py.File(path, "w", libver=libver) as f:
        attrs = fields.pop("attrs", {})
        f.attrs["format"] = attrs.get("format", np.bytes_("rootopt.coefficients"))
        f.attrs["format_version"] = attrs.get("format_version", np.int64(2))
        f.create_dataset("shapes", data=np.asarray(shapes, np.int64), **opts)
        f.create_dataset("steps", data=np.asarray(steps, np.int64), **opts)
        f.create_dataset("coefficients", data=coef, **opts)
        for name in ("normalization", "form", "restart_after", "tail_steps", "tail_precision"):
            if name in fields:
                f.create_dataset(name, data=np.asarray(fields.pop(name), np.int64), **opts)
        metrics = fields.pop("metrics", {})
        if metrics:
            names = np.array([n.encode() for n in metrics])
            f.create_dataset("metric_names", data=names, **opts)
            f.create_dataset("metrics", data=np.stack(list(metrics.values()), axis=1), **opts)
        provenance = fields.pop("provenance", {})
        if provenance:
            pairs = np.array([[k.encode(), v.encode()] for k, v in provenance.items()])
            f.create_dataset("provenance", data=pairs, **opts)
        assert not fields, fields


def padded(schedules):
    """(S, Kmax, 3) coefficients, NaN beyond each shape's steps."""
    kmax = max(len(s) for s in schedules)
    coef = np.full((len(schedules), kmax, 3), np.nan)
    for i, s in enumerate(schedules):
        coef[i, :len(s)] = s
    return coef


class Interop(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = Path(self.dir.name)

    def tearDown(self):
        self.dir.cleanup()

    def test_rootopt_tables_read_with_h5py(self):
        subprocess.run([FIXTURE, self.path], check=True)
        for name in ("good.h5", "recipes.h5"):
            with h5py.File(self.path / name, "r") as f:
                # Fixed-length strings: h5py reads them as bytes.
                self.assertEqual(f.attrs["format"], b"rootopt.coefficients")
                self.assertEqual(int(f.attrs["format_version"]), 2)
                self.assertEqual(sorted(f.attrs), ["format", "format_version"])
                shapes, steps, coef = f["shapes"][:], f["steps"][:], f["coefficients"][:]
                self.assertEqual((shapes.dtype, steps.dtype, coef.dtype),
                                 (np.int64, np.int64, np.float64))
                self.assertEqual(coef.shape, (len(shapes), steps.max(), 3))
                self.assertTrue(np.all(shapes[:, 0] <= shapes[:, 1]))
                names = [n.decode() for n in f["metric_names"][:]]
                metrics = f["metrics"][:]
                provenance = {k.decode(): v.decode() for k, v in f["provenance"][:]}
                recipe = {k: f[k][:] for k in ("normalization", "form", "restart_after",
                                               "tail_steps", "tail_precision")}
                for dataset in f.values():
                    self.assertEqual(dataset.fletcher32, True, dataset.name)
            self.assertIn("created", provenance)
            # The same numbers through rootopt's own reader.
            out = json.loads(inspect("--json", self.path / name).stdout)
            self.assertEqual(out["format_version"], 2)
            self.assertEqual(out["attributes"], provenance)
            for i, entry in enumerate(out["shapes"]):
                k = int(steps[i])
                self.assertEqual([entry["rows"], entry["cols"]], shapes[i].tolist())
                r = entry["recipe"]
                self.assertEqual(r["steps"], k)
                self.assertEqual(r["coefficients"], coef[i, :k].tolist())
                self.assertTrue(np.all(np.isnan(coef[i, k:])))  # NaN padding
                self.assertEqual(r["normalization"],
                                 ["frobenius", "schatten4", "schatten8"][recipe["normalization"][i]])
                self.assertEqual(r["form"], ["standard", "gram"][recipe["form"][i]])
                self.assertEqual(r["restarts"],
                                 [j + 1 for j in np.flatnonzero(recipe["restart_after"][i])])
                self.assertEqual(r["tail_steps"], recipe["tail_steps"][i])
                self.assertEqual(r["tail_precision"], ["fp32", "tf32"][recipe["tail_precision"][i]])
                for m, metric in enumerate(names):
                    want = None if np.isnan(metrics[i, m]) else metrics[i, m]
                    self.assertEqual(entry["metrics"][metric], want)

    @unittest.skipIf(shutil.which("h5dump") is None, "h5dump not installed")
    def test_rootopt_table_reads_with_h5dump(self):
        subprocess.run([FIXTURE, self.path], check=True)
        out = subprocess.run(["h5dump", "-d", "/coefficients", self.path / "good.h5"],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("8.20516", out.stdout)
        out = subprocess.run(["h5dump", "-A", self.path / "good.h5"], capture_output=True,
                             text=True)
        self.assertIn('"rootopt.coefficients"', out.stdout)

    def test_h5py_version2_tables_load_bit_exact(self):
        rng = np.random.default_rng(20261123)
        shapes = [[768, 3072], [256, 256], [1024, 4096]]
        steps = [5, 3, 4]
        # Polar Express with every coefficient perturbed by a relative 1e-3: random bits.
        schedules = [POLAR_EXPRESS[:k] * (1 + 1e-3 * rng.normal(size=(k, 3))) for k in steps]
        fit = np.array([0.01, np.nan, 0.03])
        fields = dict(normalization=[2, 1, 0], form=[1, 0, 0],
                      restart_after=[[0, 1, 0, 0, 0], [0] * 5, [0] * 5],
                      tail_steps=[1, 0, 2], tail_precision=[1, 0, 0],
                      metrics={"fit_rms": fit}, provenance={"seed": "42", "note": "héllo"})
        for checksummed in (True, False):  # h5py's defaults: no checksums, contiguous data
            name = f"mine{int(checksummed)}.h5"
            write_v2(self.path / name, shapes, steps, padded(schedules), checksummed,
                     **{k: (dict(v) if isinstance(v, dict) else v) for k, v in fields.items()})
            result = inspect("--json", self.path / name)
            self.assertEqual(result.returncode, 0, result.stderr)
            out = json.loads(result.stdout)
            self.assertEqual(out["attributes"], {"seed": "42", "note": "héllo"})
            by_shape = {(e["rows"], e["cols"]): e for e in out["shapes"]}
            for i, (rows, cols) in enumerate(shapes):
                entry = by_shape[(rows, cols)]
                # JSON carries shortest round-trip decimals, so equality is exact.
                self.assertEqual(entry["recipe"]["coefficients"], schedules[i].tolist())
                want = None if np.isnan(fit[i]) else fit[i]
                self.assertEqual(entry["metrics"]["fit_rms"], want)
            r = by_shape[(768, 3072)]["recipe"]
            self.assertEqual((r["normalization"], r["form"], r["restarts"], r["tail_steps"],
                              r["tail_precision"]), ("schatten8", "gram", [2], 1, "tf32"))

    def test_h5py_version1_table_loads(self):
        # The version-1 example of earlier docs: variable-length strings, one K, /metrics group.
        with h5py.File(self.path / "v1.h5", "w") as f:
            f.attrs["format"] = "rootopt.coefficients"
            f.attrs["format_version"] = 1
            f.attrs["steps"] = 1
            f.attrs["seed"] = 42
            f["shapes"] = np.array([[1024, 4096]], dtype=np.int64)
            f["coefficients"] = np.array([[[3.4445, -4.7750, 2.0315]]])
            f["metrics/fit_rms"] = np.array([0.01])
        result = inspect("--json", self.path / "v1.h5")
        self.assertEqual(result.returncode, 0, result.stderr)
        out = json.loads(result.stdout)
        self.assertEqual(out["format_version"], 1)
        self.assertEqual(out["attributes"], {"seed": "42", "steps": "1"})
        entry = out["shapes"][0]["recipe"]
        self.assertEqual((entry["normalization"], entry["form"], entry["steps"]),
                         ("frobenius", "standard", 1))
        self.assertEqual(entry["coefficients"], [[3.4445, -4.7750, 2.0315]])
        self.assertEqual(out["shapes"][0]["metrics"]["fit_rms"], 0.01)

    def test_h5py_damaged_tables_are_rejected(self):
        good = padded([POLAR_EXPRESS, POLAR_EXPRESS[:3]])
        nan_step = good.copy()
        nan_step[0, 2, 1] = np.nan
        zero_padding = good.copy()
        zero_padding[1, 4] = 0.0
        exploding = good.copy()
        exploding[0, 0, 0] *= 16  # one flipped exponent bit
        cases = {
            "float32.h5": (dict(coef=good.astype(np.float32)), "wrong type"),
            "nan.h5": (dict(coef=nan_step), "non-finite coefficient b"),
            "padding.h5": (dict(coef=zero_padding), "must be NaN padding"),
            "exploding.h5": (dict(coef=exploding), "composed map reaches"),
            "dup.h5": (dict(shapes=[[8, 8], [8, 8]]), "duplicate shape 8x8"),
            "tall.h5": (dict(shapes=[[16, 8], [8, 8]]), "not canonical"),
            "steps.h5": (dict(steps=[5, 65]), "/steps = 65"),
            "code.h5": (dict(normalization=[0, 3]), "unknown /normalization code 3"),
            "restart.h5": (dict(restart_after=[[1, 0, 0, 0, 0], [0] * 5]),
                           "restarts are only defined for the gram form"),
            "vlen.h5": (dict(attrs={"format": "rootopt.coefficients"}),  # a Python str
                        "variable-length string"),
        }
        for name, (override, message) in cases.items():
            args = dict(shapes=[[8, 8], [16, 16]], steps=[5, 3], coef=good)
            args.update(override)
            write_v2(self.path / name, args.pop("shapes"), args.pop("steps"), args.pop("coef"),
                     **args)
            result = inspect(self.path / name)
            self.assertNotEqual(result.returncode, 0, name)
            self.assertIn(name, result.stderr)
            self.assertIn(message, result.stderr, name)

    def test_invalid_utf8_fails_the_same_with_and_without_json(self):
        write_v2(self.path / "utf8.h5", [[8, 8]], [5], padded([POLAR_EXPRESS]),
                 provenance={"seed": "ok"})
        with h5py.File(self.path / "utf8.h5", "r+") as f:
            del f["provenance"]
            f.create_dataset("provenance", data=np.array([[b"seed", b"7\xff"]]), fletcher32=True)
        text, as_json = inspect(self.path / "utf8.h5"), inspect("--json", self.path / "utf8.h5")
        self.assertNotEqual(text.returncode, 0)
        self.assertEqual((text.returncode, text.stderr), (as_json.returncode, as_json.stderr))
        self.assertIn("not valid UTF-8", text.stderr)


if __name__ == "__main__":
    ROOTOPT, FIXTURE = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
