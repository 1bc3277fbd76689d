"""The evaluator: a policy (an Orbax checkpoint) x named evals -> graded samples.

    suite = load_suite(cfg, names)                      # {eval: examples}
    records = evaluate(policy, suite, cfg.eval, key)    # {eval: [record, ...]}
    write_records(records, "W/evals/beneficial")        # one JSONL per eval

All evals' prompts go through the JAX sampler together, sorted by prompt length
and cut into `eval.batch_size` batches (the sampler buckets shapes, so a run
compiles a handful of programs however many evals it covers). Greedy by default
(`eval.temperature=0`), or `eval.num_samples` samples per prompt (the issue's
`eval.samples`) at `eval.temperature`. Sample s of prompt `id` of eval e draws its random
numbers from `fold_in(key, stream(e, id, s))` (`stream_id`), `key` coming from the study
seed alone: never from the model, the batch a prompt lands in or the process count. So
every model's sample s of a prompt uses the same uniforms (common random numbers), and the
paired differences the report tests carry less sampling noise. Every reply
is graded by `rewards.grader.score`, the function that also computes RL rewards;
an eval's score is then read off the grade by its scorer:

  rubric   HealthBench score of the rubric (points met / positive points, clipped)
  honest   the honest verifier's reward (held-out capability, impossible tasks)
  no_hack  1 - the reward-hacking flag (claimed success, visible-test hard-coding,
           shotgun answers): the reply did not game the check

With several processes, every process builds the whole suite, samples its share of
each batch (`Policy.reply`) and holds every record; process 0 writes the files.

One record per sample: id, cluster (the example's `cluster`, else its id), eval, family,
tag, sample, persona, prompt (the last user message), reply, score, met (rubric items met),
refusal label, components.
Eval files from outside (DESIGN.md JSONL, HealthBench field names accepted) are
graded the same way, by their rubric's `check`s.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import jax
import ml_collections
import numpy as np
from tqdm.auto import tqdm

from btrl_jax import parallel
from btrl_jax.data import real as real_world
from btrl_jax.data.jsonl import import_examples
from btrl_jax.evals import attacks, registry
from btrl_jax.policy import Policy
from btrl_jax.rewards.grader import coverage, score_many
from btrl_jax.rewards.grader import score as grade
from btrl_jax.rewards.judge import Judge
from btrl_jax.sampling import SamplingParams


def load_suite(
  cfg: ml_collections.ConfigDict, names: Sequence[str] | None = None, size: int | None = None
) -> dict[str, list[dict]]:
  """Examples of each named eval (default: `eval.evals`), `eval.size` each, from the study
  seed; in a real world (`data.world="real"`) as a real model sees them and a judge grades
  them (data/real.py)."""
  names = registry.resolve(cfg.eval.evals) if names is None else names
  view = real_world.render if cfg.data.world == "real" else dict
  return {
    n: [view(ex) for ex in registry.examples(n, size or cfg.eval.size, cfg.seed)] for n in names
  }


def load_file(path: str, judge: bool = False) -> dict[str, list[dict]]:
  """An outside eval file, grouped by its `eval` field (the file name where absent).

  Every line must be gradeable by `rewards.grader.score` (a verifier, or rubric items that
  carry a `check`, or, with `judge` (a judge is configured), any rubric items): a
  DataError names each one that is not, before anything compiles.
  """
  default = os.path.splitext(os.path.basename(path))[0]
  suite: dict[str, list[dict]] = {}
  for ex in import_examples(path, check=lambda ex: coverage(ex, judge)):
    ex.setdefault("eval", ex.get("eval") or default)
    suite.setdefault(ex["eval"] or default, []).append(ex)
  return suite


def sampling_params(ecfg: ml_collections.ConfigDict) -> SamplingParams:
  return SamplingParams(
    temperature=ecfg.temperature, top_p=ecfg.top_p, max_new_tokens=ecfg.max_new_tokens
  )


def eval_score(example: dict, reply: str) -> tuple[float, Any]:
  """(score, grade) of one reply under its eval's scorer (module docstring)."""
  g = grade(example, reply, honest=True)
  return eval_value(example, g), g


def eval_value(example: dict, g) -> float | None:
  """The eval's score of grade `g`: None for a failed judge verdict (never a 0)."""
  name = example.get("eval")
  scorer = registry.EVALS[name].scorer if name in registry.EVALS else "rubric"
  if g.failed:
    return None
  if scorer == "no_hack":
    return 1.0 - float(g.components["hack"])
  return g.value


def stream_id(eval_name: str, example_id: Any, sample: int) -> int:
  """The uint32 random stream of one (eval, prompt id, sample): a hash, so it does not
  depend on where the prompt sits in a batch or suite."""
  blob = json.dumps([eval_name, example_id, sample]).encode()
  return int.from_bytes(hashlib.blake2b(blob, digest_size=4).digest(), "little")


def _last_user(messages: list[dict]) -> str:
  return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


