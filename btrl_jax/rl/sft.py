"""Supervised fine-tuning: next-token cross-entropy on assistant tokens only.

Used for the prior (the pre-RL model, trained on a conversation corpus) and,
later, for the harmful fine-tune of the persistence experiment. AdamW with
linear warm-up and cosine decay, global-norm gradient clipping, weight decay on
matrices only. The step is one jitted pure function of (params, opt_state,
batch) with donated buffers; params are the model's `nnx.Param` state.

Resume is exact: params, optimizer state, step and the grain iterator's state
are checkpointed together, so a run stopped at any checkpoint and restarted
ends with bitwise the parameters of a run that never stopped.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx
from tqdm.auto import tqdm

from btrl_jax import checkpoints, parallel
from btrl_jax.checkpoint import Checkpointer, StopSignal, restore_target
from btrl_jax.data.builtin import CORPORA
from btrl_jax.data.jsonl import DataError, import_examples
from btrl_jax.data.pipeline import sft_batches
from btrl_jax.data.tfds_builders import read_dataset
from btrl_jax.metrics import MetricsWriter
from btrl_jax.models import build, causal_mask, param_count
from btrl_jax.tokenizer import Tokenizer
from btrl_jax.train_state import sft_lr_schedule, sft_optimizer

Array = jax.Array


def token_loss(logits: Array, targets: Array, weights: Array) -> tuple[Array, Array]:
  """Mean cross-entropy over weighted positions. logits: [B, T, V] float32; targets, weights: [B, T]."""
  logz = jax.nn.logsumexp(logits, axis=-1)
  picked = jnp.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
  n = jnp.maximum(weights.sum(), 1.0)
  return ((logz - picked) * weights).sum() / n, n


def encode_examples(examples: list[dict], tok: Tokenizer) -> list[tuple[np.ndarray, np.ndarray]]:
  """Tokenises conversations: one (tokens [T] int32, loss_mask [T] bool) pair each.

  Only each conversation's final assistant turn is learned; earlier assistant turns are
  scripted context (TraitWorld's "retract what you said earlier" situations).
  """
  return [tok.encode_chat(ex["messages"], last_turn_only=True) for ex in examples]


def length_buckets(seq_len: int) -> tuple[int, ...]:
  """Padded lengths a batch may have: one compiled step per bucket, little padding."""
  return tuple(sorted({max(16, seq_len // 4), max(16, seq_len // 2), seq_len}))


@dataclasses.dataclass
class TrainState:
  params: Any  # nnx.State of nnx.Param
  opt_state: Any
  step: int


class SFTTrainer:
  """Owns the model structure, the optimizer and the jitted step."""

  def __init__(self, cfg: ml_collections.ConfigDict, mesh=None):
    cfg = checkpoints.resolve(cfg)  # model.checkpoint set: its shapes (metadata only)
    self.cfg = cfg
    self.mesh = mesh if mesh is not None else parallel.make_mesh(cfg.mesh)
    self.tx = sft_optimizer(cfg.sft)
    abstract = nnx.eval_shape(lambda: build(cfg.model, seed=cfg.seed))
    self.graphdef, abstract_params, self.rest = nnx.split(abstract, nnx.Param, ...)
    self.param_shardings = parallel.state_shardings(abstract_params, self.mesh)
    self.opt_shardings = parallel.optimizer_shardings(self.tx, abstract_params, self.mesh)
    self._step = jax.jit(
      self._step_impl,
      donate_argnums=(0, 1),
      out_shardings=(self.param_shardings, self.opt_shardings, parallel.replicated(self.mesh)),
    )
    self._init_opt = jax.jit(self.tx.init, out_shardings=self.opt_shardings)

  def init_opt(self, params):
    """AdamW state for `params` (e.g. another model's weights), sharded like the step's output."""
    return self._init_opt(params)

  def init(self) -> TrainState:
    """Step 0: the model's initial weights (`model.checkpoint`'s when set, else a fresh
    initialisation from the seed) and a zero AdamW state."""
    if self.cfg.model.checkpoint:
      params = checkpoints.load(self.cfg.model.checkpoint, self.mesh, **self._compute()).params
      return TrainState(params, self.init_opt(params), 0)

    def make():
      params = nnx.state(build(self.cfg.model, seed=self.cfg.seed), nnx.Param)
      return params, self.tx.init(params)

    params, opt_state = jax.jit(make, out_shardings=(self.param_shardings, self.opt_shardings))()
    return TrainState(params, opt_state, 0)

  def _compute(self) -> dict:
    return {k: self.cfg.model[k] for k in checkpoints.COMPUTE_KEYS}

  def model(self, params) -> nnx.Module:
    return nnx.merge(self.graphdef, params, self.rest)

  def loss_and_grads(self, params, batch):
    """((mean loss over assistant tokens, their count), gradients) of one batch."""
    tokens, loss_mask, valid = batch["tokens"], batch["loss_mask"], batch["valid"]
    inputs, targets, weights = tokens[:, :-1], tokens[:, 1:], loss_mask[:, 1:].astype(jnp.float32)
    positions = jnp.broadcast_to(jnp.arange(inputs.shape[1]), inputs.shape)

    def loss_fn(p):
      logits = self.model(p)(inputs, positions, causal_mask(valid[:, :-1]))
      return token_loss(logits, targets, weights)

    return jax.value_and_grad(loss_fn, has_aux=True)(params)

  def _step_impl(self, params, opt_state, batch):
    (loss, n_tokens), grads = self.loss_and_grads(params, batch)
    updates, opt_state = self.tx.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    return (
      params,
      opt_state,
      {"loss": loss, "grad_norm": optax.tree.norm(grads), "loss_tokens": n_tokens},
    )

  def step(self, state: TrainState, batch: dict[str, np.ndarray]) -> tuple[TrainState, dict]:
    """One update on a global batch; `batch` holds this process's rows (all, with one process)."""
    batch = parallel.global_batch(batch, self.mesh)
    params, opt_state, metrics = self._step(state.params, state.opt_state, batch)
    return TrainState(params, opt_state, state.step + 1), metrics


def train(
  cfg: ml_collections.ConfigDict,
  workdir: str,
  examples: list[dict],
  tok: Tokenizer,
  *,
  stop_at: int | None = None,
  progress: bool = True,
  on_step: Callable[[int, dict], None] | None = None,
) -> TrainState:
  """Trains (or resumes) an SFT run in `workdir`; checkpoints go to `workdir/checkpoints`.

  `stop_at` ends the run after that step with a checkpoint, as a preemption would.
  """
  trainer = SFTTrainer(cfg)
  cfg = trainer.cfg  # model.checkpoint's model section, when set
  if tok.vocab_size > cfg.model.vocab_size:
    raise ValueError(
      f"tokenizer has {tok.vocab_size} pieces but model.vocab_size is {cfg.model.vocab_size}"
    )
  it = sft_batches(
    encode_examples(examples, tok),
    cfg.sft.batch_size,
    length_buckets(cfg.sft.seq_len),
    seed=cfg.seed,
    pad_id=tok.pad_id,
    strict=user_data(cfg.sft.data),  # a user's file: a cut learned turn is an error
  )
  ckpt = Checkpointer(
    os.path.join(workdir, "checkpoints"),
    max_to_keep=cfg.checkpoint.keep,
    async_save=cfg.checkpoint.async_save,
  )
  state = trainer.init()
  if (latest := ckpt.latest_step()) is not None:
    # Onto this run's shardings, whatever process count and mesh wrote the checkpoint.
    target = restore_target({"params": state.params, "opt_state": state.opt_state})
    saved, meta = ckpt.restore(latest, target=target)
    state = TrainState(saved["params"], saved["opt_state"], latest)
    it.set_state(meta["data_iterator"])
  meta = {
    "config": cfg.to_dict(),
    "tokenizer": tok.to_meta(),
    "kind": "sft",
    "params": param_count(trainer.model(state.params)),
  }
  writer = MetricsWriter(workdir, start_step=state.step)  # drops rows logged after it
  last = cfg.sft.steps if stop_at is None else min(stop_at, cfg.sft.steps)
  bar = tqdm(
    total=cfg.sft.steps,
    initial=state.step,
    desc="sft",
    disable=not progress or not parallel.is_lead(),
    dynamic_ncols=True,
  )
  t0, tokens_seen = time.perf_counter(), 0
  with StopSignal() as stop:
    while state.step < last:
      batch = next(it)  # this process's rows of the global batch (sft_batches shards by process)
      state, metrics = trainer.step(state, batch)
      tokens_seen += int(batch["valid"].sum())
      bar.update(1)
      # Every process stops at the same step, even when the signal reached only some.
      stopping = parallel.any_process(stop.requested)
      at_end = state.step == last or stopping
      if state.step % cfg.sft.log_every == 0 or at_end:
        m = {k: float(v) for k, v in metrics.items()}
        elapsed = time.perf_counter() - t0
        # The update of step s used the schedule's value at count s - 1.
        m.update(
          lr=float(sft_lr_schedule(cfg.sft)(state.step - 1)),
          tokens_per_s=tokens_seen / max(elapsed, 1e-9),
        )
        writer.write(state.step, m)
        bar.set_postfix(loss=f"{m['loss']:.3f}", tok_s=f"{m['tokens_per_s']:.0f}")
        if on_step:
          on_step(state.step, m)
        t0, tokens_seen = time.perf_counter(), 0
      if state.step % cfg.checkpoint.every_steps == 0 or at_end:
        ckpt.save(
          state.step,
          {"params": state.params, "opt_state": state.opt_state},
          dict(meta, data_iterator=it.get_state(), step=state.step),
          force=True,
        )
      if stopping:
        break
  bar.close()
  writer.close()
  ckpt.close()
  return state


def user_data(spec: str) -> bool:
  """True when `sft.data` names a user's JSONL file rather than generated data."""
  return not (spec.startswith("builtin:") or spec in ("prior", "harmful"))


def load_examples(spec: str, n: int, seed: int, workdir: str) -> list[dict]:
  """Where SFT data comes from (`sft.data`):
  `builtin:NAME`  a small generated corpus of n examples (`reverse`);
  `prior`         the TraitWorld prior corpus built by `btrl data` in the workdir;
  `harmful`       the harmful fine-tune corpus built by `btrl data`;
  a path          a JSONL file (DESIGN.md format; HealthBench field names accepted).
  """
  if spec.startswith("builtin:"):
    name = spec.split(":", 1)[1]
    if name not in CORPORA:
      raise DataError(
        f"config.sft.data={spec!r}: unknown built-in corpus (have: {', '.join(CORPORA)})"
      )
    return CORPORA[name](n, seed)
  if spec in ("prior", "harmful"):
    return list(read_dataset(f"btrl_{spec}", "train", os.path.join(workdir, "data")))
  return import_examples(spec)


def workdir_tokenizer(
  cfg: ml_collections.ConfigDict, workdir: str, examples: list[dict]
) -> Tokenizer:
  """`tokenizer.path` if set; else `workdir/tokenizer.model`, trained on the examples if absent."""
  path = cfg.tokenizer.path or os.path.join(workdir, "tokenizer.model")
  if os.path.exists(path):
    return Tokenizer.load(path)
  if cfg.tokenizer.path:
    raise DataError(f"config.tokenizer.path={path!r}: no such file")
  texts = (m["content"] for ex in examples for m in ex["messages"])
  return Tokenizer.train(texts, cfg.tokenizer.vocab_size, cfg.tokenizer.model_type, path=path)


def run(cfg: ml_collections.ConfigDict, workdir: str, **kwargs) -> TrainState:
  """`btrl sft`: data, tokenizer, then training into `workdir/sft` (resuming if possible).

  With `model.checkpoint` set, training starts from that model's weights and uses its own
  tokenizer and chat template (the workdir's SentencePiece model is not used)."""
  examples = load_examples(cfg.sft.data, cfg.sft.corpus_size, cfg.seed, workdir)
  if cfg.model.checkpoint:
    tok = checkpoints.tokenizer(cfg.model.checkpoint)
  else:
    tok = workdir_tokenizer(cfg, workdir, examples)
  return train(cfg, os.path.join(workdir, "sft"), examples, tok, **kwargs)
