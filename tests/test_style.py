"""The tree reads as one hand: `ruff format --check` and `ruff check` (config in pyproject.toml)."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _ruff(*args):
  return subprocess.run(
    [sys.executable, "-m", "ruff", *args, ROOT], cwd=ROOT, capture_output=True, text=True
  )


def test_code_is_formatted():
  r = _ruff("format", "--check")
  assert r.returncode == 0, f"run `ruff format`:\n{r.stdout}{r.stderr}"


def test_lint_is_clean():
  r = _ruff("check")
  assert r.returncode == 0, f"`ruff check`:\n{r.stdout}{r.stderr}"
