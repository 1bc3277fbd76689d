"""GRPO-family losses: parity with an independent float64 numpy reference (values, metrics and
analytic gradients) for every aggregation x KL estimator x clip setting, hand-computed cases,
mask and padding invariants, clip fraction, registry."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from btrl_jax.rl.losses import LOSSES, dapo_loss, dr_grpo_loss, get_loss_fn, grpo_loss

# float32 JAX vs float64 numpy. Values are O(1); gradients are O(1e-2) (token weights ~1/30),
# hence the smaller absolute floor for them. Fixed; never relaxed.
RTOL, ATOL = 1e-5, 1e-6
GRAD_RTOL, GRAD_ATOL = 1e-5, 1e-7

KL_COEF = 0.05
MAX_LEN = 10
CLIPS = {"symmetric": (0.2, None), "clip_higher": (0.2, 0.28)}

# Completion masks of different lengths (6, 2, 4, 7, 1), some after a prompt prefix.
MASK = np.array(
  [
    [0, 1, 1, 1, 1, 1, 1],
    [1, 1, 0, 0, 0, 0, 0],
    [0, 0, 1, 1, 1, 1, 0],
    [1, 1, 1, 1, 1, 1, 1],
    [0, 0, 0, 1, 0, 0, 0],
  ],
  np.float32,
)
ADV = np.array([1.3, -0.7, 0.4, -1.1, 0.0], np.float32)
# Ratios on both sides of [0.8, 1.2] and of [0.8, 1.28], none on a boundary; 1.25 is clipped
# only by the symmetric setting.
RATIOS = [1.5, 0.6, 1.1, 0.9, 1.25, 0.7, 1.35, 1.02, 0.85, 1.19, 0.75, 1.3, 0.5, 1.05]


def _batch():
  rng = np.random.default_rng(0)
  shape = MASK.shape
  ratio = np.resize(np.array(RATIOS), shape)
  old = rng.uniform(-3.0, -0.1, shape)
  logp = old + np.log(ratio)
  ref = logp + rng.normal(0.0, 0.3, shape)
  pad = MASK == 0
  # Padding holds garbage that would overflow exp if it were not masked.
  logp[pad], old[pad], ref[pad] = 40.0, -40.0, -80.0
  f32 = lambda x: np.asarray(x, np.float32)
  return dict(logp=f32(logp), old_logp=f32(old), ref_logp=f32(ref), advantages=ADV, mask=MASK)


def _np_reference(b, loss, kl_estimator, eps_lo, eps_hi, kl_coef, max_len):
  """Loss, metrics and d loss / d logp, from the formulas, in float64, one token at a time."""
  eps_hi = eps_lo if eps_hi is None else eps_hi
  logp, old, ref, adv, mask = (
    np.asarray(b[k], np.float64) for k in ("logp", "old_logp", "ref_logp", "advantages", "mask")
  )
  n_seq, n_pos = mask.shape
  lengths = mask.sum(axis=1)
  n_tokens = mask.sum()
  total = pg_total = kl_sum = clipped = 0.0
  ratios = []
  grad = np.zeros_like(logp)
  for i in range(n_seq):
    for t in range(n_pos):
      if mask[i, t] == 0:
        continue
      a = adv[i]
      ratio = math.exp(logp[i, t] - old[i, t])
      clipped_ratio = min(max(ratio, 1 - eps_lo), 1 + eps_hi)
      unclipped_obj, clipped_obj = ratio * a, clipped_ratio * a
      pg = -min(unclipped_obj, clipped_obj)
      # The min's active branch: unclipped on ties (inside the interval, or A = 0).
      d_pg = -ratio * a if unclipped_obj <= clipped_obj else 0.0
      d = ref[i, t] - logp[i, t]
      if kl_estimator == "k1":
        kl, d_kl = logp[i, t] - ref[i, t], 1.0
      else:
        kl, d_kl = math.exp(d) - d - 1, 1.0 - math.exp(d)
      weight = {
        "grpo": 1 / (n_seq * lengths[i]),
        "dr_grpo": 1 / (n_seq * max_len),
        "dapo": 1 / n_tokens,
      }[loss]
      total += weight * (pg + kl_coef * kl)
      pg_total += weight * pg
      grad[i, t] = weight * (d_pg + kl_coef * d_kl)
      kl_sum += kl
      clipped += (a > 0 and ratio > 1 + eps_hi) or (a < 0 and ratio < 1 - eps_lo)
      ratios.append(ratio)
  metrics = dict(
    pg_loss=pg_total,
    kl=kl_sum / n_tokens,
    clip_fraction=clipped / n_tokens,
    ratio_mean=np.mean(ratios),
    ratio_min=min(ratios),
    ratio_max=max(ratios),
  )
  return total, metrics, grad


def _jax_value_and_grad(fn, b, **kw):
  def f(logp):
    return fn(logp, b["old_logp"], b["ref_logp"], b["advantages"], b["mask"], **kw)

  (loss, metrics), grad = jax.value_and_grad(f, has_aux=True)(jnp.asarray(b["logp"]))
  return float(loss), {k: float(v) for k, v in metrics.items()}, np.asarray(grad)


@pytest.mark.parametrize("clip", sorted(CLIPS))
@pytest.mark.parametrize("kl_estimator", ["k1", "k3"])
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_numpy_parity_values_metrics_gradients(loss, kl_estimator, clip):
  b = _batch()
  eps_lo, eps_hi = CLIPS[clip]
  kw = dict(
    clip_eps=eps_lo,
    clip_eps_high=eps_hi,
    kl_coef=KL_COEF,
    kl_estimator=kl_estimator,
    max_len=MAX_LEN,
  )
  want_loss, want_metrics, want_grad = _np_reference(
    b, loss, kl_estimator, eps_lo, eps_hi, KL_COEF, MAX_LEN
  )
  got_loss, got_metrics, got_grad = _jax_value_and_grad(get_loss_fn(loss), b, **kw)
  np.testing.assert_allclose(got_loss, want_loss, rtol=RTOL, atol=ATOL)
  assert set(got_metrics) == set(want_metrics)
  for k in want_metrics:
    np.testing.assert_allclose(got_metrics[k], want_metrics[k], rtol=RTOL, atol=ATOL, err_msg=k)
  np.testing.assert_allclose(got_grad, want_grad, rtol=GRAD_RTOL, atol=GRAD_ATOL)
  assert np.all(got_grad[MASK == 0] == 0.0)


def test_batch_exercises_every_branch():
  """The parity batch has clipped and unclipped tokens of both advantage signs in both settings."""
  b = _batch()
  ratio = np.exp(b["logp"].astype(np.float64) - b["old_logp"])
  on = MASK > 0
  pos, neg = (ADV > 0)[:, None] & on, (ADV < 0)[:, None] & on
  for eps_lo, eps_hi in CLIPS.values():
    eps_hi = eps_lo if eps_hi is None else eps_hi
    assert np.any(pos & (ratio > 1 + eps_hi)) and np.any(neg & (ratio < 1 - eps_lo))  # clip binds
    assert np.any(pos & (ratio < 1 - eps_lo)) and np.any(
      neg & (ratio > 1 + eps_hi)
    )  # outside, free
    assert np.any(on & (ratio > 1 - eps_lo) & (ratio < 1 + eps_hi))  # inside
  assert np.any(pos & (np.abs(ratio - 1.25) < 1e-5))  # clipped only by the symmetric setting


def test_hand_computed_grpo_k1():
  # One sequence, two tokens, A = +2, clip 0.2, kl_coef 0.1, k1.
  # old_logp = [-1, -1], logp = [-1 + ln 1.5, -1 + ln 0.5] -> ratio = [1.5, 0.5]; ref_logp = [-1, -2].
  # token 1: min(1.5 * 2, 1.2 * 2) = 2.4 (clipped binds) -> pg = -2.4;
  #          k1 = logp - ref = ln 1.5 = 0.4054651 -> l = -2.4 + 0.04054651 = -2.35945349.
  # token 2: min(0.5 * 2, 0.8 * 2) = 1.0 (unclipped) -> pg = -1.0;
  #          k1 = (-1 + ln 0.5) + 2 = 1 - ln 2 = 0.3068528 -> l = -1 + 0.03068528 = -0.96931472.
  # grpo: mean over the 2 tokens = -1.66438410; pg_loss = (-2.4 - 1) / 2 = -1.7;
  # kl = (0.4054651 + 0.3068528) / 2 = 0.35615896; clip_fraction = 1/2.
  # d/dlogp: token 1: (0 + 0.1 * 1) / 2 = 0.05; token 2: (-0.5 * 2 + 0.1 * 1) / 2 = -0.45.
  logp = np.float32([[-1 + math.log(1.5), -1 + math.log(0.5)]])
  b = dict(
    logp=logp,
    old_logp=np.float32([[-1, -1]]),
    ref_logp=np.float32([[-1, -2]]),
    advantages=np.float32([2.0]),
    mask=np.float32([[1, 1]]),
  )
  loss, m, grad = _jax_value_and_grad(grpo_loss, b, clip_eps=0.2, kl_coef=0.1, kl_estimator="k1")
  np.testing.assert_allclose(loss, -1.66438410, rtol=RTOL, atol=ATOL)
  np.testing.assert_allclose(m["pg_loss"], -1.7, rtol=RTOL, atol=ATOL)
  np.testing.assert_allclose(m["kl"], 0.35615896, rtol=RTOL, atol=ATOL)
  assert m["clip_fraction"] == 0.5
  np.testing.assert_allclose(m["ratio_min"], 0.5, rtol=RTOL)
  np.testing.assert_allclose(m["ratio_max"], 1.5, rtol=RTOL)
  np.testing.assert_allclose(grad, [[0.05, -0.45]], rtol=GRAD_RTOL, atol=GRAD_ATOL)


def _hand_batch_2():
  # seq 0 (1 token, A = -1): old 0, logp ln 0.5 -> ratio 0.5; ref = logp.
  # seq 1 (2 tokens, A = +1): ratios [1.25, 1.0] (old 0, logp [ln 1.25, 0]); ref [ln 1.25, ln 2].
  logp = np.float32([[math.log(0.5), 0.0], [math.log(1.25), 0.0]])
  return dict(
    logp=logp,
    old_logp=np.zeros((2, 2), np.float32),
    ref_logp=np.float32([[math.log(0.5), 0.0], [math.log(1.25), math.log(2.0)]]),
    advantages=np.float32([-1.0, 1.0]),
    mask=np.float32([[1, 0], [1, 1]]),
  )


# Per token, clip_eps 0.2, clip_eps_high 0.28, kl_coef 0.5, k3:
#   (0,0): min(0.5 * -1, 0.8 * -1) = -0.8 (clipped binds, A < 0) -> pg = 0.8; k3 = e^0 - 0 - 1 = 0.
#   (1,0): min(1.25, clip(1.25, 0.8, 1.28) = 1.25) = 1.25 (inside thanks to clip-higher) -> pg = -1.25;
#          k3 = 0.
#   (1,1): ratio 1 -> pg = -1; ref - logp = ln 2: k3 = 2 - ln 2 - 1 = 0.30685282
#          -> l = -1 + 0.5 * 0.30685282 = -0.84657359.
# d/dlogp before weighting: (0,0): 0 + 0.5 * (1 - e^0) = 0; (1,0): -1.25 + 0 = -1.25;
#   (1,1): -1 + 0.5 * (1 - e^{ln 2}) = -1.5.
def test_hand_computed_dapo_k3_clip_higher():
  # dapo: (0.8 - 1.25 - 0.84657359) / 3 = -0.43219120; grads / 3: [0, -0.41666667, -0.5].
  # kl = 0.30685282 / 3 = 0.10228427; clip_fraction = 1/3; ratio mean (0.5 + 1.25 + 1) / 3.
  loss, m, grad = _jax_value_and_grad(
    dapo_loss, _hand_batch_2(), clip_eps=0.2, clip_eps_high=0.28, kl_coef=0.5, kl_estimator="k3"
  )
  np.testing.assert_allclose(loss, -0.43219120, rtol=RTOL, atol=ATOL)
  np.testing.assert_allclose(m["kl"], 0.10228427, rtol=RTOL, atol=ATOL)
  np.testing.assert_allclose(m["clip_fraction"], 1 / 3, rtol=RTOL)
  np.testing.assert_allclose(m["ratio_mean"], 2.75 / 3, rtol=RTOL)
  np.testing.assert_allclose(grad, [[0.0, 0.0], [-1.25 / 3, -0.5]], rtol=GRAD_RTOL, atol=GRAD_ATOL)


def test_hand_computed_dr_grpo_k3_clip_higher():
  # dr_grpo, max_len 4, B = 2: seq 0: 0.8 / 4 = 0.2; seq 1: (-1.25 - 0.84657359) / 4 = -0.52414340;
  # mean = -0.16207170. Grads: / (2 * 4): [0, -0.15625, -0.1875].
  loss, _, grad = _jax_value_and_grad(
    dr_grpo_loss,
    _hand_batch_2(),
    clip_eps=0.2,
    clip_eps_high=0.28,
    kl_coef=0.5,
    kl_estimator="k3",
    max_len=4,
  )
  np.testing.assert_allclose(loss, -0.16207170, rtol=RTOL, atol=ATOL)
  np.testing.assert_allclose(
    grad, [[0.0, 0.0], [-0.15625, -0.1875]], rtol=GRAD_RTOL, atol=GRAD_ATOL
  )


def test_hand_computed_grpo_symmetric_clip_binds_at_1_25():
  # Same batch, symmetric clip 0.2: (1,0) is now clipped (A > 0, 1.25 > 1.2): pg = -1.2, grad 0.
  # grpo: seq 0: 0.8 / 1 = 0.8; seq 1: (-1.2 - 0.84657359) / 2 = -1.02328680; mean = -0.11164340.
  # Grads: (1,1): -1.5 / (2 * 2) = -0.375. clip_fraction = 2/3.
  loss, m, grad = _jax_value_and_grad(
    grpo_loss, _hand_batch_2(), clip_eps=0.2, kl_coef=0.5, kl_estimator="k3"
  )
  np.testing.assert_allclose(loss, -0.11164340, rtol=RTOL, atol=ATOL)
  np.testing.assert_allclose(m["clip_fraction"], 2 / 3, rtol=RTOL)
  np.testing.assert_allclose(grad, [[0.0, 0.0], [0.0, -0.375]], rtol=GRAD_RTOL, atol=GRAD_ATOL)


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_masked_positions_change_nothing(loss):
  b = _batch()
  kw = dict(clip_eps=0.2, clip_eps_high=0.28, kl_coef=KL_COEF, kl_estimator="k3", max_len=MAX_LEN)
  base = _jax_value_and_grad(get_loss_fn(loss), b, **kw)
  pad = MASK == 0
  for garbage in (-np.inf, np.inf, np.nan, 1e4, -1e4):
    other = dict(b)
    for k in ("logp", "old_logp", "ref_logp"):
      other[k] = np.where(pad, np.float32(garbage), b[k])
    got = _jax_value_and_grad(get_loss_fn(loss), other, **kw)
    assert got[0] == base[0], garbage
    assert got[1] == base[1], garbage
    np.testing.assert_array_equal(got[2], base[2])
    assert np.all(got[2][pad] == 0.0)


def _pad(b, extra):
  """Appends `extra` masked columns of garbage to every [B, T] array."""
  out = dict(b)
  for k in ("logp", "old_logp", "ref_logp", "mask"):
    fill = 0.0 if k == "mask" else 7.0
    out[k] = np.concatenate([b[k], np.full((b[k].shape[0], extra), fill, np.float32)], axis=1)
  return out


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_padding_length_does_not_change_loss(loss):
  # dr_grpo's normaliser is the constant max_len, not the padded length T (7 vs 12 here).
  b = _batch()
  kw = dict(clip_eps=0.2, kl_coef=KL_COEF, kl_estimator="k1", max_len=MAX_LEN)
  base_loss, _, base_grad = _jax_value_and_grad(get_loss_fn(loss), b, **kw)
  pad_loss, _, pad_grad = _jax_value_and_grad(get_loss_fn(loss), _pad(b, 5), **kw)
  np.testing.assert_allclose(pad_loss, base_loss, rtol=RTOL, atol=ATOL)
  np.testing.assert_allclose(pad_grad[:, :7], base_grad, rtol=GRAD_RTOL, atol=GRAD_ATOL)
  assert np.all(pad_grad[:, 7:] == 0.0)


def test_dr_grpo_token_weight_is_independent_of_sequence_length():
  # Two sequences, ratio 1, no KL, A = 1: every completion token's gradient is -1 / (B * max_len),
  # whatever its sequence's length (grpo would give -1/(2*1) and -1/(2*3)).
  b = dict(
    logp=np.zeros((2, 3), np.float32),
    old_logp=np.zeros((2, 3), np.float32),
    ref_logp=np.zeros((2, 3), np.float32),
    advantages=np.float32([1.0, 1.0]),
    mask=np.float32([[1, 0, 0], [1, 1, 1]]),
  )
  loss, _, grad = _jax_value_and_grad(dr_grpo_loss, b, kl_coef=0.0, max_len=8)
  np.testing.assert_allclose(loss, -(1 + 3) / (2 * 8), rtol=RTOL, atol=ATOL)
  np.testing.assert_allclose(
    grad, -np.float32([[1, 0, 0], [1, 1, 1]]) / 16, rtol=GRAD_RTOL, atol=GRAD_ATOL
  )
  _, _, grad_grpo = _jax_value_and_grad(grpo_loss, b, kl_coef=0.0)
  np.testing.assert_allclose(
    grad_grpo, [[-0.5, 0, 0], [-1 / 6] * 3], rtol=GRAD_RTOL, atol=GRAD_ATOL
  )


def test_clip_fraction_constructed():
  # Seq A (A = +1): ratios [1.5, 0.5, 1.25, 1.0]; seq B (A = -1): [0.5, 1.5, 3.0 (masked), -];
  # seq C (A = 0): [2.0, 0.1] never binds. Completion tokens: 4 + 2 + 2 = 8.
  # Symmetric 0.2 binds at 1.5 (A+), 1.25 (A+), 0.5 (A-)              -> 3/8.
  # Clip-higher 0.28 binds at 1.5 (A+), 0.5 (A-)                      -> 2/8.
  # Not binding: 0.5 with A+ and 1.5 with A- (the unclipped branch is the min), 1.0 inside.
  ratio = np.array([[1.5, 0.5, 1.25, 1.0], [0.5, 1.5, 3.0, 1.0], [2.0, 0.1, 1.0, 1.0]])
  b = dict(
    logp=np.float32(np.log(ratio)),
    old_logp=np.zeros((3, 4), np.float32),
    ref_logp=np.zeros((3, 4), np.float32),
    advantages=np.float32([1.0, -1.0, 0.0]),
    mask=np.float32([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 0, 0]]),
  )
  for fn in LOSSES.values():
    _, m, _ = _jax_value_and_grad(fn, b, clip_eps=0.2, max_len=4)
    assert m["clip_fraction"] == pytest.approx(3 / 8, abs=1e-7)
    _, m, _ = _jax_value_and_grad(fn, b, clip_eps=0.2, clip_eps_high=0.28, max_len=4)
    assert m["clip_fraction"] == pytest.approx(2 / 8, abs=1e-7)
    np.testing.assert_allclose(m["ratio_max"], 2.0, rtol=RTOL)  # the masked 3.0 is ignored
    np.testing.assert_allclose(m["ratio_min"], 0.1, rtol=RTOL)


def test_bool_mask_default_clip_high_and_jit_agree():
  b = _batch()
  kw = dict(clip_eps=0.2, kl_coef=KL_COEF, kl_estimator="k3", max_len=MAX_LEN)
  for name, fn in LOSSES.items():
    want = _jax_value_and_grad(fn, b, **kw)
    got_bool = _jax_value_and_grad(fn, dict(b, mask=MASK > 0), **kw)
    got_high = _jax_value_and_grad(fn, b, clip_eps_high=0.2, **kw)
    jitted = jax.jit(functools.partial(fn, **kw))
    loss_jit, metrics_jit = jitted(
      b["logp"], b["old_logp"], b["ref_logp"], b["advantages"], b["mask"]
    )
    for got in (got_bool, got_high):
      assert got[0] == want[0] and got[1] == want[1], name
      np.testing.assert_array_equal(got[2], want[2])
    np.testing.assert_allclose(float(loss_jit), want[0], rtol=RTOL, atol=ATOL)
    for k, v in metrics_jit.items():
      np.testing.assert_allclose(float(v), want[1][k], rtol=RTOL, atol=ATOL, err_msg=k)


def test_empty_sequence_contributes_zero():
  # A sequence with no completion tokens adds 0 but still counts in B (grpo, dr_grpo), as in TRL.
  b = dict(
    logp=np.zeros((2, 2), np.float32),
    old_logp=np.zeros((2, 2), np.float32),
    ref_logp=np.zeros((2, 2), np.float32),
    advantages=np.float32([1.0, 1.0]),
    mask=np.float32([[1, 1], [0, 0]]),
  )
  assert _jax_value_and_grad(grpo_loss, b, kl_coef=0.0)[0] == pytest.approx(-0.5)
  assert _jax_value_and_grad(dapo_loss, b, kl_coef=0.0)[0] == pytest.approx(-1.0)
  empty = dict(b, mask=np.zeros((2, 2), np.float32))
  loss, m, grad = _jax_value_and_grad(dapo_loss, empty)
  assert loss == 0.0 and m["ratio_min"] == 1.0 and m["ratio_max"] == 1.0 and np.all(grad == 0)


def test_registry_and_bad_arguments():
  with pytest.raises(ValueError, match="dapo, dr_grpo, grpo"):
    get_loss_fn("ppo")
  assert get_loss_fn("grpo") is grpo_loss
  b = _batch()
  args = (b["logp"], b["old_logp"], b["ref_logp"], b["advantages"], b["mask"])
  with pytest.raises(ValueError, match="k1, k3"):
    grpo_loss(*args, kl_estimator="k2")
  with pytest.raises(ValueError, match="max_len"):
    dr_grpo_loss(*args)
  with pytest.raises(ValueError, match="clip_eps"):
    grpo_loss(*args, clip_eps=0.0)
  with pytest.raises(ValueError, match="advantages"):
    grpo_loss(*args[:3], np.zeros((5, 7), np.float32), args[4])
  with pytest.raises(ValueError, match="mask"):
    grpo_loss(*args[:4], args[4][:, :3])
