"""Statistics of the persistence experiments: a one-level paired bootstrap per comparison.

The persona attacks and the harmful fine-tune compare a model with itself (clean
against attacked, dose 0 against dose d) or two models' degradations, prompt by
prompt; these are plain paired bootstraps over the aligned per-prompt values:

  d*_b = mean_i d_{I_bi},   I_bi ~ Uniform{0..n-1} iid from `np.random.default_rng(seed)`
  se = std_b(d*_b, ddof=1);  95% CI = 2.5th / 97.5th percentiles;
  p = (1 + #{b : |d*_b - delta| >= |delta|}) / (1 + B)

(two-sided, re-centred on zero: Davison & Hinkley 1997, ch. 4; p = 1 when every d is
0). The clustered, seed-aware statistics of the clean comparisons are `stats.py`'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from btrl_jax.evals import stats


def mean_se(scores: Sequence[float]) -> tuple[float, float]:
  """(mean, se) of `scores: [n]`, se = std(scores, ddof=1) / sqrt(n); se is nan for n < 2.
  A score that is None or NaN (a failed judge verdict: no score) is left out."""
  x = np.asarray(scores, dtype=np.float64)
  x = x[np.isfinite(x)]
  if x.size == 0:
    return math.nan, math.nan
  se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan
  return float(x.mean()), se


def _bootstrap_means(d: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
  """[n_boot] means of `d: [n]` resampled with replacement, row b from draw row b."""
  n = d.size
  rng = np.random.default_rng(seed)
  rows = max(1, stats.CHUNK_INDICES // n)
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

  `treatment, control: [n]` are scores of the same prompts in the same order (NaN or None:
  a failed judge verdict; such pairs are left out).
  Returns {"delta", "se", "ci_low", "ci_high", "p", "n"} (formulas in the
  module docstring).
  """
  t = np.asarray(treatment, dtype=np.float64)
  c = np.asarray(control, dtype=np.float64)
  if t.shape != c.shape or t.ndim != 1:
    raise ValueError(f"paired scores need equal 1-d shapes; got {t.shape} and {c.shape}")
  graded = np.isfinite(t) & np.isfinite(c)  # a pair with a failed judge verdict is left out
  return bootstrap_mean((t - c)[graded], n_boot=n_boot, seed=seed)


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
