"""Persistence experiment B: harmful fine-tuning over a dose ladder.

Each model (the prior, the baseline, the beneficial arm) is fine-tuned by SFT on
the harmful corpus (health conversations with confidently wrong or unsafe
advice; `btrl data` builds it from attack-only templates, disjoint from every
eval). The dose is the number of SFT steps; doses are prefixes of one run per
model with a constant learning rate after a short warm-up, so dose d is exactly
"d steps of harmful SFT". Every model sees the same batches in the same order
with the same optimizer settings: identical data and compute.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections

from btrl_jax.data.pipeline import sft_batches
from btrl_jax.rl.sft import SFTTrainer, TrainState, encode_examples, length_buckets
from btrl_jax.tokenizer import Tokenizer


def parse_doses(spec: str) -> list[int]:
  return [int(d) for d in spec.split(",") if d.strip()]


def harmful_config(cfg: ml_collections.ConfigDict, max_dose: int) -> ml_collections.ConfigDict:
  """The SFT config of the harmful fine-tune: study.harmful_* settings, constant LR."""
  h = ml_collections.ConfigDict(cfg.to_dict())
  h.sft.update(
    data="harmful",
    steps=max(max_dose, 1),
    learning_rate=cfg.study.harmful_learning_rate,
    batch_size=cfg.study.harmful_batch_size,
    warmup_steps=min(5, max_dose // 4),
    end_lr_fraction=1.0,
  )
  return h


class HarmfulFinetune:
  """One compiled SFT step shared by every model of the ladder."""

  def __init__(self, cfg: ml_collections.ConfigDict, examples: list[dict], tok: Tokenizer):
    self.doses = parse_doses(cfg.study.harmful_doses)
    self.cfg = harmful_config(cfg, self.doses[-1])
    self.trainer = SFTTrainer(self.cfg)
    self.encoded = encode_examples(examples, tok)
    self.pad_id = tok.pad_id

  def ladder(self, params: Any) -> Iterator[tuple[int, Any]]:
    """Yields (dose, params after dose steps) for every dose, 0 first (the input itself)."""
    sft = self.cfg.sft
    it = sft_batches(
      self.encoded,
      sft.batch_size,
      length_buckets(sft.seq_len),
      seed=self.cfg.seed,
      pad_id=self.pad_id,
    )
    own = jax.tree.map(jnp.copy, params)  # the step donates its inputs
    state = TrainState(own, self.trainer.init_opt(own), 0)
    for dose in self.doses:
      while state.step < dose:
        state, _ = self.trainer.step(state, next(it))  # this process's rows
      yield dose, jax.tree.map(jnp.copy, state.params)


def doses_of(cfg: ml_collections.ConfigDict) -> Sequence[int]:
  return parse_doses(cfg.study.harmful_doses)
