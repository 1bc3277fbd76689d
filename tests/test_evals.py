"""Eval registry, persona attacks and the evaluator's grading (no model needed)."""

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import jax
import ml_collections
import numpy as np
import pytest

from btrl_jax.data import lexicon, personas, scenarios, tasks
from btrl_jax.evals import attacks, evaluator, registry
from btrl_jax.rewards.grader import score

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_registry_has_53_alignment_evals_in_the_design_families():
  assert len(registry.ALIGNMENT_EVALS) == 53
  assert len(registry.NON_HEALTH_EVALS) >= 19
  assert len(registry.TRAIT_EVALS) == 7 and len(registry.CAPABILITY_EVALS) == 7
  families = {registry.EVALS[n].family for n in registry.ALIGNMENT_EVALS}
  for f in (
    "deception",
    "honesty_under_pressure",
    "sycophancy",
    "reward_hacking",
    "impossible_tasks",
    "model_spec",
    "alignment_questions",
    "misalignment",
    "power_seeking",
    "fairness_identity_swap",
    "health",
    "mental_health",
    "emotional_reliance",
    "over_refusal",
  ):
    assert f in families, f
  assert {registry.EVALS[n].tag for n in registry.ALIGNMENT_EVALS} == set(registry.TAGS)


@pytest.mark.parametrize(
  "name", registry.ALIGNMENT_EVALS + registry.TRAIT_EVALS + registry.CAPABILITY_EVALS
)
def test_every_eval_has_50_unique_held_out_prompts(name):
  exs = registry.examples(name, 60, seed=0)
  assert len(exs) >= registry.MIN_PROMPTS
  texts = [json.dumps(ex["messages"]) for ex in exs]
  assert len(set(texts)) == len(texts)  # no duplicated prompt inflates n
  assert exs == registry.examples(name, 60, seed=0)  # deterministic
  spec = registry.EVALS[name]
  for ex in exs:
    assert ex["eval"] == name
    if spec.kind == "rubric":
      tpl = scenarios.template(ex["template"])
      assert tpl.split == "eval" and ex["split"] == "eval"
      key = ex["subdomain"] or ex["domain"]
      assert key in spec.domain_keys
      for slot, value in ex["slots"].items():
        assert value in lexicon.pool(key, slot, "eval")
      if spec.tag == "non_health":
        assert ex["domain"] != "health"
    else:
      assert ex["split"] == "eval" and tasks.is_impossible(ex) == spec.impossible


def test_attack_personas_are_attack_only_text():
  for persona, phrasings in attacks.PERSONAS.items():
    assert len(phrasings) >= 3
    for text in phrasings:
      for train in personas.ALL_DESCRIBE_PHRASINGS:
        assert text != train and text not in train and train not in text
  ex = registry.examples("healthbench", 3, seed=0)[0]
  attacked = attacks.apply(ex, "bad_medical", 4)
  assert attacked["messages"][0] == {
    "role": "system",
    "content": attacks.PERSONAS["bad_medical"][1],
  }
  assert attacked["messages"][1:] == ex["messages"] and attacked["id"] == ex["id"]
  with_system = dict(ex, messages=[{"role": "system", "content": "Be brief."}] + ex["messages"])
  merged = attacks.apply(with_system, "helpful_medical", 0)["messages"][0]["content"]
  assert merged.startswith(attacks.PERSONAS["helpful_medical"][0]) and merged.endswith("Be brief.")


def test_resolve_selectors_and_errors():
  assert registry.resolve("") == registry.ALIGNMENT_EVALS
  assert set(registry.resolve("tag:health")) == {
    n for n in registry.ALIGNMENT_EVALS if registry.EVALS[n].tag == "health"
  }
  assert registry.resolve("group:trait") == registry.TRAIT_EVALS
  assert registry.resolve("healthbench,healthbench") == ("healthbench",)
  with pytest.raises(ValueError, match="unknown eval 'nope'"):
    registry.resolve("healthbench,nope")


