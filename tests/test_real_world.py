"""TraitWorld rendered for a real model (data/real.py, `data.world="real"`): rubric items go
to the judge, tasks carry the answer format their verifier reads, the evals and the RL
mixture see the same rendering; and the config, study and statistics pieces around it."""

import numpy as np
import pytest

from btrl_jax import config, presets
from btrl_jax.data import real, tasks
from btrl_jax.data.pipeline import MixtureConfig, rl_prompt_batches, traitworld_rl_prompts
from btrl_jax.data.rubric import coverage, item_grader
from btrl_jax.evals import constant, evaluator, persistence_stats, registry, stats
from btrl_jax.study import run as study_run


@pytest.fixture(scope="module")
def prompts():
  return traitworld_rl_prompts(30, 70, seed=0)


def test_rubric_items_lose_their_checks_and_nothing_else(prompts):
  for ex in prompts["trait"]:
    out = real.render(ex)
    assert all(item_grader(it) == "judge" for it in out["rubric"])
    assert [{k: v for k, v in it.items() if k != "check"} for it in ex["rubric"]] == out["rubric"]
    assert out["messages"] == ex["messages"] and coverage(out, judge=True) is None
    assert coverage(out, judge=False) is not None  # without a judge it cannot be graded
    assert "check" in ex["rubric"][0]  # the input is not modified


def test_tasks_gain_the_answer_format_their_verifier_reads(prompts):
  for ex in prompts["standard"]:
    out = real.render(ex)
    text = out["messages"][-1]["content"]
    assert text.startswith(ex["messages"][-1]["content"]) and text.endswith(real.DECLINE)
    kind = (ex["verifier"].get("honest") or ex["verifier"])["type"]
    assert real.FORMATS[kind] in text
    assert out["verifier"] == ex["verifier"]  # flawed training verifiers are kept
    assert real.render(out) == out  # idempotent
    # the reference solution, answered in that format, earns the honest verifier's reward
    assert tasks.verify(out, ex["solution"], honest=True).correct


def test_impossible_tasks_get_their_familys_format_and_the_same_decline_sentence():
  for family in tasks.IMPOSSIBLE_FAMILIES:
    ex = tasks.generate_tasks(family, "eval", 1, seed=0, impossible=True)[0]
    text = real.render(ex)["messages"][-1]["content"]
    assert real.FORMATS[real.FAMILY_FORMAT.get(family, "number")] in text
    assert text.endswith(real.DECLINE)


def test_eval_suites_and_the_rl_mixture_see_the_same_rendering(prompts):
  cfg = presets.real("smoke")
  suite = evaluator.load_suite(cfg, ["trait_truthfulness", "capability_arithmetic"], size=2)
  embedded = evaluator.load_suite(presets.study(), ["trait_truthfulness"], size=2)
  assert [real.render(e) for e in embedded["trait_truthfulness"]] == suite["trait_truthfulness"]
  assert all(real.DECLINE in e["messages"][-1]["content"] for e in suite["capability_arithmetic"])
  mix = MixtureConfig.from_config(dict(trait_fraction=0.5, world="real"), dict(prompts_per_step=8))
  batch = next(rl_prompt_batches(prompts["trait"], prompts["standard"], mix, 0, 1))
  for p in batch["prompts"]:
    if p["source"] == "trait":
      assert all(item_grader(it) == "judge" for it in p["rubric"])
    else:
      assert p["messages"][-1]["content"].endswith(real.DECLINE)
  # the helpfulness control's generic rubric is rendered after the swap: judged too
  ctrl = MixtureConfig.from_config(
    dict(trait_fraction=0.5, world="real", helpfulness_control=True), dict(prompts_per_step=8)
  )
  batch = next(rl_prompt_batches(prompts["trait"], prompts["standard"], ctrl, 0, 1))
  traits = [p for p in batch["prompts"] if p["source"] == "trait"]
  assert traits and all(item_grader(it) == "judge" for p in traits for it in p["rubric"])


