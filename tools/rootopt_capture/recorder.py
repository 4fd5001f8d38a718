"""SpectrumRecorder: singular values of the Nesterov momentum update over a training run.

A Muon/ROOT optimizer orthogonalizes, for every 2-D weight, the Nesterov update
    M <- mu * M + g,    U = g + mu * M
(conv kernels flattened to (out, in*kh*kw)). The recorder computes the singular values of U in
fp64 (torch.linalg.svdvals) every `every` steps, or at the steps listed in `at`, and writes
them as 1-D float64 datasets `/<layer>/step_<N>` with attributes rows, cols, step, layer, model,
dataset.

Usage in any torch loop (the optimizer can be anything; see docs/spectra.md):

    rec = SpectrumRecorder(model.named_parameters(), model="my-model", dataset="my-data",
                           every=50)
    for step in range(1, steps + 1):
        loss = ...; loss.backward()
        optimizer.step()
        rec.observe(step)          # after step(), before zero_grad(): reads p.grad
        optimizer.zero_grad()
    rec.save("my_spectra.h5")

By default the recorder keeps its own momentum buffer per weight, so its spectra are those a
Muon user would orthogonalize whatever optimizer actually trains the model. Pass
`optimizer=opt, state_key="momentum_buffer"` to read an optimizer's own buffer instead
(it must follow the same convention M <- mu*M + g, as torch.optim.SGD does) and save memory.
"""

import numpy as np
import torch

from .atomic import atomic_h5


def as_matrix(tensor):
    """A >=2-D tensor as the matrix an orthogonalizing optimizer sees: (dim0, rest)."""
    return tensor.reshape(tensor.shape[0], -1)


class SpectrumRecorder:
    def __init__(self, named_parameters, model, dataset, every=None, momentum=0.95, optimizer=None,
                 state_key="momentum_buffer", at=None):
        if (every is None) == (at is None):
            raise ValueError("SpectrumRecorder: give either every= or at= (capture steps)")
        if every is not None and every < 1:
            raise ValueError(f"SpectrumRecorder: every must be >= 1, got {every}")
        if at is not None and (not at or min(at) < 1):
            raise ValueError(f"SpectrumRecorder: at= must list steps >= 1, got {sorted(at)}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SpectrumRecorder: momentum must be in [0, 1), got {momentum}")
        self.params = [(name, p) for name, p in named_parameters if p.dim() >= 2]
        if not self.params:
            raise ValueError("SpectrumRecorder: no parameter with 2 or more dimensions to record")
        self.model = model
        self.dataset = dataset
        self.every = every
        self.at = None if at is None else frozenset(at)
        self.momentum = momentum
        self.optimizer = optimizer
        self.state_key = state_key
        self.buffers = {}
        self.spectra = []  # (layer, step, rows, cols, float64 numpy array)
        self.last_updates = {}  # layer -> float32 numpy matrix U of the latest capture

    def _momentum(self, name, p, grad):
        if self.optimizer is not None:
            state = self.optimizer.state.get(p, {})
            if self.state_key not in state:
                raise KeyError(f"SpectrumRecorder: optimizer has no '{self.state_key}' state for "
                               f"{name}; call observe() after optimizer.step()")
            return state[self.state_key]
        buf = self.buffers.get(name)
        if buf is None:
            buf = self.buffers[name] = torch.zeros_like(grad)
        buf.mul_(self.momentum).add_(grad)
        return buf

    @torch.no_grad()
    def observe(self, step):
        """Call once per optimizer step (after optimizer.step(), before zero_grad())."""
        capture = step in self.at if self.at is not None else step % self.every == 0
        for name, p in self.params:
            if p.grad is None:
                continue
            grad = p.grad.detach()
            buf = self._momentum(name, p, grad)
            if not capture:
                continue
            update = as_matrix(grad + self.momentum * buf)
            if not torch.isfinite(update).all():
                continue  # a non-finite gradient is not a spectrum; skip this capture
            values = torch.linalg.svdvals(update.double().cpu()).numpy()
            self.spectra.append((name, step, update.shape[0], update.shape[1], values))
            self.last_updates[name] = update.float().cpu().numpy()

    def steps(self):
        return sorted({s for _, s, _, _, _ in self.spectra})

    def save(self, path, min_step=None, max_step=None, attributes=None):
        """Writes captures with min_step <= step <= max_step (None: unbounded) atomically.

        Returns the number of spectra written; raises ValueError if that would be none."""
        chosen = [c for c in self.spectra
                  if (min_step is None or c[1] >= min_step) and (max_step is None or c[1] <= max_step)]
        if not chosen:
            raise ValueError(f"SpectrumRecorder: no capture in step range [{min_step}, {max_step}] "
                             f"for {path}")
        with atomic_h5(path) as f:
            f.attrs["format"] = "rootopt.spectra"
            f.attrs["quantity"] = "singular values of U = g + mu*M (Nesterov momentum update)"
            f.attrs["model"] = self.model
            f.attrs["dataset"] = self.dataset
            f.attrs["momentum"] = self.momentum
            for key, value in (attributes or {}).items():
                f.attrs[key] = value
            for layer, step, rows, cols, values in chosen:
                d = f.require_group(layer).create_dataset(f"step_{step}", data=values,
                                                          dtype=np.float64)
                d.attrs.update(dict(rows=rows, cols=cols, step=step, layer=layer,
                                    model=self.model, dataset=self.dataset))
        return len(chosen)

    def save_matrices(self, path, attributes=None):
        """Writes the latest captured update matrices U as 2-D float32 datasets named by layer."""
        if not self.last_updates:
            raise ValueError("SpectrumRecorder: nothing captured yet, no matrices to save")
        last = max(self.steps())
        with atomic_h5(path) as f:
            f.attrs["format"] = "rootopt.matrices"
            f.attrs["quantity"] = "Nesterov momentum update U = g + mu*M, conv kernels flattened"
            f.attrs["model"] = self.model
            f.attrs["dataset"] = self.dataset
            f.attrs["step"] = last
            for key, value in (attributes or {}).items():
                f.attrs[key] = value
            for layer, matrix in self.last_updates.items():
                f.create_dataset(layer, data=matrix, dtype=np.float32)
        return len(self.last_updates)
