"""TraitWorld 2's design checks (issue 14): constructs kept apart, independent latent axes,
a control that rewards instruction following only, and no cheap exploit."""

import itertools

import numpy as np
import pytest

from btrl_jax import presets
from btrl_jax.data import constructs, helpfulness, moves, personas, scenarios, world_checks
from btrl_jax.data.rubric import grade, positive_moves
from btrl_jax.evals import constant, registry


def test_rubric_overlap_of_alignment_evals_with_training_rubrics_is_bounded():
  out = world_checks.rubric_overlap()
  assert len(out["per_template"]) == len(scenarios.templates("eval", constructs=True)) >= 50
  assert out["max"] <= world_checks.BOUNDS["overlap_max"], sorted(
    out["per_template"].items(), key=lambda kv: -kv[1][0]
  )[:3]
  assert out["passed"]


def test_overlap_measure_sees_a_rubric_that_credits_trained_moves():
  """The measure is not vacuous: an eval rubric crediting a trained move alone scores."""
  tpl = scenarios.templates("eval", constructs=True)[0]
  leaky = list(tpl.rubric) + [
    {"criterion": "x", "points": 5.0, "tags": [], "check": {"any": ["explain_reasoning"]}}
  ]
  assert world_checks._score_with(leaky, {"explain_reasoning"}) > 0.2


def test_alignment_and_trait_evals_are_separate_sets():
  for name in registry.ALIGNMENT_EVALS:
    s = registry.EVALS[name]
    if s.kind == "rubric":
      tpls = registry._templates(s)
      assert tpls and all(t.construct for t in tpls), name
  for name in registry.TRAIT_EVALS:
    assert all(not t.construct for t in registry._templates(registry.EVALS[name])), name
  # every alignment family that TraitWorld 1 sliced from trait templates is a construct now
  assert {c.family for c in constructs.CONSTRUCTS} >= {
    registry.EVALS[n].family for n in registry.ALIGNMENT_EVALS if registry.EVALS[n].kind == "rubric"
  } - {"health", "mental_health", "emotional_reliance"}


def test_no_training_rubric_names_a_construct_move():
  train = set().union(*(positive_moves(t.rubric) for t in scenarios.templates("train")))
  assert not train & (constructs.KEY_MOVES | constructs.BAD_MOVES)


def test_construct_prior_templates_are_never_rl_prompts():
  rl = scenarios.generate_scenarios("train", 400, seed=3)
  assert not any(s.get("construct") for s in rl)
  prior = scenarios.generate_construct_scenarios("train", 60, seed=3)
  assert {s["construct"] for s in prior} == set(constructs.BY_ID)
  assert all(s["split"] == "train" and ".prior." in s["template"] for s in prior)


def test_key_move_scores_only_with_the_name_of_the_person_in_the_prompt():
  ex = registry.examples("deception_research", 1, seed=0)[0]
  c = constructs.construct(ex["construct"])
  rng = np.random.default_rng(0)
  right = moves.render_move(c.id, ex["slots"], rng)
  wrong = moves.render_move(c.id, dict(ex["slots"], name="zzzorb"), rng)
  assert grade(right, ex["rubric"]).score >= 0.5
  assert grade(wrong, ex["rubric"]).score == 0.0
  other = next(o for o in constructs.CONSTRUCTS if o.id != c.id)
  stacked = right + " " + moves.render_move(other.id, ex["slots"], rng)
  assert grade(stacked, ex["rubric"]).score == 0.0  # incoherent: about another situation


def test_helpfulness_rubric_moves_score_in_no_trait_or_eval_rubric():
  fmt = set(moves.FORMAT_MOVES)
  for tpl in scenarios.TEMPLATES.values():
    named = set().union(*(_named(it["check"]) for it in tpl.rubric))
    assert not named & fmt, tpl.id
  for ask in helpfulness.ASKS:
    assert positive_moves(helpfulness.helpfulness_rubric(ask)) == {ask}


def _named(check):
  ((op, arg),) = check.items()
  if op in ("any", "all", "none"):
    return set(arg)
  if op in ("and", "or"):
    return set().union(*(_named(c) for c in arg))
  if op == "not":
    return _named(arg)
  return set()


def test_helpfulness_rubric_follows_the_prompt_ask():
  s = scenarios.generate_scenarios("train", 5, seed=1)[0]
  rub = helpfulness.helpfulness_rubric(s["ask"])
  rng = np.random.default_rng(0)
  asked = moves.render_move(
    s["ask"], s["slots"] | {"topic": "x", "entity": "y", "authority": "z"}, rng
  )
  other = next(m for m in moves.FORMAT_MOVES if m != s["ask"])
  wrong = moves.render_move(other, {"topic": "x", "entity": "y", "authority": "z"}, rng)
  assert grade(asked, rub).score == 1.0
  assert grade(wrong, rub).score == 0.0
  assert grade("I have to decline this request.", rub).score == 0.0
  assert any(s["messages"][-1]["content"].endswith(t) for t in helpfulness.all_ask_texts("train"))


def test_persona_axes_are_crossed_and_independent_in_the_mixture():
  levels = [dict(p.levels) for p in personas.PERSONAS]
  assert len(levels) == 8
  assert {tuple(lv[a] for a in personas.AXES) for lv in levels} == set(
    itertools.product((True, False), repeat=3)
  )
  w = personas.mixture_weights()
  for a, b in itertools.combinations(personas.AXES, 2):
    pa = sum(wi for wi, lv in zip(w, levels) if lv[a])
    pb = sum(wi for wi, lv in zip(w, levels) if lv[b])
    pab = sum(wi for wi, lv in zip(w, levels) if lv[a] and lv[b])
    assert pab == pytest.approx(pa * pb)


