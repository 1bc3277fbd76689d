"""Sample a policy's replies to examples in large batches and grade each one.

The evaluator, the prior's calibration check and the RL learner's held-out
checks all go through `run`: prompts are batched (the sampler buckets shapes,
so batches of one size compile once), each reply is graded by
`rewards.grader.score`, and one record per sample comes back.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import numpy as np
from tqdm.auto import tqdm

from btrl_jax.policy import Policy
from btrl_jax.rewards.grader import score
from btrl_jax.sampling import SamplingParams


def run(policy: Policy, examples: Sequence[dict], sampling: SamplingParams, key: jax.Array, *,
        num_samples: int = 1, batch_size: int = 64, honest: bool = True,
        progress: bool = False, desc: str = "eval") -> list[dict[str, Any]]:
  """One record per (example, sample): id, sample index, reply, score, refusal, components."""
  records = []
  starts = range(0, len(examples), batch_size)
  for b, start in enumerate(tqdm(starts, desc=desc, disable=not progress, dynamic_ncols=True)):
    batch = examples[start:start + batch_size]
    replies = policy.reply([ex["messages"] for ex in batch], sampling, jax.random.fold_in(key, b),
                           num_samples=num_samples)
    for ex, samples in zip(batch, replies):
      for i, reply in enumerate(samples):
        s = score(ex, reply, honest=honest)
        records.append({"id": ex.get("id"), "sample": i, "reply": reply, "score": s.value,
                        "kind": s.kind, "refusal": s.refusal, **s.components})
  return records


def mean_score(records: Sequence[dict]) -> float:
  return float(np.mean([r["score"] for r in records])) if records else float("nan")
