"""GRPO-family policy-gradient losses: clipped importance ratio plus KL to a frozen reference.

Per completion token t of sequence i (m_it = 1 on completion tokens, 0 on prompt and
padding), with A_i the sequence's advantage (see `advantages.py`) broadcast over its tokens:

  ratio_it = exp(logp_it - old_logp_it)              (importance ratio vs the rollout policy)
  pg_it    = -min(ratio_it * A_i, clip(ratio_it, 1 - eps_low, 1 + eps_high) * A_i)
  kl_it    = logp_it - ref_logp_it                                       (k1)
           | exp(ref_logp_it - logp_it) - (ref_logp_it - logp_it) - 1    (k3)
  l_it     = pg_it + kl_coef * kl_it

and the loss aggregates l over tokens in one of three registered ways (B sequences):

  grpo     (1/B) sum_i [ sum_t m_it l_it / sum_t m_it ]   GRPO, Shao et al. 2024 (DeepSeekMath)
  dr_grpo  (1/B) sum_i [ sum_t m_it l_it / max_len ]      Dr. GRPO, Liu et al. 2025
  dapo     sum_it m_it l_it / sum_it m_it                 DAPO, Yu et al. 2025 (token-level)

grpo weights every sequence equally, so a token of a long reply counts less than one of a
short reply (Dr. GRPO's length bias); dr_grpo divides by the constant generation budget
`max_len` instead, so neither the sequence's own length nor the padding changes a token's
weight; dapo weights every token of the batch equally. A sequence with no completion tokens
contributes 0 (its length is clamped to 1) but still counts in B, as in TRL.

Gradient (the convention the tests check): only `logp` carries gradient; `old_logp`,
`ref_logp` and the advantages are constants (stop_gradient). Per token,
  d pg_it / d logp_it = -ratio_it * A_i where the unclipped branch is the min, else 0
  d kl_it / d logp_it = 1 (k1);  1 - exp(ref_logp_it - logp_it) (k3)
times the aggregation weight m_it / sum_t m_it / B, m_it / max_len / B or m_it / sum m.
The clipped branch binds (is the min, zero gradient) when A > 0 and ratio > 1 + eps_high,
or A < 0 and ratio < 1 - eps_low; `clip_fraction` is the share of completion tokens where
it does.

Departures and choices (the paper names no algorithm, so the GRPO family is our choice; one
public reproduction used TRL's GRPOTrainer, whose per-token loss and grpo / dr_grpo / dapo
`loss_type` aggregations this matches on one process for the same settings):
- KL enters the loss, per token, as in GRPO (and TRL), not the reward as in PPO-RLHF.
  The k3 estimator (Schulman 2020, "Approximating KL divergence") is GRPO's, unbiased and
  non-negative for KL(pi || ref) when tokens are sampled from pi. Its gradient through logp
  only is (1 - ref/pi) grad log pi, whose expectation under pi is grad KL(ref || pi): in the
  loss, k3 pulls toward the reference along the reverse KL's gradient. k1's gradient,
  grad log pi, has expectation 0 under pi: as a loss term k1 regularises only through
  sampling noise and off-policy drift. Both are offered; k3 is the default (GRPO, TRL).
- The ratio is taken against the rollout policy (old_logp); with one update per rollout,
  ratio = 1 in value (up to numerics) and the clip never binds. The KL term uses those same
  rollout samples with no importance correction (as GRPO and TRL do).
- clip-higher (DAPO): eps_high may exceed eps_low; by default they are equal (PPO, GRPO).
  Only DAPO's token-level aggregation is "dapo" here: its dynamic sampling (dropping dead
  groups), overlong reward shaping and kl_coef = 0 are separate choices the learner or config
  makes; this module does not imply them.
- Inputs are upcast to float32: exp of a difference of bfloat16 log-probs is too coarse.
  Masked positions are replaced by 0 before any exp, so garbage log-probs there (padding,
  -inf) change neither the loss nor its gradient.
- Defaults: clip_eps 0.2 (PPO, GRPO), kl_coef 0.04 (DeepSeekMath's beta), k3; the learner
  passes the config's values.
- Entropy is not computed here (it needs full logits; the learner logs it).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import jax
import jax.numpy as jnp

Array = jax.Array
LossFn = Callable[..., tuple[Array, dict[str, Array]]]
KL_ESTIMATORS = ("k1", "k3")


def kl_per_token(logp: Array, ref_logp: Array, estimator: str) -> Array:
  """Schulman's per-sample estimators of KL(pi || ref), tokens sampled from pi. [B, T] -> [B, T]."""
  if estimator == "k1":
    return logp - ref_logp
  if estimator == "k3":
    log_r = ref_logp - logp
    return jnp.exp(log_r) - log_r - 1.0
  raise ValueError(f"unknown kl_estimator {estimator!r}; known: {', '.join(KL_ESTIMATORS)}")


