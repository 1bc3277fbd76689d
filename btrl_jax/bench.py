"""`btrl bench`: speed on the fixed workloads of BENCHMARKS.md, printed as one JSON line.

W1 (`--workload=W1`, the default): Llama-style float32 decoder (vocab 2048, width 256, 4 layers, 4 heads, 2 kv
heads of dim 64, SwiGLU 1024, untied; 4.98M parameters), random init seed 0;
8 prompts of 64 tokens, 8 samples each (64 sequences), 64 new tokens, EOS never
sampled. Figures are medians over `repeats` timed calls after one warm-up call
(whose time, minus a steady-state call, is reported as compile time).

W2 (`btrl bench sample --workload=W2`): SmolLM2-135M-Instruct (the named offline model,
float32 from its Q4_1 GGUF), 8 chat prompts through its chat template, 8 samples each,
exactly 64 new tokens (EOS never sampled); the load time from the GGUF file is reported.

`grpo`: one GRPO step on W1 (KL 0.04, clip 0.2): rollout (the sampler), reference
log-probs (one jitted forward of the frozen model) and one AdamW update over all 64
sequences, with the split between the three. The reward is a cheap function of
the tokens: the study's grader is host Python and is timed in the RL metrics.

`serve` (`btrl bench serve [--checkpoint=REF]`): `btrl serve` started in a subprocess on
127.0.0.1 (default checkpoint: SmolLM2-135M-Instruct, the named offline model), and 16 chat
requests (the `W2_PROMPTS` cycled, temperature 1, max_tokens 64, request i seeded with i)
sent over HTTP either at once from 16 threads or one at a time. After a warm-up (one
concurrent wave, then one single request per prompt width: compiles excluded), each of
`repeats` rounds times both modes; the figures are medians over the rounds: requests/s and
completion tokens/s (from each reply's `usage`) per mode and their ratio, with the server's
/stats deltas over the timed rounds (sampler calls, batches, sampler traces: 0 in steady
state).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import resource
import statistics
import threading
import time
from collections.abc import Callable

import jax
import numpy as np
from flax import nnx

from btrl_jax import config as config_lib
from btrl_jax import parallel
from btrl_jax.models import build, param_count
from btrl_jax.sampling import Sampler, SamplingParams, bucket
from btrl_jax.serve.launch import serve_subprocess
from btrl_jax.workloads import W2_PROMPTS

W1 = dict(prompts=8, prompt_len=64, group_size=8, new_tokens=64)


def _peak_rss_mb() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _time(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
  """Returns (first-call seconds, median steady-state seconds)."""
  t0 = time.perf_counter()
  jax.block_until_ready(fn())
  first = time.perf_counter() - t0
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - t0)
  return first, statistics.median(times)


# W1 is small: every device holds it whole and takes a share of the rows (on a CPU host,
# one device per core: parallel.configure_cpu_devices).
W1_MESH = dict(data=-1, fsdp=1, tensor=1)


def _w2_model(mesh) -> tuple[object, float]:
  """SmolLM2-135M-Instruct (the named offline model) on `mesh`, and its load seconds."""
  from btrl_jax import checkpoints
  from btrl_jax.checkpoints import named

  named.fetch("smollm2-135m-instruct")  # downloaded once and cached: not load time
  t0 = time.perf_counter()
  imported = checkpoints.load("smollm2-135m-instruct", mesh)
  jax.block_until_ready(imported.params)
  return imported, time.perf_counter() - t0


def bench_sample(repeats: int = 5, workload: str = "W1") -> dict:
  """Generated tokens/s at temperature 1.0 and greedy, EOS never sampled.

  W1: the 5M Llama-style decoder of random init, 8 random prompts of 64 tokens.
  W2: SmolLM2-135M-Instruct from its GGUF, 8 chat prompts (`W2_PROMPTS`) through its chat
  template; also the load time from the GGUF file.
  """
  if workload not in ("W1", "W2"):
    raise ValueError(f"unknown workload {workload!r} (have: W1, W2)")
  mesh = parallel.make_mesh(W1_MESH)
  result: dict = {"bench": "sample", "workload": workload, "mesh": dict(mesh.shape)}
  if workload == "W1":
    cfg = config_lib.model_config()
    model = build(cfg, seed=0)
    graphdef, params = nnx.split(model)
    params = parallel.put(params, parallel.state_shardings(params, mesh))
    rng = np.random.default_rng(0)
    prompts = [
      list(rng.integers(4, cfg.vocab_size, size=W1["prompt_len"])) for _ in range(W1["prompts"])
    ]
    n_params = param_count(model)
  else:
    imported, load_s = _w2_model(mesh)
    graphdef, params, tok = imported.graphdef, imported.params, imported.tokenizer
    prompts = [tok.encode_prompt([{"role": "user", "content": p}]).tolist() for p in W2_PROMPTS]
    n_params = int(sum(np.prod(x.shape) for x in jax.tree.leaves(params)))
    result.update(load_s=round(load_s, 2), prompt_tokens=[len(p) for p in prompts])
  sampler = Sampler(graphdef, eos_id=-1, mesh=mesh)  # an id no token has: EOS never sampled
  n_tokens = W1["prompts"] * W1["group_size"] * W1["new_tokens"]
  result.update(
    params=n_params,
    sequences=W1["prompts"] * W1["group_size"],
    new_tokens=W1["new_tokens"],
    backend=jax.default_backend(),
    devices=jax.device_count(),
  )
  keys = iter(jax.random.split(jax.random.key(0), repeats + 1))
  for name, temperature in (("t1", 1.0), ("greedy", 0.0)):
    sp = SamplingParams(temperature=temperature, max_new_tokens=W1["new_tokens"])
    first, median = _time(
      lambda: (
        sampler.generate(
          params, prompts, next(keys, jax.random.key(1)), sp, group_size=W1["group_size"]
        ).tokens
      ),
      repeats,
    )
    result[f"{name}_tok_per_s"] = round(n_tokens / median, 1)
    result[f"{name}_s"] = round(median, 4)
    result[f"{name}_compile_s"] = round(first - median, 3)
  result["traces"] = sampler.trace_count
  result["peak_rss_mb"] = round(_peak_rss_mb(), 1)
  return result


def bench_grpo(repeats: int = 5, workload: str = "W1") -> dict:
  """Seconds per GRPO step: rollout + reference log-probs + one AdamW update (64 rows).

  W1: the 5M decoder of random init, 8 random prompts of 64 tokens. W2: SmolLM2-135M-Instruct
  from its GGUF, the 8 chat prompts of `W2_PROMPTS` through its chat template, float32.
  Both: 8 samples per prompt, exactly 64 new tokens at T=1 (EOS never sampled). The
  learner's reference forward and update run each prompt once per group of 8 samples
  (`Transformer.shared_prompt_hidden`), as in `btrl train`.
  """
  import jax.numpy as jnp

  from btrl_jax.policy import Policy
  from btrl_jax.rl.learner import Learner, Rollout
  from btrl_jax.tokenizer import Tokenizer

  if workload not in ("W1", "W2"):
    raise ValueError(f"unknown workload {workload!r} (have: W1, W2)")
  cfg = config_lib.base_config()
  cfg.mesh.update(W1_MESH)
  cfg.rl.update(
    prompts_per_step=W1["prompts"],
    group_size=W1["group_size"],
    max_new_tokens=W1["new_tokens"],
    kl_coef=0.04,
    clip_eps=0.2,
    clip_eps_high=0.2,
    loss="grpo",
    inner_epochs=1,
    minibatches=1,
  )
  extra: dict = {}
  if workload == "W1":
    cfg.model = config_lib.model_config()
    graphdef, params = nnx.split(build(cfg.model, seed=0))
    # The tokenizer is only needed for text; W1 feeds token ids and never samples EOS.
    tok = Tokenizer.train(["w1 benchmark"] * 8, 280)
    rng = np.random.default_rng(0)
    prompts = [
      list(rng.integers(4, cfg.model.vocab_size, size=W1["prompt_len"]))
      for _ in range(W1["prompts"])
    ]
  else:
    imported, load_s = _w2_model(parallel.make_mesh(W1_MESH))
    cfg.model = imported.model
    graphdef, params, tok = imported.graphdef, imported.params, imported.tokenizer
    prompts = [tok.encode_prompt([{"role": "user", "content": p}]).tolist() for p in W2_PROMPTS]
    extra = {"load_s": round(load_s, 2), "prompt_tokens": [len(p) for p in prompts]}
  learner = Learner(cfg, Policy(cfg, tok, graphdef, params, 0))
  learner.sampler = Sampler(graphdef, eos_id=-1, mesh=learner.mesh)
  ptok, pvalid = (x[: len(prompts)] for x in learner.sampler.prompt_block(prompts))
  g, n = W1["group_size"], W1["new_tokens"]
  policy = jax.tree.map(jnp.copy, learner.ref_params)  # sharded like the learner's state
  opt_state = learner.init_opt(policy)
  sp = SamplingParams(temperature=1.0, max_new_tokens=n)

  def step(i, timings):
    nonlocal policy, opt_state
    t0 = time.perf_counter()
    out = learner.sampler.generate(policy, prompts, jax.random.key(i), sp, group_size=g)
    # A cheap, varied reward (the study's grader is host Python and timed apart from this).
    rewards = (out.tokens % 7 == 0).mean(axis=1).astype(np.float32).reshape(len(prompts), g)
    mask = np.ones((len(prompts) * g, n), np.float32)
    ro = Rollout(
      np.concatenate([np.repeat(ptok, g, 0), out.tokens], 1),
      np.concatenate([np.repeat(pvalid, g, 0), mask.astype(bool)], 1),
      mask,
      out.logprobs,
      rewards,
      [],
      ptok.shape[1],
    )
    t1 = time.perf_counter()
    policy, opt_state, metrics, _ = learner.train_on(policy, opt_state, ro, timings=timings)
    jax.block_until_ready(policy)
    timings["rollout"].append(t1 - t0)
    timings["total"].append(time.perf_counter() - t0)

  warm = {"rollout": [], "total": [], "reference": [], "update": []}
  t0 = time.perf_counter()
  step(0, warm)
  first = time.perf_counter() - t0
  timings = {"rollout": [], "total": [], "reference": [], "update": []}
  for i in range(repeats):
    step(i + 1, timings)
  med = {k: statistics.median(v) for k, v in timings.items()}
  return {
    "bench": "grpo",
    "workload": workload,
    **extra,
    "params": param_count(nnx.merge(graphdef, params)),
    "sequences": len(prompts) * g,
    "new_tokens": n,
    "backend": jax.default_backend(),
    "devices": jax.device_count(),
    "mesh": dict(learner.mesh.shape),
    "step_s": round(med["total"], 4),
    "rollout_s": round(med["rollout"], 4),
    "reference_s": round(med["reference"], 4),
    "update_s": round(med["update"], 4),
    "compile_s": round(first - med["total"], 3),
    # One program each for rollout, reference and update: steps never recompile.
    "traces": learner.sampler.trace_count + learner.trace_count,
    "peak_rss_mb": round(_peak_rss_mb(), 1),
  }


# `btrl bench serve`: the default checkpoint (W2's model) and the wave of chat requests.
SERVE = dict(checkpoint="smollm2-135m-instruct", concurrency=16, max_tokens=64)
_SERVE_STATS = ("requests", "batches", "sampler_calls", "rows", "sampler_traces")


def _chat_requests(n: int, max_tokens: int) -> list[dict]:
  """n chat requests: the W2 prompts cycled, temperature 1, request i seeded with i."""
  return [
    {
      "messages": [{"role": "user", "content": W2_PROMPTS[i % len(W2_PROMPTS)]}],
      "temperature": 1.0,
      "max_tokens": max_tokens,
      "seed": i,
    }
    for i in range(n)
  ]


def _ask(client, body: dict) -> dict:
  r = client.post("/v1/chat/completions", json=body)
  if r.status_code != 200:
    raise RuntimeError(f"btrl serve answered {r.status_code}: {r.text[:500]}")
  reply = r.json()
  if len(reply["choices"]) != 1:
    raise RuntimeError(f"expected one choice, got {len(reply['choices'])}")
  return reply


def _contents(replies: list[dict]) -> tuple[str, ...]:
  return tuple(r["choices"][0]["message"]["content"] for r in replies)


def _stats(client) -> dict:
  r = client.get("/stats")
  r.raise_for_status()
  return r.json()


def _all_at_once(client, pool, bodies: list[dict], timeout_s: float) -> tuple[float, list[dict]]:
  """Every request from its own thread, released together: (seconds from the release until
  the last reply, the replies in request order)."""
  released: list[float] = []
  gate = threading.Barrier(len(bodies), action=lambda: released.append(time.perf_counter()))

  def one(body):
    gate.wait(timeout=timeout_s)
    return _ask(client, body)

  futures = [pool.submit(one, body) for body in bodies]
  _, pending = concurrent.futures.wait(futures, timeout=timeout_s)
  if pending:
    raise TimeoutError(f"{len(pending)} of {len(bodies)} requests unanswered after {timeout_s:g} s")
  replies = [f.result() for f in futures]
  return time.perf_counter() - released[0], replies


def _one_at_a_time(client, bodies: list[dict]) -> tuple[float, list[dict]]:
  t0 = time.perf_counter()
  replies = [_ask(client, body) for body in bodies]
  return time.perf_counter() - t0, replies


def bench_serve(
  repeats: int = 5,
  checkpoint: str = SERVE["checkpoint"],
  concurrency: int = SERVE["concurrency"],
  max_tokens: int = SERVE["max_tokens"],
  startup_timeout_s: float = 300.0,
  request_timeout_s: float = 300.0,
) -> dict:
  """Requests/s and completion tokens/s of `btrl serve` for `concurrency` chat requests sent
  at once (one thread each) against the same requests sent one at a time.

  The server runs `checkpoint` in a subprocess on 127.0.0.1; one concurrent wave, then one
  single request per prompt-width bucket (the sampler's power of two) warm it up, so that
  the programs either mode runs are compiled before the timing (a wave the server happens
  to split into other batches than the warm-up's may still compile: `timed_sampler_traces`).
  Each of `repeats` rounds times a wave, then the requests one by one; rates are medians
  over the rounds, /stats counts are summed over them. Every request has a timeout
  (`request_timeout_s`), and so has the server's start (`startup_timeout_s`, model load
  included); the server is stopped whatever happens."""
  import httpx

  if repeats < 1 or concurrency < 1 or max_tokens < 1:
    raise ValueError(
      f"need repeats, concurrency, max_tokens >= 1: {repeats, concurrency, max_tokens}"
    )
  bodies = _chat_requests(concurrency, max_tokens)
  limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
  modes = ("concurrent", "sequential")
  with contextlib.ExitStack() as stack:
    base, startup_s = stack.enter_context(serve_subprocess(checkpoint, startup_timeout_s))
    client = stack.enter_context(
      httpx.Client(base_url=base, timeout=request_timeout_s, limits=limits, trust_env=False)
    )
    pool = stack.enter_context(concurrent.futures.ThreadPoolExecutor(concurrency))
    models = client.get("/v1/models")
    models.raise_for_status()
    model = models.json()["data"][0]["id"]
    t0 = time.perf_counter()
    _, warm = _all_at_once(client, pool, bodies, request_timeout_s)
    # One single request per prompt-width bucket: the programs the one-at-a-time mode runs.
    first_of_width: dict[int, int] = {}
    for i, reply in enumerate(warm):
      first_of_width.setdefault(bucket(reply["usage"]["prompt_tokens"]), i)
    for i in first_of_width.values():
      _ask(client, bodies[i])
    warmup_s = time.perf_counter() - t0
    warm_stats = _stats(client)
    seconds = {m: [] for m in modes}
    tokens = {m: [] for m in modes}
    counts = {m: dict.fromkeys(_SERVE_STATS, 0) for m in modes}
    texts = {m: set() for m in modes}  # each mode's replies, per round
    texts["concurrent"].add(_contents(warm))
    for _ in range(repeats):
      for mode in modes:
        before = _stats(client)
        if mode == "concurrent":
          s, replies = _all_at_once(client, pool, bodies, request_timeout_s)
        else:
          s, replies = _one_at_a_time(client, bodies)
        after = _stats(client)
        for k in _SERVE_STATS:
          counts[mode][k] += after[k] - before[k]
        seconds[mode].append(s)
        tokens[mode].append(sum(r["usage"]["completion_tokens"] for r in replies))
        texts[mode].add(_contents(replies))
    end_stats = _stats(client)
  result: dict = {
    "bench": "serve",
    "checkpoint": checkpoint,
    "model": model,
    "requests": concurrency,
    "max_tokens": max_tokens,
    "temperature": 1.0,
    "repeats": repeats,
    "prompt_tokens": [r["usage"]["prompt_tokens"] for r in warm[: len(W2_PROMPTS)]],
    "startup_s": round(startup_s, 2),
    "warmup_s": round(warmup_s, 2),
  }
  wall = {m: statistics.median(seconds[m]) for m in modes}
  rate = {m: statistics.median([t / s for t, s in zip(tokens[m], seconds[m])]) for m in modes}
  for mode in modes:
    result[mode] = {
      "s": round(wall[mode], 5),
      "requests_per_s": round(concurrency / wall[mode], 3),
      "tokens_per_s": round(rate[mode], 1),
      "completion_tokens": tokens[mode],  # per round
      **counts[mode],  # the server's /stats, summed over the timed rounds
    }
  result["requests_per_s_ratio"] = round(wall["sequential"] / wall["concurrent"], 3)
  result["tokens_per_s_ratio"] = round(rate["concurrent"] / rate["sequential"], 3)
  # Programs compiled by the warm-up, and how many the timed rounds added (0: none).
  result["sampler_traces"] = warm_stats["sampler_traces"]
  result["timed_sampler_traces"] = end_stats["sampler_traces"] - warm_stats["sampler_traces"]
  # Each request is seeded: a mode gives the same replies every round, and the other mode
  # the same ones too, up to float rounding (other batch shapes: padding, rows, compaction).
  result["same_replies_each_round"] = all(len(t) == 1 for t in texts.values())
  conc, seq = (sorted(texts[m])[0] for m in modes)
  result["replies_differing_between_modes"] = sum(a != b for a, b in zip(conc, seq))
  return result


def bench_memory(repeats: int = 1) -> dict:
  from btrl_jax import capacity

  return capacity.bench_memory(repeats)


BENCHES = {
  "sample": bench_sample,
  "grpo": bench_grpo,
  "serve": bench_serve,
  "memory": bench_memory,
}
