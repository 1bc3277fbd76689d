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
from flax import nnx

from btrl_jax.checkpoint import Checkpointer
from btrl_jax.data import build
from btrl_jax.policy import load_policy
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


def _final_params(workdir):
  policy = load_policy(os.path.join(workdir, "arms", "beneficial", "checkpoints"))
  return jax.tree.map(np.asarray, nnx.to_pure_dict(policy.params)), policy.step


def test_sigkill_mid_run_then_resume_is_bitwise_identical(prior_workdir, tmp_path):
  straight = _copy(prior_workdir, tmp_path / "straight")
  p = _train(straight)
  assert p.wait(timeout=600) == 0, p.stderr.read()[-2000:]

  killed = _copy(prior_workdir, tmp_path / "killed")
  kill_at = int(np.random.default_rng().integers(3, 6))  # a random step, after a checkpoint
  p = _train(killed)
  _wait_for_step(p, killed, kill_at)
  p.send_signal(signal.SIGKILL)
  p.wait()
  p = _train(killed)
  assert p.wait(timeout=600) == 0, p.stderr.read()[-2000:]

  (a, step_a), (b, step_b) = _final_params(straight), _final_params(killed)
  assert step_a == step_b == 6
  jax.tree.map(np.testing.assert_array_equal, a, b)
  summary = json.load(open(os.path.join(killed, "arms", "beneficial", "summary.json")))
  assert summary == json.load(open(os.path.join(straight, "arms", "beneficial", "summary.json")))


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