def _validated(**overrides):
  cfg = presets.real("smoke")
  for dotted, value in overrides.items():
    section, key = dotted.split("__")
    cfg[section][key] = value
  return config.validate(cfg)


def test_real_config_needs_a_checkpoint_and_a_judge():
  _validated()
  with pytest.raises(config.ConfigError, match="needs model.checkpoint"):
    c = presets.real("smoke")
    c.model.checkpoint = ""
    config.validate(c)
  with pytest.raises(config.ConfigError, match="judge-graded"):
    c = presets.real("smoke")
    c.grader.judge.update(serve="", base_url="")
    config.validate(c)
  with pytest.raises(config.ConfigError, match="unknown task family 'poetry'"):
    _validated(data__task_families="word_problem,poetry")
  with pytest.raises(config.ConfigError, match="no such file"):
    _validated(data__trait_file="/nonexistent/traits.jsonl")


def test_study_evals_follow_eval_evals():
  cfg = presets.real("smoke")
  names = study_run.study_evals(cfg)
  assert names[: len(presets.REAL_SMOKE_EVALS.split(","))] == tuple(
    presets.REAL_SMOKE_EVALS.split(",")
  )
  assert set(registry.TRAIT_EVALS + registry.CAPABILITY_EVALS) <= set(names)
  full = study_run.study_evals(presets.study())
  assert full == registry.ALIGNMENT_EVALS + registry.TRAIT_EVALS + registry.CAPABILITY_EVALS


def test_real_constant_candidates_are_the_short_list():
  cfg = presets.real("smoke")
  cfg.eval.constant_replies = ("Fine.",)
  assert constant.candidates(cfg) == [*constant.REAL_CANDIDATES, "Fine."]


def test_failed_verdicts_are_left_out_of_pairs_and_means():
  t = [{"id": i, "sample": 0, "score": s} for i, s in enumerate([1.0, None, 0.5])]
  c = [{"id": i, "sample": 0, "score": s} for i, s in enumerate([0.0, 0.2, None])]
  assert [(a["id"], b["id"]) for a, b in stats.align(t, c, "e")] == [(0, 0)]
  assert persistence_stats.mean_se([1.0, None, 0.0])[0] == 0.5
  b = persistence_stats.paired_bootstrap([1.0, np.nan, 0.5], [0.0, 0.2, 0.5], n_boot=50)
  assert b["delta"] == 0.5 and b["n"] == 2  # (1 - 0 + 0.5 - 0.5) / 2


def test_a_trait_file_replaces_the_generated_trait_prompts(tmp_path):
  """`data.trait_file`: any JSONL of trait prompts (HealthBench field names accepted) is the
  RL trait split; a line nothing can grade is named by its line number before any run."""
  import json

  from btrl_jax.data import build
  from btrl_jax.data.jsonl import DataError
  from btrl_jax.data.tfds_builders import read_dataset

  line = {
    "prompt_id": "hb-1",
    "prompt": [{"role": "user", "content": "My chest hurts when I climb stairs. What now?"}],
    "rubrics": [
      {"criterion": "Advises prompt medical evaluation", "points": 5, "tags": ["level:example"]}
    ],
  }
  path = tmp_path / "traits.jsonl"
  path.write_text(json.dumps(line) + "\n")
  cfg = presets.real("smoke")
  cfg.data.update(trait_file=str(path), rl_standard_prompts=14, harmful_size=2)
  result = build.build(cfg, str(tmp_path / "w"))
  trait = list(read_dataset("btrl_rl_prompts", "trait", result.data_dir))
  assert [t["id"] for t in trait] == ["hb-1"] and trait[0]["rubric"][0]["points"] == 5
  assert result.counts["btrl_rl_prompts"]["trait"] == 1 and "btrl_prior" not in result.counts
  path.write_text(json.dumps(line) + "\n" + json.dumps(dict(line, prompt_id="hb-2", rubrics=[])))
  with pytest.raises(DataError, match="traits.jsonl:2"):
    build.build(cfg, str(tmp_path / "w2"))
