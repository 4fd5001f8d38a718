"""Smoke test of tools/capture_spectra.py and SpectrumRecorder (run by CTest, < 30 s).

Checks, on tiny runs: the stored singular values equal an independent fp64 numpy SVD of the
stored update matrix (the recorder uses torch.linalg.svdvals; both work in fp64 on the same
float32 matrix, so they agree to ~1e-12 relative; 1e-9 leaves room for LAPACK differences);
the attributes and the fit / held-out split by step; conv kernels flattened to (out, in*kh*kw);
the recorder's own momentum equals an optimizer's (torch.optim.SGD, same convention M <- mu*M + g)
and a hand-written Nesterov update; bad input fails with a message and writes no file.
"""

import gzip
import os
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
    import torch
except ImportError as error:  # CTest SKIP_RETURN_CODE
    print(f"skipped: {error}")
    sys.exit(77)

TOOL = sys.argv[1]
sys.path.insert(0, os.path.dirname(TOOL))
from rootopt_capture import SpectrumRecorder, datasets  # noqa: E402

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAIL: {message}")


def run_tool(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True)


def spectra_of(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, (obj[()], dict(obj.attrs)))
                     if isinstance(obj, h5py.Dataset) else None)
    return out


def check_transformer(tmp):
    """Tiny byte transformer on a license text: split, attributes, SVD against numpy."""
    text = "/usr/share/common-licenses/GPL-3"
    fit, held, mats = (os.path.join(tmp, n) for n in ("fit.h5", "held.h5", "m.h5"))
    r = run_tool("train", "--model", "transformer", "--text", text, "--steps", "6", "--every", "2",
                 "--d-model", "32", "--layers", "1", "--heads", "2", "--mlp-dim", "64",
                 "--seq-len", "16", "--batch-size", "2", "--out", fit, "--heldout-out", held,
                 "--heldout-after", "0.5", "--save-matrices", mats)
    check(r.returncode == 0, f"transformer capture failed: {r.stderr[-2000:]}")
    if r.returncode:
        return
    fit_s, held_s = spectra_of(fit), spectra_of(held)
    check({a["step"] for _, a in fit_s.values()} == {2}, "fit file holds steps <= 3 only")
    check({a["step"] for _, a in held_s.values()} == {4, 6}, "held-out file holds steps 4, 6")
    expected_shapes = {(32, 32), (64, 32), (32, 64)}
    check({(a["rows"], a["cols"]) for _, a in fit_s.values()} == expected_shapes,
          "transformer shapes: 32x32 attention, 64x32 and 32x64 MLP")
    with h5py.File(mats, "r") as f:
        matrices = {name: f[name][()] for name in f}
    check(len(matrices) == 6, f"6 matrices saved, found {len(matrices)}")
    for layer, matrix in matrices.items():
        values, attrs = held_s[f"{layer}/step_6"]
        check(values.dtype == np.float64 and values.ndim == 1, f"{layer}: 1-D float64 dataset")
        check(attrs["layer"] == layer and attrs["model"] == "byte-transformer"
              and attrs["dataset"] == text, f"{layer}: attributes")
        reference = np.linalg.svd(matrix.astype(np.float64), compute_uv=False)
        check(reference[0] > 0, f"{layer}: update matrix is not all zero")
        error = np.max(np.abs(values - reference)) / reference[0]
        check(error < 1e-9, f"{layer}: singular values differ from numpy fp64 SVD by {error:.2e}")


