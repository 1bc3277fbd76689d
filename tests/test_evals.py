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
    self.seen = []

  def reply(self, conversations, sampling, key, num_samples=1):
    self.seen.append(len(conversations))
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
