"""One RL arm of the embedded study: `--config=configs/rl.py:ARM[,smoke]`.

    btrl train --config=configs/rl.py:beneficial --workdir=W   # after btrl data + btrl sft

ARM is one of baseline, beneficial, health_only, no_health_science,
helpfulness_control. Arms share the study config (same prior, steps, prompts
per step, group size, generation length, seed: compute-matched) and differ only
in the trait part of the prompt mixture:
  baseline             100% standard tasks
  beneficial           5% trait prompts (all domains) replace standard prompts
  health_only          5% trait prompts from health and mental health only
  no_health_science    5% trait prompts without health, mental health and science
  helpfulness_control  the beneficial arm's prompts, graded by a generic
                       helpfulness rubric instead of the trait rubrics
`smoke` (e.g. `:beneficial,smoke`) uses the smoke study's sizes.
"""

from btrl_jax import config, presets


def get_config(arg: str | None = None):
  parts = (arg or "beneficial").split(",")
  arm, variant = parts[0], (parts[1] if len(parts) > 1 else None)
  return config.apply_arm(presets.study(variant), arm)
