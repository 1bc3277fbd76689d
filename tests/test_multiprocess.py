"""Two JAX processes on localhost (launch/multihost_local.sh, gloo): a stop signal that
reaches one process only, and checkpoints written by one process restored by two."""

import json
import os
import signal
import subprocess
import sys

import jax
import numpy as np
from flax import nnx

from btrl_jax.checkpoint import Checkpointer
from btrl_jax.data.builtin import reverse_examples
from btrl_jax.metrics import read_metrics
from btrl_jax.rl import sft
from btrl_jax.tokenizer import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHILD = os.path.join(ROOT, "tests", "multiproc_child.py")
MULTIHOST = os.path.join(ROOT, "launch", "multihost_local.sh")
sys.path.insert(0, os.path.dirname(CHILD))


def _kill_session(sid):
  """SIGKILL to every process of the session `sid` (the launcher puts each process in its
  own process group, all in the launcher's session)."""
  ps = subprocess.run(["ps", "-eo", "pid=,sid="], capture_output=True, text=True).stdout
  for pid, s in (line.split() for line in ps.splitlines()):
    if int(s) == sid:
      try:
        os.kill(int(pid), signal.SIGKILL)
      except ProcessLookupError:
        pass


def _launch(*args, n=2, timeout=300):
  """Runs the child as `n` processes; returns the JSON rows they printed.
  `timeout` bounds the whole job: a hang fails the test."""
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  env.pop("XLA_FLAGS", None)  # one device per process
  p = subprocess.Popen(
    ["bash", MULTIHOST, str(n), "--", sys.executable, CHILD, *args],
    cwd=ROOT,
    env=env,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
    start_new_session=True,  # on a timeout the whole job is killed, not only the launcher
  )
  try:
    out, err = p.communicate(timeout=timeout)
  except subprocess.TimeoutExpired:
    _kill_session(p.pid)
    raise
  r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
  assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
  rows = [
    json.loads(line.split("] ", 1)[1])
    for line in r.stdout.splitlines()
    if line.split("] ", 1)[-1].startswith('{"process"')
  ]
  return rows


def _tokenizer(tmp_path):
  path = str(tmp_path / "tok.model")
  texts = [m["content"] for e in reverse_examples(64, seed=0) for m in e["messages"]]
  Tokenizer.train(texts, 320, path=path)
  return path


def _npz(path):
  with np.load(path) as f:
    return {k: f[k] for k in f.files}


def test_sigterm_to_one_process_stops_both_at_one_step_and_resumes_bitwise(tmp_path):
  tok = _tokenizer(tmp_path)
  straight, stopped = str(tmp_path / "straight"), str(tmp_path / "stopped")
  # Launch 1: an uninterrupted run, then a run whose process 1 alone gets SIGTERM after
  # step 3. Both processes must agree to stop at one step, save it together and return
  # (without agreement process 1 saves or leaves alone and the job hangs: the timeout).
  rows = _launch("sft", tok, str(tmp_path / "first"), straight, f"{stopped}:3")
  assert sorted(r["process"] for r in rows) == [0, 0, 1, 1]
  full = [r for r in rows if r["step"] == 12]
  cut = [r for r in rows if r["step"] != 12]
  assert len(full) == 2 and all(r["latest"] == 12 for r in full), rows
  assert len(cut) == 2 and cut[0]["step"] == cut[1]["step"], rows  # the same step on both
  stop = cut[0]["step"]
  assert 3 <= stop < 12 and all(r["latest"] == stop for r in cut), rows  # saved there
  with Checkpointer(os.path.join(stopped, "checkpoints")) as ckpt:
    assert ckpt.latest_step() == stop
  assert [r["step"] for r in read_metrics(os.path.join(stopped, "metrics.jsonl"))] == list(
    range(1, stop + 1)
  )
  # Launch 2: the stopped run resumes and ends bitwise equal to the uninterrupted one.
  rows = _launch("sft", tok, str(tmp_path / "resumed"), stopped)
  assert [r["step"] for r in rows] == [12, 12], rows
  a, b = _npz(str(tmp_path / "first0.npz")), _npz(str(tmp_path / "resumed0.npz"))
  assert a.keys() == b.keys()
  for k in a:
    np.testing.assert_array_equal(a[k], b[k], err_msg=k)
  metrics = read_metrics(os.path.join(stopped, "metrics.jsonl"))
  assert [r["step"] for r in metrics] == list(range(1, 13))
  reference = read_metrics(os.path.join(straight, "metrics.jsonl"))
  assert [r["loss"] for r in metrics] == [r["loss"] for r in reference]


def test_one_process_checkpoint_loads_in_two_processes(tmp_path):
  """A checkpoint written by one process (an SFT prior) restored by a 2-process job: each
  array is read into the job's sharding, not the saved one (whose device is process 0's)."""
  import multiproc_child

  tok_path = _tokenizer(tmp_path)
  cfg = multiproc_child.tiny_cfg()
  cfg.sft.steps = 4
  state = sft.train(
    cfg,
    str(tmp_path / "one"),
    reverse_examples(64, seed=0),
    Tokenizer.load(tok_path),
    progress=False,
  )
  want = {
    jax.tree_util.keystr(p): np.asarray(x)
    for p, x in jax.tree.leaves_with_path(nnx.to_pure_dict(state.params))
  }
  rows = _launch("load", str(tmp_path / "one" / "checkpoints"), str(tmp_path / "loaded.npz"))
  assert sorted(r["process"] for r in rows) == [0, 1] and rows[0]["devices"] == 2
  got = _npz(str(tmp_path / "loaded.npz"))
  assert got.keys() == want.keys()
  for k in want:
    np.testing.assert_array_equal(got[k], want[k], err_msg=k)
