"""ROOT across ranks (issue 11), with gloo process groups of 1, 2 and 3 CPU processes (3: shares are
uneven). Each rank also runs the single-process optimizer on a twin model with the same
gradients, and every weight must be bit-identical to it (fp32 weights, bf16 Newton-Schulz) after
each of 5 steps: the replicated path (DDP) and the sharded path (plain tensors holding each
rank's rows, as FSDP2's Shard(0)), a model mixing shapes, stacked experts, a conv kernel, an empty
shard and AdamW parameters. Then: a checkpoint consolidated at world 2 resumes exactly at world 3
(and in one process); and every bad input across ranks raises or skips on all ranks alike."""
import json
import os
import tempfile
import time
import unittest
import warnings

import torch
import torch.distributed as dist

import distributed_support as ds
import rootopt
from rootopt.torch import ROOT

STEPS = 5


def assert_equal(actual, expected, what):
    if not torch.equal(actual, expected):
        difference = (actual.double() - expected.double()).abs().max().item()
        raise AssertionError(f"{what} differs from the single-process optimizer (max {difference})")


def build(table, sharded, world, rank, **extra):
    """(model, its optimizer, the parameters it steps, twin model, single-process optimizer)."""
    model, twin = ds.Mixed(), ds.Mixed()
    params = dict(model.named_parameters())
    if sharded:
        params = {name: torch.nn.Parameter(ds.local_rows(p.detach(), rank, world).clone())
                  for name, p in params.items()}
    optimizer = ROOT(model.groups(params, sharded), process_group=dist.group.WORLD,
                     **ds.options(table), **extra)
    reference = ROOT(twin.groups(), **ds.options(table))
    return params, optimizer, twin, reference


def set_grads(params, twin, step, sharded, rank, world):
    full = ds.grads(step)
    for name, p in params.items():
        p.grad = ds.local_rows(full[name], rank, world).clone() if sharded else full[name].clone()
    for name, p in twin.named_parameters():
        p.grad = full[name].clone()


def compare(params, twin, sharded, rank, world, what):
    for name, q in twin.named_parameters():
        expected = ds.local_rows(q.detach(), rank, world) if sharded else q.detach()
        assert_equal(params[name].detach(), expected, f"rank {rank} of {world}, {what}: {name}")


def momentum_elements(optimizer):
    return sum(s["momentum_buffer"].numel() for s in optimizer.state.values()
               if "momentum_buffer" in s)


def equivalence(rank, world, tmpdir, table, sharded):
    warnings.simplefilter("ignore", RuntimeWarning)  # shapes the test table lacks
    params, optimizer, twin, reference = build(table, sharded, world, rank)
    for step in range(STEPS):
        set_grads(params, twin, step, sharded, rank, world)
        optimizer.step()
        reference.step()
        compare(params, twin, sharded, rank, world, f"step {step + 1}")
    with open(os.path.join(tmpdir, f"memory.{sharded}.{world}.{rank}.json"), "w") as f:
        json.dump({"mine": momentum_elements(optimizer),
                   "total": momentum_elements(reference)}, f)


def save_checkpoint(rank, world, tmpdir, table, sharded, steps):
    warnings.simplefilter("ignore", RuntimeWarning)
    params, optimizer, twin, reference = build(table, sharded, world, rank)
    for step in range(steps):
        set_grads(params, twin, step, sharded, rank, world)
        optimizer.step()
    optimizer.consolidate_state_dict(to=0)
    if rank == 0:
        torch.save(optimizer.state_dict(), os.path.join(tmpdir, f"optimizer.{sharded}.pt"))
    else:
        try:
            optimizer.state_dict()
            raise AssertionError("state_dict() on a rank without the consolidated state")
        except RuntimeError as e:
            assert "consolidate_state_dict" in str(e), e
    # Weights are replicated (or the shards add up to them): rank 0's twin is the model.
    full = {name: torch.empty(shape) for name, shape in ds.Mixed.SHAPES.items()}
    for name, p in params.items():
        if sharded:
            pieces = [torch.empty((n,) + tuple(full[name].shape[1:]))
                      for n in ds.shard_rows(full[name].shape[0], world)]
            _gather_uneven(pieces, p)
            full[name] = torch.cat(pieces)
        else:
            full[name] = p.detach().clone()
    if rank == 0:
        torch.save(full, os.path.join(tmpdir, f"weights.{sharded}.pt"))


def _gather_uneven(pieces, p):
    """all_gather of row blocks of different sizes: padded to the largest."""
    rows = max(x.shape[0] for x in pieces)
    padded = torch.zeros((rows,) + tuple(p.shape[1:]))
    padded[:p.shape[0]] = p.detach()
    out = [torch.empty_like(padded) for _ in pieces]
    dist.all_gather(out, padded)
    for x, y in zip(pieces, out):
        x.copy_(y[:x.shape[0]])


