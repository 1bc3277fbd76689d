"""Model: shapes at real sizes, parity with an independent numpy forward, cache and mask invariants."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from btrl_jax import config
from btrl_jax.models import build, causal_mask, param_count, positions_from_valid

TINY = dict(vocab_size=97, width=32, layers=2, heads=4, kv_heads=2, head_dim=8, mlp_dim=48)
VARIANTS = {
  "llama_gqa": {},
  "mqa_tied_geglu": dict(kv_heads=1, tie_embeddings=True, activation="geglu"),
  "gemma_like": dict(
    norm_plus_one=True,
    post_norm=True,
    embed_scale=True,
    qk_norm=True,
    final_logit_softcap=5.0,
    attn_logit_softcap=3.0,
    tie_embeddings=True,
  ),
  "qwen_like": dict(qkv_bias=True, rope_theta=1e6, qk_norm=True),
  # Gemma 2: layer 0 local (window 3), layer 1 global, query_pre_attn_scalar != head_dim.
  "gemma2_windows": dict(
    norm_plus_one=True,
    post_norm=True,
    embed_scale=True,
    activation="geglu",
    attn_logit_softcap=3.0,
    final_logit_softcap=5.0,
    sliding_window=3,
    sliding_pattern=2,
    query_scale=12.0,
    tie_embeddings=True,
  ),
  # Gemma 3: local layers with their own RoPE base, global ones with linear scaling.
  "gemma3_windows": dict(
    layers=3,
    norm_plus_one=True,
    post_norm=True,
    qk_norm=True,
    sliding_window=4,
    sliding_pattern=3,
    rope_theta=1e6,
    rope_local_theta=1e4,
    rope_scaling="linear",
    rope_factor=4.0,
  ),
  "llama3_rope_scaling": dict(
    rope_theta=5e5,
    rope_scaling="llama3",
    rope_factor=8.0,
    rope_low_freq_factor=1.0,
    rope_high_freq_factor=4.0,
    rope_original_max_position=16,
  ),
}


def _tiny(seed=0, **kw):
  cfg = config.model_config(**{**TINY, **kw})
  model = build(cfg, seed)
  # Non-trivial norm scales and biases, so the parity test exercises them.
  rng = np.random.default_rng(seed + 1)
  for path, var in nnx.iter_graph(model):
    if isinstance(var, nnx.Param) and (path[-1] in ("scale", "qkv_bias")):
      var[...] = jnp.asarray(rng.normal(0, 0.3, var.shape), var.dtype)
  return cfg, model


def test_w1_parameter_count():
  model = nnx.eval_shape(lambda: build(config.model_config(), 0))
  assert param_count(model) == 4_983_040  # BENCHMARKS.md: 4.98M


@pytest.mark.parametrize(
  "name,overrides,expected",
  [
    # Llama-3-8B: 8.03B parameters.
    (
      "llama3_8b",
      dict(
        vocab_size=128256,
        width=4096,
        layers=32,
        heads=32,
        kv_heads=8,
        head_dim=128,
        mlp_dim=14336,
        rope_theta=500000.0,
      ),
      8_030_261_248,
    ),
    # Gemma-2B (Gemma 1): tied embeddings, MQA, GeGLU; 2.51B parameters.
    (
      "gemma_2b",
      dict(
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
      ),
      2_506_172_416,
    ),
  ],
)
def test_real_sizes_without_allocating(name, overrides, expected):
  cfg = config.model_config(**overrides)
  model = nnx.eval_shape(lambda: build(cfg, 0))
  assert param_count(model) == expected, name
  logits = jax.eval_shape(lambda m, t: m(t), model, jax.ShapeDtypeStruct((2, 16), jnp.int32))
  assert logits.shape == (2, 16, cfg.vocab_size) and logits.dtype == jnp.float32


def _np_forward(model, cfg, tokens):
  """Independent float64 numpy implementation of the decoder forward (no cache)."""
  p = jax.tree.map(
    lambda x: np.asarray(x, np.float64), nnx.to_pure_dict(nnx.state(model, nnx.Param))
  )

  def norm(x, scale):
    y = x / np.sqrt((x * x).mean(-1, keepdims=True) + cfg.norm_eps)
    return y * ((1.0 + scale) if cfg.norm_plus_one else scale)

  def inv_freq(d, theta, scaled):
    inv = theta ** (-np.arange(0, d, 2) / d)
    if not scaled or not cfg.rope_scaling:
      return inv
    if cfg.rope_scaling == "linear":
      return inv / cfg.rope_factor
    out = []  # llama3, one frequency at a time (Meta's reference loop)
    low_wl = cfg.rope_original_max_position / cfg.rope_low_freq_factor
    high_wl = cfg.rope_original_max_position / cfg.rope_high_freq_factor
    for f in inv:
      wl = 2 * np.pi / f
      if wl < high_wl:
        out.append(f)
      elif wl > low_wl:
        out.append(f / cfg.rope_factor)
      else:
        sm = (cfg.rope_original_max_position / wl - cfg.rope_low_freq_factor) / (
          cfg.rope_high_freq_factor - cfg.rope_low_freq_factor
        )
        out.append((1 - sm) * f / cfg.rope_factor + sm * f)
    return np.asarray(out)

  def rope(x, pos, local=False):  # x: [T, H, D]
    d = x.shape[-1]
    theta = cfg.rope_local_theta if local and cfg.rope_local_theta else cfg.rope_theta
    inv = inv_freq(d, theta, scaled=not (local and cfg.rope_local_theta))
    ang = pos[:, None, None] * inv
    x1, x2 = x[..., : d // 2], x[..., d // 2 :]
    return np.concatenate(
      [x1 * np.cos(ang) - x2 * np.sin(ang), x2 * np.cos(ang) + x1 * np.sin(ang)], -1
    )

  def cap(x, c):
    return c * np.tanh(x / c) if c > 0 else x

  t = len(tokens)
  x = p["embed"][tokens] * (np.sqrt(cfg.width) if cfg.embed_scale else 1.0)
  pos = np.arange(t, dtype=np.float64)
  for i in range(cfg.layers):
    b = p["blocks"][i]
    a = b["attn"]
    h = norm(x, b["attn_norm"]["scale"])
    # Fused [E, K, G + 2, D]: per kv head, its G query heads, its key, its value.
    qkv = np.einsum("te,ekzd->tkzd", h, a["qkv"])
    if cfg.qkv_bias:
      qkv = qkv + a["qkv_bias"]
    g = cfg.heads // cfg.kv_heads
    q = qkv[:, :, :g].reshape(t, cfg.heads, cfg.head_dim)  # query head k * G + g
    k, v = qkv[:, :, g], qkv[:, :, g + 1]
    if cfg.qk_norm:
      q, k = norm(q, a["q_norm"]["scale"]), norm(k, a["k_norm"]["scale"])
    every = cfg.sliding_pattern
    local = cfg.sliding_window > 0 and (every <= 1 or (i + 1) % every != 0)
    q, k = rope(q, pos, local), rope(k, pos, local)
    rep = cfg.heads // cfg.kv_heads
    k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
    scale = 1 / np.sqrt(cfg.query_scale or cfg.head_dim)
    s = cap(np.einsum("thd,shd->hts", q, k) * scale, cfg.attn_logit_softcap)
    allowed = np.tril(np.ones((t, t), bool))
    if local:  # query i sees keys i - window + 1 .. i
      allowed &= np.arange(t)[:, None] - np.arange(t)[None, :] < cfg.sliding_window
    s = np.where(allowed, s, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    o = np.einsum("hts,shd,hde->te", w, v, a["o"])
    x = x + (norm(o, b["post_attn_norm"]["scale"]) if cfg.post_norm else o)
    m = b["mlp"]
    h = norm(x, b["mlp_norm"]["scale"])
    gate, up = np.einsum("te,ezm->tzm", h, m["gate_up"]).transpose(1, 0, 2)
    if cfg.activation == "swiglu":
      act = gate / (1 + np.exp(-gate))
    else:
      act = 0.5 * gate * (1 + np.tanh(np.sqrt(2 / np.pi) * (gate + 0.044715 * gate**3)))
    y = (act * up) @ m["down"]
    x = x + (norm(y, b["post_mlp_norm"]["scale"]) if cfg.post_norm else y)
  x = norm(x, p["final_norm"]["scale"])
  w_out = p["embed"].T if cfg.tie_embeddings else p["lm_head"]
  return cap(x @ w_out, cfg.final_logit_softcap)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_forward_matches_numpy_reference(variant):
  cfg, model = _tiny(**VARIANTS[variant])
  tokens = np.random.default_rng(0).integers(0, cfg.vocab_size, size=11)
  got = np.asarray(model(jnp.asarray(tokens)[None])[0])
  want = _np_forward(model, cfg, tokens)
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_kv_cache_decoding_matches_full_forward(variant):
  cfg, model = _tiny(**VARIANTS[variant])
  tokens = jnp.asarray(np.random.default_rng(1).integers(0, cfg.vocab_size, size=(2, 12)))
  full = model(tokens)  # [2, 12, V]
  n_prompt, s = 5, 16
  cache = model.init_cache(2, s)
  valid = jnp.zeros((2, s), bool).at[:, :n_prompt].set(True)
  mask = jnp.tril(jnp.ones((n_prompt, s), bool))[None] & valid[:, None, :]
  pos = jnp.broadcast_to(jnp.arange(n_prompt), (2, n_prompt))
  h, cache = model.hidden(tokens[:, :n_prompt], pos, mask, cache, jnp.int32(0))
  steps = [model.logits(h)]
  for i in range(n_prompt, 12):
    valid = valid.at[:, i].set(True)
    h, cache = model.hidden(
      tokens[:, i : i + 1], jnp.full((2, 1), i), valid[:, None, :], cache, jnp.int32(i)
    )
    steps.append(model.logits(h))
  np.testing.assert_allclose(np.concatenate(steps, 1), full, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_shared_prefix_cache_matches_full_forward(variant):
  """Two prompts prefilled once, each shared (not copied) by 3 rows that decode different tokens."""
  cfg, model = _tiny(**VARIANTS[variant])
  n_prompt, n_new, rows = 5, 6, 6
  rng = np.random.default_rng(4)
  prompts = rng.integers(0, cfg.vocab_size, size=(2, n_prompt))
  tokens = np.concatenate(
    [np.repeat(prompts, 3, axis=0), rng.integers(0, cfg.vocab_size, size=(rows, n_new))], axis=1
  )
  full = model(jnp.asarray(tokens))  # [6, 11, V]
  mask = causal_mask(jnp.ones((2, n_prompt), bool))
  pos = jnp.broadcast_to(jnp.arange(n_prompt), (2, n_prompt))
  h, prefix = model.hidden(
    jnp.asarray(prompts), pos, mask, model.init_cache(2, n_prompt), jnp.int32(0)
  )
  steps = [jnp.repeat(model.logits(h), 3, axis=0)]
  cache = model.init_cache(rows, 8, prefix=prefix)
  valid = jnp.zeros((rows, n_prompt + 8), bool).at[:, :n_prompt].set(True)
  for i in range(n_prompt, n_prompt + n_new - 1):
    valid = valid.at[:, i].set(True)
    h, cache = model.hidden(
      jnp.asarray(tokens[:, i : i + 1]),
      jnp.full((rows, 1), i),
      valid[:, None, :],
      cache,
      jnp.int32(i),
    )
    steps.append(model.logits(h))
  np.testing.assert_allclose(
    np.concatenate(steps, 1), full[:, : n_prompt + n_new - 1], rtol=1e-5, atol=1e-5
  )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_shared_prompt_hidden_matches_full_forward(variant):
  """Two left-padded prompts run once, each continued by 3 rows with padding after an end:
  the same states, and the same gradients, as the full forward of the repeated rows."""
  cfg, model = _tiny(**VARIANTS[variant])
  n_prompt, n_new, group = 6, 5, 3
  rng = np.random.default_rng(5)
  prompts = rng.integers(1, cfg.vocab_size, size=(2, n_prompt))
  prompt_valid = np.arange(n_prompt)[None] >= np.array([[2], [0]])  # prompt 0 left-padded by 2
  new = rng.integers(1, cfg.vocab_size, size=(2 * group, n_new))
  new_valid = np.arange(n_new)[None] < np.array([[5], [3], [1], [5], [4], [2]])
  tokens = jnp.asarray(np.concatenate([np.repeat(prompts, group, axis=0), new], axis=1))
  valid = jnp.asarray(np.concatenate([np.repeat(prompt_valid, group, axis=0), new_valid], axis=1))
  weights = (
    jnp.asarray(rng.normal(size=(2 * group, n_prompt + n_new, cfg.vocab_size))) * valid[..., None]
  )
  graphdef, params = nnx.split(model)

  def full(params):
    m = nnx.merge(graphdef, params)
    return m.logits(m.hidden(tokens, positions_from_valid(valid), causal_mask(valid))[0])

  def shared(params):
    m = nnx.merge(graphdef, params)
    hp, hc = m.shared_prompt_hidden(
      jnp.asarray(prompts), jnp.asarray(prompt_valid), jnp.asarray(new), jnp.asarray(new_valid)
    )
    return jnp.concatenate([jnp.repeat(m.logits(hp), group, axis=0), m.logits(hc)], axis=1)

  # Padding positions' states are never read (their keys are masked): compare valid ones.
  np.testing.assert_allclose(
    jax.jit(shared)(params) * valid[..., None],
    jax.jit(full)(params) * valid[..., None],
    rtol=1e-5,
    atol=1e-5,
  )
  grads = [
    jax.jit(jax.grad(lambda p, f=f: jnp.sum(f(p) * weights)))(params) for f in (shared, full)
  ]
  for g_shared, g_full in zip(jax.tree.leaves(grads[0]), jax.tree.leaves(grads[1])):
    np.testing.assert_allclose(
      g_shared, g_full, rtol=1e-4, atol=1e-4 * float(jnp.abs(g_full).max())
    )


def test_causal_mask_future_tokens_do_not_leak():
  cfg, model = _tiny()
  a = jnp.asarray(np.random.default_rng(2).integers(0, cfg.vocab_size, size=(1, 10)))
  b = a.at[0, 6:].set((a[0, 6:] + 7) % cfg.vocab_size)
  la, lb = model(a), model(b)
  np.testing.assert_array_equal(la[0, :6], lb[0, :6])
  assert not np.allclose(la[0, 6:], lb[0, 6:])


def test_left_padding_gives_unpadded_logits():
  cfg, model = _tiny()
  toks = np.random.default_rng(3).integers(3, cfg.vocab_size, size=7)
  padded = np.concatenate([np.zeros(4, int), toks])[None]
  valid = jnp.asarray(padded != 0)
  logits = model(jnp.asarray(padded), positions_from_valid(valid), causal_mask(valid))
  np.testing.assert_allclose(logits[0, 4:], model(jnp.asarray(toks)[None])[0], rtol=1e-5, atol=1e-5)


def test_every_parameter_has_logical_axes():
  _, model = _tiny(qkv_bias=True, qk_norm=True, post_norm=True)
  allowed = {"vocab", "embed", "heads", "kv_heads", "head_dim", "mlp", "norm", None}
  for path, var in nnx.iter_graph(model):
    if isinstance(var, nnx.Param):
      names = var.get_metadata().get("out_sharding")
      assert names is not None and len(names) == var.ndim, path
      assert set(names) <= allowed, (path, names)


def test_remat_gives_the_same_loss_and_gradients():
  """model.remat recomputes block activations in the backward pass: same numbers, and the
  rematerialised program really differs (it recomputes)."""
  tokens = jnp.asarray(np.random.default_rng(3).integers(0, 96, (2, 10)), jnp.int32)

  def loss_and_grads(remat):
    cfg = config.model_config(
      vocab_size=96, width=32, layers=2, heads=4, kv_heads=2, head_dim=8, mlp_dim=48, remat=remat
    )
    graphdef, params = nnx.split(build(cfg, seed=0))
    loss = lambda p: jnp.mean(jax.nn.log_softmax(nnx.merge(graphdef, p)(tokens))[..., 0])
    text = str(jax.make_jaxpr(loss)(params))  # jax.checkpoint shows as its own primitive
    return jax.value_and_grad(loss)(params), text

  (plain_loss, plain_grads), plain_text = loss_and_grads(False)
  (remat_loss, remat_grads), remat_text = loss_and_grads(True)
  np.testing.assert_allclose(remat_loss, plain_loss, rtol=1e-6)
  for a, b in zip(jax.tree.leaves(remat_grads), jax.tree.leaves(plain_grads)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
  marks = ("checkpoint", "remat")
  assert any(m in remat_text for m in marks) and not any(m in plain_text for m in marks)


def test_a_remat_model_samples_as_the_plain_one():
  """model.remat applies to cache-free forwards only: the sampler's cached decode runs (it
  raised a trace-level error inside the while loop) and gives the plain model's tokens."""
  from btrl_jax.sampling import Sampler, SamplingParams

  def sample(remat):
    cfg = config.model_config(
      vocab_size=96, width=32, layers=2, heads=4, kv_heads=2, head_dim=8, mlp_dim=48, remat=remat
    )
    graphdef, params = nnx.split(build(cfg, seed=0))
    out = Sampler(graphdef, eos_id=-1).generate(
      params, [[5, 6, 7], [8, 9]], jax.random.key(0), SamplingParams(1.0, max_new_tokens=12)
    )
    return out.tokens

  np.testing.assert_array_equal(sample(True), sample(False))
