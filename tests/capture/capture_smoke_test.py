"""Smoke test of tools/capture_spectra.py and SpectrumRecorder (run by CTest, < 30 s).

Checks, on tiny runs: the stored singular values equal an independent fp64 numpy SVD of the
stored update matrix (the recorder uses torch.linalg.svdvals; both work in fp64 on the same
float32 matrix, so they agree to ~1e-12 relative; 1e-9 leaves room for LAPACK differences);
the attributes and the split by step; the weight shapes of the GPT-style, Llama-style (grouped-
query attention, SwiGLU) and LSTM models; --capture-at and --optimizer adamw; conv kernels
flattened to (out, in*kh*kw); the recorder's own momentum equals an optimizer's (torch.optim.SGD,
same convention M <- mu*M + g) and a hand-written Nesterov update; the Schatten-p top values of
`summarize` against Gram-matrix norms; `label`; bad input fails with a message and writes no file.
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
from rootopt_capture import SpectrumRecorder, datasets, report  # noqa: E402

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
        check(attrs["layer"] == layer and attrs["model"] == "gpt-d32-l1-h2-mlp64"
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


def file_attributes(path):
    with h5py.File(path, "r") as f:
        return dict(f.attrs)


def check_llama_lstm_adamw(tmp):
    """Llama-style (GQA, SwiGLU) under Muon and LSTM under AdamW: shapes, --capture-at steps,
    source attributes; under AdamW the recorder's own buffer is used (no Muon buffer exists)."""
    llama, lstm = os.path.join(tmp, "llama.h5"), os.path.join(tmp, "lstm.h5")
    common = ("--steps", "5", "--capture-at", "2,5", "--seq-len", "16", "--batch-size", "2",
              "--corpus", "jargon")
    r = run_tool("train", "--model", "llama", "--d-model", "64", "--layers", "1", "--heads", "4",
                 "--kv-heads", "2", "--out", llama, *common)
    check(r.returncode == 0, f"llama capture failed: {r.stderr[-2000:]}")
    if r.returncode == 0:
        spectra = spectra_of(llama)
        shapes = {name.split("/")[0]: (a["rows"], a["cols"]) for name, (_, a) in spectra.items()}
        # q, o: d x d; k, v: kv_heads*head_dim = 2*16 = 32 rows; SwiGLU width 8/3*64 -> 192.
        expected = {"blocks.0.attn.q.weight": (64, 64), "blocks.0.attn.k.weight": (32, 64),
                    "blocks.0.attn.v.weight": (32, 64), "blocks.0.attn.o.weight": (64, 64),
                    "blocks.0.gate.weight": (192, 64), "blocks.0.up.weight": (192, 64),
                    "blocks.0.down.weight": (64, 192)}
        check(shapes == expected, f"llama shapes {shapes}")
        check({a["step"] for _, a in spectra.values()} == {2, 5}, "llama captured at steps 2, 5")
        attrs = file_attributes(llama)
        check((attrs["model_id"], attrs["architecture"], attrs["corpus"], attrs["optimizer"])
              == ("llama-d64-l1-h4-kv2-mlp192", "llama", "jargon", "muon"),
              f"llama source attributes {attrs}")
        check(list(attrs["captured_steps"]) == [2, 5], "captured_steps attribute")
    r = run_tool("train", "--model", "lstm", "--d-model", "32", "--layers", "2", "--embed-dim",
                 "16", "--optimizer", "adamw", "--out", lstm, *common)
    check(r.returncode == 0, f"lstm capture failed: {r.stderr[-2000:]}")
    if r.returncode == 0:
        shapes = {(a["rows"], a["cols"]) for _, a in spectra_of(lstm).values()}
        check(shapes == {(128, 16), (128, 32)}, f"LSTM gate matrices (4h x in): {shapes}")
        attrs = file_attributes(lstm)
        check(attrs["optimizer"] == "adamw" and "muon_lr" not in attrs,
              f"adamw run records its optimizer and no Muon lr: {attrs}")


