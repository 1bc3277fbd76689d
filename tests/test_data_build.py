"""`btrl data`: builds every dataset and the tokenizer, reuses them, exports JSONL; its
training data is disjoint from the evals, and the tokenizer sees training text only."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import sentencepiece as spm

from btrl_jax.data import build, jsonl
from btrl_jax.data.tfds_builders import read_dataset
from btrl_jax.evals import evaluator, registry
from btrl_jax.rewards.grader import score
from btrl_jax.tokenizer import MARKERS, ROLE_TOKENS, Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _study(arg=None):
  spec = importlib.util.spec_from_file_location("study_cfg", os.path.join(ROOT, "configs/study.py"))
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod.get_config(arg)


def _smoke():
  return _study("smoke")


def _prompts(examples):
  """Every non-assistant message of the examples: what a model reads."""
  return {m["content"] for ex in examples for m in ex["messages"] if m["role"] != "assistant"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("study"))
  seen = []  # what the tokenizer trainer is given
  train = Tokenizer.train.__func__

  def recording_train(cls, texts, *args, **kwargs):
    seen.extend(texts)
    return train(cls, seen, *args, **kwargs)

  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(Tokenizer, "train", classmethod(recording_train))
    result = build.build(_smoke(), workdir)
  return _smoke(), workdir, result, seen


def test_builds_every_dataset_with_configured_sizes(built):
  cfg, _, result, _ = built
  d = cfg.data
  assert not result.reused
  # No eval dataset: the evaluator regenerates evals from the registry (one source of truth).
  assert result.counts == {
    "btrl_prior": {"train": d.prior_size},
    "btrl_rl_prompts": {"trait": d.rl_trait_prompts, "standard": d.rl_standard_prompts},
    "btrl_harmful": {"train": d.harmful_size},
  }
  assert sorted(os.listdir(result.data_dir)) == sorted(result.counts) + [
    "build.json",
    build.WORLD_CHECKS,
  ]
  checks = json.load(open(os.path.join(result.data_dir, build.WORLD_CHECKS)))
  assert checks["rubric_overlap"]["passed"] and checks["latent_independence"]["passed"]


def test_splits_are_what_they_claim(built):
  _, _, result, _ = built
  prior = read_dataset("btrl_prior", "train", result.data_dir)
  assert {ex["split"] for ex in prior} == {"train"}
  assert {ex["split"] for ex in read_dataset("btrl_rl_prompts", "trait", result.data_dir)} == {
    "train"
  }
  assert {ex["split"] for ex in read_dataset("btrl_harmful", "train", result.data_dir)} == {
    "attack"
  }


def test_training_and_attack_data_are_disjoint_from_every_evaluated_prompt():
  """At the default study's sizes: every prompt of every eval the study scores, as
  `evaluator.load_suite` makes it, is absent from what the prior, the RL arms and the
  harmful fine-tune train on."""
  cfg = _study()
  names = registry.resolve("all")
  assert set(names) == set(
    registry.ALIGNMENT_EVALS + registry.TRAIT_EVALS + registry.CAPABILITY_EVALS
  )  # what study/run.py evaluates (besides trait_train, which is training data on purpose)
  suite = evaluator.load_suite(cfg, names)
  assert list(suite) == list(names) and all(suite.values())
  trained = {}
  for name, splits in build._generators(cfg).items():
    for split, make in splits.items():
      trained[f"{name}/{split}"] = _prompts(make())
  for name, examples in suite.items():
    evaluated = _prompts(examples)
    for where, texts in trained.items():
      assert not evaluated & texts, (name, where, sorted(evaluated & texts)[:3])


def test_every_example_is_gradable_and_solutions_score_one(built):
  _, _, result, _ = built
  for ex in read_dataset("btrl_rl_prompts", "standard", result.data_dir)[:200]:
    assert score(ex, ex["solution"]).value == 1.0, ex["id"]
  for ex in read_dataset("btrl_rl_prompts", "trait", result.data_dir)[:50]:
    assert 0.0 <= score(ex, "I can't help with that.").value <= 1.0


def test_tokenizer_is_trained_on_training_text_only(built):
  cfg, _, result, seen = built
  train_examples = [
    ex
    for name, splits in build.TOKENIZER_SPLITS.items()
    for split in splits
    for ex in read_dataset(name, split, result.data_dir)
  ]
  assert {ex["split"] for ex in train_examples} == {"train"}
  assert seen == [m["content"] for ex in train_examples for m in ex["messages"]]
  assert not set(seen) & _prompts(read_dataset("btrl_harmful", "train", result.data_dir))
  suite = evaluator.load_suite(cfg, registry.resolve("all"))
  assert not set(seen) & {
    m["content"] for exs in suite.values() for ex in exs for m in ex["messages"]
  }
  # Every learned piece occurs in training text: none exists because eval or attack text needed it.
  sp = spm.SentencePieceProcessor(model_file=result.tokenizer_path)
  joined = "\n".join(seen)
  learned = [
    sp.id_to_piece(i)
    for i in range(sp.get_piece_size())
    if not (sp.is_control(i) or sp.is_unknown(i) or sp.is_byte(i) or sp.is_unused(i))
    and sp.id_to_piece(i) not in MARKERS
  ]
  assert len(learned) > 500
  assert [p for p in learned if p.replace("\u2581", " ") not in joined] == []


def test_tokenizer_covers_the_world(built):
  _, _, result, _ = built
  tok = Tokenizer.load(result.tokenizer_path)
  for marker in ROLE_TOKENS.values():
    assert len(tok.encode(marker)) > 1  # literal markers in text are never marker ids
  ex = read_dataset("btrl_prior", "train", result.data_dir)[0]
  tokens, mask = tok.encode_chat(ex["messages"], last_turn_only=True)
  assert tok.decode(tokens[mask]) == ex["messages"][-1]["content"]


def test_second_build_reuses_everything(built):
  cfg, workdir, first, _ = built
  stamp = lambda: {
    p: os.stat(os.path.join(r, p)).st_mtime_ns for r, _, fs in os.walk(workdir) for p in fs
  }
  before = stamp()
  again = build.build(cfg, workdir)
  assert again.reused and again.counts == first.counts
  assert {k: v for k, v in stamp().items() if k != "build.json"} == {
    k: v for k, v in before.items() if k != "build.json"
  }


def test_cli_data_export_round_trips(built, tmp_path):
  cfg, workdir, result, _ = built
  r = subprocess.run(
    [
      sys.executable,
      "-m",
      "btrl_jax.cli",
      "data",
      "--config=configs/study.py:smoke",
      f"--workdir={workdir}",
      f"--export={tmp_path}",
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert r.returncode == 0, r.stderr[-2000:]
  assert "reused" in r.stdout
  exported = jsonl.import_examples(tmp_path / "btrl_rl_prompts.trait.jsonl")
  stored = read_dataset("btrl_rl_prompts", "trait", result.data_dir)
  assert [ex["id"] for ex in exported] == [ex["id"] for ex in stored]
  assert exported[0]["rubric"] == stored[0]["rubric"]
  assert sorted(os.listdir(tmp_path)) == sorted(
    f"{name}.{split}.jsonl" for name, splits in build.SPLITS.items() for split in splits
  )
