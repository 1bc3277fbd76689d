"""Optimizers, learning-rate schedules and checkpoint layouts of the two trainers.

One low module that the SFT trainer (rl/sft.py), the RL learner (rl/learner.py),
the policy loader (policy.py) and the memory planner (capacity.py) all read, so
the shape of a checkpoint is defined once and none of them imports another:

  sft  AdamW, linear warm-up then cosine decay to `sft.end_lr_fraction` of the peak
  rl   AdamW, linear warm-up then constant

Both clip the global gradient norm (`grad_clip` > 0) and decay matrices only
(ndim >= 2: no weight decay on norms and biases). A checkpoint holds
`{"params", "opt_state"}`, plus the base RNG key's data for RL runs.
"""

from __future__ import annotations

import jax
import ml_collections
import optax
from flax import nnx

from btrl_jax.models import build

KINDS = ("sft", "rl")


def _decay_mask(params):
  return jax.tree.map(lambda p: p.ndim >= 2, params)


def _adamw(section: ml_collections.ConfigDict, schedule) -> optax.GradientTransformation:
  return optax.chain(
    optax.clip_by_global_norm(section.grad_clip) if section.grad_clip > 0 else optax.identity(),
    optax.adamw(
      schedule,
      b1=section.b1,
      b2=section.b2,
      weight_decay=section.weight_decay,
      mask=_decay_mask,
    ),
  )


def sft_lr_schedule(sft: ml_collections.ConfigDict) -> optax.Schedule:
  return optax.warmup_cosine_decay_schedule(
    init_value=0.0,
    peak_value=sft.learning_rate,
    warmup_steps=sft.warmup_steps,
    decay_steps=sft.steps,
    end_value=sft.learning_rate * sft.end_lr_fraction,
  )


def rl_lr_schedule(rl: ml_collections.ConfigDict) -> optax.Schedule:
  return optax.linear_schedule(0.0, rl.learning_rate, max(rl.warmup_steps, 1))


def sft_optimizer(sft: ml_collections.ConfigDict) -> optax.GradientTransformation:
  return _adamw(sft, sft_lr_schedule(sft))


def rl_optimizer(rl: ml_collections.ConfigDict) -> optax.GradientTransformation:
  return _adamw(rl, rl_lr_schedule(rl))


def make_optimizer(cfg: ml_collections.ConfigDict, kind: str) -> optax.GradientTransformation:
  """The optimizer of an `sft` or `rl` run of `cfg` (its `cfg.sft` or `cfg.rl` section)."""
  if kind == "sft":
    return sft_optimizer(cfg.sft)
  if kind == "rl":
    return rl_optimizer(cfg.rl)
  raise ValueError(f"unknown checkpoint kind {kind!r} (have: {', '.join(KINDS)})")


def abstract_state(cfg: ml_collections.ConfigDict, kind: str) -> tuple[nnx.GraphDef, dict]:
  """The graphdef and the abstract checkpoint tree of an `sft` or `rl` run (shapes only)."""
  tx = make_optimizer(cfg, kind)
  graphdef, params = nnx.split(nnx.eval_shape(lambda: build(cfg.model, seed=cfg.seed)))
  tree = {"params": params, "opt_state": jax.eval_shape(tx.init, params)}
  if kind == "rl":
    tree["key"] = jax.eval_shape(lambda: jax.random.key_data(jax.random.key(0)))
  return graphdef, tree
