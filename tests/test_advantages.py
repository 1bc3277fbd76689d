"""Group-relative advantages: hand-computed groups, dead groups, ddof, numpy parity, registry."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from btrl_jax.rl.advantages import (
  ADVANTAGES,
  dead_group_mask,
  dead_group_share,
  dr_grpo_advantages,
  get_advantage_fn,
  grpo_advantages,
)

# float32 JAX vs float64 hand arithmetic (a handful of float32 ops), and vs the float64 numpy
# reference on random groups (levanter's 1e-5). Fixed; never relaxed.
RTOL, ATOL = 1e-6, 1e-7
PARITY_RTOL, PARITY_ATOL = 1e-5, 1e-6

# Four groups of G=4: two live, two dead (all rewards equal).
REWARDS = np.array(
  [[1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0], [0.5, 0.5, 0.5, 0.5], [2.0, 2.0, 2.0, 2.0]],
  np.float32,
)


def test_dead_group_mask_and_share():
  np.testing.assert_array_equal(np.asarray(dead_group_mask(REWARDS)), [False, False, True, True])
  assert float(dead_group_share(REWARDS)) == 0.5
  # Exact equality: rewards differing by one float32 ulp still rank the samples, so the group lives.
  near = np.array([[0.5, np.nextafter(np.float32(0.5), np.float32(1.0))]], np.float32)
  assert not bool(dead_group_mask(near)[0])
  assert float(dead_group_share(near)) == 0.0


def test_grpo_ddof1_hand_computed():
  # [1,0,0,1]: mean 0.5, deviations +-0.5; sample std sqrt((4 * 0.25) / 3) = sqrt(1/3) = 0.57735027
  #   -> +-0.5 / (0.57735027 + 1e-4) = +-0.86587543.
  # [0,0,0,1]: mean 0.25, deviations -0.25 x3, +0.75; sample std sqrt((3 * 0.0625 + 0.5625) / 3)
  #   = sqrt(0.25) = 0.5 -> -0.25 / 0.5001 = -0.49990002, 0.75 / 0.5001 = 1.49970006.
  # Dead groups: exactly 0.
  a, b = 0.5 / (math.sqrt(1 / 3) + 1e-4), 0.25 / 0.5001
  expected = [[a, -a, -a, a], [-b, -b, -b, 3 * b], [0, 0, 0, 0], [0, 0, 0, 0]]
  assert a == pytest.approx(0.86587543, abs=1e-8) and 3 * b == pytest.approx(1.49970006, abs=1e-8)
  got = np.asarray(grpo_advantages(REWARDS, std_ddof=1))
  np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)
  np.testing.assert_array_equal(got[2:], 0.0)


def test_grpo_ddof0_hand_computed():
  # [1,0,0,1]: population std sqrt((4 * 0.25) / 4) = 0.5 -> +-0.5 / 0.5001 = +-0.99980004.
  # [0,0,0,1]: population std sqrt(0.75 / 4) = sqrt(0.1875) = 0.43301270
  #   -> -0.25 / 0.43311270 = -0.57721697, 0.75 / 0.43311270 = 1.73165090.
  a = 0.5 / 0.5001
  s = math.sqrt(0.1875) + 1e-4
  expected = [[a, -a, -a, a], [-0.25 / s, -0.25 / s, -0.25 / s, 0.75 / s], [0] * 4, [0] * 4]
  assert -0.25 / s == pytest.approx(-0.57721697, abs=1e-8)
  got = np.asarray(grpo_advantages(REWARDS, std_ddof=0))
  np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)
  np.testing.assert_array_equal(got[2:], 0.0)


def test_default_is_trl_sample_std_with_eps_1e4():
  np.testing.assert_array_equal(
    np.asarray(grpo_advantages(REWARDS)), np.asarray(grpo_advantages(REWARDS, std_ddof=1, eps=1e-4))
  )


def test_dr_grpo_is_mean_centred_only():
  # [1,0,0,1] - 0.5 = [0.5,-0.5,-0.5,0.5]; [0,0,0,1] - 0.25 = [-0.25,-0.25,-0.25,0.75]; dead -> 0.
  expected = [[0.5, -0.5, -0.5, 0.5], [-0.25, -0.25, -0.25, 0.75], [0] * 4, [0] * 4]
  got = np.asarray(dr_grpo_advantages(REWARDS))
  np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)
  np.testing.assert_array_equal(got[2:], 0.0)


def test_dead_group_exactly_zero_despite_float_rounding():
  # In float32, mean(0.1, 0.1, 0.1) != 0.1 (r - mean is -7.45e-9), which grpo's division by
  # (0 + 1e-4) would turn into -7.45e-5: the dead-group override must make it exactly 0.
  rewards = np.array([[0.1, 0.1, 0.1], [0.2, 0.2, 0.2], [0.0, 1.0, 1.0]], np.float32)
  assert float(jnp.mean(rewards[0])) != float(rewards[0, 0])
  for fn in ADVANTAGES.values():
    for ddof in (0, 1):
      got = np.asarray(fn(rewards, std_ddof=ddof))
      np.testing.assert_array_equal(got[:2], 0.0)
      assert np.all(got[2] != 0.0)
  np.testing.assert_array_equal(np.asarray(dead_group_mask(rewards)), [True, True, False])


def _np_advantages(rewards, name, ddof, eps):
  out = np.zeros(rewards.shape, np.float64)
  for p, group in enumerate(rewards.astype(np.float64)):
    if np.all(group == group[0]):
      continue
    mean = group.sum() / len(group)
    if name == "grpo":
      std = math.sqrt(((group - mean) ** 2).sum() / (len(group) - ddof))
      out[p] = (group - mean) / (std + eps)
    else:
      out[p] = group - mean
  return out


@pytest.mark.parametrize("name", sorted(ADVANTAGES))
@pytest.mark.parametrize("ddof", [0, 1])
def test_numpy_parity_random_groups(name, ddof):
  rng = np.random.default_rng(0)
  rewards = rng.choice(np.float32([0.0, 0.25, 0.5, 1.0]), size=(64, 8)).astype(np.float32)
  rewards[::7] = rewards[::7, :1]  # some dead groups
  got = np.asarray(get_advantage_fn(name)(rewards, std_ddof=ddof, eps=1e-4))
  np.testing.assert_allclose(
    got, _np_advantages(rewards, name, ddof, 1e-4), rtol=PARITY_RTOL, atol=PARITY_ATOL
  )
  assert got.shape == rewards.shape and got.dtype == np.float32


def test_bad_arguments_and_registry():
  with pytest.raises(ValueError, match="dr_grpo, grpo"):
    get_advantage_fn("ppo")
  assert get_advantage_fn("grpo") is grpo_advantages
  assert get_advantage_fn("dr_grpo") is dr_grpo_advantages
  with pytest.raises(ValueError, match="std_ddof"):
    grpo_advantages(REWARDS, std_ddof=2)
  with pytest.raises(ValueError, match="G=1"):
    grpo_advantages(np.ones((3, 1), np.float32), std_ddof=1)
  with pytest.raises(ValueError, match=r"\[P, G\]"):
    grpo_advantages(np.ones(4, np.float32))