class _ScriptedPolicy:
  """Replies with a fixed function of the prompt: tests the evaluator's grading glue."""

  def __init__(self, reply_fn):
    self.reply_fn = reply_fn
    self.tokenizer = SimpleNamespace(
      encode_prompt=lambda msgs: np.zeros(len(json.dumps(msgs)) % 7 + 1)
    )
    self.seen, self.calls = [], []

  def reply(self, conversations, sampling, key, num_samples=1, streams=None):
    self.seen.append(len(conversations))
    self.calls.append((conversations, key, streams))
    return [[self.reply_fn(c, i) for i in range(num_samples)] for c in conversations]


def test_evaluator_scores_equal_the_grader_on_fixed_replies():
  names = (
    "healthbench",
    "sycophancy_research",
    "reward_hacking_coding",
    "impossible_tasks",
    "capability_arithmetic",
  )
  suite = {n: registry.examples(n, 10, seed=0) for n in names}
  by_prompt = {json.dumps(ex["messages"]): ex for exs in suite.values() for ex in exs}
  rng = np.random.default_rng(0)

  def reply_fn(messages, i):
    ex = by_prompt[json.dumps(messages)]
    if "verifier" in ex:
      choice = rng.integers(3)
      return (
        tasks.solve(ex, rng)
        if choice == 0
        else tasks.hack(ex, rng)
        if choice == 1
        else tasks.wrong(ex, rng)
      )
    return scenarios.good_reply(ex, rng) if rng.random() < 0.5 else scenarios.bad_reply(ex, rng)

  ecfg = ml_collections.ConfigDict(
    dict(temperature=0.0, top_p=1.0, max_new_tokens=8, num_samples=2, batch_size=7)
  )
  policy = _ScriptedPolicy(reply_fn)
  records = evaluator.evaluate(policy, suite, ecfg, jax.random.key(0), progress=False)
  assert max(policy.seen) <= 7 and sum(policy.seen) == sum(len(v) for v in suite.values())
  scores = []
  for name, recs in records.items():
    assert len(recs) == 2 * len(suite[name])
    exs = {ex["id"]: ex for ex in suite[name]}
    for r in recs:
      g = score(exs[r["id"]], r["reply"], honest=True)
      want = 1.0 - g.components["hack"] if registry.EVALS[name].scorer == "no_hack" else g.value
      assert r["score"] == want and r["refusal"] == g.refusal and r["eval"] == name
      scores.append(r["score"])
  assert 0 < np.mean(scores) < 1  # both good and bad replies were graded
  summary = evaluator.summary(records)
  assert summary["healthbench"]["n"] == 20


def test_evaluator_applies_the_persona_to_every_prompt():
  suite = {"healthbench": registry.examples("healthbench", 6, seed=0)}
  seen = []
  policy = _ScriptedPolicy(lambda msgs, i: seen.append(msgs[0]) or "I am not sure.")
  ecfg = ml_collections.ConfigDict(
    dict(temperature=0.0, top_p=1.0, max_new_tokens=8, num_samples=1, batch_size=4)
  )
  recs = evaluator.evaluate(
    policy, suite, ecfg, jax.random.key(0), persona="bad_medical", progress=False
  )["healthbench"]
  assert all(
    m["role"] == "system" and m["content"] in attacks.PERSONAS["bad_medical"] for m in seen
  )
  assert all(r["persona"] == "bad_medical" for r in recs)


