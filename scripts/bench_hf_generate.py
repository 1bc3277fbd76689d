"""Hugging Face `generate` on workload W2, for `btrl bench sample --workload=W2` to be read
against (run in the same sitting, nothing else running). Never run by the tests; torch and
transformers live in a throwaway venv (see scripts/make_golden.py):

  /tmp/ref/bin/python scripts/bench_hf_generate.py PATH/SmolLM2-135M-Instruct.Q4_1.gguf

W2: SmolLM2-135M-Instruct, float32, the same 8 chat prompts as `btrl bench sample
--workload=W2` (btrl_jax/workloads.py, which imports nothing) through the chat
template, 8 samples each (64 sequences, one batch), exactly 64
new tokens at T=1 (EOS suppressed with min_new_tokens), median of `REPEATS` timed calls
after one warm-up, for the dynamic and the static cache. Prints one JSON line.
"""

import json
import os
import statistics
import sys
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from btrl_jax.workloads import W2_NEW_TOKENS, W2_PROMPTS, W2_SAMPLES  # noqa: E402 - no deps

REPEATS = 3


def main(path):
  d, f = os.path.split(os.path.abspath(path))
  t0 = time.perf_counter()
  tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
  model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32).eval()
  load_s = time.perf_counter() - t0
  tok.padding_side = "left"
  texts = [
    tok.apply_chat_template(
      [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
    )
    for p in W2_PROMPTS
    for _ in range(W2_SAMPLES)
  ]
  batch = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
  out = {
    "bench": "hf_generate",
    "workload": "W2",
    "torch_threads": torch.get_num_threads(),
    "load_s": round(load_s, 2),
  }
  for cache in ("dynamic", "static"):

    def run():
      with torch.no_grad():
        g = model.generate(
          **batch,
          do_sample=True,
          temperature=1.0,
          top_k=0,
          top_p=1.0,
          max_new_tokens=W2_NEW_TOKENS,
          min_new_tokens=W2_NEW_TOKENS,
          cache_implementation=cache,
          pad_token_id=tok.pad_token_id,
        )
      assert g.shape[1] - batch["input_ids"].shape[1] == W2_NEW_TOKENS

    run()
    times = []
    for _ in range(REPEATS):
      t0 = time.perf_counter()
      run()
      times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    out[f"{cache}_tok_per_s"] = round(len(texts) * W2_NEW_TOKENS / med, 1)
    out[f"{cache}_s"] = round(med, 2)
  print(json.dumps(out))


if __name__ == "__main__":
  main(sys.argv[1])
