"""Memory per device without allocating: parameters, gradients, optimizer state, KV cache, logits.

Every figure comes from the real model class under `nnx.eval_shape`, the real
SFT optimizer (`train_state.sft_optimizer`: clipped AdamW, two moments in the
parameter dtype plus step counts) under `jax.eval_shape`, and the real
PartitionSpecs of `parallel.py`'s rules table on a device-less `AbstractMesh`,
so a v5e-8 mesh can be planned on a laptop. An array's per-device bytes are its
global bytes divided by the product of the mesh axes its dimensions are sharded
over (`NamedSharding.shard_shape`); a dimension the rules leave replicated (no
rule, or not divisible) costs its full size on every device.

Not counted: activations kept for the backward pass (they depend on the remat
policy), XLA temporaries and runtime overhead, so totals are a floor. `logits` is
the one activation listed, because the trainers materialise [B, T, V] float32
logits and at real vocabularies they rival the parameters.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
from flax import nnx
from jax.sharding import NamedSharding

from btrl_jax import config as config_lib
from btrl_jax import parallel, presets, train_state
from btrl_jax.models import build

# Published architectures at full size (tests/test_model.py checks the same parameter counts).
LLAMA3_8B = dict(
  vocab_size=128256,
  width=4096,
  layers=32,
  heads=32,
  kv_heads=8,
  head_dim=128,
  mlp_dim=14336,
  rope_theta=500000.0,
)  # 8,030,261,248 parameters
GEMMA_2B = dict(
  vocab_size=256000,
  width=2048,
  layers=18,
  heads=8,
  kv_heads=1,
  head_dim=256,
  mlp_dim=16384,
  activation="geglu",
  tie_embeddings=True,
  norm_plus_one=True,
  embed_scale=True,
)  # Gemma 1; tied embeddings, MQA, GeGLU; 2,506,172,416 parameters
OPTIMIZERS = ("adamw", "none")
GIB = 1024**3


def _model_config(model_cfg: Mapping[str, Any] | ml_collections.ConfigDict, param_dtype, dtype):
  base = (
    model_cfg.to_dict() if isinstance(model_cfg, ml_collections.ConfigDict) else dict(model_cfg)
  )
  cfg = config_lib.model_config(**base)
  if param_dtype is not None:
    cfg.param_dtype = jnp.dtype(param_dtype).name
  if dtype is not None:
    cfg.dtype = jnp.dtype(dtype).name
  return cfg


def _bytes(shape: Sequence[int], dtype, sharding: NamedSharding) -> tuple[int, int]:
  """(global, per-device) bytes of one array."""
  item = jnp.dtype(dtype).itemsize
  return math.prod(shape) * item, math.prod(sharding.shard_shape(tuple(shape))) * item


def _optimizer(name: str):
  if name == "adamw":
    return train_state.sft_optimizer(config_lib.base_config().sft)  # the trainer's own
  if name == "none":
    return None
  raise ValueError(f"optimizer {name!r}: must be one of {', '.join(OPTIMIZERS)}")


def param_rows(model_cfg, mesh_shape: Sequence[int] = (1, 1, 1), param_dtype=None) -> list[dict]:
  """One row per parameter: path, shape, logical names, PartitionSpec, global and per-device bytes."""
  cfg = _model_config(model_cfg, param_dtype, None)
  mesh = parallel.abstract_mesh(mesh_shape)
  params = nnx.state(nnx.eval_shape(lambda: build(cfg, 0)), nnx.Param)
  rows = []
  for path, var in jax.tree.leaves_with_path(params, is_leaf=lambda x: isinstance(x, nnx.Variable)):
    spec = parallel.leaf_spec(var, mesh)
    total, per_device = _bytes(var.shape, var.dtype, NamedSharding(mesh, spec))
    rows.append(
      dict(
        path=jax.tree_util.keystr(path),
        shape=tuple(var.shape),
        names=tuple(var.get_metadata().get("out_sharding") or ()),
        spec=spec,
        bytes=total,
        bytes_per_device=per_device,
      )
    )
  return rows


def memory_table(
  model_cfg,
  mesh_shape: Sequence[int] = (1, 1, 1),
  batch: int = 1,
  seq_len: int = 128,
  kv_len: int | None = None,
  param_dtype=None,
  optimizer: str = "adamw",
  dtype=None,
) -> dict:
  """Bytes per device and in total for a model on a (data, fsdp, tensor) mesh.

  model_cfg: a `config.model_config`-style ConfigDict or a dict of overrides of it.
  batch: rows of the training batch (logits [batch, seq_len, V] float32) and of the
    decode batch whose KV cache holds kv_len slots per row (default seq_len).
  param_dtype / dtype: override the config's parameter / activation (and cache) dtype.
  The mesh may be larger than this host: nothing is placed on a device.
  """
  cfg = _model_config(model_cfg, param_dtype, dtype)
  kv_len = seq_len if kv_len is None else kv_len
  mesh = parallel.abstract_mesh(mesh_shape)
  model = nnx.eval_shape(lambda: build(cfg, 0))
  params = nnx.state(model, nnx.Param)
  tx = _optimizer(optimizer)
  opt_state = jax.eval_shape(tx.init, params) if tx is not None else ()
  cache = jax.eval_shape(lambda: model.init_cache(batch, kv_len))

  def tree_bytes(tree, shardings) -> tuple[int, int]:
    leaves = jax.tree.leaves(tree)
    flat = jax.tree.leaves(shardings, is_leaf=lambda x: isinstance(x, NamedSharding))
    pairs = [_bytes(x.shape, x.dtype, s) for x, s in zip(leaves, flat, strict=True)]
    return sum(p[0] for p in pairs), sum(p[1] for p in pairs)

  logits_spec = parallel.logical_to_spec(
    ("batch", None, "vocab"), mesh, (batch, seq_len, cfg.vocab_size)
  )
  parts = {
    "params": tree_bytes(params, parallel.state_shardings(params, mesh)),
    "optimizer": tree_bytes(opt_state, parallel.state_shardings(opt_state, mesh)),
    "kv_cache": tree_bytes(cache, parallel.cache_shardings(cache, mesh)),
    "logits": _bytes(
      (batch, seq_len, cfg.vocab_size), jnp.float32, NamedSharding(mesh, logits_spec)
    ),
  }
  parts["grads"] = parts["params"]  # same shapes, dtype and shardings as the parameters
  parts["train_total"] = tuple(
    sum(parts[k][i] for k in ("params", "grads", "optimizer", "logits")) for i in (0, 1)
  )
  parts["decode_total"] = tuple(parts["params"][i] + parts["kv_cache"][i] for i in (0, 1))
  order = ("params", "grads", "optimizer", "logits", "train_total", "kv_cache", "decode_total")
  return {
    "mesh": dict(zip(parallel.MESH_AXES, map(int, mesh.axis_sizes))),
    "devices": int(mesh.size),
    "params": int(sum(x.size for x in jax.tree.leaves(params))),
    "param_dtype": cfg.param_dtype,
    "dtype": cfg.dtype,
    "optimizer": optimizer,
    "batch": batch,
    "seq_len": seq_len,
    "kv_len": kv_len,
    "bytes_per_device": {k: int(parts[k][1]) for k in order},
    "bytes_global": {k: int(parts[k][0]) for k in order},
  }


NOTE_METADATA = "shapes from the checkpoint's metadata"
NOTE_ABSENT = "shapes from the config (checkpoint not on this host)"


def checkpoint_shapes(model: ml_collections.ConfigDict) -> tuple[ml_collections.ConfigDict, str]:
  """(model config, note) for a model section whose `checkpoint` is set.

  Readable here: the checkpoint's metadata (no weight is read), the config's dtypes.
  Absent here (no hf:DIR directory or gguf:FILE file, a hub id or named model that cannot
  be fetched): the config's own fields, so a v5e-8 plan needs no download; the note says
  which. A reference of no known form, or a present checkpoint that does not read, is
  still a CheckpointError.
  """
  from btrl_jax import checkpoints

  ref = model.checkpoint
  try:
    source = checkpoints.open_source(ref)
  except FileNotFoundError:  # hf:DIR / gguf:FILE with nothing at that path
    return model, NOTE_ABSENT
  except checkpoints.CheckpointError:
    local = ref.split(":", 1)[1] if ref.startswith(checkpoints.PREFIXES) else None
    if not checkpoints.is_reference(ref) or (local is not None and os.path.exists(local)):
      raise  # bad syntax, or a checkpoint here that does not read
    return model, NOTE_ABSENT  # a hub id or named model that could not be fetched
  shapes = checkpoints.model_config(ref, source, **{k: model[k] for k in checkpoints.COMPUTE_KEYS})
  return shapes, NOTE_METADATA


def bench_memory(
  repeats: int = 1, cfg: ml_collections.ConfigDict | None = None, devices: int | None = None
) -> dict:
  """`btrl bench memory`: the memory table for the study's sizes and two real architectures.

  Computed, not timed: `repeats` is accepted for the bench interface and ignored.
  Rows: W1 (BENCHMARKS.md: 64 sequences of 128 tokens) and the embedded study
  (one RL step's prompts_per_step x group_size rows of sft.seq_len + rl.max_new_tokens
  tokens) on one device in float32; Gemma-2B and Llama-3-8B in bfloat16 on a
  v5e-8-sized mesh, fsdp=8 and fsdp=4 x tensor=2, 32 rows of 2048 tokens. With `cfg`
  (`btrl bench memory --config=...`), a first row for its model and dtypes on its
  `mesh` (resolved against `devices`, default this host's), with one RL step's rows; with
  `model.checkpoint` set, its shapes come from `checkpoint_shapes` (the checkpoint's
  metadata, or the config's own fields where it is not on this host). Every row has
  `notes` (empty but for that row: where its shapes came from).
  """
  del repeats
  study = presets.study()  # from the package: works outside a checkout
  study_len = study.sft.seq_len + study.rl.max_new_tokens
  # (name, model, mesh, batch, seq_len, dtype override, notes)
  specs = [
    ("W1", config_lib.model_config(), (1, 1, 1), 64, 128, None, ""),
    (
      "study",
      study.model,
      (1, 1, 1),
      study.rl.prompts_per_step * study.rl.group_size,
      study_len,
      None,
      "",
    ),
  ]
  for name, arch in (("gemma_2b", GEMMA_2B), ("llama3_8b", LLAMA3_8B)):
    for mesh in ((1, 8, 1), (1, 4, 2)):
      specs.append((name, arch, mesh, 32, 2048, "bfloat16", ""))
  if cfg is not None:
    mesh = parallel.check_mesh(cfg.mesh, jax.device_count() if devices is None else devices)
    model, note = cfg.model, ""
    if model.get("checkpoint"):
      model, note = checkpoint_shapes(model)
    specs.insert(
      0,
      (
        model.checkpoint or "config",
        model,
        mesh,
        cfg.rl.prompts_per_step * cfg.rl.group_size,
        cfg.sft.seq_len + cfg.rl.max_new_tokens,
        None,
        note,
      ),
    )
  rows = []
  for name, model_cfg, mesh, batch, seq_len, dt, note in specs:
    row = memory_table(model_cfg, mesh, batch=batch, seq_len=seq_len, param_dtype=dt, dtype=dt)
    rows.append({"model": name, **row, "notes": note})
  return {"bench": "memory", "rows": rows}


def format_table(rows: list[dict]) -> str:
  """A markdown table of `bench_memory()["rows"]`, in GiB per device."""
  keys = tuple(rows[0]["bytes_per_device"]) if rows else ()
  head = ["model", "mesh (d,f,t)", "params", "dtype", "B x T"] + [f"{k} GiB/dev" for k in keys]
  lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  for r in rows:
    mesh = ",".join(str(v) for v in r["mesh"].values())
    cells = [
      r["model"] + (f", {r['notes']}" if r.get("notes") else ""),
      mesh,
      f"{r['params'] / 1e6:,.2f}M",
      r["param_dtype"],
      f"{r['batch']} x {r['seq_len']}",
    ]
    cells += [f"{r['bytes_per_device'][k] / GIB:.3f}" for k in keys]
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)


def _main() -> None:  # python -m btrl_jax.capacity: the table for docs/scaling.md
  result = bench_memory()
  print(format_table(result["rows"]))


if __name__ == "__main__":
  _main()