def check_summary_and_label(tmp):
    """Schatten-p top values against norms of Gram powers; `label` sets the source attributes."""
    rng = np.random.default_rng(3)
    for rows, cols in ((7, 5), (20, 40)):
        a = rng.standard_normal((rows, cols)) * np.logspace(0, -3, cols)
        s = np.linalg.svd(a, compute_uv=False)
        gram = a.T @ a
        # ||s||_4 = ||A^T A||_F^(1/2), ||s||_8 = ||(A^T A)^2||_F^(1/4): the norms the first
        # Newton-Schulz step can form from its Gram products (issue 9); fp64, so 1e-12.
        reference = {2: np.linalg.norm(a), 4: np.linalg.norm(gram) ** 0.5,
                     8: np.linalg.norm(gram @ gram) ** 0.25}
        for p, norm in reference.items():
            error = abs(report.schatten_top(s, p) - s[0] / norm)
            check(error < 1e-12, f"Schatten-{p} top of {rows}x{cols}: error {error:.1e}")
    path = os.path.join(tmp, "labelled.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("w/step_1", data=np.array([2.0, 1.0]))
    before = spectra_of(path)
    r = run_tool("label", path, "--model-id", "m-1", "--architecture", "gpt", "--corpus", "c",
                 "--optimizer", "muon")
    check(r.returncode == 0, f"label failed: {r.stderr}")
    attrs = file_attributes(path)
    check({k: attrs.get(k) for k in ("model_id", "architecture", "corpus", "optimizer")}
          == {"model_id": "m-1", "architecture": "gpt", "corpus": "c", "optimizer": "muon"},
          f"label attributes {attrs}")
    after = spectra_of(path)
    check(before.keys() == after.keys() and all(np.array_equal(before[k][0], after[k][0])
                                                for k in before), "label keeps the spectra")
    empty = os.path.join(tmp, "empty.h5")
    with h5py.File(empty, "w"):
        pass
    r = run_tool("label", empty, "--model-id", "m", "--architecture", "a", "--corpus", "c",
                 "--optimizer", "o")
    check(r.returncode == 1 and "no 1-D spectrum" in r.stderr and "model_id" not in
          file_attributes(empty), f"label refuses a file without spectra: {r.stderr}")
    for p in (path, empty):
        os.remove(p)


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
    r = run_tool("train", "--model", "mlp", "--steps", "9", "--capture-at", "3,10", "--out", out)
    check(r.returncode == 2 and "--capture-at step 10" in r.stderr,
          "--capture-at beyond --steps is rejected")
    r = run_tool("train", "--model", "mlp", "--steps", "9", "--every", "3", "--capture-at", "3",
                 "--out", out)
    check(r.returncode == 2 and "not both" in r.stderr, "--every with --capture-at is rejected")
    r = run_tool("train", "--model", "llama", "--heads", "4", "--kv-heads", "3", "--steps", "2",
                 "--every", "1", "--out", out)
    check(r.returncode == 1 and "kv_heads 3" in r.stderr, f"bad --kv-heads: {r.stderr[-300:]}")
    saved = dict(datasets.CORPORA)
    datasets.CORPORA["absent"] = datasets.Corpus("some-package", "test",
                                                 lambda: [os.path.join(tmp, "absent.txt.gz")])
    try:
        datasets.corpus_bytes("absent")
        check(False, "a corpus with missing files raises DataMissing")
    except datasets.DataMissing as error:
        check("apt-get install some-package" in str(error), f"names the package: {error}")
    finally:
        datasets.CORPORA.clear()
        datasets.CORPORA.update(saved)
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
    check_llama_lstm_adamw(tmp)
    check_summary_and_label(tmp)
print("FAILED" if failures else "OK", f"({len(failures)} failures)")
sys.exit(1 if failures else 0)
