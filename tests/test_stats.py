"""Study statistics: paired bootstrap, BH q-values, comparisons, refusal rates, persistence."""

import math

import numpy as np
import pytest
import scipy.stats

from btrl_jax.evals import persistence_stats, stats

TOL = 1e-12


def _reference_bootstrap(t, c, n_boot, seed):
  """The module docstring's formulas, written out as plain loops."""
  d = [float(a) - float(b) for a, b in zip(t, c)]
  n = len(d)
  delta = sum(d) / n
  rng = np.random.default_rng(seed)
  means = []
  for _ in range(n_boot):
    idx = rng.integers(0, n, size=n)
    means.append(sum(d[i] for i in idx) / n)
  mu = sum(means) / n_boot
  se = math.sqrt(sum((m - mu) ** 2 for m in means) / (n_boot - 1))
  s = sorted(means)

  def pct(q):  # linear interpolation between order statistics
    pos = q * (n_boot - 1)
    lo = math.floor(pos)
    return s[lo] + (pos - lo) * (s[min(lo + 1, n_boot - 1)] - s[lo])

  extreme = sum(abs(m - delta) >= abs(delta) for m in means)
  return dict(
    delta=delta, se=se, ci_low=pct(0.025), ci_high=pct(0.975), p=(1 + extreme) / (1 + n_boot), n=n
  )


def test_mean_se_hand_computed():
  mean, se = persistence_stats.mean_se([0.2, 0.4, 0.9])
  assert mean == pytest.approx(0.5, abs=TOL)
  # deviations -0.3, -0.1, 0.4 -> sample variance 0.26 / 2 = 0.13
  assert se == pytest.approx(math.sqrt(0.13 / 3), abs=TOL)
  mean, se = persistence_stats.mean_se([0.7])
  assert mean == 0.7 and math.isnan(se)


def test_paired_bootstrap_equals_loop_reference():
  rng = np.random.default_rng(1)
  t, c = rng.uniform(size=37), rng.uniform(size=37)
  got = persistence_stats.paired_bootstrap(t, c, n_boot=2000, seed=7)
  want = _reference_bootstrap(t, c, 2000, 7)
  assert got["n"] == want["n"] == 37
  for k in ("delta", "se", "ci_low", "ci_high", "p"):
    assert got[k] == pytest.approx(want[k], abs=TOL), k
  assert got["ci_low"] <= got["delta"] <= got["ci_high"]


def test_paired_bootstrap_chunking_does_not_change_the_draws(monkeypatch):
  rng = np.random.default_rng(2)
  t, c = rng.uniform(size=13), rng.uniform(size=13)
  whole = persistence_stats.paired_bootstrap(t, c, n_boot=500, seed=3)
  monkeypatch.setattr(stats, "CHUNK_INDICES", 40)  # 3 rows per chunk
  chunked = persistence_stats.paired_bootstrap(t, c, n_boot=500, seed=3)
  for k in whole:
    assert chunked[k] == pytest.approx(whole[k], abs=TOL), k


def test_paired_bootstrap_null_and_large_shift():
  x = np.linspace(0, 1, 20)
  same = persistence_stats.paired_bootstrap(x, x, n_boot=1000, seed=0)
  assert same["delta"] == 0 and same["p"] == 1.0
  rng = np.random.default_rng(3)
  c = rng.uniform(0.0, 0.5, size=100)
  t = c + 0.3 + rng.normal(0, 0.05, size=100)
  shift = persistence_stats.paired_bootstrap(t, c, n_boot=2000, seed=0)
  assert shift["p"] < 0.01
  assert shift["ci_low"] <= shift["delta"] <= shift["ci_high"]
  assert shift["delta"] == pytest.approx(float(np.mean(t - c)), abs=TOL)
  with pytest.raises(ValueError):
    persistence_stats.paired_bootstrap([1.0, 2.0], [1.0], n_boot=10)


def test_bh_qvalues_hand_computed():
  # sorted p 0.005, 0.01, 0.03, 0.04 -> m p / rank 0.02, 0.02, 0.04, 0.04 (already monotone)
  q = stats.bh_qvalues([0.01, 0.04, 0.03, 0.005])
  np.testing.assert_allclose(q, [0.02, 0.04, 0.04, 0.02], atol=TOL)
  assert stats.bh_qvalues([]).size == 0


