"""Device mesh and the one table that maps logical axis names to mesh axes.

Model code names axes logically (`vocab`, `embed`, `heads`, `kv_heads`,
`head_dim`, `mlp`, `norm`); only this module knows the mesh axes (`data`,
`fsdp`, `tensor`). Parameters are sharded FSDP-style over `fsdp` along their
embedding axis and Megatron-style over `tensor` along heads / MLP / vocab;
batches are split over `data` x `fsdp` (MaxText's logical_axis_rules idea).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import ml_collections
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from btrl_jax.config import ConfigError

MESH_AXES = ("data", "fsdp", "tensor")

# logical axis -> mesh axis (or None: replicated along that dimension)
LOGICAL_RULES: dict[str, str | tuple[str, ...] | None] = {
    "batch": ("data", "fsdp"),
    "vocab": "tensor",
    "embed": "fsdp",
    "heads": "tensor",
    "kv_heads": "tensor",
    "head_dim": None,
    "mlp": "tensor",
    "norm": None,
}


def mesh_shape(mesh_cfg: ml_collections.ConfigDict, n_devices: int) -> tuple[int, int, int]:
  """Resolves -1 (all remaining devices) and checks the product equals the device count."""
  sizes = [mesh_cfg[a] for a in MESH_AXES]
  fixed = math.prod(s for s in sizes if s != -1)
  if sizes.count(-1) > 1:
    raise ConfigError("config.mesh: at most one of data/fsdp/tensor may be -1")
  if -1 in sizes:
    if n_devices % fixed:
      raise ConfigError(f"config.mesh: fixed axes multiply to {fixed}, which does not divide "
                        f"the {n_devices} devices")
    sizes[sizes.index(-1)] = n_devices // fixed
  if math.prod(sizes) != n_devices:
    raise ConfigError(f"config.mesh: data*fsdp*tensor = {'*'.join(map(str, sizes))} = "
                      f"{math.prod(sizes)}, but there are {n_devices} devices")
  return tuple(sizes)


def make_mesh(mesh_cfg: ml_collections.ConfigDict, devices=None) -> Mesh:
  devices = jax.devices() if devices is None else devices
  shape = mesh_shape(mesh_cfg, len(devices))
  return jax.make_mesh(shape, MESH_AXES, axis_types=(jax.sharding.AxisType.Auto,) * 3,
                       devices=devices)


def logical_to_spec(names: tuple[str | None, ...] | None, mesh: Mesh, shape=None) -> P:
  """Maps logical names to a PartitionSpec; a dimension that the mesh axes do not divide,
  or whose mesh axis is already used by an earlier dimension, stays replicated."""
  if names is None:
    return P()
  used, out = set(), []
  for i, name in enumerate(names):
    axes = LOGICAL_RULES.get(name) if name is not None else None
    axes = (axes,) if isinstance(axes, str) else tuple(axes or ())
    axes = tuple(a for a in axes if a not in used and mesh.shape[a] > 1)
    size = math.prod(mesh.shape[a] for a in axes)
    if not axes or (shape is not None and shape[i] % size):
      out.append(None)
      continue
    used.update(axes)
    out.append(axes[0] if len(axes) == 1 else axes)
  return P(*out)


def state_shardings(state: nnx.State, mesh: Mesh) -> Any:
  """NamedShardings for every leaf of an nnx State, from its `out_sharding` (logical) metadata."""
  def one(var):
    names = var.get_metadata().get("out_sharding")
    spec = logical_to_spec(tuple(names) if names else None, mesh, var.shape)
    return var.replace(NamedSharding(mesh, spec))
  return jax.tree.map(one, state, is_leaf=lambda x: isinstance(x, nnx.Variable))


def batch_sharding(mesh: Mesh, ndim: int = 2) -> NamedSharding:
  return NamedSharding(mesh, P(LOGICAL_RULES["batch"], *([None] * (ndim - 1))))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())
