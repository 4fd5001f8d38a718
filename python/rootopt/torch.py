"""The ROOT optimizer (arXiv 2511.20626) as a ``torch.optim.Optimizer``, running in the rootopt runtime.

Two lines in a training script::

    from rootopt.torch import ROOT
    optimizer = ROOT(model.named_parameters(), table="data/tables/my-model.h5", lr=1e-3)

Routing (docs/python.md): parameters with two or more dimensions go to the ROOT step in the
runtime (a tensor of shape (d0, d1, ...) is flattened to the matrix (d0, d1*...)); 1-D and 0-D
parameters, and every parameter of a group with ``use_root=False`` (embeddings, output heads),
go to AdamW, computed by torch's own functional AdamW (torch.optim.adamw.adamw). This class only
routes, holds state and calls the runtime; it does no ROOT math itself.
"""
import contextlib
import itertools
import warnings

import torch
from torch.optim.adamw import adamw as _torch_adamw

from . import _rootopt as _rt

__all__ = ["ROOT", "Muon"]

_PRECISIONS = {"fp32": _rt.Precision.fp32, "bf16": _rt.Precision.bf16}
_SCALES = {"rms": _rt.ScaleMode.rms, "spectral": _rt.ScaleMode.spectral, "none": _rt.ScaleMode.none}
_DTYPES = {torch.float32: _rt.DType.fp32, torch.bfloat16: _rt.DType.bf16}
# Runtime instances cached per (group, device, set of parameters with gradients); a training loop
# normally needs one per group. The bound only matters for loops whose gradient sets keep changing.
_MAX_RUNTIMES = 16


def _choice(table, value, what):
    if value not in table:
        raise ValueError(f"rootopt: {what} must be one of {sorted(table)}, got {value!r}")
    return table[value]


def _fallback_policy(table, fallback):
    """The runtime's FallbackPolicy: "nearest" and "error" act on shapes the table lacks; any other
    value names a built-in schedule ("muon", "polar-express", "you", "root-paper"). Without a table
    every shape uses a named schedule: `fallback` if it names one, else "root-paper" (the ROOT
    paper's published per-shape triples, Muon's triple for other shapes)."""
    kind = _rt.FallbackPolicy.Kind
    if table is None:
        if fallback == "error":
            raise ValueError("rootopt: fallback='error' needs a table")
        return _rt.FallbackPolicy(kind.named, "root-paper" if fallback == "nearest" else fallback)
    if fallback in ("nearest", "error"):
        return _rt.FallbackPolicy(getattr(kind, fallback))
    return _rt.FallbackPolicy(kind.named, fallback)


def _hyperparams(group):
    """The runtime's Hyperparams for one param group. A fixed `threshold` takes precedence over
    `threshold_quantile`; both None turn the soft-threshold off."""
    h = _rt.Hyperparams()
    h.lr = float(group["lr"])
    h.momentum = float(group["momentum"])
    h.nesterov = bool(group["nesterov"])
    h.weight_decay = float(group["weight_decay"])
    if group["threshold"] is not None:
        h.threshold = _rt.ThresholdMode.fixed
        h.threshold_value = float(group["threshold"])
    elif group["threshold_quantile"] is None:
        h.threshold = _rt.ThresholdMode.off
    else:
        h.threshold = _rt.ThresholdMode.quantile
        h.threshold_quantile = float(group["threshold_quantile"])
    h.precision = _choice(_PRECISIONS, group["precision"], "precision")
    h.scale = _choice(_SCALES, group["scale"], "scale")
    return h


def _strip_names(params):
    """Splits a param group's "params", which may hold (name, tensor) pairs such as
    model.named_parameters(), into tensors and their names (None where not given)."""
    if isinstance(params, torch.Tensor):
        return [params], [None]
    tensors, names = [], []
    for item in params:
        name, tensor = item if isinstance(item, tuple) else (None, item)
        tensors.append(tensor)
        names.append(name)
    return tensors, names


