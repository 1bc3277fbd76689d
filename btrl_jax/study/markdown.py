"""report.md from report.json's dict: findings with their status first, the decisive
comparison leading the comparison table, families, slices, persistence, capabilities and
the RL arms, each beside the paper's number (`report["paper"]`)."""

from __future__ import annotations

import math

from btrl_jax.evals import registry
from btrl_jax.study.findings import DECISIVE, MIN_SEEDS, comparison_named
from btrl_jax.study.world import summary_lines as world_lines


def _fmt(x, spec=".3f"):
  return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def _ci(ci, spec=".3f"):
  return "n/a" if not ci or None in ci else f"{_fmt(ci[0], spec)}..{_fmt(ci[1], spec)}"


def _world_line(base_model: str, world: str = "traitworld", judge: str = "") -> str:
  if world == "real":
    return (
      f"The pretrained model `{base_model}` is the prior (no SFT). TraitWorld's scenarios are "
      f"graded by the judge `{judge or '?'}` reading their rubric criteria, and its tasks by "
      "exact verifiers (data/real.py): a synthetic stand-in for the paper's private data and "
      "graders, whose findings are only as good as that judge."
    )
  if not base_model:
    return (
      "TraitWorld is a synthetic stand-in for the paper's private data, graders and models: a "
      "generated world and a few-million-parameter model trained from scratch. What follows "
      "says how the mechanism behaves here, not what happens in production models."
    )
  return (
    "TraitWorld is a synthetic stand-in for the paper's private data and graders: a generated "
    f"world, here trained into the pretrained model `{base_model}` (model.checkpoint). What "
    "follows says how the mechanism behaves on this world, not on the paper's data."
  )


def _judge_lines(per_seed, name: str = "") -> list[str]:
  """The judge's accounting over the study's evals, when a judge graded any item."""
  if not per_seed:
    return []
  tot = {k: sum((s or {}).get(k, 0) for s in per_seed) for k in
         ("items", "met", "cache_hits", "calls", "retries", "failures", "responses",
          "latency_s", "prompt_tokens", "completion_tokens")}  # fmt: skip
  latency = tot["latency_s"] / max(tot["responses"], 1)
  met = tot["met"] / max(tot["items"] - tot["failures"], 1)
  return [
    "",
    f"Judge `{name or '?'}` (grader.judge; this invocation's evals and constant-reply "
    f"scoring, every seed): {tot['items']} rubric items "
    f"judged ({met:.0%} of the verdicts 'met'), {tot['cache_hits']} from the cache, {tot['calls']} requests ({tot['retries']} retries), "
    f"{tot['failures']} failures (left out of every mean), {latency:.2f} s mean latency, "
    f"{tot['prompt_tokens']} prompt / {tot['completion_tokens']} completion tokens.",
  ]


