"""A tiny judge for tests: SFT data in which every user turn is the judge prompt
(rewards/judge.py) for a made-up reply and criterion, and every answer is the JSON verdict
(met when the reply contains the criterion's word). A 2-layer model trained on it for a
minute answers judge prompts in the verdict format, so `btrl serve` can act as a judge.

  python tests/judge_corpus.py OUT.jsonl [N]
"""

import json
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


if __name__ == "__main__":
  n = int(sys.argv[2]) if len(sys.argv) > 2 else 400
  with open(sys.argv[1], "w") as f:
    for ex in examples(n):
      f.write(json.dumps(ex) + "\n")