def _matrix_shape(p):
    """(rows, cols) of the matrix the ROOT step sees: (d0, d1*d2*...)."""
    return p.shape[0], p.numel() // p.shape[0]


class ROOT(torch.optim.Optimizer):
    """ROOT: momentum, Nesterov, soft-threshold at a quantile of |U|, Newton-Schulz with per-shape
    tuned coefficients from `table`, scaled update with decoupled weight decay (the runtime does
    all of it; see include/rootopt/optimizer.h). AdamW for 1-D parameters and use_root=False groups.

    Args:
      params: tensors, (name, tensor) pairs or param-group dicts (per-group keys: every keyword
        below except table and fallback, plus use_root).
      table: HDF5 coefficient table (docs/table-format.md), loaded once; None: no table (every
        shape uses a named schedule, see `fallback`).
      fallback: for shapes the table lacks: "nearest" (nearest tuned shape, a warning once per
        shape), "error", or a built-in schedule name ("muon", "polar-express", "you",
        "root-paper"). Without a table, "nearest" means "root-paper".
      threshold_quantile: soft-threshold eps = quantile_q(|U|); None with threshold=None: off.
      threshold: a fixed eps instead of the quantile (takes precedence).
      scale: "rms" (0.2 sqrt(max(m, n))), "spectral" (sqrt(max(1, m/n))) or "none".
      precision: Newton-Schulz arithmetic, "bf16" (fp32 accumulation) or "fp32".
      adamw_lr: AdamW learning rate (None: lr). When a scheduler drives lr (the group has
        "initial_lr"), adamw_lr is multiplied by lr / initial_lr, so both follow the schedule.
      adamw_weight_decay: None: weight_decay.
    """

    def __init__(self, params, table=None, lr=1e-3, momentum=0.95, nesterov=True,
                 weight_decay=0.1, threshold_quantile=0.9, threshold=None, scale="rms",
                 precision="bf16", fallback="nearest", adamw_lr=None, adamw_betas=(0.9, 0.95),
                 adamw_eps=1e-8, adamw_weight_decay=None):
        self._configure(table, fallback)
        defaults = dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay,
                        threshold_quantile=threshold_quantile, threshold=threshold, scale=scale,
                        precision=precision, use_root=True, adamw_lr=adamw_lr,
                        adamw_betas=tuple(adamw_betas), adamw_eps=adamw_eps,
                        adamw_weight_decay=adamw_weight_decay)
        super().__init__(params, defaults)

    def _configure(self, table, fallback):
        self._config = (table, fallback)
        self._table = "" if table is None else str(table)
        self._fallback = _fallback_policy(table, fallback)
        # Without a table every shape uses the named schedule by design: nothing to warn about.
        self._report_fallbacks = table is not None
        self._runtimes = {}
        self._warned = set()
        # Loads and validates the table now, so a bad table fails here rather than at step 1;
        # also validates each group's hyperparameters (add_param_group).
        self._validator = _rt.Optimizer(self._table, self._fallback, _rt.Device.cpu,
                                        _rt.Hyperparams())

    def add_param_group(self, param_group):
        """As torch's, plus (name, tensor) pairs; names go to the group's "param_names" (used in
        warnings and schedules()), hyperparameters are validated by the runtime."""
        params, names = _strip_names(param_group["params"])
        # Validated before torch adds the group, so a rejected group leaves nothing behind.
        self._validator.set_hyperparams(_hyperparams(dict(self.defaults, **param_group)))
        super().add_param_group(dict(param_group, params=params, param_names=names))

    def __getstate__(self):
        # torch pickles defaults, state and param_groups; runtime instances are rebuilt lazily.
        return dict(super().__getstate__(), rootopt_config=self._config)

    def __setstate__(self, state):
        # Unpickling carries rootopt_config; torch's load_state_dict also calls __setstate__
        # (without it), and then the configuration stays as it is.
        config = state.pop("rootopt_config", None)
        super().__setstate__(state)
        if config is not None:
            self._configure(*config)

    def _name(self, group_index, index):
        group = self.param_groups[group_index]
        name = group.get("param_names", [None] * (index + 1))[index]
        if name is None:
            name = f"group{group_index}.param{index}{list(group['params'][index].shape)}"
        return name

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        plans = [self._route(group_index) for group_index in range(len(self.param_groups))]
        for group_index, (root, adamw) in enumerate(plans):
            self._adamw_step(self.param_groups[group_index], adamw)
            for device, indices in root.items():
                self._root_step(group_index, device, indices)
        return loss

    def _route(self, group_index):
        """({device: indices of ROOT parameters}, [AdamW parameters]) of one group, for the
        parameters that have gradients. Checks everything first, so bad input raises before any
        parameter is modified."""
        group = self.param_groups[group_index]
        root, adamw = {}, []
        for index, p in enumerate(group["params"]):
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError("rootopt: sparse gradients are not supported")
            if not (group["use_root"] and p.dim() >= 2):
                adamw.append(p)
                continue
            _dtype(p)
            if not p.is_contiguous():
                raise ValueError(
                    f"rootopt: parameter {self._name(group_index, index)} is not contiguous")
            root.setdefault(p.device, []).append(index)
        return root, adamw

    def _adamw_step(self, group, params):
        """torch's own functional AdamW (the math of torch.optim.AdamW, same state keys)."""
        if not params:
            return
        lr = group["lr"] if group["adamw_lr"] is None else group["adamw_lr"]
        if group["adamw_lr"] is not None and "initial_lr" in group:
            lr = lr * group["lr"] / group["initial_lr"]
        weight_decay = group["adamw_weight_decay"]
        if weight_decay is None:
            weight_decay = group["weight_decay"]
        exp_avgs, exp_avg_sqs, steps = [], [], []
        for p in params:
            state = self.state[p]
            if "exp_avg" not in state:
                state["step"] = torch.tensor(0.0)
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            steps.append(state["step"])
        beta1, beta2 = group["adamw_betas"]
        _torch_adamw(params, [p.grad for p in params], exp_avgs, exp_avg_sqs, [], steps,
                     amsgrad=False, beta1=beta1, beta2=beta2, lr=lr, weight_decay=weight_decay,
                     eps=group["adamw_eps"], maximize=False)

    def _runtime(self, group_index, device, indices):
        """The runtime instance for these parameters (indices into the group) on `device`;
        created, with the parameters registered, on first use. Runtime id i is indices[i]."""
        key = (group_index, str(device), tuple(indices))
        runtime = self._runtimes.get(key)
        if runtime is not None:
            return runtime
        group = self.param_groups[group_index]
        device_kind = _rt.Device.cuda if device.type == "cuda" else _rt.Device.cpu
        with _on_device(device):
            runtime = _rt.Optimizer(self._table, self._fallback, device_kind, _rt.Hyperparams())
            for index in indices:
                p = group["params"][index]
                rows, cols = _matrix_shape(p)
                runtime.add_param(self._name(group_index, index), 1, rows, cols, _dtype(p),
                                  p.data_ptr(), p.grad.data_ptr(),
                                  self._momentum_buffer(p).data_ptr())
        # Registration warnings are the fallback ones (one per shape the table lacks).
        for message in runtime.take_warnings():
            if self._report_fallbacks and message not in self._warned:
                self._warned.add(message)
                warnings.warn(f"rootopt: {message}", RuntimeWarning, stacklevel=4)
        if len(self._runtimes) >= _MAX_RUNTIMES:
            self._runtimes.pop(next(iter(self._runtimes)))
        self._runtimes[key] = runtime
        return runtime

    def _momentum_buffer(self, p):
        """fp32, in the parameter's layout, in self.state (so state_dict() holds it); the runtime
        reads and writes it through its pointer."""
        state = self.state[p]
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = torch.zeros(p.shape, dtype=torch.float32, device=p.device)
            state["step"] = 0
        return state["momentum_buffer"]

    def _root_step(self, group_index, device, indices):
        group = self.param_groups[group_index]
        params = [group["params"][index] for index in indices]
        runtime = self._runtime(group_index, device, indices)
        runtime.set_hyperparams(_hyperparams(group))
        # Gradients may be reallocated between steps (zero_grad(set_to_none=True)) and momentum
        # replaced by load_state_dict: every pointer is rebound before every step. `grads` keeps
        # contiguous copies alive until the step has run.
        grads = [p.grad.contiguous() for p in params]
        for id_, (p, grad) in enumerate(zip(params, grads)):
            runtime.rebind(id_, p.data_ptr(), grad.data_ptr(),
                           self._momentum_buffer(p).data_ptr())
        with _on_device(device):
            stream = torch.cuda.current_stream(device).cuda_stream if device.type == "cuda" else 0
            runtime.step(stream)
            # Step warnings repeat what the report says (CPU backend only); the report is the one
            # source for every device.
            runtime.take_warnings()
            _, skipped = runtime.last_report()  # synchronises the stream on CUDA
        if skipped:
            warnings.warn("rootopt: non-finite gradient, update skipped (momentum and weights "
                          f"unchanged) for: {', '.join(skipped)}", RuntimeWarning, stacklevel=3)
        for id_, p in enumerate(params):
            if runtime.param_name(id_) not in skipped:
                self.state[p]["step"] += 1

    def schedules(self):
        """{parameter name: schedule description} for every registered ROOT parameter."""
        out = {}
        for runtime in self._runtimes.values():
            for id_ in range(runtime.num_params):
                out[runtime.param_name(id_)] = runtime.schedule(id_)
        return out

    def load_state_dict(self, state_dict):
        """torch casts loaded state to the parameter's dtype; the momentum stays fp32 here, so a
        bf16 model resumes exactly."""
        saved_groups = state_dict["param_groups"]
        saved_state = state_dict["state"]
        super().load_state_dict(state_dict)
        saved_ids = itertools.chain.from_iterable(g["params"] for g in saved_groups)
        params = itertools.chain.from_iterable(g["params"] for g in self.param_groups)
        for saved_id, p in zip(saved_ids, params):
            buffer = saved_state.get(saved_id, {}).get("momentum_buffer")
            if buffer is not None:
                self.state[p]["momentum_buffer"] = buffer.to(
                    device=p.device, dtype=torch.float32, copy=True).contiguous()


