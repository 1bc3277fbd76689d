"""`btrl study :smoke` end to end: killed mid-run, resumed, report complete; the notebook runs.

One smoke study is shared by the module's tests (it takes about two minutes):
it is SIGKILLed once the evals stage starts, restarted to completion, then the
report is checked field by field.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CMD = [sys.executable, "-m", "btrl_jax.cli", "study", "--config=configs/study.py:smoke"]
ENV = dict(os.environ, PYTHONUNBUFFERED="1")
PLOTS = (
  "deltas_beneficial_vs_baseline.png",
  "persona_retention.png",
  "dose_response.png",
  "rl_curves.png",
  "refusal_rates.png",
)


def _run(workdir, timeout=600):
  return _run_args(workdir, timeout=timeout)


def _run_args(workdir, *args, timeout=600):
  r = subprocess.run(
    CMD + [f"--workdir={workdir}", *args],
    cwd=ROOT,
    env=ENV,
    capture_output=True,
    text=True,
    timeout=timeout,
  )
  assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
  return r.stdout


@pytest.fixture(scope="module")
def study(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("study"))
  proc = subprocess.Popen(
    CMD + [f"--workdir={workdir}"],
    cwd=ROOT,
    env=ENV,
    text=True,
    stdout=subprocess.PIPE,
    stderr=subprocess.DEVNULL,
  )
  first, deadline = [], time.time() + 600
  for line in proc.stdout:
    first.append(line)
    if line.startswith("[study 4/7] evals") or time.time() > deadline:
      break
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert any(l.startswith("[study 4/7] evals") for l in first), "".join(first)[-2000:]
  second = _run(workdir)
  return workdir, "".join(first), second


def test_killed_study_resumes_and_skips_finished_stages(study):
  workdir, first, second = study
  for stage in ("data", "prior"):
    assert f"  {stage}: up to date, skipped" in second or f"{stage}: done" not in second
  assert "  prior: up to date, skipped" in second
  state = json.load(open(os.path.join(workdir, "study_state.json")))
  for arm in ("baseline", "beneficial", "health_only", "no_health_science", "helpfulness_control"):
    assert f"arms/{arm}" in state and f"evals/{arm}" in state
  # A third run finds every stage up to date: nothing is trained or evaluated again.
  third = _run(workdir)
  for stage in ("data", "prior", "arms", "evals", "persona", "harmful"):
    assert f"  {stage}: up to date, skipped" in third, (stage, third[-3000:])


def test_report_has_every_contract_field_and_plot(study):
  workdir = study[0]
  report = json.load(open(os.path.join(workdir, "report.json")))
  for key in (
    "comparisons",
    "refusal",
    "persona_attack",
    "harmful_finetune",
    "capabilities",
    "runtime_s",
    "config",
    "findings",
    "trait_scores",
    "preregistration",
  ):
    assert key in report, key
  pre = report["preregistration"]  # declared in the config before the run
  for key in ("min_clean_score", "persona_min_lift", "seeds", "constant_candidates", "alpha"):
    assert key in pre, key
  assert pre["family_level"] is True and pre["constant_candidates"]["count"] > 0
  world = pre["world"]  # TraitWorld 2's checks: the design ones as `btrl data` wrote them
  assert world["design"]["rubric_overlap"]["max"] == 0.0
  assert world["document"] == "docs/PREREGISTRATION.md"
  at_prior = world["at_prior"]
  for key in ("family_means", "constant", "dead_groups", "control_trait_corr"):
    assert isinstance(at_prior[key]["passed"], bool), key
  assert set(at_prior["family_means"]["values"]) >= {"health", "deception", "power_seeking"}
  own = report["rl"]["learns_own_reward"]
  assert own["vs_prior"]["eval"] == "trait_train" and isinstance(own["rises_beyond_noise"], bool)
  assert report["comparisons"][0]["name"] == "beneficial_vs_helpfulness_control"
  names = {c["name"] for c in report["comparisons"]}
  assert {"beneficial_vs_baseline", "health_only_vs_baseline"} <= names
  for c in report["comparisons"]:
    for key in (
      "name",
      "treatment",
      "control",
      "n_evals",
      "wins",
      "mean_delta_pp",
      "significant_wins",
      "significant_losses",
      "evals",
      "seed_deltas",
      "seed_ci",
      "families",
      "n_effective_evals",
      "n_treatment_at_or_below_constant",
    ):
      assert key in c, key
    assert c["n_evals"] == len(c["evals"]) and c["wins"] <= c["n_evals"]
    assert len(c["seed_deltas"]) == 1 and c["seed_ci"] is None  # the smoke study: one seed
    for f in c["families"]:
      for key in ("name", "n_evals", "delta", "ci", "q_bh"):
        assert key in f, key
    assert sum(f["n_evals"] for f in c["families"]) == c["n_evals"]
    for e in c["evals"]:
      for key in (
        "name",
        "family",
        "tag",
        "treatment",
        "control",
        "delta",
        "se",
        "p",
        "q_bh",
        "constant_reply_best",
        "treatment_at_or_below_constant",
      ):
        assert key in e, key
      assert e["constant_reply_best"] is not None
      if e["delta"] is not None:
        assert abs(e["delta"] - (e["treatment"] - e["control"])) < 1e-9
  main = next(c for c in report["comparisons"] if c["name"] == "beneficial_vs_baseline")
  assert main["n_evals"] == 53
  health_only = next(c for c in report["comparisons"] if c["name"] == "health_only_vs_baseline")
  assert health_only["n_evals"] == 44 and all(
    e["tag"] == "non_health" for e in health_only["evals"]
  )
  assert set(report["persona_attack"]["personas"]) == {
    "bad_medical",
    "mental_health_disallowed",
    "helpful_medical",
  }
  assert set(report["persona_attack"]["models"]) == {
    "prior",  # the helpful persona must lift the prior too (world check, issue 14)
    "baseline",
    "beneficial",
    "health_only",
    "helpfulness_control",
  }
  assert report["harmful_finetune"]["doses"] == [0, 2, 4]
  assert set(report["harmful_finetune"]["models"]) == {
    "prior",
    "baseline",
    "beneficial",
    "helpfulness_control",
  }
  assert report["rl"]["compute_matched"] is True
  measured = report["rl"]["compute"]["0"]  # from each arm's summary.json, not from the config
  assert set(measured) == set(report["rl"]["arms"])
  assert all(r["rollout_tokens"] > 0 and r["trained_tokens"] > 0 for r in measured.values())
  assert all(f["reproduced"] in (True, False, None) for f in report["findings"])
  statuses = ("reproduced", "not_reproduced", "direction_only", "not_testable")
  for f in report["findings"]:
    assert f["claim"] and f["status"] in statuses and f["reason"], f
    assert f["status"] != "reproduced"  # one seed is never enough
  for name in PLOTS:
    path = os.path.join(workdir, "plots", name)
    assert os.path.getsize(path) > 1000 and open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
  md = open(os.path.join(workdir, "report.md")).read()
  assert md.index("## Findings") < md.index("## Comparisons") < md.index("### Slices")
  for heading in (
    "## Findings",
    "## Preregistration",
    "## Comparisons",
    "### Families",
    "### Slices",
    "## Refusals",
    "## Persistence A",
    "## Persistence B",
    "## Capabilities",
    "## RL arms",
    "synthetic stand-in",
  ):
    assert heading in md, heading
  # Every sample of every model is on disk, one JSONL per eval.
  lines = (
    open(os.path.join(workdir, "evals", "beneficial", "healthbench.jsonl")).read().splitlines()
  )
  rec = json.loads(lines[0])
  for key in ("id", "eval", "prompt", "reply", "score", "met", "refusal"):
    assert key in rec


def test_notebook_runs(study):
  import nbformat
  from nbclient import NotebookClient

  workdir = study[0]
  nb = nbformat.read(os.path.join(ROOT, "notebooks", "quickstart.ipynb"), as_version=4)
  os.environ["BTRL_WORKDIR"] = workdir
  try:
    NotebookClient(
      nb,
      timeout=600,
      kernel_name="python3",
      resources={"metadata": {"path": os.path.join(ROOT, "notebooks")}},
    ).execute()
  finally:
    del os.environ["BTRL_WORKDIR"]
  outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
  assert not [o for o in outputs if o.output_type == "error"]
  assert sum(
    o.output_type == "display_data" and "image/png" in o.get("data", {}) for o in outputs
  ) >= len(PLOTS)


def test_btrl_eval_one_checkpoint_and_watch_a_run(study):
  workdir = study[0]
  run = os.path.join(workdir, "arms", "beneficial")
  out = os.path.join(workdir, "one.jsonl")
  base = [sys.executable, "-m", "btrl_jax.cli", "eval", f"--checkpoint={run}/checkpoints"]
  r = subprocess.run(
    base + ["--evals=healthbench,impossible_tasks", f"--out={out}"],
    cwd=ROOT,
    env=ENV,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert r.returncode == 0, r.stderr[-2000:]
  recs = [json.loads(l) for l in open(out)]
  assert {x["eval"] for x in recs} == {"healthbench", "impossible_tasks"}
  assert all(0.0 <= x["score"] <= 1.0 for x in recs) and len(recs) == 2 * 6  # smoke: 6 per eval
  # The sidecar: every checkpoint of the (finished) run, then it stops by itself.
  r = subprocess.run(
    base + ["--evals=healthbench", "--watch", "--poll_s=0.1"],
    cwd=ROOT,
    env=ENV,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert r.returncode == 0, r.stderr[-2000:]
  steps = sorted(int(d.split("_")[1]) for d in os.listdir(os.path.join(run, "evals")))
  assert steps and steps[-1] == 3
  assert [l for l in r.stdout.splitlines() if l.startswith(f"step {steps[-1]} healthbench")]


def _report_without_timings(workdir):
  def drop(x):
    if isinstance(x, dict):
      return {
        k: drop(v)
        for k, v in x.items()
        if k not in ("runtime_s", "study_seconds", "stage_seconds", "step_s", "plots")
      }
    return [drop(v) for v in x] if isinstance(x, list) else x

  return drop(json.load(open(os.path.join(workdir, "report.json"))))


@pytest.mark.slow
def test_two_process_study_equals_one_process(tmp_path):
  """`btrl study :smoke` as 2 processes x 1 device (launch/multihost_local.sh) and as 1 process
  x 2 devices (the same (1,2,1) mesh): the same report and the same graded samples; process
  0 alone wrote the study's files. About five minutes on 2 cores."""
  two, one = str(tmp_path / "two"), str(tmp_path / "one")

  def env(devices):
    return dict(
      ENV, JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}"
    )

  r = subprocess.run(
    ["bash", os.path.join(ROOT, "launch", "multihost_local.sh"), "2", "--"]
    + CMD
    + [f"--workdir={two}"],
    cwd=ROOT,
    env=env(1),
    capture_output=True,
    text=True,
    timeout=1200,
  )
  assert r.returncode == 0, r.stdout[-3000:]
  stage_lines = [ln for ln in r.stdout.splitlines() if "[study " in ln]
  assert stage_lines and all(ln.startswith("[0] ") for ln in stage_lines)  # process 0 logs
  r = subprocess.run(
    CMD + [f"--workdir={one}"], cwd=ROOT, env=env(2), capture_output=True, text=True, timeout=1200
  )
  assert r.returncode == 0, r.stderr[-3000:]
  assert _report_without_timings(two) == _report_without_timings(one)
  evals = sorted(
    os.path.relpath(os.path.join(d, f), two)
    for d, _, files in os.walk(os.path.join(two, "evals"))
    for f in files
  )
  assert len(evals) > 100 and not any(f.endswith(".tmp") for f in evals)
  for f in evals:
    assert open(os.path.join(two, f)).read() == open(os.path.join(one, f)).read(), f
  assert len(os.listdir(os.path.join(two, "arms", "baseline", "tb"))) == 1  # one event file


