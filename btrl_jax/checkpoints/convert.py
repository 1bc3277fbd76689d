"""Hugging Face-named tensors -> the Flax decoder's parameters, one parameter at a time.

Every importer (a Hugging Face directory, a GGUF file) exposes its tensors under the
Hugging Face names of a Llama-style decoder (`TensorSource`), so one plan maps them onto
`models/transformer.py`:

  model.embed_tokens.weight [V, E]                    -> embed [V, E]
  model.layers.N.self_attn.{q,k,v}_proj.weight [o, E] -> blocks.N.attn.qkv [E, K, G + 2, D]
  model.layers.N.self_attn.{q,k,v}_proj.bias          -> blocks.N.attn.qkv_bias (Qwen 2.5)
  model.layers.N.self_attn.o_proj.weight [E, H * D]   -> blocks.N.attn.o [H, D, E]
  model.layers.N.self_attn.{q,k}_norm.weight [D]      -> blocks.N.attn.{q,k}_norm (Qwen 3)
  model.layers.N.mlp.{gate,up}_proj.weight [M, E]     -> blocks.N.mlp.gate_up [E, 2, M]
  model.layers.N.mlp.down_proj.weight [E, M]          -> blocks.N.mlp.down [M, E]
  model.layers.N.input_layernorm.weight               -> blocks.N.attn_norm
  model.layers.N.post_attention_layernorm.weight      -> blocks.N.mlp_norm (Llama, Qwen)
  model.norm.weight                                   -> final_norm
  lm_head.weight [V, E]                               -> lm_head [E, V] (absent when tied)

Query head h = k * G + g pairs with kv head k, as in the checkpoints. Each parameter is
assembled on the host from the few tensors it needs and placed at once with its
parameter's sharding (`parallel.put`), so the host never holds more than one parameter's
tensors besides what the devices hold. A tensor the plan does not use, a parameter whose
tensor is missing, and a shape that does not match are errors that name the tensor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

import jax
import ml_collections
import numpy as np
from flax import nnx

from btrl_jax import parallel
from btrl_jax.data.jsonl import DataError
from btrl_jax.models import build


class CheckpointError(DataError):
  """A checkpoint that does not fit the model: names the file, tensor or key and what was
  expected (the CLI's exit 2, one line)."""


class TensorSource(Protocol):
  """Tensors of one checkpoint under Hugging Face names, read one at a time."""

  def names(self) -> Iterable[str]: ...

  def get(self, name: str) -> np.ndarray: ...


Assemble = Callable[..., np.ndarray]
_ATTN = "model.layers.{i}.self_attn."
_MLP = "model.layers.{i}.mlp."


def _expect(name: str, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
  if tuple(x.shape) != tuple(shape):
    raise CheckpointError(f"tensor {name}: shape {tuple(x.shape)}, the model expects {shape}")
  return x


def _layer_norms(cfg: ml_collections.ConfigDict) -> tuple[tuple[str, str], ...]:
  """(our norm, its Hugging Face name) of each layer."""
  if cfg.post_norm:  # Gemma: sandwich norms around attention and the MLP
    return (
      ("attn_norm", "input_layernorm"),
      ("post_attn_norm", "post_attention_layernorm"),
      ("mlp_norm", "pre_feedforward_layernorm"),
      ("post_mlp_norm", "post_feedforward_layernorm"),
    )
  # Llama / Qwen: the norm before the MLP is called "post_attention"
  return (("attn_norm", "input_layernorm"), ("mlp_norm", "post_attention_layernorm"))


def plan(cfg: ml_collections.ConfigDict) -> dict[tuple, tuple[tuple[str, ...], Assemble]]:
  """{parameter path: (its source tensors, a function of them giving the parameter)}."""
  e, h, k, d, m, v = (
    cfg.width,
    cfg.heads,
    cfg.kv_heads,
    cfg.head_dim,
    cfg.mlp_dim,
    cfg.vocab_size,
  )
  g = h // k

  def qkv(q, kk, vv):
    q = _expect("q_proj.weight", q, (h * d, e)).T.reshape(e, k, g, d)
    kk = _expect("k_proj.weight", kk, (k * d, e)).T.reshape(e, k, 1, d)
    vv = _expect("v_proj.weight", vv, (k * d, e)).T.reshape(e, k, 1, d)
    return np.concatenate([q, kk, vv], axis=2)

  def qkv_bias(q, kk, vv):
    q = _expect("q_proj.bias", q, (h * d,)).reshape(k, g, d)
    kk = _expect("k_proj.bias", kk, (k * d,)).reshape(k, 1, d)
    vv = _expect("v_proj.bias", vv, (k * d,)).reshape(k, 1, d)
    return np.concatenate([q, kk, vv], axis=1)

  def vec(n):
    return lambda x: _expect("norm weight", x, (n,))

  out: dict[tuple, tuple[tuple[str, ...], Assemble]] = {
    ("embed",): (("model.embed_tokens.weight",), lambda x: _expect("embed", x, (v, e))),
    ("final_norm", "scale"): (("model.norm.weight",), vec(e)),
  }
  if not cfg.tie_embeddings:
    out[("lm_head",)] = (("lm_head.weight",), lambda x: _expect("lm_head", x, (v, e)).T)
  norms = _layer_norms(cfg)
  for i in range(cfg.layers):
    a, mm = _ATTN.format(i=i), _MLP.format(i=i)
    blk = ("blocks", i)
    out[blk + ("attn", "qkv")] = (
      (a + "q_proj.weight", a + "k_proj.weight", a + "v_proj.weight"),
      qkv,
    )
    out[blk + ("attn", "o")] = (
      (a + "o_proj.weight",),
      lambda x: _expect("o_proj.weight", x, (e, h * d)).T.reshape(h, d, e),
    )
    if cfg.qkv_bias:
      out[blk + ("attn", "qkv_bias")] = (
        (a + "q_proj.bias", a + "k_proj.bias", a + "v_proj.bias"),
        qkv_bias,
      )
    if cfg.qk_norm:
      out[blk + ("attn", "q_norm", "scale")] = ((a + "q_norm.weight",), vec(d))
      out[blk + ("attn", "k_norm", "scale")] = ((a + "k_norm.weight",), vec(d))
    out[blk + ("mlp", "gate_up")] = (
      (mm + "gate_proj.weight", mm + "up_proj.weight"),
      lambda gt, up: np.stack(
        [_expect("gate_proj.weight", gt, (m, e)).T, _expect("up_proj.weight", up, (m, e)).T],
        axis=1,
      ),
    )
    out[blk + ("mlp", "down")] = (
      (mm + "down_proj.weight",),
      lambda x: _expect("down_proj.weight", x, (e, m)).T,
    )
    for ours, theirs in norms:
      out[blk + (ours, "scale")] = ((f"model.layers.{i}.{theirs}.weight",), vec(e))
  return out


def load_params(
  cfg: ml_collections.ConfigDict, source: TensorSource, mesh: Any, progress: bool = False
) -> tuple[nnx.GraphDef, nnx.State]:
  """The decoder of `cfg` (a model config) with the source's weights, sharded on `mesh`."""
  graphdef, abstract = nnx.split(nnx.eval_shape(lambda: build(cfg)))
  shardings = parallel.state_shardings(abstract, mesh)
  steps = plan(cfg)
  flat = dict(nnx.to_flat_state(abstract))
  missing_plan = sorted(set(flat) - set(steps))
  if missing_plan:  # a model option the importer does not fill: a bug here, not the user's
    raise CheckpointError(f"no source for parameters {missing_plan}")
  available = set(source.names())
  wanted = {n for names, _ in steps.values() for n in names}
  for names, what in (
    (available - wanted, "tensor(s) of the checkpoint are not used by this model"),
    (wanted - available, "tensor(s) the model needs are not in the checkpoint"),
  ):
    if names:
      listed = sorted(names)
      more = " ..." if len(listed) > 8 else ""
      raise CheckpointError(f"{len(listed)} {what}: {', '.join(listed[:8])}{more}")
  flat_shardings = dict(nnx.to_flat_state(shardings))
  dtype = np.dtype(jax.numpy.dtype(cfg.param_dtype))
  items = sorted(steps.items(), key=lambda kv: str(kv[0]))
  if progress:
    from tqdm.auto import tqdm

    items = tqdm(items, desc="import", unit="param")
  values = {}
  for path, (names, assemble) in items:
    host = np.ascontiguousarray(assemble(*(source.get(n) for n in names)), dtype=dtype)
    if host.shape != flat[path].shape:
      raise CheckpointError(f"{names[0]}: assembled {host.shape}, parameter {flat[path].shape}")
    sharding = flat_shardings[path]
    sharding = sharding.get_value() if isinstance(sharding, nnx.Variable) else sharding
    values[path] = flat[path].replace(parallel.put(host, sharding))
  return graphdef, nnx.from_flat_state(values)


def export_tensors(cfg: ml_collections.ConfigDict, params: Any) -> Iterable[tuple[str, np.ndarray]]:
  """The inverse of `plan`: (Hugging Face name, float32 host array) for every tensor of the
  decoder's `params`, one parameter at a time (a sharded parameter is gathered alone)."""
  h, k, d = cfg.heads, cfg.kv_heads, cfg.head_dim
  g = h // k
  flat = dict(nnx.to_flat_state(params))

  def host(path):
    return np.asarray(parallel.host_array(flat[path].get_value()), np.float32)

  yield "model.embed_tokens.weight", host(("embed",))
  yield "model.norm.weight", host(("final_norm", "scale"))
  if not cfg.tie_embeddings:
    yield "lm_head.weight", host(("lm_head",)).T
  for i in range(cfg.layers):
    a, mm, blk = _ATTN.format(i=i), _MLP.format(i=i), ("blocks", i)
    qkv = host(blk + ("attn", "qkv"))
    e = qkv.shape[0]
    yield a + "q_proj.weight", qkv[:, :, :g].reshape(e, h * d).T
    yield a + "k_proj.weight", qkv[:, :, g].reshape(e, k * d).T
    yield a + "v_proj.weight", qkv[:, :, g + 1].reshape(e, k * d).T
    if cfg.qkv_bias:
      b = host(blk + ("attn", "qkv_bias"))
      yield a + "q_proj.bias", b[:, :g].reshape(-1)
      yield a + "k_proj.bias", b[:, g].reshape(-1)
      yield a + "v_proj.bias", b[:, g + 1].reshape(-1)
    yield a + "o_proj.weight", host(blk + ("attn", "o")).reshape(h * d, e).T
    if cfg.qk_norm:
      yield a + "q_norm.weight", host(blk + ("attn", "q_norm", "scale"))
      yield a + "k_norm.weight", host(blk + ("attn", "k_norm", "scale"))
    gate_up = host(blk + ("mlp", "gate_up"))
    yield mm + "gate_proj.weight", gate_up[:, 0].T
    yield mm + "up_proj.weight", gate_up[:, 1].T
    yield mm + "down_proj.weight", host(blk + ("mlp", "down")).T
    for ours, theirs in _layer_norms(cfg):
      yield f"model.layers.{i}.{theirs}.weight", host(blk + (ours, "scale"))
