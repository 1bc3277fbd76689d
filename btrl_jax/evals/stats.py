"""Statistics for the study report: clustered, seed-aware paired bootstrap, BH, families.

Every comparison is paired: two models answered the same prompts (same eval,
prompt id and sample index), so per-pair differences `d = treatment - control`
carry the comparison and prompt difficulty cancels. The pairs are not
independent draws, and the statistics say so. Each pair sits in a hierarchy

  seed s (an independent RL run)  >  cluster c (a TraitWorld scenario template,
  a task family/template, a JSONL example's `cluster`, else the prompt id)
  >  prompt p (its samples averaged)

Records carry "seed" (default 0) and "cluster" (default the prompt id); after
pooling, ids are seed-prefixed `k:id` and the prefix is stripped to identify
the prompt across seeds.

Hierarchical paired bootstrap (per comparison, all evals jointly). Each
replicate b gives every *unit* an iid weight ~ Exp(1): every seed u_bs, every
cluster id v_bc, every prompt id w_bp. Weights are normalised within their
parent, which is the Bayesian bootstrap (Rubin 1981) applied level by level:
Dirichlet(1, ..., 1) weights stand in for multinomial resampling counts at each
level, seeds, then clusters within a seed, then prompts within a cluster. For
eval e, with n the number of pairs of a prompt / cluster / seed and dbar_p the
prompt's mean delta:

  m_bsc = sum_p w_bp n_p dbar_p / sum_p w_bp n_p          (prompts of c in s)
  m_bs  = sum_c v_bc n_sc m_bsc / sum_c v_bc n_sc         (clusters in s)
  d*_be = sum_s u_bs n_s m_bs / sum_s u_bs n_s            (seeds)

With every weight 1 this is the plain mean of the eval's pairs, `delta`.
Common random numbers: a unit's weight in replicate b is one number wherever
the unit occurs, so evals that share seeds, templates or prompts are
resampled together (and clusters / prompts are crossed with seeds: a template
evaluated under three seeds is one cluster with one weight). Multinomial counts
cannot be shared across evals with different unit sets; Exp(1) weights can,
and never leave a replicate empty. Weights come from three streams spawned
from `np.random.SeedSequence(seed)`, one per level, so one level's draws do
not depend on the others' sizes. Resampling every level is conservative
(within-cluster variance is counted at two levels; Davison & Hinkley 1997,
sec. 3.8): on null data with no cluster effect, 10 clusters of 5 prompts, the
se is about 1.5x the iid se for one seed and about 1.9x for three (the
within-prompt variance enters once per level); with one prompt per cluster it
is 1.0x. When the prompts of a cluster are identical the prompt level drops
out and the CI is the cluster-level one. Per eval (a "slice"):

  se   = std_b(d*_be, ddof=1);   95% CI = 2.5th / 97.5th percentiles of d*_be
  p    = (1 + #{b : |d*_be - delta| >= |delta|}) / (1 + B)

The p-value re-centres the bootstrap distribution on zero and counts draws at
least as extreme as delta, two-sided (Davison & Hinkley 1997, ch. 4); p = 1
when every pair's delta is 0. q_bh: Benjamini-Hochberg over the evals of a
comparison (`scipy.stats.false_discovery_control(p, method="bh")`); these
per-eval tests are slices, reported but not the primary count.

Families (primary). A family F (evals_meta's "family") has delta_F = mean of
its evals' deltas; its replicates d*_bF = mean_{e in F} d*_be come from the
same joint draws, so shared templates and seeds count once, and se / CI / p
follow the formulas above. BH over the families of a comparison gives q_bh;
significant_families_up / _down count families with q_bh < alpha and
delta_F > 0 / < 0. Family and eval deltas and CIs are fractions (x100 = pp).

Seeds. With N >= 2 seeds, seed_deltas[s] = 100 * mean over evals of the eval's
mean delta within seed s (pp), and seed_ci = mean(seed_deltas) +-
t_{0.975, N-1} * sd(seed_deltas, ddof=1) / sqrt(N): runs that disagree widen
it, whatever the number of prompts. None for one seed. The seed weights u_bs
also carry between-run variance into every eval's and family's CI.

Effective number of independent evals (n_effective_evals). Evals have
different prompts, so per-prompt deltas cannot be correlated across evals
directly; what the shared seeds, templates and prompts imply is the
correlation of the evals' bootstrap replicates. R = corrcoef of d*_be over b
(evals with constant replicates are left out of R and count 1 each), with
eigenvalues lambda_i >= 0 (clipped); following Galwey (2009, Genet. Epidemiol.
33:559), the eigenvalue-based family of Nyholt (2004) and Li & Ji (2005),

  n_eff = (sum_i sqrt(lambda_i))^2 / sum_i lambda_i

It is n_evals when R = I, 1 when every eval moves as one, and continuous in
between (two evals of correlation rho count 1 + sqrt(1 - rho^2); Li & Ji's
count stays 2 for any rho < 1). Sampling noise in R (B draws) lowers it by
about a factor 1 - n_evals / (8 B). It measures the dependence of the eval
*estimates* (what counting wins out of 53 needs under H0), not a common true
effect.

Departures from the paper (see DEVIATIONS.md): the paper reports standard
errors over samples; we add clustered, seed-aware bootstrap CIs and p-values,
which need no normality assumption on [0, 1]-bounded rubric scores, and
family-level tests as the primary count.

The persistence experiments' one-level paired bootstrap lives in
`evals/persistence_stats.py`.

Records are dicts, one per graded sample, with at least "eval", "id",
"sample", "score" (float in [0, 1]) and "refusal" ("refusal" | "partial" |
"non_refusal" | None for task evals); optionally "seed" and "cluster".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.stats

REFUSAL_LABELS = ("refusal", "partial", "non_refusal")
CONDITIONS = (None, "neither_refused")
# Bootstrap draws are made in chunks of about this many numbers, to bound memory; numpy's
# streams do not depend on the chunking, so the result equals one draw of the whole
# [n_boot, n] (here and in persistence_stats).
CHUNK_INDICES = 1 << 22


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
  (id, sample) keys, or if a key repeats: a comparison must be paired. Pairs with a
  failed judge verdict (score None) on either side are left out.
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
  # a pair whose either side is a failed judge verdict (score None) has no difference
  return [(t[k], c[k]) for k in t if t[k]["score"] is not None and c[k]["score"] is not None]


def _meta(name: str, evals_meta: Mapping[str, Mapping[str, Any]], recs: Sequence[dict]) -> tuple:
  """(family, tag) from evals_meta, else from the records' own fields."""
  m = evals_meta.get(name)
  if m is not None:
    return m.get("family"), m.get("tag")
  first = recs[0] if recs else {}
  return first.get("family"), first.get("tag")


