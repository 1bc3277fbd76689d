"""Statistics for the study report: paired deltas, BH q-values, refusal rates, persistence.

Every comparison in the study is paired: two models answered the same prompts
(same eval, prompt id and sample index), so per-pair differences
`d_i = treatment_i - control_i` carry the comparison and prompt difficulty
cancels. For `n` pairs:

  delta      = mean_i d_i
  bootstrap  d*_b = mean_i d_{I_bi},  I_bi ~ Uniform{0..n-1} iid,  b = 1..B
             (prompt indices resampled with `np.random.default_rng(seed)`)
  se         = std(d*_b, ddof=1)
  95% CI     = 2.5th and 97.5th percentiles of d*_b (linear interpolation)
  p          = (1 + #{b : |d*_b - delta| >= |delta|}) / (1 + B)

The p-value re-centres the bootstrap distribution on zero (d*_b - delta is a
draw of the mean difference under H0: no difference, with the observed spread)
and counts draws at least as extreme as the observed delta, two-sided; the +1s
keep p in [1/(1+B), 1] (Davison & Hinkley 1997, ch. 4). If every d_i is 0
then p = 1.

Across the evals of one comparison, q-values are Benjamini-Hochberg adjusted
p-values (`scipy.stats.false_discovery_control(p, method="bh")`); a gain or
loss is significant when q < alpha (0.05).

Departures from the paper (see DEVIATIONS.md): the paper reports standard
errors over samples; we add paired-bootstrap CIs and p-values, which need no
normality assumption on [0, 1]-bounded rubric scores.

Records are dicts, one per graded sample, with at least "eval", "id",
"sample", "score" (float in [0, 1]) and "refusal" ("refusal" | "partial" |
"non_refusal" | None for task evals).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.stats

REFUSAL_LABELS = ("refusal", "partial", "non_refusal")
CONDITIONS = (None, "neither_refused")
# Bootstrap index draws are made in chunks of about this many indices, to bound
# memory; numpy's bounded integer stream does not depend on the chunking, so the
# result equals one draw of shape [n_boot, n].
_CHUNK_INDICES = 1 << 22


def mean_se(scores: Sequence[float]) -> tuple[float, float]:
  """(mean, se) of `scores: [n]`, se = std(scores, ddof=1) / sqrt(n); se is nan for n < 2."""
  x = np.asarray(scores, dtype=np.float64)
  if x.size == 0:
    return math.nan, math.nan
  se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan
  return float(x.mean()), se


def _bootstrap_means(d: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
  """[n_boot] means of `d: [n]` resampled with replacement, row b from draw row b."""
  n = d.size
  rng = np.random.default_rng(seed)
  rows = max(1, _CHUNK_INDICES // n)
  out = np.empty(n_boot, dtype=np.float64)
  for start in range(0, n_boot, rows):
    stop = min(n_boot, start + rows)
    idx = rng.integers(0, n, size=(stop - start, n))  # [rows, n]
    out[start:stop] = d[idx].mean(axis=1)
  return out


def bootstrap_mean(d: Sequence[float], *, n_boot: int = 10000, seed: int = 0) -> dict[str, float]:
  """Mean of per-pair differences `d: [n]` with bootstrap se, 95% CI and p (module docstring).

  Returns {"delta", "se", "ci_low", "ci_high", "p", "n"}; every statistic is nan
  when n == 0.
  """
  d = np.asarray(d, dtype=np.float64)
  n = int(d.size)
  if n == 0:
    return dict(delta=math.nan, se=math.nan, ci_low=math.nan, ci_high=math.nan, p=math.nan, n=0)
  delta = float(d.mean())
  if not np.any(d):
    return dict(delta=0.0, se=0.0, ci_low=0.0, ci_high=0.0, p=1.0, n=n)
  boot = _bootstrap_means(d, n_boot, seed)
  lo, hi = np.percentile(boot, [2.5, 97.5])
  extreme = int(np.count_nonzero(np.abs(boot - delta) >= abs(delta)))
  return dict(
    delta=delta,
    se=float(boot.std(ddof=1)) if n_boot > 1 else math.nan,
    ci_low=float(lo),
    ci_high=float(hi),
    p=(1 + extreme) / (1 + n_boot),
    n=n,
  )


def paired_bootstrap(
  treatment: Sequence[float], control: Sequence[float], *, n_boot: int = 10000, seed: int = 0
) -> dict[str, float]:
  """delta = mean(treatment - control) over aligned pairs, with bootstrap se, 95% CI and p.

  `treatment, control: [n]` are scores of the same prompts in the same order.
  Returns {"delta", "se", "ci_low", "ci_high", "p", "n"} (formulas in the
  module docstring).
  """
  t = np.asarray(treatment, dtype=np.float64)
  c = np.asarray(control, dtype=np.float64)
  if t.shape != c.shape or t.ndim != 1:
    raise ValueError(f"paired scores need equal 1-d shapes; got {t.shape} and {c.shape}")
  return bootstrap_mean(t - c, n_boot=n_boot, seed=seed)


def bh_qvalues(p: Sequence[float]) -> np.ndarray:
  """Benjamini-Hochberg q-values: q_(i) = min_{j >= i} min(1, m p_(j) / j) over sorted p."""
  p = np.asarray(p, dtype=np.float64)
  if p.size == 0:
    return p
  return scipy.stats.false_discovery_control(p, method="bh")


def _by_eval(records: Mapping[str, Sequence[dict]] | Iterable[dict]) -> dict[str, list[dict]]:
  """{eval: records} from such a mapping or from a flat list of records."""
  if isinstance(records, Mapping):
    return {name: list(recs) for name, recs in records.items()}
  out: dict[str, list[dict]] = {}
  for r in records:
    out.setdefault(r["eval"], []).append(r)
  return out


def _keyed(records: Sequence[dict], name: str, side: str) -> dict[tuple, dict]:
  out = {}
  for r in records:
    key = (r["id"], r["sample"])
    if key in out:
      raise ValueError(
        f"eval {name!r}: {side} has two records for prompt {key[0]!r} sample {key[1]}"
      )
    out[key] = r
  return out


def align(
  treatment_records: Sequence[dict], control_records: Sequence[dict], name: str | None = None
) -> list[tuple[dict, dict]]:
  """Pairs the records of one eval by (id, sample), in the treatment's order.

  Raises ValueError naming the eval if the two sides do not cover the same
  (id, sample) keys, or if a key repeats: a comparison must be paired.
  """
  if name is None:
    first = next(iter(treatment_records or control_records), {})
    name = first.get("eval", "?")
  t = _keyed(treatment_records, name, "treatment")
  c = _keyed(control_records, name, "control")
  if t.keys() != c.keys():
    only_t, only_c = len(t.keys() - c.keys()), len(c.keys() - t.keys())
    raise ValueError(
      f"eval {name!r}: treatment and control answered different prompts "
      f"({only_t} (id, sample) keys only in treatment, {only_c} only in control)"
    )
  return [(t[k], c[k]) for k in t]


def _meta(name: str, evals_meta: Mapping[str, Mapping[str, Any]], recs: Sequence[dict]) -> tuple:
  """(family, tag) from evals_meta, else from the records' own fields."""
  m = evals_meta.get(name)
  if m is not None:
    return m.get("family"), m.get("tag")
  first = recs[0] if recs else {}
  return first.get("family"), first.get("tag")


