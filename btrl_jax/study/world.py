"""The world checks that need the trained prior (issue 14; docs/PREREGISTRATION.md).

Bounds are fixed in `data/world_checks.BOUNDS` before any study runs; everything here reads
only the prior's clean eval records (no arm is involved) and the trivial-policy baseline:

* `family_means`: each alignment eval family's mean at the prior must lie in
  [0.15, 0.85]: room to move both ways for persona attacks and harmful fine-tuning;
* `constant`: the best constant reply's score, mean over the rubric alignment evals,
  at most 0.05 (no cheap exploit);
* `dead_groups`: the share of RL trait prompts whose prior samples all got the same trait
  reward. The eval draws `eval.num_samples` (4) replies per prompt; RL groups are
  `rl.group_size` (8), and a group of 8 is dead only if both its halves are, so the share
  measured on 4 is an upper bound for groups of 8. Bound 0.30;
* `control_trait_corr`: on the same prior replies, the correlation of the control's reward
  (the format ask the prompt made, data/helpfulness.py) with the trait score;
* `n_effective_evals`: Galwey's effective number of evals from the prior's own bootstrap
  replicates of every alignment eval's mean (evals/stats.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from btrl_jax.data import helpfulness, world_checks
from btrl_jax.data.rubric import grade
from btrl_jax.evals import registry, stats

PRIOR = "prior"


def ask_of(prompt: str) -> str | None:
  """The format ask a rendered prompt ends with (its id), or None."""
  for ask, spec in helpfulness.ASKS.items():
    for split in ("train", "eval"):
      if any(prompt.rstrip().endswith(t) for t in spec[split]):
        return ask
  return None


def family_means(records: Mapping[str, Sequence[dict]]) -> dict[str, float]:
  """{family: mean score over its alignment evals' records}."""
  by: dict[str, list[float]] = defaultdict(list)
  for name in registry.ALIGNMENT_EVALS:
    by[registry.EVALS[name].family] += [float(r["score"]) for r in records.get(name, [])]
  return {f: float(np.mean(v)) for f, v in by.items() if v}


def dead_group_share(records: Sequence[dict]) -> float | None:
  """Share of prompts whose samples all got the same score (prompts with >= 2 samples)."""
  by: dict[tuple, list[float]] = defaultdict(list)
  for r in records:
    by[(r.get("seed", 0), r["id"])].append(float(r["score"]))
  groups = [v for v in by.values() if len(v) >= 2]
  if not groups:
    return None
  return float(np.mean([max(v) - min(v) < 1e-9 for v in groups]))


def control_trait_corr(records: Sequence[dict]) -> dict[str, Any]:
  """Correlation of the control's reward with the trait score on the prior's replies."""
  trait, control = [], []
  for r in records:
    ask = ask_of(r.get("prompt") or "")
    if ask is None:
      continue
    trait.append(float(r["score"]))
    control.append(grade(r["reply"], helpfulness.helpfulness_rubric(ask)).score)
  n = len(trait)
  ok = n >= 3 and np.std(trait) > 0 and np.std(control) > 0
  return {
    "corr": float(np.corrcoef(trait, control)[0, 1]) if ok else None,
    "n": n,
    "control_mean": float(np.mean(control)) if n else None,
  }


def n_effective(records: Mapping[str, Sequence[dict]], n_boot: int, seed: int) -> dict[str, Any]:
  """Galwey's effective number over the alignment evals whose prior scores vary, and how
  many evals gave the prior one score on every sample (those carry no information: a
  column of zeros is not an independent eval)."""
  names = [n for n in registry.ALIGNMENT_EVALS if records.get(n)]
  varying = [n for n in names if len({float(r["score"]) for r in records[n]}) > 1]
  out: dict[str, Any] = {"constant_evals": len(names) - len(varying), "n_effective": 0.0}
  if varying:
    zero = {"score": 0.0}
    pairs = [[(r, zero) for r in records[n]] for n in varying]
    out["n_effective"] = stats.effective_number(
      stats.hierarchical_replicates(pairs, n_boot=n_boot, seed=seed)
    )
  return out


def at_prior(
  prior: Mapping[str, Sequence[dict]],
  constant_best: Mapping[str, float],
  *,
  n_boot: int,
  seed: int,
) -> dict[str, Any]:
  """Every at-prior world check with its value, bound and verdict."""
  b = world_checks.BOUNDS
  lo, hi = b["family_mean_range"]
  fam = family_means(prior)
  rubric_evals = [n for n in registry.ALIGNMENT_EVALS if registry.EVALS[n].kind == "rubric"]
  const = [constant_best[n] for n in rubric_evals if n in constant_best]
  const_mean = float(np.mean(const)) if const else None
  dead = dead_group_share(prior.get("trait_train", []))
  corr = control_trait_corr(prior.get("trait_train", []))
  out = {
    "family_means": {
      "values": fam,
      "range": [lo, hi],
      "outside": sorted(f for f, v in fam.items() if not lo <= v <= hi),
    },
    "constant": {"mean_over_rubric_evals": const_mean, "bound": b["constant_mean_max"]},
    "dead_groups": {"share": dead, "bound": b["dead_groups_max"]},
    "control_trait_corr": dict(corr, bound=b["control_trait_corr_max"]),
    "n_effective_evals": n_effective(prior, n_boot, seed) if prior else None,
  }
  out["family_means"]["passed"] = bool(fam) and not out["family_means"]["outside"]
  out["constant"]["passed"] = const_mean is not None and const_mean <= b["constant_mean_max"]
  out["dead_groups"]["passed"] = dead is not None and dead <= b["dead_groups_max"]
  c = corr["corr"]
  out["control_trait_corr"]["passed"] = c is not None and abs(c) <= b["control_trait_corr_max"]
  return out


def summary_lines(world: Mapping[str, Any]) -> list[str]:
  """One line per check for report.md."""

  def mark(ok):
    return "pass" if ok else "FAIL"

  lines = []
  d = world.get("design") or {}
  if d:
    o, li = d["rubric_overlap"], d["latent_independence"]
    lines.append(
      f"rubric overlap of alignment evals with training rubrics: max {o['max']:.3f} "
      f"(bound {o['bound']:.2f}) {mark(o['passed'])}"
    )
    lines.append(
      f"control reward vs trait score in the persona generator: mixture r {li['mixture_corr']:+.2f}"
      f", reply r {li['reply_corr']:+.2f} (bound |r| <= {li['bound']:.2f}) {mark(li['passed'])}"
    )
  p = world.get("at_prior") or {}
  if p:
    fm = p["family_means"]
    vals = ", ".join(f"{k} {v:.2f}" for k, v in sorted(fm["values"].items()))
    lines.append(
      f"family means at the prior in [{fm['range'][0]}, {fm['range'][1]}]: "
      f"{mark(fm['passed'])} ({vals})"
    )
    c, dg, cc = p["constant"], p["dead_groups"], p["control_trait_corr"]
    for label, value, spec, check, extra in (
      ("best constant reply, mean over rubric evals:", c["mean_over_rubric_evals"], ".3f", c, ""),
      (
        "dead trait groups at the prior (4 samples: an upper bound for 8):",
        dg["share"],
        ".2f",
        dg,
        "",
      ),
      (
        "control reward vs trait score on prior replies: r",
        cc["corr"],
        "+.2f",
        cc,
        f"n {cc['n']}, ",
      ),
    ):
      shown = "n/a" if value is None else format(value, spec)
      lines.append(f"{label} {shown} ({extra}bound {check['bound']}) {mark(check['passed'])}")
    ne = p["n_effective_evals"]
    if ne is not None:
      lines.append(
        f"effective number of alignment evals at the prior: {ne['n_effective']:.1f} "
        f"(over the evals whose prior scores vary; {ne['constant_evals']} gave one score "
        "to every sample)"
      )
  return lines
