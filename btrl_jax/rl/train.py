"""`btrl train --config=configs/rl.py:ARM --workdir=W`: one arm of the study.

The policy and the reference both start from the prior (`rl.init_checkpoint`,
else the latest `btrl sft` checkpoint in W). Outputs go to `W/arms/<arm>/`:
checkpoints, `metrics.jsonl`, TensorBoard events, `samples.jsonl` (a few
prompt / reply / reward rows every `rl.sample_every` steps, and one for every trait
prompt of those steps) and `summary.json`
(rollout and trained token counts, for checking that arms are compute-matched).
SIGTERM or SIGINT finishes the step, checkpoints and returns; a restart resumes.
"""

from __future__ import annotations

import collections
import json
import os
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from tqdm.auto import tqdm

from btrl_jax import checkpoints, parallel
from btrl_jax.checkpoint import (
  Checkpointer,
  StopSignal,
  data_to_key,
  key_to_data,
  restore_target,
)
from btrl_jax.config import ARMS  # noqa: F401  (re-exported)
from btrl_jax.data import taxonomy
from btrl_jax.data.pipeline import MixtureConfig, rl_prompt_batches
from btrl_jax.data.tfds_builders import read_dataset
from btrl_jax.metrics import MetricsWriter, truncate_jsonl
from btrl_jax.policy import load_policy
from btrl_jax.rl.advantages import dead_group_mask
from btrl_jax.rl.learner import Learner, RLError


def arm_dir(workdir: str, arm: str) -> str:
  return os.path.join(workdir, "arms", arm)


def init_checkpoint(cfg: ml_collections.ConfigDict, workdir: str) -> str:
  """Where the policy and the reference start: `rl.init_checkpoint` (a run's checkpoints or
  a checkpoint reference); else the workdir's `btrl sft` checkpoints; else, with none
  there, `model.checkpoint` itself (RL straight from a pretrained model)."""
  path = cfg.rl.init_checkpoint
  if path and checkpoints.is_reference(path):
    return path
  sft_dir = os.path.join(workdir, "sft", "checkpoints")
  if not path and not os.path.isdir(sft_dir) and cfg.model.checkpoint:
    return cfg.model.checkpoint
  path = path or sft_dir
  if not os.path.isdir(path):
    raise FileNotFoundError(
      f"no prior checkpoint at {path}: run `btrl sft` first, or set rl.init_checkpoint "
      "or model.checkpoint"
    )
  return path


# The reward breakdowns of metrics.jsonl: by source, and by trait for trait prompts.
BREAKDOWN_KEYS = ("standard", "trait") + tuple(f"trait/{t}" for t in taxonomy.TRAIT_IDS)


def _breakdown_ids(prompts: list[dict]) -> np.ndarray:
  """[P, 2] int32 indices into BREAKDOWN_KEYS: the prompt's source, and its trait (-1 for none)."""
  ids = np.full((len(prompts), 2), -1, np.int32)
  for i, p in enumerate(prompts):
    keys = [p["source"]] + ([f"trait/{p.get('trait')}"] if p["source"] == "trait" else [])
    for j, k in enumerate(keys):
      if k not in BREAKDOWN_KEYS:
        raise ValueError(f"RL prompt {p.get('id')!r}: no reward breakdown for {k!r}")
      ids[i, j] = BREAKDOWN_KEYS.index(k)
  return ids


