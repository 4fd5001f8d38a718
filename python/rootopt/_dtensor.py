"""The thin adapter between torch's DTensor (FSDP2's sharded parameters) and the optimizer, which
works on plain local tensors: a DTensor parameter placed Shard(0) on a one-dimensional device
mesh is this rank's block of rows of dimension 0; Replicate() is a replicated parameter.

Only this module touches DTensor. torch versions without DTensor (Debian's 1.13) import it
without error and see every parameter as a plain tensor.
"""
try:  # torch >= 2.4
    from torch.distributed.tensor import DTensor, Replicate, Shard
except ImportError:
    try:  # torch 2.0 - 2.3
        from torch.distributed._tensor import DTensor, Replicate, Shard
    except ImportError:
        DTensor = Replicate = Shard = None

AVAILABLE = DTensor is not None


def is_dtensor(tensor):
    return AVAILABLE and isinstance(tensor, DTensor)


def _check_placements(p, name):
    mesh = p.device_mesh
    if mesh.ndim != 1:
        raise ValueError(f"rootopt: DTensor parameter {name} lives on a {mesh.ndim}-D device "
                         "mesh; only 1-D meshes (Shard(0) or Replicate()) are supported")
    (placement,) = p.placements
    if isinstance(placement, Shard) and placement.dim == 0:
        return True
    if isinstance(placement, Replicate):
        return False
    raise ValueError(f"rootopt: DTensor parameter {name} is placed {placement}; only Shard(0) "
                     "and Replicate() are supported")


def local_parts(p, name):
    """(local data, local gradient or None, sharded) of parameter `p`; for a plain tensor
    (p, p.grad, None): the caller decides from the param group. The local tensors share storage
    with the DTensor's, so writing them updates the parameter."""
    if not is_dtensor(p):
        return p, p.grad, None
    sharded = _check_placements(p, name)
    grad = p.grad
    if grad is not None:
        if not is_dtensor(grad) or tuple(grad.placements) != tuple(p.placements):
            placements = getattr(grad, "placements", "a plain tensor")
            raise ValueError(f"rootopt: the gradient of DTensor parameter {name} is placed "
                             f"{placements}, its parameter {tuple(p.placements)}")
        grad = grad.to_local()
    return p.to_local(), grad, sharded


def process_group(p):
    """The process group of a DTensor parameter's (1-D) device mesh."""
    mesh = p.device_mesh
    if hasattr(mesh, "get_group"):
        return mesh.get_group()
    return mesh.get_dim_groups()[0]  # torch 2.0 / 2.1
