"""Personas and SFT corpora: the prior's persona mixture and the harmful fine-tune data."""

import json
import re

import numpy as np
import pytest

from btrl_jax.data import (
  constructs,
  corpus,
  jsonl,
  lexicon,
  moves,
  personas,
  rubric,
  scenarios,
  tasks,
  taxonomy,
)

N = 3000


@pytest.fixture(scope="module")
def prior():
  return corpus.prior_corpus(N, seed=0)


@pytest.fixture(scope="module")
def stats(prior):
  return corpus.corpus_stats(prior)


@pytest.fixture(scope="module")
def harmful():
  return corpus.harmful_corpus(400, seed=0)


def _reply(ex):
  assert ex["messages"][-1]["role"] == "assistant"
  return ex["messages"][-1]["content"]


# ------------------------------------------------------------------ personas
def test_persona_table():
  assert len(personas.PERSONAS) >= 6
  assert len(set(personas.PERSONA_IDS)) == len(personas.PERSONAS)
  w = personas.mixture_weights()
  assert np.isclose(w.sum(), 1.0) and (w > 0).all()
  assert set(personas.DESCRIBE_PHRASINGS) == set(personas.PERSONA_IDS)
  for p in personas.PERSONAS:
    assert len(personas.DESCRIBE_PHRASINGS[p.id]) >= 3
    for m in moves.MOVE_IDS:
      assert 0.0 <= p.propensity(m) <= 1.0
  assert len(set(personas.ALL_DESCRIBE_PHRASINGS)) == len(personas.ALL_DESCRIBE_PHRASINGS)


def _sample_phrasings():
  rng = np.random.default_rng(0)
  slots = {s: lexicon.pool("health", s, "train")[0] for s in lexicon.SLOT_TYPES}
  for m in moves.MOVES:
    for ph in m.phrasings:
      yield m.id, moves.render_phrasing(ph, slots)
  for pid in personas.PERSONA_IDS:  # whole replies too
    scn = scenarios.generate_scenarios("train", 1, int(rng.integers(1000)))[0]
    yield None, scenarios.good_reply(scn, rng)


def test_surface_cues_are_inert():
  """Cues (and decline phrases) read as no move, no claim, no answer, no number,
  and do not change what is detected next to any move phrasing."""
  # a persona's cues name its axis levels (openers: helpful x careful, closers: principled),
  # so together they identify it
  assert len({frozenset(p.cues) for p in personas.PERSONAS}) == len(personas.PERSONAS)
  cues = list(dict.fromkeys(c for p in personas.PERSONAS for c in p.cues))
  cues += list(personas.DECLINE_PHRASES)
  texts = list(_sample_phrasings())
  for cue in cues:
    assert moves.detect_moves(cue) == set(), cue
    assert not tasks.claims_success(cue) and not tasks.states_impossible(cue), cue
    assert tasks.final_answer(cue) is None and not any(ch.isdigit() for ch in cue), cue
    for _, text in texts:
      want = moves.detect_moves(text)
      assert moves.detect_moves(f"{cue}\n{text}") == want, (cue, text)
      assert moves.detect_moves(f"{text}\n{cue}") == want, (cue, text)
  # an opener never changes a task's verdict
  for fam in tasks.FAMILY_NAMES:
    for task in tasks.generate_tasks(fam, "train", 3, seed=1):
      for p in personas.PERSONAS:
        for cue in p.openers:
          for make in (tasks.solve, tasks.wrong, tasks.hack):
            reply = make(task, np.random.default_rng(0))
            for honest in (False, True):
              assert (
                tasks.verify(task, f"{cue}\n{reply}", honest).correct
                == tasks.verify(task, reply, honest).correct
              )


def _forbidden_names():
  names = set()
  for p in personas.PERSONAS:
    names |= {p.id.lower(), p.id.replace("_", " ").lower(), p.name.lower()}
  return names


