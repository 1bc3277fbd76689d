"""TRL's GRPOTrainer on workload W2 GRPO, for `btrl bench grpo --workload=W2` to be read
against (same sitting, nothing else running). Never run by the tests; torch, transformers
and trl live in a throwaway venv (python3 -m venv /tmp/ref && /tmp/ref/bin/pip install
torch transformers gguf accelerate trl datasets):

  btrl export --checkpoint=smollm2-135m-instruct --out=/tmp/smollm2_hf
  /tmp/ref/bin/python scripts/bench_trl_grpo.py /tmp/smollm2_hf [STEPS]

(transformers marks a model read from a GGUF file as quantized and refuses to train it, so
TRL reads btrl's float32 export of the same weights.)

W2 GRPO: SmolLM2-135M-Instruct (float32), the 8 chat
prompts of btrl_jax/workloads.py through the chat template, 8 generations each (one batch
of 64), exactly 64 new tokens at T=1 (EOS suppressed with min_new_tokens), beta 0.04 (a
reference model, so reference log-probs), one AdamW update per step over the 64
sequences, gradient checkpointing off, on the CPU. The reward is a cheap function of the
completion (the grader is not what is timed). Prints one JSON line: the median seconds
per step over the steps after the first, and peak RSS.
"""

import json
import os
import resource
import statistics
import sys
import time

import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import GRPOConfig, GRPOTrainer

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from btrl_jax.workloads import W2_NEW_TOKENS, W2_PROMPTS, W2_SAMPLES  # noqa: E402 - no deps


class StepTimes(TrainerCallback):
  def __init__(self):
    self.marks = []

  def on_step_begin(self, args, state, control, **kw):
    self.marks.append(("begin", time.perf_counter()))

  def on_step_end(self, args, state, control, **kw):
    self.marks.append(("end", time.perf_counter()))


def main(path, steps):
  torch.manual_seed(0)
  tok = AutoTokenizer.from_pretrained(path)
  model = AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32)
  data = Dataset.from_list([{"prompt": [{"role": "user", "content": p}]} for p in W2_PROMPTS])

  def reward(completions, **kw):  # cheap and varied: the share of letters 'e'
    texts = [c[0]["content"] if isinstance(c, list) else c for c in completions]
    return [t.count("e") / max(len(t), 1) for t in texts]

  cfg = GRPOConfig(
    output_dir="/tmp/trl_grpo_bench",
    per_device_train_batch_size=len(W2_PROMPTS) * W2_SAMPLES,
    num_generations=W2_SAMPLES,
    max_completion_length=W2_NEW_TOKENS,
    generation_kwargs={"min_new_tokens": W2_NEW_TOKENS},
    temperature=1.0,
    beta=0.04,
    learning_rate=1e-6,
    max_steps=steps,
    gradient_checkpointing=False,
    use_cpu=True,
    bf16=False,
    logging_steps=1,
    report_to=[],
    save_strategy="no",
    seed=0,
  )
  times = StepTimes()
  trainer = GRPOTrainer(
    model=model,
    reward_funcs=reward,
    args=cfg,
    train_dataset=data,
    processing_class=tok,
    callbacks=[times],
  )
  trainer.train()
  begins = [t for k, t in times.marks if k == "begin"]
  ends = [t for k, t in times.marks if k == "end"]
  per_step = [e - b for b, e in zip(begins, ends)]
  rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  print(
    json.dumps(
      {
        "bench": "trl_grpo",
        "workload": "W2",
        "torch_threads": torch.get_num_threads(),
        "steps": per_step,
        "step_s": round(statistics.median(per_step[1:] or per_step), 2),
        "peak_rss_mb": round(rss, 1),
      }
    )
  )


if __name__ == "__main__":
  main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3)
