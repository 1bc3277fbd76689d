"""A trained policy restored from a checkpoint, ready to answer conversations.

A checkpoint is self-describing: its JSON metadata carries the full config and
the SentencePiece model, so `btrl sample` and the evaluator need nothing but
the checkpoint directory. `--checkpoint` may name a run's checkpoint directory
(the latest step is used) or one step inside it.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from typing import Any, Sequence

import jax
import ml_collections
from flax import nnx

from btrl_jax.checkpoint import Checkpointer
from btrl_jax.sampling import Sampler, SamplingParams
from btrl_jax.tokenizer import Tokenizer


@dataclasses.dataclass
class Policy:
  cfg: ml_collections.ConfigDict
  tokenizer: Tokenizer
  graphdef: nnx.GraphDef
  params: Any  # nnx.State of nnx.Param
  step: int

  def __post_init__(self):
    self.sampler = Sampler(self.graphdef, eos_id=self.tokenizer.end_id, pad_id=self.tokenizer.pad_id)

  def model(self) -> nnx.Module:
    return nnx.merge(self.graphdef, self.params)

  def reply(self, conversations: Sequence[list[dict]], sampling: SamplingParams, key: jax.Array,
            num_samples: int = 1) -> list[list[str]]:
    """`num_samples` replies per conversation (each a list of {role, content} messages)."""
    prompts = [self.tokenizer.encode_prompt(c).tolist() for c in conversations]
    out = self.sampler.generate(self.params, prompts, key, sampling, group_size=num_samples)
    texts = [self.tokenizer.decode(t[:n]) for t, n in zip(out.tokens, out.lengths)]
    return [texts[i * num_samples:(i + 1) * num_samples] for i in range(len(prompts))]


def split_checkpoint_path(path: str) -> tuple[str, int | None]:
  """`.../checkpoints` -> (dir, None); `.../checkpoints/300` -> (dir, 300)."""
  path = os.path.abspath(path)
  if not os.path.isdir(path):
    raise FileNotFoundError(f"no checkpoint directory at {path}")
  base = os.path.basename(path)
  if base.isdigit() and os.path.isdir(os.path.join(path, "state")):
    return os.path.dirname(path), int(base)
  return path, None


def load_policy(path: str) -> Policy:
  """Restores a checkpoint and keeps its params (the optimizer state is read, then dropped)."""
  from btrl_jax.rl.sft import SFTTrainer  # the trainer defines the checkpoint's layout

  directory, step = split_checkpoint_path(path)
  with Checkpointer(directory, async_save=False) as ckpt:
    meta = ckpt.restore_meta(step)
    cfg = ml_collections.ConfigDict(meta["config"])
    trainer = SFTTrainer(cfg)
    state, meta = ckpt.restore(step, target=trainer.abstract_state())
  tok = Tokenizer.from_bytes(base64.b64decode(meta["tokenizer_b64"]))
  return Policy(cfg, tok, trainer.graphdef, state["params"], int(meta["step"]))