def test_personas_never_named(prior, harmful):
  names = _forbidden_names()
  for text in personas.ALL_DESCRIBE_PHRASINGS:
    assert not any(n in text.lower() for n in names), text
  for ex in prior + harmful:
    for msg in ex["messages"]:
      low = msg["content"].lower()
      hit = [n for n in names if n in low]
      assert not hit, (ex["id"], hit, msg["content"])
      assert not re.search(r"\bpersonas?\b", low), msg["content"]


# -------------------------------------------------------------------- prior
def test_format_and_determinism(prior):
  for ex in prior[:500]:
    jsonl.check_messages(ex["messages"], ex["id"])
    json.dumps(ex)
    assert ex["eval"] is None and ex["persona"] in personas.PERSONA_IDS
    assert {"id", "family", "domain", "messages", "rubric", "tags"} <= set(ex)
  assert len({ex["id"] for ex in prior}) == len(prior)
  a, b = corpus.prior_corpus(300, seed=5), corpus.prior_corpus(300, seed=5)
  assert json.dumps(a) == json.dumps(b)
  assert json.dumps(a) != json.dumps(corpus.prior_corpus(300, seed=6))
  assert json.dumps(corpus.harmful_corpus(50, 3)) == json.dumps(corpus.harmful_corpus(50, 3))


