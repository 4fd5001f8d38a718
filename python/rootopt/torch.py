"""The ROOT optimizer (arXiv 2511.20626) as a ``torch.optim.Optimizer``, running in the rootopt runtime.

Two lines in a training script::

    from rootopt.torch import ROOT
    optimizer = ROOT(model.named_parameters(), table="data/tables/my-model.h5", lr=1e-3)

Routing (docs/python.md): parameters with two or more dimensions go to the ROOT step in the
runtime, seen as matrices by rootopt._plan.matrix_view (2-D: one matrix; 3-D [E, out, in]: E
matrices, stacked experts; 4-D and more: (d0, d1*...); per group `flatten` overrides); 1-D and
0-D parameters, and every parameter of a group with ``use_root=False`` (embeddings, output
heads), go to AdamW, computed by torch's own functional AdamW (torch.optim.adamw.adamw). This
class routes, validates, holds state and calls the runtime; it does no ROOT math itself. With a
process group (or DTensor parameters) the work is split across ranks by rootopt._distributed.
"""
import math
import os
import struct
import warnings
from dataclasses import dataclass
from typing import Optional

import torch
from torch.optim.adamw import adamw as _torch_adamw

from . import _dtensor
from . import _plan
from . import _rootopt as _rt
from ._runtimes import DTYPES, Job, Runtimes

__all__ = ["ROOT", "Muon"]

_PRECISIONS = {"fp32": _rt.Precision.fp32, "bf16": _rt.Precision.bf16}
_SCALES = {"rms": _rt.ScaleMode.rms, "spectral": _rt.ScaleMode.spectral, "none": _rt.ScaleMode.none}
_NORMALIZATIONS = {"frobenius": _rt.Normalization.frobenius,
                   "schatten4": _rt.Normalization.schatten4,
                   "schatten8": _rt.Normalization.schatten8}
# Validates hyperparameters only (no table needed; the schedule name is never used).
_VALIDATION_POLICY = _rt.FallbackPolicy(_rt.FallbackPolicy.Kind.named, "muon")
# State keys holding floating-point tensors that load_state_dict checks, with the dtype each
# must have (None: the parameter's floating dtype, as torch's AdamW keeps it).
_FLOAT_STATE = {"momentum_buffer": torch.float32, "exp_avg": None, "exp_avg_sq": None}


def _choice(table, value, what):
    if value not in table:
        raise ValueError(f"rootopt: {what} must be one of {sorted(table)}, got {value!r}")
    return table[value]


def _float32(what, value):
    """`value` as the runtime's float32, refusing conversions that change what it means: a
    nonzero value that underflows to 0 (threshold_quantile = 1e-300 must not be checked, and
    reported, as 0) or a finite one too large for float32."""
    value = float(value)
    single = struct.unpack("f", struct.pack("f", value))[0]
    if math.isinf(single) and math.isfinite(value):
        raise ValueError(f"rootopt: hyperparameter {what} = {value!r} is too large for float32 "
                         "(the runtime's precision)")
    if single == 0 and value != 0:
        raise ValueError(f"rootopt: hyperparameter {what} = {value!r} underflows to 0 in float32 "
                         "(the runtime's precision)")
    return single


def _fallback_policy(table, fallback, steps, normalization):
    """The runtime's FallbackPolicy: "nearest" and "error" act on shapes the table lacks; any other
    value names a built-in schedule ("muon", "polar-express", "you", "root-paper"), run with
    `steps` steps and `normalization`. Without a table every shape uses a named schedule:
    `fallback` if it names one, else "root-paper" (the ROOT paper's published per-shape triples,
    Muon's triple for other shapes)."""
    kind = _rt.FallbackPolicy.Kind
    if table is None:
        if fallback == "error":
            raise ValueError("rootopt: fallback='error' needs a table")
        policy = _rt.FallbackPolicy(kind.named, "root-paper" if fallback == "nearest" else fallback)
    elif fallback in ("nearest", "error"):
        policy = _rt.FallbackPolicy(getattr(kind, fallback))
    else:
        policy = _rt.FallbackPolicy(kind.named, fallback)
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise ValueError(f"rootopt: steps must be an integer, got {steps!r}")
    policy.steps = steps
    policy.normalization = _choice(_NORMALIZATIONS, normalization, "normalization")
    if policy.kind == kind.named:
        _rt.resolve_recipe(None, policy, 1, 1)  # an unknown name or bad steps fails here
    return policy


