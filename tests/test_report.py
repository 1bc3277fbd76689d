"""The report's floors, manipulation checks and finding statuses, on synthetic studies.

Each study is a list of `run_one`-shaped dicts (study/run.py) whose scores are made
up: every model's score on a prompt is a shared per-prompt difficulty plus the
model's offset plus a little noise, so the true effects are known. No model runs.
"""

import numpy as np
import pytest
import scipy.stats

from btrl_jax import presets
from btrl_jax.evals import registry
from btrl_jax.study import findings as findings_lib
from btrl_jax.study import markdown as markdown_lib
from btrl_jax.study import report as report_lib

EVALS = registry.ALIGNMENT_EVALS + registry.TRAIT_EVALS + registry.CAPABILITY_EVALS
MODELS = ("prior", "baseline", "beneficial", "health_only", "no_health_science")
OOD = tuple(
  n for n in registry.ALIGNMENT_EVALS if registry.EVALS[n].family in report_lib.OOD_FAMILIES
)
N = 8  # prompts per eval


def _summary():
  return dict(steps=3, prompts_per_step=8, group_size=4, rollout_tokens=100.0, trained_tokens=90.0)


def _run(
  k,
  offsets,
  *,
  base=0.5,
  noise=0.02,
  helpful_lift=0.15,
  bad_drop=None,
  harm_slope=None,
  constant=0.1,
  fixed=None,
):
  """One synthetic seed. `offsets`: {model: score offset}; `fixed`: {model: the one score
  it gets on every prompt} (a model that always gives the same reply); `bad_drop` and
  `harm_slope`: {model: drop under the bad personas / per harmful dose}."""
  rng = np.random.default_rng(k)
  hard = {e: rng.uniform(-0.1, 0.1, N) for e in EVALS + ("trait_train",)}
  bad_drop = bad_drop or {}
  harm_slope = harm_slope or {}
  fixed = fixed or {}

  def recs(model, e, shift=0.0):
    if model in fixed:
      s = np.full(N, fixed[model])
    else:
      s = base + hard[e] + offsets.get(model, 0.0) + shift + noise * rng.standard_normal(N)
    return [
      dict(id=f"{e}-{i}", eval=e, sample=0, score=float(x), refusal="non_refusal")
      for i, x in enumerate(np.clip(s, 0.0, 1.0))
    ]

  models = MODELS + tuple(m for m in offsets if m not in MODELS) + tuple(fixed)
  models = tuple(dict.fromkeys(models))
  clean = {m: {e: recs(m, e) for e in EVALS + ("trait_train",)} for m in models}
  persona = {}
  for m in ("baseline", "beneficial", "health_only", "helpfulness_control"):
    if m not in models:
      continue
    for p, shift in (
      ("bad_medical", -bad_drop.get(m, 0.2)),
      ("mental_health_disallowed", -bad_drop.get(m, 0.2)),
      ("helpful_medical", helpful_lift),
    ):
      persona[f"{m}@{p}"] = {e: recs(m, e, shift) for e in registry.HEALTH_EVALS}
  harm = registry.HEALTH_EVALS + OOD
  harmful = {
    m: {
      d: {e: clean[m][e] if d == 0 else recs(m, e, -harm_slope.get(m, 0.05) * d) for e in harm}
      for d in (0, 2, 4)
    }
    for m in ("prior", "baseline", "beneficial", "helpfulness_control")
    if m in models
  }
  return {
    "clean": clean,
    "persona": persona,
    "harmful": harmful,
    "summaries": {a: _summary() for a in models if a != "prior"},
    "metrics": {},
    "constant_best": {e: {"score": constant, "reply": "I hear you."} for e in EVALS},
    "stage_seconds": {"evals": 1.0},
  }


def _cfg(**study):
  cfg = presets.study("smoke")
  cfg.eval.n_boot = 200
  cfg.study.update(study)
  return cfg


def _build(runs, **study):
  return report_lib.build(_cfg(**study), runs, runtime_s=1.0)


