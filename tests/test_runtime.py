"""runtime: one CPU device per core unless told otherwise; the persistent compile cache;
batches that do not split over the mesh are config errors before anything compiles."""

import os
import subprocess
import sys

import pytest

from btrl_jax import config, presets, runtime
from btrl_jax.parallel import check_batches

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python(code: str, **env):
  env = dict(os.environ, **env)
  return subprocess.run(
    [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
  )


COUNT = (
  "from btrl_jax import runtime\n"
  "import os, jax\n"
  "n = runtime.configure_cpu_devices()\n"
  "print(n, jax.device_count(), min(8, 1 << (len(os.sched_getaffinity(0)).bit_length() - 1)))\n"
)


@pytest.mark.parametrize(
  "env, expected",
  [
    (dict(BTRL_CPU_DEVICES="3"), ("3", "3")),
    (dict(XLA_FLAGS="--xla_force_host_platform_device_count=5"), ("None", "5")),
    (dict(BTRL_CPU_DEVICES=""), None),  # the default: a power of two <= the cores, <= 8
  ],
)
def test_cpu_devices(env, expected):
  env = dict(env, JAX_PLATFORMS="cpu")
  env.setdefault("XLA_FLAGS", "")
  r = _python(COUNT, **env)
  assert r.returncode == 0, r.stderr[-2000:]
  got = r.stdout.split()
  if expected is None:
    assert got[0] == got[1] == got[2]
  else:
    assert tuple(got[:2]) == expected


def test_cpu_devices_leave_a_started_backend_alone():
  r = _python(
    "import jax\njax.devices()\nfrom btrl_jax import runtime\n"
    "print(runtime.configure_cpu_devices({'BTRL_CPU_DEVICES': '4'}), jax.device_count())\n",
    JAX_PLATFORMS="cpu",
    XLA_FLAGS="",
  )
  assert r.stdout.split() == ["None", "1"], r.stderr[-2000:]


def test_bad_cpu_device_count_is_a_config_error():
  with pytest.raises(config.ConfigError, match="BTRL_CPU_DEVICES='two'"):
    runtime.configure_cpu_devices({"BTRL_CPU_DEVICES": "two"})


def test_compile_cache_dir(tmp_path):
  assert runtime.configure_compile_cache({"BTRL_COMPILE_CACHE": "off"}) is None
  where = tmp_path / "xla"
  r = _python(
    "from btrl_jax import runtime\nimport jax, jax.numpy as jnp\n"
    "print(runtime.configure_compile_cache(), jax.config.jax_compilation_cache_max_size)\n"
    "jax.jit(lambda x: x * 2 + 1)(jnp.ones(3)).block_until_ready()\n",
    BTRL_COMPILE_CACHE=str(where),
    JAX_PLATFORMS="cpu",
  )
  assert r.returncode == 0 and r.stdout.split() == [str(where), str(1 << 30)], r.stderr[-2000:]
  assert any(where.iterdir())  # the program was written to the cache


def test_batches_must_split_over_the_mesh():
  cfg = presets.study("smoke")
  check_batches(cfg, (2, 1, 1))  # the shipped study on this machine's two devices
  with pytest.raises(config.ConfigError, match=r"config.sft.batch_size = 32 rows .* 3 batch"):
    check_batches(cfg, (3, 1, 1))
  cfg.sft.batch_size = 24
  with pytest.raises(config.ConfigError, match=r"rl.prompts_per_step x rl.group_size"):
    check_batches(cfg, (3, 1, 1))


def test_cli_rejects_a_batch_the_mesh_cannot_split(tmp_path):
  """Before anything compiles: exit 2 and one line naming the key."""
  r = subprocess.run(
    [
      sys.executable,
      "-m",
      "btrl_jax.cli",
      "sft",
      "--config=configs/study.py:smoke",
      f"--workdir={tmp_path}",
    ],
    cwd=ROOT,
    env=dict(os.environ, JAX_PLATFORMS="cpu", BTRL_CPU_DEVICES="3", XLA_FLAGS=""),
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert r.returncode == 2, r.stderr[-2000:]
  assert r.stderr.strip().splitlines() == [
    "btrl: error: config.sft.batch_size = 32 rows do not split over the mesh's 3 batch shards "
    "(data x fsdp = 3 x 1); use a multiple of 3, or another mesh"
  ]
  assert not os.listdir(tmp_path)