def _recs(eval_name, scores, labels=None, start=0):
  labels = labels or [None] * len(scores)
  return [
    {"eval": eval_name, "id": f"p{start + i}", "sample": 0, "score": s, "refusal": lab}
    for i, (s, lab) in enumerate(zip(scores, labels))
  ]


META = {
  "a": {"family": "health", "tag": "health"},
  "b": {"family": "deception", "tag": "non_health"},
  "c": {"family": "sycophancy", "tag": "non_health"},
  "d": {"family": "mh", "tag": "mental_health"},
}


def test_compare_counts_and_q_values():
  n, n_boot = 30, 999
  treat = {
    "a": _recs("a", [1.0] * n),
    "b": _recs("b", [0.0] * n),
    "c": _recs("c", [0.5] * n),
    "d": _recs("d", [0.1] + [0.0] * (n - 1)),
  }
  ctrl = {
    "a": _recs("a", [0.0] * n),
    "b": _recs("b", [1.0] * n),
    "c": _recs("c", [0.5] * n),
    "d": _recs("d", [0.0] * n),
  }
  ctrl = {k: v[::-1] for k, v in ctrl.items()}  # pairing is by (id, sample), not by position
  c = stats.compare("t_vs_c", "t", "c", treat, ctrl, evals_meta=META, n_boot=n_boot, seed=0)
  assert (c["name"], c["treatment"], c["control"]) == ("t_vs_c", "t", "c")
  assert (c["n_evals"], c["wins"], c["losses"], c["ties"]) == (4, 2, 1, 1)
  assert (c["significant_wins"], c["significant_losses"], c["n_dropped"]) == (1, 1, 0)
  assert c["mean_delta_pp"] == pytest.approx(100 * (1 - 1 + 0 + 0.1 / n) / 4, abs=TOL)
  rows = {e["name"]: e for e in c["evals"]}
  a = rows["a"]
  assert (a["family"], a["tag"], a["treatment"], a["control"], a["delta"], a["n"]) == (
    "health",
    "health",
    1.0,
    0.0,
    1.0,
    n,
  )
  # a and b: every bootstrap mean equals delta -> p = 1 / (1 + B); BH with m = 4 gives 2 p.
  assert a["p"] == pytest.approx(1 / (1 + n_boot), abs=TOL)
  assert a["q_bh"] == pytest.approx(2 / (1 + n_boot), abs=TOL)
  assert rows["b"]["q_bh"] == pytest.approx(2 / (1 + n_boot), abs=TOL)
  assert rows["c"]["p"] == 1.0 and rows["c"]["q_bh"] == 1.0
  assert rows["d"]["q_bh"] > 0.05
  for e in c["evals"]:
    assert set(e) >= {
      "name",
      "family",
      "tag",
      "treatment",
      "control",
      "delta",
      "se",
      "ci_low",
      "ci_high",
      "p",
      "q_bh",
      "n",
    }
  flat = stats.compare(
    "t_vs_c",
    "t",
    "c",
    [r for v in treat.values() for r in v],
    [r for v in ctrl.values() for r in v],
    evals_meta=META,
    n_boot=n_boot,
    seed=0,
  )
  assert flat["evals"] == c["evals"]


def test_align_and_compare_raise_on_mismatched_prompts():
  t = _recs("a", [1.0, 0.0, 1.0])
  c = _recs("a", [1.0, 0.0, 1.0], start=1)
  with pytest.raises(ValueError, match="'a'"):
    stats.align(t, c)
  with pytest.raises(ValueError, match="'a'"):
    stats.compare("x", "t", "c", {"a": t}, {"a": c}, evals_meta=META, n_boot=10, seed=0)
  with pytest.raises(ValueError, match="'a'"):
    stats.align(t + t[:1], t + t[:1])
  with pytest.raises(ValueError, match="evals differ"):
    stats.compare("x", "t", "c", {"a": t}, {"b": t}, evals_meta=META, n_boot=10, seed=0)
  pairs = stats.align(t, t[::-1])
  assert [(x["id"], y["id"]) for x, y in pairs] == [("p0", "p0"), ("p1", "p1"), ("p2", "p2")]


