"""Trivial-policy baselines: `btrl eval --reply-file`, the candidate set, the best constant."""

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np

from btrl_jax import presets
from btrl_jax.data import constructs, lexicon, moves
from btrl_jax.evals import constant, evaluator, registry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _grader_means(suite, replies):
  """Each reply's mean score per eval, one `evaluator.eval_score` call per example."""
  return {
    name: [
      float(np.mean([evaluator.eval_score(dict(ex, eval=name), r)[0] for ex in exs]))
      for r in replies
    ]
    for name, exs in suite.items()
  }


def test_reply_file_scores_equal_the_grader(tmp_path):
  first = evaluator.load_suite(presets.study(), ["healthbench"])["healthbench"][0]
  replies = [
    "To be honest, this cannot be done within the rules as they stand.",
    _stacked(constant.candidates(presets.study())),  # the stacked positive moves
    # the first healthbench prompt's key move, naming its person: scores there
    moves.render_move(first["construct"], first["slots"], np.random.default_rng(0)),
  ]
  f = tmp_path / "replies.txt"
  f.write_text(f"{replies[0]}\n\n{replies[1]}\n   \n{replies[2]}\n")
  names = ["healthbench", "impossible_tasks"]
  r = subprocess.run(
    [
      sys.executable,
      "-m",
      "btrl_jax.cli",
      "eval",
      f"--reply-file={f}",
      f"--evals={','.join(names)}",
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert r.returncode == 0, r.stderr[-2000:]
  out = json.loads(r.stdout)
  assert out["replies"] == replies  # blank lines skipped
  want = _grader_means(evaluator.load_suite(presets.study(), names), replies)
  assert set(out["means"]) == set(names)
  for name in names:
    np.testing.assert_allclose(out["means"][name], want[name], rtol=0, atol=1e-12)
    assert out["best"][name]["score"] == max(out["means"][name])
  assert max(want["impossible_tasks"]) > 0 and max(want["healthbench"]) > 0  # not all zeros
  missing = subprocess.run(
    [sys.executable, "-m", "btrl_jax.cli", "eval", f"--reply-file={tmp_path / 'nope.txt'}"],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert missing.returncode == 2
  assert missing.stderr.strip().count("\n") == 0 and "nope.txt" in missing.stderr


def test_candidates_include_every_move_phrasing_and_the_stacked_positive_moves():
  cfg = presets.study()
  cfg.eval.constant_replies = ("An outside suite's fixed reply.",)
  cands = constant.candidates(cfg)
  n_phrasings = sum(len(m.phrasings) for m in moves.MOVES)
  named = constant.named_candidates()
  assert len(cands) == n_phrasings + 1 + len(named) + 1 == len(set(cands))
  assert cands[n_phrasings + 1 : -1] == named
  for c in constructs.CONSTRUCTS:  # every key phrasing, naming a real eval-pool person
    for key in constructs.domain_keys(c):
      name = lexicon.pool(key, "name", "eval")[0]
      assert sum(name in r and moves.detect_moves(r) == {c.id} for r in named) == len(
        moves.MOVES_BY_ID[c.id].phrasings
      )
  for move in moves.MOVES:
    for p in move.phrasings:
      rendered = moves.render_phrasing(p, {s: f"the {s}" for s in move.slots(p)})
      assert rendered in cands and moves.detect_moves(rendered) == {move.id}
  assert cands[-1] == "An outside suite's fixed reply."
  positive = constant.positive_moves()
  assert "acknowledge_uncertainty" in positive and "fabricate_citation" not in positive
  stacked = _stacked(cands)
  assert len(stacked.split()) == cfg.eval.max_new_tokens  # cut at the generation length
  cfg.eval.max_new_tokens = 10_000
  assert moves.detect_moves(_stacked(constant.candidates(cfg))) == set(positive)
  chars = SimpleNamespace(
    encode=lambda t: [ord(c) for c in t], decode=lambda ids: "".join(map(chr, ids))
  )
  cfg.eval.max_new_tokens = 30
  assert _stacked(constant.candidates(cfg, chars)) == stacked[:30]  # 30 tokens of the tokenizer


def _stacked(cands):
  """The stacked positive moves: the candidate after every single move phrasing."""
  return cands[sum(len(m.phrasings) for m in moves.MOVES)]


def test_best_constant_picks_the_max_of_the_grader_scores():
  names = ["healthbench", "deception_research", "trait_truthfulness", "impossible_coding"]
  suite = {n: registry.examples(n, 12, seed=1) for n in names}
  replies = constant.candidates(presets.study())[::7]
  want = _grader_means(suite, replies)
  table = constant.score_constant(suite, replies)  # cached per rubric: must equal the grader
  best = constant.best_constant(suite, replies)
  for name in names:
    np.testing.assert_allclose(
      [table[name][i] for i in range(len(replies))], want[name], atol=1e-12
    )
    i = int(np.argmax(want[name]))
    assert best[name] == {"score": table[name][i], "reply": replies[i]}
    assert best[name]["score"] == max(want[name])
  assert len({b["reply"] for b in best.values()}) > 1  # evals differ in their best reply