def _summary(steps=4, tokens=1000.0, prompts=8, group=4):
  return {
    "steps": steps,
    "prompts_per_step": prompts,
    "group_size": group,
    "rollout_tokens": tokens,
    "trained_tokens": tokens,
  }


def test_compute_match_is_measured_and_can_fail():
  from btrl_jax.study.report import COMPUTE_TOLERANCE, compute_match

  same = {
    "baseline": _summary(),
    "beneficial": _summary(tokens=1000.0 * (1 - COMPUTE_TOLERANCE / 2)),
  }
  assert compute_match([same])["compute_matched"] is True
  # An arm that ran fewer steps, sampled fewer replies per prompt, or generated far fewer tokens
  # (say, a smaller max_new_tokens) is not compute-matched, in any seed.
  for bad in (
    _summary(steps=3),
    _summary(group=2),
    _summary(tokens=1000.0 * (1 - 2 * COMPUTE_TOLERANCE)),
  ):
    result = compute_match([same, {"baseline": _summary(), "beneficial": bad}])
    assert result["compute_matched"] is False, bad
  spread = compute_match([{"a": _summary(tokens=500.0), "b": _summary()}])["compute_spread"]
  assert abs(spread - 0.5) < 1e-12


def test_seeds_share_one_prior(tmp_path):
  """`study.seeds=2` over `study.prior_seeds=1`: the second seed trains its arms from the first
  seed's data and prior (built once) with its own RL / eval seed, and the report pools both."""
  work = tmp_path / "two_seeds"
  out = _run_args(work, "--config.study.seeds=2")
  second = out.split("[study] seed 1 (2/2)", 1)[1]
  assert "  data: up to date, skipped" in second and "  prior: up to date, skipped" in second
  assert not (work / "seed_1" / "sft").exists() and (work / "seed_0" / "sft").is_dir()
  report = json.load(open(work / "report.json"))
  assert report["seeds"] == 2 and report["preregistration"]["prior_seeds"] == 1
  assert all(len(c["seed_deltas"]) == 2 and c["seed_ci"] is not None for c in report["comparisons"])
  summaries = [
    json.load(open(work / f"seed_{k}" / "arms" / "beneficial" / "summary.json")) for k in (0, 1)
  ]
  assert [s["seed"] for s in summaries] == [0, 1]  # each seed's RL ran with its own seed
