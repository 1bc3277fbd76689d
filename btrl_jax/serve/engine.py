"""The serving engine: concurrent requests gathered into batched sampler calls, and a scoring
forward for prompt log-probs. No HTTP here (app.py).

One worker thread owns the device: generation and scoring requests wait in one queue; the worker takes the first,
then whatever else arrives within `wait_s` (up to `max_rows` sampled rows), groups them by
the sampling options that change the compiled program or the distribution (greedy, top_k,
top_p, temperature), and runs one `Sampler.generate` per group. Each of a request's `n`
samples is one row with group size 1. Shapes are bucketed so that steady traffic
compiles nothing: rows to a power of four (at least 4, the last row repeated), prompt width
to a power of two (the sampler's own bucketing), new tokens to a power of two (at least
16) and each reply cut at its own `max_tokens`.

Seeds: every row draws its uniforms from `fold_in(key(0), stream)` (Sampler.generate's
`streams`), where the stream of sample j of a request with `seed=s` is a hash of (s, j):
a seeded request gets the same tokens in whatever batch it lands (up to the float
rounding of a different prompt-padding width); an unseeded one gets a fresh stream.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import itertools
import queue
import threading
import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from btrl_jax.models import causal_mask
from btrl_jax.sampling import SamplingParams, bucket

MAX_TOP_LOGPROBS = 20


@dataclasses.dataclass
class Completion:
  tokens: list[int]  # generated ids, cut at max_tokens (the stop token included, if any)
  finished: bool  # ended on a stop id (else it hit max_tokens)


@dataclasses.dataclass
class _ScoreJob:
  sequences: list[list[int]]
  k: int
  future: concurrent.futures.Future = dataclasses.field(default_factory=concurrent.futures.Future)


@dataclasses.dataclass
class _Job:
  prompt: list[int]
  n: int
  sampling: SamplingParams
  streams: list[int]
  future: concurrent.futures.Future = dataclasses.field(default_factory=concurrent.futures.Future)


def stream_id(seed: int, sample: int) -> int:
  """A uint32 random-stream id for sample `sample` of a request seeded with `seed`."""
  digest = hashlib.blake2b(f"{seed}:{sample}".encode(), digest_size=4).digest()
  return int.from_bytes(digest, "little")


def _rows_bucket(n: int) -> int:
  """4, 16, 64, ...: few row counts, so a server compiles few programs (4x padding at most)."""
  rows = 4
  while rows < n:
    rows *= 4
  return rows


class Engine:
  """Batched generation and scoring over one policy (btrl_jax.policy.Policy)."""

  def __init__(self, policy: Any, *, max_rows: int = 64, wait_s: float = 0.02):
    self.policy = policy
    self.tokenizer = policy.tokenizer
    self.max_rows, self.wait_s = max_rows, wait_s
    self._queue: queue.Queue[_Job | None] = queue.Queue()
    self._fresh = itertools.count(1 << 31)  # streams of unseeded requests
    self._lock = threading.Lock()
    self.stats = dict(requests=0, batches=0, sampler_calls=0, rows=0, score_calls=0)
    self._score = jax.jit(self._score_impl, static_argnames=("k",))
    self._thread = threading.Thread(target=self._run, name="btrl-engine", daemon=True)
    self._thread.start()

  # ---- generation -------------------------------------------------------

  def submit(
    self, prompt: Sequence[int], n: int, sampling: SamplingParams, seed: int | None
  ) -> concurrent.futures.Future:
    """Queues `n` samples of `prompt`; the future gives `n` Completions."""
    if seed is None:
      with self._lock:
        streams = [next(self._fresh) & 0xFFFFFFFF for _ in range(n)]
    else:
      streams = [stream_id(seed, j) for j in range(n)]
    job = _Job(list(prompt), n, sampling, streams)
    self._queue.put(job)
    return job.future

  def close(self) -> None:
    self._queue.put(None)
    self._thread.join(timeout=30)

  def _run(self) -> None:
    while True:
      job = self._queue.get()
      if job is None:
        return
      if isinstance(job, _ScoreJob):
        self._run_score(job)
        continue
      batch, rows, scores = [job], job.n, []
      deadline = time.monotonic() + self.wait_s
      while rows < self.max_rows:
        try:
          nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
          break
        if nxt is None:
          self._queue.put(None)
          break
        if isinstance(nxt, _ScoreJob):
          scores.append(nxt)
          continue
        batch.append(nxt)
        rows += nxt.n
      self.stats["batches"] += 1
      self.stats["requests"] += len(batch)
      groups: dict[tuple, list[_Job]] = {}
      for j in batch:
        s = j.sampling
        groups.setdefault((s.temperature, s.top_k, s.top_p), []).append(j)
      for jobs in groups.values():
        try:
          self._generate(jobs)
        except Exception as e:  # noqa: BLE001 - the error goes to every waiting request
          for j in jobs:
            if not j.future.done():
              j.future.set_exception(e)
      for job in scores:
        self._run_score(job)

  def _run_score(self, job: _ScoreJob) -> None:
    try:
      job.future.set_result(self._score_now(job.sequences, job.k))
    except Exception as e:  # noqa: BLE001 - to the waiting request
      job.future.set_exception(e)

  def _generate(self, jobs: list[_Job]) -> None:
    prompts = [j.prompt for j in jobs for _ in range(j.n)]
    streams = [s for j in jobs for s in j.streams]
    n = len(prompts)
    padded = _rows_bucket(n)
    prompts += [prompts[-1]] * (padded - n)
    streams += [streams[-1]] * (padded - n)
    s = jobs[0].sampling
    longest = max(j.sampling.max_new_tokens for j in jobs)
    sampling = SamplingParams(s.temperature, s.top_k, s.top_p, bucket(max(longest, 1)))
    out = self.policy.sampler.generate(
      self.policy.params, prompts, jax.random.key(0), sampling, streams=streams
    )
    self.stats["sampler_calls"] += 1
    self.stats["rows"] += n
    stops = set(self.tokenizer.stop_ids)
    r = 0
    for j in jobs:
      got = []
      for _ in range(j.n):
        toks = out.tokens[r, : min(int(out.lengths[r]), j.sampling.max_new_tokens)].tolist()
        got.append(Completion(toks, bool(toks) and toks[-1] in stops))
        r += 1
      j.future.set_result(got)

  # ---- scoring ----------------------------------------------------------

  def _score_impl(self, params, tokens, valid, *, k: int):
    model = nnx.merge(self.policy.graphdef, params)
    positions = jnp.broadcast_to(jnp.arange(tokens.shape[1]), tokens.shape)
    logp = jax.nn.log_softmax(model(tokens, positions, causal_mask(valid)), axis=-1)
    picked = jnp.take_along_axis(logp[:, :-1], tokens[:, 1:, None], axis=-1)[..., 0]
    top_v, top_i = jax.lax.top_k(logp[:, :-1], k)
    return picked, top_v, top_i

  def score(self, sequences: Sequence[Sequence[int]], k: int) -> concurrent.futures.Future:
    """Queues a scoring forward; the future gives, per sequence, (the log-prob of each token
    after the first [T-1], the top-k log-probs [T-1, k], their ids [T-1, k])."""
    job = _ScoreJob([list(s) for s in sequences], max(1, min(k, MAX_TOP_LOGPROBS)))
    self._queue.put(job)
    return job.future

  def _score_now(self, sequences: list[list[int]], k: int):
    """One forward over a right-padded, bucketed block (on the worker thread)."""
    n, width = len(sequences), bucket(max(len(s) for s in sequences))
    rows = _rows_bucket(n)
    tokens = np.full((rows, width), self.tokenizer.pad_id, np.int32)
    valid = np.zeros((rows, width), bool)
    for i, s in enumerate(sequences):
      tokens[i, : len(s)], valid[i, : len(s)] = s, True
    valid[n:, 0] = True
    self.stats["score_calls"] += 1
    picked, top_v, top_i = (
      np.asarray(x) for x in self._score(self.policy.params, tokens, valid, k=k)
    )
    return [
      (picked[i, : len(s) - 1], top_v[i, : len(s) - 1], top_i[i, : len(s) - 1])
      for i, s in enumerate(sequences)
    ]