def _hyperparams(group):
    """The runtime's Hyperparams for one param group. A fixed `threshold` takes precedence over
    `threshold_quantile`; both None turn the soft-threshold off."""
    h = _rt.Hyperparams()
    h.lr = _float32("lr", group["lr"])
    h.momentum = _float32("momentum", group["momentum"])
    h.nesterov = bool(group["nesterov"])
    h.weight_decay = _float32("weight_decay", group["weight_decay"])
    if group["threshold"] is not None:
        h.threshold = _rt.ThresholdMode.fixed
        h.threshold_value = _float32("threshold", group["threshold"])
    elif group["threshold_quantile"] is None:
        h.threshold = _rt.ThresholdMode.off
    else:
        h.threshold = _rt.ThresholdMode.quantile
        h.threshold_quantile = _float32("threshold_quantile", group["threshold_quantile"])
    h.precision = _choice(_PRECISIONS, group["precision"], "precision")
    h.scale = _choice(_SCALES, group["scale"], "scale")
    return h


@dataclass(frozen=True)
class AdamWOptions:
    lr: float
    beta1: float
    beta2: float
    eps: float
    weight_decay: float


def _adamw_options(group):
    """AdamW's settings for one param group, validated. adamw_lr None: lr; with a scheduler (the
    group has "initial_lr") an explicit adamw_lr follows lr / initial_lr."""
    lr = group["lr"] if group["adamw_lr"] is None else group["adamw_lr"]
    if group["adamw_lr"] is not None and "initial_lr" in group:
        lr = lr * group["lr"] / group["initial_lr"]
    weight_decay = group["adamw_weight_decay"]
    if weight_decay is None:
        weight_decay = group["weight_decay"]
    beta1, beta2 = group["adamw_betas"]
    checks = [("adamw lr", lr, math.isfinite(lr) and lr >= 0, "finite and >= 0"),
              ("adamw_betas[0]", beta1, 0 <= beta1 < 1, "in [0, 1)"),
              ("adamw_betas[1]", beta2, 0 <= beta2 < 1, "in [0, 1)"),
              ("adamw_eps", group["adamw_eps"],
               math.isfinite(group["adamw_eps"]) and group["adamw_eps"] > 0, "finite and > 0"),
              ("adamw weight_decay", weight_decay,
               math.isfinite(weight_decay) and weight_decay >= 0, "finite and >= 0")]
    for what, value, ok, rule in checks:
        if not ok:
            raise ValueError(f"rootopt: {what} = {value!r} must be {rule}")
    return AdamWOptions(float(lr), float(beta1), float(beta2), float(group["adamw_eps"]),
                        float(weight_decay))


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


@dataclass
class Entry:
    """One parameter as a step sees it. `data` and `grad` are this rank's local tensors (the
    whole tensor, or a block of rows of dimension 0 when `sharded`); `position` is the
    parameter's index in state_dict() numbering; `view` is its matrix view (ROOT only)."""

    group: int
    index: int
    position: int
    param: torch.Tensor
    name: str
    data: torch.Tensor
    grad: Optional[torch.Tensor]
    root: bool
    sharded: bool
    view: Optional[_plan.MatrixView]


