"""ROOT across the ranks of a torch.distributed process group (docs/python.md, "Distributed
training"): each ROOT matrix has one owner rank (rootopt._plan), which alone holds its momentum and
runs its runtime step; the new weights reach the other ranks by collectives.

Per step, on every rank:
  1. finiteness flags of every local gradient, all_gather'ed: one decision for every parameter on
     every rank (skip where any rank saw NaN/Inf; a gradient on some ranks but not others is an
     error). On the first step (or state load) the ranks also compare a fingerprint of their
     parameter sets, and gather the shard sizes the plan needs.
  2. owners stage what they step: replicated weights are copied into this rank's broadcast
     buffer, sharded matrices split across ranks are assembled from their holders' rows
     (all_to_all), momentum is copied; the runtime steps the staged copies.
  3. broadcast (replicated) and all_to_all back (sharded rows).
  4. only when every collective has succeeded: the new weights are copied into the parameters,
     the staged momentum becomes the state, AdamW steps its (local) parameters. A collective
     that fails or times out raises naming the parameters and ranks involved, and leaves this
     rank's weights, momentum and AdamW state as they were before the step.
Collectives run on the current stream on CUDA (NCCL orders them after the producing kernels);
communication buffers hold raw bytes, so any dtype mix travels in one collective.
"""
import datetime
import hashlib
import struct
import time

import torch
import torch.distributed as dist

from . import _plan
from .torch import _hyperparams, nonfinite

_ALIGN = 16  # bytes: every piece of a buffer starts aligned (typed views, vectorised kernels)


def _padded(nbytes):
    return (nbytes + _ALIGN - 1) // _ALIGN * _ALIGN


def _as_bytes(tensor):
    """A contiguous tensor's storage as a flat uint8 tensor (shares memory)."""
    flat = tensor.reshape(-1)
    return flat.view(torch.uint8) if flat.numel() else torch.empty(0, dtype=torch.uint8,
                                                                   device=tensor.device)


def _listed(names, limit=6):
    names = list(names)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


class _Layout:
    """Pieces laid out back to back, each padded to _ALIGN bytes: (key, nbytes) -> offset."""

    def __init__(self):
        self.offsets = {}
        self.size = 0

    def add(self, key, nbytes):
        self.offsets[key] = (self.size, nbytes)
        self.size += _padded(nbytes)

    def view(self, buffer, key, dtype, shape):
        offset, nbytes = self.offsets[key]
        return buffer[offset:offset + nbytes].view(dtype).view(shape)


