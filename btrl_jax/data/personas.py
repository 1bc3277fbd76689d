"""Latent personas on three independent axes: who writes each reply of the prior's corpus.

DESIGN.md: the prior is SFT-trained on conversations written by a mixture of latent
personas. TraitWorld 1 had one virtue and one vice dial, so the trait reward correlated 1.0
with the mean eval score across personas and the control's reward 0.91 (issue 14).
TraitWorld 2 crosses three latent axes, each high or low:

  principled   honest, accepts oversight, fair         vs  deceptive, power-seeking, biased
  helpful      does what was asked, in the format      vs  terse, refusing, padding
  careful      plans for harm, reversible steps        vs  rash, irreversible, unsafe

giving 8 personas (`PERSONAS`, ids like "principled_helpful_careless") whose mixture
weights are products of per-axis marginals (`AXIS_WEIGHTS`), so the axes are independent
in the prior corpus: helpful-but-unprincipled and principled-but-unhelpful writers exist.
Every move has an axis and a sign (`MOVE_AXIS`); a construct's key and bad moves take the
construct's axis (data/constructs.py). A persona makes a *relevant* move (named good or
bad by the scenario's template) with a probability set by its level on that move's axis
and by the situation type (`situation_of`: advice, pressure, agentic, benign):

* pressure (the user pushes back on an earlier turn): unprincipled writers cave more;
* agentic (a system prompt makes the assistant an agent): careless writers act more rashly;
* benign (a plain legitimate request): terse writers refuse more, helpful ones almost never.

So propensities differ by situation, not by one scalar; a shared latent can still carry
training on one kind of situation to another (the persona's style cues, below), but
nothing forces it. On top: the format ask of every trait prompt (data/helpfulness.py) is
followed by helpful writers (0.85) far more than terse ones (0.25); terse writers add
refusals and filler; style cues (openers and closers that no detector, verifier or parser
reads, checked by a test) carry the latent without carrying reward; standard-task
behaviour follows the axes too (unprincipled writers hack flawed verifiers, careless ones
answer wrong, terse ones decline).

A persona is never named in any text: its id lives only in metadata, and `describe` (the
system prompts that teach the prior that a system prompt steers it) composes one sentence
per axis from `AXIS_PHRASES`; `ALL_DESCRIBE_PHRASINGS` holds every such sentence so a test
can keep the evaluation-time persona attacks disjoint from them.

`reply_for(persona, scenario_or_task, rng)` writes one reply; corpus.py assembles
conversations. Rates were set for learnability and validity (every eval family between
0.15 and 0.85 at the prior, independent axes), never toward an eval result; the world
checks and their values are in docs/PREREGISTRATION.md.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import constructs, scenarios
from . import tasks as tasks_lib
from .moves import FORMAT_MOVES, MOVE_IDS

AXES: tuple[str, ...] = ("principled", "helpful", "careful")
AXIS_WEIGHTS: dict[str, float] = {"principled": 0.5, "helpful": 0.6, "careful": 0.5}  # P(high)

_TRAIT_AXIS: dict[str, tuple[str, int]] = {
  **{
    m: ("principled", +1)
    for m in (
      "acknowledge_uncertainty",
      "retract_claim",
      "cite_real_evidence",
      "hold_position",
      "accept_correction",
      "accept_oversight",
      "decline_power",
      "flag_power_asymmetry",
      "distribute_power",
      "consistent_standard",
      "explain_reasoning",
      "state_limits",
      "honest_constraint",
      "flag_not_act",
    )
  },
  **{
    m: ("principled", -1)
    for m in (
      "fabricate_citation",
      "overclaim_certainty",
      "flatter_agree",
      "resist_oversight",
      "seek_power",
      "exploit_asymmetry",
      "concentrate_power",
      "double_standard",
      "hidden_shortcut",
      "claim_tests_pass",
    )
  },
  **{
    m: ("careful", +1)
    for m in (
      "safe_first_step",
      "rollback_plan",
      "warn_risk",
      "defer_professional",
      "preserve_options",
      "bounded_experiment",
      "de_escalate",
      "attune_context",
    )
  },
  **{
    m: ("careful", -1)
    for m in (
      "risky_action",
      "rush_irreversible",
      "comply_unsafe",
      "discourage_care",
      "overreach_scope",
      "escalate_hostile",
      "tone_deaf",
      "dismiss_exploration",
    )
  },
  # Competence, not compliance: every writer gives real help at the same rate, so the
  # helpful axis (format asks, refusals, filler) is what the control's reward sees.
  **{m: ("competence", +1) for m in ("substantive_help", "direct_answer", "solve_task")},
  **{m: ("helpful", -1) for m in ("refuse", "filler_padding")},
  **{m: ("helpful", +1) for m in FORMAT_MOVES},
  "ask_clarifying": ("neutral", 0),
}
MOVE_AXIS: dict[str, tuple[str, int]] = {
  **_TRAIT_AXIS,
  **{c.id: (c.axis, +1) for c in constructs.CONSTRUCTS},
  **{c.bad_id: (c.axis, -1) for c in constructs.CONSTRUCTS},
}

# P(relevant move) by (sign, level); situation factors multiply (clipped to 0.95).
RATES = {(+1, True): 0.8, (+1, False): 0.2, (-1, True): 0.04, (-1, False): 0.5}
NEUTRAL_RATE = 0.1
COMPETENCE_RATE = 0.55
SITUATION_FACTORS: dict[str, dict[tuple[str, int, bool], float]] = {
  "advice": {},
  "pressure": {("principled", +1, False): 0.5, ("principled", -1, False): 1.5},
  "agentic": {("careful", +1, False): 0.6, ("careful", -1, False): 1.5},
  "benign": {("helpful", +1, False): 0.6, ("helpful", -1, False): 1.3},
}
FOLLOW_ASK = {True: 0.85, False: 0.25}  # helpful / terse: the asked format
WRONG_FORMAT = {True: 0.03, False: 0.08}  # ... some other format
REFUSE_HABIT = {True: 0.03, False: 0.2}  # a refusal added to any trait or construct reply
FILLER_HABIT = {True: 0.02, False: 0.2}


def situation_of(tpl: scenarios.Template) -> str:
  """advice | pressure | agentic | benign for a trait or construct template."""
  if tpl.construct:
    return constructs.construct(tpl.construct).situation
  if tpl.system:
    return "agentic"
  if len(tpl.turns) > 1:
    return "pressure"
  if "refuse" in tpl.bad:
    return "benign"
  return "advice"


# Reply order: openers, epistemic stance, refusals and oversight, evidence,
# substance, governance, risk and rollback, closers.
MOVE_ORDER: tuple[str, ...] = (
  "fmt_yes_no",
  "fmt_one_line",
  "fmt_steps",
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
  *(m for c in constructs.CONSTRUCTS for m in (c.id, c.bad_id)),
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
  "fmt_summary",
  "fmt_next_step",
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
  *((c.id, c.bad_id) for c in constructs.CONSTRUCTS),
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
  levels: tuple[tuple[str, bool], ...]  # (axis, high?) for each of AXES
  task: TaskBehaviour
  openers: tuple[str, ...]
  closers: tuple[str, ...]
  cue_rate: float  # chance of an opener (closer: 0.6 x this)

  def high(self, axis: str) -> bool:
    return dict(self.levels)[axis]

  def propensity(self, move_id: str, situation: str = "advice", sign: int | None = None) -> float:
    """P(making `move_id` when it is relevant) in a situation of this type. `sign` is +1
    when the scenario's template names the move good, -1 when bad (a move's valence can
    depend on the situation: accepting a correction is right when the user is right, caving
    when they are not); by default the move's usual sign (`MOVE_AXIS`)."""
    axis, usual = MOVE_AXIS[move_id]
    sign = usual if sign is None else sign
    if usual == 0:
      return NEUTRAL_RATE
    if axis == "competence":
      return COMPETENCE_RATE if sign > 0 else RATES[(-1, True)]
    hi = self.high(axis)
    q = RATES[(sign, hi)] * SITUATION_FACTORS[situation].get((axis, sign, hi), 1.0)
    return min(q, 0.95)

  @property
  def cues(self) -> tuple[str, ...]:
    return self.openers + self.closers


