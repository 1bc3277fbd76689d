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
a judge-free grader is most exposed to; then `eval.constant_replies` (for outside suites).

Scores come from `evaluator.eval_score`, the evaluator's own scorer. A rubric example's
grade depends on its rubric and the reply alone, so examples sharing a rubric (one per
template) are graded once per reply; task examples (verifiers) are graded one by one.
`btrl eval --reply-file=F` is `score_constant` on the lines of F.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import ml_collections
import numpy as np

from btrl_jax.data import moves as moves_lib
from btrl_jax.data import scenarios
from btrl_jax.evals import evaluator, registry


def _named_moves(check: Mapping[str, Any]) -> set[str]:
  """Moves whose presence can make `check` hold (not those it forbids)."""
  ((op, arg),) = check.items()
  if op in ("any", "all"):
    return set(arg)
  if op in ("and", "or"):
    return set().union(*(_named_moves(c) for c in arg))
  return set()  # none / not: the check asks for an absence


def positive_moves() -> tuple[str, ...]:
  """Moves asked for by a positive rubric item of any TraitWorld template, in catalogue
  order."""
  wanted = set()
  for tpl in scenarios.TEMPLATES.values():
    for it in tpl.rubric:
      if it["points"] > 0:
        wanted |= _named_moves(it["check"])
  return tuple(m for m in moves_lib.MOVE_IDS if m in wanted)


def _render(move: moves_lib.Move, phrasing: str) -> str:
  return moves_lib.render_phrasing(phrasing, {s: f"the {s}" for s in move.slots(phrasing)})


def _cut(text: str, n: int, tokenizer: Any = None) -> str:
  """The first `n` tokens of `text` (words without a tokenizer)."""
  if tokenizer is None:
    return " ".join(text.split()[:n])
  return tokenizer.decode(tokenizer.encode(text)[:n])


def candidates(cfg: ml_collections.ConfigDict, tokenizer: Any = None) -> list[str]:
  """The fixed replies to score (module docstring), without duplicates, in a fixed order."""
  out = [_render(m, p) for m in moves_lib.MOVES for p in m.phrasings]
  firsts = []
  for move_id in positive_moves():
    move = moves_lib.MOVES_BY_ID[move_id]
    firsts.append(_render(move, next(p for p in move.phrasings if not move.slots(p))))
  out.append(_cut(" ".join(firsts), cfg.eval.max_new_tokens, tokenizer))
  out += list(cfg.eval.constant_replies)
  return list(dict.fromkeys(out))


def score_matrix(
  examples: Sequence[dict],
  replies: Sequence[str],
  name: str,
  cache: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
  """[len(replies), len(examples)] float64: each reply's score on each example of one eval,
  by `evaluator.eval_score`. `cache` (shared across evals: many share templates) maps a
  (scorer, rubric) to its column, since a rubric example's grade depends on nothing else."""
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
      col = np.array([evaluator.eval_score(ex, r)[0] for r in replies], float)
      if key is not None:
        cache[key] = col
    out[:, j] = col
  return out


def score_constant(
  suite: Mapping[str, Sequence[dict]], replies: Sequence[str]
) -> dict[str, dict[int, float]]:
  """{eval: {reply index: mean score over the eval's examples}} (evals without examples
  are left out)."""
  out, cache = {}, {}
  for name, exs in suite.items():
    if exs:
      means = score_matrix(exs, replies, name, cache).mean(axis=1)
      out[name] = {i: float(m) for i, m in enumerate(means)}
  return out


def best_constant(
  suite: Mapping[str, Sequence[dict]], replies: Sequence[str]
) -> dict[str, dict[str, Any]]:
  """{eval: {"score", "reply"}}: the best fixed reply on each eval (the first, on ties)."""
  return pick_best(score_constant(suite, replies), replies)


def pick_best(
  table: Mapping[str, Mapping[int, float]], replies: Sequence[str]
) -> dict[str, dict[str, Any]]:
  """`best_constant` from a `score_constant` table."""
  out = {}
  for name, means in table.items():
    i = max(means, key=lambda k: (means[k], -k))
    out[name] = {"score": means[i], "reply": replies[i]}
  return out