def _seed_of(r: dict) -> int:
  return int(r.get("seed") or 0)


def _prompt_id(r: dict) -> str:
  """The prompt's id across seeds: the pooled `k:id` with its seed prefix stripped."""
  rid, s = str(r["id"]), r.get("seed")
  prefix = f"{s}:"
  return rid[len(prefix) :] if s is not None and rid.startswith(prefix) else rid


def _cluster_of(r: dict) -> str:
  c = r.get("cluster")
  return str(c) if c is not None else _prompt_id(r)


def _index(keys: Sequence) -> np.ndarray:
  """Position of each key in the sorted unique keys: the unit's weight column."""
  pos = {k: i for i, k in enumerate(sorted(set(keys)))}
  return np.array([pos[k] for k in keys], dtype=np.int64)


def _run_starts(labels: Sequence) -> np.ndarray:
  """Where runs of equal consecutive labels start (the offsets np.add.reduceat takes)."""
  return np.array(
    [i for i in range(len(labels)) if i == 0 or labels[i] != labels[i - 1]], dtype=np.int64
  )


def _grouped_mean(w: np.ndarray, x: np.ndarray, starts: np.ndarray) -> np.ndarray:
  """Weighted means of x over runs: `w, x: [b, n]`, runs starting at `starts: [g]` -> [b, g]."""
  return np.add.reduceat(w * x, starts, axis=1) / np.add.reduceat(w, starts, axis=1)