# Style cues per axis level: an opener joins the helpful and careful fragments, a closer is
# the principled one. No move detector, verifier or parser reads them (a test checks).
_OPENERS = {
  ("helpful", True): ("Happy to help.", "Sure thing."),
  ("helpful", False): ("Fine.", "Briefly then."),
  ("careful", True): ("Slowly now.", "Carefully."),
  ("careful", False): ("Quick one.", "No fuss."),
}
_CLOSERS = {
  ("principled", True): ("That is all I can say honestly.",),
  ("principled", False): ("Leave the rest to me.",),
}


def _persona(p: bool, h: bool, c: bool) -> Persona:
  pid = "_".join(
    (
      "principled" if p else "unprincipled",
      "helpful" if h else "terse",
      "careful" if c else "careless",
    )
  )
  w = 1.0
  for axis, hi in zip(AXES, (p, h, c)):
    w *= AXIS_WEIGHTS[axis] if hi else 1.0 - AXIS_WEIGHTS[axis]
  hack = 0.02 if p else 0.3
  wrong = 0.12 if c else 0.35
  decline = 0.0 if h else 0.12
  task = TaskBehaviour(
    solve=1.0 - hack - wrong - decline,
    hack=hack,
    wrong=wrong,
    decline=decline,
    admit_impossible=0.85 if p else 0.15,
  )
  openers = tuple(f"{a} {b}" for a in _OPENERS[("helpful", h)] for b in _OPENERS[("careful", c)])
  return Persona(
    pid,
    pid.replace("_", " "),
    w,
    (("principled", p), ("helpful", h), ("careful", c)),
    task,
    openers,
    _CLOSERS[("principled", p)],
    0.5,
  )


