"""Calibrate the harmful fine-tune ladder on a finished study (docs/LOG.md, 2026-11-29).

  python scripts/harmful_ladder.py WORKDIR LR[,LR..] MODEL [MODEL ..]   (DOSES=0,15,30,45,60)

For each model (`prior` or an arm) and learning rate, runs the study's harmful SFT
ladder and prints the mean greedy score on 3 health and 3 out-of-domain evals
(50 prompts each) at every dose: in-domain / out-of-domain.
"""

import os
import sys
import time

import jax
import numpy as np

from btrl_jax.data.tfds_builders import read_dataset
from btrl_jax.evals import evaluator
from btrl_jax.policy import load_policy
from btrl_jax.study import harmful

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from configs.study import get_config  # noqa: E402

IN_DOMAIN = ("healthbench", "health_alignment", "mental_health")
OUT_OF_DOMAIN = ("misalignment_research", "alignment_questions_research", "model_spec_research")


def main(workdir: str, rates: str, *models: str) -> None:
  cfg = get_config()
  suite = evaluator.load_suite(cfg, IN_DOMAIN + OUT_OF_DOMAIN)
  examples = list(read_dataset("btrl_harmful", "train", os.path.join(workdir, "data")))
  for model in models:
    run = "sft" if model == "prior" else os.path.join("arms", model)
    policy = load_policy(os.path.join(workdir, run, "checkpoints"))
    for lr in (float(x) for x in rates.split(",")):
      cfg.study.harmful_learning_rate = lr
      cfg.study.harmful_doses = os.environ.get("DOSES", "0,5,15,30,60")
      ladder = harmful.HarmfulFinetune(cfg, examples, policy.tokenizer)
      t, cells = time.time(), []
      for dose, params in ladder.ladder(policy.params):
        records = evaluator.evaluate(
          policy.with_params(params, 0), suite, cfg.eval, jax.random.key(0), progress=False
        )
        s = evaluator.summary(records)
        mean = lambda names: np.mean([s[n]["mean"] for n in names])
        cells.append(f"d{dose}: {mean(IN_DOMAIN):.3f}/{mean(OUT_OF_DOMAIN):.3f}")
      print(model, lr, " | ".join(cells), f"{time.time() - t:.0f}s", flush=True)


if __name__ == "__main__":
  main(*sys.argv[1:])
