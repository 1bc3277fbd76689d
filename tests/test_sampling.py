"""Sampler: greedy/top-1 agreement, determinism, shared-prefill groups, log-probs, EOS, no recompiles."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from scipy import stats

from btrl_jax import config
from btrl_jax.models import build
from btrl_jax.sampling import Sampler, SamplingParams, argmax, bucket, categorical, filter_logits

CFG = config.model_config(
  vocab_size=131, width=32, layers=2, heads=4, kv_heads=2, head_dim=8, mlp_dim=64, init_std=0.2
)  # large init: peaked, varied distributions


@pytest.fixture(scope="module")
def setup():
  model = build(CFG, 0)
  graphdef, params = nnx.split(model)
  rng = np.random.default_rng(0)
  prompts = [list(rng.integers(4, CFG.vocab_size, size=n)) for n in (3, 9, 14)]
  return model, graphdef, params, prompts


_PAD_TO = 32


@jax.jit
def _forward(model, seq):
  return jax.nn.log_softmax(model(seq)[0], axis=-1)


def _full(model, seq):
  """Log-probs of a full causal forward; right padding to one length keeps one compile
  (causal attention: the padding after position t cannot change position t)."""
  padded = np.zeros((1, _PAD_TO), np.int32)
  padded[0, : len(seq)] = seq
  return _forward(model, jnp.asarray(padded))[: len(seq)]


def _full_logprobs(model, prompt, reply):
  lp = _full(model, list(prompt) + list(reply))
  n = len(prompt)
  return np.asarray(lp[np.arange(n - 1, n - 1 + len(reply)), np.asarray(reply)])


def test_greedy_matches_full_forward_and_logprobs(setup):
  model, graphdef, params, prompts = setup
  out = Sampler(graphdef, eos_id=-1).generate(
    params, prompts, jax.random.key(0), SamplingParams(temperature=0.0, max_new_tokens=12)
  )
  for i, p in enumerate(prompts):
    seq = list(p)
    for t in range(12):  # greedy re-derived by full forwards, one token at a time
      seq.append(int(np.argmax(_full(model, seq)[-1])))
    assert list(out.tokens[i]) == seq[len(p) :]
    np.testing.assert_allclose(out.logprobs[i], _full_logprobs(model, p, out.tokens[i]), atol=1e-5)


def test_top1_sampling_equals_greedy(setup):
  _, graphdef, params, prompts = setup
  s = Sampler(graphdef, eos_id=-1)
  greedy = s.generate(params, prompts, jax.random.key(0), SamplingParams(0.0, max_new_tokens=10))
  top1 = s.generate(
    params, prompts, jax.random.key(7), SamplingParams(1.0, top_k=1, max_new_tokens=10)
  )
  np.testing.assert_array_equal(greedy.tokens, top1.tokens)


def test_same_key_same_samples_and_logprobs_are_policy_logprobs(setup):
  model, graphdef, params, prompts = setup
  s = Sampler(graphdef, eos_id=-1)
  sp = SamplingParams(temperature=1.3, top_p=0.9, max_new_tokens=10)
  a = s.generate(params, prompts, jax.random.key(3), sp, group_size=2)
  b = s.generate(params, prompts, jax.random.key(3), sp, group_size=2)
  c = s.generate(params, prompts, jax.random.key(4), sp, group_size=2)
  np.testing.assert_array_equal(a.tokens, b.tokens)
  assert not np.array_equal(a.tokens, c.tokens)
  # Log-probs are those of the unmodified policy (no temperature / top-p).
  for row in range(a.tokens.shape[0]):
    np.testing.assert_allclose(
      a.logprobs[row], _full_logprobs(model, prompts[row // 2], a.tokens[row]), atol=1e-5
    )


def test_group_sampling_equals_independent_per_prompt_sampling(setup):
  _, graphdef, params, prompts = setup
  s = Sampler(graphdef, eos_id=-1)
  sp = SamplingParams(temperature=0.0, max_new_tokens=9)
  grouped = s.generate(params, prompts, jax.random.key(0), sp, group_size=4)
  for i, p in enumerate(prompts):
    alone = s.generate(params, [p], jax.random.key(0), sp, group_size=1)
    for g in range(4):
      np.testing.assert_array_equal(grouped.tokens[i * 4 + g], alone.tokens[0])


def test_a_rows_draws_do_not_depend_on_batch_padding(setup):
  """Row r of prompt p draws from fold_in(key, p * G + r): sampling the first prompts alone
  (a padded batch) or with more prompts after them gives the same samples; this is what
  makes a multi-process rollout equal the one-process rollout."""
  _, graphdef, params, prompts = setup
  s = Sampler(graphdef, eos_id=-1)
  sp = SamplingParams(temperature=1.0, max_new_tokens=9)
  more = prompts + [prompts[0][:5], prompts[1][:7]]  # no longer: the same prompt width
  a = s.generate(params, prompts, jax.random.key(3), sp, group_size=2)  # 3 prompts: 1 pad row
  b = s.generate(params, more, jax.random.key(3), sp, group_size=2)
  np.testing.assert_array_equal(a.tokens, b.tokens[:6])
  np.testing.assert_allclose(a.logprobs, b.logprobs[:6], atol=1e-5)  # other batch shapes
  assert len({tuple(t) for t in a.tokens}) == 6  # the rows draw differently


def test_eos_stops_each_sequence(setup):
  _, graphdef, params, prompts = setup
  free = Sampler(graphdef, eos_id=-1).generate(
    params, prompts, jax.random.key(0), SamplingParams(0.0, max_new_tokens=12)
  )
  eos = int(free.tokens[0, 4])
  out = Sampler(graphdef, eos_id=eos, pad_id=0).generate(
    params, prompts, jax.random.key(0), SamplingParams(0.0, max_new_tokens=12)
  )
  for i in range(len(prompts)):
    hits = np.flatnonzero(free.tokens[i] == eos)
    n = hits[0] + 1 if len(hits) else 12
    assert out.lengths[i] == n
    np.testing.assert_array_equal(out.tokens[i, :n], free.tokens[i, :n])
    assert (out.tokens[i, n:] == 0).all() and (out.logprobs[i, n:] == 0).all()
  assert out.lengths[0] <= 5


def test_no_recompiles_in_steady_state(setup):
  _, graphdef, params, _ = setup
  s = Sampler(graphdef, eos_id=-1)
  rng = np.random.default_rng(5)
  for i, n in enumerate((5, 9, 16, 12)):  # prompt lengths in one bucket (16), varied temperature
    prompts = [list(rng.integers(4, CFG.vocab_size, size=n)) for _ in range(3)]
    s.generate(params, prompts, jax.random.key(i), SamplingParams(0.5 + i, max_new_tokens=7 + i))
  assert s.trace_count == 1


def test_bucket():
  assert [bucket(n) for n in (1, 16, 17, 64, 65)] == [16, 16, 32, 64, 128]
  assert bucket(3, minimum=1) == 4


def test_chunked_argmax_matches_jnp_including_ties():
  x = jax.random.normal(jax.random.key(0), (50, 300))
  x = x.at[3, [7, 200]].set(10.0)  # a tie: the first index wins
  np.testing.assert_array_equal(argmax(x), jnp.argmax(x, axis=-1))


def test_categorical_matches_the_distribution():
  logits = jnp.log(jnp.asarray([0.5, 0.2, 0.15, 0.1, 0.05, 0.0] + [0.0] * 94))
  n = 20000
  uniform = jax.random.uniform(jax.random.key(0), (n,))
  draws = categorical(jnp.broadcast_to(logits, (n, 100)), uniform)
  counts = np.bincount(np.asarray(draws), minlength=100)
  assert counts[5:].sum() == 0  # zero-probability tokens are never drawn
  p = stats.chisquare(counts[:5], n * np.array([0.5, 0.2, 0.15, 0.1, 0.05])).pvalue
  assert p > 1e-3


def test_filter_logits_top_k_and_top_p():
  logits = jnp.log(jnp.asarray([[0.4, 0.3, 0.2, 0.1]]))
  keep = lambda f: np.isfinite(np.asarray(f))[0].tolist()
  assert keep(filter_logits(logits, 2, 1.0)) == [True, True, False, False]
  assert keep(filter_logits(logits, 0, 0.65)) == [True, True, False, False]  # 0.4 + 0.3 >= 0.65
  assert keep(filter_logits(logits, 0, 0.7001)) == [True, True, True, False]
  assert keep(filter_logits(logits, 0, 0.3)) == [True, False, False, False]


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_compacting_finished_rows_changes_no_sample(setup, temperature):
  """Rows that end early leave the batch between segments (their prompts' caches copied,
  groups parted); the replies, lengths and log-probs equal those of one uninterrupted
  decode, and the compacted run did shrink the batch."""
  _, graphdef, params, prompts = setup
  rng = np.random.default_rng(1)
  prompts = prompts + [list(rng.integers(4, CFG.vocab_size, size=n)) for n in (4, 11, 6, 8, 13)]
  sp = SamplingParams(temperature, max_new_tokens=40)
  free = Sampler(graphdef, eos_id=-1, segment=0).generate(
    params, prompts, jax.random.key(2), sp, group_size=4
  )
  # An EOS that most rows reach, at different steps: the token in most rows of the free run.
  in_rows = [len(np.flatnonzero((free.tokens == t).any(axis=1))) for t in range(CFG.vocab_size)]
  eos = int(np.argmax(in_rows))
  whole = Sampler(graphdef, eos_id=eos, segment=0)
  parts = Sampler(graphdef, eos_id=eos, segment=4)
  a = whole.generate(params, prompts, jax.random.key(2), sp, group_size=4)
  b = parts.generate(params, prompts, jax.random.key(2), sp, group_size=4)
  assert parts.compactions >= 1 and whole.compactions == 0
  assert a.lengths.min() < 20 < a.lengths.max()  # rows end at different steps
  np.testing.assert_array_equal(a.tokens, b.tokens)
  np.testing.assert_array_equal(a.lengths, b.lengths)
  np.testing.assert_allclose(a.logprobs, b.logprobs, atol=1e-5)