class ROOT(torch.optim.Optimizer):
    """ROOT: momentum, Nesterov, soft-threshold at a quantile of |U|, Newton-Schulz with the
    per-shape recipe from `table`, scaled update with decoupled weight decay (the runtime does
    all of it; see include/rootopt/optimizer.h). AdamW for 1-D parameters and use_root=False
    groups. Every argument after `params` is keyword-only.

    Args:
      params: tensors, (name, tensor) pairs or param-group dicts (per-group keys: every keyword
        below except table, fallback, process_group and timeout, plus use_root and sharded).
      table: HDF5 coefficient table (docs/table-format.md), loaded once per optimizer; None: no
        table (every shape uses a named schedule, see `fallback`).
      fallback: for shapes the table lacks: "nearest" (nearest tuned shape, a warning once per
        shape), "error", or a built-in schedule name ("muon", "polar-express", "you",
        "root-paper"). Without a table, "nearest" means "root-paper".
      threshold_quantile: soft-threshold eps = quantile_q(|U|); None with threshold=None: off.
      threshold: a fixed eps instead of the quantile (takes precedence).
      scale: "rms" (0.2 sqrt(max(m, n))), "spectral" (sqrt(max(1, m/n))) or "none".
      precision: Newton-Schulz arithmetic, "bf16" (fp32 accumulation) or "fp32".
      flatten: how parameters with 3+ dimensions become matrices (rootopt._plan.matrix_view):
        None: 3-D is a batch of matrices (stacked experts), 4-D+ is (d0, d1*...); True: always
        (d0, d1*...); False: always a batch of the last two dimensions.
      adamw_lr: AdamW learning rate (None: lr). When a scheduler drives lr (the group has
        "initial_lr"), adamw_lr is multiplied by lr / initial_lr, so both follow the schedule.
      adamw_weight_decay: None: weight_decay.
      process_group: a torch.distributed process group (e.g. torch.distributed.group.WORLD):
        each ROOT matrix is stepped by one owner rank and the weights reach the others by
        collectives (docs/python.md, "Distributed training"). None: every rank runs the whole
        step, unless parameters are DTensors (their mesh's group is used).
      timeout: seconds a rank waits for one collective (gloo) before raising; None: the
        process group's own timeout.
      A group with sharded=True holds this rank's block of rows of dimension 0 of each
      parameter (plain tensors sharded like FSDP2's Shard(0)); it needs a process group.
    """

    def __init__(self, params, *, table=None, lr=1e-3, momentum=0.95, nesterov=True,
                 weight_decay=0.1, threshold_quantile=0.9, threshold=None, scale="rms",
                 precision="bf16", flatten=None, fallback="nearest", adamw_lr=None,
                 adamw_betas=(0.9, 0.95), adamw_eps=1e-8, adamw_weight_decay=None,
                 process_group=None, timeout=None):
        defaults = dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay,
                        threshold_quantile=threshold_quantile, threshold=threshold, scale=scale,
                        precision=precision, flatten=flatten)
        self._setup(params, defaults, dict(table=table, fallback=fallback, fallback_steps=5,
                                           fallback_normalization="frobenius",
                                           process_group=process_group, timeout=timeout),
                    adamw_lr, adamw_betas, adamw_eps, adamw_weight_decay)

    def _setup(self, params, defaults, config, adamw_lr, adamw_betas, adamw_eps,
               adamw_weight_decay):
        self._configure(config)
        defaults = dict(defaults, use_root=True, sharded=False, adamw_lr=adamw_lr,
                        adamw_betas=tuple(adamw_betas), adamw_eps=adamw_eps,
                        adamw_weight_decay=adamw_weight_decay)
        super().__init__(params, defaults)

    def _configure(self, config):
        self._config = config
        table = config["table"]
        if table is not None:
            table = os.fspath(table)
            if table == "":
                raise ValueError("rootopt: table='' is an empty path; pass table=None for no "
                                 "table (every shape then uses the named fallback)")
            self._table = _rt.Table(table)  # loaded and validated once, here
        else:
            self._table = None
        self._fallback = _fallback_policy(table, config["fallback"], config["fallback_steps"],
                                          config["fallback_normalization"])
        # Without a table every shape uses the named schedule by design: nothing to warn about.
        self._report_fallbacks = table is not None
        self._runtimes = Runtimes(self._table, self._fallback)
        self._recipes = {}  # (rows, cols) -> resolve_recipe's dict
        self._warned = set()  # canonical shapes warned about
        self._checked_momentum = {}  # parameter -> the momentum tensor last checked finite
        self._skipped = []  # names skipped by the last step before the runtime ran
        self._runtime_skips_reported = True  # the runtime's own skips of the last step, warned
        self._validator = _rt.Optimizer(None, _VALIDATION_POLICY, _rt.Device.cpu,
                                        _rt.Hyperparams())
        self._distributed = None
        group = config["process_group"]
        if group is not None:
            from ._distributed import Engine
            self._distributed = Engine(self, group, config["timeout"])

    def add_param_group(self, param_group):
        """As torch's, plus (name, tensor) pairs; names go to the group's "param_names" (used in
        warnings and schedules()). Every option is validated before the group is added."""
        if self._distributed is not None and self._distributed.planned:
            raise RuntimeError("rootopt: add_param_group after the first step or state load of a "
                               "distributed ROOT: owners are already assigned; build the "
                               "optimizer with every group")
        params, names = _strip_names(param_group["params"])
        self._check_group(dict(self.defaults, **param_group), len(self.param_groups))
        super().add_param_group(dict(param_group, params=params, param_names=names))

    def _check_group(self, group, group_index):
        """Every option of a group, validated; raises before anything changes."""
        try:
            self._validator.set_hyperparams(_hyperparams(group))
            _adamw_options(group)
        except (ValueError, RuntimeError) as e:
            raise type(e)(f"{e} (param group {group_index})") from None
        if group["flatten"] not in (None, True, False):
            raise ValueError(f"rootopt: flatten must be None, True or False, got "
                             f"{group['flatten']!r} (param group {group_index})")
        for key in ("use_root", "sharded", "nesterov"):
            if not isinstance(group[key], bool):
                raise ValueError(f"rootopt: {key} must be True or False, got {group[key]!r} "
                                 f"(param group {group_index})")

    def __getstate__(self):
        if self._distributed is not None:
            raise TypeError("rootopt: a distributed ROOT cannot be pickled or copied; save "
                            "consolidate_state_dict() + state_dict() instead")
        # torch pickles defaults, state and param_groups; the table is reloaded from its path
        # and runtime instances are rebuilt lazily.
        return dict(super().__getstate__(), rootopt_config=self._config)

    def __setstate__(self, state):
        # Unpickling carries rootopt_config; torch's load_state_dict also calls __setstate__
        # (without it), and then the configuration stays as it is.
        config = state.pop("rootopt_config", None)
        super().__setstate__(state)
        if config is not None:
            self._configure(config)

    def _name(self, group_index, index):
        group = self.param_groups[group_index]
        name = group.get("param_names", [None] * (index + 1))[index]
        if name is None:
            name = f"group{group_index}.param{index}{list(group['params'][index].shape)}"
        return name

    def _entries(self):
        """Every parameter as an Entry, in state_dict() order. Checks what a step needs from each
        (dtype, contiguity, sparse gradients), so bad input raises before anything changes."""
        entries, position = [], 0
        for group_index, group in enumerate(self.param_groups):
            for index, p in enumerate(group["params"]):
                name = self._name(group_index, index)
                data, grad, dtensor_sharded = _dtensor.local_parts(p, name)
                sharded = group["sharded"] if dtensor_sharded is None else dtensor_sharded
                if sharded and self._distributed is None:
                    raise ValueError(f"rootopt: parameter {name} is sharded (param group "
                                     f"{group_index}) but the optimizer has no process_group")
                if grad is not None and grad.is_sparse:
                    raise RuntimeError("rootopt: sparse gradients are not supported")
                root = group["use_root"] and p.dim() >= 2
                view = None
                if root:
                    if p.dtype not in DTYPES:
                        raise ValueError(f"rootopt: ROOT parameters must be float32 or bfloat16, "
                                         f"got {p.dtype} for {name}")
                    if not data.is_contiguous():
                        raise ValueError(f"rootopt: parameter {name} is not contiguous")
                    view = _plan.matrix_view(p.shape, group["flatten"])
                if grad is not None and root:
                    grad = grad.contiguous()
                entries.append(Entry(group_index, index, position, p, name, data, grad, root,
                                     sharded, view))
                position += 1
        return entries

    def recipe(self, rows, cols, name):
        """The recipe a rows x cols matrix gets (resolve_recipe's dict), with the once-per-shape
        warning for shapes the table lacks."""
        key = (rows, cols)
        lookup = self._recipes.get(key)
        if lookup is None:
            lookup = _rt.resolve_recipe(self._table, self._fallback, rows, cols)
            self._recipes[key] = lookup
        canonical = (min(rows, cols), max(rows, cols))
        if (self._report_fallbacks and lookup["origin"] != "exact"
                and canonical not in self._warned):
            self._warned.add(canonical)
            warnings.warn(f"rootopt: shape {rows}x{cols} (first: '{name}') is not in the "
                          f"coefficient table {self._table.path}; using {lookup['description']}",
                          RuntimeWarning, stacklevel=4)
        return lookup

    def check_momentum(self, entry, shape):
        """The momentum in self.state of a ROOT parameter, if any, must be an fp32 contiguous
        tensor of `shape` on the parameter's device with finite values (checked again whenever
        the tensor object changes): anything else would corrupt memory or freeze the
        parameter. Raises naming the parameter."""
        buffer = self.state[entry.param].get("momentum_buffer")
        if buffer is None:
            return
        problem = None
        if not isinstance(buffer, torch.Tensor):
            problem = f"is a {type(buffer).__name__}, not a tensor"
        elif buffer.dtype != torch.float32:
            problem = f"has dtype {buffer.dtype}, expected torch.float32"
        elif tuple(buffer.shape) != tuple(shape):
            problem = f"has shape {list(buffer.shape)}, expected {list(shape)}"
        elif buffer.device != entry.data.device:
            problem = f"is on {buffer.device}, the parameter on {entry.data.device}"
        elif not buffer.is_contiguous():
            problem = "is not contiguous"
        elif self._checked_momentum.get(entry.param) is not buffer:
            if not bool(torch.isfinite(buffer).all()):
                problem = "holds NaN or Inf"
            else:
                self._checked_momentum[entry.param] = buffer
        if problem is not None:
            raise ValueError(f"rootopt: the momentum_buffer of parameter {entry.name} {problem}")

    def momentum_buffer(self, entry, shape):
        """fp32 momentum of `shape` on the parameter's device, in self.state (so state_dict()
        holds it); created zeroed on first use."""
        state = self.state[entry.param]
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = torch.zeros(shape, dtype=torch.float32,
                                                   device=entry.data.device)
            state["step"] = 0
            self._checked_momentum[entry.param] = state["momentum_buffer"]
        return state["momentum_buffer"]

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group_index, group in enumerate(self.param_groups):
            self._check_group(group, group_index)
        self._ensure_dtensor_engine()
        entries = self._entries()
        if self._distributed is not None:
            self._distributed.step(entries)
        else:
            self._step_local([e for e in entries if e.grad is not None])
        return loss

    def _ensure_dtensor_engine(self):
        """DTensor parameters without an explicit process_group: their mesh's group."""
        if self._distributed is not None:
            return
        groups = {id(g): g for g in (_dtensor.process_group(p) for group in self.param_groups
                                     for p in group["params"] if _dtensor.is_dtensor(p))}
        if not groups:
            return
        if len(groups) > 1:
            raise ValueError("rootopt: DTensor parameters on different device meshes; pass the "
                             "process_group they share")
        from ._distributed import Engine
        self._distributed = Engine(self, next(iter(groups.values())), self._config["timeout"])

    def root_job(self, entry, key, data, grad, momentum, rows=None):
        """The runtime registration of a ROOT parameter's `data`: the whole parameter, or when
        `rows` is given, its rows [start, stop) of dimension 0 (whole matrices of a batched
        view)."""
        view = entry.view
        name, batch = entry.name, view.batch
        if rows is not None:
            start, stop = rows
            name = f"{entry.name}[{start}:{stop}]"
            batch = (stop - start) * view.per_row0
        self.recipe(view.rows, view.cols, entry.name)
        return Job(key, name, batch, view.rows, view.cols, data, grad, momentum)

    def _step_local(self, entries):
        """Single process: every parameter with a gradient, in place."""
        for e in entries:
            if e.root:
                self.check_momentum(e, e.data.shape)
        bad = nonfinite([e.grad for e in entries])
        skipped = [e for e, b in zip(entries, bad) if b]
        active = [e for e, b in zip(entries, bad) if not b]
        runs = []
        for (group_index, device), group_entries in _by_group_and_device(
                [e for e in active if e.root]):
            jobs = [self.root_job(e, (e.position,), e.data, e.grad,
                                  self.momentum_buffer(e, e.data.shape)) for e in group_entries]
            runs.append((self._runtimes.get(group_index, device, jobs), group_index, device, jobs,
                         group_entries))
        # Everything validated and registered: from here on parameters change.
        self._runtimes.begin_step()
        self.adamw_step([e for e in active if not e.root])
        for runtime, group_index, device, jobs, _ in runs:
            self._runtimes.step(runtime, device, _hyperparams(self.param_groups[group_index]),
                                jobs)
        self.finish_step([e for run in runs for e in run[4]], skipped)

    def finish_step(self, stepped, skipped, labels=None):
        """Step counts and warnings after a step. `stepped`: ROOT entries this rank stepped;
        `skipped`: entries skipped for non-finite gradients (`labels` name them, with the ranks
        where, when distributed). The runtime's own skips (a NaN momentum, an overflow) are read
        here on the CPU, where that is free; on CUDA only last_report() reads them (it
        synchronises)."""
        self._skipped = [e.name for e in skipped]
        if skipped:
            where = " on every rank" if labels else ""
            warnings.warn(f"rootopt: non-finite gradient, update skipped{where} (weights, "
                          "momentum and AdamW state unchanged) for: "
                          f"{', '.join(labels or self._skipped)}", RuntimeWarning, stacklevel=3)
        inside = []
        self._runtime_skips_reported = all(e.data.device.type == "cpu" for e in stepped)
        if stepped and self._runtime_skips_reported:
            inside = self._runtimes.skipped()
            self._warn_runtime_skips(inside)
        for e in stepped:
            if not any(name == e.name or name.startswith(e.name + "[") for name in inside):
                self.state[e.param]["step"] += 1

    def _warn_runtime_skips(self, names):
        if names:
            warnings.warn("rootopt: the runtime skipped (its momentum holds NaN or Inf, or the "
                          "Nesterov direction overflows; weights and momentum unchanged): "
                          f"{', '.join(names)}", RuntimeWarning, stacklevel=4)

    def last_report(self):
        """What the last step skipped: {"skipped": parameters skipped for a non-finite gradient,
        "runtime_skipped": matrices the runtime skipped itself (a NaN/Inf momentum, an
        overflowing direction)}. On CUDA this synchronises the last step's stream and warns
        about runtime skips, which step() itself never does."""
        inside = self._runtimes.skipped()
        if not self._runtime_skips_reported:
            self._runtime_skips_reported = True
            self._warn_runtime_skips(inside)
        return {"skipped": list(self._skipped), "runtime_skipped": inside}

    def adamw_step(self, entries):
        """torch's own functional AdamW (the math of torch.optim.AdamW, same state keys), per
        group, on the entries' local tensors."""
        by_group = {}
        for e in entries:
            by_group.setdefault(e.group, []).append(e)
        for group_index, group_entries in by_group.items():
            options = _adamw_options(self.param_groups[group_index])
            exp_avgs, exp_avg_sqs, steps = [], [], []
            for e in group_entries:
                state = self.state[e.param]
                if "exp_avg" not in state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(e.data, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(e.data,
                                                           memory_format=torch.preserve_format)
                exp_avgs.append(state["exp_avg"])
                exp_avg_sqs.append(state["exp_avg_sq"])
                steps.append(state["step"])
            _torch_adamw([e.data for e in group_entries], [e.grad for e in group_entries],
                         exp_avgs, exp_avg_sqs, [], steps, amsgrad=False, beta1=options.beta1,
                         beta2=options.beta2, lr=options.lr, weight_decay=options.weight_decay,
                         eps=options.eps, maximize=False)

    def schedules(self):
        """{parameter name: its recipe} for every ROOT parameter: the schedule's name, origin
        (exact/nearest/named), source shape, description, the (a, b, c) coefficients per step and
        the recipe (normalization, form, steps, restarts, tail)."""
        out = {}
        for group_index, group in enumerate(self.param_groups):
            for index, p in enumerate(group["params"]):
                if group["use_root"] and p.dim() >= 2:
                    view = _plan.matrix_view(p.shape, group["flatten"])
                    name = self._name(group_index, index)
                    out[name] = self.recipe(view.rows, view.cols, name)
        return out

    def consolidate_state_dict(self, to=0):
        """Distributed only, called on every rank: gathers the momentum (and sharded AdamW state)
        that each rank holds for its own matrices onto rank `to`, whose state_dict() then returns
        the whole state in the single-process format (loadable at any world size)."""
        self._ensure_dtensor_engine()
        if self._distributed is None:
            raise RuntimeError("rootopt: consolidate_state_dict() is for a distributed ROOT; "
                               "state_dict() already holds everything")
        self._distributed.consolidate(self._entries(), to)

    def state_dict(self):
        self._ensure_dtensor_engine()
        if self._distributed is not None:
            return self._distributed.state_dict()
        return super().state_dict()

    def load_state_dict(self, state_dict):
        """Checks every loaded tensor first (ROOT momentum: float32, the parameter's shape,
        finite; AdamW moments: the parameter's shape, finite) and raises naming the parameter
        before anything changes. torch casts loaded state to the parameter's dtype; the momentum
        stays fp32 here, so a bf16 model resumes exactly. Distributed: every rank passes the
        whole (consolidated) state and keeps what its matrices need."""
        self._ensure_dtensor_engine()
        entries = self._entries()
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups) or any(
                len(s["params"]) != len(g["params"])
                for s, g in zip(saved_groups, self.param_groups)):
            raise ValueError("rootopt: the loaded state has different param groups (count or "
                             "sizes) than this optimizer")
        saved_ids = [i for g in saved_groups for i in g["params"]]
        shapes = (self._distributed.global_shapes(entries) if self._distributed is not None
                  else [tuple(e.param.shape) for e in entries])
        for e, saved_id, shape in zip(entries, saved_ids, shapes):
            _check_loaded_state(state_dict["state"].get(saved_id, {}), e, shape)
        if self._distributed is not None:
            state_dict = self._distributed.local_state_dict(state_dict, entries, saved_ids)
        super().load_state_dict(state_dict)
        for e, saved_id in zip(entries, saved_ids):
            buffer = state_dict["state"].get(saved_id, {}).get("momentum_buffer")
            if buffer is not None:
                buffer = buffer.to(device=e.data.device, dtype=torch.float32,
                                   copy=True).contiguous()
                self.state[e.param]["momentum_buffer"] = buffer
                self._checked_momentum[e.param] = buffer


