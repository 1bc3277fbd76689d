"""`btrl eval`: evaluate one checkpoint, or every checkpoint of a run as it appears.

`--watch` is the sidecar evaluator: it polls a run's checkpoint directory and
evaluates each new step (oldest first) with one compiled sampler, writing
`<run>/evals/step_<N>/<eval>.jsonl`; it stops after the run's last step
(`rl.steps` or `sft.steps` in the checkpoint's config) or on Ctrl-C. A step
whose outputs already exist is skipped, so a restarted watcher picks up where it
stopped.

With several processes (`launch/multihost_local.sh`, a TPU slice) every process runs
the same command: the steps are process 0's view of the run, the prompts are split
over processes, and process 0 writes the records.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence

import jax
import ml_collections

from btrl_jax import config as config_lib
from btrl_jax import parallel
from btrl_jax.checkpoint import Checkpointer
from btrl_jax.evals import evaluator
from btrl_jax.policy import Policy, load_policy, split_checkpoint_path


def _eval_config(
  policy_cfg: ml_collections.ConfigDict, override: ml_collections.ConfigDict | None
) -> ml_collections.ConfigDict:
  """The override if given, else the checkpoint's config with defaults for missing sections."""
  if override is not None:
    return override
  cfg = config_lib.base_config()
  for section, value in policy_cfg.items():
    if section in cfg and isinstance(value, ml_collections.ConfigDict):
      cfg[section].update(value.to_dict())
    elif section in cfg:
      cfg[section] = value
  return cfg


def judging(cfg: ml_collections.ConfigDict) -> dict:
  """`evaluate`'s judge arguments from `cfg.grader.judge` (no judge when base_url is "")."""
  j = cfg.grader.judge
  if not j.base_url:
    return {}
  from btrl_jax.rewards.judge import Judge

  return {"judge": Judge(j.to_dict()), "failure_budget": j.failure_budget}


def _evaluate(policy: Policy, target: dict, cfg, progress: bool, desc: str) -> dict:
  """`evaluator.evaluate` under `cfg`, with its judge (if any) closed afterwards."""
  judge = judging(cfg)
  try:
    return evaluator.evaluate(
      policy, target, cfg.eval, jax.random.key(cfg.seed), progress=progress, desc=desc, **judge
    )
  finally:
    if judge:
      judge["judge"].close()


def _last_step(cfg: ml_collections.ConfigDict, kind: str) -> int:
  return cfg.rl.steps if kind == "rl" else cfg.sft.steps


def evaluate_checkpoints(
  path: str,
  override: ml_collections.ConfigDict | None,
  suite: dict[str, list[dict]] | None,
  names: Sequence[str] | None,
  *,
  watch: bool = False,
  poll_s: float = 10.0,
  out: str | None = None,
  progress: bool = True,
) -> Iterator[tuple[int, dict]]:
  """Yields (step, records) for the checkpoint at `path` or, with watch, for each new one.

  `path` may be a real checkpoint reference (hf:DIR, gguf:FILE, a named model): evaluated
  once as step 0, its records written to `out` when given (it has no run directory)."""
  from btrl_jax import checkpoints

  if checkpoints.is_reference(path):
    if watch:
      raise ValueError(f"--watch needs a run's checkpoint directory, not {path}")
    mesh = parallel.make_mesh(override.mesh) if override is not None else None
    policy = load_policy(path, mesh)
    cfg = _eval_config(policy.cfg, override)
    target = evaluator.load_suite(cfg, names) if suite is None else suite
    records = _evaluate(policy, target, cfg, progress, "eval")
    if out:
      evaluator.write_jsonl(records, out)
    yield 0, records
    return
  directory, step = split_checkpoint_path(path)
  policy: Policy | None = None
  mesh = parallel.make_mesh(override.mesh) if override is not None else None  # None: all devices
  done: set[int] = set()
  while True:
    with Checkpointer(directory, async_save=False) as ckpt:
      steps = parallel.lead_ints(ckpt.all_steps())  # every process takes the same steps
      meta = ckpt.restore_meta(step) if steps else None
    if not steps:
      if not watch:
        raise FileNotFoundError(f"no checkpoint in {directory}")
      time.sleep(poll_s)
      continue
    todo = [s for s in steps if s not in done] if watch else [step or steps[-1]]
    for s in todo:
      loaded = load_policy(os.path.join(directory, str(s)), mesh)
      policy = loaded if policy is None else policy.with_params(loaded.params, s)
      cfg = _eval_config(policy.cfg, override)
      target = evaluator.load_suite(cfg, names) if suite is None else suite
      run_dir = os.path.dirname(directory)
      out_dir = os.path.join(run_dir, "evals", f"step_{s}")
      records = evaluator.read_records(out_dir, list(target)) if watch else None
      if records is None:
        records = _evaluate(policy, target, cfg, progress, f"eval step {s}")
        if out and not watch:
          evaluator.write_jsonl(records, out)
        else:
          evaluator.write_records(records, out_dir)
      done.add(s)
      yield s, records
    if not watch:
      return
    kind = (meta or {}).get("kind", "sft")
    if max(done) >= _last_step(_eval_config(policy.cfg, override), kind):
      return
    time.sleep(poll_s)
