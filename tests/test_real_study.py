"""`btrl study --config=configs/real.py:smoke` end to end, made small: the tiny Llama-3
checkpoint (tests/golden/tiny_hf) as the prior, the tiny judge (tests/judge_corpus.py)
served by the study itself, 3 RL steps per arm, one prompt per eval. What the tiny models
say is not the point; that every stage of the real-model protocol runs, is judged, resumes
and reports is."""

import json
import os

import pytest
from btrl_run import btrl
from judge_corpus import train_tiny_judge

LLAMA = "hf:" + os.path.join("tests", "golden", "tiny_hf", "llama3")


def _study(workdir, judge, cache):
  return btrl(
    "study",
    "--config=configs/real.py:smoke",
    f"--workdir={workdir}",
    f"--config.model.checkpoint={LLAMA}",
    f"--config.grader.judge.serve={judge}",
    "--config.grader.judge.prefill=",  # the tiny judge writes the whole JSON verdict
    "--config.grader.judge.max_tokens=48",
    "--config.grader.judge.max_retries=0",
    "--config.grader.judge.failure_budget=1.0",
    f"--config.grader.judge.cache={cache}",
    "--config.rl.steps=3",  # 24 prompts: the 5% mixture's 20th is a trait prompt
    "--config.eval.size=1",
    "--config.study.trait_train_size=2",
    "--config.study.harmful_doses=0,1",
    "--config.sft.seq_len=256",
    timeout=1500,
    cpu_devices=1,
  )


@pytest.fixture(scope="module")
def study(tmp_path_factory):
  judge = train_tiny_judge(str(tmp_path_factory.mktemp("judge")), btrl)
  workdir = tmp_path_factory.mktemp("real")
  cache = workdir / "judge.sqlite"
  first = _study(workdir / "w", judge, cache)
  assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
  second = _study(workdir / "w", judge, cache)  # resumed: every stage up to date
  assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-3000:]
  return str(workdir / "w"), judge, first.stdout, second.stdout


def _jsonl(path):
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def test_report_names_the_model_and_the_judge_and_has_every_section(study):
  workdir, judge, _, _ = study
  report = json.load(open(os.path.join(workdir, "report.json")))
  assert report["base_model"] == LLAMA and report["world"] == "real"
  assert report["judge_model"] == judge
  for key in ("comparisons", "persona_attack", "harmful_finetune", "findings", "capabilities"):
    assert report[key], key
  assert {c["name"] for c in report["comparisons"]} == {
    "beneficial_vs_baseline",
    "baseline_vs_prior",
  }
  judged = report["judge"][0]
  assert judged["items"] > 0 and 0 <= judged["met"] <= judged["items"] - judged["failures"]
  md = open(os.path.join(workdir, "report.md")).read()
  assert f"pretrained model `{LLAMA}` is the prior" in md and f"Judge `{judge}`" in md
  # the prior is the checkpoint itself: no SFT stage ran, no tokenizer was trained
  assert not os.path.exists(os.path.join(workdir, "sft"))
  assert not os.path.exists(os.path.join(workdir, "tokenizer.model"))


def test_rubrics_are_judged_and_tasks_carry_their_answer_format(study):
  workdir = study[0]
  trait = _jsonl(os.path.join(workdir, "evals", "prior", "trait_truthfulness.jsonl"))
  assert trait and all(r["components"]["judged"] > 0 for r in trait)
  task = _jsonl(os.path.join(workdir, "evals", "prior", "capability_arithmetic.jsonl"))
  assert task and all("Answer: <number>" in r["prompt"] for r in task)
  # RL: the beneficial arm's trait prompts went to the judge; the baseline has none
  judged = {
    arm: _jsonl(os.path.join(workdir, "arms", arm, "metrics.jsonl"))[-1]["judge/items"]
    for arm in ("baseline", "beneficial")
  }
  assert judged["baseline"] == 0 and judged["beneficial"] > 0


def test_resumed_study_redoes_nothing(study):
  second = study[3]
  for stage in ("arms", "evals", "persona", "harmful"):
    assert f"  {stage}: up to date, skipped" in second, second[-3000:]


def test_config_without_a_judge_is_rejected_before_anything_runs(tmp_path):
  r = btrl(
    "study",
    "--config=configs/real.py:smoke",
    f"--workdir={tmp_path}",
    "--config.grader.judge.serve=",
    "--config.grader.judge.base_url=",
  )
  assert r.returncode == 2 and "judge-graded" in r.stderr.strip().splitlines()[-1]
  assert not os.listdir(tmp_path)