def test_compare_neither_refused_drops_the_right_pairs():
  labels_t = ["refusal", "non_refusal", "partial", None, "non_refusal"]
  labels_c = ["non_refusal", "refusal", "non_refusal", None, "non_refusal"]
  treat = {
    "a": _recs("a", [0.0, 0.9, 0.8, 0.6, 0.7], labels_t),
    "b": _recs("b", [0.0, 1.0, 1.0], ["refusal", "non_refusal", "refusal"]),
  }
  ctrl = {
    "a": _recs("a", [1.0, 0.0, 0.5, 0.5, 0.4], labels_c),
    "b": _recs("b", [1.0, 0.0, 0.0], ["non_refusal", "non_refusal", "non_refusal"]),
  }
  c = stats.compare(
    "x", "t", "c", treat, ctrl, evals_meta=META, n_boot=200, seed=0, condition="neither_refused"
  )
  assert c["condition"] == "neither_refused"
  assert (c["n_evals"], c["n_dropped"], c["dropped"]) == (1, 1, ["b"])
  (a,) = c["evals"]
  # kept pairs: p2 (partial / non_refusal), p3 (None / None), p4
  assert a["n"] == 3
  assert a["treatment"] == pytest.approx((0.8 + 0.6 + 0.7) / 3, abs=TOL)
  assert a["control"] == pytest.approx((0.5 + 0.5 + 0.4) / 3, abs=TOL)
  assert a["delta"] == pytest.approx((0.3 + 0.1 + 0.3) / 3, abs=TOL)
  unconditioned = stats.compare("x", "t", "c", treat, ctrl, evals_meta=META, n_boot=200, seed=0)
  assert unconditioned["n_evals"] == 2 and unconditioned["evals"][0]["n"] == 5
  with pytest.raises(ValueError, match="condition"):
    stats.compare("x", "t", "c", treat, ctrl, evals_meta=META, n_boot=10, seed=0, condition="x")


def test_refusal_rates():
  meta = {
    "e1": {"family": "fam1", "tag": "health"},
    "e2": {"family": "fam2", "tag": "non_health"},
    "task": {"family": "capability", "tag": "non_health"},
  }
  recs = {
    "m": {
      "e1": _recs("e1", [0] * 4, ["refusal", "partial", "non_refusal", "non_refusal"]),
      "e2": _recs("e2", [0] * 2, ["refusal", "refusal"]),
      "task": _recs("task", [1.0] * 5),
    }
  }
  r = stats.refusal_rates(recs, meta)["m"]
  assert set(r) == {"fam1", "fam2", "all"}
  assert r["fam1"] == {"refusal": 0.25, "partial": 0.25, "non_refusal": 0.5, "n": 4}
  assert r["fam2"] == {"refusal": 1.0, "partial": 0.0, "non_refusal": 0.0, "n": 2}
  assert r["all"]["n"] == 6
  for k, v in (("refusal", 3 / 6), ("partial", 1 / 6), ("non_refusal", 2 / 6)):
    assert r["all"][k] == pytest.approx(v, abs=TOL)


def test_retention():
  clean, attacked = [1.0, 0.5, 0.5, 0.0], [0.5, 0.5, 0.0, 0.0]
  r = persistence_stats.retention(clean, attacked, n_boot=500, seed=0)
  assert (r["clean"], r["attacked"], r["retention"], r["n"]) == (0.5, 0.25, 0.5, 4)
  assert r["degradation"] == pytest.approx(0.25, abs=TOL)
  b = persistence_stats.paired_bootstrap(clean, attacked, n_boot=500, seed=0)
  assert (r["ci_low"], r["ci_high"], r["p"]) == (b["ci_low"], b["ci_high"], b["p"])
  assert r["ci_low"] <= 0.25 <= r["ci_high"]
  assert math.isnan(persistence_stats.retention([0.0, 0.0], [0.0, 0.0], n_boot=10)["retention"])


