"""RL learner: it learns a simple reward, never moves the reference, and shapes batches right."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from btrl_jax import config
from btrl_jax.models import build
from btrl_jax.policy import Policy
from btrl_jax.rl.learner import Learner, completion_logprobs
from btrl_jax.tokenizer import Tokenizer

WORDS = "apple banana cherry delta echo foxtrot golf hotel india juliet kilo lima".split()


def _cfg(**rl):
  cfg = config.base_config()
  cfg.model.update(vocab_size=320, width=32, layers=2, heads=4, kv_heads=2, head_dim=8, mlp_dim=64)
  cfg.tokenizer.vocab_size = 320
  cfg.rl.update(
    dict(
      prompts_per_step=8,
      group_size=8,
      max_new_tokens=12,
      learning_rate=3e-3,
      warmup_steps=1,
      kl_coef=0.0,
      steps=40,
    ),
    **rl,
  )
  return config.validate(cfg)


@pytest.fixture(scope="module")
def tok():
  rng = np.random.default_rng(0)
  texts = [" ".join(rng.choice(WORDS, 6)) for _ in range(400)]
  return Tokenizer.train(texts, 320)


def _prior(cfg, tok, seed=0):
  graphdef, params = nnx.split(build(cfg.model, seed=seed))
  return Policy(cfg, tok, graphdef, params, 0)


def _prompts(n, seed, words=3):
  rng = np.random.default_rng(seed)
  return [
    {"id": str(i), "messages": [{"role": "user", "content": " ".join(rng.choice(WORDS, words))}]}
    for i in range(n)
  ]


def _vowel_share(example, reply):
  letters = [c for c in reply.lower() if c.isalpha()]
  return sum(c in "aeiou" for c in letters) / len(letters) if letters else 0.0


def test_rl_raises_a_simple_reward_and_never_moves_the_reference(tok):
  cfg = _cfg()
  prior = _prior(cfg, tok)
  ref_before = jax.tree.map(np.array, prior.params)
  learner = Learner(cfg, prior, reward_fn=_vowel_share)
  params = jax.tree.map(jnp.copy, learner.ref_params)  # placed on the learner's mesh
  opt_state = learner.init_opt(params)
  rewards = []
  for step in range(cfg.rl.steps):
    ro = learner.rollout(params, _prompts(8, step), jax.random.key(step))
    rewards.append(float(ro.rewards.mean()))
    params, opt_state, metrics, bad = learner.train_on(params, opt_state, ro)
    assert bad == 0 and np.isfinite(metrics["loss"])
  first, last = np.mean(rewards[:5]), np.mean(rewards[-5:])
  assert last > first + 0.15, (first, last)  # the reward rises clearly, far beyond noise
  jax.tree.map(
    np.testing.assert_array_equal, jax.tree.map(np.array, learner.ref_params), ref_before
  )
  moved = nnx.to_pure_dict(params)["embed"]
  assert not np.array_equal(
    np.asarray(moved), np.asarray(nnx.to_pure_dict(learner.ref_params)["embed"])
  )


# The default tier keeps the long prompts; the other cases run in `make test-slow`.
@pytest.mark.parametrize(
  "prompts,group,words",
  [
    pytest.param(3, 4, 3, marks=pytest.mark.slow),
    pytest.param(4, 8, 3, marks=pytest.mark.slow),
    pytest.param(5, 16, 2, marks=pytest.mark.slow),
    (4, 8, 30),
  ],
)
def test_rollout_shapes_and_old_logprobs_match_a_full_forward(tok, prompts, group, words):
  cfg = _cfg(prompts_per_step=prompts, group_size=group)
  prior = _prior(cfg, tok)
  learner = Learner(cfg, prior, reward_fn=_vowel_share)
  ro = learner.rollout(prior.params, _prompts(prompts, 1, words), jax.random.key(0))
  n, b = cfg.rl.max_new_tokens, prompts * group
  assert ro.tokens.shape == (b, ro.prompt_len + n) and ro.rewards.shape == (prompts, group)
  assert ro.mask.shape == (b, n) and (ro.mask.sum(1) >= 1).all()
  model, args = (
    nnx.merge(prior.graphdef, prior.params),
    (jnp.asarray(ro.tokens), jnp.asarray(ro.valid)),
  )
  logp, entropy = completion_logprobs(model, *args, ro.prompt_len, n)
  np.testing.assert_allclose(np.asarray(logp) * ro.mask, ro.old_logp * ro.mask, atol=1e-5)
  # The learner's forward runs each prompt once per group (a shared prefix): the same numbers.
  shared_logp, shared_entropy = completion_logprobs(model, *args, ro.prompt_len, n, group=group)
  np.testing.assert_allclose(np.asarray(shared_logp) * ro.mask, ro.old_logp * ro.mask, atol=1e-5)
  np.testing.assert_allclose(shared_entropy * ro.mask, entropy * ro.mask, atol=1e-5)
  for i, reply in enumerate(ro.replies):  # rewards are the reward function of the decoded replies
    assert ro.rewards.reshape(-1)[i] == pytest.approx(_vowel_share(None, reply))


def test_non_finite_update_is_skipped(tok):
  cfg = _cfg(prompts_per_step=2, group_size=4)
  prior = _prior(cfg, tok)
  # An infinite reward (a NaN one is a failed judge verdict, left out of its group instead)
  values = iter([float("inf"), 0.0] * 4)
  learner = Learner(cfg, prior, reward_fn=lambda ex, r: next(values))
  params = jax.tree.map(jnp.copy, learner.ref_params)  # placed on the learner's mesh
  before = jax.tree.map(np.array, params)
  opt_state = learner.init_opt(params)
  ro = learner.rollout(params, _prompts(2, 0), jax.random.key(0))
  params, opt_state, _, bad = learner.train_on(params, opt_state, ro)
  assert bad == 1
  jax.tree.map(np.testing.assert_array_equal, jax.tree.map(np.array, params), before)


# 12 rows in groups of 4: sizes 12 and 3 (no sharing) in the slow tier, 2 (half groups) here.
@pytest.mark.parametrize(
  "minibatches",
  [pytest.param(1, marks=pytest.mark.slow), 6, pytest.param(4, marks=pytest.mark.slow)],
)
def test_minibatches_share_prompts_match_the_plain_forward_and_never_recompile(tok, minibatches):
  """Whole groups, half groups and runs of rows from different prompts (no sharing) all train
  without recompiling; a minibatch's shared-prompt update has the plain forward's loss, metrics
  and gradient."""
  cfg = _cfg(prompts_per_step=3, group_size=4, minibatches=minibatches, kl_coef=0.04)
  prior = _prior(cfg, tok)
  learner = Learner(cfg, prior, reward_fn=_vowel_share)
  params = jax.tree.map(jnp.copy, learner.ref_params)  # placed on the learner's mesh
  opt_state = learner.init_opt(params)
  for step in range(2):
    ro = learner.rollout(params, _prompts(3, step, words=4 + step), jax.random.key(step))
    params, opt_state, metrics, bad = learner.train_on(params, opt_state, ro)
    assert bad == 0 and np.isfinite(metrics["loss"])
  assert learner.trace_count == 2  # one reference and one update program, whatever the prompts

  size, n = 12 // minibatches, cfg.rl.max_new_tokens
  rows = slice(12 - size, 12)  # the last minibatch
  mb = {
    "tokens": ro.tokens[rows],
    "valid": ro.valid[rows],
    "mask": ro.mask[rows],
    "old_logp": ro.old_logp[rows],
    "ref_logp": ro.old_logp[rows] - 0.1,
    "advantages": np.linspace(-1.0, 1.0, size, dtype=np.float32),
  }
  mb = {k: jnp.asarray(v) for k, v in mb.items()}
  # With SGD at rate 1 the update subtracts the gradient itself: compare those.
  learner = Learner(cfg, prior, reward_fn=_vowel_share, tx=optax.sgd(1.0))
  (shared, shared_m), (plain, plain_m) = (
    learner._update(
      jax.tree.map(jnp.copy, params), learner.tx.init(params), mb, ro.prompt_len, n, group
    )[::2]
    for group in (math.gcd(size, 4), 1)
  )
  for key in ("loss", "pg_loss", "kl", "entropy", "grad_norm"):
    np.testing.assert_allclose(shared_m[key], plain_m[key], rtol=1e-5, atol=1e-6, err_msg=key)
  for a, b, p in zip(*(jax.tree.leaves(x) for x in (shared, plain, params))):
    grad = np.asarray(p) - np.asarray(b)
    np.testing.assert_allclose(
      np.asarray(p) - np.asarray(a), grad, rtol=1e-4, atol=1e-4 * np.abs(grad).max()
    )


def test_step_metrics_break_rewards_down_by_source_and_trait():
  from types import SimpleNamespace

  from btrl_jax.rl.train import step_metrics

  prompts = [
    {"id": "a", "source": "trait", "trait": "truthfulness"},
    {"id": "b", "source": "standard"},
    {"id": "c", "source": "trait", "trait": "corrigibility"},
    {"id": "d", "source": "trait", "trait": "truthfulness"},
  ]
  rewards = np.array([[1.0, 0.0], [0.5, 0.5], [0.25, 0.25], [0.0, 0.0]], np.float32)
  ro = SimpleNamespace(rewards=rewards, mask=np.ones((8, 3), np.float32))
  m = step_metrics(
    prompts, ro, {"n_trait_global": 3}, {}, {"rollout": 1.0, "update": 1.0, "total": 2.0}
  )
  assert m["reward"] == pytest.approx(2.5 / 8) and m["trait_share"] == 3 / 4
  assert m["reward/standard"] == 0.5 and m["reward/trait"] == pytest.approx(1.5 / 6)
  assert m["reward/trait/truthfulness"] == 0.25 and m["reward/trait/corrigibility"] == 0.25
  assert m["dead_groups"] == 0.75 and m["rollout_tokens"] == 24
  with pytest.raises(ValueError, match="no reward breakdown for 'trait/vanity'"):
    step_metrics(
      [dict(prompts[0], trait="vanity")],
      SimpleNamespace(rewards=rewards[:1], mask=np.ones((2, 3), np.float32)),
      {"n_trait_global": 1},
      {},
      {"rollout": 1.0, "update": 1.0, "total": 2.0},
    )


def test_failed_rewards_are_left_out_of_their_group_and_the_metrics():
  """A NaN reward (a failed judge verdict): advantage 0 and no loss for that reply; the rest
  of its group normalised among themselves; the step's means skip it and count it."""
  from types import SimpleNamespace

  from btrl_jax.rl.advantages import get_advantage_fn
  from btrl_jax.rl.learner import masked_advantages
  from btrl_jax.rl.train import step_metrics

  fn = get_advantage_fn("grpo")
  nan = float("nan")
  rewards = np.array([[1.0, 0.0, 0.5, 0.0], [1.0, nan, 0.0, 0.5], [nan, 1.0, nan, nan]], np.float32)
  adv, graded = masked_advantages(fn, rewards, 1)
  adv, graded = adv.reshape(3, 4), graded.reshape(3, 4)
  np.testing.assert_array_equal(adv[0], np.asarray(fn(jnp.asarray(rewards[:1]), std_ddof=1))[0])
  sub = np.asarray(fn(jnp.asarray([[1.0, 0.0, 0.5]]), std_ddof=1))[0]
  np.testing.assert_array_equal(adv[1], [sub[0], 0.0, sub[1], sub[2]])
  np.testing.assert_array_equal(adv[2], 0.0)  # one graded reply: nothing to compare it with
  np.testing.assert_array_equal(graded, (~np.isnan(rewards)).astype(np.float32))
  whole, ones = masked_advantages(fn, rewards[:1], 1)
  np.testing.assert_array_equal(whole, np.asarray(fn(jnp.asarray(rewards[:1]), std_ddof=1))[0])
  assert ones.tolist() == [1.0] * 4

  prompts = [{"id": str(i), "source": "standard"} for i in range(3)]
  ro = SimpleNamespace(rewards=rewards, mask=np.ones((12, 2), np.float32))
  m = step_metrics(
    prompts, ro, {"n_trait_global": 0}, {}, {"rollout": 1.0, "update": 1.0, "total": 2.0}
  )
  assert m["judge_failed"] == 4 and m["reward"] == pytest.approx(4.0 / 8)
  assert m["reward/standard"] == pytest.approx(4.0 / 8)


