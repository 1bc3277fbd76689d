"""Device mesh, multi-host start-up and the one table that maps logical axis names to mesh axes.

Model code names axes logically (`vocab`, `embed`, `heads`, `kv_heads`,
`head_dim`, `mlp`, `norm`); only this module knows the mesh axes (`data`,
`fsdp`, `tensor`). Parameters, and the optimizer moments that mirror them, are
sharded FSDP-style over `fsdp` along their embedding axis and Megatron-style over
`tensor` along heads / kv heads / MLP / vocab; batches (and the KV cache's rows)
are split over `data` x `fsdp` (MaxText's logical_axis_rules idea). A dimension
the mesh axes do not divide stays replicated rather than padded, so e.g. a
one-kv-head (MQA) model gets no tensor sharding of its q/k/v projection.

`check_mesh` validates `config.mesh` against a device count without touching a
device, so the CLI can reject a bad mesh (exit 2) before anything compiles.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
from flax import nnx
from jax.experimental import multihost_utils
from jax.sharding import AbstractMesh, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

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
  "cache_len": None,
}

# The KV cache (`Transformer.init_cache`) is a plain pytree without metadata; its logical axes.
KV_CACHE_AXES: dict[str, tuple[str, ...]] = {
  "k": ("batch", "kv_heads", "head_dim", "cache_len"),  # [B, K, D, S]
  "v": ("batch", "kv_heads", "cache_len", "head_dim"),  # [B, K, S, D]
  "prefix_k": ("batch", "kv_heads", "head_dim", "cache_len"),  # [P, K, D, Lp]
  "prefix_v": ("batch", "kv_heads", "cache_len", "head_dim"),  # [P, K, Lp, D]
}

AnyMesh = Mesh | AbstractMesh


def _sizes(mesh_cfg: Mapping[str, int] | Sequence[int]) -> list[int]:
  if isinstance(mesh_cfg, Sequence):
    if len(mesh_cfg) != len(MESH_AXES):
      raise ConfigError(f"mesh {tuple(mesh_cfg)}: expected (data, fsdp, tensor)")
    return [int(s) for s in mesh_cfg]
  return [int(mesh_cfg[a]) for a in MESH_AXES]


def check_mesh(mesh_cfg: Mapping[str, int] | Sequence[int], n_devices: int) -> tuple[int, int, int]:
  """Validates a (data, fsdp, tensor) mesh against `n_devices`; returns it with -1 resolved.

  `mesh_cfg` is `config.mesh` (or a mapping / 3-sequence with the same values). At
  most one axis may be -1 ("all remaining devices"). Touches no device and compiles
  nothing, so config validation and the CLI can call it first; it raises
  `ConfigError` (a ValueError; the CLI exits 2) with the numbers in the message, e.g.
  "mesh data=2 x fsdp=3 x tensor=1 = 6 does not match the 8 devices".
  """
  sizes = _sizes(mesh_cfg)
  desc = " x ".join(f"{a}={s}" for a, s in zip(MESH_AXES, sizes))
  for axis, size in zip(MESH_AXES, sizes):
    if size != -1 and size < 1:
      raise ConfigError(f"mesh {desc}: {axis}={size} must be >= 1, or -1 for all remaining devices")
  if sizes.count(-1) > 1:
    raise ConfigError(f"mesh {desc}: at most one of data/fsdp/tensor may be -1")
  fixed = math.prod(s for s in sizes if s != -1)
  if -1 in sizes:
    if n_devices % fixed:
      raise ConfigError(
        f"mesh {desc}: the fixed axes multiply to {fixed}, which does not "
        f"divide the {n_devices} devices"
      )
    sizes[sizes.index(-1)] = n_devices // fixed
  if math.prod(sizes) != n_devices:
    raise ConfigError(f"mesh {desc} = {math.prod(sizes)} does not match the {n_devices} devices")
  return tuple(sizes)


def check_batches(cfg: Any, shape: Sequence[int]) -> None:
  """Every training batch of `cfg` splits into whole row blocks over the mesh's batch axes
  (data x fsdp of `shape`, from `check_mesh`); raises ConfigError naming the key."""
  shards = shape[0] * shape[1]
  rl = cfg.rl
  batches = {
    "sft.batch_size": cfg.sft.batch_size,
    "rl.prompts_per_step x rl.group_size / rl.minibatches": (
      rl.prompts_per_step * rl.group_size // max(1, rl.minibatches)
    ),
    "study.harmful_batch_size": cfg.study.harmful_batch_size,
  }
  for key, rows in batches.items():
    if rows % shards:
      raise ConfigError(
        f"config.{key} = {rows} rows do not split over the mesh's {shards} batch shards "
        f"(data x fsdp = {shape[0]} x {shape[1]}); use a multiple of {shards}, or another mesh"
      )


def make_mesh(mesh_cfg: Mapping[str, int] | Sequence[int], devices=None) -> Mesh:
  """A (data, fsdp, tensor) mesh over `devices` (default: all); raises as `check_mesh` does."""
  devices = jax.devices() if devices is None else list(devices)
  shape = check_mesh(mesh_cfg, len(devices))
  return jax.make_mesh(
    shape, MESH_AXES, axis_types=(jax.sharding.AxisType.Auto,) * 3, devices=devices
  )


def abstract_mesh(shape: Sequence[int]) -> AbstractMesh:
  """A device-less (data, fsdp, tensor) mesh, for planning meshes larger than this host."""
  sizes = _sizes(shape)
  if min(sizes) < 1:
    raise ConfigError(f"mesh {tuple(sizes)}: an abstract mesh needs every axis >= 1 (no -1)")
  return AbstractMesh(tuple(sizes), MESH_AXES)


def maybe_initialize_distributed(
  env: Mapping[str, str] | None = None, config: Mapping[str, Any] | None = None
) -> bool:
  """Joins a multi-process run if the config or the environment asks for one; returns
  whether it is one.

  `config` is `config.distributed` (`coordinator`, `num_processes`, `process_id`,
  `auto`); what it leaves unset ("", 0, -1, False) comes from `BTRL_COORDINATOR=host:port`,
  `BTRL_NUM_PROCESSES=N`, `BTRL_PROCESS_ID=i` (what `launch/multihost_local.sh` sets) and
  `BTRL_AUTO_DISTRIBUTED=1`. With a coordinator it calls `jax.distributed.initialize` with
  the three values; with `auto` (TPU VMs, where JAX finds the slice's hosts itself) with
  no arguments; otherwise it does nothing. Safe to call more than once. Must run before
  anything touches a device.
  """
  env = os.environ if env is None else env
  config = config or {}
  if jax.distributed.is_initialized():
    return True
  coordinator = config.get("coordinator") or env.get("BTRL_COORDINATOR", "")
  if coordinator:
    try:
      num = int(config.get("num_processes") or env["BTRL_NUM_PROCESSES"])
      pid = config.get("process_id", -1)
      pid = int(pid if pid is not None and pid >= 0 else env["BTRL_PROCESS_ID"])
    except (KeyError, ValueError):
      raise ConfigError(
        f"a coordinator ({coordinator}) is set, so the number of processes and "
        "this process's id must be integers (config.distributed.num_processes "
        "and process_id, or BTRL_NUM_PROCESSES and BTRL_PROCESS_ID)"
      ) from None
    if not 0 <= pid < num:
      raise ConfigError(
        f"process id {pid} must be in [0, {num}) (config.distributed.process_id / BTRL_PROCESS_ID)"
      )
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num, process_id=pid)
    return True
  if config.get("auto") or env.get("BTRL_AUTO_DISTRIBUTED", "") == "1":
    jax.distributed.initialize()
    return True
  return False


def logical_to_spec(names: tuple[str | None, ...] | None, mesh: AnyMesh, shape=None) -> P:
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


def leaf_spec(leaf: Any, mesh: AnyMesh) -> P:
  """The PartitionSpec of one state leaf: from an nnx.Variable's `out_sharding` (logical)
  metadata; anything else (an optimizer step count, a plain array) is replicated."""
  if not isinstance(leaf, nnx.Variable):
    return P()
  names = leaf.get_metadata().get("out_sharding")
  return logical_to_spec(tuple(names) if names else None, mesh, leaf.shape)


def state_shardings(state: Any, mesh: AnyMesh) -> Any:
  """NamedShardings for every leaf of an nnx State or an optimizer state built from one.

  Optimizer moments (optax's mu / nu) keep the parameters' Variable metadata, so they
  shard exactly like the parameters; scalar leaves such as the step count replicate.
  """

  def one(leaf):
    sharding = NamedSharding(mesh, leaf_spec(leaf, mesh))
    return leaf.replace(sharding) if isinstance(leaf, nnx.Variable) else sharding

  return jax.tree.map(one, state, is_leaf=lambda x: isinstance(x, nnx.Variable))


def optimizer_shardings(tx: Any, params: Any, mesh: AnyMesh) -> Any:
  """NamedShardings of `tx.init(params)` (shapes only): moments like the params."""
  return state_shardings(jax.eval_shape(tx.init, params), mesh)


def cache_shardings(cache: list[dict[str, Any]], mesh: AnyMesh) -> list[dict[str, NamedSharding]]:
  """NamedShardings for a KV cache from `Transformer.init_cache` (see KV_CACHE_AXES)."""
  return [
    {
      name: NamedSharding(mesh, logical_to_spec(KV_CACHE_AXES[name], mesh, x.shape))
      for name, x in layer.items()
    }
    for layer in cache
  ]


def batch_sharding(mesh: AnyMesh, ndim: int = 2) -> NamedSharding:
  return NamedSharding(mesh, P(LOGICAL_RULES["batch"], *([None] * (ndim - 1))))


def global_batch(batch: Any, mesh: Mesh) -> Any:
  """Host-local rows [b, ...] -> global arrays [b * processes, ...] split over data x fsdp.

  Each process passes only the rows its input pipeline produced (the data pipeline
  shards by `jax.process_index()`); with one process this is `jax.device_put` with
  `batch_sharding`. Multi-host trainers must use this, not `device_put`, which would
  read each host's rows as the whole batch.
  """
  return jax.tree.map(
    lambda x: jax.make_array_from_process_local_data(batch_sharding(mesh, x.ndim), x), batch
  )


def replicated(mesh: AnyMesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def local_batch_shards(mesh: Mesh) -> int:
  """How many distinct row blocks of a `batch_sharding` array this process holds."""
  shards = mesh.shape["data"] * mesh.shape["fsdp"]
  if shards % jax.process_count():
    raise ConfigError(
      f"mesh data x fsdp = {shards} is not a multiple of the "
      f"{jax.process_count()} processes: each process must hold whole row blocks"
    )
  return shards // jax.process_count()


def process_rows(rows: Any) -> Any:
  """This process's contiguous share of a batch every process drew in full (a list or a
  pytree of arrays with a leading row axis); the whole batch with one process."""
  n, pid = jax.process_count(), jax.process_index()
  if n == 1:
    return rows

  def take(x):
    if len(x) % n:
      raise ConfigError(f"a batch of {len(x)} rows does not split over {n} processes")
    k = len(x) // n
    return x[pid * k : (pid + 1) * k]

  return take(rows) if isinstance(rows, list) else jax.tree.map(take, rows)


def local_rows(x: jax.Array) -> np.ndarray:
  """This process's rows of a global array split over its first axis (all rows with one process)."""
  if x.is_fully_addressable:
    return np.asarray(x)
  blocks = {s.index[0].start or 0: s.data for s in x.addressable_shards}
  return np.concatenate([np.asarray(blocks[k]) for k in sorted(blocks)])


def local_row_indices(x: jax.Array) -> np.ndarray:
  """The global row indices `local_rows(x)` returns, in its order."""
  if x.is_fully_addressable:
    return np.arange(x.shape[0])
  spans = {s.index[0].start or 0: s.index[0].stop or x.shape[0] for s in x.addressable_shards}
  return np.concatenate([np.arange(a, spans[a]) for a in sorted(spans)])


def host_array(x: jax.Array) -> np.ndarray:
  """The whole of a global array on every process (one all-gather with several)."""
  if x.is_fully_addressable:
    return np.asarray(x)
  return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def batch_shards(mesh: Mesh) -> int:
  """How many row blocks a `batch_sharding` array is split into (data x fsdp)."""
  return mesh.shape["data"] * mesh.shape["fsdp"]


def process_max(value: int) -> int:
  """The largest of one integer over all processes (the value itself with one process)."""
  if jax.process_count() == 1:
    return int(value)
  return int(np.max(multihost_utils.process_allgather(np.int32(value))))


def any_process(flag: bool) -> bool:
  """Whether `flag` is set on any process: one small cross-process max (the flag itself
  with one process). Training loops agree on a stop signal with it every step, so that
  a SIGTERM reaching only some processes still makes every process save the same step
  (a process that saved alone would wait in the save's collectives while the others ran
  on into the next step's)."""
  return process_max(int(bool(flag))) > 0


def gather_rows(x: np.ndarray) -> np.ndarray:
  """Concatenates every process's rows, in process order (numbers only: rewards, lengths)."""
  if jax.process_count() == 1:
    return np.asarray(x)
  return np.asarray(multihost_utils.process_allgather(np.asarray(x), tiled=True))


def is_lead() -> bool:
  """Whether this is process 0, the one that writes reports, logs and eval records."""
  return jax.process_index() == 0


def sync(name: str) -> None:
  """Waits until every process has reached the barrier `name` (a no-op with one process).

  Used where process 0 writes files the others then read from the shared workdir."""
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(name)


def lead_ints(values: Sequence[int]) -> list[int]:
  """Process 0's list of non-negative integers, on every process (e.g. the checkpoint
  steps it sees, so that every process works through the same ones)."""
  if jax.process_count() == 1:
    return [int(v) for v in values]
  width = process_max(len(values))
  row = np.full(max(width, 1), -1, np.int32)
  row[: len(values)] = values
  return [int(v) for v in multihost_utils.broadcast_one_to_all(row) if v >= 0]


def put(tree: Any, shardings: Any) -> Any:
  """Places host values that every process holds in full (e.g. a prior's weights) onto
  `shardings`; each device takes its slice. Unlike `jax.device_put` this also works when
  the shardings span other processes' devices."""

  def one(x, sharding):
    if isinstance(x, jax.Array) and x.sharding == sharding:
      return x
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
      return jax.device_put(x, sharding)  # already global: reshard
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda idx: x[idx])

  return jax.tree.map(one, tree, shardings)
