"""`btrl bench sample|grpo|serve` print one JSON line each (numbers, not timings, checked)."""

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


# `btrl bench serve`: a real `btrl serve` subprocess over a tiny embedded checkpoint (what the
# weights say does not matter here: the counts, the invariants and the cleanup do).


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
  """Two SFT steps of configs/sft.py's 2-layer decoder: an embedded checkpoint, quickly."""
  workdir = tmp_path_factory.mktemp("tiny_sft")
  r = subprocess.run(
    [sys.executable, "-m", "btrl_jax.cli", "sft", "--config=configs/sft.py"]
    + ["--config.sft.steps=2", "--config.sft.warmup_steps=1", f"--workdir={workdir}"],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert r.returncode == 0, r.stderr[-2000:]
  return str(workdir / "sft" / "checkpoints")


def _serve_children() -> list[int]:
  """This process's live children running `btrl serve` (Linux /proc)."""
  found = []
  for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
      with open(f"/proc/{pid}/stat") as f:
        state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
      with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    except OSError:  # gone meanwhile
      continue
    if int(ppid) == os.getpid() and state != "Z" and b"serve" in argv:
      found.append(int(pid))
  return found


def test_bench_serve_times_both_modes_and_stops_the_server(tiny_checkpoint):
  """4 requests of 16 tokens, 3 rounds. Both modes answer every request with the same seeded
  replies, the rates are those of the counts, one at a time is one sampler call per request
  and all at once fewer, and the timed rounds compile nothing: four rows and two prompt
  widths (buckets of 32 and 64 tokens) are all the programs there are, and the warm-up
  compiled them."""
  from btrl_jax.bench import bench_serve
  from btrl_jax.sampling import bucket

  out = bench_serve(repeats=3, checkpoint=tiny_checkpoint, concurrency=4, max_tokens=16)
  assert _serve_children() == []  # stopped, and waited for
  assert out["bench"] == "serve" and out["checkpoint"] == tiny_checkpoint
  assert out["model"] == "checkpoints" and out["requests"] == 4 and out["repeats"] == 3
  widths = {bucket(n) for n in out["prompt_tokens"]}
  assert len(out["prompt_tokens"]) == 4 and widths == {32, 64}, out["prompt_tokens"]
  conc, seq = out["concurrent"], out["sequential"]
  for mode in (conc, seq):
    assert mode["requests"] == mode["rows"] == 3 * 4  # the server got every request
    assert mode["sampler_traces"] == 0
    tokens = mode["completion_tokens"]
    assert len(tokens) == 3 and len(set(tokens)) == 1 and 0 < tokens[0] <= 4 * 16
    assert mode["requests_per_s"] == pytest.approx(4 / mode["s"], rel=1e-2)
    assert mode["tokens_per_s"] == pytest.approx(tokens[0] / mode["s"], rel=1e-2)
  assert out["same_replies_each_round"] and out["replies_differing_between_modes"] == 0
  assert conc["completion_tokens"] == seq["completion_tokens"]
  assert seq["sampler_calls"] == seq["batches"] == 3 * 4
  assert conc["sampler_calls"] == conc["batches"] < 3 * 4
  assert out["timed_sampler_traces"] == 0 and out["sampler_traces"] >= 2
  assert out["requests_per_s_ratio"] == pytest.approx(seq["s"] / conc["s"], rel=1e-2)
  assert out["tokens_per_s_ratio"] == pytest.approx(
    conc["tokens_per_s"] / seq["tokens_per_s"], rel=1e-2
  )


def test_bench_serve_reports_a_server_that_cannot_start(tmp_path):
  from btrl_jax.bench import bench_serve

  missing = str(tmp_path / "no_such_run")
  with pytest.raises(RuntimeError, match=r"exited with code 2:(.|\n)*no checkpoint directory"):
    bench_serve(repeats=1, checkpoint=missing, startup_timeout_s=120)
  assert _serve_children() == []


def test_cli_bench_serve_passes_the_checkpoint(tiny_checkpoint):
  """`btrl bench serve --checkpoint=...` prints one JSON line: 16 requests of 64 tokens."""
  r = subprocess.run(
    [sys.executable, "-m", "btrl_jax.cli", "bench", "serve", "--repeats=1"]
    + [f"--checkpoint={tiny_checkpoint}"],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=600,
  )
  assert r.returncode == 0, r.stderr[-2000:]
  lines = r.stdout.strip().splitlines()
  assert len(lines) == 1
  out = json.loads(lines[0])
  assert out["checkpoint"] == tiny_checkpoint and out["model"] == "checkpoints"
  assert out["requests"] == 16 and out["max_tokens"] == 64 and out["repeats"] == 1
  assert out["sequential"]["sampler_calls"] == out["sequential"]["requests"] == 16
  assert 0 < out["concurrent"]["completion_tokens"][0] <= 16 * 64


@pytest.mark.slow  # about 2 minutes: SmolLM2's GRPO step, compiled and run twice
def test_bench_grpo_w2_prints_its_json_line():
  from btrl_run import btrl

  r = btrl("bench", "grpo", "--workload=W2", "--repeats=1", timeout=900)
  assert r.returncode == 0, r.stderr[-2000:]
  lines = r.stdout.strip().splitlines()
  assert len(lines) == 1
  out = json.loads(lines[0])
  assert (out["workload"], out["params"], out["sequences"], out["new_tokens"]) == (
    "W2",
    134_515_008,
    64,
    64,
  )
  assert len(out["prompt_tokens"]) == 8 and out["traces"] == 4 and out["peak_rss_mb"] > 0
  parts = out["rollout_s"] + out["reference_s"] + out["update_s"]
  assert 0 < parts <= out["step_s"] * 1.05 and out["load_s"] > 0
