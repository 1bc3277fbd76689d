"""A small built-in SFT corpus with a learnable rule, for the foundation demo and tests.

`reverse`: the user asks for a few words in reverse order and the assistant
replies with exactly those words reversed. Word lists are split by a stable
hash into train and held-out combinations, so a model that follows the rule on
held-out prompts has learned the rule, not memorised replies. TraitWorld (the
study's real data) replaces this corpus as the prior's SFT data.
"""

from __future__ import annotations

import hashlib

import numpy as np

WORDS = (
  "apple river stone cloud green quiet table window garden silver orange paper "
  "forest candle bridge winter summer music yellow rabbit ocean pencil mountain "
  "coffee dragon planet violet marble harbor lemon copper meadow falcon desert "
  "velvet anchor signal tiger shadow crystal island rocket butter thunder maple "
  "lantern cotton spider pepper circle hammer"
).split()

_PROMPTS = ("reverse: {}", "Please reverse these words: {}", "Say these words backwards: {}")


def _held_out(words: tuple[str, ...]) -> bool:
  digest = hashlib.sha256(" ".join(words).encode()).digest()
  return digest[0] < 26  # ~10% of combinations are held out


def reverse_examples(
  n: int, seed: int, split: str = "train", min_words: int = 3, max_words: int = 5
) -> list[dict]:
  """n conversations in the DESIGN.md format (only `messages` matters for SFT)."""
  if split not in ("train", "eval"):
    raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
  rng = np.random.default_rng(seed)
  out = []
  while len(out) < n:
    k = int(rng.integers(min_words, max_words + 1))
    words = tuple(str(w) for w in rng.choice(WORDS, size=k, replace=False))
    if _held_out(words) != (split == "eval"):
      continue
    prompt = _PROMPTS[int(rng.integers(len(_PROMPTS)))].format(" ".join(words))
    out.append(
      {
        "id": f"reverse-{split}-{len(out)}",
        "eval": None,
        "family": "builtin",
        "domain": "none",
        "messages": [
          {"role": "user", "content": prompt},
          {"role": "assistant", "content": " ".join(reversed(words))},
        ],
        "rubric": [],
        "tags": ["builtin", "reverse"],
      }
    )
  return out


def reverse_target(prompt: str) -> str:
  """The reply the rule demands for a `reverse` prompt."""
  return " ".join(reversed(prompt.split(":", 1)[1].split()))


CORPORA = {"reverse": reverse_examples}