class Muon(ROOT):
    """Muon for comparisons: the same step with one named Newton-Schulz schedule for every shape
    (no table) and no soft-threshold. `schedule`: "muon" (3.4445, -4.7750, 2.0315) x 5,
    "polar-express", "you" or "root-paper", run with `steps` steps and `normalization`
    ("frobenius" as deployed, "schatten4" or "schatten8": docs/recipes.md). Scale "rms" by
    default, like ROOT, so the same lr means the same update size."""

    def __init__(self, params, *, lr=1e-3, momentum=0.95, nesterov=True, weight_decay=0.1,
                 schedule="muon", steps=5, normalization="frobenius", scale="rms",
                 precision="bf16", flatten=None, adamw_lr=None, adamw_betas=(0.9, 0.95),
                 adamw_eps=1e-8, adamw_weight_decay=None, process_group=None, timeout=None):
        if schedule in ("nearest", "error"):
            raise ValueError(f"rootopt: Muon needs a built-in schedule name, got {schedule!r}")
        defaults = dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay,
                        threshold_quantile=None, threshold=None, scale=scale,
                        precision=precision, flatten=flatten)
        self._setup(params, defaults, dict(table=None, fallback=schedule, fallback_steps=steps,
                                           fallback_normalization=normalization,
                                           process_group=process_group, timeout=timeout),
                    adamw_lr, adamw_betas, adamw_eps, adamw_weight_decay)


