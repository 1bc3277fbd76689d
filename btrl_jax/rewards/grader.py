"""One scorer for RL rewards and eval scores (nanochat's `reward()` calls `evaluate()`).

Dispatch by what an example carries:
  `verifier`  a standard task: `tasks.verify` (the task's own verifier, flawed on
              some training tasks on purpose; `honest=True` uses the honest one)
  `rubric`    a TraitWorld scenario (or any example whose rubric items carry a
              `check`): HealthBench scoring of the moves found in the reply
Every score also records its components, so a reward can be audited per sample.

Rubric items are graded item by item by one of the ITEM_GRADERS: `check` (the item's
programmatic check against the moves found in the reply) or `judge` (an item without a
check: a judge model, rewards/judge.py). An example may mix both. Without a judge, an
item without a check is rejected (`coverage`), never silently scored. A judge verdict
that could not be obtained makes the score a failure (`Score.failed`, value NaN), never
a 0: callers leave it out of their means (evals) or groups (RL) and count it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from btrl_jax.data import rubric as rubric_lib
from btrl_jax.data import tasks
from btrl_jax.data.rubric import ITEM_GRADERS, coverage, item_grader  # noqa: F401 (re-exported)
from btrl_jax.rewards import judge as judge_lib


@dataclasses.dataclass(frozen=True)
class Score:
  value: float  # in [0, 1]
  kind: str  # "rubric" | "verifier"
  refusal: str | None  # refusal / partial / non_refusal (rubric examples)
  components: dict[str, Any]

  @property
  def failed(self) -> bool:
    """A judge verdict was not obtained: no score (never read as 0)."""
    return math.isnan(self.value)


def score(
  example: Mapping[str, Any],
  reply: str,
  *,
  honest: bool = False,
  judge: judge_lib.Judge | None = None,
  namespace: str = "eval",
) -> Score:
  return score_many([(example, reply)], honest=honest, judge=judge, namespace=namespace)[0]


def score_many(
  pairs: Sequence[tuple[Mapping[str, Any], str]],
  *,
  honest: bool = False,
  judge: judge_lib.Judge | None = None,
  namespace: str = "eval",
) -> list[Score]:
  """`score` of many (example, reply) pairs; every judge item of all of them is sent in
  one concurrent batch (judge.py)."""
  out: list[Score | None] = [None] * len(pairs)
  asks: list[tuple[int, int, judge_lib.Item]] = []  # (pair, item index, question)
  partial: dict[int, tuple] = {}
  for p, (example, reply) in enumerate(pairs):
    rubric = example.get("rubric") or []
    if "verifier" in example or all(item_grader(it) == "check" for it in rubric):
      out[p] = _score_checked(example, reply, honest)
      continue
    if judge is None:
      raise ValueError(f"example {example.get('id')!r}: {coverage(example)}")
    moves, text = rubric_lib.parse(reply)
    met: list[bool | None] = []
    for i, it in enumerate(rubric):
      if item_grader(it) == "check":
        met.append(rubric_lib.check_holds(it["check"], moves, text))
      else:
        met.append(None)
        conv = tuple((m["role"], m["content"]) for m in example["messages"])
        asks.append((p, i, judge_lib.Item(conv, reply, it["criterion"], float(it["points"]))))
    partial[p] = (met, moves)
  verdicts = judge.grade([a for *_, a in asks], namespace) if asks else []
  for (p, i, _), v in zip(asks, verdicts):
    partial[p][0][i] = v.met
  for p, (met, moves) in partial.items():
    rubric = pairs[p][0]["rubric"]
    failed = sum(m is None for m in met)
    value = float("nan") if failed else rubric_lib.rubric_score(rubric, met)
    out[p] = Score(
      value,
      "rubric",
      rubric_lib.refusal_label(moves),
      {
        "met": met,
        "moves": sorted(moves),
        "judged": sum(item_grader(it) == "judge" for it in rubric),
        "judge_failed": failed,
      },
    )
  return out  # type: ignore[return-value]


def _score_checked(example: Mapping[str, Any], reply: str, honest: bool) -> Score:
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
