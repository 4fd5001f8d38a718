"""Planning for ROOT across ranks: how a parameter is seen as matrices, what a matrix costs, which
rank steps which matrices (its owner), and which rows of a sharded parameter travel where.

Plain Python on shapes and numbers (no torch, no communication), so every decision is
unit-tested on its own and every rank computes the same plan from the same inputs.

Parameters come in two layouts across the ranks of a process group:
  replicated  every rank holds the whole tensor (DDP). One owner steps it; the new weights reach
              the other ranks by broadcast.
  sharded     rank r holds a contiguous block of rows of dimension 0 (FSDP2 / DTensor Shard(0):
              blocks in rank order, any sizes, some may be empty). A matrix whose rows all live on
              one rank is stepped there; a matrix split across ranks is assembled on its owner
              (all_to_all: each holder sends its rows), stepped, and its rows sent back.
"""
import math
from dataclasses import dataclass
from typing import Optional, Tuple

# Relative time per flop of each precision on the device a step runs on (docs/recipes.md, "Cost
# model"): the CPU backend computes bf16 steps in fp32 and rounds, so every precision costs the
# same there; on the GPU, dense tensor-core peaks of H100/H200.
_PRECISION_COST = {
    "cpu": {"bf16": 1.0, "tf32": 1.0, "fp32": 1.0},
    "cuda": {"bf16": 1.0, "tf32": 2.0, "fp32": 15.0},
}
_PRECISION_RANK = {"bf16": 0, "tf32": 1, "fp32": 2}


@dataclass(frozen=True)
class MatrixView:
    """How the ROOT step sees a parameter: `batch` matrices of rows x cols (row-major,
    contiguous). `per_row0` is the number of whole matrices one index of dimension 0 holds (a
    batched view: stacked experts), or 0 when dimension 0 indexes rows of a single matrix."""

    batch: int
    rows: int
    cols: int
    per_row0: int


def matrix_view(shape, flatten=None):
    """The matrices of a parameter of `shape` (two or more dimensions).

    flatten None (default): 2-D is one matrix; 3-D [E, out, in] is a batch of E matrices
    out x in (stacked experts: each expert its own matrix in every respect); 4-D and more
    (conv kernels [out, in, kh, kw]) is one matrix (d0, d1*d2*...).
    flatten True: always one matrix (d0, d1*d2*...). flatten False: always a batch of the last
    two dimensions, d0*...*d(k-2) matrices of d(k-1) x dk.
    """
    shape = tuple(int(d) for d in shape)
    if len(shape) < 2:
        raise ValueError(f"rootopt: a matrix view needs two or more dimensions, got {shape}")
    batched = len(shape) > 2 and (flatten is False or (flatten is None and len(shape) == 3))
    if batched:
        return MatrixView(math.prod(shape[:-2]), shape[-2], shape[-1], math.prod(shape[1:-2]))
    return MatrixView(1, shape[0], math.prod(shape[1:]), 0)


def _step_weight(k, recipe, precision, device):
    """Relative cost of step k (0-based) of `recipe` at working precision `precision`."""
    tail_start = recipe["steps"] - recipe["tail_steps"]
    if k >= tail_start and _PRECISION_RANK[recipe["tail_precision"]] > _PRECISION_RANK[precision]:
        precision = recipe["tail_precision"]
    return _PRECISION_COST[device][precision]


def matrix_cost(rows, cols, recipe, precision="bf16", device="cpu"):
    """Relative cost of orthogonalising one rows x cols matrix with `recipe` (the dict
    rootopt._rootopt.resolve_recipe returns): its GEMM flops per docs/recipes.md's cost model,
    a product with a symmetric result counted at half, each step weighted by its precision.

    A local estimate of include/rootopt/cost_model.h's recipe_cost, which the planner will call
    once that header is in the build; only ratios between parameters matter here."""
    r, n = min(rows, cols), max(rows, cols)
    steps = recipe["steps"]
    restarts = set(recipe["restarts"])
    weight = [_step_weight(k, recipe, precision, device) for k in range(steps)]
    if recipe["form"] == "standard":
        # Per step: Gram X X^T (symmetric) r^2 n, A*A r^3 (symmetric), update P X 2 r^2 n.
        return sum(w * (3 * r * r * n + r ** 3) for w in weight)
    # Gram form: R = X0 X0^T once, X_K = Q X0 once; per step R*R, H*Q (not when Q = I), then
    # (not after the last step) either a restart (X0 = Q X0, R = X0 X0^T) or H*R and *H.
    total = weight[0] * r * r * n + weight[-1] * 2 * r * r * n
    q_is_identity = True
    for k in range(steps):
        total += weight[k] * (r ** 3 + (0 if q_is_identity else 2 * r ** 3))
        q_is_identity = False
        if k == steps - 1:
            break
        if k + 1 in restarts:
            total += weight[k] * 3 * r * r * n
            q_is_identity = True
        else:
            total += weight[k] * 3 * r ** 3
    return total


@dataclass(frozen=True)
class PlanParam:
    """One ROOT parameter as the planner sees it.

    dim0: global extent of dimension 0. rows_per_rank: the extent of dimension 0 each rank holds
    (sharded), None when every rank holds the whole tensor (replicated). per_row0: as in
    MatrixView. cost: of the whole parameter (all its matrices). group: parameters with equal
    keys (shape, dtype, recipe) are batched together by the CUDA backend, so the planner keeps
    them on as few ranks as it can."""

    name: str
    dim0: int
    rows_per_rank: Optional[Tuple[int, ...]]
    per_row0: int
    cost: float
    group: tuple