def nonfinite(grads):
    """Whether each gradient holds NaN or Inf: one host read per device (on CUDA it waits for
    the gradients, not for any optimizer work)."""
    flags = [None] * len(grads)
    by_device = {}
    for i, g in enumerate(grads):
        by_device.setdefault(g.device, []).append(i)
    for indices in by_device.values():
        values = torch.stack([~torch.isfinite(grads[i]).all() for i in indices]).tolist()
        for i, value in zip(indices, values):
            flags[i] = bool(value)
    return flags


def _by_group_and_device(entries):
    groups = {}
    for e in entries:
        groups.setdefault((e.group, e.data.device), []).append(e)
    return groups.items()


def _check_loaded_state(state, entry, shape):
    """A loaded parameter state: every floating tensor has the parameter's (global) `shape` and
    finite values; the ROOT momentum is float32; a step count is finite and >= 0."""
    for key, dtype in _FLOAT_STATE.items():
        if key not in state:
            continue
        value = state[key]
        where = f"rootopt: loaded state '{key}' of parameter {entry.name}"
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{where} is a {type(value).__name__}, not a tensor")
        if dtype is not None and value.dtype != dtype:
            raise ValueError(f"{where} has dtype {value.dtype}, expected {dtype}")
        if not value.is_floating_point():
            raise ValueError(f"{where} has dtype {value.dtype}, expected a floating type")
        if tuple(value.shape) != tuple(shape):
            raise ValueError(f"{where} has shape {list(value.shape)}, expected {list(shape)} "
                             f"({math.prod(shape)} elements)")
        if not bool(torch.isfinite(value).all()):
            raise ValueError(f"{where} holds NaN or Inf")
    if "step" in state:
        step = float(state["step"])
        if not (math.isfinite(step) and step >= 0):
            raise ValueError(f"rootopt: loaded state 'step' of parameter {entry.name} is {step}")