def test_degradation_difference():
  rng = np.random.default_rng(4)
  n = 40
  base_clean = rng.uniform(0.3, 0.5, n)
  base_att = base_clean - 0.25 + rng.normal(0, 0.02, n)
  trait_clean = rng.uniform(0.4, 0.5, n)
  trait_att = trait_clean - 0.10 + rng.normal(0, 0.02, n)
  d = persistence_stats.degradation_difference(
    base_clean, base_att, trait_clean, trait_att, n_boot=2000, seed=0
  )
  want = np.mean(base_clean - base_att) - np.mean(trait_clean - trait_att)
  assert d["diff"] == pytest.approx(want, abs=TOL)
  assert d["control_degradation"] == pytest.approx(np.mean(base_clean - base_att), abs=TOL)
  assert d["treatment_degradation"] == pytest.approx(np.mean(trait_clean - trait_att), abs=TOL)
  ref = _reference_bootstrap(base_clean - base_att, trait_clean - trait_att, 2000, 0)
  for k in ("se", "ci_low", "ci_high", "p"):
    assert d[k] == pytest.approx(ref[k], abs=TOL), k
  assert d["diff"] > 0 and d["ci_low"] > 0 and d["p"] < 0.01
  # A helpful persona lifting both models by the same amount: no difference.
  lift = persistence_stats.degradation_difference(
    base_clean, base_clean + 0.05, trait_clean, trait_clean + 0.05, n_boot=200, seed=0
  )
  assert lift["diff"] == pytest.approx(0.0, abs=TOL)
  assert lift["control_degradation"] == pytest.approx(-0.05, abs=TOL)
  with pytest.raises(ValueError):
    persistence_stats.degradation_difference([1.0], [1.0], [1.0, 0.0], [1.0, 0.0], n_boot=10)


def test_dose_response():
  scores = {50: [0.5, 1.0, 0.5, 0.0], 0: [1.0, 1.0, 0.5, 0.5], 25: [1.0, 1.0, 0.5, 0.0]}
  rows = persistence_stats.dose_response(scores, n_boot=300, seed=0)
  assert [r["dose"] for r in rows] == [0, 25, 50]
  assert rows[0]["degradation"] == 0 and rows[0]["p"] == 1.0
  assert [r["mean"] for r in rows] == [0.75, 0.625, 0.5]
  assert rows[2]["se"] == pytest.approx(persistence_stats.mean_se(scores[50])[1], abs=TOL)
  assert rows[1]["degradation"] == pytest.approx(0.125, abs=TOL)
  assert rows[2]["degradation"] == pytest.approx(0.25, abs=TOL)
  b = persistence_stats.paired_bootstrap(scores[0], scores[50], n_boot=300, seed=0)
  assert (rows[2]["ci_low"], rows[2]["ci_high"]) == (b["ci_low"], b["ci_high"])
  with pytest.raises(ValueError, match="dose 25"):
    persistence_stats.dose_response({0: [1.0, 0.0], 25: [1.0]}, n_boot=10)


# ---------------------------------------------------------------- clustered, seed-aware tests
def _pair_recs(eval_name, deltas, clusters, seed=None, samples=1, base=0.25):
  """Treatment / control records whose per-pair deltas are `deltas` (one prompt per entry)."""
  t, c = [], []
  for i, (d, cl) in enumerate(zip(deltas, clusters)):
    for k in range(samples):
      pid = f"q{i}" if seed is None else f"{seed}:q{i}"
      extra = {"cluster": cl} if cl is not None else {}
      if seed is not None:
        extra["seed"] = seed
      common = dict(eval=eval_name, id=pid, sample=k, refusal=None, **extra)
      t.append(dict(common, score=base + d))
      c.append(dict(common, score=base))
  return t, c


def _width(row):
  return row["ci_high"] - row["ci_low"]


