#!/usr/bin/python3
"""Data-parallel training with rootopt.torch.ROOT across ranks (docs/python.md, "Distributed
training"): DDP averages the gradients, and ROOT gives each weight matrix one owner rank that
orthogonalises it, holds its momentum and broadcasts the new weights.

On CPU (gloo), two processes on this machine:

    PYTHONPATH=build/python OMP_NUM_THREADS=1 \\
        torchrun --standalone --nproc_per_node 2 examples/train_ddp.py --steps 200

On GPUs (NCCL), one process per GPU: the same command with --nproc_per_node <GPUs>.

The model is a small classifier with a mixture-of-experts layer whose experts are stored as one
3-D parameter [E, out, in] (ROOT orthogonalises each expert on its own); the data is synthetic
(a random teacher network labels Gaussian inputs), different on every rank. At the end rank 0
writes a checkpoint (the optimizer state consolidated from every rank, resumable at any world
size) and the script checks that every rank holds the same weights.
"""
import argparse
import os
import sys

import torch
import torch.distributed as dist
import torch.nn.functional as F

from rootopt.torch import ROOT


class Experts(torch.nn.Module):
    """A dense mixture of experts: softmax gate over E experts, each a Linear(d_in, d_out)."""

    def __init__(self, experts, d_in, d_out):
        super().__init__()
        self.gate = torch.nn.Linear(d_in, experts)
        self.weight = torch.nn.Parameter(torch.randn(experts, d_out, d_in) / d_in ** 0.5)

    def forward(self, x):
        mix = torch.softmax(self.gate(x), dim=-1)                     # [B, E]
        return torch.einsum("be,eoi,bi->bo", mix, self.weight, x)


class Classifier(torch.nn.Module):
    def __init__(self, d_in, hidden, experts, classes):
        super().__init__()
        self.input = torch.nn.Linear(d_in, hidden)
        self.experts = Experts(experts, hidden, hidden)
        self.hidden = torch.nn.Linear(hidden, hidden)
        self.head = torch.nn.Linear(hidden, classes)

    def forward(self, x):
        x = F.relu(self.input(x))
        x = F.relu(self.experts(x))
        x = F.relu(self.hidden(x))
        return self.head(x)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch", type=int, default=64, help="per rank")
    p.add_argument("--d-in", type=int, default=32)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--experts", type=int, default=4)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--lr", type=float, default=0.02)
    p.add_argument("--table", help="coefficient table (default: none, the ROOT paper's schedules)")
    p.add_argument("--checkpoint", help="write model + consolidated optimizer state here")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if cuda else \
        torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)

    torch.manual_seed(args.seed)  # the same initial weights and teacher on every rank
    teacher = torch.nn.Sequential(torch.nn.Linear(args.d_in, 64), torch.nn.Tanh(),
                                  torch.nn.Linear(64, args.classes)).to(device)
    model = Classifier(args.d_in, args.hidden, args.experts, args.classes).to(device)
    ddp = torch.nn.parallel.DistributedDataParallel(model)

    # Matrices (and the 3-D experts) go to ROOT, biases to AdamW; the output head to AdamW too,
    # as in the ROOT paper.
    head = {"head.weight", "head.bias"}
    body = [(n, p) for n, p in model.named_parameters() if n not in head]
    optimizer = ROOT([{"params": body},
                      {"params": [(n, p) for n, p in model.named_parameters() if n in head],
                       "use_root": False}],
                     table=args.table, lr=args.lr, weight_decay=0.01, adamw_lr=3e-3,
                     process_group=dist.group.WORLD)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.steps)

    generator = torch.Generator(device="cpu").manual_seed(args.seed + 1 + rank)  # own data
    losses = []
    for step in range(args.steps):
        x = torch.randn(args.batch, args.d_in, generator=generator).to(device)
        with torch.no_grad():
            y = teacher(x).argmax(dim=-1)
        loss = F.cross_entropy(ddp(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # DDP all-reduces the gradients
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        if rank == 0 and (step % 50 == 0 or step == args.steps - 1):
            print(f"step {step + 1}/{args.steps}: loss {loss.item():.4f}", flush=True)

    # Every rank must hold the same weights: compare each parameter with rank 0's.
    for name, p in model.named_parameters():
        reference = p.detach().clone()
        dist.broadcast(reference, 0)
        if not torch.equal(reference, p.detach()):
            raise SystemExit(f"rank {rank}: parameter {name} differs from rank 0's")

    optimizer.consolidate_state_dict(to=0)
    if rank == 0 and args.checkpoint:
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()},
                   args.checkpoint)
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    if rank == 0:
        print(f"{world} ranks, {args.steps} steps: loss {first:.3f} -> {last:.3f}; weights "
              "identical on every rank", flush=True)
    dist.barrier()  # no rank tears the group down while another still uses it (gloo aborts)
    dist.destroy_process_group()
    if last >= first:
        raise SystemExit(f"rank {rank}: the loss did not decrease ({first:.3f} -> {last:.3f})")


if __name__ == "__main__":
    main(sys.argv[1:])