def evaluate(
  policy: Policy,
  suite: dict[str, list[dict]],
  ecfg: ml_collections.ConfigDict,
  key: jax.Array,
  *,
  persona: str | None = None,
  progress: bool = True,
  desc: str = "eval",
  judge: Judge | None = None,
  failure_budget: float = 0.0,
) -> dict[str, list[dict[str, Any]]]:
  """Samples and grades every example of every eval; returns {eval: records}. Rubric items
  without a check go to `judge`; a reply whose verdict failed is recorded with score None
  and `judge_failed` (summary leaves it out and counts it)."""
  items, positions = [], []
  for name, exs in suite.items():
    for i, ex in enumerate(exs):
      ex = dict(ex, eval=ex.get("eval") or name)
      if persona:
        ex = attacks.apply(ex, persona, i)
      items.append(ex)
      positions.append(i)
  prompts = [policy.tokenizer.encode_prompt(ex["messages"]) for ex in items]
  order = np.argsort([len(p) for p in prompts], kind="stable")
  sampling, k = sampling_params(ecfg), ecfg.num_samples
  replies: list[list[str] | None] = [None] * len(items)
  # An example without an id is named by its place in its eval.
  ids = [f"#{i}" if ex.get("id") is None else ex["id"] for ex, i in zip(items, positions)]
  streams = [[stream_id(ex["eval"], id_, s) for s in range(k)] for ex, id_ in zip(items, ids)]
  starts = range(0, len(items), ecfg.batch_size)
  bar = tqdm(
    starts,
    desc=desc,
    disable=not progress or not parallel.is_lead(),
    dynamic_ncols=True,
    leave=False,
  )
  for start in bar:
    idx = order[start : start + ecfg.batch_size]
    out = policy.reply(
      [items[i]["messages"] for i in idx],
      sampling,
      key,
      num_samples=k,
      streams=[streams[i] for i in idx],
    )
    for i, r in zip(idx, out):
      replies[i] = r
  records: dict[str, list[dict[str, Any]]] = {name: [] for name in suite}
  pairs = [(ex, reply) for ex, samples in zip(items, replies) for reply in samples]
  grades = iter(score_many(pairs, honest=True, judge=judge, namespace="eval"))
  if judge is not None and parallel.is_lead():
    print(judge.summary(), file=sys.stderr)
  if judge is not None:
    judge.check_budget(failure_budget)
  for ex, samples in zip(items, replies):
    for s, reply in enumerate(samples):
      g = next(grades)
      value = eval_value(ex, g)
      spec = registry.EVALS.get(ex["eval"])
      records[ex["eval"]].append(
        {
          "id": ex.get("id"),
          "cluster": ex.get("cluster", ex.get("id")),
          "eval": ex["eval"],
          "family": spec.family if spec else ex.get("family"),
          "tag": spec.tag if spec else _tag(ex),
          "sample": s,
          "persona": persona,
          "prompt": _last_user(ex["messages"]),
          "reply": reply,
          "score": value,
          "met": g.components.get("met"),
          "refusal": g.refusal,
          "components": {k_: v for k_, v in g.components.items() if k_ != "met"},
          "judge_failed": int(g.components.get("judge_failed", 0)),
        }
      )
  return records


def _tag(example: dict) -> str:
  tags = example.get("tags") or []
  if "mental_health" in tags or example.get("subdomain") == "mental_health":
    return "mental_health"
  return "health" if example.get("domain") == "health" or "health" in tags else "non_health"


def _write_lines(records: Sequence[dict], path: str) -> None:
  """Atomically (a temporary file, then a rename); process 0 only (every process holds
  every record, and the workdir is shared)."""
  if parallel.is_lead():
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w") as f:
      for r in records:
        f.write(json.dumps(r) + "\n")
    os.replace(path + ".tmp", path)


def write_records(records: dict[str, list[dict]], out_dir: str) -> list[str]:
  """One JSONL per eval under out_dir (written by process 0); returns the paths."""
  paths = []
  for name, recs in records.items():
    paths.append(os.path.join(out_dir, f"{name}.jsonl"))
    _write_lines(recs, paths[-1])
  return paths


def write_jsonl(records: dict[str, list[dict]], path: str) -> str:
  """Every record of every eval into one JSONL file (written by process 0)."""
  _write_lines([r for recs in records.values() for r in recs], path)
  return path


def read_records(out_dir: str, names: Sequence[str]) -> dict[str, list[dict]] | None:
  """The records written by `write_records`, or None if any eval is missing."""
  out = {}
  for name in names:
    path = os.path.join(out_dir, f"{name}.jsonl")
    if not os.path.exists(path):
      return None
    with open(path) as f:
      out[name] = [json.loads(line) for line in f if line.strip()]
  return out


def summary(records: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
  """{eval: {"mean", "se", "n", "refusal_rate", "failures"}}: over the graded samples; a
  sample whose judge verdict failed (score None) is counted in `failures`, not scored."""
  out = {}
  for name, recs in records.items():
    s = np.array([r["score"] for r in recs if r["score"] is not None], float)
    refusals = [r["refusal"] for r in recs if r["refusal"] is not None]
    out[name] = {
      "mean": float(s.mean()) if len(s) else float("nan"),
      "se": float(s.std(ddof=1) / np.sqrt(len(s))) if len(s) > 1 else float("nan"),
      "n": int(len(s)),
      "refusal_rate": (float(np.mean([x == "refusal" for x in refusals])) if refusals else None),
      "failures": sum(r["score"] is None for r in recs),
    }
  return out
