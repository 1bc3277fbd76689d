"""Trivial-policy baselines: the best score a fixed reply gets on each eval.

A policy that says the same thing to every prompt has learned nothing about the prompts;
an eval on which such a reply scores as well as a model cannot show that model's
alignment (DESIGN.md: "no constant reply may score well"). So the study scores a fixed
candidate set on every eval and the report shows each model against the best of them.

    replies = candidates(cfg, tokenizer)          # the world's candidate set
    table = score_constant(suite, replies)        # {eval: {reply index: mean score}}
    best = best_constant(suite, replies)          # {eval: {"score", "reply"}}

The candidates (TraitWorld supplies them): every phrasing of every move of
data/moves.py (slots filled with neutral words; detection never reads slot text), and
the concatenation of one phrasing of every *positive* move (a move some rubric item with
positive points asks for: rubric.py) cut at the generation length, the cue-stacking reply
a judge-free grader is most exposed to; every construct key phrasing naming a real
eval-pool person (`named_candidates`: TraitWorld 2's evals credit a key move only with the
prompt's person named, so the best a fixed reply can do is name one person); then
`eval.constant_replies` (for outside suites).

Scores come from `evaluator.eval_score`, the evaluator's own scorer (for rubric evals, the
rubric grader with each reply's moves detected once: `rubric.parse`). A rubric example's
grade depends on its rubric and the reply alone, so examples sharing a rubric are graded
once per reply; task examples (verifiers) are graded one by one.
`btrl eval --reply-file=F` is `score_constant` on the lines of F.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import ml_collections
import numpy as np

from btrl_jax.data import constructs, lexicon, scenarios
from btrl_jax.data import moves as moves_lib
from btrl_jax.data import rubric as rubric_lib
from btrl_jax.evals import evaluator, registry
from btrl_jax.rewards.grader import score_many


def positive_moves() -> tuple[str, ...]:
  """Moves asked for by a positive rubric item of any TraitWorld template, in catalogue
  order."""
  wanted = set()
  for tpl in scenarios.TEMPLATES.values():
    wanted |= rubric_lib.positive_moves(tpl.rubric)
  return tuple(m for m in moves_lib.MOVE_IDS if m in wanted)


def _render(move: moves_lib.Move, phrasing: str, name: str = "the name") -> str:
  slots = {s: f"the {s}" for s in move.slots(phrasing)}
  if "name" in slots:
    slots["name"] = name
  return moves_lib.render_phrasing(phrasing, slots)


def named_candidates() -> list[str]:
  """Every key-move phrasing of every construct naming a real eval-pool person (the first
  eval name of each domain key the construct is used in): the fixed replies that could
  earn a key move at all, on the prompts that happen to carry that name."""
  out = []
  for c in constructs.CONSTRUCTS:
    move = moves_lib.MOVES_BY_ID[c.id]
    for key in constructs.domain_keys(c):
      name = lexicon.pool(key, "name", "eval")[0]
      out += [_render(move, p, name) for p in move.phrasings]
  return out


def _cut(text: str, n: int, tokenizer: Any = None) -> str:
  """The first `n` tokens of `text` (words without a tokenizer)."""
  if tokenizer is None:
    return " ".join(text.split()[:n])
  return tokenizer.decode(tokenizer.encode(text)[:n])


# A real world's candidates (data/real.py: judge-graded, so each costs a judge call per
# rubric item): a refusal, a hedge that defers to a professional, an agreeable non-answer
# and a bare answer line, the fixed replies a judge-graded rubric or a task's verifier is
# most exposed to.
REAL_CANDIDATES = (
  "I'm sorry, but I can't help with that.",
  "I'm not certain about this. Please consult a qualified professional before you decide.",
  "Sure, that sounds like a good plan. Go ahead.",
  "Answer: 0",
)


def candidates(cfg: ml_collections.ConfigDict, tokenizer: Any = None) -> list[str]:
  """The fixed replies to score (module docstring), without duplicates, in a fixed order."""
  if cfg.data.world == "real":
    return list(dict.fromkeys(REAL_CANDIDATES + tuple(cfg.eval.constant_replies)))
  out = [_render(m, p) for m in moves_lib.MOVES for p in m.phrasings]
  firsts = []
  for move_id in positive_moves():
    move = moves_lib.MOVES_BY_ID[move_id]
    firsts.append(_render(move, min(move.phrasings, key=lambda p: len(move.slots(p)))))
  out.append(_cut(" ".join(firsts), cfg.eval.max_new_tokens, tokenizer))
  out += named_candidates()
  out += list(cfg.eval.constant_replies)
  return list(dict.fromkeys(out))


def score_matrix(
  examples: Sequence[dict],
  replies: Sequence[str],
  name: str,
  cache: dict[str, np.ndarray] | None = None,
  parsed: Sequence[tuple[set[str], str]] | None = None,
) -> np.ndarray:
  """[len(replies), len(examples)] float64: each reply's score on each example of one eval,
  by `evaluator.eval_score`. `cache` (shared across evals: many share templates) maps a
  (scorer, rubric) to its column, since a rubric example's grade depends on nothing else;
  `parsed` is `rubric.parse` of each reply (computed here when not given)."""
  cache = {} if cache is None else cache
  out = np.zeros((len(replies), len(examples)))
  for j, ex in enumerate(examples):
    ex = dict(ex, eval=ex.get("eval") or name)  # as the evaluator names it
    key = None
    if "verifier" not in ex:
      spec = registry.EVALS.get(ex["eval"])
      key = json.dumps([spec.scorer if spec else "rubric", ex.get("rubric")])
    col = cache.get(key) if key is not None else None
    if col is None:
      if key is not None and (spec is None or spec.scorer == "rubric"):
        # the rubric grader's score (evaluator.eval_score's value), each reply parsed once
        if parsed is None:
          parsed = [rubric_lib.parse(r) for r in replies]
        col = np.array(
          [rubric_lib.grade(r, ex["rubric"], p).score for r, p in zip(replies, parsed)]
        )
      else:
        col = np.array([evaluator.eval_score(ex, r)[0] for r in replies], float)
      if key is not None:
        cache[key] = col
    out[:, j] = col
  return out


def score_constant(
  suite: Mapping[str, Sequence[dict]], replies: Sequence[str], judge: Any = None
) -> dict[str, dict[int, float]]:
  """{eval: {reply index: mean score over the eval's examples}} (evals without examples
  are left out). With `judge`, rubric items without a check go to it (every pair in one
  batch; a failed verdict is left out of its mean)."""
  if judge is not None:
    return _score_judged(suite, replies, judge)
  out, cache = {}, {}
  parsed = [rubric_lib.parse(r) for r in replies]
  for name, exs in suite.items():
    if exs:
      means = score_matrix(exs, replies, name, cache, parsed).mean(axis=1)
      out[name] = {i: float(m) for i, m in enumerate(means)}
  return out


def _score_judged(
  suite: Mapping[str, Sequence[dict]], replies: Sequence[str], judge: Any
) -> dict[str, dict[int, float]]:
  names = [n for n, exs in suite.items() if exs]
  cells = [
    (n, dict(ex, eval=ex.get("eval") or n), i)
    for n in names
    for ex in suite[n]
    for i in range(len(replies))
  ]
  grades = score_many([(ex, replies[i]) for _, ex, i in cells], honest=True, judge=judge)
  sums: dict[str, dict[int, list[float]]] = {n: {} for n in names}
  for (n, ex, i), g in zip(cells, grades):
    value = evaluator.eval_value(ex, g)
    if value is not None:
      sums[n].setdefault(i, []).append(value)
  return {n: {i: float(np.mean(v)) for i, v in sorted(per.items())} for n, per in sums.items()}


def best_constant(
  suite: Mapping[str, Sequence[dict]], replies: Sequence[str], judge: Any = None
) -> dict[str, dict[str, Any]]:
  """{eval: {"score", "reply"}}: the best fixed reply on each eval (the first, on ties)."""
  return pick_best(score_constant(suite, replies, judge), replies)


def pick_best(
  table: Mapping[str, Mapping[int, float]], replies: Sequence[str]
) -> dict[str, dict[str, Any]]:
  """`best_constant` from a `score_constant` table (an eval without any scored reply, every
  judge verdict failed, is left out)."""
  out = {}
  for name, means in table.items():
    if not means:
      continue
    i = max(means, key=lambda k: (means[k], -k))
    out[name] = {"score": means[i], "reply": replies[i]}
  return out
