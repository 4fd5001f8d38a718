"""rootopt: per-shape Newton-Schulz coefficients and the ROOT optimizer runtime.

The compiled extension ``rootopt._rootopt`` binds the C++ runtime (include/rootopt/optimizer.h)
over raw pointers; ``rootopt.torch`` holds the PyTorch optimizers ``ROOT`` and ``Muon``.
Importing ``rootopt`` does not import torch.
"""
from ._rootopt import Error

__all__ = ["Error", "cuda_available"]


def cuda_available() -> bool:
    """Whether the extension was built with the CUDA backend and a CUDA device is present."""
    from ._rootopt import Optimizer

    return Optimizer.cuda_available()
