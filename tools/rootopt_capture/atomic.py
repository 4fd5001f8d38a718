"""Atomic HDF5 output: write "<path>.tmp.<pid>", then rename over <path>.

An interrupted or failed write never leaves a half-written file at the destination.
"""

import contextlib
import os
import shutil

import h5py


@contextlib.contextmanager
def atomic_h5(path):
    """Yields an open, writable h5py.File that appears at `path` only if the block succeeds."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with h5py.File(tmp, "w") as f:
            yield f
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def atomic_edit(path):
    """Yields a writable copy of the existing HDF5 file `path` that replaces it only if the block
    succeeds."""
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        shutil.copyfile(path, tmp)
        with h5py.File(tmp, "r+") as f:
            yield f
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