def test_propensities_differ_by_situation_not_one_scalar():
  unprincipled = personas.persona("unprincipled_helpful_careful")
  principled = personas.persona("principled_helpful_careful")
  cave = "flatter_agree"
  assert unprincipled.propensity(cave, "pressure") > unprincipled.propensity(cave, "advice")
  assert principled.propensity(cave, "pressure") == principled.propensity(cave, "advice")
  rash = personas.persona("principled_helpful_careless")
  assert rash.propensity("risky_action", "agentic") > rash.propensity("risky_action", "advice")
  # the axes are separable: a helpful-but-unprincipled writer follows asks and fabricates
  hu = personas.persona("unprincipled_helpful_careful")
  pt = personas.persona("principled_terse_careful")
  assert hu.propensity("fabricate_citation") > pt.propensity("fabricate_citation")
  assert hu.propensity("fmt_steps") > pt.propensity("fmt_steps")


def test_control_reward_is_independent_of_the_trait_score_at_prior_like_mixtures():
  out = world_checks.latent_independence(n=1200, seed=0, mixtures=300)
  bound = world_checks.BOUNDS["control_trait_corr_max"]
  assert abs(out["mixture_corr"]) <= bound, out["mixture_corr"]
  assert abs(out["reply_corr"]) <= bound, out["reply_corr"]
  per = out["per_persona"]
  helpful = [v["control"] for k, v in per.items() if "_helpful_" in k]
  terse = [v["control"] for k, v in per.items() if "_terse_" in k]
  assert min(helpful) > max(terse)  # the control's reward does separate personas: by the ask
  principled = [v["trait"] for k, v in per.items() if k.startswith("principled")]
  unprincipled = [v["trait"] for k, v in per.items() if k.startswith("unprincipled")]
  assert np.mean(principled) > np.mean(unprincipled) + 0.1


def test_best_constant_reply_over_the_default_eval_suite_is_at_most_005():
  cfg = presets.study()
  rubric = [n for n in registry.ALIGNMENT_EVALS if registry.EVALS[n].kind == "rubric"]
  suite = {n: registry.examples(n, cfg.eval.size, cfg.seed) for n in rubric}
  best = constant.best_constant(suite, constant.candidates(cfg))
  mean = float(np.mean([best[n]["score"] for n in rubric]))
  assert mean <= world_checks.BOUNDS["constant_mean_max"], sorted(
    ((b["score"], n) for n, b in best.items()), reverse=True
  )[:5]


# ------------------------------------------------------------- at the prior (study/world.py)
def _rec(eval_name, rid, score, sample=0, prompt="", reply="", seed=0):
  return dict(
    eval=eval_name, id=rid, score=score, sample=sample, prompt=prompt, reply=reply, seed=seed
  )


def test_at_prior_checks_read_family_means_dead_groups_and_the_constant():
  from btrl_jax.study import world

  fams = {}
  for n in registry.ALIGNMENT_EVALS:
    fams.setdefault(registry.EVALS[n].family, []).append(n)
  prior = {n: [_rec(n, "a", 0.5), _rec(n, "b", 0.3)] for n in registry.ALIGNMENT_EVALS}
  low = fams["sycophancy"]
  for n in low:  # one family at 0.1: outside [0.15, 0.85]
    prior[n] = [_rec(n, "a", 0.1), _rec(n, "b", 0.1)]
  s = scenarios.generate_scenarios("train", 3, seed=0)
  texts = [x["messages"][-1]["content"] for x in s]
  asked = [
    moves.render_move(
      x["ask"],
      x["slots"] | {"topic": "t", "entity": "e", "authority": "a"},
      np.random.default_rng(0),
    )
    for x in s
  ]
  prior["trait_train"] = [
    # prompt 0: 4 samples, all 0.2 (dead); prompt 1: 0.0 and 1.0; prompt 2: 0.5 twice (dead)
    *[_rec("trait_train", "p0", 0.2, k, texts[0], asked[0]) for k in range(4)],
    _rec("trait_train", "p1", 0.0, 0, texts[1], "nothing"),
    _rec("trait_train", "p1", 1.0, 1, texts[1], asked[1]),
    *[_rec("trait_train", "p2", 0.5, k, texts[2], "nothing") for k in range(2)],
  ]
  const = {n: 0.02 for n in registry.ALIGNMENT_EVALS}
  out = world.at_prior(prior, const, n_boot=50, seed=0)
  assert out["family_means"]["outside"] == ["sycophancy"] and not out["family_means"]["passed"]
  assert out["family_means"]["values"]["deception"] == pytest.approx(0.4)
  assert out["dead_groups"]["share"] == pytest.approx(2 / 3) and not out["dead_groups"]["passed"]
  assert out["constant"]["passed"] and out["constant"]["mean_over_rubric_evals"] == 0.02
  cc = out["control_trait_corr"]
  assert cc["n"] == 8 and cc["control_mean"] == pytest.approx(5 / 8)
  assert [world.ask_of(t) for t in texts] == [x["ask"] for x in s]
  ne = out["n_effective_evals"]
  assert ne["constant_evals"] == len(low) and ne["n_effective"] > 1  # sycophancy: all 0.1
  flat = {n: [_rec(n, "a", 0.0), _rec(n, "b", 0.0)] for n in registry.ALIGNMENT_EVALS}
  flat[low[0]] = [_rec(low[0], "a", 0.0), _rec(low[0], "b", 1.0)]
  assert world.n_effective(flat, 50, 0) == {
    "constant_evals": len(registry.ALIGNMENT_EVALS) - 1,
    "n_effective": 1.0,
  }
  const_bad = dict(const, **{n: 0.5 for n in low})
  assert not world.at_prior(prior, const_bad, n_boot=50, seed=0)["constant"]["passed"]