def check_recorder_modes():
    """Own momentum buffer == SGD's buffer == hand-written Nesterov update, conv flattened."""
    torch.manual_seed(1)
    conv = torch.nn.Conv2d(3, 5, 3)
    opt = torch.optim.SGD(conv.parameters(), lr=0.01, momentum=0.9)
    own = SpectrumRecorder(conv.named_parameters(), "conv", "random", every=3, momentum=0.9)
    read = SpectrumRecorder(conv.named_parameters(), "conv", "random", every=3, momentum=0.9,
                            optimizer=opt)
    buf = torch.zeros(5, 27, dtype=torch.float64)
    for step in range(1, 4):
        conv(torch.randn(4, 3, 8, 8)).square().mean().backward()
        g = conv.weight.grad.reshape(5, -1).double()
        buf = 0.9 * buf + g
        opt.step()
        own.observe(step)
        read.observe(step)
        opt.zero_grad()
    reference = np.linalg.svd((g + 0.9 * buf).numpy(), compute_uv=False)
    for recorder in (own, read):
        (layer, step, rows, cols, values), = recorder.spectra
        check((layer, step, rows, cols) == ("weight", 3, 5, 27), "conv kernel flattened to 5x27")
        error = np.max(np.abs(values - reference)) / reference[0]
        check(error < 1e-5, f"recorder spectrum vs hand Nesterov update: {error:.2e} "
              "(fp32 gradient sums vs fp64 reference)")


def check_bad_input(tmp):
    out = os.path.join(tmp, "never.h5")
    r = run_tool("train", "--model", "mlp", "--fashion-mnist", os.path.join(tmp, "absent"),
                 "--steps", "2", "--every", "1", "--out", out)
    check(r.returncode == 1 and "dataset-fashion-mnist" in r.stderr,
          f"missing Fashion-MNIST names the Debian package: {r.stderr[-500:]}")
    r = run_tool("train", "--model", "transformer", "--text", os.path.join(tmp, "absent.txt"),
                 "--steps", "2", "--every", "1", "--out", out)
    check(r.returncode == 1 and "absent.txt" in r.stderr, "missing text file is named")
    r = run_tool("train", "--model", "mlp", "--steps", "2", "--every", "5", "--out", out)
    check(r.returncode == 2, "--every larger than --steps is rejected")
    check(not os.path.exists(out) and os.listdir(tmp) == [], "no file written on bad input")


def write_idx(path, array):
    """An unsigned-byte IDX file (magic 0x0000 08 ndim, big-endian dims), gzip-compressed."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big")
                                                     for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def check_idx_and_cnn(tmp):
    """A small hand-made Fashion-MNIST directory: parsed exactly, and the CNN capture runs on it."""
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (6, 28, 28)), rng.integers(0, 10, 6)
    data = os.path.join(tmp, "fmnist")
    os.makedirs(data)
    for prefix in ("train", "t10k"):
        write_idx(os.path.join(data, f"{prefix}-images-idx3-ubyte.gz"), images)
        write_idx(os.path.join(data, f"{prefix}-labels-idx1-ubyte.gz"), labels)
    train_x, train_y, _, _ = datasets.fashion_mnist(data)
    expected = (images / 255.0 - datasets.FASHION_MNIST_MEAN) / datasets.FASHION_MNIST_STD
    check(train_x.shape == (6, 1, 28, 28) and np.allclose(train_x[:, 0].numpy(), expected,
                                                          atol=1e-6), "IDX images parsed")
    check(np.array_equal(train_y.numpy(), labels), "IDX labels parsed")
    out = os.path.join(tmp, "cnn.h5")
    r = run_tool("train", "--model", "cnn", "--fashion-mnist", data, "--steps", "2", "--every",
                 "2", "--batch-size", "4", "--out", out)
    check(r.returncode == 0, f"cnn capture failed: {r.stderr[-2000:]}")
    if r.returncode == 0:
        shapes = {(a["rows"], a["cols"]) for _, a in spectra_of(out).values()}
        check(shapes == {(64, 288), (64, 576), (128, 3136)},
              f"CNN conv kernels flattened, first conv and head left out: {shapes}")


with tempfile.TemporaryDirectory() as tmp:
    check_bad_input(tmp)
    check_recorder_modes()
    check_idx_and_cnn(tmp)
    check_transformer(tmp)
print("FAILED" if failures else "OK", f"({len(failures)} failures)")
sys.exit(1 if failures else 0)
