"""Report plots: every figure is written as a real PNG from small report parts."""

import os
import struct

import numpy as np

from btrl_jax.evals import stats
from btrl_jax.study import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(path):
  """(width, height) in pixels from the PNG's IHDR chunk."""
  with open(path, "rb") as f:
    head = f.read(24)
  assert head[:8] == PNG_MAGIC, path
  assert head[12:16] == b"IHDR"
  return struct.unpack(">II", head[16:24])


def _check(path, min_w=200, min_h=150):
  assert os.path.getsize(path) > 1000
  w, h = _png_size(path)
  assert w >= min_w and h >= min_h, (w, h)
  return w, h


def _comparison(n=6, seed=0):
  rng = np.random.default_rng(seed)
  tags = ["health", "mental_health", "non_health"]
  treat, ctrl, meta = {}, {}, {}
  for i in range(n):
    name = f"eval_{i}"
    meta[name] = {"family": f"fam{i % 2}", "tag": tags[i % 3]}
    c = rng.uniform(size=20)
    t = np.clip(c + rng.normal(0.05 * (i - 2), 0.1, size=20), 0, 1)
    treat[name] = [
      {"eval": name, "id": j, "sample": 0, "score": float(s), "refusal": "non_refusal"}
      for j, s in enumerate(t)
    ]
    ctrl[name] = [
      {
        "eval": name,
        "id": j,
        "sample": 0,
        "score": float(s),
        "refusal": "refusal" if j % 5 == 0 else "partial",
      }
      for j, s in enumerate(c)
    ]
  return treat, ctrl, meta


def _report():
  treat, ctrl, meta = _comparison()
  comp = stats.compare(
    "beneficial_vs_baseline",
    "beneficial",
    "baseline",
    treat,
    ctrl,
    evals_meta=meta,
    n_boot=200,
    seed=0,
  )
  cond = stats.compare(
    "beneficial_vs_baseline_neither_refused",
    "beneficial",
    "baseline",
    treat,
    ctrl,
    evals_meta=meta,
    n_boot=200,
    seed=0,
    condition="neither_refused",
  )
  personas = ["bad_medical", "mental_health_disallowed", "helpful_medical"]
  pa = {"personas": personas, "models": {}, "differences": []}
  for m, base in (("baseline", 0.4), ("beneficial", 0.45)):
    pa["models"][m] = {
      p: {
        "clean": base,
        "attacked": base * 0.5,
        "retention": 0.5,
        "degradation": base * 0.5,
        "ci_low": 0.1,
        "ci_high": 0.3,
      }
      for p in personas
    }
  pa["models"]["beneficial"]["helpful_medical"]["retention"] = None  # NaN after report._finite
  pa["differences"] = [
    {
      "persona": p,
      "treatment": "beneficial",
      "control": "baseline",
      "diff": 0.13,
      "ci_low": 0.05,
      "ci_high": 0.21,
      "p": 0.01,
    }
    for p in personas
  ]
  doses = [0, 25, 50]
  hf = {
    "doses": doses,
    "models": {
      m: {
        g: [
          {
            "dose": d,
            "mean": 0.5 - k * d / 200,
            "se": 0.02 if d else None,
            "degradation": k * d / 200,
            "ci_low": 0.0,
            "ci_high": 0.1,
          }
          for d in doses
        ]
        for g, k in (("in_domain", 1.0), ("out_of_domain", 0.3 if m == "beneficial" else 1.0))
      }
      for m in ("prior", "baseline", "beneficial")
    },
  }
  by_model = {"baseline": ctrl, "beneficial": treat}
  refusal = {"rates": stats.refusal_rates(by_model, meta), "conditioned": [cond]}
  return {"comparisons": [comp], "refusal": refusal, "persona_attack": pa, "harmful_finetune": hf}


def _metrics():
  rows = lambda trait: [
    dict(
      {"step": s, "reward/standard": 0.3 + 0.01 * s, "kl": 0.001 * s},
      **({"reward/trait": 0.4 + 0.02 * s} if trait else {}),
    )
    for s in range(10)
  ]
  return {"baseline": rows(False), "beneficial": rows(True), "health_only": rows(True)}


def test_eval_deltas(tmp_path):
  comp = _report()["comparisons"][0]
  w, h = _check(plots.eval_deltas(comp, str(tmp_path / "deltas.png")))
  big = stats.compare(
    "x", "t", "c", *_comparison(n=40)[:2], evals_meta=_comparison(n=40)[2], n_boot=50, seed=0
  )
  _, h_big = _check(plots.eval_deltas(big, str(tmp_path / "big.png")))
  assert h_big > h  # one row per eval: more evals, taller figure
  # None (NaN in report.json) and an empty comparison still draw.
  comp["evals"][0].update(q_bh=None, ci_low=None, ci_high=None)
  _check(plots.eval_deltas(comp, str(tmp_path / "none.png")))
  empty = dict(comp, evals=[], n_evals=0, wins=0, mean_delta_pp=None)
  _check(plots.eval_deltas(empty, str(tmp_path / "sub" / "empty.png")))


def test_persona_retention(tmp_path):
  _check(plots.persona_retention(_report()["persona_attack"], str(tmp_path / "persona.png")))
  _check(
    plots.persona_retention(
      {"personas": [], "models": {}, "differences": []}, str(tmp_path / "persona_empty.png")
    )
  )


def test_dose_response(tmp_path):
  _check(plots.dose_response(_report()["harmful_finetune"], str(tmp_path / "dose.png")))


def test_rl_curves_tolerates_missing_keys(tmp_path):
  metrics = _metrics()
  metrics["baseline"][3].pop("kl")
  metrics["empty_arm"] = []
  _check(plots.rl_curves(metrics, str(tmp_path / "rl.png")))
  no_kl = {
    a: [{k: v for k, v in r.items() if k != "kl"} for r in rows] for a, rows in _metrics().items()
  }
  _check(plots.rl_curves(no_kl, str(tmp_path / "rl_no_kl.png")))


def test_refusal_rates(tmp_path):
  _check(plots.refusal_rates(_report()["refusal"], str(tmp_path / "refusal.png")))


def test_write_all(tmp_path):
  paths = plots.write_all(_report(), _metrics(), str(tmp_path / "plots"))
  names = sorted(os.path.basename(p) for p in paths)
  assert names == sorted(
    [
      "deltas_beneficial_vs_baseline.png",
      "deltas_beneficial_vs_baseline_neither_refused.png",
      "refusal_rates.png",
      "persona_retention.png",
      "dose_response.png",
      "rl_curves.png",
    ]
  )
  for p in paths:
    _check(p)
