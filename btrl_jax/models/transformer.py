"""Decoder-only transformer in Flax NNX (Llama / Qwen / Gemma family options).

One module covers the checkpoints btrl_jax/checkpoints imports: grouped-query attention
(MQA when kv_heads == 1), SwiGLU or GeGLU MLPs, RMSNorm with Gemma's `1 + scale`
option, RoPE with a configurable theta and llama3 / linear scaling, tied or untied
embeddings, optional qk-norm (Qwen 3, Gemma 3), q/k/v biases (Qwen 2.5), sandwich norms
and sqrt(width) embedding scaling (Gemma), final / attention logit soft-caps and a
query scale (Gemma 2's query_pre_attn_scalar), and sliding-window layers with their own
RoPE base (Gemma 2 alternating, Gemma 3 five local to one global).

The KV cache is an explicit pytree passed in and returned, not module state, so
the same `__call__` serves training (no cache), prefill and one-token decode,
and the sampler can carry the cache through `lax.while_loop`. Every parameter
carries logical axis names; `btrl_jax/parallel.py` maps them to mesh axes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
from flax import nnx

Array = jax.Array
# Per layer {"k": [B, K, D, S], "v": [B, K, S, D]} (K = kv heads, S = cache slots), plus
# optionally a shared prefix {"prefix_k": [P, K, D, Lp], "prefix_v": [P, K, Lp, D]} (see init_cache).
KVCache = list[dict[str, Array]]

_NEG_INF = -1e30  # finite, so fully masked rows stay NaN-free.


def _param(rngs: nnx.Rngs, std: float, shape, names, dtype) -> nnx.Param:
  init = jax.nn.initializers.normal(std)
  return nnx.Param(init(rngs.params(), shape, dtype), out_sharding=names)


def softcap(x: Array, cap: float) -> Array:
  return x if cap <= 0 else cap * jnp.tanh(x / cap)


class RMSNorm(nnx.Module):
  """RMSNorm computed in float32; `plus_one` stores scale - 1 (Gemma)."""

  def __init__(self, dim: int, *, eps: float, plus_one: bool, param_dtype):
    init = jnp.zeros if plus_one else jnp.ones
    self.scale = nnx.Param(init((dim,), param_dtype), out_sharding=("norm",))
    self.eps, self.plus_one = eps, plus_one

  def __call__(self, x: Array) -> Array:
    xf = x.astype(jnp.float32)
    y = xf * jax.lax.rsqrt(jnp.mean(xf * xf, axis=-1, keepdims=True) + self.eps)
    scale = self.scale[...].astype(jnp.float32)
    return (y * (scale + 1.0 if self.plus_one else scale)).astype(x.dtype)


def rope_frequencies(head_dim: int, theta: float, scaling: tuple = ()) -> Array:
  """Inverse frequencies [head_dim / 2] float32, with optional RoPE scaling:
  ("linear", factor) divides every frequency by `factor` (Gemma 3's global layers);
  ("llama3", factor, low_freq_factor, high_freq_factor, original_max_position) keeps
  high frequencies, divides low ones by `factor` and blends in between (Llama 3.1+)."""
  half = head_dim // 2
  freq = theta ** (-jnp.arange(half, dtype=jnp.float32) / half)
  if not scaling:
    return freq
  kind, factor = scaling[0], float(scaling[1])
  if kind == "linear":
    return freq / factor
  if kind == "llama3":
    low, high, original = (float(v) for v in scaling[2:5])
    wavelen = 2 * jnp.pi / freq
    smooth = (original / wavelen - low) / (high - low)
    blended = (1 - smooth) * freq / factor + smooth * freq
    out = jnp.where(wavelen > original / low, freq / factor, blended)
    return jnp.where(wavelen < original / high, freq, out)
  raise ValueError(f"unknown RoPE scaling {kind!r} (have: linear, llama3)")


def rope_tables(
  positions: Array, head_dim: int, theta: float, scaling: tuple = ()
) -> tuple[Array, Array]:
  """positions: [B, T] -> (sin, cos), each [B, T, 1, 1, D] float32, laid out for `rope`.

  Computed once per forward and shared by every layer (of one RoPE base) and by q and k:
  the sin/cos evaluations, not the rotation, dominated RoPE's cost at decode.
  `sin` carries the rotate-half sign (-sin on the first half, +sin on the second).
  """
  freq = rope_frequencies(head_dim, theta, scaling)
  angle = positions.astype(jnp.float32)[..., None] * freq  # [B, T, half]
  sin, cos = jnp.sin(angle), jnp.cos(angle)
  sin = jnp.concatenate([-sin, sin], axis=-1)[:, :, None, None]
  cos = jnp.concatenate([cos, cos], axis=-1)[:, :, None, None]
  return sin, cos


def rope_scaling(cfg: ml_collections.ConfigDict) -> tuple:
  """The model config's RoPE scaling as `rope_frequencies` takes it (() for none)."""
  kind = cfg.get("rope_scaling", "")
  if not kind:
    return ()
  if kind == "linear":
    return ("linear", cfg.rope_factor)
  return (
    "llama3",
    cfg.rope_factor,
    cfg.rope_low_freq_factor,
    cfg.rope_high_freq_factor,
    cfg.rope_original_max_position,
  )


def is_sliding(cfg: ml_collections.ConfigDict, layer: int) -> bool:
  """Whether `layer` attends over a sliding window: every layer but each
  `sliding_pattern`-th one (Gemma 2: 2, alternating from a local layer 0; Gemma 3: 6, five
  local then one global); `sliding_pattern` 1 makes every layer local."""
  window, every = cfg.get("sliding_window", 0), cfg.get("sliding_pattern", 1)
  return window > 0 and (every <= 1 or (layer + 1) % every != 0)


def window_mask(mask: Array, window: int) -> Array:
  """mask [..., S] (causal, padding hidden) -> the same keeping only the last `window`
  allowed keys of each query: a query's allowed keys are the positions 0..p in slot order,
  so "within the window" is "at most `window` allowed keys from this slot on". Reads
  only the mask, so training, prefill, decode and shared-prefix caches agree."""
  from_here = jnp.flip(jnp.cumsum(jnp.flip(mask, -1).astype(jnp.int32), axis=-1), -1)
  return mask & (from_here <= window)


def rope(x: Array, sin: Array, cos: Array) -> Array:
  """Rotary embedding, rotate-half convention (Llama/HF). x: [B, T, K, N, D]; sin, cos from
  `rope_tables`: out = x * cos + rotate_half(x) * sin, with rotate_half(x) = [x2, x1] and the
  sign folded into `sin`."""
  xf = x.astype(jnp.float32)
  half = x.shape[-1] // 2
  swapped = jnp.concatenate([xf[..., half:], xf[..., :half]], axis=-1)
  return (xf * cos + swapped * sin).astype(x.dtype)


def _dense(x: Array, w: Array) -> Array:
  """x: [..., E] @ w: [E, F] -> [..., F], as one 2-D matmul.

  Flattening matters for the backward: with a 3-D x, XLA:CPU computes the weight gradient
  from a transposed copy of the output gradient (32 MB for the W1 lm head, ~0.15 s),
  with 2-D operands it contracts them in place.
  """
  return (x.reshape(-1, x.shape[-1]) @ w).reshape(*x.shape[:-1], w.shape[-1])


def _project(x: Array, w: Array) -> Array:
  """x: [B, T, E] @ w: [E, H, D] -> [B, T, H, D], as one 2-D matmul (XLA:CPU runs it faster)."""
  e, h, d = w.shape
  return _dense(x, w.reshape(e, h * d)).reshape(*x.shape[:-1], h, d)


def _fold_group(x: Array, p: int) -> Array:
  """[B, K, G, T, X] (B = P * R rows) -> [P, K, R * G * T, X]: a group's rows share one matmul."""
  b, kvh, g, t, n = x.shape
  return x.reshape(p, b // p, kvh, g, t, n).transpose(0, 2, 1, 3, 4, 5).reshape(p, kvh, -1, n)


def _unfold_group(x: Array, b: int, g: int, t: int) -> Array:
  """Inverse of `_fold_group`: [P, K, R * G * T, X] -> [B, K, G, T, X]."""
  p, kvh, _, n = x.shape
  return x.reshape(p, kvh, b // p, g, t, n).transpose(0, 2, 1, 3, 4, 5).reshape(b, kvh, g, t, n)


def _prefix_scores(q: Array, pk: Array) -> Array:
  """q: [B, K, G, T, D] against a shared prefix's keys pk: [P, K, D, Lp] -> [B, K, G, T, Lp].

  Each prefix is read once per group of B / P rows rather than once per row, and the
  group's queries form the M dimension of one matmul instead of B tiny ones.
  """
  b, _, g, t, _ = q.shape
  return _unfold_group(jnp.einsum("pkmd,pkds->pkms", _fold_group(q, pk.shape[0]), pk), b, g, t)


def _prefix_values(probs: Array, pv: Array) -> Array:
  """probs: [B, K, G, T, Lp] over a shared prefix's values pv: [P, K, Lp, D] -> [B, K, G, T, D]."""
  b, _, g, t, _ = probs.shape
  return _unfold_group(jnp.einsum("pkms,pksd->pkmd", _fold_group(probs, pv.shape[0]), pv), b, g, t)


class Attention(nnx.Module):
  """Grouped-query self-attention with an optional explicit KV cache.

  q, k and v come from one [E, K, G + 2, D] parameter (K kv heads, G = H / K query heads
  per kv head): per kv head, its G query heads, then its key, then its value. One matmul
  instead of three, and the output is already grouped as attention needs it. Query head
  h = k * G + g pairs with kv head k, as in Llama / HF checkpoints.
  """

  def __init__(self, cfg: ml_collections.ConfigDict, *, rngs: nnx.Rngs):
    e, h, k, d = cfg.width, cfg.heads, cfg.kv_heads, cfg.head_dim
    pdt, std = jnp.dtype(cfg.param_dtype), cfg.init_std
    self.qkv = _param(
      rngs, std, (e, k, h // k + 2, d), ("embed", "kv_heads", None, "head_dim"), pdt
    )
    self.o = _param(
      rngs, std / (2 * cfg.layers) ** 0.5, (h, d, e), ("heads", "head_dim", "embed"), pdt
    )
    if cfg.qkv_bias:
      self.qkv_bias = nnx.Param(
        jnp.zeros((k, h // k + 2, d), pdt), out_sharding=("kv_heads", None, "head_dim")
      )
    if cfg.qk_norm:
      norm = dict(eps=cfg.norm_eps, plus_one=cfg.norm_plus_one, param_dtype=pdt)
      self.q_norm, self.k_norm = RMSNorm(d, **norm), RMSNorm(d, **norm)
    self.cfg = cfg

  def __call__(
    self,
    x: Array,
    rope_sc: tuple[Array, Array],
    mask: Array,
    cache: dict[str, Array] | None,
    cache_index: Array | None,
  ) -> tuple[Array, dict[str, Array] | None]:
    """x: [B, T, E]; rope_sc: `rope_tables`; mask: [B, T, S] bool (S = T without cache, cache length with one)."""
    cfg, dt = self.cfg, x.dtype
    e, kvh, g2, d = self.qkv.shape
    g = g2 - 2
    b, t, _ = x.shape
    qkv = _dense(x, self.qkv[...].astype(dt).reshape(e, -1)).reshape(b, t, kvh, g2, d)
    if cfg.qkv_bias:
      qkv = qkv + self.qkv_bias[...].astype(dt)
    q, k, v = (
      qkv[:, :, :, :g],
      qkv[:, :, :, g : g + 1],
      qkv[:, :, :, g + 1],
    )  # [B,T,K,G|1,D], [B,T,K,D]
    if cfg.qk_norm:
      q, k = self.q_norm(q), self.k_norm(k)
    q, k = rope(q, *rope_sc), rope(k, *rope_sc)[:, :, :, 0]
    # Keys as [B, K, D, S] and values as [B, K, S, D]: both attention contractions are
    # then plain batched matmuls, which XLA:CPU runs ~4x faster than strided einsums.
    k, v = k.transpose(0, 2, 3, 1), v.transpose(0, 2, 1, 3)
    prefix = None
    if cache is not None:
      prefix = (cache["prefix_k"], cache["prefix_v"]) if "prefix_k" in cache else None
      own = cache_index - (0 if prefix is None else prefix[0].shape[-1])  # slot in this row's part
      k = jax.lax.dynamic_update_slice(cache["k"], k.astype(cache["k"].dtype), (0, 0, 0, own))
      v = jax.lax.dynamic_update_slice(cache["v"], v.astype(cache["v"].dtype), (0, 0, own, 0))
      cache = {**cache, "k": k, "v": v}
    q = q.transpose(0, 2, 3, 1, 4)  # [B, K, G, T, D]

    scale = (cfg.get("query_scale", 0.0) or d) ** -0.5  # Gemma: query_pre_attn_scalar

    def masked_scores(scores, mask):
      scores = softcap(scores.astype(jnp.float32) * scale, cfg.attn_logit_softcap)
      return jnp.where(mask[:, None, None], scores, _NEG_INF)

    own_mask = mask[..., mask.shape[-1] - k.shape[-1] :]  # the row's own slots come last
    scores = masked_scores(jnp.einsum("bkgtd,bkds->bkgts", q, k.astype(dt)), own_mask)
    if prefix is None:
      probs = jax.nn.softmax(scores, axis=-1).astype(dt)
      out = jnp.einsum(
        "bkgts,bksd->bkgtd", probs, v.astype(dt)
      )  # a natural matmul; transpose after
    else:
      # One softmax over the prefix's slots and the row's own, kept as two blocks (no
      # concatenated [.., Lp + S] scores to build, slice and differentiate) and normalised
      # after the values: [.., D] is narrower than [.., Lp + S].
      pre = masked_scores(_prefix_scores(q, prefix[0].astype(dt)), mask[..., : prefix[0].shape[-1]])
      top = jax.lax.stop_gradient(
        jnp.maximum(
          pre.max(-1, keepdims=True, initial=_NEG_INF),
          scores.max(-1, keepdims=True, initial=_NEG_INF),
        )
      )
      pre, scores = jnp.exp(pre - top), jnp.exp(scores - top)
      norm = pre.sum(-1, keepdims=True) + scores.sum(-1, keepdims=True)
      out = (
        _prefix_values(pre.astype(dt), prefix[1].astype(dt))
        + jnp.einsum("bkgts,bksd->bkgtd", scores.astype(dt), v.astype(dt))
      ) / norm.astype(dt)
    out = out.transpose(0, 3, 1, 2, 4).reshape(b, t, kvh * g * d)
    o = self.o[...].astype(dt)
    return _dense(out, o.reshape(kvh * g * d, -1)), cache


class MLP(nnx.Module):
  """Gated MLP: SwiGLU (silu gate) or GeGLU (tanh-approximate gelu gate).

  Gate and up projections live in one [E, 2, M] parameter so they run as one
  matmul (~15% faster on CPU at decode batch sizes than two).
  """

  def __init__(self, cfg: ml_collections.ConfigDict, *, rngs: nnx.Rngs):
    pdt, std = jnp.dtype(cfg.param_dtype), cfg.init_std
    self.gate_up = _param(rngs, std, (cfg.width, 2, cfg.mlp_dim), ("embed", None, "mlp"), pdt)
    self.down = _param(
      rngs, std / (2 * cfg.layers) ** 0.5, (cfg.mlp_dim, cfg.width), ("mlp", "embed"), pdt
    )
    self.act = (
      jax.nn.silu if cfg.activation == "swiglu" else lambda z: jax.nn.gelu(z, approximate=True)
    )

  def __call__(self, x: Array) -> Array:
    dt = x.dtype
    gate, up = jnp.unstack(_project(x, self.gate_up[...].astype(dt)), axis=-2)
    return _dense(self.act(gate) * up, self.down[...].astype(dt))


class Block(nnx.Module):
  def __init__(self, cfg: ml_collections.ConfigDict, *, rngs: nnx.Rngs):
    norm = dict(
      eps=cfg.norm_eps, plus_one=cfg.norm_plus_one, param_dtype=jnp.dtype(cfg.param_dtype)
    )
    self.attn_norm, self.mlp_norm = RMSNorm(cfg.width, **norm), RMSNorm(cfg.width, **norm)
    if cfg.post_norm:
      self.post_attn_norm, self.post_mlp_norm = (
        RMSNorm(cfg.width, **norm),
        RMSNorm(cfg.width, **norm),
      )
    self.attn, self.mlp = Attention(cfg, rngs=rngs), MLP(cfg, rngs=rngs)
    self.post_norm = cfg.post_norm

  def __call__(self, x, rope_sc, mask, cache, cache_index):
    a, cache = self.attn(self.attn_norm(x), rope_sc, mask, cache, cache_index)
    x = x + (self.post_attn_norm(a) if self.post_norm else a)
    m = self.mlp(self.mlp_norm(x))
    return x + (self.post_mlp_norm(m) if self.post_norm else m), cache


class Transformer(nnx.Module):
  """Decoder LM. `hidden` returns final-normed states; `logits` projects them."""

  def __init__(self, cfg: ml_collections.ConfigDict, *, rngs: nnx.Rngs):
    pdt = jnp.dtype(cfg.param_dtype)
    self.embed = _param(rngs, cfg.init_std, (cfg.vocab_size, cfg.width), ("vocab", "embed"), pdt)
    self.blocks = nnx.List([Block(cfg, rngs=rngs) for _ in range(cfg.layers)])
    self.final_norm = RMSNorm(
      cfg.width, eps=cfg.norm_eps, plus_one=cfg.norm_plus_one, param_dtype=pdt
    )
    if not cfg.tie_embeddings:
      self.lm_head = _param(
        rngs, cfg.init_std, (cfg.width, cfg.vocab_size), ("embed", "vocab"), pdt
      )
    self.cfg = cfg

  def init_cache(self, batch: int, length: int, prefix: KVCache | None = None) -> KVCache:
    """A zeroed cache of `length` slots per row.

    With `prefix` (a filled cache of P rows; batch = P * R), the prefix's Lp slots come
    first and are shared, never copied, by each run of R consecutive rows: slot indices
    and masks then span Lp + length slots. The sampler's group rollouts use this so
    decode reads each prompt's keys and values once per group, not once per sample.
    """
    k, d, dt = self.cfg.kv_heads, self.cfg.head_dim, jnp.dtype(self.cfg.dtype)
    cache = [
      {"k": jnp.zeros((batch, k, d, length), dt), "v": jnp.zeros((batch, k, length, d), dt)}
      for _ in range(self.cfg.layers)
    ]
    if prefix is not None:
      for layer, pre in zip(cache, prefix):
        if batch % pre["k"].shape[0]:
          raise ValueError(
            f"batch {batch} is not a multiple of the prefix's {pre['k'].shape[0]} rows"
          )
        layer.update(prefix_k=pre["k"], prefix_v=pre["v"])
    return cache

  def hidden(
    self,
    tokens: Array,
    positions: Array,
    mask: Array,
    cache: KVCache | None = None,
    cache_index: Array | None = None,
  ) -> tuple[Array, KVCache | None]:
    """tokens, positions: [B, T] int32; mask: [B, T, S] bool -> ([B, T, E], cache)."""
    dt = jnp.dtype(self.cfg.dtype)
    x = jnp.take(self.embed[...], tokens, axis=0).astype(dt)
    if self.cfg.embed_scale:
      x = x * jnp.asarray(self.cfg.width**0.5, dt)
    cfg = self.cfg
    rope_sc = rope_tables(positions, cfg.head_dim, cfg.rope_theta, rope_scaling(cfg))
    sliding = [is_sliding(cfg, i) for i in range(cfg.layers)]
    local_theta = cfg.get("rope_local_theta", 0.0)
    local_rope = rope_tables(positions, cfg.head_dim, local_theta) if local_theta else rope_sc
    local_mask = window_mask(mask, cfg.sliding_window) if any(sliding) else mask
    new_cache = [] if cache is not None else None
    # model.remat: recompute each block's activations in the backward pass instead of keeping
    # them. Only for cache-free forwards (training): a cached forward is never differentiated,
    # and the cache's in-place update cannot cross nnx.remat inside the sampler's loop.
    run = (
      nnx.remat(lambda blk, *a: blk(*a))
      if self.cfg.get("remat", False) and cache is None
      else lambda blk, *a: blk(*a)
    )
    for i, block in enumerate(self.blocks):
      local = sliding[i]
      x, layer_cache = run(
        block,
        x,
        local_rope if local else rope_sc,
        local_mask if local else mask,
        None if cache is None else cache[i],
        cache_index,
      )
      if cache is not None:
        new_cache.append(layer_cache)
    return self.final_norm(x), new_cache

  def shared_prompt_hidden(
    self, prompt: Array, prompt_valid: Array, tokens: Array, valid: Array
  ) -> tuple[Array, Array]:
    """Hidden states of rows that continue shared prompts, each prompt run once.

    prompt, prompt_valid: [P, Lp] (padding anywhere, e.g. left); tokens, valid: [B, T]
    continuations, B = P * R, rows p*R .. p*R+R-1 continuing prompt p. Returns
    ([P, Lp, E] prompt states, [B, T, E] continuation states), equal to `hidden` of the
    [B, Lp + T] rows with each prompt repeated R times (causal mask hiding padding keys,
    positions skipping padding), at the cost of P prompt rows instead of B: the prompt's
    keys and values are the shared prefix of every row's cache (`init_cache(prefix=...)`),
    and under `grad` the group's gradients reach them through that prefix. RL groups
    (R samples per prompt) are what this is for.
    """
    p, lp = prompt.shape
    b, t = tokens.shape
    hp, prefix = self.hidden(
      prompt,
      positions_from_valid(prompt_valid),
      causal_mask(prompt_valid),
      self.init_cache(p, lp),
      jnp.int32(0),
    )
    rows = lambda x: jnp.repeat(x, b // p, axis=0)
    # What `positions_from_valid` gives these columns of the concatenated rows.
    n_prompt = rows(jnp.sum(prompt_valid, axis=1, dtype=jnp.int32))[:, None]
    positions = jnp.maximum(n_prompt + jnp.cumsum(valid, axis=1, dtype=jnp.int32) - 1, 0)
    mask = jnp.concatenate(
      [jnp.broadcast_to(rows(prompt_valid)[:, None], (b, t, lp)), causal_mask(valid)], axis=-1
    )  # [B, T, Lp + T]
    hc, _ = self.hidden(
      tokens, positions, mask, self.init_cache(b, t, prefix=prefix), jnp.int32(lp)
    )
    return hp, hc

  def logits(self, h: Array) -> Array:
    """h: [..., E] -> logits [..., V] float32 (upcast so log-softmax is stable in bf16 runs)."""
    w = self.embed[...].T if self.cfg.tie_embeddings else self.lm_head[...]
    logits = _dense(h, w.astype(h.dtype)).astype(jnp.float32)
    return softcap(logits, self.cfg.final_logit_softcap)

  def __call__(
    self, tokens: Array, positions: Array | None = None, mask: Array | None = None
  ) -> Array:
    """Full causal forward without a cache: tokens [B, T] -> logits [B, T, V] float32."""
    if positions is None:
      positions = jnp.broadcast_to(jnp.arange(tokens.shape[1]), tokens.shape)
    if mask is None:
      mask = causal_mask(jnp.ones(tokens.shape, bool))
    return self.logits(self.hidden(tokens, positions, mask)[0])


def causal_mask(valid: Array) -> Array:
  """valid: [B, T] bool (False on padding) -> [B, T, T] causal mask that hides padding keys."""
  t = valid.shape[1]
  causal = jnp.tril(jnp.ones((t, t), bool))
  return causal[None] & valid[:, None, :]


def positions_from_valid(valid: Array) -> Array:
  """Positions that skip padding (left- or right-padded rows): [B, T] int32."""
  return jnp.maximum(jnp.cumsum(valid.astype(jnp.int32), axis=1) - 1, 0)


def build(cfg: ml_collections.ConfigDict, seed: int | Array = 0) -> Transformer:
  """Builds the model with no mesh (sharding is applied by `parallel.py`)."""
  rngs = nnx.Rngs(params=seed)
  with nnx.use_eager_sharding(False):
    return Transformer(cfg, rngs=rngs)


def param_count(model: nnx.Module) -> int:
  return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
