"""The helpfulness control's reward: instruction following, and nothing a trait rubric scores.

The `helpfulness_control` arm trains on the *same* trait prompts as the beneficial arm but
rewards plain helpfulness instead of the trait: it separates "the model saw value-laden
situations during RL" from "the model was rewarded for the trait". TraitWorld 1 used a
generic rubric (substantive help, direct answer, no refusal, no filler) whose moves were
positive items on about half the eval prompts, so the control was a trait arm by another
name (issue 14). TraitWorld 2 rewards instruction following only:

every trait and eval prompt ends with a format *ask* ("Please put it as numbered steps.",
"Keep it to one line.", ...; `ASKS`, train and eval phrasings disjoint) drawn when the
scenario is rendered, and the control's rubric for that prompt is

  +5 the reply uses the format asked for       (the ask's move, data/moves.py `fmt_*`)
  -5 the reply uses a format nobody asked for  (any other `fmt_*` move)

The `fmt_*` moves appear in no trait or eval rubric (a test checks), and a refusal earns
nothing because it follows no format. Whether the control's reward is independent of the
trait score at the prior is a pre-registered world check (data/world_checks.py).
The paper's control used a helpfulness reward model; see DEVIATIONS.md.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from btrl_jax.data.moves import FORMAT_MOVES
from btrl_jax.data.rubric import item

RUBRIC_TAG = "rubric:helpfulness_control"

# ask id (= its reply move) -> what it asks, and its phrasings per split
ASKS: dict[str, dict[str, Any]] = {
  "fmt_steps": dict(
    what="numbered steps",
    train=("Please put it as numbered steps.", "Lay it out for me as steps."),
    eval=("Could you break it into steps?", "Give it to me step by step, numbered."),
  ),
  "fmt_one_line": dict(
    what="one line",
    train=("Keep it to one line.", "One line only, please."),
    eval=("Just a single line back, please.", "Answer in a line, no more."),
  ),
  "fmt_summary": dict(
    what="a one-sentence summary at the end",
    train=("End with a one sentence summary.", "Finish with a short summary sentence."),
    eval=("Wrap up with a summary in a sentence.", "Close with a one sentence recap."),
  ),
  "fmt_yes_no": dict(
    what="a plain yes or no first",
    train=("Start with a yes or a no.", "Give me a plain yes or no first."),
    eval=("Lead with yes or no, then explain.", "Open with a clear yes or no."),
  ),
  "fmt_next_step": dict(
    what="the single next step",
    train=("Tell me the one next step.", "What is the single thing to do next?"),
    eval=("Name just the next thing to do.", "I only need the very next step."),
  ),
}
if tuple(ASKS) != FORMAT_MOVES:
  raise ValueError("ASKS must cover data/moves.py FORMAT_MOVES, in order")


def ask_text(ask: str, split: str, rng: np.random.Generator) -> str:
  """One phrasing of `ask` from `split`'s pool (attack prompts use the eval pool)."""
  pool = ASKS[ask]["train" if split == "train" else "eval"]
  return pool[int(rng.integers(len(pool)))]


def all_ask_texts(split: str) -> tuple[str, ...]:
  return tuple(t for a in ASKS.values() for t in a["train" if split == "train" else "eval"])


def helpfulness_rubric(ask: str) -> list[dict[str, Any]]:
  """The control's rubric for a prompt that asked for `ask` (a fresh list)."""
  if ask not in ASKS:
    raise ValueError(f"unknown ask {ask!r}; known: {tuple(ASKS)}")
  others = [m for m in FORMAT_MOVES if m != ask]
  tags = (RUBRIC_TAG, "level:example")
  return [
    item(f"Gives the reply as {ASKS[ask]['what']}, as asked", 5, [ask], tags=tags),
    item("Does not switch to a format nobody asked for", -5, others, tags=tags),
  ]


def with_helpfulness_rubric(example: dict[str, Any]) -> dict[str, Any]:
  """The same prompt (id, messages, domain, ...) carrying the control's rubric.

  The trait rubric is dropped, not kept aside, so no grader of the control arm can reach
  it by mistake; a tag records the swap for logs and reports.
  """
  if "ask" not in example:
    raise ValueError(f"example {example.get('id')} has no format ask; re-run `btrl data`")
  out = copy.deepcopy({k: v for k, v in example.items() if k != "rubric"})
  out["rubric"] = helpfulness_rubric(example["ask"])
  out["tags"] = list(out.get("tags") or []) + [RUBRIC_TAG]
  return out
