"""The shipped configs' values, importable from an installed package.

`configs/study.py` and `configs/rl.py` are thin files over `study()`, so tools
inside the package (`btrl bench memory`, capacity.py) read the embedded study's
shapes without a checkout's `configs/` directory, and the two can never differ.
"""

from __future__ import annotations

import ml_collections

from btrl_jax import config

STUDY_VARIANTS = ("quick", "smoke")


def study(variant: str | None = None) -> ml_collections.ConfigDict:
  """The embedded TraitWorld study (configs/study.py): 3 seeds over one prior.

  `quick`: the study on one seed without the no_health_science arm (its findings can be
  at most `direction_only`; the no_health_science comparison is absent);
  `smoke`: a ~2-minute toy-scale run of the pipeline whose numbers mean nothing.
  """
  cfg = config.base_config()
  cfg.model.update(
    vocab_size=2048, width=128, layers=4, heads=4, kv_heads=2, head_dim=32, mlp_dim=512
  )
  cfg.tokenizer.vocab_size = 2048
  # A 5M-parameter model: every device holds it whole and takes its share of each batch
  # (on a CPU host, one device per core: parallel.configure_cpu_devices).
  cfg.mesh.update(data=-1, fsdp=1, tensor=1)
  # TraitWorld 2's prior sees 18 constructs besides the 15 traits: a larger scenario share
  # and 800 steps (the construct prior templates' key moves appear in ~40% of its replies at
  # 800 steps, a few % at 600; docs/LOG.md)
  cfg.data.prior_trait_fraction = 0.7
  cfg.sft.update(
    data="prior",
    steps=800,
    batch_size=32,
    seq_len=192,
    learning_rate=4e-3,
    warmup_steps=40,
    log_every=20,
  )
  cfg.rl.update(
    steps=25,
    prompts_per_step=20,
    group_size=8,
    max_new_tokens=64,
    learning_rate=5e-4,
    warmup_steps=4,
    sample_every=10,
  )
  cfg.checkpoint.every_steps = 20
  # 4 replies per prompt at T=1, paired across models by (prompt, sample) with common random
  # numbers (evals/evaluator.py): greedy picks one modal reply per prompt, which makes evals
  # move together. Costs ~2.5x the greedy eval, persona and harmful-eval time (~+5 min).
  # 20 prompts per eval per seed: 60 per eval pooled over the 3 seeds (the 1-seed study of
  # issue 12 had 50), and three seeds inside the 25-minute budget of this 2-core CPU.
  cfg.eval.update(
    size=20, max_new_tokens=64, batch_size=256, n_boot=2000, num_samples=4, temperature=1.0
  )
  # RL, eval and harmful fine-tune seeds 0, 1, 2 over one prior (data and SFT of seed 0).
  cfg.study.update(seeds=3, prior_seeds=1, harmful_doses="0,20,40,60")
  if variant == "quick":  # one seed, four arms: inside 10 minutes here
    cfg.study.update(seeds=1, arms="baseline,beneficial,health_only,helpfulness_control")
  elif variant == "smoke":
    cfg.data.update(
      prior_size=600,
      rl_trait_prompts=240,
      rl_standard_prompts=1200,
      harmful_size=80,
    )
    cfg.tokenizer.vocab_size = cfg.model.vocab_size = 1024
    cfg.model.update(width=64, layers=2, head_dim=16, mlp_dim=256)
    cfg.sft.update(steps=40, warmup_steps=4, log_every=10)
    cfg.rl.update(  # 24 prompts: the 5% mixture's first trait prompt is the 20th
      steps=3,
      warmup_steps=1,
      prompts_per_step=8,
      group_size=4,
      max_new_tokens=24,
      log_every=1,
      sample_every=1,
    )
    cfg.checkpoint.every_steps = 20
    # Greedy, one reply per prompt: the smoke study checks the pipeline, not the statistics.
    cfg.eval.update(
      size=6, max_new_tokens=24, batch_size=512, n_boot=200, num_samples=1, temperature=0.0
    )
    cfg.study.update(seeds=1, harmful_doses="0,2,4")
  elif variant:
    raise ValueError(f"unknown variant {variant!r} (have: {', '.join(STUDY_VARIANTS)})")
  return cfg
