"""`btrl serve` as a child process on a free port of 127.0.0.1, for benchmarks and tests."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _log_tail(log) -> str:
  log.seek(0)
  return log.read().decode(errors="replace")[-3000:]


@contextlib.contextmanager
def serve_subprocess(
  checkpoint: str,
  startup_timeout_s: float = 300.0,
  model_name: str | None = None,
  env: Mapping[str, str] | None = None,
):
  """`btrl serve --checkpoint=CHECKPOINT` in a subprocess on a free port of 127.0.0.1.

  Yields (base URL, seconds until /health answered); the server is stopped on exit
  (SIGTERM, then SIGKILL if it has not exited within 30 s). A server that exits or does
  not answer within `startup_timeout_s` raises, with the tail of its output."""
  import httpx

  port = free_port()
  cmd = [sys.executable, "-m", "btrl_jax.cli", "serve", f"--checkpoint={checkpoint}"]
  cmd += ["--host=127.0.0.1", f"--port={port}"]
  if model_name:
    cmd.append(f"--model_name={model_name}")
  with tempfile.TemporaryFile() as log:
    proc = subprocess.Popen(
      cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
    )
    try:
      base = f"http://127.0.0.1:{port}"
      t0 = time.perf_counter()
      while True:
        if proc.poll() is not None:
          raise RuntimeError(f"btrl serve exited with code {proc.returncode}:\n{_log_tail(log)}")
        if time.perf_counter() - t0 > startup_timeout_s:
          raise TimeoutError(
            f"btrl serve did not answer /health within {startup_timeout_s:g} s:\n{_log_tail(log)}"
          )
        try:
          if httpx.get(base + "/health", timeout=5.0, trust_env=False).status_code == 200:
            break
        except httpx.HTTPError:
          pass
        time.sleep(0.25)
      yield base, time.perf_counter() - t0
    finally:
      proc.terminate()
      try:
        proc.wait(timeout=30)
      except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


@contextlib.contextmanager
def served_judge(cfg, log=print):
  """`cfg` with its judge reachable: with `grader.judge.serve` set, that checkpoint is
  served by `btrl serve` on 127.0.0.1 for the length of the block (each process starts its
  own) and a copy of `cfg` is yielded with `grader.judge.base_url` pointing at it and
  `grader.judge.model` named after it (when unset); otherwise (serve unset, or base_url
  set: an explicit endpoint wins) `cfg` itself."""
  j = cfg.grader.judge
  if not j.serve or j.base_url:
    yield cfg
    return
  cfg = type(cfg)(cfg.to_dict())
  cfg.grader.judge.model = j.model or j.serve
  t0 = time.perf_counter()
  with serve_subprocess(j.serve, model_name=cfg.grader.judge.model) as (base, _):
    log(f"judge: {j.serve} served at {base} (up in {time.perf_counter() - t0:.0f} s)")
    cfg.grader.judge.base_url = base + "/v1"
    yield cfg