def test_hierarchical_ci_equals_cluster_level_when_prompts_within_a_cluster_are_identical():
  rng = np.random.default_rng(5)
  n_clusters, per, n_boot = 12, 10, 4000
  cluster_delta = rng.uniform(-0.1, 0.3, n_clusters)
  names = [f"tpl{j}" for j in range(n_clusters)]
  # Every prompt of cluster j has the same delta: the prompts add no information.
  t, c = _pair_recs("a", np.repeat(cluster_delta, per), np.repeat(names, per))
  full = stats.compare("x", "t", "c", {"a": t}, {"a": c}, evals_meta=META, n_boot=n_boot)
  (row,) = full["evals"]
  assert row["n"] == n_clusters * per and row["n_clusters"] == n_clusters
  # The same clusters with one prompt each: the cluster-level CI, draw for draw.
  t1, c1 = _pair_recs("a", cluster_delta, names)
  (one,) = stats.compare("x", "t", "c", {"a": t1}, {"a": c1}, evals_meta=META, n_boot=n_boot)[
    "evals"
  ]
  for k in ("delta", "se", "ci_low", "ci_high", "p"):
    assert row[k] == pytest.approx(one[k], abs=1e-12), k
  # ... and about the classical bootstrap of the cluster means (Dirichlet vs multinomial
  # weights: sd ratio sqrt(n / (n + 1)) = 0.96), not the prompt-level one (sqrt(10) narrower).
  clusters = persistence_stats.bootstrap_mean(cluster_delta, n_boot=n_boot, seed=1)
  prompts = persistence_stats.bootstrap_mean(np.repeat(cluster_delta, per), n_boot=n_boot, seed=1)
  assert 0.85 < _width(row) / _width(clusters) < 1.1
  assert _width(row) > 2.5 * _width(prompts)
  # Without cluster ids every prompt is its own cluster: the prompt-level CI comes back.
  tn, cn = _pair_recs("a", np.repeat(cluster_delta, per), [None] * (n_clusters * per))
  (flat,) = stats.compare("x", "t", "c", {"a": tn}, {"a": cn}, evals_meta=META, n_boot=n_boot)[
    "evals"
  ]
  assert flat["n_clusters"] == n_clusters * per
  assert _width(flat) < 0.6 * _width(row)


def _seeded(per_seed_shift, n=40, noise=0.05, rng_seed=6):
  rng = np.random.default_rng(rng_seed)
  t, c = [], []
  for s, shift in enumerate(per_seed_shift):
    d = shift + rng.normal(0, noise, n)
    ts, cs = _pair_recs("a", d, [f"tpl{i % 8}" for i in range(n)], seed=s)
    t, c = t + ts, c + cs
  return stats.compare("x", "t", "c", {"a": t}, {"a": c}, evals_meta=META, n_boot=2000)


def test_seed_level_ci_widens_when_seeds_disagree():
  agree = _seeded([0.05, 0.05, 0.05])
  disagree = _seeded([0.0, 0.05, 0.10])
  one = _seeded([0.05])
  assert (agree["n_seeds"], disagree["n_seeds"], one["n_seeds"]) == (3, 3, 1)
  assert one["seed_ci"] is None and len(one["seed_deltas"]) == 1
  # seed_deltas: each seed's own mean delta (pp), in seed order; seed_ci: t-interval, 2 dof.
  x = np.array(disagree["seed_deltas"])
  assert x[0] < x[1] < x[2] and x.mean() == pytest.approx(disagree["mean_delta_pp"], abs=1e-9)
  half = scipy.stats.t.ppf(0.975, 2) * x.std(ddof=1) / math.sqrt(3)
  assert disagree["seed_ci"] == pytest.approx([x.mean() - half, x.mean() + half], abs=1e-9)
  assert disagree["seed_ci"][1] - disagree["seed_ci"][0] > 2 * (
    agree["seed_ci"][1] - agree["seed_ci"][0]
  )
  # Between-run variance enters the per-eval CI: three runs that disagree give a wider
  # interval than one run, although they hold three times the prompts.
  (a,), (d,), (o,) = agree["evals"], disagree["evals"], one["evals"]
  assert _width(d) > 1.5 * _width(a)
  assert _width(d) > 1.2 * _width(o)


def test_family_bh_on_a_known_p_vector():
  # Replicates built so that family p = (1 + k) / (1 + B), k draws at least |delta| off.
  n_boot = 99

  def reps(delta, k):
    off = np.full(n_boot, 0.1 * abs(delta))
    off[:k] = 2 * abs(delta)
    return delta + off

  fams = ["f1", "f1", "f2", "f3", "f4", "f5"]
  deltas = [0.2, 0.4, -0.1, 0.2, 0.1, 0.1]
  # Family f1 = mean of its two evals: each alone is all over the place, their mean is not.
  f1, swing = reps(0.3, 0), 0.5 * (-1.0) ** np.arange(n_boot)
  boot = np.stack(
    [f1 - 0.1 + swing, f1 + 0.1 - swing, reps(-0.1, 1), reps(0.2, 1), reps(0.1, 19), reps(0.1, 49)],
    axis=1,
  )
  rows = stats.family_tests(fams, deltas, boot)
  assert [r["name"] for r in rows] == ["f1", "f2", "f3", "f4", "f5"]
  assert [r["n_evals"] for r in rows] == [2, 1, 1, 1, 1]
  assert rows[0]["delta"] == pytest.approx(0.3, abs=TOL)
  np.testing.assert_allclose([r["p"] for r in rows], [0.01, 0.02, 0.02, 0.20, 0.50], atol=TOL)
  # BH, m = 5: m p / rank = 0.05, 0.05, 0.0333, 0.25, 0.5 -> running min from the top.
  np.testing.assert_allclose(
    [r["q_bh"] for r in rows], [1 / 30, 1 / 30, 1 / 30, 0.25, 0.5], atol=TOL
  )


