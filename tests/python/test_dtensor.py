"""The DTensor adapter (rootopt/_dtensor.py): parameters distributed as FSDP2 does (Shard(0) on a
1-D device mesh; one Replicate()), stepped without a process_group argument (the mesh's group is
used), bit-identical to the single-process optimizer on the full tensors, over gloo on CPU at
world sizes 2 and 3. Needs a PyTorch with DTensor (2.0 or later): skipped, with the reason, on
Debian's 1.13; tools/gpu-check runs it with the GPU image's PyTorch."""
import tempfile
import unittest
import warnings

import torch

import distributed_support as ds
from rootopt import _dtensor
from rootopt.torch import ROOT
from test_distributed import assert_equal


def mesh_and_distribute(world):
    try:
        from torch.distributed.tensor import distribute_tensor
    except ImportError:
        from torch.distributed._tensor import distribute_tensor
    try:
        from torch.distributed.device_mesh import init_device_mesh
        mesh = init_device_mesh("cpu", (world,))
    except ImportError:
        from torch.distributed._tensor import DeviceMesh
        mesh = DeviceMesh("cpu", list(range(world)))
    return mesh, distribute_tensor


def full(tensor):
    if hasattr(tensor, "full_tensor"):
        return tensor.full_tensor()
    return tensor.redistribute(tensor.device_mesh, [_dtensor.Replicate()]).to_local()


def dtensor_equivalence(rank, world, tmpdir, table):
    warnings.simplefilter("ignore", RuntimeWarning)
    mesh, distribute = mesh_and_distribute(world)
    model, twin = ds.Mixed(), ds.Mixed()
    placements = {name: [_dtensor.Replicate()] if name == "norm" else [_dtensor.Shard(0)]
                  for name in ds.Mixed.SHAPES}
    params = {name: torch.nn.Parameter(distribute(p.detach(), mesh, placements[name]))
              for name, p in model.named_parameters()}
    optimizer = ROOT(model.groups(params), **ds.options(table))
    reference = ROOT(twin.groups(), **ds.options(table))
    for step in range(3):
        grads = ds.grads(step)
        for name, p in params.items():
            p.grad = distribute(grads[name].clone(), mesh, placements[name])
        for name, p in twin.named_parameters():
            p.grad = grads[name].clone()
        optimizer.step()
        reference.step()
        for name, q in twin.named_parameters():
            assert_equal(full(params[name].detach()), q.detach(),
                         f"rank {rank} of {world}, step {step + 1}: DTensor {name}")
    optimizer.consolidate_state_dict(to=0)
    if rank == 0:
        state, expected = optimizer.state_dict(), reference.state_dict()
        for key, value in expected["state"].items():
            for name, tensor in value.items():
                assert_equal(torch.as_tensor(state["state"][key][name]), torch.as_tensor(tensor),
                             f"consolidated state {key}.{name}")


@unittest.skipUnless(_dtensor.AVAILABLE, "this PyTorch has no DTensor (Debian's python3-torch is "
                     "1.13); tools/gpu-check runs this test with the GPU image's PyTorch")
class DTensorTest(unittest.TestCase):
    def test_shard0_and_replicate_match_one_process_bit_for_bit(self):
        # No table (the named fallback for every shape): bit-identity does not depend on the
        # schedule, and the GPU image's Python may lack h5py to write one.
        with tempfile.TemporaryDirectory() as tmpdir:
            for world in (2, 3):
                with self.subTest(world=world):
                    ds.run_world(world, dtensor_equivalence, tmpdir, None)


if __name__ == "__main__":
    unittest.main()