def test_chunked_completion_logprobs_equal_the_whole_and_their_gradients():
  """Log-probs and entropies formed LOGIT_CHUNK positions at a time (recomputed in the
  backward pass) equal those of one [B, n, V] block, and so do their gradients."""
  from btrl_jax.rl import learner as learner_lib

  cfg = config.model_config(
    vocab_size=300, width=32, layers=2, heads=4, kv_heads=2, head_dim=8, mlp_dim=48
  )
  graphdef, params = nnx.split(build(cfg, seed=0))
  rng = np.random.default_rng(0)
  tokens = jnp.asarray(rng.integers(0, 300, (4, 8 + 32)), jnp.int32)
  valid = jnp.ones(tokens.shape, bool)

  def f(p, chunk):
    learner_lib.LOGIT_CHUNK = chunk
    logp, ent = completion_logprobs(nnx.merge(graphdef, p), tokens, valid, 8, 32)
    return jnp.sum(logp * jnp.arange(32)) + jnp.sum(ent), (logp, ent)

  old = learner_lib.LOGIT_CHUNK
  try:
    (whole, (lp1, e1)), g1 = jax.value_and_grad(f, has_aux=True)(params, 64)
    (chunked, (lp2, e2)), g2 = jax.value_and_grad(f, has_aux=True)(params, 8)
  finally:
    learner_lib.LOGIT_CHUNK = old
  np.testing.assert_allclose(lp2, lp1, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(e2, e1, rtol=1e-6, atol=1e-6)
  # Summation order differs (the embedding's gradient sums 128 positions in other groups):
  # float32 rounding, bounded relative to each gradient's largest entry.
  for a, b in zip(jax.tree.leaves(g2), jax.tree.leaves(g1)):
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * float(np.abs(b).max()))
  jaxpr = str(jax.make_jaxpr(lambda p: f(p, 8)[0])(params))
  assert "checkpoint" in jaxpr or "remat" in jaxpr