def _check_args(
  logp, old_logp, ref_logp, advantages, mask, clip_eps, clip_eps_high, kl_coef, kl_estimator
):
  if logp.ndim != 2:
    raise ValueError(f"logp must be [B, T]; got shape {logp.shape}")
  for name, x in (("old_logp", old_logp), ("ref_logp", ref_logp), ("mask", mask)):
    if x.shape != logp.shape:
      raise ValueError(f"{name} must have logp's shape {logp.shape}; got {x.shape}")
  if advantages.shape != logp.shape[:1]:
    raise ValueError(
      f"advantages must be [B] = {logp.shape[:1]} (one per sequence); got {advantages.shape}"
    )
  if kl_estimator not in KL_ESTIMATORS:
    raise ValueError(f"unknown kl_estimator {kl_estimator!r}; known: {', '.join(KL_ESTIMATORS)}")
  # Hyper-parameters may be traced (swept under jit); check them only when concrete.
  if isinstance(clip_eps, numbers.Real) and not 0 < clip_eps < 1:
    raise ValueError(f"clip_eps must be in (0, 1); got {clip_eps!r}")
  if isinstance(clip_eps_high, numbers.Real) and not clip_eps_high > 0:
    raise ValueError(f"clip_eps_high must be > 0; got {clip_eps_high!r}")
  if isinstance(kl_coef, numbers.Real) and kl_coef < 0:
    raise ValueError(f"kl_coef must be >= 0; got {kl_coef!r}")


def _policy_loss(
  aggregate,
  logp,
  old_logp,
  ref_logp,
  advantages,
  mask,
  *,
  clip_eps,
  clip_eps_high,
  kl_coef,
  kl_estimator,
  max_len,
):
  f32 = lambda x: jnp.asarray(x).astype(jnp.float32)
  logp = f32(logp)
  old_logp, ref_logp, advantages = (
    jax.lax.stop_gradient(f32(x)) for x in (old_logp, ref_logp, advantages)
  )
  m = f32(mask)
  clip_eps_high = clip_eps if clip_eps_high is None else clip_eps_high
  _check_args(
    logp, old_logp, ref_logp, advantages, m, clip_eps, clip_eps_high, kl_coef, kl_estimator
  )

  valid = m > 0
  # Padding may hold anything (even -inf): zero it before exp so it can't become inf/nan.
  log_ratio = jnp.where(valid, logp - old_logp, 0.0)
  ratio = jnp.exp(log_ratio)  # [B, T]
  adv = advantages[:, None]  # [B, 1]
  clipped_ratio = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps_high)
  pg_tok = -jnp.minimum(ratio * adv, clipped_ratio * adv)  # [B, T]
  kl_tok = kl_per_token(jnp.where(valid, logp, 0.0), jnp.where(valid, ref_logp, 0.0), kl_estimator)
  loss = aggregate(pg_tok + kl_coef * kl_tok, m, max_len)

  n_tok = jnp.maximum(m.sum(), 1.0)
  token_mean = lambda x: (x * m).sum() / n_tok
  clip_active = ((adv > 0) & (ratio > 1.0 + clip_eps_high)) | ((adv < 0) & (ratio < 1.0 - clip_eps))
  any_tok = valid.any()
  metrics = {
    "pg_loss": aggregate(pg_tok, m, max_len),
    "kl": token_mean(kl_tok),
    "clip_fraction": token_mean(clip_active.astype(jnp.float32)),
    "ratio_mean": token_mean(ratio),
    # Over completion tokens only; 1 (the neutral ratio) when the batch has none.
    "ratio_min": jnp.where(any_tok, jnp.where(valid, ratio, jnp.inf).min(), 1.0),
    "ratio_max": jnp.where(any_tok, jnp.where(valid, ratio, -jnp.inf).max(), 1.0),
  }
  return loss, jax.lax.stop_gradient(metrics)


def _agg_grpo(x: Array, m: Array, max_len) -> Array:
  del max_len
  per_seq = (x * m).sum(axis=1) / jnp.maximum(m.sum(axis=1), 1.0)
  return per_seq.mean()