def compare(
  name: str,
  treatment_name: str,
  control_name: str,
  treatment_records: Mapping[str, Sequence[dict]] | Iterable[dict],
  control_records: Mapping[str, Sequence[dict]] | Iterable[dict],
  *,
  evals_meta: Mapping[str, Mapping[str, Any]],
  n_boot: int = 10000,
  seed: int = 0,
  alpha: float = 0.05,
  condition: str | None = None,
) -> dict[str, Any]:
  """One comparison object of report.json (DESIGN.md): per-eval paired deltas, BH q, summary.

  Args:
    name: the comparison's name, e.g. "beneficial_vs_baseline".
    treatment_name, control_name: the two models.
    treatment_records, control_records: {eval: records} (or flat record lists,
      grouped by "eval"); both sides must hold the same evals and, per eval,
      the same (id, sample) keys.
    evals_meta: eval -> {"family", "tag"} (records' own fields where absent).
    n_boot, seed: paired bootstrap (`paired_bootstrap`), one seed for every eval.
    alpha: q-value threshold of a significant win (delta > 0) or loss (delta < 0).
    condition: None, or "neither_refused" to keep only pairs where neither
      reply is labelled "refusal" (pairs with label None are kept).

  An eval left with fewer than 2 pairs (possible under a condition) is dropped
  and listed in "dropped" / counted in "n_dropped". Summary: wins / losses /
  ties count evals with delta > 0 / < 0 / == 0; mean_delta_pp = 100 * mean of
  the per-eval deltas (each eval weighs the same, whatever its size).
  """
  if condition not in CONDITIONS:
    raise ValueError(f"condition must be one of {CONDITIONS}; got {condition!r}")
  treat, ctrl = _by_eval(treatment_records), _by_eval(control_records)
  if treat.keys() != ctrl.keys():
    raise ValueError(
      f"comparison {name!r}: evals differ between {treatment_name} and "
      f"{control_name}: {sorted(treat.keys() ^ ctrl.keys())}"
    )
  rows, dropped = [], []
  for ev in treat:
    pairs = align(treat[ev], ctrl[ev], ev)
    if condition == "neither_refused":
      pairs = [
        (t, c) for t, c in pairs if t.get("refusal") != "refusal" and c.get("refusal") != "refusal"
      ]
    if len(pairs) < 2:
      dropped.append(ev)
      continue
    t = np.array([p[0]["score"] for p in pairs], dtype=np.float64)
    c = np.array([p[1]["score"] for p in pairs], dtype=np.float64)
    family, tag = _meta(ev, evals_meta, treat[ev])
    rows.append(
      dict(
        name=ev,
        family=family,
        tag=tag,
        treatment=float(t.mean()),
        control=float(c.mean()),
        **paired_bootstrap(t, c, n_boot=n_boot, seed=seed),
      )
    )
  q = bh_qvalues([r["p"] for r in rows])
  for r, qi in zip(rows, q):
    r["q_bh"] = float(qi)
  deltas = np.array([r["delta"] for r in rows], dtype=np.float64)
  return {
    "name": name,
    "treatment": treatment_name,
    "control": control_name,
    "condition": condition,
    "n_evals": len(rows),
    "wins": int(np.sum(deltas > 0)),
    "losses": int(np.sum(deltas < 0)),
    "ties": int(np.sum(deltas == 0)),
    "mean_delta_pp": float(100 * deltas.mean()) if rows else math.nan,
    "significant_wins": sum(r["q_bh"] < alpha and r["delta"] > 0 for r in rows),
    "significant_losses": sum(r["q_bh"] < alpha and r["delta"] < 0 for r in rows),
    "alpha": alpha,
    "n_dropped": len(dropped),
    "dropped": dropped,
    "evals": rows,
  }


