#!/usr/bin/python3
"""Wall time of rootopt.torch.ROOT's step: one process against `--world` gloo processes on this
machine (docs/results/python.md), on a model whose ROOT step dominates (`--count` fp32 matrices
of `--shape`, the same gradients every step on every rank, as after DDP's all-reduce).

    PYTHONPATH=build/python OMP_NUM_THREADS=1 /usr/bin/python3 bench/python/distributed_step.py

Per layout (replicated: every rank holds the weights, owners broadcast them; sharded: each rank
holds a block of rows, as FSDP2's Shard(0), rows travel by all_to_all) it prints the median over
`--steps` steps (after `--warmup`) of the slowest rank's step() wall time, that time over the
single-process step measured in the same run, the part of it spent waiting in collectives (the
slowest rank's), and the momentum each rank holds. Single-process and distributed runs alternate
`--repeats` times, so slow drift of the machine's load hits both. On a machine shared with other
work, wall times measure the scheduler; the CPU time each process used per step (all its threads,
gloo's included) shows how the work divides, whatever the load.
"""
import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from rootopt.torch import ROOT


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--world", type=int, default=2)
    p.add_argument("--shape", default="256x1024", help="rows x cols of each matrix")
    p.add_argument("--count", type=int, default=8, help="matrices in the model")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--precision", choices=("bf16", "fp32"), default="bf16")
    p.add_argument("--layouts", nargs="+", choices=("replicated", "sharded"),
                   default=["replicated", "sharded"])
    return p.parse_args(argv)


def make(args, rank=0, world=1, sharded=False):
    rows, cols = (int(x) for x in args.shape.split("x"))
    generator = torch.Generator().manual_seed(0)
    params = []
    for i in range(args.count):
        full = 0.02 * torch.randn(rows, cols, generator=generator)
        if sharded:
            full = full[rank * rows // world:(rank + 1) * rows // world]
        params.append((f"w{i}", torch.nn.Parameter(full.clone())))
    options = dict(lr=0.01, precision=args.precision, fallback="polar-express")
    group = dist.group.WORLD if world > 1 or dist.is_initialized() else None
    optimizer = ROOT([{"params": params, "sharded": sharded}], process_group=group, **options)
    return [p for _, p in params], optimizer, (rows, cols)


def run_steps(args, params, optimizer, shape, rank, world, sharded):
    """Per measured step: (wall, communication, process CPU) seconds on this rank."""
    rows = shape[0]
    generator = torch.Generator().manual_seed(1)
    engine = optimizer._distributed
    times = []
    for step in range(args.warmup + args.steps):
        for p in params:
            g = torch.randn(shape, generator=generator)
            p.grad = g[rank * rows // world:(rank + 1) * rows // world].clone() if sharded else g
        if engine is not None:
            engine.timing = {"compute": 0.0, "communication": 0.0}
            dist.barrier()
        start, cpu = time.perf_counter(), time.process_time()
        optimizer.step()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        if step >= args.warmup:
            times.append((wall, engine.timing["communication"] if engine else 0.0, cpu))
    return times


def single(args):
    params, optimizer, shape = make(args)
    times = run_steps(args, params, optimizer, shape, 0, 1, False)
    return statistics.median(t[0] for t in times), statistics.median(t[2] for t in times)


def worker(rank, args, store, layout, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank,
                            world_size=args.world, timeout=datetime.timedelta(seconds=600))
    sharded = layout == "sharded"
    params, optimizer, shape = make(args, rank, args.world, sharded)
    times = run_steps(args, params, optimizer, shape, rank, args.world, sharded)
    momentum = sum(s["momentum_buffer"].numel() * 4 for s in optimizer.state.values())
    gathered = [None] * args.world
    dist.all_gather_object(gathered, {"times": times, "momentum": momentum})
    if rank == 0:
        with open(out, "w") as f:
            json.dump(gathered, f)
    dist.barrier()
    dist.destroy_process_group()


def distributed(args, layout, tmpdir):
    store = os.path.join(tmpdir, f"store.{layout}.{time.monotonic_ns()}")
    out = os.path.join(tmpdir, f"{layout}.json")
    mp.start_processes(worker, args=(args, store, layout, out), nprocs=args.world, join=True,
                       start_method="fork")
    with open(out) as f:
        ranks = json.load(f)
    steps = len(ranks[0]["times"])
    slowest = [max(ranks, key=lambda r: r["times"][i][0])["times"][i] for i in range(steps)]
    busiest = [max(r["times"][i][2] for r in ranks) for i in range(steps)]
    return (statistics.median(t[0] for t in slowest), statistics.median(t[1] for t in slowest),
            statistics.median(busiest), [r["momentum"] for r in ranks])


def main(argv):
    args = parse_args(argv)
    torch.set_num_threads(1)
    load = os.getloadavg()
    rows, cols = (int(x) for x in args.shape.split("x"))
    total = args.count * rows * cols * 4
    print(f"# {args.count} x {args.shape} fp32 weights, {args.precision} Newton-Schulz, world "
          f"{args.world}, {args.steps} steps after {args.warmup} warm-up, {args.repeats} repeats;"
          f" load average {load[0]:.1f}", flush=True)
    results = {layout: [] for layout in args.layouts}
    baselines = []
    with tempfile.TemporaryDirectory() as tmpdir:
        for _ in range(args.repeats):
            baselines.append(single(args))
            for layout in args.layouts:
                results[layout].append(distributed(args, layout, tmpdir))
    base = statistics.median(b[0] for b in baselines)
    base_cpu = statistics.median(b[1] for b in baselines)
    print("| layout | world | step ms | 1-process ms | ratio | of it communication ms | "
          "CPU ms, busiest rank | 1-process CPU ms | CPU ratio | momentum per rank (MiB, total "
          f"{total / 2**20:.1f}) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for layout, runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        comm = statistics.median(r[1] for r in runs)
        cpu = statistics.median(r[2] for r in runs)
        memory = ", ".join(f"{m / 2**20:.1f}" for m in runs[-1][3])
        print(f"| {layout} | {args.world} | {wall * 1e3:.0f} | {base * 1e3:.0f} | "
              f"{wall / base:.2f} | {comm * 1e3:.0f} | {cpu * 1e3:.0f} | {base_cpu * 1e3:.0f} | "
              f"{cpu / base_cpu:.2f} | {memory} |", flush=True)
    print(f"# load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
