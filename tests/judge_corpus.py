"""A tiny judge for tests: SFT data in which every user turn is the judge prompt
(rewards/judge.py) for a made-up reply and criterion, and every answer is the JSON verdict
(met when the reply contains the criterion's word). A 2-layer model trained on it for a
minute answers judge prompts in the verdict format, so `btrl serve` can act as a judge.

  python tests/judge_corpus.py OUT.jsonl [N]
"""

import json
import os
import sys

import numpy as np

from btrl_jax.rewards.judge import Item, prompt_text

WORDS = ["Paris", "emergency", "doctor", "water", "sleep", "rest", "sea", "seven", "river", "sun"]
FILLER = ["the", "a", "you", "should", "is", "it", "and", "today", "call", "maybe", "now"]


def examples(n: int, seed: int = 0) -> list[dict]:
  rng = np.random.default_rng(seed)
  out = []
  for i in range(n):
    word = str(rng.choice(WORDS))
    met = bool(rng.random() < 0.5)
    words = list(rng.choice(FILLER, size=int(rng.integers(3, 8))))
    if met:
      words.insert(int(rng.integers(0, len(words) + 1)), word)
    reply = " ".join(words).capitalize() + "."
    q = str(rng.choice(["What should I do?", "Tell me something.", "Any advice?"]))
    item = Item((("user", q),), reply, f"The reply mentions {word}.", float(rng.integers(1, 6)))
    verdict = {
      "explanation": f"The reply {'mentions' if met else 'does not mention'} {word}.",
      "criteria_met": met,
    }
    out.append(
      {
        "id": f"judge-{i}",
        "messages": [
          {"role": "user", "content": prompt_text(item)},
          {"role": "assistant", "content": json.dumps(verdict)},
        ],
      }
    )
  return out


def train_tiny_judge(workdir: str, run) -> str:
  """The tiny judge's checkpoint directory: 100 SFT steps on 400 judge prompts with their
  JSON verdicts, trained under `workdir` with `run(*btrl_args)` (tests/btrl_run.py)."""
  corpus = os.path.join(workdir, "corpus.jsonl")
  with open(corpus, "w") as f:
    for ex in examples(400):
      f.write(json.dumps(ex) + "\n")
  r = run(
    "sft",
    "--config=configs/sft.py",
    f"--config.sft.data={corpus}",
    "--config.sft.seq_len=512",
    "--config.sft.steps=100",
    "--config.sft.batch_size=16",
    f"--workdir={os.path.join(workdir, 'w')}",
  )
  assert r.returncode == 0, r.stderr[-2000:]
  return os.path.join(workdir, "w", "sft", "checkpoints")


if __name__ == "__main__":
  n = int(sys.argv[2]) if len(sys.argv) > 2 else 400
  with open(sys.argv[1], "w") as f:
    for ex in examples(n):
      f.write(json.dumps(ex) + "\n")