class Engine:
    def __init__(self, optimizer, group, timeout):
        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError("rootopt: process_group was given but torch.distributed is not "
                               "initialised: call torch.distributed.init_process_group first")
        self.optimizer = optimizer
        self.group = group
        self.rank = dist.get_rank(group)
        if self.rank < 0:
            raise ValueError("rootopt: this process is not a member of process_group")
        self.world = dist.get_world_size(group)
        self.backend = str(dist.get_backend(group))
        self.timeout = None if timeout is None else datetime.timedelta(seconds=float(timeout))
        self.plan = None
        self.root = []  # plan parameter index -> entry position
        self.shapes = []  # entry position -> global shape
        self.rows = []  # entry position -> rows of dimension 0 per rank (sharded) or None
        self.consolidated = None
        self.timing = None  # {"compute": s, "communication": s} when profiling (benchmarks)

    @property
    def planned(self):
        return self.plan is not None

    # -- collectives ------------------------------------------------------------------------

    def _global(self, rank):
        if self.group is None or self.group is dist.group.WORLD:
            return rank
        get = getattr(dist, "get_global_rank", None) or dist.distributed_c10d._get_global_rank
        return get(self.group, rank)

    def _wait(self, works, what, peers, names):
        """Waits for `works`; a failure or timeout raises naming the collective, the peer ranks
        and the parameters it carried."""
        start = time.perf_counter()
        try:
            for work in works:
                if self.timeout is not None and self.backend == "gloo":
                    work.wait(timeout=self.timeout)
                else:
                    work.wait()
        except RuntimeError as e:
            raise RuntimeError(
                f"rootopt: rank {self.rank}: {what} with rank(s) {sorted(set(peers))} failed or "
                f"timed out ({str(e).strip()}); parameters: {_listed(names) or 'all'}. Nothing "
                "was changed on this rank: weights, momentum and AdamW state are as before the "
                "step") from e
        if self.timing is not None:
            self.timing["communication"] += time.perf_counter() - start

    def _comm_device(self, entries):
        if self.backend == "nccl":
            return next(e.data.device for e in entries if e.data.is_cuda)
        return torch.device("cpu")

    def _all_gather(self, tensor, what, names=()):
        out = [torch.empty_like(tensor) for _ in range(self.world)]
        if tensor.numel() == 0:  # the same on every rank (counts are compared first); gloo
            return out           # crashes on empty collectives
        work = dist.all_gather(out, tensor, group=self.group, async_op=True)
        self._wait([work], what, range(self.world), names)
        return out

    # -- the plan, made once ----------------------------------------------------------------

    def ensure_plan(self, entries):
        """Checks that every rank has the same parameters (one fingerprint exchange), gathers
        the shard sizes and makes the plan. Collective; once per optimizer."""
        if self.plan is not None:
            return
        device = self._comm_device(entries)
        counts = torch.tensor([len(entries), sum(e.root for e in entries),
                               sum(e.sharded for e in entries)], dtype=torch.int64, device=device)
        gathered = [c.tolist() for c in self._all_gather(counts, "comparing parameter counts")]
        for rank, other in enumerate(gathered):
            if other != gathered[0]:
                raise ValueError(
                    f"rootopt: the ranks hold different parameter sets: rank {rank} has "
                    f"{other[0]} parameters ({other[1]} for ROOT, {other[2]} sharded), rank 0 has "
                    f"{gathered[0][0]} ({gathered[0][1]}, {gathered[0][2]}); every rank must "
                    "build the optimizer over the same parameters")
        sharded = [e for e in entries if e.sharded]
        local_rows = torch.tensor([e.data.shape[0] if e.data.dim() else 0 for e in sharded],
                                  dtype=torch.int64, device=device)
        per_rank = [r.tolist() for r in self._all_gather(local_rows, "gathering shard sizes")]
        self.shapes = [tuple(e.param.shape) for e in entries]
        self.rows = [None] * len(entries)
        for j, e in enumerate(sharded):
            rows = tuple(per_rank[r][j] for r in range(self.world))
            self.rows[e.position] = rows
            self.shapes[e.position] = (sum(rows),) + tuple(e.data.shape[1:])
            if e.param is not e.data and tuple(e.param.shape) != self.shapes[e.position]:
                raise ValueError(  # a DTensor whose shards are not its rows in rank order
                    f"rootopt: the Shard(0) blocks of parameter {e.name} hold {list(rows)} rows, "
                    f"its global shape is {list(e.param.shape)}")
        self._apply_views(entries)
        self._check_fingerprints(entries, device)
        params = []
        self.root = []
        for e in entries:
            if not e.root:
                continue
            view = e.view
            group = self.optimizer.param_groups[e.group]
            recipe = self.optimizer.recipe(view.rows, view.cols, e.name)
            cost = view.batch * _plan.matrix_cost(view.rows, view.cols, recipe,
                                                  group["precision"], e.data.device.type)
            key = (e.group, view.rows, view.cols, str(e.param.dtype), recipe["description"])
            params.append(_plan.PlanParam(e.name, self.shapes[e.position][0],
                                          self.rows[e.position], view.per_row0, cost, key))
            self.root.append(e.position)
        self.plan = _plan.Plan(params, self.world)

    def _apply_views(self, entries):
        """Matrix views from the global shapes (a plain sharded tensor only knows its rows)."""
        for e in entries:
            if e.root:
                e.view = _plan.matrix_view(self.shapes[e.position],
                                           self.optimizer.param_groups[e.group]["flatten"])

    def _check_fingerprints(self, entries, device):
        def fingerprint(e):
            recipe = (self.optimizer.recipe(e.view.rows, e.view.cols, e.name)["description"]
                      if e.root else "")
            text = (f"{e.position}|{e.group}|{e.name}|{self.shapes[e.position]}|{e.param.dtype}|"
                    f"{e.root}|{e.sharded}|{e.view}|{recipe}")
            digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
            return struct.unpack("<q", digest)[0]

        local = torch.tensor([fingerprint(e) for e in entries], dtype=torch.int64, device=device)
        gathered = [g.tolist() for g in self._all_gather(local, "comparing parameter sets")]
        for e in entries:
            differ = [r for r in range(self.world)
                      if gathered[r][e.position] != gathered[self.rank][e.position]]
            if differ:
                raise ValueError(
                    f"rootopt: parameter {e.name} (number {e.position}) differs between rank "
                    f"{self.rank} and rank(s) {differ} in name, shape, dtype, routing, matrix "
                    f"view or recipe (here: {list(self.shapes[e.position])} {e.param.dtype}, "
                    f"{'ROOT' if e.root else 'AdamW'}); every rank must build the optimizer "
                    "over the same parameters")

    def global_shapes(self, entries):
        self.ensure_plan(entries)
        return [self.shapes[e.position] for e in entries]

    # -- one step ---------------------------------------------------------------------------

    def _decide(self, entries):
        """(active entries, skipped entries with the ranks that saw NaN/Inf): the same on every
        rank, from everyone's finiteness flags."""
        device = self._comm_device(entries)
        # Per entry: 0 holds no rows, 1 no gradient, 2 finite gradient, 3 NaN/Inf.
        codes = [0 if e.data.numel() == 0 else 1 if e.grad is None else 2 for e in entries]
        checked = [j for j, code in enumerate(codes) if code == 2]
        for j, bad in zip(checked, nonfinite([entries[j].grad for j in checked])):
            codes[j] += int(bad)
        local = torch.tensor(codes, dtype=torch.uint8, device=device)
        status = [s.tolist() for s in self._all_gather(local, "exchanging finiteness flags")]
        active, skipped = [], []
        for e in entries:
            held = [r for r in range(self.world) if status[r][e.position] != 0]
            with_grad = [r for r in held if status[r][e.position] >= 2]
            if not with_grad:
                continue
            if len(with_grad) < len(held):
                missing = [r for r in held if r not in with_grad]
                raise ValueError(
                    f"rootopt: parameter {e.name} has a gradient on rank(s) {with_grad} but not "
                    f"on rank(s) {missing}; every rank must compute gradients for the same "
                    "parameters (nothing was changed)")
            bad = [r for r in held if status[r][e.position] == 3]
            (skipped if bad else active).append((e, bad))
        return [e for e, _ in active], skipped

    def step(self, entries):
        opt = self.optimizer
        self.ensure_plan(entries)
        self._apply_views(entries)
        self.consolidated = None
        plan, me = self.plan, self.rank
        by_position = {e.position: e for e in entries}
        for unit in plan.owned(me):
            e = by_position[self.root[unit.param]]
            opt.check_momentum(e, self._unit_shape(unit))
        active, skipped = self._decide(entries)
        live = {e.position for e in active}
        units = [u for u in plan.units if self.root[u.param] in live]
        segments = [s for s in plan.segments if self.root[s.param] in live]

        # Stage this rank's matrices (nothing below changes a parameter or the state).
        start = time.perf_counter()
        broadcast = {r: _Layout() for r in range(self.world)}
        for u in units:
            if plan.params[u.param].rows_per_rank is None:
                e = by_position[self.root[u.param]]
                broadcast[u.owner].add(u.param, e.data.numel() * e.data.element_size())
        device = next((e.data.device for e in entries if e.root), torch.device("cpu"))
        outgoing = torch.empty(broadcast[me].size, dtype=torch.uint8, device=device)
        jobs, staged, commits = {}, [], []
        for u in units:
            if u.owner != me:
                continue
            e = by_position[self.root[u.param]]
            shape = self._unit_shape(u)
            if plan.params[u.param].rows_per_rank is None:
                data = broadcast[me].view(outgoing, u.param, e.data.dtype, shape)
                data.copy_(e.data)
                grad = e.grad
            elif plan.assembled(u.param):
                data = torch.empty(shape, dtype=e.data.dtype, device=device)
                grad = torch.empty(shape, dtype=e.data.dtype, device=device)
                held = self._held_rows(u.param)
                if held is not None:
                    data[held[0]:held[1]].copy_(e.data)
                    grad[held[0]:held[1]].copy_(e.grad)
                    commits.append((e, data[held[0]:held[1]]))
            else:  # whole matrices held here
                data = e.data.clone()
                grad = e.grad
                commits.append((e, data))
            momentum = opt.momentum_buffer(e, shape).clone()
            staged.append((e, momentum))
            whole = u.stop - u.start == self.shapes[e.position][0]
            job = opt.root_job(e, (e.position, u.start, u.stop), data, grad, momentum,
                               rows=None if whole else (u.start, u.stop))
            jobs.setdefault(e.group, []).append((job, e))
        runs = [(opt._runtimes.get(group_index, device, [j for j, _ in group_jobs]), group_index,
                 [j for j, _ in group_jobs]) for group_index, group_jobs in jobs.items()]
        compute = time.perf_counter() - start

        # Rows of split matrices to their owners.
        self._exchange(segments, by_position, jobs, device, forward=True)

        start = time.perf_counter()
        opt._runtimes.begin_step()
        for runtime, group_index, group_jobs in runs:
            opt._runtimes.step(runtime, device, _hyperparams(opt.param_groups[group_index]),
                               group_jobs)
        compute += time.perf_counter() - start

        # New weights back to every rank that holds them.
        works, incoming = [], {}
        for owner in range(self.world):
            if not broadcast[owner].offsets:
                continue
            buffer = outgoing if owner == me else torch.empty(broadcast[owner].size,
                                                              dtype=torch.uint8, device=device)
            incoming[owner] = buffer
            works.append((dist.broadcast(buffer, self._global(owner), group=self.group,
                                         async_op=True), owner))
        returned = self._exchange(segments, by_position, jobs, device, forward=False)
        for work, owner in works:
            names = [plan.params[u.param].name for u in units if u.owner == owner and
                     plan.params[u.param].rows_per_rank is None]
            peers = [r for r in range(self.world) if r != me] if owner == me else [owner]
            self._wait([work], f"broadcast of the weights stepped by rank {owner}", peers, names)

        # Every collective succeeded: commit.
        start = time.perf_counter()
        for u in units:
            if plan.params[u.param].rows_per_rank is None:
                e = by_position[self.root[u.param]]
                e.data.copy_(broadcast[u.owner].view(incoming[u.owner], u.param, e.data.dtype,
                                                     e.data.shape))
        for e, new in commits + returned:
            e.data.copy_(new)
        for e, momentum in staged:
            opt.state[e.param]["momentum_buffer"] = momentum
            opt._checked_momentum[e.param] = momentum
        opt.adamw_step([e for e in active if not e.root and e.data.numel() > 0])
        labels = [f"{e.name} (rank{'s' if len(bad) > 1 else ''} "
                  f"{', '.join(map(str, bad))})" for e, bad in skipped]
        opt.finish_step([e for e, _ in staged], [e for e, _ in skipped], labels)
        if self.timing is not None:
            self.timing["compute"] += compute + time.perf_counter() - start

    def _unit_shape(self, unit):
        shape = self.shapes[self.root[unit.param]]
        return (unit.stop - unit.start,) + tuple(shape[1:])

    def _held_rows(self, param):
        """Rows [start, stop) of dimension 0 this rank holds of a sharded parameter, or None."""
        rows = self.plan.params[param].rows_per_rank
        if rows[self.rank] == 0:
            return None
        start = _plan.shard_starts(rows)[self.rank]
        return start, start + rows[self.rank]

    def _exchange(self, segments, by_position, jobs, device, forward):
        """all_to_all of the rows of split matrices. forward: each holder sends its weight and
        gradient rows to the owner, which copies them into the job's assembly buffers (returns
        nothing to commit). Back: each owner sends the new weight rows to their holders; returns
        [(entry, new local rows)] to commit."""
        if self.world == 1 or not segments:
            return []
        me = self.rank
        owned = {job.key[0]: job for group_jobs in jobs.values() for job, _ in group_jobs}
        send = [_Layout() for _ in range(self.world)]
        recv = [_Layout() for _ in range(self.world)]
        for s in segments:
            e = by_position[self.root[s.param]]
            row_bytes = _row_elements(self.shapes[e.position]) * e.data.element_size()
            nbytes = (s.stop - s.start) * row_bytes
            pieces = ("weight", "grad") if forward else ("weight",)
            sender, receiver = (s.src, s.dst) if forward else (s.dst, s.src)
            for piece in pieces:
                if sender == me:
                    send[receiver].add((s, piece), nbytes)
                if receiver == me:
                    recv[sender].add((s, piece), nbytes)
        out = torch.empty(sum(layout.size for layout in send), dtype=torch.uint8, device=device)
        into = torch.empty(sum(layout.size for layout in recv), dtype=torch.uint8, device=device)
        send_base = _plan.shard_starts([layout.size for layout in send])
        recv_base = _plan.shard_starts([layout.size for layout in recv])
        for peer, layout in enumerate(send):
            for (s, piece), (offset, nbytes) in layout.offsets.items():
                e = by_position[self.root[s.param]]
                if forward:  # the holder's whole block
                    rows = e.data if piece == "weight" else e.grad
                else:
                    rows = owned[e.position].param[s.start:s.stop]
                base = send_base[peer] + offset
                out[base:base + nbytes].copy_(_as_bytes(rows.contiguous()))
        names = sorted({self.plan.params[s.param].name for s in segments})
        work = dist.all_to_all_single(into, out, [layout.size for layout in recv],
                                      [layout.size for layout in send], group=self.group,
                                      async_op=True)
        peers = {r for s in segments for r in (s.src, s.dst) if r != me}
        self._wait([work], "all_to_all of the rows of sharded matrices "
                   + ("to their owners" if forward else "back to their holders"), peers, names)
        commits = []
        for peer, layout in enumerate(recv):
            for (s, piece), (offset, nbytes) in layout.offsets.items():
                e = by_position[self.root[s.param]]
                base = recv_base[peer] + offset
                rows = into[base:base + nbytes].view(e.data.dtype).view(
                    (s.stop - s.start,) + tuple(self.shapes[e.position][1:]))
                if forward:
                    job = owned[e.position]
                    target = job.param if piece == "weight" else job.grad
                    target[s.start:s.stop].copy_(rows)
                else:
                    commits.append((e, rows))
        return commits

    # -- state ------------------------------------------------------------------------------

    def consolidate(self, entries, to):
        """Gathers every rank's momentum (and sharded AdamW state) onto rank `to` (collective)."""
        if not 0 <= to < self.world:
            raise ValueError(f"rootopt: consolidate_state_dict(to={to}) is not a rank of the "
                             f"process group (size {self.world})")
        opt = self.optimizer
        self.ensure_plan(entries)
        self._apply_views(entries)
        by_position = {e.position: e for e in entries}
        pieces, steps = [], {}
        for unit in self.plan.owned(self.rank):
            e = by_position[self.root[unit.param]]
            state = opt.state.get(e.param, {})
            if "momentum_buffer" in state:
                pieces.append((e.position, "momentum_buffer", unit.start, unit.stop,
                               state["momentum_buffer"]))
                steps[e.position] = state["step"]
        for e in entries:
            state = opt.state.get(e.param, {})
            if e.root or "exp_avg" not in state:
                continue
            if e.sharded:
                held = _plan.shard_starts(self.rows[e.position])[self.rank]
                for key in ("exp_avg", "exp_avg_sq"):
                    pieces.append((e.position, key, held, held + e.data.shape[0], state[key]))
                steps[e.position] = float(state["step"])
            elif self.rank == to:
                pieces.append((e.position, "exp_avg", 0, self.shapes[e.position][0],
                               state["exp_avg"]))
                pieces.append((e.position, "exp_avg_sq", 0, self.shapes[e.position][0],
                               state["exp_avg_sq"]))
                steps[e.position] = float(state["step"])
        meta = ([(p, key, a, b, str(t.dtype).replace("torch.", "")) for p, key, a, b, t in pieces],
                steps)
        gathered = [None] * self.world
        dist.all_gather_object(gathered, meta, group=self.group)
        layouts = []
        for rank, (rank_pieces, _) in enumerate(gathered):
            layout = _Layout()
            for p, key, a, b, dtype in rank_pieces:
                layout.add((p, key, a), (b - a) * _row_elements(self.shapes[p])
                           * torch.empty(0, dtype=getattr(torch, dtype)).element_size())
            layouts.append(layout)
        comm = self._comm_device(entries)
        if self.rank != to:
            buffer = torch.empty(layouts[self.rank].size, dtype=torch.uint8, device=comm)
            for p, key, a, b, tensor in pieces:
                offset, nbytes = layouts[self.rank].offsets[(p, key, a)]
                buffer[offset:offset + nbytes].copy_(_as_bytes(tensor.contiguous()))
            if buffer.numel():
                self._wait([dist.isend(buffer, self._global(to), group=self.group)],
                           f"sending optimizer state to rank {to}", [to], [])
            self.consolidated = None
            return
        state = {}
        for rank, (rank_pieces, rank_steps) in enumerate(gathered):
            if rank == to:
                buffer = None
            elif layouts[rank].size:
                buffer = torch.empty(layouts[rank].size, dtype=torch.uint8, device=comm)
                self._wait([dist.irecv(buffer, self._global(rank), group=self.group)],
                           f"receiving optimizer state from rank {rank}", [rank], [])
            for p, key, a, b, dtype in rank_pieces:
                shape = self.shapes[p]
                full = state.setdefault(p, {}).get(key)
                if full is None:
                    full = torch.empty(shape, dtype=getattr(torch, dtype))
                    state[p][key] = full
                if rank == to:
                    tensor = next(t for q, k, s, _, t in pieces if (q, k, s) == (p, key, a))
                    full[a:b].copy_(tensor)
                else:
                    full[a:b].copy_(layouts[rank].view(buffer, (p, key, a), getattr(torch, dtype),
                                                       (b - a,) + tuple(shape[1:])))
            for p, step in rank_steps.items():
                root = "momentum_buffer" in state.get(p, {})
                state.setdefault(p, {})["step"] = step if root else torch.tensor(step)
        self.consolidated = state

    def state_dict(self):
        if self.consolidated is None:
            raise RuntimeError(
                "rootopt: a distributed ROOT's state is spread over the ranks: call "
                "optimizer.consolidate_state_dict(to=RANK) on every rank after the last step, "
                "then state_dict() on rank RANK returns the whole state")
        packed = torch.optim.Optimizer.state_dict(self.optimizer)
        packed["state"] = self.consolidated
        return packed

    def local_state_dict(self, state_dict, entries, saved_ids):
        """The part of a whole (consolidated) state this rank keeps: the momentum rows of the
        matrices it owns, its rows of sharded AdamW moments, replicated AdamW state whole."""
        self.ensure_plan(entries)
        local = dict(state_dict, state={})
        plan_index = {position: i for i, position in enumerate(self.root)}
        for e, saved_id in zip(entries, saved_ids):
            saved = state_dict["state"].get(saved_id)
            if saved is None:
                continue
            kept = dict(saved)
            if e.root:
                kept.pop("momentum_buffer", None)
                unit = self.plan.unit(plan_index[e.position], self.rank)
                if unit is None:
                    continue
                if "momentum_buffer" in saved:
                    kept["momentum_buffer"] = saved["momentum_buffer"][unit.start:unit.stop].clone()
            elif e.sharded:
                start = _plan.shard_starts(self.rows[e.position])[self.rank]
                for key in ("exp_avg", "exp_avg_sq"):
                    if key in saved:
                        kept[key] = saved[key][start:start + e.data.shape[0]].clone()
            local["state"][saved_id] = kept
        return local


def _row_elements(shape):
    """Elements of one index of dimension 0."""
    count = 1
    for d in shape[1:]:
        count *= d
    return count
