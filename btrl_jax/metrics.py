"""Run metrics: one JSON line per logged step plus TensorBoard event files."""

from __future__ import annotations

import json
import os
import time

from tensorboardX import SummaryWriter


class MetricsWriter:
  """Appends to `workdir/metrics.jsonl` (resumed runs continue the file) and writes
  TensorBoard scalars to `workdir/tb/`. Only numbers go to TensorBoard. In a
  multi-process run only process 0 writes (the others' writers are disabled)."""

  def __init__(self, workdir: str, enabled: bool = True):
    from btrl_jax import parallel

    self.enabled = enabled and parallel.is_lead()
    if self.enabled:
      os.makedirs(workdir, exist_ok=True)
      self._jsonl = open(os.path.join(workdir, "metrics.jsonl"), "a", encoding="utf-8")
      self._tb = SummaryWriter(os.path.join(workdir, "tb"))

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
