"""The table format as other tools see it: tables written by rootopt read with h5py, and tables
written by h5py (as docs/table-format.md shows) loaded by `rootopt inspect --json`, values exact.

usage: h5py_interop_test.py ROOTOPT_BINARY TABLE_FIXTURE_BINARY
"""
import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import h5py
import numpy as np

ROOTOPT = FIXTURE = None


def inspect(*args):
    return subprocess.run([ROOTOPT, "inspect", *map(str, args)], capture_output=True, text=True)


def write_table(path, shapes, coefficients, metrics=None, coefficient_dtype=np.float64):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "rootopt.coefficients"
        f.attrs["format_version"] = 1
        f.attrs["steps"] = coefficients.shape[1]
        f.attrs["seed"] = 42
        f["shapes"] = np.asarray(shapes, dtype=np.int64)
        f["coefficients"] = coefficients.astype(coefficient_dtype)
        for name, values in (metrics or {}).items():
            f["metrics/" + name] = values


class Interop(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = Path(self.dir.name)

    def tearDown(self):
        self.dir.cleanup()

    def test_rootopt_table_reads_with_h5py(self):
        subprocess.run([FIXTURE, self.path], check=True)
        with h5py.File(self.path / "good.h5", "r") as f:
            self.assertEqual(f.attrs["format"], "rootopt.coefficients")  # str, not bytes
            self.assertEqual(int(f.attrs["format_version"]), 1)
            steps = int(f.attrs["steps"])
            shapes, coef = f["shapes"][:], f["coefficients"][:]
            self.assertEqual(shapes.dtype, np.int64)
            self.assertEqual(coef.dtype, np.float64)
            self.assertEqual(coef.shape, (len(shapes), steps, 3))
            self.assertTrue(np.all(shapes[:, 0] <= shapes[:, 1]))
            self.assertTrue(np.all(np.isfinite(coef)) and np.any(coef != 0))
            for name, values in f["metrics"].items():
                self.assertEqual(values.shape, (len(shapes),), name)
            self.assertIn("created", f.attrs)
        # The same numbers through rootopt's own reader.
        out = json.loads(inspect("--json", self.path / "good.h5").stdout)
        for i, entry in enumerate(out["shapes"]):
            self.assertEqual([entry["rows"], entry["cols"]], shapes[i].tolist())
            self.assertEqual(np.array(entry["recipe"]["coefficients"]).tolist(), coef[i].tolist())

    def test_h5py_table_loads_bit_exact(self):
        rng = np.random.default_rng(20261123)
        shapes = [[768, 3072], [256, 256], [1024, 4096]]
        coef = rng.normal(size=(3, 5, 3)) * 10.0 ** rng.integers(-5, 5, size=(3, 5, 3))
        fit = np.array([0.01, np.nan, 0.03])
        write_table(self.path / "mine.h5", shapes, coef, {"fit_rms": fit})
        result = inspect("--json", self.path / "mine.h5")
        self.assertEqual(result.returncode, 0, result.stderr)
        out = json.loads(result.stdout)
        self.assertEqual({e["recipe"]["steps"] for e in out["shapes"]}, {5})
        self.assertEqual(out["attributes"]["seed"], "42")
        by_shape = {(e["rows"], e["cols"]): e for e in out["shapes"]}
        for i, (rows, cols) in enumerate(shapes):
            entry = by_shape[(rows, cols)]
            # JSON carries shortest round-trip decimals, so equality is exact.
            self.assertEqual(np.array(entry["recipe"]["coefficients"]).tolist(), coef[i].tolist())
            want = None if np.isnan(fit[i]) else fit[i]
            self.assertEqual(entry["metrics"]["fit_rms"], want)

    def test_h5py_damaged_tables_are_rejected(self):
        coef = np.ones((2, 1, 3))
        cases = {
            "float32.h5": (dict(coefficient_dtype=np.float32), "wrong type"),
            "nan.h5": (dict(coefficients=np.full((2, 1, 3), np.nan)), "non-finite coefficient"),
            "dup.h5": (dict(shapes=[[8, 8], [8, 8]]), "duplicate shape 8x8"),
            "tall.h5": (dict(shapes=[[16, 8], [8, 8]]), "not canonical"),
        }
        for name, (override, message) in cases.items():
            args = dict(shapes=[[8, 8], [16, 16]], coefficients=coef)
            args.update(override)
            write_table(self.path / name, args.pop("shapes"), args.pop("coefficients"), **args)
            result = inspect(self.path / name)
            self.assertNotEqual(result.returncode, 0, name)
            self.assertIn(name, result.stderr)
            self.assertIn(message, result.stderr)


if __name__ == "__main__":
    ROOTOPT, FIXTURE = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