def hierarchical_replicates(
  pairs_by_eval: Sequence[Sequence[tuple[dict, dict]]], *, n_boot: int, seed: int
) -> np.ndarray:
  """Joint bootstrap replicates `[n_boot, E]` of every eval's delta (module docstring).

  `pairs_by_eval[e]` holds eval e's (treatment, control) record pairs, at least one.
  Seeds, clusters and prompts are read from the treatment record.
  """
  units: dict[tuple, list] = {}  # (eval, seed, cluster, prompt) -> [pairs, sum of deltas]
  for e, pairs in enumerate(pairs_by_eval):
    for t, c in pairs:
      u = units.setdefault((e, _seed_of(t), _cluster_of(t), _prompt_id(t)), [0, 0.0])
      u[0] += 1
      u[1] += float(t["score"]) - float(c["score"])
  keys = sorted(units)
  n_p = np.array([units[k][0] for k in keys], dtype=np.float64)  # [U] pairs per prompt
  dbar = np.array([units[k][1] / units[k][0] for k in keys])  # [U] prompt mean delta
  seed_col, clu_col, prompt_col = (_index([k[i] for k in keys]) for i in (1, 2, 3))
  g = _run_starts([k[:3] for k in keys])  # (eval, seed, cluster) groups of prompts
  es = _run_starts([keys[i][:2] for i in g])  # (eval, seed) groups of clusters
  ev = _run_starts([keys[g[i]][0] for i in es])  # evals
  n_g = np.add.reduceat(n_p, g)
  n_es = np.add.reduceat(n_g, es)

  gen_seed, gen_clu, gen_prompt = (
    np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
  )
  w_seed = gen_seed.standard_exponential((n_boot, int(seed_col.max()) + 1))  # [B, S]
  w_clu = gen_clu.standard_exponential((n_boot, int(clu_col.max()) + 1))  # [B, C]
  n_prompts = int(prompt_col.max()) + 1
  out = np.empty((n_boot, len(ev)), dtype=np.float64)
  rows = max(1, CHUNK_INDICES // max(n_prompts, len(keys)))
  for lo in range(0, n_boot, rows):  # row by row the same draws as one [B, P] draw
    hi = min(n_boot, lo + rows)
    w = gen_prompt.standard_exponential((hi - lo, n_prompts))[:, prompt_col] * n_p  # [b, U]
    m_g = _grouped_mean(w, np.broadcast_to(dbar, w.shape), g)  # [b, G]
    m_es = _grouped_mean(w_clu[lo:hi, clu_col[g]] * n_g, m_g, es)  # [b, ES]
    out[lo:hi] = _grouped_mean(w_seed[lo:hi, seed_col[g[es]]] * n_es, m_es, ev)  # [b, E]
  return out


def _summary(delta: float, boot: np.ndarray, exact_zero: bool) -> dict[str, float]:
  """se, percentile 95% CI and re-centred two-sided p of `delta` from `boot: [B]`."""
  if exact_zero:
    return dict(se=0.0, ci_low=0.0, ci_high=0.0, p=1.0)
  lo, hi = np.percentile(boot, [2.5, 97.5])
  extreme = int(np.count_nonzero(np.abs(boot - delta) >= abs(delta)))
  return dict(
    se=float(boot.std(ddof=1)) if boot.size > 1 else math.nan,
    ci_low=float(lo),
    ci_high=float(hi),
    p=(1 + extreme) / (1 + boot.size),
  )


def family_tests(
  families: Sequence[str],
  deltas: Sequence[float],
  boot: np.ndarray,
  *,
  zero: Sequence[bool] | None = None,
) -> list[dict[str, Any]]:
  """Family rows from per-eval `deltas: [E]`, their family names `[E]` and joint replicates
  `boot: [B, E]`: delta_F = mean of its evals' deltas, replicates the same mean of theirs;
  se, CI, p (module docstring) and q_bh (BH over families); sorted by name.

  `zero[e]`: every pair of eval e has delta exactly 0 (a family of such evals gets p = 1).
  """
  deltas = np.asarray(deltas, dtype=np.float64)
  zero = np.zeros(len(deltas), bool) if zero is None else np.asarray(zero, bool)
  names = sorted({str(f) for f in families})
  out = []
  for name in names:
    members = np.array([str(f) == name for f in families])
    delta = float(deltas[members].mean())
    s = _summary(delta, boot[:, members].mean(axis=1), bool(zero[members].all()))
    out.append(
      dict(
        name=name,
        n_evals=int(members.sum()),
        delta=delta,
        se=s["se"],
        ci=[s["ci_low"], s["ci_high"]],
        p=s["p"],
      )
    )
  for row, q in zip(out, bh_qvalues([r["p"] for r in out])):
    row["q_bh"] = float(q)
  return out


def seed_interval(seed_deltas: Sequence[float], level: float = 0.95) -> list[float] | None:
  """t-interval of the mean of N >= 2 per-seed deltas (N - 1 dof); None for one seed."""
  x = np.asarray(seed_deltas, dtype=np.float64)
  if x.size < 2:
    return None
  half = scipy.stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
  return [float(x.mean() - half), float(x.mean() + half)]


def effective_number(boot: np.ndarray) -> float:
  """Galwey's (2009) effective number of independent columns of `boot: [B, E]` (docstring)."""
  if boot.ndim != 2 or boot.shape[1] == 0:
    return 0.0
  sd = boot.std(axis=0)
  varying = sd > 1e-12 * np.maximum(1.0, np.abs(boot).max(axis=0))
  constant = int(boot.shape[1] - varying.sum())
  if varying.sum() < 2 or boot.shape[0] < 3:
    return float(constant + varying.sum())
  lam = np.clip(np.linalg.eigvalsh(np.corrcoef(boot[:, varying], rowvar=False)), 0.0, None)
  return float(constant + np.sum(np.sqrt(lam)) ** 2 / np.sum(lam))


def _seed_means(pairs_by_eval: Sequence[Sequence[tuple[dict, dict]]], s: int) -> list[float]:
  """Each eval's mean delta over its pairs of seed `s` (evals without that seed left out)."""
  out = []
  for pairs in pairs_by_eval:
    d = [float(t["score"]) - float(c["score"]) for t, c in pairs if _seed_of(t) == s]
    if d:
      out.append(sum(d) / len(d))
  return out


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
  """One comparison object of report.json (DESIGN.md): per-eval slices, families, seeds.

  Args:
    name: the comparison's name, e.g. "beneficial_vs_baseline".
    treatment_name, control_name: the two models.
    treatment_records, control_records: {eval: records} (or flat record lists,
      grouped by "eval"); both sides must hold the same evals and, per eval,
      the same (id, sample) keys. Records may carry "seed" (default 0) and
      "cluster" (default the prompt id).
    evals_meta: eval -> {"family", "tag"} (records' own fields where absent).
    n_boot, seed: the hierarchical bootstrap (`hierarchical_replicates`), one
      set of draws for every eval of the comparison.
    alpha: q-value threshold of a significant win / loss (eval or family).
    condition: None, or "neither_refused" to keep only pairs where neither
      reply is labelled "refusal" (pairs with label None are kept).

  An eval left with fewer than 2 pairs (possible under a condition) is dropped
  and listed in "dropped" / counted in "n_dropped". Summary: wins / losses /
  ties count evals with delta > 0 / < 0 / == 0; mean_delta_pp = 100 * mean of
  the per-eval deltas (each eval weighs the same, whatever its size). Also
  `families` (the primary tests), `significant_families_up` / `_down`,
  `seed_deltas` / `seed_ci` (pp), `n_seeds` and `n_effective_evals` (module
  docstring); per-eval rows add `n_clusters`.
  """
  if condition not in CONDITIONS:
    raise ValueError(f"condition must be one of {CONDITIONS}; got {condition!r}")
  treat, ctrl = _by_eval(treatment_records), _by_eval(control_records)
  if treat.keys() != ctrl.keys():
    raise ValueError(
      f"comparison {name!r}: evals differ between {treatment_name} and "
      f"{control_name}: {sorted(treat.keys() ^ ctrl.keys())}"
    )
  rows, kept, dropped = [], [], []
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
        delta=float((t - c).mean()),
        n=len(pairs),
        n_clusters=len({_cluster_of(p[0]) for p in pairs}),
      )
    )
    kept.append(pairs)
  boot = hierarchical_replicates(kept, n_boot=n_boot, seed=seed) if kept else np.zeros((n_boot, 0))
  zero = [not any(float(t["score"]) - float(c["score"]) for t, c in pairs) for pairs in kept]
  for e, r in enumerate(rows):
    s = _summary(r["delta"], boot[:, e], zero[e])
    r.update(se=s["se"], ci_low=s["ci_low"], ci_high=s["ci_high"], p=s["p"])
  q = bh_qvalues([r["p"] for r in rows])
  for r, qi in zip(rows, q):
    r["q_bh"] = float(qi)
  deltas = np.array([r["delta"] for r in rows], dtype=np.float64)
  families = family_tests([r["family"] for r in rows], deltas, boot, zero=zero)
  seeds = sorted({_seed_of(t) for pairs in kept for t, _ in pairs})
  seed_deltas = [float(100 * np.mean(_seed_means(kept, s))) for s in seeds]
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
    "n_seeds": len(seeds),
    "seed_deltas": seed_deltas,
    "seed_ci": seed_interval(seed_deltas),
    "families": families,
    "significant_families_up": sum(f["q_bh"] < alpha and f["delta"] > 0 for f in families),
    "significant_families_down": sum(f["q_bh"] < alpha and f["delta"] < 0 for f in families),
    "n_effective_evals": effective_number(boot) if rows else 0.0,
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
