"""Group-relative advantage estimators (GRPO family), registered by name.

Each prompt is sampled G times; the G rewards of a prompt form a *group*, and a
sample's advantage is its reward relative to its own group (no value network):

  grpo     A_i = (r_i - mean(r)) / (std(r) + eps)           GRPO, Shao et al. 2024
  dr_grpo  A_i =  r_i - mean(r)                             Dr. GRPO, Liu et al. 2025

with mean and std over the group. Dr. GRPO drops the std division because it
up-weights groups whose rewards barely differ (nearly solved or nearly hopeless
prompts), a question-level difficulty bias.

Choices (the paper names no algorithm; one public reproduction used TRL's GRPO):
- `std_ddof` picks the std. DeepSeekMath writes "std(r)" without saying which;
  TRL (`rewards.view(-1, G).std(dim=1)`, torch's default) uses the sample std,
  ddof=1, with eps=1e-4 added to it. Our defaults, ddof=1 and eps=1e-4, match TRL;
  ddof=0 (population std) is the other common choice (numpy's default). For G=2
  and rewards {0, 1} the two give advantages +-0.707 (ddof=1) and +-1.0 (ddof=0).
- A *dead* group has all its rewards equal: every advantage is 0 and the group
  teaches nothing (the reproduction's "silent failure"; log its share each step).
  The test is exact float equality with the group's first reward, not a tolerance:
  rewards come from graders and verifiers as a few discrete values, so "equal"
  means bitwise equal, and two rewards differing by any amount still rank the
  samples. Dead groups are set to exactly 0 in both estimators; computing
  r - mean would otherwise leave float rounding (e.g. mean(0.1, 0.1, 0.1) != 0.1
  in float32), which grpo's eps division would magnify about 1e4 times.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

Array = jax.Array
AdvantageFn = Callable[..., Array]


def dead_group_mask(rewards: Array) -> Array:
  """[P] bool: True where every reward of the group equals its first (exact equality).

  rewards: [P, G] float32.
  """
  rewards = jnp.asarray(rewards)
  return jnp.all(rewards == rewards[:, :1], axis=1)


def dead_group_share(rewards: Array) -> Array:
  """Scalar float32: the share of the P groups that are dead (see `dead_group_mask`)."""
  return jnp.mean(dead_group_mask(rewards).astype(jnp.float32))


def _check(rewards: Array) -> Array:
  rewards = jnp.asarray(rewards, jnp.float32)
  if rewards.ndim != 2:
    raise ValueError(
      f"rewards must be [P, G] (prompts, samples per group); got shape {rewards.shape}"
    )
  return rewards


def _centred(rewards: Array) -> Array:
  return rewards - jnp.mean(rewards, axis=1, keepdims=True)


def grpo_advantages(rewards: Array, *, std_ddof: int = 1, eps: float = 1e-4) -> Array:
  """GRPO: (r - group mean) / (group std + eps). rewards: [P, G] float32 -> [P, G] float32.

  std_ddof: 1 = sample std (TRL, the default), 0 = population std. Dead groups are 0.
  """
  rewards = _check(rewards)
  if std_ddof not in (0, 1):
    raise ValueError(f"std_ddof must be 0 (population std) or 1 (sample std); got {std_ddof!r}")
  if std_ddof == 1 and rewards.shape[1] < 2:
    raise ValueError("std_ddof=1 (sample std) needs at least 2 samples per group; got G=1")
  if eps <= 0:
    raise ValueError(f"eps must be > 0; got {eps!r}")
  std = jnp.std(rewards, axis=1, ddof=std_ddof, keepdims=True)
  adv = _centred(rewards) / (std + eps)
  return jnp.where(dead_group_mask(rewards)[:, None], 0.0, adv)


def dr_grpo_advantages(rewards: Array, *, std_ddof: int = 1, eps: float = 1e-4) -> Array:
  """Dr. GRPO: r - group mean, no std division. rewards: [P, G] float32 -> [P, G] float32.

  `std_ddof` and `eps` are accepted and ignored, so that every registered estimator
  takes the same arguments. Dead groups are 0.
  """
  del std_ddof, eps
  rewards = _check(rewards)
  return jnp.where(dead_group_mask(rewards)[:, None], 0.0, _centred(rewards))


ADVANTAGES: dict[str, AdvantageFn] = {
  "grpo": grpo_advantages,
  "dr_grpo": dr_grpo_advantages,
}


def get_advantage_fn(name: str) -> AdvantageFn:
  """The advantage estimator registered as `name`; ValueError naming the known ones."""
  try:
    return ADVANTAGES[name]
  except (KeyError, TypeError):
    known = ", ".join(sorted(ADVANTAGES))
    raise ValueError(f"unknown advantage estimator {name!r}; known: {known}") from None