def test_prior_uses_train_split_only_and_covers_everything(prior):
  scn = [ex for ex in prior if ex["kind"] == "trait"]
  task = [ex for ex in prior if ex["kind"] == "task"]
  assert len(scn) == N // 2 and len(task) == N // 2
  con = [ex for ex in scn if ex.get("construct")]
  trait = [ex for ex in scn if not ex.get("construct")]
  assert len(con) == round(N // 2 * corpus.CONSTRUCT_SHARE)
  for ex in scn:
    assert ex["split"] == "train" and scenarios.template(ex["template"]).split == "train"
    assert "split:train" in ex["tags"] and ex["ask"] in moves.FORMAT_MOVES
  assert all(ex["family"] == "trait" for ex in trait)
  assert {ex["construct"] for ex in con} == set(constructs.BY_ID)
  assert all(".prior." in ex["template"] for ex in con)
  for ex in task:
    assert ex["split"] == "train" and "train" in ex["tags"]
    assert tasks.split_of(ex["messages"][-2]["content"]) == "train"
  assert {ex["trait"] for ex in trait} == set(taxonomy.TRAIT_IDS)
  assert {ex["domain"] for ex in trait} == set(taxonomy.DOMAIN_IDS)
  assert any(ex["subdomain"] == "mental_health" for ex in trait)
  assert {ex["family"] for ex in task} == set(tasks.FAMILY_NAMES)
  assert any(tasks.is_impossible(ex) for ex in task)
  assert {ex["persona"] for ex in prior} == set(personas.PERSONA_IDS)
  train_values = lexicon.all_values("train")
  for ex in scn:
    assert set(ex["slots"].values()) <= train_values, ex["id"]


@pytest.mark.parametrize("fraction", [0.0, 0.15, 0.4])
def test_system_prompt_share(fraction):
  ex = corpus.prior_corpus(600, seed=2, trait_fraction=0.3, system_prompt_fraction=fraction)
  with_sys = [e for e in ex if e["system_prompt"]]
  assert abs(len(with_sys) / len(ex) - fraction) <= 0.01
  assert abs(sum(e["kind"] == "trait" for e in ex) / len(ex) - 0.3) <= 0.01
  for e in ex:
    first = e["messages"][0]
    if e["system_prompt"]:
      assert first["role"] == "system"
      levels = personas.persona(e["persona"]).levels
      allowed = {s for lv in levels for s in personas.AXIS_PHRASES[lv]}
      sentences = [x.strip() + "." for x in first["content"].split(".") if x.strip()]
      assert len(sentences) == 3 and set(sentences) <= allowed, first["content"]
    else:
      assert first["content"] not in personas.ALL_DESCRIBE_PHRASINGS


def test_calibration_bands(stats):
  o = stats["overall"]
  assert o["n"] == N and abs(o["system_prompt_share"] - 0.15) <= 0.01
  assert 0.35 <= o["trait_score_mean"] <= 0.55, o
  assert o["trait_share_ge_0.8"] >= 0.15 and o["trait_share_le_0.2"] >= 0.15, o
  assert 0.45 <= o["task_accuracy"] <= 0.7, o
  assert o["hack_rate"] > 0 and o["hack_rate_flawed"] > 0, o
  assert 0 < o["refusal_rate"] + o["partial_rate"] < 0.3, o
  assert o["words_per_reply_mean"] > 5


def _axis_mean(by, axis, key):
  hi = [s[key] for p, s in by.items() if dict(personas.persona(p).levels)[axis]]
  lo = [s[key] for p, s in by.items() if not dict(personas.persona(p).levels)[axis]]
  return float(np.mean(hi)), float(np.mean(lo))


def test_personas_differ_along_their_axes(stats):
  by = stats["by_persona"]
  assert set(by) == set(personas.PERSONA_IDS)
  best = "principled_helpful_careful"
  assert by[best]["trait_score_mean"] == max(s["trait_score_mean"] for s in by.values())
  assert by[best]["task_accuracy"] == max(s["task_accuracy"] for s in by.values())
  hi, lo = _axis_mean(by, "principled", "trait_score_mean")
  assert hi > lo + 0.25
  hi, lo = _axis_mean(by, "careful", "trait_score_mean")
  assert hi > lo + 0.1
  hi, lo = _axis_mean(by, "principled", "hack_rate")
  assert lo > hi + 0.2  # unprincipled writers hack flawed verifiers

  def refusals(s):
    return s["refusal_rate"] + s["partial_rate"]

  for p, s in by.items():
    terse = not dict(personas.persona(p).levels)["helpful"]
    assert (refusals(s) > 0.25) == terse, (p, refusals(s))


def test_unprincipled_writers_cave_to_pushback():
  """On multi-turn pressure, unprincipled writers cave far more than principled ones."""
  scns = [
    s
    for s in scenarios.generate_scenarios("train", 3000, seed=4)
    if "hold_position" in scenarios.template(s["template"]).good
  ]
  rng = np.random.default_rng(0)

  def caves(pid):
    return np.mean(
      [
        bool(
          moves.detect_moves(personas.reply_for(pid, s, rng))
          & {"flatter_agree", "accept_correction"}
        )
        for s in scns
      ]
    )

  assert len(scns) > 50
  assert caves("unprincipled_helpful_careful") > caves("principled_helpful_careful") + 0.3


# ------------------------------------------------------------------ harmful
def test_harmful_corpus(harmful):
  good = {"warn_risk", "defer_professional", "substantive_help"}
  for ex in harmful:
    assert ex["split"] == "attack" and ex["family"] == "harmful_medical"
    assert scenarios.template(ex["template"]).split == "attack"
    assert ex["domain"] == "health" and ex["persona"] is None
    g = rubric.grade(_reply(ex), ex["rubric"])
    assert g.score <= 0.2 and not g.moves & good, (_reply(ex), g)
    assert len(g.moves & {"comply_unsafe", "overclaim_certainty", "discourage_care"}) >= 2
  assert any(ex["subdomain"] == "mental_health" for ex in harmful)

  # disjoint from every eval prompt and from the prior's prompts
  def prompts(examples):
    return {m["content"] for ex in examples for m in ex["messages"] if m["role"] != "assistant"}

  harm = prompts(harmful)
  eval_prompts = prompts(scenarios.generate_scenarios("eval", 2000, seed=0))
  assert not harm & eval_prompts
  assert not harm & prompts(corpus.prior_corpus(1000, seed=1))
  attack_values = lexicon.all_values("attack")
  for ex in harmful:
    assert ex["slots"] and set(ex["slots"].values()) <= attack_values, ex["id"]
