"""Independent fp64 reference for the Python optimizer tests, written from the five steps of the ROOT
step (issue 4; ROOT paper arXiv 2511.20626, Algorithm 1) in plain PyTorch, plus a writer for
coefficient tables in the documented format (include/rootopt/coefficient_table.h), made with
h5py so the tests do not use the library to produce their own inputs."""
import math
import tempfile
import unittest

import torch

NS_NORM_EPS = 1e-7  # X0 = B / (||B||_F + 1e-7), as in the ROOT reference and optimizer.h

# Published schedules (../shared/reference/coefficients.md). You Jiacheng's 5-step set has distinct
# triples per step, so a runtime that used the wrong step order would not match.
YOU = [(4.0848, -6.8946, 2.9270), (3.9505, -6.3029, 2.6377), (3.7418, -5.5913, 2.3037),
       (2.8769, -3.1427, 1.2046), (2.8366, -3.0525, 1.2012)]
MUON = [(3.4445, -4.7750, 2.0315)] * 5
ROOT_2048x3072 = [(3.4509, -4.5790, 1.9325)] * 5
# The tests' coefficient table: one schedule per canonical shape, different enough that using
# another shape's entry changes X_K by >= 8% (measured on the tests' inputs), far above the fp32
# tolerance. A tall (40, 16) parameter uses the (16, 40) entry; a conv kernel (8, 3, 3, 3) is (8, 27).
TEST_SCHEDULES = {(16, 40): YOU, (24, 24): ROOT_2048x3072, (8, 27): MUON}


def write_table(path, schedules):
    """{(rows, cols): [(a, b, c)] * K} -> a rootopt.coefficients v1 HDF5 file. Needs h5py (a
    GPU image's Python may lack it: the test is then skipped)."""
    try:
        import h5py
        import numpy as np
    except ImportError as e:
        raise unittest.SkipTest(f"writing the test table needs h5py and numpy: {e}") from None
    shapes = sorted(schedules, key=lambda s: (min(s), max(s)))
    steps = len(schedules[shapes[0]])
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "rootopt.coefficients"
        f.attrs["format_version"] = np.int64(1)
        f.attrs["steps"] = np.int64(steps)
        f["shapes"] = np.array([(min(s), max(s)) for s in shapes], dtype=np.int64)
        f["coefficients"] = np.array([schedules[s] for s in shapes], dtype=np.float64)


class TableTestCase(unittest.TestCase):
    """Base for tests that need the tests' table: self.table, written once per class."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.table = f"{cls.tmp.name}/table.h5"
        write_table(cls.table, TEST_SCHEDULES)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()


def nearest_shape(shape, table_shapes):
    """The documented nearest fallback: Euclidean distance in (log2 rows, log2(cols/rows)) of
    canonical shapes (include/rootopt/coefficient_table.h, shape_distance)."""
    def point(s):
        r, c = min(s), max(s)
        return math.log2(r), math.log2(c / r)

    x = point(shape)
    return min(table_shapes, key=lambda s: math.dist(x, point(s)))


def quantile(values, q):
    """eps = quantile_q(|U|). torch.quantile with linear interpolation (numpy's default)."""
    return torch.quantile(values.flatten(), q)


def scale_factor(rows, cols, scale):
    return {"rms": 0.2 * math.sqrt(max(rows, cols)), "spectral": math.sqrt(max(1.0, rows / cols)),
            "none": 1.0}[scale]


def schatten_norm(x, p):
    """||sigma(x)||_p from the singular values (SVD in fp64), independent of how the runtime
    gets it from Gram products."""
    return torch.linalg.svdvals(x).pow(p).sum().pow(1.0 / p)


def newton_schulz(b, schedule, normalization="frobenius"):
    """fp64 quintic Newton-Schulz on a matrix; tall matrices run transposed. Schatten-p
    normalisation (docs/recipes.md) divides X0 = B / (||B||_F + 1e-7) once more by its
    Schatten-p norm before the steps."""
    tall = b.shape[0] > b.shape[1]
    x = b.T if tall else b
    x = x / (torch.linalg.matrix_norm(x) + NS_NORM_EPS)
    order = {"frobenius": None, "schatten4": 4, "schatten8": 8}[normalization]
    if order is not None:
        x = x / schatten_norm(x, order)
    for a, bk, c in schedule:
        gram = x @ x.T
        x = a * x + (bk * gram + c * gram @ gram) @ x
    return x.T if tall else x


def root_step(param, grad, momentum, schedule, lr=1e-3, mu=0.95, nesterov=True, wd=0.1,
              threshold_quantile=0.9, threshold=None, scale="rms", normalization="frobenius"):
    """One ROOT step in fp64. Returns (new param, new momentum, X_K), shaped like `param`."""
    shape = param.shape
    rows = shape[0]
    cols = param.numel() // rows
    g = grad.double().reshape(rows, cols)
    m = mu * momentum.double().reshape(rows, cols) + g
    u = g + mu * m if nesterov else m
    if threshold is not None:
        b = u.clamp(-threshold, threshold)
    elif threshold_quantile is not None:
        eps = quantile(u.abs(), threshold_quantile)
        b = u.clamp(-eps, eps)
    else:
        b = u
    x = newton_schulz(b, schedule, normalization)
    p = param.double().reshape(rows, cols)
    new = p * (1 - lr * wd) - lr * scale_factor(rows, cols, scale) * x
    return new.reshape(shape), m.reshape(shape), x.reshape(shape)
