"""Capture singular-value spectra of Muon momentum matrices from real training runs.

`SpectrumRecorder` hooks into any torch training loop; the demo trainers (a byte-level
transformer on the Jargon File, an MLP and a CNN on Fashion-MNIST) are what
tools/capture_spectra.py runs to produce the bundled data/spectra/ files. See docs/spectra.md.
"""

from .recorder import SpectrumRecorder

__all__ = ["SpectrumRecorder"]
