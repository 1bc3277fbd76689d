"""A trained policy restored from a checkpoint, ready to answer conversations.

A checkpoint is self-describing: its JSON metadata carries the full config and
the tokenizer (the embedded SentencePiece model, or a real model's tokenizer and chat
template), so `btrl sample` and the evaluator need nothing but
the checkpoint directory. `--checkpoint` may name a run's checkpoint directory
(the latest step is used) or one step inside it.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import jax
import ml_collections
from flax import nnx

from btrl_jax import checkpoints, config, parallel
from btrl_jax.checkpoint import Checkpointer, restore_target
from btrl_jax.sampling import Sampler, SamplingParams
from btrl_jax.tokenizer import Tokenizer
from btrl_jax.train_state import abstract_state


@dataclasses.dataclass
class Policy:
  cfg: ml_collections.ConfigDict
  tokenizer: Tokenizer
  graphdef: nnx.GraphDef
  params: Any  # nnx.State of nnx.Param
  step: int
  mesh: Any = None  # a jax Mesh: params sharded by parallel's rules, sampling batches split

  def __post_init__(self):
    if self.mesh is not None:
      self.params = parallel.put(self.params, parallel.state_shardings(self.params, self.mesh))
    self.sampler = Sampler(
      self.graphdef, eos_id=self.tokenizer.stop_ids, pad_id=self.tokenizer.pad_id, mesh=self.mesh
    )

  def model(self) -> nnx.Module:
    return nnx.merge(self.graphdef, self.params)

  def with_params(self, params: Any, step: int) -> Policy:
    """The same model with other weights; shares the compiled sampler (no recompiles)."""
    other = copy.copy(self)
    other.params, other.step = params, step
    return other

  def reply(
    self,
    conversations: Sequence[list[dict]],
    sampling: SamplingParams,
    key: jax.Array,
    num_samples: int = 1,
    streams: Sequence[Sequence[int]] | None = None,
  ) -> list[list[str]]:
    """`num_samples` replies per conversation (each a list of {role, content} messages).

    With several processes, every process passes the same conversations and gets every
    reply back: each samples a contiguous share (the last conversation repeated until the
    shares are equal) and the reply tokens are gathered as numbers, then decoded.
    `streams`: per conversation, the random stream id of each of its samples
    (`Sampler.generate`); default: their positions in this call.
    """
    if not conversations:
      return []
    n, k = len(conversations), num_samples
    extra = -n % jax.process_count()
    padded = list(conversations) + [conversations[-1]] * extra
    prompts = [self.tokenizer.encode_prompt(c).tolist() for c in parallel.process_rows(padded)]
    rows = None
    if streams is not None:
      rows = parallel.process_rows(list(streams) + [streams[-1]] * extra)
    out = self.sampler.generate(self.params, prompts, key, sampling, group_size=k, streams=rows)
    tokens, lengths = parallel.gather_rows(out.tokens), parallel.gather_rows(out.lengths)
    texts = [self.tokenizer.decode(t[:m]) for t, m in zip(tokens[: n * k], lengths[: n * k])]
    return [texts[i * k : (i + 1) * k] for i in range(n)]


def split_checkpoint_path(path: str) -> tuple[str, int | None]:
  """`.../checkpoints` -> (dir, None); `.../checkpoints/300` -> (dir, 300)."""
  path = os.path.abspath(path)
  if not os.path.isdir(path):
    raise FileNotFoundError(f"no checkpoint directory at {path}")
  base = os.path.basename(path)
  if base.isdigit() and os.path.isdir(os.path.join(path, "state")):
    return os.path.dirname(path), int(base)
  return path, None


def load_policy(path: str, mesh=None) -> Policy:
  """Restores the params of an SFT or RL checkpoint (the optimizer state is read, then dropped)
  onto `mesh` (default: FSDP over all devices, whatever mesh wrote it), sharded by
  parallel's rules; the policy samples with batches split over the mesh.

  `path` may also be a real checkpoint reference (hf:DIR, gguf:FILE or a named offline
  model, btrl_jax/checkpoints): the model is imported at step 0 with its own tokenizer
  and chat template, under the base config (its `model` section from the checkpoint)."""
  mesh = mesh if mesh is not None else parallel.make_mesh(dict(data=1, fsdp=-1, tensor=1))
  if checkpoints.is_reference(path):
    imported = checkpoints.load(path, mesh)
    cfg = config.base_config()
    cfg.model = imported.model
    return Policy(cfg, imported.tokenizer, imported.graphdef, imported.params, 0, mesh)
  directory, step = split_checkpoint_path(path)
  with Checkpointer(directory, async_save=False) as ckpt:
    meta = ckpt.restore_meta(step)
    cfg = ml_collections.ConfigDict(meta["config"])
    # Model options added since the checkpoint was written take their (off) defaults.
    cfg.model = config.model_config(**cfg.model.to_dict())
    graphdef, tree = abstract_state(cfg, meta.get("kind", "sft"))
    # Every leaf read straight into this mesh's sharding, so a checkpoint written by any
    # number of processes on any mesh loads here (without shardings in the target, Orbax
    # would rebuild the saved ones, whose devices need not exist in this job).
    target = restore_target(tree, parallel.state_shardings(tree, mesh))
    state, meta = ckpt.restore(step, target=target)
  tok = checkpoints.tokenizer_from_meta(meta)
  return Policy(cfg, tok, graphdef, state["params"], int(meta["step"]), mesh)