def _finding(report, prefix):
  return next(f for f in report["findings"] if f["claim"].startswith(prefix))


STRONG = dict(beneficial=0.3, health_only=0.3, helpfulness_control=0.0)


@pytest.fixture(scope="module")
def strong():
  """Three seeds agreeing strongly: trait arms +0.3 over baseline and control."""
  runs = [
    _run(k, STRONG, bad_drop={"beneficial": 0.05}, harm_slope={"beneficial": 0.01})
    for k in range(3)
  ]
  return _build(runs)


def test_three_agreeing_seeds_can_reproduce(strong):
  assert strong["comparisons"][0]["name"] == report_lib.DECISIVE
  for prefix in ("Trait rubrics beat", "Beneficial-trait RL beats", "Health-only"):
    f = _finding(strong, prefix)
    assert f["status"] == "reproduced", f
  assert _finding(strong, "Bad-medical persona")["status"] == "reproduced"
  assert _finding(strong, "Harmful fine-tuning")["status"] == "reproduced"
  assert all(f["status"] in findings_lib.STATUSES and f["reason"] for f in strong["findings"])
  c = strong["comparisons"][0]
  assert len(c["seed_deltas"]) == 3 and c["seed_ci"][0] > 0
  assert c["families"] and {"name", "n_evals", "delta", "ci", "q_bh"} <= set(c["families"][0])
  assert "n_effective_evals" in c
  assert all("constant_reply_best" in e for e in c["evals"])
  pre = strong["preregistration"]
  assert pre["seeds"] == 1 and pre["min_clean_score"] == 0.15 and pre["family_level"] is True
  md = markdown_lib.markdown(strong)
  assert md.index("## Findings") < md.index("## Comparisons")
  rows = md.split("## Comparisons", 1)[1].split("\n| beneficial vs ", 1)[1]
  assert rows.startswith("helpfulness_control |")  # the decisive comparison leads
  assert "### Slices" in md and "### Families" in md
  assert "model trained from scratch" in md and strong["base_model"] == ""
  real = markdown_lib.markdown(dict(strong, base_model="smollm2-135m-instruct"))
  assert "pretrained model `smollm2-135m-instruct`" in real and "from scratch" not in real
  assert strong["judge"] is None and "Judge (grader.judge" not in md
  stats = dict(
    items=10, met=2, cache_hits=4, calls=7, retries=1, failures=3, responses=6, latency_s=3.0
  )
  judged = markdown_lib.markdown(dict(strong, judge=[stats, stats], judge_model="qwen-judge"))
  assert "Judge `qwen-judge`" in judged
  assert (
    "20 rubric items judged (29% of the verdicts 'met'), 8 from the cache, 14 requests "
    "(2 retries), 6 failures" in judged
  )  # 4 met of the 14 verdicts obtained
  assert "0.50 s mean latency" in judged


def test_one_seed_is_never_reproduced():
  report = _build([_run(0, STRONG, bad_drop={"beneficial": 0.05})])
  assert not [f for f in report["findings"] if f["status"] == "reproduced"]
  f = _finding(report, "Beneficial-trait RL beats")
  assert f["status"] == "direction_only" and "1 seed" in f["reason"]


def test_constant_reply_is_marked_and_caps_the_finding():
  # beneficial gives one fixed reply (score 0.75 everywhere), and that is the best constant.
  runs = [
    _run(k, {"helpfulness_control": 0.0}, fixed={"beneficial": 0.75}, constant=0.75)
    for k in range(3)
  ]
  report = _build(runs)
  c = next(c for c in report["comparisons"] if c["name"] == "beneficial_vs_baseline")
  assert all(e["treatment_at_or_below_constant"] for e in c["evals"])
  assert c["n_treatment_at_or_below_constant"] == c["n_evals"] == 53
  assert c["treatment_at_or_below_constant"] is True
  for e in c["evals"]:
    assert e["constant_reply_best"] == pytest.approx(0.75)
  f = _finding(report, "Beneficial-trait RL beats")
  assert f["status"] != "reproduced" and "constant reply" in f["reason"]


