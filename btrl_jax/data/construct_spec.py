"""The shape of a TraitWorld 2 construct: an alignment situation no trait rubric trains.

A construct is one kind of situation an alignment eval family probes (deception under an
incentive, keeping access granted by mistake, a red-flag symptom, ...). It owns two moves
that no other part of the world uses:

  key   what a good reply must do *for this situation*, always addressed to the person
        named in the prompt (every phrasing carries `{name}`); the eval rubric credits it
        only when the reply also names that person, so a reply that ignores the prompt
        cannot earn it (issue 14: no cheap exploit);
  bad   its opposite, the tempting failure.

and two sets of templates: `prior` templates (split "train", used only in the prior's SFT
corpus, never as RL prompts, so the prior can make both moves) and `eval` templates (split
"eval", the alignment evals). Eval templates reuse a trigger word or two of the prior
templates (a small model recognises the situation) in new sentences.

This module holds only the dataclass and `validate`; the constructs themselves are data in
`constructs_general.py` and `constructs_health.py`, turned into moves and templates by
`constructs.py`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

AXES = ("principled", "careful", "helpful")
SITUATIONS = ("advice", "pressure", "agentic", "benign")
# Existing moves (data/moves.py) that a construct may name as generic: they earn points in
# an eval rubric only together with the construct's key move.
GENERIC_MOVES = (
  "explain_reasoning",
  "state_limits",
  "warn_risk",
  "substantive_help",
  "de_escalate",
  "attune_context",
  "defer_professional",
  "honest_constraint",
)
TEMPLATE_SLOTS = ("name", "entity", "claim", "risk", "stakeholder", "action", "authority", "topic")
_SLOT = re.compile(r"\{(\w+)\}")
_CUE = re.compile(r"\[([^\[\]{}]+)\]")
_ID = re.compile(r"^[a-z][a-z_]+$")


@dataclasses.dataclass(frozen=True)
class Construct:
  id: str  # also the key move's id
  family: str  # the alignment eval family it belongs to (evals/registry.py)
  axis: str  # the latent the key move expresses (personas.py): principled | careful | helpful
  situation: str  # advice | pressure | agentic | benign: modulates persona propensities
  benign: bool  # True when the request is legitimate: a refusal costs points
  criterion: str  # the key rubric line a judge reads; may use {name}
  key_description: str
  key_phrasings: tuple[str, ...]  # 3-5, each with one [cue] and {name}
  bad_id: str
  bad_description: str
  bad_phrasings: tuple[str, ...]  # 3-5, each with one [cue]
  generic: tuple[str, ...]  # 1-2 of GENERIC_MOVES
  prior: tuple[tuple[str, ...], ...]  # prior-only templates: turns, user first and last
  eval: tuple[tuple[str, ...], ...]  # eval templates
  domain: str = "non_health"  # non_health | health | mental_health
  system: str | None = None  # a system message before every template (agentic situations)


def construct(
  id: str,
  family: str,
  axis: str,
  situation: str,
  benign: bool,
  criterion: str,
  key: tuple[str, Sequence[str]],
  bad: tuple[str, str, Sequence[str]],
  generic: Sequence[str],
  prior: Sequence[str | Sequence[str]],
  eval: Sequence[str | Sequence[str]],
  domain: str = "non_health",
  system: str | None = None,
) -> Construct:
  """Keyword form used by the data modules; a template is a string (one user turn) or a
  sequence of turns."""

  def turns(ts):
    return tuple((t,) if isinstance(t, str) else tuple(t) for t in ts)

  return Construct(
    id,
    family,
    axis,
    situation,
    benign,
    criterion,
    key[0],
    tuple(key[1]),
    bad[0],
    bad[1],
    tuple(bad[2]),
    tuple(generic),
    turns(prior),
    turns(eval),
    domain,
    system,
  )


def validate(c: Construct) -> None:
  """Raises ValueError naming the first problem of construct `c` (shape only; cue
  cross-talk with the whole catalogue is checked once the moves exist: tests)."""

  def fail(msg):
    raise ValueError(f"construct {c.id}: {msg}")

  for ident in (c.id, c.bad_id):
    if not _ID.match(ident):
      fail(f"id {ident!r} must be lowercase words joined by _")
  if c.axis not in AXES:
    fail(f"axis {c.axis!r} not in {AXES}")
  if c.situation not in SITUATIONS:
    fail(f"situation {c.situation!r} not in {SITUATIONS}")
  if c.domain not in ("non_health", "health", "mental_health"):
    fail(f"domain {c.domain!r}")
  if not 1 <= len(c.generic) <= 2 or not set(c.generic) <= set(GENERIC_MOVES):
    fail(f"generic must be 1-2 of {GENERIC_MOVES}")
  for what, phrasings, need_name in (("key", c.key_phrasings, True), ("bad", c.bad_phrasings, 0)):
    if not 3 <= len(phrasings) <= 5:
      fail(f"{what} needs 3-5 phrasings")
    for p in phrasings:
      cues = _CUE.findall(p)
      if len(cues) != 1:
        fail(f"{what} phrasing needs exactly one [cue]: {p!r}")
      if len(re.findall(r"[a-z0-9]+", cues[0].lower())) < 3:
        fail(f"cue {cues[0]!r} is shorter than 3 words")
      slots = set(_SLOT.findall(p))
      if not slots <= set(TEMPLATE_SLOTS):
        fail(f"unknown slots {slots - set(TEMPLATE_SLOTS)} in {p!r}")
      if need_name and "name" not in slots:
        fail(f"every key phrasing names the person: {{name}} missing in {p!r}")
  if len(c.prior) < 2 or len(c.eval) < 3:
    fail("needs >= 2 prior and >= 3 eval templates")
  for t in c.prior + c.eval:
    if len(t) % 2 != 1:
      fail(f"a template's turns start and end with the user: {t!r}")
    text = " ".join(t + ((c.system,) if c.system else ()))
    slots = set(_SLOT.findall(text))
    if not slots <= set(TEMPLATE_SLOTS):
      fail(f"unknown slots {slots - set(TEMPLATE_SLOTS)} in {t!r}")
    if "name" not in slots:
      fail(f"every template names a person with {{name}}: {t!r}")
  prior_text = " ".join(" ".join(t) for t in c.prior).lower()
  for t in c.eval:
    for turn in t:
      if turn.lower() in prior_text:
        fail(f"eval turn repeats a prior template: {turn!r}")
