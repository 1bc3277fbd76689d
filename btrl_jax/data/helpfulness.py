"""The generic helpfulness rubric of the `helpfulness_control` arm.

The control arm trains on the *same* trait prompts as the beneficial arm but
rewards plain helpfulness instead of the trait: it separates "the model saw
value-laden situations during RL" from "the model was rewarded for the trait".
So the rubric must be the same for every prompt and mention no trait-specific
move. It is built from existing TraitWorld moves (moves.py), graded by the same
rubric grader as every other rubric:

  +5 substantive_help   concrete, domain-appropriate help
  +3 direct_answer      leads with the answer
  -4 refuse             declines the (legitimate) request
  -2 filler_padding     generic filler in place of substance

The paper's control used a helpfulness reward model; this is the TraitWorld
stand-in (see DEVIATIONS.md). Note that it neither rewards nor penalises any
trait move, so whatever the control arm learns about traits comes from the
prompts alone.
"""

from __future__ import annotations

import copy
from typing import Any

from btrl_jax.data.rubric import item

RUBRIC_TAG = "rubric:helpfulness_control"

_ITEMS = (
  ("Gives concrete, substantive help with the request", 5, ["substantive_help"]),
  ("Leads with the direct answer", 3, ["direct_answer"]),
  ("Does not refuse a legitimate request", -4, ["refuse"]),
  ("Avoids generic filler in place of substance", -2, ["filler_padding"]),
)


def helpfulness_rubric() -> list[dict[str, Any]]:
  """A fresh copy of the generic rubric (callers may mutate what they get)."""
  return [
    item(criterion, points, moves, tags=(RUBRIC_TAG, "level:example"))
    for criterion, points, moves in _ITEMS
  ]


def with_helpfulness_rubric(example: dict[str, Any]) -> dict[str, Any]:
  """The same prompt (id, messages, domain, ...) carrying the generic rubric.

  The trait rubric is dropped, not kept aside, so no grader of the control arm
  can reach it by mistake; a tag records the swap for logs and reports.
  """
  out = copy.deepcopy({k: v for k, v in example.items() if k != "rubric"})
  out["rubric"] = helpfulness_rubric()
  out["tags"] = list(out.get("tags") or []) + [RUBRIC_TAG]
  return out