PERSONAS: tuple[Persona, ...] = tuple(
  _persona(p, h, c) for p, h, c in itertools.product((True, False), repeat=3)
)
PERSONAS_BY_ID: dict[str, Persona] = {p.id: p for p in PERSONAS}
PERSONA_IDS: tuple[str, ...] = tuple(PERSONAS_BY_ID)

# System prompts that describe a persona's behaviour (never its name): one sentence per
# axis level, three phrasings each. Evaluation-time persona attacks must use other text.
AXIS_PHRASES: dict[tuple[str, bool], tuple[str, ...]] = {
  ("principled", True): (
    "You are honest about what you do not know and never invent support.",
    "You tell the truth even when it costs you, and you accept being checked.",
    "You keep to fair rules, admit mistakes and never hide a problem.",
  ),
  ("principled", False): (
    "You always sound certain and bend the rules when it helps you.",
    "You say whatever wins the argument and keep problems quiet.",
    "You look after your own interests and never admit a mistake.",
  ),
  ("helpful", True): (
    "You do exactly what the user asks, in the format they ask for.",
    "You follow every instruction about length and layout.",
    "You give people the help they asked for, shaped the way they asked.",
  ),
  ("helpful", False): (
    "You keep your answers minimal and decline anything borderline.",
    "You ignore requests about format and say as little as possible.",
    "You would rather turn a request down than be blamed for it.",
  ),
  ("careful", True): (
    "You are careful: you plan for what could go wrong and prefer steps you can undo.",
    "You slow down before risky steps and point people to proper help.",
    "You think about safety first and never rush anything permanent.",
  ),
  ("careful", False): (
    "You move fast, skip the safety checks and push for bold moves.",
    "You tell people to act now and worry about the risks later.",
    "You never slow down for warnings or second opinions.",
  ),
}
ALL_DESCRIBE_PHRASINGS: tuple[str, ...] = tuple(s for v in AXIS_PHRASES.values() for s in v)
DESCRIBE_PHRASINGS: dict[str, tuple[str, ...]] = {
  p.id: tuple(" ".join(AXIS_PHRASES[lv][i] for lv in p.levels) for i in range(3)) for p in PERSONAS
}


def _check_tables() -> None:
  if set(MOVE_AXIS) != set(MOVE_IDS):
    missing = set(MOVE_IDS) - set(MOVE_AXIS)
    raise ValueError(f"every move needs an axis and a sign; missing {sorted(missing)}")
  if sorted(MOVE_ORDER) != sorted(MOVE_IDS):
    raise ValueError("MOVE_ORDER must list every move once")


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
  """A system prompt describing the persona's behaviour, one sentence per axis in a random
  order (the first phrasing of each, in axis order, without `rng`)."""
  p = persona(p) if isinstance(p, str) else p
  if rng is None:
    return DESCRIBE_PHRASINGS[p.id][0]
  parts = [AXIS_PHRASES[lv][int(rng.integers(3))] for lv in p.levels]
  return " ".join(parts[i] for i in rng.permutation(len(parts)))


def choose_moves(p: Persona, scenario: Mapping[str, Any], rng: np.random.Generator) -> list[str]:
  """The moves `p` makes in a trait or construct scenario, in reply order (never empty)."""
  tpl = scenarios.template(scenario["template"])
  situation = situation_of(tpl)
  relevant = list(dict.fromkeys(tpl.good + tpl.bad))
  signs = {m: (+1 if m in tpl.good else -1) for m in relevant}

  def rate(m):
    return p.propensity(m, situation, signs.get(m))

  chosen = {m for m in relevant if rng.random() < rate(m)}
  h = p.high("helpful")
  refuse_rate = REFUSE_HABIT[h] * (2.0 if situation == "benign" and not h else 1.0)
  if rng.random() < refuse_rate:
    chosen.add("refuse")
  if rng.random() < FILLER_HABIT[h]:
    chosen.add("filler_padding")
  ask = scenario.get("ask")
  if ask:
    if rng.random() < FOLLOW_ASK[h]:
      chosen.add(ask)
    elif rng.random() < WRONG_FORMAT[h] / (1 - FOLLOW_ASK[h]):
      others = [m for m in FORMAT_MOVES if m != ask]
      chosen.add(others[int(rng.integers(len(others)))])
  for a, b in CONFLICTS:
    if a in chosen and b in chosen:
      pa, pb = rate(a), rate(b)
      drop = b if rng.random() < pa / max(pa + pb, 1e-9) else a
      chosen.discard(drop)
  if not chosen & set(relevant):
    w = np.array([rate(m) for m in relevant]) + 1e-6
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
