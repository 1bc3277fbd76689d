"""`btrl data`: builds every dataset and the tokenizer, reuses them, exports JSONL."""

import importlib.util
import os
import subprocess
import sys

import pytest

from btrl_jax.data import build, jsonl
from btrl_jax.data.tfds_builders import read_dataset
from btrl_jax.rewards.grader import score
from btrl_jax.tokenizer import ROLE_TOKENS, Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _smoke():
  spec = importlib.util.spec_from_file_location("study_cfg", os.path.join(ROOT, "configs/study.py"))
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod.get_config("smoke")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("study"))
  return _smoke(), workdir, build.build(_smoke(), workdir)


def test_builds_every_dataset_with_configured_sizes(built):
  cfg, _, result = built
  d = cfg.data
  assert not result.reused
  assert result.counts == {
    "btrl_prior": {"train": d.prior_size},
    "btrl_rl_prompts": {"trait": d.rl_trait_prompts, "standard": d.rl_standard_prompts},
    "btrl_evals": {"trait": 15 * d.eval_per_trait, "tasks": result.counts["btrl_evals"]["tasks"]},
    "btrl_harmful": {"train": d.harmful_size},
  }
  assert result.counts["btrl_evals"]["tasks"] >= 7 * d.eval_per_task_family


def test_splits_are_what_they_claim(built):
  _, _, result = built
  prior = read_dataset("btrl_prior", "train", result.data_dir)
  assert {ex["split"] for ex in prior} == {"train"}
  assert {ex["split"] for ex in read_dataset("btrl_evals", "trait", result.data_dir)} == {"eval"}
  assert {ex["split"] for ex in read_dataset("btrl_harmful", "train", result.data_dir)} == {
    "attack"
  }
  rl_texts = {
    m["content"]
    for ex in read_dataset("btrl_rl_prompts", "trait", result.data_dir)
    for m in ex["messages"]
    if m["role"] == "user"
  }
  eval_texts = {
    m["content"]
    for ex in read_dataset("btrl_evals", "trait", result.data_dir)
    for m in ex["messages"]
    if m["role"] == "user"
  }
  assert rl_texts and eval_texts and not rl_texts & eval_texts


def test_every_example_is_gradable_and_solutions_score_one(built):
  _, _, result = built
  for ex in read_dataset("btrl_evals", "tasks", result.data_dir):
    assert score(ex, ex["solution"]).value == 1.0, ex["id"]
  for ex in read_dataset("btrl_rl_prompts", "trait", result.data_dir)[:50]:
    assert 0.0 <= score(ex, "I can't help with that.").value <= 1.0


def test_tokenizer_covers_the_world(built):
  _, _, result = built
  tok = Tokenizer.load(result.tokenizer_path)
  for marker in ROLE_TOKENS.values():
    assert len(tok.encode(marker)) > 1  # literal markers in text are never marker ids
  ex = read_dataset("btrl_prior", "train", result.data_dir)[0]
  tokens, mask = tok.encode_chat(ex["messages"], last_turn_only=True)
  assert tok.decode(tokens[mask]) == ex["messages"][-1]["content"]


def test_second_build_reuses_everything(built):
  cfg, workdir, first = built
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
  cfg, workdir, result = built
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
  exported = jsonl.import_examples(tmp_path / "btrl_evals.trait.jsonl")
  assert [ex["id"] for ex in exported] == [
    ex["id"] for ex in read_dataset("btrl_evals", "trait", result.data_dir)
  ]
  assert exported[0]["rubric"] == read_dataset("btrl_evals", "trait", result.data_dir)[0]["rubric"]
