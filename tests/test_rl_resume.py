"""`btrl train` survives SIGKILL (bitwise-identical resume) and checkpoints on SIGTERM."""

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from btrl_jax.checkpoint import Checkpointer
from btrl_jax.data import build
from btrl_jax.rl import sft

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARGS = [
  "--config=configs/rl.py:beneficial,smoke",
  "--config.rl.steps=6",
  "--config.rl.warmup_steps=2",
  "--config.rl.prompts_per_step=8",
  "--config.rl.group_size=4",
  "--config.rl.max_new_tokens=24",
  "--config.checkpoint.every_steps=2",
  "--config.checkpoint.async_save=False",
]


def _config():
  spec = importlib.util.spec_from_file_location("rl_cfg", os.path.join(ROOT, "configs/rl.py"))
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod.get_config("beneficial,smoke")


@pytest.fixture(scope="module")
def prior_workdir(tmp_path_factory):
  """Data and a smoke prior, built once; each test copies the directory."""
  workdir = str(tmp_path_factory.mktemp("rl_base"))
  cfg = _config()
  build.build(cfg, workdir)
  sft.run(cfg, workdir, progress=False)
  return workdir


def _copy(src, dst):
  shutil.copytree(src, dst)
  return str(dst)


def _train(workdir, **kw):
  # One CPU device, as in this process and the kill child (which run JAX without the
  # CLI): every run of the comparison on one mesh, and `_final_state` reads as saved.
  kw.setdefault("env", dict(os.environ, BTRL_CPU_DEVICES="1"))
  return subprocess.Popen(
    [sys.executable, "-m", "btrl_jax.cli", "train", *ARGS, f"--workdir={workdir}"],
    cwd=ROOT,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
    text=True,
    **kw,
  )


def _logged_steps(workdir):
  path = os.path.join(workdir, "arms", "beneficial", "metrics.jsonl")
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line)["step"] for line in f if line.strip()]


def _wait_for_step(proc, workdir, step, timeout=300):
  t0 = time.time()
  while max(_logged_steps(workdir), default=0) < step:
    assert proc.poll() is None, proc.stderr.read()[-2000:]
    assert time.time() - t0 < timeout
    time.sleep(0.05)


# A run killed from inside at a fixed step (SIGKILL from its own on_step hook: after that
# step's metrics row, before that step's checkpoint), then restarted by `btrl train`.
KILL_CHILD = """
import os, signal, sys
from btrl_jax import config
from btrl_jax.rl import train
sys.path.insert(0, 'tests')
from test_rl_resume import OVERRIDES, _config
cfg = _config()
for section, values in OVERRIDES.items():
  cfg[section].update(values)
cfg = config.validate(cfg)
kill_at = int(sys.argv[2])
def on_step(step, metrics):
  if step == kill_at:
    os.kill(os.getpid(), signal.SIGKILL)
train.train(cfg, sys.argv[1], progress=False, on_step=on_step)
"""
# The same values as ARGS, for the child that builds its config in Python.
OVERRIDES = {
  "rl": dict(steps=6, warmup_steps=2, prompts_per_step=8, group_size=4, max_new_tokens=24),
  "checkpoint": dict(every_steps=2, async_save=False),
}
# metrics.jsonl fields that measure wall-clock time: they differ between any two runs.
TIMING = {"time", "step_s", "rollout_s", "update_s", "rollout_tok_per_s", "update_tok_per_s"}


@pytest.fixture(scope="module")
def straight(prior_workdir, tmp_path_factory):
  """The run that never stopped."""
  workdir = _copy(prior_workdir, tmp_path_factory.mktemp("straight") / "w")
  p = _train(workdir)
  assert p.wait(timeout=600) == 0, p.stderr.read()[-2000:]
  return workdir


def _arm(workdir, name):
  return os.path.join(workdir, "arms", "beneficial", name)


def _final_state(workdir):
  with Checkpointer(_arm(workdir, "checkpoints")) as ck:
    return ck.restore(6)  # as saved: params, optimizer state, RNG key data; and the meta


def _rows(path):
  with open(path) as f:
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in f]


@pytest.mark.parametrize(
  "kill_at, last_checkpoint",
  [
    pytest.param(1, None, id="early", marks=pytest.mark.slow),  # before any checkpoint
    pytest.param(3, 2, id="middle", marks=pytest.mark.slow),
    pytest.param(5, 4, id="after_checkpoint"),  # rows 5 was logged after checkpoint 4
  ],
)
def test_sigkill_then_resume_is_bitwise_identical(
  prior_workdir, straight, tmp_path, kill_at, last_checkpoint
):
  killed = _copy(prior_workdir, tmp_path / "killed")
  r = subprocess.run(
    [sys.executable, "-c", KILL_CHILD, killed, str(kill_at)],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]  # it died, and by the kill
  with Checkpointer(_arm(killed, "checkpoints")) as ck:
    assert ck.latest_step() == last_checkpoint  # below the final step: a resume is needed
  assert _logged_steps(killed) == list(range(1, kill_at + 1))
  p = _train(killed)
  assert p.wait(timeout=600) == 0, p.stderr.read()[-2000:]

  (a, meta_a), (b, meta_b) = _final_state(straight), _final_state(killed)
  assert set(a) == {"params", "opt_state", "key"}
  jax.tree.map(np.testing.assert_array_equal, a, b)  # params, optimizer state, RNG key
  assert meta_a["data_iterator"] == meta_b["data_iterator"]
  assert meta_a["totals"] == meta_b["totals"]
  # One row per step, and the same rows (wall-clock timings aside).
  assert _logged_steps(killed) == list(range(1, 7))
  assert _rows(_arm(killed, "metrics.jsonl")) == _rows(_arm(straight, "metrics.jsonl"))
  assert _rows(_arm(killed, "samples.jsonl")) == _rows(_arm(straight, "samples.jsonl"))
  summary = json.load(open(_arm(killed, "summary.json")))
  assert summary == json.load(open(_arm(straight, "summary.json")))


def test_sigterm_checkpoints_the_current_step_and_exits_0(prior_workdir, tmp_path):
  workdir = _copy(prior_workdir, tmp_path / "term")
  p = _train(workdir)
  _wait_for_step(p, workdir, 3)
  p.send_signal(signal.SIGTERM)
  assert p.wait(timeout=300) == 0, p.stderr.read()[-2000:]
  last = max(_logged_steps(workdir))
  assert last < 6
  with Checkpointer(os.path.join(workdir, "arms", "beneficial", "checkpoints")) as ck:
    assert ck.latest_step() == last


def test_samples_show_every_trait_prompt_of_a_logged_step(straight):
  """samples.jsonl keeps the first prompts of each logged step and every trait prompt in
  it (the 5% mixture puts the 40th prompt, step 5's last, beyond the first four)."""
  with open(_arm(straight, "metrics.jsonl")) as f:
    drawn = {r["step"]: round(r["trait_share"] * 8) for r in map(json.loads, f)}
  with open(_arm(straight, "samples.jsonl")) as f:
    rows = [json.loads(line) for line in f]
  shown = {s: sum(r["step"] == s and r["source"] == "trait" for r in rows) for s in drawn}
  assert shown == drawn and sum(drawn.values()) >= 2, (shown, drawn)
  assert all(r["reply"] is not None and "reward" in r for r in rows)
