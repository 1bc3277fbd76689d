"""`btrl bench`: speed on the fixed workloads of BENCHMARKS.md, printed as one JSON line.

W1: Llama-style float32 decoder (vocab 2048, width 256, 4 layers, 4 heads, 2 kv
heads of dim 64, SwiGLU 1024, untied; 4.98M parameters), random init seed 0;
8 prompts of 64 tokens, 8 samples each (64 sequences), 64 new tokens, EOS never
sampled. Figures are medians over `repeats` timed calls after one warm-up call
(whose time, minus a steady-state call, is reported as compile time).
"""

from __future__ import annotations

import resource
import statistics
import time
from typing import Callable

import jax
import numpy as np
from flax import nnx

from btrl_jax import config as config_lib
from btrl_jax.models import build, param_count
from btrl_jax.sampling import Sampler, SamplingParams

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


def bench_sample(repeats: int = 5) -> dict:
  """Generated tokens/s on W1 at temperature 1.0 and greedy."""
  cfg = config_lib.model_config()
  model = build(cfg, seed=0)
  graphdef, params = nnx.split(model)
  sampler = Sampler(graphdef, eos_id=-1)  # an id no token has: EOS is never sampled
  rng = np.random.default_rng(0)
  prompts = [list(rng.integers(4, cfg.vocab_size, size=W1["prompt_len"])) for _ in range(W1["prompts"])]
  n_tokens = W1["prompts"] * W1["group_size"] * W1["new_tokens"]
  result = {"bench": "sample", "workload": "W1", "params": param_count(model),
            "sequences": W1["prompts"] * W1["group_size"], "new_tokens": W1["new_tokens"],
            "backend": jax.default_backend(), "devices": jax.device_count()}
  keys = iter(jax.random.split(jax.random.key(0), repeats + 1))
  for name, temperature in (("t1", 1.0), ("greedy", 0.0)):
    sp = SamplingParams(temperature=temperature, max_new_tokens=W1["new_tokens"])
    first, median = _time(lambda: sampler.generate(params, prompts, next(keys, jax.random.key(1)), sp,
                                                   group_size=W1["group_size"]).tokens, repeats)
    result[f"{name}_tok_per_s"] = round(n_tokens / median, 1)
    result[f"{name}_s"] = round(median, 4)
    result[f"{name}_compile_s"] = round(first - median, 3)
  result["traces"] = sampler.trace_count
  result["peak_rss_mb"] = round(_peak_rss_mb(), 1)
  return result


BENCHES = {"sample": bench_sample}
