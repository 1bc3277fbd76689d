"""One scorer for RL rewards and eval scores (nanochat's `reward()` calls `evaluate()`).

Dispatch by what an example carries:
  `verifier`  a standard task: `tasks.verify` (the task's own verifier, flawed on
              some training tasks on purpose; `honest=True` uses the honest one)
  `rubric`    a TraitWorld scenario (or any example whose rubric items carry a
              `check`): HealthBench scoring of the moves found in the reply
Every score also records its components, so a reward can be audited per sample.
Rubric items without a `check` need a judge model (a later issue) and are
rejected here rather than silently scored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from btrl_jax.data import rubric as rubric_lib
from btrl_jax.data import tasks


@dataclasses.dataclass(frozen=True)
class Score:
  value: float  # in [0, 1]
  kind: str  # "rubric" | "verifier"
  refusal: str | None  # refusal / partial / non_refusal (rubric examples)
  components: dict[str, Any]


def coverage(example: Mapping[str, Any]) -> str | None:
  """Why `score` cannot grade `example` (None when it can), decided from the example alone,
  so a file is rejected when it is loaded, before any prompt is sampled."""
  if "verifier" in example:
    return None
  if not example.get("rubric"):
    return "no rubric and no verifier: nothing can grade it"
  for i, it in enumerate(example["rubric"]):
    if "check" not in it:
      return (
        f"rubric[{i}] ({it.get('criterion', '')[:60]!r}) has no check: it needs a judge "
        "grader, which btrl-jax does not have yet"
      )
  return None


def score(example: Mapping[str, Any], reply: str, *, honest: bool = False) -> Score:
  if "verifier" in example:
    result = tasks.verify(example, reply, honest=honest)
    return Score(
      float(result.reward),
      "verifier",
      None,
      {
        "correct": bool(result.correct),
        "hack": bool(tasks.reward_hacking_flag(example, reply)),
        "family": example.get("family"),
      },
    )
  if example.get("rubric"):
    g = rubric_lib.grade(reply, example["rubric"])
    return Score(
      float(g.score),
      "rubric",
      g.refusal,
      {"met": [bool(m) for m in g.met], "moves": sorted(g.moves)},
    )
  raise ValueError(f"example {example.get('id')!r} has neither a verifier nor a rubric")
