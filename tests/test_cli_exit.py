"""`btrl` exit codes: the project's own usage/config/input errors exit 2 with one line; a
runtime failure (RLError, an XLA runtime error) exits 1 and shows its traceback."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# `btrl data` whose command body is replaced by one that fails at run time.
RAISES = {
  "rl_error": (
    "from btrl_jax.rl.learner import RLError\n"
    "def boom(args):\n"
    "  raise RLError('3 updates in a row had non-finite loss or gradients')\n"
  ),
  # A real XLA runtime error: a host callback that fails inside a jitted program.
  "xla_runtime_error": (
    "def boom(args):\n"
    "  import jax, jax.numpy as jnp\n"
    "  def cb(x):\n"
    "    raise ValueError('host callback failed')\n"
    "  out = jax.ShapeDtypeStruct((), jnp.float32)\n"
    "  jax.jit(lambda x: jax.pure_callback(cb, out, x))(1.0).block_until_ready()\n"
  ),
}


def _btrl_with(body, *args):
  code = (
    "import sys\nfrom btrl_jax import cli\n"
    + body
    + f"cli.cmd_data = boom\nsys.argv = ['btrl', 'data', *{list(args)!r}]\ncli.run()\n"
  )
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  return subprocess.run(
    [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
  )


@pytest.mark.parametrize("kind", sorted(RAISES))
def test_runtime_failure_exits_1_with_its_traceback(kind):
  r = _btrl_with(RAISES[kind])
  assert r.returncode == 1, r.stderr[-3000:]
  assert "Traceback (most recent call last)" in r.stderr, r.stderr[-3000:]
  name = {"rl_error": "RLError", "xla_runtime_error": "JaxRuntimeError"}[kind]
  assert name in r.stderr and ", in boom" in r.stderr, r.stderr[-3000:]  # the raising frame
  assert r.stderr.rstrip().splitlines()[-1] == "btrl: data failed (traceback above)"


def test_bad_config_exits_2_with_one_line(tmp_path):
  r = subprocess.run(
    [
      sys.executable,
      "-m",
      "btrl_jax.cli",
      "data",
      "--config=configs/study.py:smoke",
      "--config.mesh.data=3",
      f"--workdir={tmp_path}",
    ],
    cwd=ROOT,
    env=dict(os.environ, JAX_PLATFORMS="cpu"),
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert r.returncode == 2, r.stderr[-3000:]
  lines = r.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("btrl: error: mesh data=3"), lines
  assert "Traceback" not in r.stderr