@dataclass(frozen=True)
class Unit:
    """Rows [start, stop) of dimension 0 of parameter `param`, stepped by rank `owner` (whole
    matrices: the whole parameter, or a holder's block of a batched sharded parameter)."""

    param: int
    start: int
    stop: int
    owner: int


@dataclass(frozen=True)
class Segment:
    """Rows [start, stop) of parameter `param`, held by rank `src`, travel to the owner `dst`
    (weights and gradient) and come back (new weights)."""

    param: int
    start: int
    stop: int
    src: int
    dst: int


def shard_starts(rows_per_rank):
    """First row of each rank's block (blocks are contiguous, in rank order)."""
    starts, total = [], 0
    for rows in rows_per_rank:
        starts.append(total)
        total += rows
    return starts


class Plan:
    """Owners and transfers for `params` (a list of PlanParam) over `world` ranks.

    units: every matrix goes to exactly one unit; a rank owns at most one unit per parameter.
    segments: rows that travel, in a fixed order (by unit, then source rank) that every rank uses
    to lay out its send and receive buffers. loads: the summed cost each rank steps."""

    def __init__(self, params, world):
        if world < 1:
            raise ValueError(f"rootopt: world size must be >= 1, got {world}")
        self.params = list(params)
        self.world = world
        fixed, free = [], []
        for index, p in enumerate(self.params):
            if p.rows_per_rank is not None and len(p.rows_per_rank) != world:
                raise ValueError(f"rootopt: parameter {p.name} has {len(p.rows_per_rank)} shard "
                                 f"sizes for {world} ranks")
            if p.rows_per_rank is not None and sum(p.rows_per_rank) != p.dim0:
                raise ValueError(f"rootopt: the shards of parameter {p.name} hold "
                                 f"{sum(p.rows_per_rank)} rows of dimension 0, expected {p.dim0}")
            holders = ([r for r, rows in enumerate(p.rows_per_rank) if rows > 0]
                       if p.rows_per_rank is not None else [])
            if p.rows_per_rank is not None and (p.per_row0 > 0 or len(holders) == 1):
                # Whole matrices on each holder: stepped where they are, nothing travels.
                starts = shard_starts(p.rows_per_rank)
                for r in holders:
                    rows = p.rows_per_rank[r]
                    fixed.append(Unit(index, starts[r], starts[r] + rows, r))
            else:
                free.append(index)
        preload = [0.0] * world
        for unit in fixed:
            preload[unit.owner] += self.unit_cost(unit)
        owners = balance([self.params[i].cost for i in free],
                         [self.params[i].group for i in free], preload)
        units = fixed + [Unit(i, 0, self.params[i].dim0, owner) for i, owner in zip(free, owners)]
        self.units = sorted(units, key=lambda u: (u.param, u.start))
        self.loads = preload
        for i, owner in zip(free, owners):
            self.loads[owner] += self.params[i].cost
        self.segments = []
        for unit in self.units:
            p = self.params[unit.param]
            if p.rows_per_rank is None or unit.stop - unit.start < p.dim0:
                continue
            for src, (start, rows) in enumerate(zip(shard_starts(p.rows_per_rank),
                                                    p.rows_per_rank)):
                if rows > 0 and src != unit.owner:
                    self.segments.append(Segment(unit.param, start, start + rows, src,
                                                 unit.owner))

    def unit_cost(self, unit):
        p = self.params[unit.param]
        return p.cost * (unit.stop - unit.start) / p.dim0

    def owned(self, rank):
        """The units `rank` steps, in parameter order."""
        return [u for u in self.units if u.owner == rank]

    def unit(self, param, rank):
        """The unit of `param` that `rank` owns, or None."""
        for u in self.units:
            if u.param == param and u.owner == rank:
                return u
        return None

    def assembled(self, param):
        """Whether `param`'s rows travel to an owner (a sharded matrix split across ranks)."""
        return any(s.param == param for s in self.segments)


def balance(costs, groups, preload):
    """Owner ranks for items with `costs`, on ranks already carrying `preload`: the items,
    grouped (same-shape items adjacent; groups by total cost, largest first, and items within a
    group by cost, largest first, which lets the cuts fall between groups more often), are cut
    into contiguous runs, one per rank in rank order, with the smallest achievable maximum load
    (bisection on that maximum). A group stays on one rank unless a cut must fall inside it, so
    at most world - 1 groups are split. Deterministic: every rank computes the same owners from
    the same numbers."""
    world = len(preload)
    totals = {}
    for cost, group in zip(costs, groups):
        totals[group] = totals.get(group, 0.0) + cost
    first = {}
    for group in groups:
        first.setdefault(group, len(first))
    order = sorted(range(len(costs)),
                   key=lambda i: (-totals[groups[i]], first[groups[i]], -costs[i], i))
    ordered = [costs[i] for i in order]

    def assign(capacity):
        # Greedy in order is optimal for "fits in contiguous runs under `capacity`": filling an
        # earlier rank as far as it goes never makes a later cut worse.
        owners, rank, load = [], 0, list(preload)
        for cost in ordered:
            while rank < world and load[rank] + cost > capacity:
                rank += 1
            if rank == world:
                return None
            load[rank] += cost
            owners.append(rank)
        return owners

    if not costs:
        return []
    low = max(max(preload), (sum(preload) + sum(costs)) / world)
    high = max(preload) + sum(costs)
    best = assign(float("inf"))  # everything on the first rank: always fits
    for _ in range(100):
        if high - low <= 1e-12 * high:
            break
        middle = (low + high) / 2
        owners = assign(middle)
        if owners is None:
            low = middle
        else:
            high, best = middle, owners
    result = [0] * len(costs)
    for position, item in enumerate(order):
        result[item] = best[position]
    return result
