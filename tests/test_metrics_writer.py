"""MetricsWriter on a restart: one metrics.jsonl row per step, and a TensorBoard purge marker."""

import glob
import os
import struct

from tensorboardX.proto.event_pb2 import Event, SessionLog

from btrl_jax.metrics import MetricsWriter, read_metrics, truncate_jsonl


def _events(path):
  """The Event records of one TensorBoard event file (TFRecord framing, CRCs not checked)."""
  out = []
  with open(path, "rb") as f:
    while header := f.read(12):
      (n,) = struct.unpack("<Q", header[:8])
      out.append(Event.FromString(f.read(n)))
      f.read(4)
  return out


def _log(workdir, start_step, steps, offset=0.0):
  w = MetricsWriter(str(workdir), start_step=start_step)
  for s in steps:
    w.write(s, {"loss": s + offset})
  w.close()


def test_restart_keeps_one_row_per_step_and_purges_tensorboard(tmp_path):
  _log(tmp_path, 0, range(1, 6))  # killed after logging step 5; last checkpoint at 2
  _log(tmp_path, 2, range(3, 7), offset=0.5)  # resumed from step 2
  rows = read_metrics(str(tmp_path / "metrics.jsonl"))
  assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
  assert [r["loss"] for r in rows] == [1, 2, 3.5, 4.5, 5.5, 6.5]

  files = sorted(glob.glob(str(tmp_path / "tb" / "events.*")), key=os.path.getmtime)
  assert len(files) == 2  # the restart did not overwrite the first attempt's file
  first, second = (_events(f) for f in files)
  assert not any(e.HasField("session_log") for e in first)  # a fresh run purges nothing
  starts = [e for e in second if e.session_log.status == SessionLog.START]
  assert [e.step for e in starts] == [3]  # TensorBoard drops the first file's steps >= 3
  scalars = [e.step for e in second if e.HasField("summary")]
  assert scalars == [3, 4, 5, 6]


def test_a_fresh_start_drops_rows_of_an_attempt_without_checkpoint(tmp_path):
  _log(tmp_path, 0, range(1, 3))
  _log(tmp_path, 0, range(1, 4), offset=0.5)
  assert [r["loss"] for r in read_metrics(str(tmp_path / "metrics.jsonl"))] == [1.5, 2.5, 3.5]


def test_truncate_jsonl_keeps_rows_up_to_the_step(tmp_path):
  path = tmp_path / "samples.jsonl"
  path.write_text("".join(f'{{"step": {s}, "id": "{s}"}}\n' for s in (2, 2, 4, 6)))
  truncate_jsonl(str(path), 4)
  assert [r["step"] for r in read_metrics(str(path))] == [2, 2, 4]
  truncate_jsonl(str(tmp_path / "absent.jsonl"), 0)  # nothing to do
