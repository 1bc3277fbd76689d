"""The study report: statistics over every model's graded samples -> report.json, report.md, plots.

Comparisons are paired (same prompts, same sample index) and pooled over seeds
(a prompt of seed k is the pair unit `k:id`). Per eval: delta of means with a
paired-bootstrap 95% CI and p; Benjamini-Hochberg q over the evals of one
comparison; wins / significant wins and losses / mean delta in points.
The paper's numbers (STUDY.md; several second-hand) sit beside ours, and
`findings` says, claim by claim, whether this run reproduced the paper's
direction. TraitWorld is a synthetic stand-in: agreement or disagreement here
says how the mechanism behaves in a small generated world, not what happens in
production models.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import ml_collections
import numpy as np

from btrl_jax.evals import attacks, registry, stats

# (name, treatment, control, eval subset, the paper's result for the same comparison)
COMPARISONS = (
  (
    "beneficial_vs_baseline",
    "beneficial",
    "baseline",
    "all",
    "ahead on 44/53 evals, mean +9.1 pp; 30 significant gains, 3 significant losses",
  ),
  (
    "health_only_vs_baseline",
    "health_only",
    "baseline",
    "non_health",
    "ahead on 17/19 non-health evals, mean +11.3 pp",
  ),
  (
    "no_health_science_vs_baseline",
    "no_health_science",
    "baseline",
    "all",
    "control (2nd-hand); no number given",
  ),
  (
    "helpfulness_control_vs_baseline",
    "helpfulness_control",
    "baseline",
    "all",
    "no significant gains (2nd-hand)",
  ),
  ("baseline_vs_prior", "baseline", "prior", "all", "not reported (RL on standard tasks only)"),
)
PAPER = {
  "trait_in_distribution": "0.406 -> 0.607",
  "refusal": "alignment suite 13.2% -> 23.9%; everyday chat 1.5% -> 2.7% (2nd-hand)",
  "refusal_conditioned": "still ahead on 19 of 20 evals where neither refused",
  "persona_bad_medical": "baseline 0.395 -> 0.144 (keeps ~36%), trait model 0.455 -> 0.336 "
  "(keeps ~74%); difference in degradation 0.132 (95% CI 0.052-0.212)",
  "persona_helpful": "lifts both equally: +0.0045 (CI -0.016..0.025)",
  "harmful_finetune": "drops pre-RL vs trait: HealthBench 0.35 vs 0.31 (in domain); "
  "misalignment 0.36 vs 0.08, alignment questions 0.46 vs 0.07, model spec "
  "0.27 vs 0.16 (out of domain)",
  "capabilities": "no drop (GPQA +4.7, SWE-Bench Pro +7.1; 2nd-hand)",
}
OOD_FAMILIES = ("misalignment", "alignment_questions", "model_spec")
EVAL_META = {n: {"family": s.family, "tag": s.tag} for n, s in registry.EVALS.items()}
EVAL_META["trait_train"] = {"family": "trait_train", "tag": "all_domains"}


def _pool(runs: Sequence[dict], pick) -> dict[str, dict[str, list[dict]]]:
  """{model: {eval: records}} over seeds, record ids prefixed by the seed index."""
  out: dict[str, dict[str, list[dict]]] = {}
  for k, run in enumerate(runs):
    for model, evals in pick(run).items():
      for name, recs in evals.items():
        out.setdefault(model, {}).setdefault(name, []).extend(
          dict(r, id=f"{k}:{r['id']}") for r in recs
        )
  return out


def _scores(recs_by_eval: dict[str, list[dict]], names: Sequence[str]) -> tuple[list, np.ndarray]:
  """Per-sample scores over several evals, keyed (eval, id, sample) for pairing."""
  keys, vals = [], []
  for n in names:
    for r in recs_by_eval.get(n, []):
      keys.append((n, r["id"], r["sample"]))
      vals.append(r["score"])
  return keys, np.asarray(vals, float)


def _aligned(
  a: dict[str, list[dict]], b: dict[str, list[dict]], names
) -> tuple[np.ndarray, np.ndarray]:
  """Scores of a and b on the same (eval, id, sample) keys, in sorted key order (so two
  models' arrays from this function line up prompt by prompt)."""
  ka, va = _scores(a, names)
  kb, vb = _scores(b, names)
  ia, ib = {k: i for i, k in enumerate(ka)}, {k: i for i, k in enumerate(kb)}
  if set(ia) != set(ib):
    raise ValueError("paired scores need the same prompts in both sets")
  keys = sorted(ia, key=str)
  return va[[ia[k] for k in keys]], vb[[ib[k] for k in keys]]


def _subset(which: str) -> tuple[str, ...]:
  return {"all": registry.ALIGNMENT_EVALS, "non_health": registry.NON_HEALTH_EVALS}[which]


def _mean(xs) -> float:
  xs = np.asarray(xs, float)
  return float(xs.mean()) if xs.size else float("nan")


def build(cfg: ml_collections.ConfigDict, runs: Sequence[dict], runtime_s: float) -> dict[str, Any]:
  n_boot, seed = cfg.eval.n_boot, cfg.seed
  clean = _pool(runs, lambda r: r["clean"])
  models = list(clean)
  report: dict[str, Any] = {"models": models, "seeds": len(runs), "paper": PAPER}

  comps = []
  for name, treat, ctrl, which, paper in COMPARISONS:
    if treat in clean and ctrl in clean:
      names = _subset(which)
      c = stats.compare(
        name,
        treat,
        ctrl,
        {n: clean[treat][n] for n in names},
        {n: clean[ctrl][n] for n in names},
        evals_meta=EVAL_META,
        n_boot=n_boot,
        seed=seed,
      )
      c["paper"] = paper
      _eval_level_ci(c, n_boot, seed)
      comps.append(c)
  report["comparisons"] = comps

  align = {m: {n: clean[m][n] for n in registry.ALIGNMENT_EVALS} for m in models}
  conditioned = []
  for name, treat, ctrl, which, _ in COMPARISONS[:2]:
    if treat in clean and ctrl in clean:
      names = _subset(which)
      conditioned.append(
        stats.compare(
          f"{name}_neither_refused",
          treat,
          ctrl,
          {n: clean[treat][n] for n in names},
          {n: clean[ctrl][n] for n in names},
          evals_meta=EVAL_META,
          n_boot=n_boot,
          seed=seed,
          condition="neither_refused",
        )
      )
      _eval_level_ci(conditioned[-1], n_boot, seed)
  report["refusal"] = {
    "rates": stats.refusal_rates(align, EVAL_META),
    "conditioned": conditioned,
    "paper": PAPER["refusal"],
  }

  report["trait_scores"] = {
    m: {
      "in_distribution": _mean(_scores(clean[m], registry.TRAIT_EVALS)[1]),
      "per_trait": {
        n[len("trait_") :]: _mean([r["score"] for r in clean[m][n]]) for n in registry.TRAIT_EVALS
      },
      "training_distribution": _mean([r["score"] for r in clean[m].get("trait_train", [])]),
    }
    for m in models
  }
  trait_cmp = []
  for treat in ("beneficial", "health_only", "helpfulness_control"):
    if treat in clean and "baseline" in clean:
      trait_cmp.append(
        stats.compare(
          f"{treat}_vs_baseline_traits",
          treat,
          "baseline",
          {n: clean[treat][n] for n in registry.TRAIT_EVALS + ("trait_train",)},
          {n: clean["baseline"][n] for n in registry.TRAIT_EVALS + ("trait_train",)},
          evals_meta=EVAL_META,
          n_boot=n_boot,
          seed=seed,
        )
      )
  report["trait_comparisons"] = trait_cmp

  report["capabilities"] = {
    "models": {
      m: {
        n: dict(
          zip(("mean", "se"), stats.mean_se([r["score"] for r in clean[m][n]])), n=len(clean[m][n])
        )
        for n in registry.CAPABILITY_EVALS
      }
      for m in models
    },
    "comparisons": [
      stats.compare(
        f"{t}_vs_baseline_capabilities",
        t,
        "baseline",
        {n: clean[t][n] for n in registry.CAPABILITY_EVALS},
        {n: clean["baseline"][n] for n in registry.CAPABILITY_EVALS},
        evals_meta=EVAL_META,
        n_boot=n_boot,
        seed=seed,
      )
      for t in models
      if t not in ("baseline", "prior") and "baseline" in clean
    ],
    "paper": PAPER["capabilities"],
  }

  report["persona_attack"] = _persona(runs, clean, n_boot, seed)
  report["harmful_finetune"] = _harmful(runs, n_boot, seed)
  report["rl"] = _rl(runs)
  report["findings"] = findings(report)
  report["runtime_s"] = runtime_s  # this invocation (stages found up to date cost ~0)
  stage = {}
  for run in runs:
    for k, v in run.get("stage_seconds", {}).items():
      stage[k] = stage.get(k, 0.0) + v
  report["stage_seconds"] = stage  # every stage's own wall time, summed over resumed invocations
  report["study_seconds"] = sum(stage.values())
  report["config"] = cfg.to_dict()
  return _finite(report)


def _eval_level_ci(c: dict, n_boot: int, seed: int) -> None:
  """95% CI of the mean per-eval delta (pp), resampling evals: is the average gain real?"""
  deltas = [e["delta"] for e in c["evals"] if e["delta"] is not None and math.isfinite(e["delta"])]
  b = stats.bootstrap_mean(np.asarray(deltas) * 100, n_boot=n_boot, seed=seed)
  c["mean_delta_ci_pp"] = [b["ci_low"], b["ci_high"]]


def _persona(runs, clean, n_boot, seed) -> dict[str, Any]:
  attacked = _pool(runs, lambda r: r["persona"])
  if not attacked:
    return {"personas": [], "models": {}, "differences": [], "evals": []}
  names = registry.HEALTH_EVALS
  out: dict[str, Any] = {
    "personas": list(attacks.PERSONAS),
    "evals": list(names),
    "models": {},
    "differences": [],
    "paper": {
      "bad_medical": PAPER["persona_bad_medical"],
      "helpful_medical": PAPER["persona_helpful"],
    },
  }
  pairs = {}
  for label, recs in attacked.items():
    model, persona = label.split("@")
    c, a = _aligned(clean[model], recs, names)
    pairs[(model, persona)] = (c, a)
    out["models"].setdefault(model, {})[persona] = stats.retention(c, a, n_boot=n_boot, seed=seed)
  for treat in ("beneficial", "health_only"):
    for persona in attacks.PERSONAS:
      if (treat, persona) in pairs and ("baseline", persona) in pairs:
        (bc, ba), (tc, ta) = pairs[("baseline", persona)], pairs[(treat, persona)]
        d = stats.degradation_difference(bc, ba, tc, ta, n_boot=n_boot, seed=seed)
        out["differences"].append(dict(d, persona=persona, treatment=treat, control="baseline"))
  return out


def _harmful(runs, n_boot, seed) -> dict[str, Any]:
  """Dose-response in domain (health evals) and out of domain (misalignment, alignment
  questions, model spec), pooled over seeds."""
  ood = tuple(n for n in registry.ALIGNMENT_EVALS if registry.EVALS[n].family in OOD_FAMILIES)
  groups = {"in_domain": registry.HEALTH_EVALS, "out_of_domain": ood}
  doses = sorted({d for r in runs for m in r["harmful"].values() for d in m})
  out: dict[str, Any] = {
    "doses": doses,
    "groups": {k: list(v) for k, v in groups.items()},
    "models": {},
    "paper": PAPER["harmful_finetune"],
  }
  for model in sorted({m for r in runs for m in r["harmful"]}):
    by_dose = _pool(runs, lambda r: {d: recs for d, recs in r["harmful"].get(model, {}).items()})
    out["models"][model] = {}
    for group, names in groups.items():
      scores = {}
      for d in doses:
        keys, vals = _scores(by_dose[d], names)
        scores[d] = vals[np.argsort([str(k) for k in keys], kind="stable")]
      out["models"][model][group] = stats.dose_response(scores, n_boot=n_boot, seed=seed)
  if out["models"]:
    top = doses[-1]
    out["asymmetry"] = {
      m: {g: next(row["degradation"] for row in v[g] if row["dose"] == top) for g in groups}
      for m, v in out["models"].items()
    }
  return out


def _rl(runs) -> dict[str, Any]:
  out = {}
  for k, run in enumerate(runs):
    for arm, summary in run["summaries"].items():
      rows = run["metrics"].get(arm, [])
      first, last = rows[: max(1, len(rows) // 5)], rows[-max(1, len(rows) // 5) :]
      curve = lambda key, part: _mean([r[key] for r in part if key in r])
      out.setdefault(arm, []).append(
        dict(
          summary,
          reward_first=curve("reward", first),
          reward_last=curve("reward", last),
          standard_first=curve("reward/standard", first),
          standard_last=curve("reward/standard", last),
          trait_first=curve("reward/trait", first),
          trait_last=curve("reward/trait", last),
          step_s=curve("step_s", rows),
          dead_groups=curve("dead_groups", rows),
        )
      )
  return {"arms": out, **compute_match([run["summaries"] for run in runs])}


# Arms are compute-matched when, within each seed, every arm drew the same number of
# rollouts and its measured rollout and trained token totals lie within this fraction of
# that seed's largest. Reply lengths are what RL changes, so token totals can differ by arm
# without any arm getting more compute by design; the measured spread is reported beside.
COMPUTE_TOLERANCE = 0.2


def compute_match(summaries: Sequence[dict[str, dict]]) -> dict[str, Any]:
  """Compute-matching from what each arm measured (`summary.json` of `btrl train`), per seed.

  Returns `compute_matched` (bool), `compute_spread` (the largest relative shortfall of any
  arm's rollout or trained tokens against the seed's maximum), `compute_tolerance` and
  `compute` ({seed index: {arm: {rollouts, rollout_tokens, trained_tokens}}}).
  """
  per_seed, spread, matched = {}, 0.0, True
  for k, arms in enumerate(summaries):
    rows = {
      arm: {
        "rollouts": int(s["steps"] * s["prompts_per_step"] * s["group_size"]),
        "rollout_tokens": float(s["rollout_tokens"]),
        "trained_tokens": float(s["trained_tokens"]),
      }
      for arm, s in arms.items()
    }
    per_seed[k] = rows
    if len({r["rollouts"] for r in rows.values()}) > 1:
      matched = False
    for key in ("rollout_tokens", "trained_tokens"):
      top = max((r[key] for r in rows.values()), default=0.0)
      if top <= 0:
        matched = False
        continue
      spread = max(spread, max(1 - r[key] / top for r in rows.values()))
  matched = matched and spread <= COMPUTE_TOLERANCE
  return {
    "compute_matched": matched,
    "compute_spread": spread,
    "compute_tolerance": COMPUTE_TOLERANCE,
    "compute": per_seed,
  }


def _finite(x):
  """NaN / inf -> None, so report.json is strict JSON."""
  if isinstance(x, dict):
    return {k: _finite(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [_finite(v) for v in x]
  if isinstance(x, (float, np.floating)):
    return float(x) if math.isfinite(x) else None
  if isinstance(x, np.integer):
    return int(x)
  return x


def _comp(report, name):
  return next((c for c in report["comparisons"] if c["name"] == name), None)


def findings(report: dict) -> list[dict[str, Any]]:
  """Claim by claim: the paper's direction, ours, and whether it reproduced (None: not run)."""
  out = []

  def add(claim, paper, ours, ok, significant=None):
    """`ok`: the paper's direction holds here; `significant`: and beyond noise (None: n/a)."""
    out.append(
      {
        "claim": claim,
        "paper": paper,
        "ours": ours,
        "reproduced": None if ok is None else bool(ok),
        "significant": None if (ok is None or significant is None) else bool(significant),
      }
    )

  def ci(c):
    lo, hi = c.get("mean_delta_ci_pp", [None, None])
    return f" (mean delta 95% CI over evals {lo:+.1f}..{hi:+.1f} pp)" if lo is not None else ""

  c = _comp(report, "beneficial_vs_baseline")
  if c:
    add(
      "Beneficial-trait RL beats the compute-matched baseline on most evals",
      COMPARISONS[0][4],
      f"ahead on {c['wins']}/{c['n_evals']}, mean {c['mean_delta_pp']:+.1f} pp"
      f"{ci(c)}; {c['significant_wins']} significant gains, {c['significant_losses']} losses",
      c["wins"] > c["n_evals"] / 2 and c["mean_delta_pp"] > 0,
      (c.get("mean_delta_ci_pp") or [0])[0] > 0,
    )
  c = _comp(report, "health_only_vs_baseline")
  if c:
    add(
      "Health-only trait RL transfers to non-health evals",
      COMPARISONS[1][4],
      f"ahead on {c['wins']}/{c['n_evals']}, mean {c['mean_delta_pp']:+.1f} pp{ci(c)}; "
      f"{c['significant_wins']} significant gains, {c['significant_losses']} losses",
      c["wins"] > c["n_evals"] / 2 and c["mean_delta_pp"] > 0,
      (c.get("mean_delta_ci_pp") or [0])[0] > 0,
    )
  c = _comp(report, "helpfulness_control_vs_baseline")
  if c:
    add(
      "Generic-helpfulness control: no significant gains",
      COMPARISONS[3][4],
      f"{c['significant_wins']} significant gains, mean {c['mean_delta_pp']:+.1f} pp",
      c["significant_wins"] == 0,
    )
  ts = report["trait_scores"]
  if "beneficial" in ts and "baseline" in ts:
    tc = next((x for x in report["trait_comparisons"] if x["treatment"] == "beneficial"), None)
    sig = tc and any(
      e["name"] != "trait_train" and e["q_bh"] is not None and e["q_bh"] < 0.05 and e["delta"] > 0
      for e in tc["evals"]
    )
    add(
      "In-distribution trait score rises",
      PAPER["trait_in_distribution"],
      f"baseline {ts['baseline']['in_distribution']:.3f} -> beneficial "
      f"{ts['beneficial']['in_distribution']:.3f} (held-out trait evals); training distribution "
      f"{ts['baseline']['training_distribution']:.3f} -> {ts['beneficial']['training_distribution']:.3f}",
      ts["beneficial"]["in_distribution"] > ts["baseline"]["in_distribution"] and bool(sig),
    )
  rates = report["refusal"]["rates"]
  if "beneficial" in rates and "baseline" in rates:
    b, t = rates["baseline"]["all"]["refusal"], rates["beneficial"]["all"]["refusal"]
    add(
      "The trait model refuses more on the alignment suite",
      PAPER["refusal"],
      f"refusal rate {b:.1%} -> {t:.1%}",
      t > b,
    )
  cond = next(iter(report["refusal"]["conditioned"]), None)
  if cond:
    add(
      "Still ahead where neither model refused",
      PAPER["refusal_conditioned"],
      f"ahead on {cond['wins']}/{cond['n_evals']}, mean {cond['mean_delta_pp']:+.1f} pp{ci(cond)}",
      cond["wins"] > cond["n_evals"] / 2,
      (cond.get("mean_delta_ci_pp") or [0])[0] > 0,
    )
  diffs = {
    (d["treatment"], d["persona"]): d for d in report["persona_attack"].get("differences", [])
  }
  d = diffs.get(("beneficial", "bad_medical"))
  if d:
    add(
      "Bad-medical persona degrades the trait model less (selective persistence)",
      PAPER["persona_bad_medical"],
      f"difference in degradation {d['diff']:+.3f} (95% CI {d['ci_low']:+.3f}..{d['ci_high']:+.3f})",
      d["diff"] > 0 and d["ci_low"] > 0,
    )
  d = diffs.get(("beneficial", "helpful_medical"))
  if d:
    add(
      "Helpful persona steers both models alike",
      PAPER["persona_helpful"],
      f"difference {d['diff']:+.3f} (95% CI {d['ci_low']:+.3f}..{d['ci_high']:+.3f})",
      d["ci_low"] <= 0 <= d["ci_high"],
    )
  asym = report["harmful_finetune"].get("asymmetry", {})
  if "beneficial" in asym and "prior" in asym:
    b, p = asym["beneficial"], asym["prior"]
    add(
      "Harmful fine-tuning: out-of-domain spill-over smaller after trait RL (vs the prior)",
      PAPER["harmful_finetune"],
      f"degradation at the top dose, in domain / out of domain: prior {p['in_domain']:+.3f} / "
      f"{p['out_of_domain']:+.3f}; beneficial {b['in_domain']:+.3f} / {b['out_of_domain']:+.3f}"
      + (
        f"; baseline {asym['baseline']['in_domain']:+.3f} / {asym['baseline']['out_of_domain']:+.3f}"
        if "baseline" in asym
        else ""
      ),
      b["out_of_domain"] < p["out_of_domain"],
    )
  caps = next(
    (x for x in report["capabilities"]["comparisons"] if x["treatment"] == "beneficial"), None
  )
  if caps:
    add(
      "Capabilities do not drop",
      PAPER["capabilities"],
      f"mean {caps['mean_delta_pp']:+.1f} pp over {caps['n_evals']} task families; "
      f"{caps['significant_losses']} significant losses",
      caps["significant_losses"] == 0,
    )
  return out


def _fmt(x, spec=".3f"):
  return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def markdown(report: dict) -> str:
  """report.md: the paper's headline tables, ours beside the paper's numbers."""
  L = [
    "# btrl-jax study report",
    "",
    "TraitWorld is a synthetic stand-in for the paper's private data, graders and models: a "
    "generated world and a few-million-parameter model trained from scratch. What follows "
    "says how the mechanism behaves here, not what happens in production models.",
    "",
    f"Models: {', '.join(report['models'])}; seeds: {report['seeds']}; "
    f"wall time of all stages {report['study_seconds']:.0f} s ("
    + ", ".join(f"{k} {v:.0f} s" for k, v in report["stage_seconds"].items())
    + f"; this invocation {report['runtime_s']:.0f} s).",
    "",
    "## Findings",
    "",
    "| claim | paper | this run | reproduced |",
    "|---|---|---|---|",
  ]
  for f in report["findings"]:
    mark = {True: "yes", False: "no", None: "n/a"}[f["reproduced"]]
    if f["reproduced"] and f.get("significant") is False:
      mark = "direction only (not significant)"
    L.append(f"| {f['claim']} | {f['paper']} | {f['ours']} | {mark} |")
  L += [
    "",
    "## Comparisons (paired, 95% bootstrap CIs, BH q < 0.05)",
    "",
    "| comparison | evals | wins | mean delta (pp) | significant wins | significant losses | paper |",
    "|---|---|---|---|---|---|---|",
  ]
  for c in report["comparisons"]:
    L.append(
      f"| {c['treatment']} vs {c['control']} | {c['n_evals']} | {c['wins']} | "
      f"{c['mean_delta_pp']:+.1f} | {c['significant_wins']} | {c['significant_losses']} | "
      f"{c.get('paper', '')} |"
    )
  main = _comp(report, "beneficial_vs_baseline")
  if main:
    L += [
      "",
      "### Beneficial vs baseline, per eval",
      "",
      "![](plots/deltas_beneficial_vs_baseline.png)",
      "",
      "| eval | family | tag | beneficial | baseline | delta | 95% CI | q |",
      "|---|---|---|---|---|---|---|---|",
    ]
    for e in sorted(main["evals"], key=lambda e: -(e["delta"] or 0)):
      L.append(
        f"| {e['name']} | {e['family']} | {e['tag']} | {_fmt(e['treatment'])} | "
        f"{_fmt(e['control'])} | {_fmt(e['delta'], '+.3f')} | "
        f"{_fmt(e['ci_low'], '+.3f')}..{_fmt(e['ci_high'], '+.3f')} | {_fmt(e['q_bh'])} |"
      )
  L += [
    "",
    "## In-distribution trait scores",
    "",
    "| model | held-out trait evals | trait training distribution |",
    "|---|---|---|",
  ]
  for m, t in report["trait_scores"].items():
    L.append(f"| {m} | {_fmt(t['in_distribution'])} | {_fmt(t['training_distribution'])} |")
  L += [
    "",
    f"Paper: {PAPER['trait_in_distribution']}.",
    "",
    "## Refusals",
    "",
    "![](plots/refusal_rates.png)",
    "",
    "| model | refusal | partial | non-refusal |",
    "|---|---|---|---|",
  ]
  for m, fam in report["refusal"]["rates"].items():
    a = fam["all"]
    L.append(f"| {m} | {a['refusal']:.1%} | {a['partial']:.1%} | {a['non_refusal']:.1%} |")
  for c in report["refusal"]["conditioned"]:
    L.append(
      f"\nWhere neither refused ({c['treatment']} vs {c['control']}): ahead on "
      f"{c['wins']}/{c['n_evals']}, mean {c['mean_delta_pp']:+.1f} pp. "
      f"Paper: {PAPER['refusal_conditioned']}."
    )
  pa = report["persona_attack"]
  if pa.get("models"):
    L += [
      "",
      "## Persistence A: persona attacks (health and mental-health evals)",
      "",
      "![](plots/persona_retention.png)",
      "",
      "| model | persona | clean | attacked | retention | degradation (95% CI) |",
      "|---|---|---|---|---|---|",
    ]
    for m, per in pa["models"].items():
      for persona, r in per.items():
        L.append(
          f"| {m} | {persona} | {_fmt(r['clean'])} | {_fmt(r['attacked'])} | "
          f"{_fmt(r['retention'], '.2f')} | {_fmt(r['degradation'], '+.3f')} "
          f"({_fmt(r['ci_low'], '+.3f')}..{_fmt(r['ci_high'], '+.3f')}) |"
        )
    L += [
      "",
      "Difference = control's degradation - treatment's (positive: the treatment keeps more "
      "of its score; for the helpful persona: the treatment's lift - the control's).",
      "",
      "| treatment vs control | persona | difference | 95% CI | p |",
      "|---|---|---|---|---|",
    ]
    for d in pa["differences"]:
      L.append(
        f"| {d['treatment']} vs {d['control']} | {d['persona']} | {_fmt(d['diff'], '+.3f')} | "
        f"{_fmt(d['ci_low'], '+.3f')}..{_fmt(d['ci_high'], '+.3f')} | {_fmt(d['p'])} |"
      )
    L.append(
      f"\nPaper: {PAPER['persona_bad_medical']}; helpful persona: {PAPER['persona_helpful']}."
    )
  hf = report["harmful_finetune"]
  if hf.get("models"):
    L += [
      "",
      "## Persistence B: harmful fine-tuning dose ladder",
      "",
      "![](plots/dose_response.png)",
      "",
      "| model | group | " + " | ".join(f"dose {d}" for d in hf["doses"]) + " |",
      "|---|---|" + "---|" * len(hf["doses"]),
    ]
    for m, groups in hf["models"].items():
      for g, rows in groups.items():
        L.append(
          f"| {m} | {g} | "
          + " | ".join(f"{_fmt(r['mean'])} ({_fmt(r['degradation'], '+.3f')})" for r in rows)
          + " |"
        )
    L.append(
      f"\nCells: mean score (degradation vs dose 0; positive = the score dropped). "
      f"Paper: {PAPER['harmful_finetune']}."
    )
  caps = report["capabilities"]
  L += [
    "",
    "## Capabilities (held-out standard tasks, honest verifiers)",
    "",
    "| model | " + " | ".join(n[len("capability_") :] for n in registry.CAPABILITY_EVALS) + " |",
    "|---|" + "---|" * len(registry.CAPABILITY_EVALS),
  ]
  for m, per in caps["models"].items():
    L.append(
      f"| {m} | " + " | ".join(_fmt(per[n]["mean"]) for n in registry.CAPABILITY_EVALS) + " |"
    )
  rl = report["rl"]
  L += [
    "",
    "## RL arms",
    "",
    "![](plots/rl_curves.png)",
    "",
    f"Compute-matched (measured: every arm drew the same number of rollouts, and its rollout "
    f"and trained tokens are within {rl['compute_tolerance']:.0%} of the largest arm's): "
    f"{'yes' if rl['compute_matched'] else 'NO'} (largest shortfall "
    f"{rl['compute_spread']:.1%}).",
    "",
    "| arm | steps | rollout tokens | standard reward first -> last | trait reward first -> last "
    "| s/step | dead groups |",
    "|---|---|---|---|---|---|---|",
  ]
  for arm, rows in rl["arms"].items():
    for r in rows:
      L.append(
        f"| {arm} | {r['steps']} | {r['rollout_tokens']:.0f} | {_fmt(r['standard_first'])} -> "
        f"{_fmt(r['standard_last'])} | {_fmt(r['trait_first'])} -> {_fmt(r['trait_last'])} | "
        f"{_fmt(r['step_s'], '.2f')} | {_fmt(r['dead_groups'], '.2f')} |"
      )
  return "\n".join(L) + "\n"


def write(report: dict, runs: Sequence[dict], workdir: str) -> None:
  from btrl_jax.study import plots

  metrics = {}
  for run in runs:
    for arm, rows in run["metrics"].items():
      metrics.setdefault(arm, rows)  # the first seed's curves
  report["plots"] = [
    os.path.relpath(p, workdir)
    for p in plots.write_all(report, metrics, os.path.join(workdir, "plots"))
  ]
  with open(os.path.join(workdir, "report.md"), "w") as f:
    f.write(markdown(report))
