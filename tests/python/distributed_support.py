"""Helpers for the distributed tests: gloo process groups of spawned CPU processes, a model that
mixes every kind of parameter, and row shards of it (FSDP2's Shard(0) as plain tensors)."""
import datetime
import os
import traceback

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import reference as ref


def run_world(world, scenario, tmpdir, *args):
    """Runs scenario(rank, world, tmpdir, *args) in `world` spawned processes joined by a gloo
    process group (a file store in tmpdir); raises if any rank fails, with its traceback."""
    store = os.path.join(tmpdir, f"store.{scenario.__name__}.{world}")
    if os.path.exists(store):
        os.remove(store)
    # fork: the children start at once, without importing torch again (CPU only: a process that
    # has initialised CUDA must spawn).
    method = "spawn" if torch.cuda.is_initialized() else "fork"
    mp.start_processes(_worker, args=(world, store, scenario, tmpdir, args), nprocs=world,
                       join=True, start_method=method)


def _worker(rank, world, store, scenario, tmpdir, args):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world,
                            timeout=datetime.timedelta(seconds=120))
    try:
        scenario(rank, world, tmpdir, *args)
    except BaseException:
        traceback.print_exc()
        raise
    dist.barrier()  # no rank tears the group down while another still uses it (gloo aborts)
    dist.destroy_process_group()


class Mixed(torch.nn.Module):
    """Wide, tall and square matrices (two of one shape), stacked experts [E, out, in], a conv
    kernel, a 2-row matrix (an empty shard at world 3), 1-D parameters and an output head."""

    SHAPES = {"wide": (16, 40), "tall": (40, 16), "square_a": (24, 24), "square_b": (24, 24),
              "experts": (4, 16, 40), "conv": (8, 3, 3, 3), "thin": (2, 40), "bias": (24,),
              "norm": (40,), "head": (10, 24)}

    def __init__(self, seed=1, dtype=torch.float32):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        for name, shape in self.SHAPES.items():
            setattr(self, name, torch.nn.Parameter(
                (0.1 * torch.randn(shape, generator=generator)).to(dtype)))

    def groups(self, params=None, sharded=False):
        params = dict(self.named_parameters()) if params is None else params
        body = [(name, params[name]) for name in self.SHAPES if name != "head"]
        return [{"params": body, "sharded": sharded},
                {"params": [("head", params["head"])], "use_root": False, "lr": 3e-3,
                 "sharded": sharded}]


def grads(step, shapes=Mixed.SHAPES, dtype=torch.float32):
    """The full gradient of every parameter at `step`, the same on every rank (as after DDP's
    all-reduce); 2% of entries are 10x outliers so the soft-threshold clamps."""
    generator = torch.Generator().manual_seed(1000 + step)
    out = {}
    for name, shape in shapes.items():
        g = torch.randn(shape, generator=generator)
        out[name] = (g * (1 + 9 * (torch.rand(shape, generator=generator) < 0.02))).to(dtype)
    return out


def shard_rows(rows, world):
    """Rows of dimension 0 per rank as torch.chunk places them (FSDP2's Shard(0)): ceil-sized
    blocks in rank order, the last ones smaller or empty."""
    size = -(-rows // world)
    return [max(0, min(size, rows - r * size)) for r in range(world)]


def local_rows(full, rank, world):
    sizes = shard_rows(full.shape[0], world)
    start = sum(sizes[:rank])
    return full[start:start + sizes[rank]]


def options(table):
    return dict(table=table, lr=0.02, weight_decay=0.05, precision="bf16")


def write_table(tmpdir):
    path = os.path.join(tmpdir, "table.h5")
    ref.write_table(path, ref.TEST_SCHEDULES)
    return path
