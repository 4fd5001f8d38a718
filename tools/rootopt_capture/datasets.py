"""Real training data from Debian packages.

- Fashion-MNIST (Xiao et al. 2017), package `dataset-fashion-mnist`: IDX files in
  /usr/share/datasets/fashion-mnist/.
- Text corpora, read as bytes (`CORPORA`, `corpus_bytes`): the Jargon File, fortune cookies,
  the Debian Policy Manual, a Portuguese Linux guide and Python's standard library source.
"""

import collections
import glob
import gzip
import os
import struct

import numpy as np
import torch

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
JARGON_TEXT = "/usr/share/doc/jargon-text/jargon.txt.gz"
# Mean and standard deviation of the Fashion-MNIST training pixels in [0, 1].
FASHION_MNIST_MEAN = 0.2860
FASHION_MNIST_STD = 0.3530

Corpus = collections.namedtuple("Corpus", "package description files")


def _package_files(package, directory, skip_suffixes=()):
    """The regular files Debian package `package` installed under `directory`, sorted (dpkg's
    file list, so other packages' files in the same directory are not mixed in)."""
    listing = f"/var/lib/dpkg/info/{package}.list"
    if not os.path.isfile(listing):
        return []
    with open(listing) as f:
        paths = [line.strip() for line in f]
    return sorted(p for p in paths if os.path.dirname(p) == directory and os.path.isfile(p)
                  and not os.path.islink(p) and not p.endswith(skip_suffixes))


# Text corpora from Debian packages, each a fixed, sorted list of files concatenated as bytes.
CORPORA = {
    "jargon": Corpus("jargon-text", "The Jargon File 4.4.7: English hacker lexicon, "
                     "public domain, 1.7 MB", lambda: [JARGON_TEXT]),
    "fortunes": Corpus("fortunes", "fortune-mod's English cookie files (quotations, jokes, "
                       "poems, Star Trek, Pratchett, ...), 2.6 MB",
                       lambda: _package_files("fortunes", "/usr/share/games/fortunes",
                                              (".dat", ".u8"))),
    "debian-policy": Corpus("debian-policy", "Debian Policy Manual 4.6.2, plain-text edition: "
                            "technical English, 0.48 MB",
                            lambda: ["/usr/share/doc/debian-policy/policy.txt.gz"]),
    "focalinux": Corpus("focalinux-text", "Foca GNU/Linux guide (Portuguese, ISO-8859-1), "
                        "beginner, intermediate and advanced volumes, 2.3 MB",
                        lambda: [f"/usr/share/doc/focalinux/text/{v}/index.txt.gz"
                                 for v in ("iniciante", "intermediario", "avancado")]),
    "python-stdlib": Corpus("libpython3.11-stdlib", "Python 3.11 standard library source, "
                            "top-level modules /usr/lib/python3.11/*.py: code, 4.7 MB",
                            lambda: sorted(glob.glob("/usr/lib/python3.11/*.py"))),
}


class DataMissing(RuntimeError):
    """A data file is absent; the message says which Debian package provides it."""


def _read_idx(path):
    """Reads one gzip-compressed IDX file (the MNIST format) into a uint8 numpy array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4:
        raise ValueError(f"{path}: truncated IDX header")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {int(np.prod(dims))} values for shape {dims}, "
                         f"found {data.size}")
    return data.reshape(dims)


def fashion_mnist(directory=FASHION_MNIST_DIR):
    """Returns (train_x, train_y, test_x, test_y): float32 images (N, 1, 28, 28), normalised,
    and int64 labels."""
    names = {"train_x": "train-images-idx3-ubyte.gz", "train_y": "train-labels-idx1-ubyte.gz",
             "test_x": "t10k-images-idx3-ubyte.gz", "test_y": "t10k-labels-idx1-ubyte.gz"}
    paths = {k: os.path.join(directory, v) for k, v in names.items()}
    missing = [p for p in paths.values() if not os.path.isfile(p)]
    if missing:
        raise DataMissing(f"Fashion-MNIST not found: {', '.join(missing)} missing. Install the "
                          f"Debian package: apt-get install dataset-fashion-mnist "
                          f"(or pass the directory holding the four IDX .gz files)")
    out = {}
    for key, path in paths.items():
        array = _read_idx(path)
        if key.endswith("_x"):
            x = torch.from_numpy(array.astype(np.float32) / 255.0).unsqueeze(1)
            out[key] = (x - FASHION_MNIST_MEAN) / FASHION_MNIST_STD
        else:
            out[key] = torch.from_numpy(array.astype(np.int64))
    return out["train_x"], out["train_y"], out["test_x"], out["test_y"]


def _read_bytes(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read()


def text_bytes(path):
    """The bytes of one text file (.gz is decompressed), as a uint8 torch tensor."""
    if not os.path.isfile(path):
        raise DataMissing(f"text corpus {path} not found: pass an existing text file with --text")
    return _as_tensor(_read_bytes(path), path)


def corpus_bytes(name):
    """The bytes of corpus `name` (a key of CORPORA): its files concatenated in their fixed
    order."""
    if name not in CORPORA:
        raise ValueError(f"unknown corpus '{name}': choose one of {', '.join(sorted(CORPORA))}")
    corpus = CORPORA[name]
    files = corpus.files()
    missing = [p for p in files if not os.path.isfile(p)]
    if not files or missing:
        raise DataMissing(f"corpus {name}: {', '.join(missing) or 'no files'} missing. Install "
                          f"the Debian package: apt-get install {corpus.package}")
    return _as_tensor(b"".join(_read_bytes(p) for p in files), f"corpus {name}")


def _as_tensor(raw, what):
    if len(raw) < 10_000:
        raise ValueError(f"{what}: only {len(raw)} bytes, too little text to train on")
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8)


class ByteBatches:
    """Random windows of a byte corpus: inputs (B, T) and next-byte targets (B, T).

    The first `train_fraction` of the corpus is for training, the rest for validation."""

    def __init__(self, data, seq_len, batch_size, generator, train_fraction=0.9):
        split = int(len(data) * train_fraction)
        self.parts = {"train": data[:split].long(), "val": data[split:].long()}
        self.seq_len = seq_len
        self.batch_size = batch_size
        self.generator = generator

    def batch(self, part="train"):
        data = self.parts[part]
        starts = torch.randint(0, len(data) - self.seq_len - 1, (self.batch_size,),
                               generator=self.generator)
        offsets = torch.arange(self.seq_len + 1)
        windows = data[starts[:, None] + offsets[None, :]]
        return windows[:, :-1], windows[:, 1:]
