"""Run metrics: one JSON line per logged step plus TensorBoard event files.

A resumed run restarts from its last checkpoint, so the steps it logged after that
checkpoint (before it was killed) are logged again. To keep exactly one row per step,
the writer is told the step the run starts from: `metrics.jsonl` is rewritten without
the rows after it, and TensorBoard (whose event files are append-only) gets a
`purge_step`, a marker TensorBoard honours by discarding the older events at and after
that step.
"""

from __future__ import annotations

import json
import os
import time

from tensorboardX import SummaryWriter


def truncate_jsonl(path: str, after_step: int) -> None:
  """Drops the rows of a JSONL file whose `step` is above `after_step` (atomically: the
  kept rows are written to a temporary file that replaces the original)."""
  if not os.path.exists(path):
    return
  with open(path, encoding="utf-8") as f:
    lines = [line for line in f if line.strip()]
  kept = [line for line in lines if json.loads(line).get("step", 0) <= after_step]
  if len(kept) == len(lines):
    return
  tmp = f"{path}.tmp"
  with open(tmp, "w", encoding="utf-8") as f:
    f.writelines(line if line.endswith("\n") else line + "\n" for line in kept)
  os.replace(tmp, path)


class MetricsWriter:
  """Appends to `workdir/metrics.jsonl` and writes TensorBoard scalars to `workdir/tb/`.

  `start_step`: the step a (possibly resumed) run starts from; rows and events logged
  after it by an earlier, interrupted attempt are dropped (see the module docstring).
  None appends to whatever is there. Only numbers go to TensorBoard. In a multi-process
  run only process 0 writes (the others' writers are disabled)."""

  def __init__(self, workdir: str, enabled: bool = True, start_step: int | None = None):
    from btrl_jax import parallel

    self.enabled = enabled and parallel.is_lead()
    if self.enabled:
      os.makedirs(workdir, exist_ok=True)
      path = os.path.join(workdir, "metrics.jsonl")
      if start_step is not None:
        truncate_jsonl(path, start_step)
      self._jsonl = open(path, "a", encoding="utf-8")
      tb_dir = os.path.join(workdir, "tb")
      # purge_step: TensorBoard discards earlier events with step >= it. Only on a restart
      # over existing event files (a fresh run has nothing to purge).
      purge = start_step + 1 if start_step is not None and os.path.isdir(tb_dir) else None
      # Own file name per writer: tensorboardX names files by the second and host, and a
      # restart within the same second would otherwise overwrite the earlier file.
      suffix = f".{os.getpid()}.{start_step or 0}"
      self._tb = SummaryWriter(tb_dir, purge_step=purge, filename_suffix=suffix)

  def write(self, step: int, metrics: dict) -> None:
    if not self.enabled:
      return
    row = {"step": int(step), "time": round(time.time(), 3)}
    row.update(
      {
        k: (float(v) if hasattr(v, "__float__") and not isinstance(v, (int, str)) else v)
        for k, v in metrics.items()
      }
    )
    self._jsonl.write(json.dumps(row) + "\n")
    self._jsonl.flush()
    for k, v in row.items():
      if isinstance(v, (int, float)) and k not in ("step", "time"):
        self._tb.add_scalar(k, v, step)

  def close(self) -> None:
    if self.enabled:
      self._jsonl.close()
      self._tb.close()


def read_metrics(path: str) -> list[dict]:
  with open(path, encoding="utf-8") as f:
    return [json.loads(line) for line in f if line.strip()]