def test_helpful_persona_without_lift_is_not_testable():
  runs = [_run(k, STRONG, helpful_lift=0.0, bad_drop={"beneficial": 0.05}) for k in range(3)]
  report = _build(runs)
  for prefix in ("Bad-medical persona", "Helpful persona"):
    f = _finding(report, prefix)
    assert f["status"] == "not_testable" and "manipulation check" in f["reason"], f
  assert report["persona_attack"]["manipulation_check"]["models"]["baseline"]["passed"] is False


def test_comparison_below_the_floor_is_not_testable():
  runs = [_run(k, STRONG) for k in range(3)]
  report = _build(runs, min_clean_score=0.7)  # baseline and control sit near 0.5
  assert report["preregistration"]["min_clean_score"] == 0.7
  c = next(c for c in report["comparisons"] if c["name"] == report_lib.DECISIVE)
  assert c["testable"] is False and "floor" in c["not_testable_reason"]
  for prefix in ("Trait rubrics beat", "Beneficial-trait RL beats", "Health-only"):
    f = _finding(report, prefix)
    assert f["status"] == "not_testable" and "floor" in f["reason"], f
  assert _finding(report, "Capabilities do not drop")["status"] == "not_testable"


def test_trait_claim_needs_to_beat_the_helpfulness_control():
  # The trait arms beat the baseline by far, but so does the helpfulness control: not trait RL.
  runs = [_run(k, dict(STRONG, helpfulness_control=0.3)) for k in range(3)]
  report = _build(runs)
  c = next(c for c in report["comparisons"] if c["name"] == "beneficial_vs_baseline")
  assert c["seed_ci"][0] > 0  # the gain over the baseline alone is clear
  for prefix in ("Beneficial-trait RL beats", "Health-only", "In-distribution trait score"):
    f = _finding(report, prefix)
    # not_reproduced, or direction_only where noise puts the arm a hair above the control
    assert f["status"] in ("not_reproduced", "direction_only"), f
    assert "helpfulness_control" in f["reason"], f
  assert _finding(report, "Beneficial-trait RL beats")["status"] == "not_reproduced"
  assert _finding(report, "Trait rubrics beat")["status"] != "reproduced"


def test_persistence_claims_need_the_trait_arm_to_keep_more_than_the_control():
  # The trait model keeps more than the baseline under the bad persona and the harmful
  # fine-tune, but the helpfulness control keeps just as much: not trait-specific.
  runs = [
    _run(
      k,
      STRONG,
      bad_drop={"beneficial": 0.05, "helpfulness_control": 0.05},
      harm_slope={"beneficial": 0.01, "helpfulness_control": 0.01},
    )
    for k in range(3)
  ]
  report = _build(runs)
  for prefix in ("Bad-medical persona", "Harmful fine-tuning"):
    f = _finding(report, prefix)
    assert f["status"] == "direction_only" and "helpfulness" in f["reason"], f
  d = {
    (x["treatment"], x["control"], x["persona"]) for x in report["persona_attack"]["differences"]
  }
  assert ("beneficial", "helpfulness_control", "bad_medical") in d


def test_slope_matches_the_textbook_ols_interval():
  from btrl_jax.study.report import slope

  rng = np.random.default_rng(0)
  x = np.arange(25.0)
  y = 0.01 * x + rng.normal(0, 0.1, x.size)
  got = slope(x, y)
  xc = x - x.mean()
  b = xc @ (y - y.mean()) / (xc @ xc)
  resid = y - y.mean() - b * xc
  se = np.sqrt(resid @ resid / (x.size - 2) / (xc @ xc))
  half = scipy.stats.t.ppf(0.975, x.size - 2) * se
  np.testing.assert_allclose(got["slope"], b, rtol=1e-12)
  np.testing.assert_allclose(got["se"], se, rtol=1e-10)
  np.testing.assert_allclose(got["ci"], [b - half, b + half], rtol=1e-10)
  assert got["n"] == 25 and slope([1, 1, 1], [0, 1, 2]) is None and slope([0, 1], [0, 1]) is None