def step_metrics(prompts: list[dict], ro, batch: dict, update: dict, times: dict) -> dict:
  """Per-step numbers for metrics.jsonl: rewards per source and trait, dead groups, lengths.

  `prompts` and `ro` are this process's. Rewards and lengths were computed where the
  replies are; every process's rewards, masks and each prompt's source and trait (as
  indices) are gathered here as numbers, so every number is over all rows and every
  process count gives the same metrics. Every process must call it.
  """
  rewards, mask = parallel.gather_rows(ro.rewards), parallel.gather_rows(ro.mask)
  g = rewards.shape[1]
  graded = ~np.isnan(rewards)  # NaN: a failed judge verdict, left out of every mean
  m = {
    "reward": float(rewards[graded].mean()) if graded.any() else float("nan"),
    "reward_std": float(rewards[graded].std()) if graded.any() else float("nan"),
    "judge_failed": int((~graded).sum()),
    "dead_groups": float(np.mean(np.asarray(dead_group_mask(rewards)))),
    "reply_len": float(mask.sum(1).mean()),
    "trait_share": batch["n_trait_global"] / max(len(rewards), 1),
  }
  by = collections.defaultdict(list)
  for ids, r in zip(parallel.gather_rows(_breakdown_ids(prompts)), rewards):
    for i in ids[ids >= 0]:
      by[f"reward/{BREAKDOWN_KEYS[i]}"].append(r)
  for k, v in by.items():
    v = np.concatenate([np.atleast_1d(x) for x in v])
    v = v[~np.isnan(v)]
    m[k] = float(np.mean(v)) if len(v) else float("nan")
  rollout_tokens = float(mask.sum())
  m.update(update)
  m.update(
    rollout_tokens=rollout_tokens,
    rollout_tok_per_s=rollout_tokens / max(times["rollout"], 1e-9),
    update_tok_per_s=rollout_tokens / max(times["update"], 1e-9),
    step_s=times["total"],
    rollout_s=times["rollout"],
    update_s=times["update"],
    group_size=g,
  )
  return m


