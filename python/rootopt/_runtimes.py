"""Runtime instances (rootopt._rootopt.Optimizer) for rootopt.torch: one per parameter group,
device and set of matrices, all made from the optimizer's one loaded table. Pointers are rebound
only when a tensor moved (a CUDA rebind uploads the matrix table)."""
import contextlib
from dataclasses import dataclass

import torch

from . import _rootopt as _rt

DTYPES = {torch.float32: _rt.DType.fp32, torch.bfloat16: _rt.DType.bf16}
# A training loop needs one instance per group and device; sets of matrices change when a
# parameter has no gradient or is skipped, so a few more are kept, but not without bound.
_MAX_RUNTIMES = 16


@dataclass
class Job:
    """One registration: `batch` contiguous row-major matrices rows x cols in `param` (updated
    in place), its gradient `grad` (same dtype and layout) and fp32 `momentum` (same layout),
    on one device. `key` names the same matrices from step to step."""

    key: tuple
    name: str
    batch: int
    rows: int
    cols: int
    param: torch.Tensor
    grad: torch.Tensor
    momentum: torch.Tensor

    def pointers(self):
        return self.param.data_ptr(), self.grad.data_ptr(), self.momentum.data_ptr()


def on_device(device):
    """torch.cuda.device(device) for CUDA tensors (the runtime uses the current device)."""
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()


class Runtimes:
    def __init__(self, table, fallback):
        self._table = table
        self._fallback = fallback
        self._cache = {}  # key -> [runtime, bound pointers per id]
        self.last_step = []  # instances stepped by the last optimizer step, for reports

    def begin_step(self):
        self.last_step = []

    def get(self, group_key, device, jobs):
        """The instance for `jobs` (all on `device`) of parameter group `group_key`, made and
        registered on first use. Called for every group before any parameter changes, so a
        registration error (e.g. a recipe a backend cannot run) leaves everything as it was."""
        key = (group_key, str(device), tuple(job.key for job in jobs))
        entry = self._cache.get(key)
        if entry is None:
            entry = self._create(device, jobs)
            if len(self._cache) >= _MAX_RUNTIMES:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = entry
        return entry

    def step(self, entry, device, hyperparams, jobs):
        """One runtime step of `jobs` (as given to get) with `hyperparams`, enqueued on the
        current CUDA stream of `device` (CPU: computed before returning)."""
        runtime, bound = entry
        for id_, job in enumerate(jobs):
            pointers = job.pointers()
            if bound[id_] != pointers:
                runtime.rebind(id_, *pointers)
                bound[id_] = pointers
        runtime.set_hyperparams(hyperparams)
        with on_device(device):
            stream = torch.cuda.current_stream(device).cuda_stream if device.type == "cuda" else 0
            runtime.step(stream)
        # Fallback warnings come from rootopt.torch (one per shape for the whole optimizer);
        # the CPU's step warnings repeat what the report says.
        runtime.take_warnings()
        self.last_step.append(runtime)

    def _create(self, device, jobs):
        device_kind = _rt.Device.cuda if device.type == "cuda" else _rt.Device.cpu
        with on_device(device):
            runtime = _rt.Optimizer(self._table, self._fallback, device_kind, _rt.Hyperparams())
            for job in jobs:
                runtime.add_param(job.name, job.batch, job.rows, job.cols, DTYPES[job.param.dtype],
                                  *job.pointers())
        runtime.take_warnings()
        return [runtime, [job.pointers() for job in jobs]]

    def skipped(self):
        """Names the runtime itself skipped in the last step (non-finite momentum or an
        overflowing direction). Synchronises the step's stream on CUDA."""
        return [name for runtime in self.last_step for name in runtime.last_report()[1]]