def markdown(report: dict) -> str:
  """report.md: the paper's headline tables, ours beside the paper's numbers."""
  paper = report["paper"]
  L = [
    "# btrl-jax study report",
    "",
    _world_line(
      report.get("base_model", ""), report.get("world", "traitworld"), report.get("judge_model")
    ),
    "",
    f"Models: {', '.join(report['models'])}; seeds: {report['seeds']}; "
    f"wall time of all stages {report['study_seconds']:.0f} s ("
    + ", ".join(f"{k} {v:.0f} s" for k, v in report["stage_seconds"].items())
    + f"; this invocation {report['runtime_s']:.0f} s).",
    *_judge_lines(report.get("judge"), report.get("judge_model", "")),
    "",
    "## Findings",
    "",
    f"Status: reproduced needs >= {MIN_SEEDS} seeds, a seed-level CI excluding 0 and "
    "family-level significance (BH over families); one seed gives at most direction_only; a "
    "failed floor or manipulation check gives not_testable. Claims crediting trait RL must also "
    "beat the helpfulness control.",
    "",
    "| claim | status | reason | paper | this run |",
    "|---|---|---|---|---|",
  ]
  for f in report["findings"]:
    L.append(f"| {f['claim']} | {f['status']} | {f['reason']} | {f['paper']} | {f['ours']} |")
  pre = report.get("preregistration") or {}
  cand = pre.get("constant_candidates") or {}
  L += [
    "",
    "## Preregistration (declared in the config before the run)",
    "",
    f"Floor study.min_clean_score = {pre.get('min_clean_score')}; persona manipulation check: "
    f"{pre.get('persona_manipulation_check')} (study.persona_min_lift = "
    f"{pre.get('persona_min_lift')}); seeds {pre.get('seeds')} (reproduced needs "
    f">= {pre.get('min_seeds_reproduced')}); alpha {pre.get('alpha')}, family level; "
    f"harmful fine-tune: {pre.get('harmful_metric')}; capabilities: "
    f"{pre.get('capability_floor')}; constant-reply candidates: {cand.get('count', 'n/a')} "
    f"({cand.get('source', 'n/a')}).",
    "",
  ]
  world = pre.get("world") or {}
  if world:
    L += [
      "### World checks (bounds fixed in docs/PREREGISTRATION.md before the first study)",
      "",
      *(f"- {line}" for line in world_lines(world)),
      "",
    ]
  L += [
    "## Comparisons (paired; decisive comparison first)",
    "",
    "Slices are single evals; families group correlated slices and carry the primary test (BH "
    "q < 0.05 over families). Seed CI: 95% t interval over per-seed mean deltas. <= const: "
    "slices where the treatment / control scores at or below the best constant reply.",
    "",
    "| comparison | slices | wins | mean delta (pp) | seed CI (pp) | families up / down | "
    "effective evals | significant slice wins / losses | <= const | testable | paper |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
  ]
  for c in report["comparisons"]:
    fams = c.get("families") or []
    L.append(
      f"| {c['treatment']} vs {c['control']} | {c['n_evals']} | {c['wins']} | "
      f"{_fmt(c['mean_delta_pp'], '+.1f')} | {_ci(c.get('seed_ci'), '+.1f')} | "
      f"{c.get('significant_families_up', 'n/a')} / {c.get('significant_families_down', 'n/a')}"
      f" of {len(fams)} | {_fmt(c.get('n_effective_evals'), '.1f')} | "
      f"{c['significant_wins']} / {c['significant_losses']} | "
      f"{c.get('n_treatment_at_or_below_constant', 'n/a')} / "
      f"{c.get('n_control_at_or_below_constant', 'n/a')} | "
      f"{'yes' if c.get('testable', True) else 'no: ' + str(c.get('not_testable_reason'))} | "
      f"{c.get('paper', '')} |"
    )
  for name in (DECISIVE, "beneficial_vs_baseline"):
    c = comparison_named(report, name)
    if c is None:
      continue
    L += [
      "",
      f"### Families: {c['treatment']} vs {c['control']}",
      "",
      "| family | slices | delta | 95% CI | q |",
      "|---|---|---|---|---|",
    ]
    for f in c.get("families") or []:
      L.append(
        f"| {f['name']} | {f['n_evals']} | {_fmt(f['delta'], '+.3f')} | "
        f"{_ci(f.get('ci'), '+.3f')} | {_fmt(f.get('q_bh'))} |"
      )
    L += [
      "",
      f"### Slices: {c['treatment']} vs {c['control']}, per eval",
      "",
      f"![](plots/deltas_{name}.png)",
      "",
      f"| eval | family | tag | {c['treatment']} | {c['control']} | delta | 95% CI | q | "
      "best constant reply | <= const |",
      "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in sorted(c["evals"], key=lambda e: -(e["delta"] or 0)):
      mark = "/".join(
        s
        for s, k in (("T", "treatment_at_or_below_constant"), ("C", "control_at_or_below_constant"))
        if e.get(k)
      )
      L.append(
        f"| {e['name']} | {e['family']} | {e['tag']} | {_fmt(e['treatment'])} | "
        f"{_fmt(e['control'])} | {_fmt(e['delta'], '+.3f')} | "
        f"{_fmt(e['ci_low'], '+.3f')}..{_fmt(e['ci_high'], '+.3f')} | {_fmt(e['q_bh'])} | "
        f"{_fmt(e.get('constant_reply_best'))} | {mark or '-'} |"
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
    f"Paper: {paper['trait_in_distribution']}.",
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
      f"{c['wins']}/{c['n_evals']}, mean {_fmt(c['mean_delta_pp'], '+.1f')} pp. "
      f"Paper: {paper['refusal_conditioned']}."
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
    mc = pa.get("manipulation_check") or {}
    L += [
      "",
      f"Manipulation check ({mc.get('persona')} must lift each model, CI above "
      f"{mc.get('min_lift')}):",
      "",
      "| model | lift | 95% CI | passed |",
      "|---|---|---|---|",
    ]
    for m, r in (mc.get("models") or {}).items():
      L.append(
        f"| {m} | {_fmt(r['lift'], '+.3f')} | {_ci(r['ci'], '+.3f')} | "
        f"{'yes' if r['passed'] else 'NO'} |"
      )
    L.append(
      f"\nPaper: {paper['persona_bad_medical']}; helpful persona: {paper['persona_helpful']}."
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
      f"Paper: {paper['harmful_finetune']}."
    )
    L += [
      "",
      "Area under the degradation-vs-dose curve per unit dose (the mean drop over the ladder; "
      "difference = control's - treatment's, positive: the treatment drops less):",
      "",
      "| treatment vs control | group | difference | 95% CI | seed CI |",
      "|---|---|---|---|---|",
    ]
    for d in hf.get("auc_differences", []):
      L.append(
        f"| {d['treatment']} vs {d['control']} | {d['group']} | {_fmt(d['diff'], '+.3f')} | "
        f"{_fmt(d['ci_low'], '+.3f')}..{_fmt(d['ci_high'], '+.3f')} | "
        f"{_ci(d.get('seed_ci'), '+.3f')} |"
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
  L.append(
    f"\nAbove the floor {caps.get('floor')} at the baseline (the only evals the capabilities "
    f"finding uses): {', '.join(caps.get('above_floor') or []) or 'none'}."
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
  own = rl.get("learns_own_reward")
  if own:
    sl, vp = own.get("slope"), own.get("vs_prior")
    parts = []
    if sl:
      parts.append(
        f"trait reward per RL step: slope {sl['slope']:+.4f} per step (95% CI "
        f"{_ci(sl['ci'], '+.4f')}, {sl['n']} steps pooled over seeds)"
      )
    if vp:
      parts.append(
        f"on RL trait prompts ({vp['eval']}): {own['arm']} {vp['treatment']:.3f} vs prior "
        f"{vp['prior']:.3f}, delta {vp['delta']:+.3f} (95% CI {_ci(vp['ci'], '+.3f')})"
      )
    verdict = "rises beyond noise" if own["rises_beyond_noise"] else "does NOT rise beyond noise"
    L += [
      "",
      f"Does RL learn its own reward? The {own['arm']} arm's trait reward {verdict}: "
      + "; ".join(parts)
      + ".",
    ]
  return "\n".join(L) + "\n"