def train(
  cfg: ml_collections.ConfigDict,
  workdir: str,
  *,
  progress: bool = True,
  on_step: Callable[[int, dict], None] | None = None,
  learner: Learner | None = None,
  data_dir: str | None = None,
):
  """Runs (or resumes) one arm; returns the final (params, step).

  `learner`: one built from the same prior and `rl` config (the study shares one across
  its compute-matched arms, so they compile once); arms differ only in `data.*`.
  `data_dir`: where `btrl data` wrote the RL prompts (default W/data; the study's seeds
  that share a prior read the prior's).
  """
  rl, arm = cfg.rl, cfg.rl.arm
  out = arm_dir(workdir, arm)
  prior_path = init_checkpoint(cfg, workdir)
  if learner is None:
    mesh = parallel.make_mesh(cfg.mesh)
    learner = Learner(cfg, load_policy(prior_path, mesh), mesh=mesh)
  elif learner.rl.to_dict() != rl.to_dict() | {"arm": learner.rl.arm}:
    raise ValueError("a shared learner must have the arm's rl config (arms are compute-matched)")
  # The arm's checkpoints record the model they hold: the prior's (an SFT run's, or an
  # imported checkpoint's), whatever `model` section this config carries.
  cfg = ml_collections.ConfigDict(cfg.to_dict())
  cfg.model = learner.model_cfg
  data_dir = data_dir or os.path.join(workdir, "data")
  it = rl_prompt_batches(
    read_dataset("btrl_rl_prompts", "trait", data_dir),
    read_dataset("btrl_rl_prompts", "standard", data_dir),
    MixtureConfig.from_config(cfg.data, rl, seed=cfg.seed),
  )
  ckpt = Checkpointer(
    os.path.join(out, "checkpoints"),
    max_to_keep=cfg.checkpoint.keep,
    async_save=cfg.checkpoint.async_save,
  )
  params = jax.tree.map(
    jnp.copy, learner.ref_params
  )  # own buffers: updates donate them, the reference keeps its own
  opt_state = learner.init_opt(params)
  base_key, step = jax.random.key(cfg.seed), 0
  totals = {"rollout_tokens": 0.0, "trained_tokens": 0.0, "skipped_updates": 0}
  if (latest := ckpt.latest_step()) is not None:
    # Restored straight onto this run's shardings, whatever mesh wrote the checkpoint.
    target = {"params": params, "opt_state": opt_state, "key": key_to_data(base_key, learner.mesh)}
    saved, meta = ckpt.restore(latest, target=restore_target(target))
    params, opt_state = saved["params"], saved["opt_state"]
    base_key, step = data_to_key(saved["key"]), latest
    it.set_state(meta["data_iterator"])
    totals = meta["totals"]
  meta = {
    "config": cfg.to_dict(),
    "kind": "rl",
    "arm": arm,
    "prior": prior_path if checkpoints.is_reference(prior_path) else os.path.abspath(prior_path),
    "tokenizer": learner.tok.to_meta(),
  }
  # Process 0 only, as are samples.jsonl and summary.json. Both JSONL files lose the rows an
  # interrupted attempt logged after the checkpoint this run starts from: one row per step.
  writer = MetricsWriter(out, start_step=step)
  lead = parallel.is_lead()
  samples = None
  if lead:
    truncate_jsonl(os.path.join(out, "samples.jsonl"), step)
    samples = open(os.path.join(out, "samples.jsonl"), "a", encoding="utf-8")
  bar = tqdm(
    total=rl.steps,
    initial=step,
    desc=f"rl {arm}",
    disable=not progress or not lead,
    dynamic_ncols=True,
  )
  bad_in_row = 0
  with StopSignal() as stop:
    while step < rl.steps:
      t0 = time.perf_counter()
      batch = next(it)
      prompts = batch["prompts"]  # this process's share of the step's prompts (all, with one)
      ro = learner.rollout(params, prompts, jax.random.fold_in(base_key, step))
      if learner.judge is not None:  # failed verdicts past the budget stop the run
        learner.judge.check_budget(cfg.grader.judge.failure_budget)
      t1 = time.perf_counter()
      params, opt_state, update, bad = learner.train_on(params, opt_state, ro)
      t2 = time.perf_counter()
      step += 1
      bad_in_row = bad_in_row + 1 if bad else 0
      m = step_metrics(
        prompts, ro, batch, update, {"rollout": t1 - t0, "update": t2 - t1, "total": t2 - t0}
      )
      if learner.judge is not None:  # cumulative judge accounting, per step in metrics.jsonl
        js = learner.judge.stats
        m.update(
          {f"judge/{k}": js[k] for k in ("items", "calls", "retries", "cache_hits", "failures")},
          **{
            "judge/latency_s": js["latency_s"],
            "judge/completion_tokens": js["completion_tokens"],
          },
        )
      totals["skipped_updates"] += bad
      totals["rollout_tokens"] += m["rollout_tokens"]
      totals["trained_tokens"] += 0.0 if bad else m["rollout_tokens"] * rl.inner_epochs
      m["skipped_updates"] = totals["skipped_updates"]
      if step % rl.log_every == 0 or step == rl.steps:
        writer.write(step, m)
      bar.update(1)
      bar.set_postfix(
        reward=f"{m['reward']:.3f}", kl=f"{m.get('kl', 0):.4f}", dead=f"{m['dead_groups']:.2f}"
      )
      if samples and rl.samples_to_dump and step % rl.sample_every == 0:
        # The first prompts of the step, and every trait prompt in it (about 1 in 20 of
        # the mixture: without them a reader would rarely see what the trait reward
        # trained); the first sample of each, this process's prompts only.
        first = range(min(rl.samples_to_dump, ro.rewards.shape[0]))
        trait = [i for i in range(ro.rewards.shape[0]) if prompts[i]["source"] == "trait"]
        for i in sorted(set(first) | set(trait)):
          row = i * rl.group_size
          samples.write(
            json.dumps(
              {
                "step": step,
                "id": prompts[i].get("id"),
                "source": prompts[i]["source"],
                "prompt": prompts[i]["messages"][-1]["content"],
                "reply": ro.replies[row],
                "reward": float(ro.rewards[i, 0]),
              }
            )
            + "\n"
          )
        samples.flush()
      if on_step:
        on_step(step, m)
      if bad_in_row >= rl.max_bad_steps:
        raise RLError(
          f"{bad_in_row} updates in a row had non-finite loss or gradients; "
          f"stopping at step {step} (last good checkpoint kept)"
        )
      # Every process stops at the same step, even when the signal reached only some.
      stopping = parallel.any_process(stop.requested)
      if step % cfg.checkpoint.every_steps == 0 or step == rl.steps or stopping:
        ckpt.save(
          step,
          {"params": params, "opt_state": opt_state, "key": key_to_data(base_key, learner.mesh)},
          dict(meta, step=step, data_iterator=it.get_state(), totals=totals),
          force=True,
        )
      if stopping:
        break
  bar.close()
  writer.close()
  if samples:
    samples.close()
  ckpt.close()
  if not lead:
    return params, step
  with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(
      {
        "arm": arm,
        "steps": step,
        **totals,
        "prompts_per_step": rl.prompts_per_step,
        "group_size": rl.group_size,
        "max_new_tokens": rl.max_new_tokens,
        "inner_epochs": rl.inner_epochs,
        "seed": cfg.seed,
      },
      f,
      indent=1,
    )
  return params, step
