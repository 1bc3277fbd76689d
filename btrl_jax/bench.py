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
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable

import jax
import numpy as np
from flax import nnx

from btrl_jax import config as config_lib
from btrl_jax import parallel
from btrl_jax.models import build, param_count
from btrl_jax.sampling import Sampler, SamplingParams
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


def bench_grpo(repeats: int = 5) -> dict:
  """Seconds per GRPO step on W1: rollout + reference log-probs + one AdamW update (64 rows).

  The learner's reference forward and update run each prompt once per group of 8 samples
  (`Transformer.shared_prompt_hidden`), as in `btrl train`.
  """
  import jax.numpy as jnp

  from btrl_jax.policy import Policy
  from btrl_jax.rl.learner import Learner, Rollout
  from btrl_jax.tokenizer import Tokenizer

  cfg = config_lib.base_config()
  cfg.model = config_lib.model_config()
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
  graphdef, params = nnx.split(build(cfg.model, seed=0))
  # The tokenizer is only needed for text; W1 feeds token ids and never samples EOS.
  tok = Tokenizer.train(["w1 benchmark"] * 8, 280)
  learner = Learner(cfg, Policy(cfg, tok, graphdef, params, 0))
  learner.sampler = Sampler(graphdef, eos_id=-1, mesh=learner.mesh)
  rng = np.random.default_rng(0)
  prompts = [
    list(rng.integers(4, cfg.model.vocab_size, size=W1["prompt_len"])) for _ in range(W1["prompts"])
  ]
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
    "workload": "W1",
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


def bench_memory(repeats: int = 1) -> dict:
  from btrl_jax import capacity

  return capacity.bench_memory(repeats)


BENCHES = {"sample": bench_sample, "grpo": bench_grpo, "memory": bench_memory}
