"""`btrl bench sample` prints one JSON line describing workload W1 (numbers, not timings, checked)."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow  # `btrl bench grpo` (below) covers the bench command in the default tier
def test_bench_sample_prints_one_w1_json_line():
  r = subprocess.run(
    [sys.executable, "-m", "btrl_jax.cli", "bench", "sample", "--repeats=1"],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert r.returncode == 0, r.stderr[-2000:]
  lines = r.stdout.strip().splitlines()
  assert len(lines) == 1
  out = json.loads(lines[0])
  assert out["workload"] == "W1" and out["params"] == 4_983_040
  assert out["sequences"] == 64 and out["new_tokens"] == 64
  for key in (
    "t1_tok_per_s",
    "greedy_tok_per_s",
    "t1_compile_s",
    "greedy_compile_s",
    "peak_rss_mb",
  ):
    assert out[key] > 0, key
  # Two programs per mode (prefill with the first decode segment, then the later segments;
  # EOS is never sampled, so no batch shrinks); repeated calls never recompile.
  assert out["traces"] == 4


def test_bench_grpo_prints_one_w1_json_line_with_its_split():
  r = subprocess.run(
    [sys.executable, "-m", "btrl_jax.cli", "bench", "grpo", "--repeats=1"],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert r.returncode == 0, r.stderr[-2000:]
  lines = r.stdout.strip().splitlines()
  assert len(lines) == 1
  out = json.loads(lines[0])
  assert out["bench"] == "grpo" and out["workload"] == "W1" and out["params"] == 4_983_040
  assert out["sequences"] == 64 and out["new_tokens"] == 64
  parts = [out[k] for k in ("rollout_s", "reference_s", "update_s")]
  assert all(p > 0 for p in parts)
  assert sum(parts) <= out["step_s"] * 1.05  # the split is a split of the step