def resume(rank, world, tmpdir, table, sharded, done):
    """Loads the world-2 checkpoint at this world size and runs the remaining steps next to a
    single-process optimizer that ran all of them."""
    warnings.simplefilter("ignore", RuntimeWarning)
    weights = torch.load(os.path.join(tmpdir, f"weights.{sharded}.pt"))
    model = ds.Mixed()
    model.load_state_dict(weights)
    params = dict(model.named_parameters())
    if sharded:
        params = {name: torch.nn.Parameter(ds.local_rows(p.detach(), rank, world).clone())
                  for name, p in params.items()}
    optimizer = ROOT(model.groups(params, sharded), process_group=dist.group.WORLD,
                     **ds.options(table))
    optimizer.load_state_dict(torch.load(os.path.join(tmpdir, f"optimizer.{sharded}.pt")))
    twin = ds.Mixed()
    reference = ROOT(twin.groups(), **ds.options(table))
    for step in range(STEPS):
        set_grads(params, twin, step, sharded, rank, world)
        reference.step()
        if step >= done:
            optimizer.step()
    compare(params, twin, sharded, rank, world, f"resumed at step {done}")


def bad_inputs(rank, world, tmpdir, table):
    """Every rank sees the same error or the same skip."""
    warnings.simplefilter("ignore", RuntimeWarning)

    def expect_error(optimizer, pattern):
        try:
            optimizer.step()
        except (ValueError, RuntimeError) as e:
            assert pattern in str(e), f"rank {rank}: {e!r} lacks {pattern!r}"
            return
        raise AssertionError(f"rank {rank}: no error, expected {pattern!r}")

    # A parameter set that differs on the last rank: an extra parameter, then a shape.
    for change, pattern in [("extra", "the ranks hold different parameter sets"),
                            ("shape", "parameter wide (number 0) differs between rank")]:
        model = ds.Mixed()
        params = dict(model.named_parameters())
        if rank == world - 1 and world > 1:
            if change == "extra":
                params["extra"] = torch.nn.Parameter(torch.zeros(3, 3))
            else:
                params["wide"] = torch.nn.Parameter(torch.zeros(16, 41))
        groups = [{"params": list(params.items())}]
        optimizer = ROOT(groups, process_group=dist.group.WORLD, **ds.options(table))
        for p in params.values():
            p.grad = torch.ones_like(p)
        if world > 1:
            before = {name: p.detach().clone() for name, p in params.items()}
            expect_error(optimizer, pattern)
            for name, p in params.items():
                assert_equal(p.detach(), before[name], f"rank {rank}: {name} after the error")

    # A NaN gradient on one rank only, on a ROOT and on an AdamW parameter: skipped everywhere.
    params, optimizer, twin, reference = build(table, False, world, rank)
    set_grads(params, twin, 0, False, rank, world)
    optimizer.step()
    set_grads(params, twin, 1, False, rank, world)
    before = {name: p.detach().clone() for name, p in params.items()}
    if rank == world - 1:
        params["tall"].grad[2, 3] = float("nan")
        params["head"].grad[1, 1] = float("inf")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optimizer.step()
    messages = [str(w.message) for w in caught]
    assert any("non-finite gradient" in m and f"tall (rank {world - 1})" in m
               and f"head (rank {world - 1})" in m for m in messages), (rank, messages)
    for name in ("tall", "head"):
        assert_equal(params[name].detach(), before[name], f"rank {rank}: skipped {name}")
    for name in ("wide", "experts", "bias"):
        assert not torch.equal(params[name].detach(), before[name]), f"{name} did not step"
    gathered = [torch.empty_like(params["wide"]) for _ in range(world)]
    dist.all_gather(gathered, params["wide"].detach())
    for other in gathered:
        assert_equal(other, gathered[0], "weights across ranks")

    # A gradient on some ranks only: an error on every rank, nothing changed.
    set_grads(params, twin, 2, False, rank, world)
    if rank == 0 and world > 1:
        params["square_a"].grad = None
    before = {name: p.detach().clone() for name, p in params.items()}
    momentum = {id(p): s["momentum_buffer"].clone() for p, s in optimizer.state.items()
                if "momentum_buffer" in s}
    if world > 1:
        expect_error(optimizer, "has a gradient on rank(s) [1")
        for name, p in params.items():
            assert_equal(p.detach(), before[name], f"rank {rank}: {name} after the error")
        for p, s in optimizer.state.items():
            if "momentum_buffer" in s:
                assert_equal(s["momentum_buffer"], momentum[id(p)], "momentum after the error")