class Muon(ROOT):
    """Muon for comparisons: the same step with a fixed named Newton-Schulz schedule for every
    shape (no table) and no soft-threshold. `schedule`: "muon" (3.4445, -4.7750, 2.0315) x 5,
    "polar-express", "you" or "root-paper". Scale "rms" by default, like ROOT, so the same lr
    means the same update size."""

    def __init__(self, params, lr=1e-3, momentum=0.95, nesterov=True, weight_decay=0.1,
                 schedule="muon", scale="rms", precision="bf16", adamw_lr=None,
                 adamw_betas=(0.9, 0.95), adamw_eps=1e-8, adamw_weight_decay=None):
        if schedule in ("nearest", "error"):
            raise ValueError(f"rootopt: Muon needs a built-in schedule name, got {schedule!r}")
        super().__init__(params, table=None, lr=lr, momentum=momentum, nesterov=nesterov,
                         weight_decay=weight_decay, threshold_quantile=None, threshold=None,
                         scale=scale, precision=precision, fallback=schedule, adamw_lr=adamw_lr,
                         adamw_betas=adamw_betas, adamw_eps=adamw_eps,
                         adamw_weight_decay=adamw_weight_decay)


def _dtype(p):
    if p.dtype not in _DTYPES:
        raise ValueError(f"rootopt: ROOT parameters must be float32 or bfloat16, got {p.dtype}")
    return _DTYPES[p.dtype]


def _on_device(device):
    """torch.cuda.device(device) for CUDA tensors (the runtime uses the current device), nothing
    for CPU ones."""
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()