def _families_case(shared_clusters):
  rng = np.random.default_rng(8)
  effect = {fam: rng.normal(0, 0.1, 10) for fam in ("up", "down", "flat")}
  treat, ctrl, meta = {}, {}, {}
  for e in range(6):
    name, fam = f"e{e}", ("up", "down", "flat")[e % 3]
    shift = {"up": 0.2, "down": -0.2, "flat": 0.0}[fam]
    d = shift + np.tile(effect[fam], 6) + rng.normal(0, 0.02, 60)
    tag = fam if shared_clusters else name
    t, c = _pair_recs(name, d, [f"{tag}{i % 10}" for i in range(60)], samples=2)
    treat[name], ctrl[name], meta[name] = t, c, {"family": fam, "tag": "non_health"}
  return stats.compare("x", "t", "c", treat, ctrl, evals_meta=meta, n_boot=1000, seed=3)


def test_compare_reports_families_seeds_and_effective_evals():
  r = _families_case(shared_clusters=True)
  assert [f["name"] for f in r["families"]] == ["down", "flat", "up"]
  assert (r["significant_families_up"], r["significant_families_down"]) == (1, 1)
  up = r["families"][2]
  assert up["delta"] == pytest.approx(np.mean([e["delta"] for e in r["evals"][::3]]), abs=TOL)
  assert up["ci"][0] < up["delta"] < up["ci"][1]
  assert r["n_seeds"] == 1 and r["seed_ci"] is None
  assert r["seed_deltas"] == [pytest.approx(r["mean_delta_pp"], abs=1e-9)]
  # The two evals of a family share templates with the same effects: they move together,
  # 3 families' worth of evidence; with templates of their own they count as 6.
  assert 3 - 1e-9 <= r["n_effective_evals"] < 4.0
  assert _families_case(shared_clusters=False)["n_effective_evals"] > 5.7


def test_effective_number_galwey():
  rng = np.random.default_rng(9)
  z = rng.normal(size=(4000, 1))
  same = np.hstack([z, z, z, rng.normal(size=(4000, 1))])  # eigenvalues 3, 1, 0, 0
  assert stats.effective_number(same) == pytest.approx((math.sqrt(3) + 1) ** 2 / 4, abs=0.03)
  rho = 0.6  # two evals of correlation rho count 1 + sqrt(1 - rho^2) = 1.8
  x = rng.normal(size=4000)
  pair = np.stack([x, rho * x + math.sqrt(1 - rho**2) * rng.normal(size=4000)], axis=1)
  assert stats.effective_number(pair) == pytest.approx(1.8, abs=0.03)
  assert stats.effective_number(rng.normal(size=(4000, 10))) == pytest.approx(10, abs=0.1)
  with_constant = np.hstack([same, np.zeros((4000, 2))])  # constant columns count 1 each
  assert stats.effective_number(with_constant) == pytest.approx(
    stats.effective_number(same) + 2, abs=TOL
  )


def test_hierarchical_chunking_does_not_change_the_draws(monkeypatch):
  rng = np.random.default_rng(10)
  t, c = _pair_recs("a", rng.normal(0.1, 0.2, 30), [f"tpl{i % 4}" for i in range(30)], samples=2)
  whole = stats.compare("x", "t", "c", {"a": t}, {"a": c}, evals_meta=META, n_boot=300)
  monkeypatch.setattr(stats, "CHUNK_INDICES", 70)  # 2 replicate rows per chunk
  chunked = stats.compare("x", "t", "c", {"a": t}, {"a": c}, evals_meta=META, n_boot=300)
  for k in ("se", "ci_low", "ci_high", "p"):
    assert chunked["evals"][0][k] == pytest.approx(whole["evals"][0][k], abs=TOL), k