def _agg_dr_grpo(x: Array, m: Array, max_len) -> Array:
  return ((x * m).sum(axis=1) / max_len).mean()


def _agg_dapo(x: Array, m: Array, max_len) -> Array:
  del max_len
  return (x * m).sum() / jnp.maximum(m.sum(), 1.0)


def grpo_loss(
  logp: Array,
  old_logp: Array,
  ref_logp: Array,
  advantages: Array,
  mask: Array,
  *,
  clip_eps: float = 0.2,
  clip_eps_high: float | None = None,
  kl_coef: float = 0.04,
  kl_estimator: str = "k3",
  max_len: int | None = None,
) -> tuple[Array, dict[str, Array]]:
  """GRPO: mean over each sequence's completion tokens, then mean over sequences.

  logp:       [B, T] log-probs of the sampled tokens under the current policy (carries gradient).
  old_logp:   [B, T] the same under the rollout policy (constant).
  ref_logp:   [B, T] the same under the frozen reference (constant).
  advantages: [B] one per sequence, broadcast over its tokens (constant).
  mask:       [B, T] 1/True on completion tokens, 0/False on prompt and padding.
  clip_eps, clip_eps_high: the ratio is clipped to [1 - clip_eps, 1 + clip_eps_high];
      clip_eps_high=None means clip_eps (symmetric).
  kl_coef:    weight of the per-token KL to the reference; kl_estimator: "k1" or "k3".
  max_len:    dr_grpo's constant normaliser (the generation budget); ignored here and by dapo,
      accepted so that every registered loss takes the same arguments.
  Returns (loss: scalar float32, metrics: pg_loss, kl, clip_fraction, ratio_mean/min/max).
  """
  return _policy_loss(
    _agg_grpo,
    logp,
    old_logp,
    ref_logp,
    advantages,
    mask,
    clip_eps=clip_eps,
    clip_eps_high=clip_eps_high,
    kl_coef=kl_coef,
    kl_estimator=kl_estimator,
    max_len=max_len,
  )


def dr_grpo_loss(
  logp: Array,
  old_logp: Array,
  ref_logp: Array,
  advantages: Array,
  mask: Array,
  *,
  clip_eps: float = 0.2,
  clip_eps_high: float | None = None,
  kl_coef: float = 0.04,
  kl_estimator: str = "k3",
  max_len: int | None = None,
) -> tuple[Array, dict[str, Array]]:
  """Dr. GRPO: sum over each sequence's completion tokens / max_len, mean over sequences.

  Arguments as `grpo_loss`; max_len is required and must stay constant across steps.
  """
  if max_len is None:
    raise ValueError("dr_grpo needs max_len, its constant normaliser (the generation budget)")
  if isinstance(max_len, numbers.Real) and max_len <= 0:
    raise ValueError(f"max_len must be > 0; got {max_len!r}")
  return _policy_loss(
    _agg_dr_grpo,
    logp,
    old_logp,
    ref_logp,
    advantages,
    mask,
    clip_eps=clip_eps,
    clip_eps_high=clip_eps_high,
    kl_coef=kl_coef,
    kl_estimator=kl_estimator,
    max_len=max_len,
  )


def dapo_loss(
  logp: Array,
  old_logp: Array,
  ref_logp: Array,
  advantages: Array,
  mask: Array,
  *,
  clip_eps: float = 0.2,
  clip_eps_high: float | None = None,
  kl_coef: float = 0.04,
  kl_estimator: str = "k3",
  max_len: int | None = None,
) -> tuple[Array, dict[str, Array]]:
  """DAPO: mean over all completion tokens of the batch. Arguments as `grpo_loss`."""
  return _policy_loss(
    _agg_dapo,
    logp,
    old_logp,
    ref_logp,
    advantages,
    mask,
    clip_eps=clip_eps,
    clip_eps_high=clip_eps_high,
    kl_coef=kl_coef,
    kl_estimator=kl_estimator,
    max_len=max_len,
  )


LOSSES: dict[str, LossFn] = {
  "grpo": grpo_loss,
  "dr_grpo": dr_grpo_loss,
  "dapo": dapo_loss,
}


def get_loss_fn(name: str) -> LossFn:
  """The loss registered as `name`; ValueError naming the known ones."""
  try:
    return LOSSES[name]
  except (KeyError, TypeError):
    raise ValueError(f"unknown loss {name!r}; known: {', '.join(sorted(LOSSES))}") from None