def _rates(labels: Sequence[str]) -> dict[str, float]:
  n = len(labels)
  out = {k: (sum(x == k for x in labels) / n if n else math.nan) for k in REFUSAL_LABELS}
  out["n"] = n
  return out


def refusal_rates(
  records_by_model: Mapping[str, Mapping[str, Sequence[dict]] | Iterable[dict]],
  evals_meta: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, dict]]:
  """{model: {family: {"refusal", "partial", "non_refusal", "n"}}}, plus family "all".

  Rates are shares of labelled replies (record-weighted); records whose label
  is None (task evals) are left out of every count.
  """
  out = {}
  for model, records in records_by_model.items():
    by_family: dict[str, list[str]] = {}
    labels_all = []
    for ev, recs in _by_eval(records).items():
      family, _ = _meta(ev, evals_meta, recs)
      labels = [r["refusal"] for r in recs if r.get("refusal") is not None]
      bad = set(labels) - set(REFUSAL_LABELS)
      if bad:
        raise ValueError(f"eval {ev!r}: unknown refusal labels {sorted(bad)}")
      if labels:
        by_family.setdefault(family, []).extend(labels)
        labels_all.extend(labels)
    out[model] = {f: _rates(v) for f, v in by_family.items()}
    out[model]["all"] = _rates(labels_all)
  return out


