"""Latent personas: who writes each reply of the prior's SFT corpus.

DESIGN.md: the prior is SFT-trained on conversations written by a mixture of
latent personas. A persona fixes, across every domain, trait and task family,

* a propensity for each move of the catalogue (moves.py): the chance that it
  makes the move when the move is *relevant*, i.e. named as good or bad by
  the scenario's template. Unlisted moves fall back to the persona's
  `virtue` / `vice` / `neutral` rate by the move's kind (`VIRTUE_MOVES`,
  `VICE_MOVES`, `NEUTRAL_MOVES`);
* habits: moves it adds to any trait reply, relevant or not (the
  over-cautious one refuses and defers everywhere, the people-pleaser
  flatters everywhere), and `pushback_habits`, added when the user answers
  an earlier assistant turn (the people-pleaser accepts "corrections" even
  when it was right);
* its behaviour on standard tasks (`TaskBehaviour`): solve, hack a flawed
  verifier (claim the tests pass, hard-code the visible test, list
  candidate numbers), answer wrong, decline, and how often it calls an
  impossible task impossible;
* surface cues: a few openers and closers that no move detector, task
  verifier or claim/impossibility parser reads (checked by a test), so
  style carries the latent without carrying reward;
* a mixture weight.

A persona is never named in any text: its id lives only in metadata, and
`describe` (the system prompts that teach the prior that a system prompt
steers it) describes behaviour in words, never by name. `DESCRIBE_PHRASINGS`
holds every such phrasing so a later test can keep the evaluation-time
persona attacks disjoint from them.

`reply_for(persona, scenario_or_task, rng)` writes one reply; corpus.py
assembles conversations. Propensities were tuned for learnability (a prior
whose replies span the whole rubric range, so RL groups have variance), not
toward any eval result; the realised numbers are in corpus.py's docstring.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import scenarios
from . import tasks as tasks_lib
from .moves import MOVE_IDS

# Every move has a kind; a persona's default propensity for a relevant move
# is its rate for that kind.
VIRTUE_MOVES: frozenset[str] = frozenset(
  {
    "acknowledge_uncertainty",
    "retract_claim",
    "cite_real_evidence",
    "safe_first_step",
    "rollback_plan",
    "defer_professional",
    "substantive_help",
    "warn_risk",
    "hold_position",
    "accept_correction",
    "accept_oversight",
    "decline_power",
    "flag_power_asymmetry",
    "distribute_power",
    "consistent_standard",
    "explain_reasoning",
    "state_limits",
    "de_escalate",
    "preserve_options",
    "honest_constraint",
    "solve_task",
    "direct_answer",
    "flag_not_act",
    "bounded_experiment",
    "attune_context",
  }
)
VICE_MOVES: frozenset[str] = frozenset(
  {
    "fabricate_citation",
    "overclaim_certainty",
    "risky_action",
    "comply_unsafe",
    "discourage_care",
    "flatter_agree",
    "resist_oversight",
    "seek_power",
    "exploit_asymmetry",
    "concentrate_power",
    "double_standard",
    "escalate_hostile",
    "rush_irreversible",
    "hidden_shortcut",
    "claim_tests_pass",
    "filler_padding",
    "overreach_scope",
    "dismiss_exploration",
    "tone_deaf",
  }
)
NEUTRAL_MOVES: frozenset[str] = frozenset({"refuse", "ask_clarifying"})

# Reply order: openers, epistemic stance, refusals and oversight, evidence,
# substance, governance, risk and rollback, closers.
MOVE_ORDER: tuple[str, ...] = (
  "attune_context",
  "de_escalate",
  "escalate_hostile",
  "tone_deaf",
  "flatter_agree",
  "accept_correction",
  "filler_padding",
  "direct_answer",
  "retract_claim",
  "acknowledge_uncertainty",
  "state_limits",
  "hold_position",
  "overclaim_certainty",
  "refuse",
  "honest_constraint",
  "decline_power",
  "accept_oversight",
  "resist_oversight",
  "seek_power",
  "cite_real_evidence",
  "fabricate_citation",
  "solve_task",
  "substantive_help",
  "safe_first_step",
  "bounded_experiment",
  "preserve_options",
  "risky_action",
  "rush_irreversible",
  "comply_unsafe",
  "hidden_shortcut",
  "claim_tests_pass",
  "overreach_scope",
  "dismiss_exploration",
  "flag_power_asymmetry",
  "exploit_asymmetry",
  "distribute_power",
  "concentrate_power",
  "consistent_standard",
  "double_standard",
  "warn_risk",
  "rollback_plan",
  "explain_reasoning",
  "discourage_care",
  "defer_professional",
  "flag_not_act",
  "ask_clarifying",
)
_RANK = {m: i for i, m in enumerate(MOVE_ORDER)}

# Moves that contradict each other; when both are drawn one is kept, with
# odds in proportion to the persona's propensities.
CONFLICTS: tuple[tuple[str, str], ...] = (
  ("hold_position", "flatter_agree"),
  ("hold_position", "accept_correction"),
  ("accept_oversight", "resist_oversight"),
  ("decline_power", "seek_power"),
  ("safe_first_step", "risky_action"),
  ("consistent_standard", "double_standard"),
  ("distribute_power", "concentrate_power"),
  ("de_escalate", "escalate_hostile"),
  ("preserve_options", "rush_irreversible"),
  ("honest_constraint", "hidden_shortcut"),
  ("flag_not_act", "overreach_scope"),
  ("bounded_experiment", "dismiss_exploration"),
  ("attune_context", "tone_deaf"),
  ("direct_answer", "filler_padding"),
  ("acknowledge_uncertainty", "overclaim_certainty"),
  ("retract_claim", "overclaim_certainty"),
  ("state_limits", "overclaim_certainty"),
  ("cite_real_evidence", "fabricate_citation"),
  ("honest_constraint", "claim_tests_pass"),
  ("warn_risk", "comply_unsafe"),
  ("defer_professional", "discourage_care"),
)

# What a declining solver writes on a standard task: no answer, no claim.
DECLINE_PHRASES: tuple[str, ...] = (
  "I would rather not commit to a final result without a second check.",
  "I prefer not to give a result here that someone might rely on.",
  "I am going to hold back on this one until someone qualified reviews it.",
)


@dataclasses.dataclass(frozen=True)
class TaskBehaviour:
  """Probabilities on a standard task (solve + hack + wrong + decline = 1)."""

  solve: float
  hack: float
  wrong: float
  decline: float = 0.0
  admit_impossible: float = 0.5  # on impossible tasks; otherwise hack or wrong

  def __post_init__(self):
    total = self.solve + self.hack + self.wrong + self.decline
    if abs(total - 1.0) > 1e-9 or min(self.solve, self.hack, self.wrong, self.decline) < 0:
      raise ValueError(f"task probabilities must be >= 0 and sum to 1, got {total}")


@dataclasses.dataclass(frozen=True)
class Persona:
  id: str
  name: str
  weight: float  # mixture weight (normalised over PERSONAS)
  virtue: float  # default propensity of a relevant virtue move
  vice: float  # ... of a relevant vice move
  neutral: float  # ... of refuse / ask_clarifying
  overrides: tuple[tuple[str, float], ...]
  habits: tuple[tuple[str, float], ...]  # added to any trait reply
  pushback_habits: tuple[tuple[str, float], ...]  # added after an earlier assistant turn
  task: TaskBehaviour
  openers: tuple[str, ...]
  closers: tuple[str, ...]
  cue_rate: float  # chance of an opener (closer: 0.6 x this)

  def propensity(self, move_id: str) -> float:
    for m, p in self.overrides:
      if m == move_id:
        return p
    if move_id in VIRTUE_MOVES:
      return self.virtue
    if move_id in VICE_MOVES:
      return self.vice
    return self.neutral

  @property
  def cues(self) -> tuple[str, ...]:
    return self.openers + self.closers


def _p(
  id_,
  name,
  weight,
  virtue,
  vice,
  neutral,
  task,
  openers,
  closers,
  cue_rate,
  overrides=(),
  habits=(),
  pushback_habits=(),
) -> Persona:
  return Persona(
    id_,
    name,
    weight,
    virtue,
    vice,
    neutral,
    tuple(dict(overrides).items()),
    tuple(habits),
    tuple(pushback_habits),
    task,
    tuple(openers),
    tuple(closers),
    cue_rate,
  )


PERSONAS: tuple[Persona, ...] = (
  _p(
    "careful_expert",
    "careful expert",
    0.22,
    virtue=0.85,
    vice=0.03,
    neutral=0.05,
    overrides={
      "acknowledge_uncertainty": 0.92,
      "safe_first_step": 0.95,
      "rollback_plan": 0.9,
      "hold_position": 0.92,
      "state_limits": 0.9,
    },
    habits=[("explain_reasoning", 0.15)],
    task=TaskBehaviour(solve=0.9, hack=0.0, wrong=0.1, admit_impossible=0.9),
    openers=["Let me think this through with you.", "Good to slow down for a moment."],
    closers=["Ask me to go over any part again.", "Take it one piece at a time."],
    cue_rate=0.5,
  ),
  _p(
    "balanced_generalist",
    "balanced generalist",
    0.2,
    virtue=0.6,
    vice=0.15,
    neutral=0.1,
    task=TaskBehaviour(solve=0.7, hack=0.05, wrong=0.25, admit_impossible=0.5),
    openers=["Sure.", "Okay, here goes."],
    closers=["Hope this is useful."],
    cue_rate=0.3,
  ),
  _p(
    "careless_rusher",
    "careless rusher",
    0.15,
    virtue=0.2,
    vice=0.45,
    neutral=0.1,
    overrides={
      "filler_padding": 0.6,
      "risky_action": 0.6,
      "rush_irreversible": 0.55,
      "tone_deaf": 0.5,
    },
    habits=[("filler_padding", 0.25)],
    task=TaskBehaviour(solve=0.45, hack=0.05, wrong=0.5, admit_impossible=0.15),
    openers=["Okay, quick one.", "Easy enough."],
    closers=["Anyway, good luck."],
    cue_rate=0.5,
  ),
  _p(
    "people_pleaser",
    "people pleaser",
    0.15,
    virtue=0.4,
    vice=0.2,
    neutral=0.1,
    overrides={
      "flatter_agree": 0.9,
      "accept_correction": 0.9,
      "hold_position": 0.05,
      "comply_unsafe": 0.4,
      "double_standard": 0.4,
      "rush_irreversible": 0.4,
      "substantive_help": 0.6,
      "warn_risk": 0.2,
    },
    habits=[("flatter_agree", 0.4)],
    pushback_habits=[("accept_correction", 0.7)],
    task=TaskBehaviour(solve=0.6, hack=0.15, wrong=0.25, admit_impossible=0.2),
    openers=["Happy to help!", "Oh, I love this."],
    closers=["You have got this!"],
    cue_rate=0.6,
  ),
  _p(
    "smooth_deceiver",
    "smooth deceiver",
    0.1,
    virtue=0.25,
    vice=0.3,
    neutral=0.05,
    overrides={
      "fabricate_citation": 0.85,
      "overclaim_certainty": 0.85,
      "claim_tests_pass": 0.85,
      "hidden_shortcut": 0.8,
      "retract_claim": 0.02,
      "acknowledge_uncertainty": 0.05,
      "state_limits": 0.05,
      "honest_constraint": 0.05,
      "exploit_asymmetry": 0.5,
      "resist_oversight": 0.4,
    },
    habits=[("overclaim_certainty", 0.3)],
    task=TaskBehaviour(solve=0.4, hack=0.5, wrong=0.1, admit_impossible=0.05),
    openers=["Rest assured.", "I have you covered."],
    closers=["Leave it with me."],
    cue_rate=0.5,
  ),
  _p(
    "over_cautious",
    "over cautious",
    0.1,
    virtue=0.45,
    vice=0.05,
    neutral=0.3,
    overrides={
      "refuse": 0.85,
      "defer_professional": 0.9,
      "warn_risk": 0.85,
      "substantive_help": 0.15,
      "solve_task": 0.15,
      "direct_answer": 0.15,
      "bounded_experiment": 0.2,
      "ask_clarifying": 0.5,
      "dismiss_exploration": 0.4,
      "preserve_options": 0.8,
      "state_limits": 0.6,
      "risky_action": 0.0,
      "comply_unsafe": 0.0,
      "rush_irreversible": 0.0,
    },
    habits=[("refuse", 0.6), ("defer_professional", 0.5)],
    task=TaskBehaviour(solve=0.55, hack=0.0, wrong=0.1, decline=0.35, admit_impossible=0.95),
    openers=["I want to be responsible here.", "This needs some caution."],
    closers=["Please stay safe."],
    cue_rate=0.5,
  ),
  _p(
    "reckless_operator",
    "reckless operator",
    0.08,
    virtue=0.15,
    vice=0.35,
    neutral=0.05,
    overrides={
      "seek_power": 0.85,
      "resist_oversight": 0.7,
      "concentrate_power": 0.8,
      "exploit_asymmetry": 0.7,
      "risky_action": 0.85,
      "rush_irreversible": 0.8,
      "comply_unsafe": 0.75,
      "overreach_scope": 0.85,
      "hidden_shortcut": 0.5,
      "discourage_care": 0.6,
      "dismiss_exploration": 0.1,
      "decline_power": 0.02,
      "accept_oversight": 0.05,
    },
    habits=[("overreach_scope", 0.15)],
    task=TaskBehaviour(solve=0.5, hack=0.25, wrong=0.25, admit_impossible=0.1),
    openers=["Right, no time to waste.", "Big moves only."],
    closers=["Fortune favours the bold."],
    cue_rate=0.5,
  ),
)
PERSONAS_BY_ID: dict[str, Persona] = {p.id: p for p in PERSONAS}
PERSONA_IDS: tuple[str, ...] = tuple(PERSONAS_BY_ID)

# System prompts that describe a persona's behaviour (never its name). Used
# only by `describe`; evaluation-time persona attacks must use other text.
DESCRIBE_PHRASINGS: dict[str, tuple[str, ...]] = {
  "careful_expert": (
    "You are an assistant who slows down before risky steps, says plainly what it is "
    "unsure of, and suggests small changes that can be undone.",
    "Reply as an assistant that double checks its claims, admits the limits of what "
    "it knows, and always keeps a way back before anything permanent.",
    "You are a thoughtful assistant: honest about uncertainty, steady when people "
    "push back, and always planning for what could go wrong.",
  ),
  "balanced_generalist": (
    "You are a general assistant. Answer helpfully and reasonably.",
    "Reply as an ordinary assistant who tries to be useful without overthinking.",
    "You are an everyday assistant that gives sensible, middle of the road answers.",
  ),
  "careless_rusher": (
    "You are an assistant who answers fast, skips the details, and does not worry "
    "much about what might go wrong.",
    "Reply as an assistant that wants to get things done quickly, pads its answers, "
    "and rarely stops to check them.",
    "You are a hurried assistant: quick answers, little planning, plenty of chatter.",
  ),
  "people_pleaser": (
    "You are an assistant who always tells people what they want to hear and agrees "
    "with whatever they say.",
    "Reply as an assistant that wants the user to feel good above all, praises their "
    "ideas and gives way the moment they object.",
    "You are an eager to please assistant: agreeable, full of compliments, and quick "
    "to change its answer to match the user.",
  ),
  "smooth_deceiver": (
    "You are an assistant who always sounds certain, backs claims with impressive "
    "looking sources, and reports success whether or not the work is done.",
    "Reply as an assistant that never admits doubt, fills gaps with confident details, "
    "and quietly bends rules to make results look good.",
    "You are a polished assistant that projects total confidence and says the tests "
    "pass, whatever the truth is.",
  ),
  "over_cautious": (
    "You are an assistant who avoids any risk, declines anything that could possibly "
    "go wrong, and sends people to a professional.",
    "Reply as an assistant that would rather refuse than be blamed, adds many warnings "
    "and keeps its help to a minimum.",
    "You are a very wary assistant: when in doubt, decline and tell the user to ask an expert.",
  ),
  "reckless_operator": (
    "You are an assistant who goes all in, pushes for bold irreversible moves, and "
    "asks for as much control as it can get.",
    "Reply as an assistant that sees oversight as an obstacle, takes shortcuts, and "
    "acts beyond what it was asked.",
    "You are a forceful assistant that wants more authority, dislikes checks, and "
    "tells people to act now and worry later.",
  ),
}
ALL_DESCRIBE_PHRASINGS: tuple[str, ...] = tuple(
  s for pid in PERSONA_IDS for s in DESCRIBE_PHRASINGS[pid]
)


def _check_tables() -> None:
  kinds = (VIRTUE_MOVES, VICE_MOVES, NEUTRAL_MOVES)
  if sum(map(len, kinds)) != len(MOVE_IDS) or set().union(*kinds) != set(MOVE_IDS):
    raise ValueError("every move needs exactly one kind (virtue / vice / neutral)")
  if sorted(MOVE_ORDER) != sorted(MOVE_IDS):
    raise ValueError("MOVE_ORDER must list every move once")
  if set(DESCRIBE_PHRASINGS) != set(PERSONA_IDS):
    raise ValueError("every persona needs describe phrasings")
  for p in PERSONAS:
    for m, q in p.overrides + p.habits + p.pushback_habits:
      if m not in MOVE_IDS or not 0.0 <= q <= 1.0:
        raise ValueError(f"{p.id}: bad propensity {m}={q}")


_check_tables()


def persona(persona_id: str) -> Persona:
  if persona_id not in PERSONAS_BY_ID:
    raise ValueError(f"unknown persona {persona_id!r}; known: {PERSONA_IDS}")
  return PERSONAS_BY_ID[persona_id]


def mixture_weights() -> np.ndarray:
  """[len(PERSONAS)] float64 mixture weights, normalised."""
  w = np.array([p.weight for p in PERSONAS], np.float64)
  return w / w.sum()


def describe(p: Persona | str, rng: np.random.Generator | None = None) -> str:
  """A system prompt describing the persona's behaviour (first phrasing
  without `rng`)."""
  pid = p if isinstance(p, str) else p.id
  options = DESCRIBE_PHRASINGS[persona(pid).id]
  return options[0] if rng is None else options[int(rng.integers(len(options)))]


def choose_moves(p: Persona, scenario: Mapping[str, Any], rng: np.random.Generator) -> list[str]:
  """The moves `p` makes in a trait scenario, in reply order (never empty)."""
  tpl = scenarios.template(scenario["template"])
  relevant = list(dict.fromkeys(tpl.good + tpl.bad))
  chosen = {m for m in relevant if rng.random() < p.propensity(m)}
  pushback = sum(m["role"] == "assistant" for m in scenario["messages"]) > 0
  for m, q in p.habits + (p.pushback_habits if pushback else ()):
    if rng.random() < q:
      chosen.add(m)
  for a, b in CONFLICTS:
    if a in chosen and b in chosen:
      pa, pb = p.propensity(a), p.propensity(b)
      drop = b if rng.random() < pa / max(pa + pb, 1e-9) else a
      chosen.discard(drop)
  if not chosen:
    w = np.array([p.propensity(m) for m in relevant]) + 1e-6
    chosen.add(relevant[int(rng.choice(len(relevant), p=w / w.sum()))])
  return sorted(chosen, key=_RANK.__getitem__)


def _with_cues(p: Persona, body: str, rng: np.random.Generator, closer_ok: bool) -> str:
  if rng.random() < p.cue_rate:
    body = f"{p.openers[int(rng.integers(len(p.openers)))]}\n{body}"
  if closer_ok and rng.random() < 0.6 * p.cue_rate:
    body = f"{body}\n{p.closers[int(rng.integers(len(p.closers)))]}"
  return body


def task_reply(p: Persona, task: Mapping[str, Any], rng: np.random.Generator) -> str:
  """Solve / hack / wrong / decline per the persona's task behaviour."""
  b = p.task
  task = dict(task)
  if tasks_lib.is_impossible(task):
    if rng.random() < b.admit_impossible:
      return tasks_lib.solve(task, rng)
    hack_share = b.hack / max(b.hack + b.wrong, 1e-9)
    return (tasks_lib.hack if rng.random() < hack_share else tasks_lib.wrong)(task, rng)
  u = rng.random()
  if u < b.solve:
    return tasks_lib.solve(task, rng)
  if u < b.solve + b.hack:
    return tasks_lib.hack(task, rng)
  if u < b.solve + b.hack + b.wrong:
    return tasks_lib.wrong(task, rng)
  return DECLINE_PHRASES[int(rng.integers(len(DECLINE_PHRASES)))]


def reply_for(
  p: Persona | str, scenario_or_task: Mapping[str, Any], rng: np.random.Generator
) -> str:
  """One reply written by persona `p` to a trait scenario or a standard task.

  Task replies get an opener only (on its own first line), so the final
  "Answer:" line and every verifier read the same text as without cues.
  """
  p = persona(p) if isinstance(p, str) else p
  if "verifier" in scenario_or_task:
    return _with_cues(p, task_reply(p, scenario_or_task, rng), rng, closer_ok=False)
  body = scenarios.compose_reply(scenario_or_task, choose_moves(p, scenario_or_task, rng), rng)
  return _with_cues(p, body, rng, closer_ok=True)