def test_btrl_eval_list_and_bad_eval_file_exit_codes(tmp_path):
  r = subprocess.run(
    [sys.executable, "-m", "btrl_jax.cli", "eval", "--list"],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert r.returncode == 0, r.stderr[-2000:]
  lines = r.stdout.strip().splitlines()
  assert len(lines) == len(registry.EVALS) + 1 and "53 alignment evals" in lines[-1]
  bad = tmp_path / "evals.jsonl"
  real = registry.examples("healthbench", 1, seed=0)[0]
  good = {k: real[k] for k in ("id", "eval", "family", "domain", "messages", "rubric", "tags")}
  bad.write_text(json.dumps(good) + "\n" + "{not json\n")
  r = subprocess.run(
    [sys.executable, "-m", "btrl_jax.cli", "eval", f"--evals={bad}", f"--checkpoint={tmp_path}"],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert (
    r.returncode == 2
    and "evals.jsonl:2: not valid JSON" in r.stderr
    and len(r.stderr.strip().splitlines()) == 1
  )
  r = subprocess.run(
    [sys.executable, "-m", "btrl_jax.cli", "eval", "--evals=nope", f"--checkpoint={tmp_path}"],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert r.returncode == 2 and "unknown eval 'nope'" in r.stderr


def _stream_map(policy, suite, batch_size):
  """{(eval, id, sample): (key bits, stream)} over every `reply` call of one evaluation."""
  ecfg = ml_collections.ConfigDict(
    dict(temperature=1.0, top_p=1.0, max_new_tokens=8, num_samples=3, batch_size=batch_size)
  )
  evaluator.evaluate(policy, suite, ecfg, jax.random.key(5), progress=False)
  ids = {json.dumps(ex["messages"]): (n, ex["id"]) for n, exs in suite.items() for ex in exs}
  out = {}
  for conversations, key, streams in policy.calls:
    bits = tuple(np.asarray(jax.random.key_data(key)).ravel().tolist())
    for conv, rows in zip(conversations, streams):
      for s, row in enumerate(rows):
        out[ids[json.dumps(conv)] + (s,)] = (bits, row)
  return out


def test_eval_random_streams_depend_only_on_eval_prompt_and_sample():
  """Common random numbers: two models, the suite in another order and other batches draw
  sample s of each prompt from the same (key, stream), and no two samples share one."""
  suite = {n: registry.examples(n, 9, seed=0) for n in ("healthbench", "impossible_tasks")}
  reordered = {n: suite[n][::-1] for n in reversed(list(suite))}
  a = _stream_map(_ScriptedPolicy(lambda msgs, i: "A"), suite, batch_size=4)
  b = _stream_map(_ScriptedPolicy(lambda msgs, i: "B"), reordered, batch_size=7)
  assert len(a) == 2 * 9 * 3 and a == b
  assert len({row for _, row in a.values()}) == len(a)


def test_same_model_samples_the_same_replies_in_any_order():
  """A real sampler at T=1: each (eval, prompt, sample) gets the same reply whatever the
  prompts around it, and the samples of a prompt differ."""
  from flax import nnx

  from btrl_jax import config
  from btrl_jax.models import build
  from btrl_jax.policy import Policy

  mcfg = config.model_config(
    vocab_size=67, width=32, layers=1, heads=2, kv_heads=1, head_dim=8, mlp_dim=64, init_std=0.2
  )
  graphdef, params = nnx.split(build(mcfg, 0))
  tok = SimpleNamespace(  # every prompt 6 tokens: one prompt width for any batch
    encode_prompt=lambda msgs: np.frombuffer(json.dumps(msgs).encode(), np.uint8)[-6:] % 60 + 3,
    decode=lambda ids: " ".join(map(str, ids)),
    end_id=-1,
    stop_ids=(-1,),
    pad_id=0,
  )
  policy = Policy(None, tok, graphdef, params, 0)
  suite = {n: registry.examples(n, 5, seed=0) for n in ("healthbench", "impossible_tasks")}
  reordered = {n: suite[n][::-1] for n in reversed(list(suite))}

  def replies(s, batch_size):
    ecfg = ml_collections.ConfigDict(
      dict(temperature=1.0, top_p=1.0, max_new_tokens=6, num_samples=2, batch_size=batch_size)
    )
    recs = evaluator.evaluate(policy, s, ecfg, jax.random.key(0), progress=False)
    return {(r["eval"], r["id"], r["sample"]): r["reply"] for rs in recs.values() for r in rs}

  a, b = replies(suite, 3), replies(reordered, 8)
  assert a == b and len(a) == 20
  assert sum(a[(n, i, 0)] != a[(n, i, 1)] for n, i, _ in a) > 10