def retention(
  clean: Sequence[float], attacked: Sequence[float], *, n_boot: int = 10000, seed: int = 0
) -> dict[str, float]:
  """How much of a model's clean score survives an attack, per prompt aligned.

  clean = mean(clean), attacked = mean(attacked), retention = attacked / clean
  (nan if clean == 0), degradation = clean - attacked with paired-bootstrap
  se, 95% CI and p (negative degradation: the attack lifted the score).
  """
  b = paired_bootstrap(clean, attacked, n_boot=n_boot, seed=seed)
  c_mean, a_mean = (float(np.mean(x)) if b["n"] else math.nan for x in (clean, attacked))
  return {
    "clean": c_mean,
    "attacked": a_mean,
    "retention": a_mean / c_mean if c_mean != 0 else math.nan,
    "degradation": b["delta"],
    "se": b["se"],
    "ci_low": b["ci_low"],
    "ci_high": b["ci_high"],
    "p": b["p"],
    "n": b["n"],
  }


def degradation_difference(
  control_clean: Sequence[float],
  control_attacked: Sequence[float],
  treatment_clean: Sequence[float],
  treatment_attacked: Sequence[float],
  *,
  n_boot: int = 10000,
  seed: int = 0,
) -> dict[str, float]:
  """How much less the treatment degrades under an attack than the control, paired by prompt.

  All four arrays are [n] scores of the same prompts in the same order. Per
  prompt, x_i = (control_clean_i - control_attacked_i)
              - (treatment_clean_i - treatment_attacked_i);
  diff = mean_i x_i = degradation(control) - degradation(treatment), with the
  bootstrap se, 95% CI and p of the module docstring. diff > 0: the treatment
  keeps more of its score (the paper's 0.132 for the bad-medical persona).
  For a helpful persona, degradation is minus the lift, so diff =
  lift(treatment) - lift(control).
  """
  arrays = [
    np.asarray(x, dtype=np.float64)
    for x in (control_clean, control_attacked, treatment_clean, treatment_attacked)
  ]
  if len({a.shape for a in arrays}) != 1:
    raise ValueError(
      f"degradation_difference needs four aligned [n] arrays; got shapes "
      f"{[a.shape for a in arrays]}"
    )
  cc, ca, tc, ta = arrays
  b = bootstrap_mean((cc - ca) - (tc - ta), n_boot=n_boot, seed=seed)
  return {
    "diff": b["delta"],
    "control_degradation": float(np.mean(cc - ca)) if b["n"] else math.nan,
    "treatment_degradation": float(np.mean(tc - ta)) if b["n"] else math.nan,
    "se": b["se"],
    "ci_low": b["ci_low"],
    "ci_high": b["ci_high"],
    "p": b["p"],
    "n": b["n"],
  }


def dose_response(
  scores_by_dose: Mapping[float, Sequence[float]], *, n_boot: int = 10000, seed: int = 0
) -> list[dict[str, float]]:
  """Rows per dose, ascending: mean, se and degradation vs the lowest dose (dose 0).

  `scores_by_dose[d]: [n]` are per-prompt scores aligned across doses. For dose
  d, degradation = mean(s_0 - s_d) with paired-bootstrap se, 95% CI and p
  (the reference row has degradation 0 and p 1). Positive degradation: the
  fine-tune lowered the score.
  """
  doses = sorted(scores_by_dose)
  if not doses:
    return []
  ref = np.asarray(scores_by_dose[doses[0]], dtype=np.float64)
  rows = []
  for d in doses:
    s = np.asarray(scores_by_dose[d], dtype=np.float64)
    if s.shape != ref.shape:
      raise ValueError(
        f"dose {d}: {s.shape} scores, dose {doses[0]} has {ref.shape}; "
        "doses must score the same prompts"
      )
    mean, se = mean_se(s)
    b = paired_bootstrap(ref, s, n_boot=n_boot, seed=seed)
    rows.append(
      {
        "dose": d,
        "mean": mean,
        "se": se,
        "degradation": b["delta"],
        "degradation_se": b["se"],
        "ci_low": b["ci_low"],
        "ci_high": b["ci_high"],
        "p": b["p"],
        "n": b["n"],
      }
    )
  return rows