def timeout(rank, world, tmpdir, table):
    """Rank 1's step stalls past the timeout: rank 0 raises naming rank 1 and its parameters,
    with its weights, momentum and AdamW state as before the step; rank 1 either raises the
    same way or completes the whole step, never half of it."""
    warnings.simplefilter("ignore", RuntimeWarning)
    params, optimizer, twin, reference = build(table, False, world, rank, timeout=3)
    set_grads(params, twin, 0, False, rank, world)
    optimizer.step()
    reference.step()
    set_grads(params, twin, 1, False, rank, world)
    before = {name: p.detach().clone() for name, p in params.items()}
    state = {id(p): {k: v.clone() for k, v in s.items() if isinstance(v, torch.Tensor)}
             for p, s in optimizer.state.items()}
    if rank == 1:
        step = optimizer._runtimes.step

        def stalled(*args):
            time.sleep(8)
            return step(*args)
        optimizer._runtimes.step = stalled
    try:
        optimizer.step()
        completed = True
    except RuntimeError as e:
        completed = False
        message = str(e)
        assert "timed out" in message and "Nothing was changed on this rank" in message, message
        if rank == 0:
            assert "rank(s) [1]" in message, message
    assert rank == 1 or not completed, f"rank {rank} completed a step that timed out"
    if completed:
        reference.step()
        compare(params, twin, False, rank, world, "the completed step")
    else:
        for name, p in params.items():
            assert_equal(p.detach(), before[name], f"rank {rank}: {name} after the timeout")
        for p, s in optimizer.state.items():
            for k, v in state[id(p)].items():
                assert_equal(s[k], v, f"rank {rank}: state {k} after the timeout")
    with open(os.path.join(tmpdir, f"timeout.{rank}"), "w") as f:
        f.write("completed" if completed else "raised")


class DistributedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.table = ds.write_table(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def check_memory(self, sharded, world):
        counts = []
        for rank in range(world):
            with open(os.path.join(self.tmp.name, f"memory.{sharded}.{world}.{rank}.json")) as f:
                counts.append(json.load(f))
        total = counts[0]["total"]
        # Each matrix's momentum lives on exactly one rank: the shares add up to the total.
        self.assertEqual(sum(c["mine"] for c in counts), total)
        print(f"momentum elements per rank, {'sharded' if sharded else 'replicated'}, world "
              f"{world}: {[c['mine'] for c in counts]} of {total}", flush=True)
        if world > 1:
            self.assertLess(max(c["mine"] for c in counts), total)

    def test_replicated_and_sharded_match_one_process_bit_for_bit(self):
        for world in (1, 2, 3):
            for sharded in (False, True):
                with self.subTest(world=world, sharded=sharded):
                    ds.run_world(world, equivalence, self.tmp.name, self.table, sharded)
                    self.check_memory(sharded, world)

    def test_checkpoint_from_world_2_resumes_exactly_at_world_3(self):
        for sharded in (False, True):
            with self.subTest(sharded=sharded):
                ds.run_world(2, save_checkpoint, self.tmp.name, self.table, sharded, 3)
                ds.run_world(3, resume, self.tmp.name, self.table, sharded, 3)
        # And in one process (no process group) from the same replicated checkpoint.
        warnings.simplefilter("ignore", RuntimeWarning)
        self.addCleanup(warnings.resetwarnings)
        model, twin = ds.Mixed(), ds.Mixed()
        model.load_state_dict(torch.load(os.path.join(self.tmp.name, "weights.False.pt")))
        optimizer = ROOT(model.groups(), **ds.options(self.table))
        optimizer.load_state_dict(torch.load(os.path.join(self.tmp.name, "optimizer.False.pt")))
        reference = ROOT(twin.groups(), **ds.options(self.table))
        params = dict(model.named_parameters())
        for step in range(STEPS):
            set_grads(params, twin, step, False, 0, 1)
            reference.step()
            if step >= 3:
                optimizer.step()
        compare(params, twin, False, 0, 1, "resumed in one process")

    def test_bad_inputs_across_ranks(self):
        for world in (2, 3):
            with self.subTest(world=world):
                ds.run_world(world, bad_inputs, self.tmp.name, self.table)

    def test_collective_timeout_changes_nothing(self):
        ds.run_world(2, timeout, self.tmp.name, self.table)

    def test_uninitialised_or_missing_group(self):
        param = torch.nn.Parameter(torch.randn(16, 40))
        self.assertFalse(dist.is_initialized())
        with self.assertRaisesRegex(RuntimeError, "torch.distributed is not initialised"):
            ROOT([param], table=self.table, process_group=object())
        optimizer = ROOT([{"params": [param], "sharded": True}], table=self.table)
        param.grad = torch.randn(16, 40)
        with self.assertRaisesRegex(ValueError, "is sharded .* but the optimizer has no "
                                                "process_group"):
            optimizer.step()
        self.assertTrue(issubclass(rootopt.Error, RuntimeError))


if __name__ == "__main__":
    unittest.main()
