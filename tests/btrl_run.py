"""Running the `btrl` command from tests (one helper for the test modules that need it)."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def btrl(*args: str, timeout: float = 600, cpu_devices: int | None = None):
  """`python -m btrl_jax.cli ARGS` from the repository root, output captured.
  `cpu_devices`: BTRL_CPU_DEVICES for the child (default: the CLI's own choice)."""
  env = None if cpu_devices is None else dict(os.environ, BTRL_CPU_DEVICES=str(cpu_devices))
  return subprocess.run(
    [sys.executable, "-m", "btrl_jax.cli", *args],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=timeout,
    env=env,
  )
