"""The embedded study on TraitWorld: `btrl study --config=configs/study.py[:smoke] --workdir=W`.

    btrl study --config=configs/study.py --workdir=W    # everything, report in W/report.md
    btrl data  --config=configs/study.py --workdir=W    # or stage by stage: datasets + tokenizer
    btrl sft   --config=configs/study.py --workdir=W    # the prior (persona-mixture corpus)
    btrl train --config=configs/rl.py:ARM --workdir=W   # one arm (configs/rl.py reads this file)

`:smoke` is a ~2-minute variant (tiny model, datasets, steps and evals) for tests
and notebooks; its numbers mean nothing. Arms change only `data.*` fields.
"""

from btrl_jax import config


def get_config(arg: str | None = None):
  cfg = config.base_config()
  cfg.model.update(
    vocab_size=2048, width=128, layers=4, heads=4, kv_heads=2, head_dim=32, mlp_dim=512
  )
  cfg.tokenizer.vocab_size = 2048
  cfg.sft.update(
    data="prior",
    steps=600,
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
  cfg.eval.update(size=50, max_new_tokens=64, batch_size=256, n_boot=2000)
  cfg.study.update(harmful_doses="0,15,30,45,60")
  if arg == "smoke":
    cfg.data.update(
      prior_size=600,
      rl_trait_prompts=240,
      rl_standard_prompts=1200,
      eval_per_trait=8,
      eval_per_task_family=8,
      harmful_size=80,
    )
    cfg.tokenizer.vocab_size = cfg.model.vocab_size = 1024
    cfg.model.update(width=64, layers=2, head_dim=16, mlp_dim=256)
    cfg.sft.update(steps=40, warmup_steps=4, log_every=10)
    cfg.rl.update(
      steps=3,
      warmup_steps=1,
      prompts_per_step=4,
      group_size=4,
      max_new_tokens=24,
      log_every=1,
      sample_every=1,
    )
    cfg.checkpoint.every_steps = 20
    cfg.eval.update(size=6, max_new_tokens=24, batch_size=512, n_boot=200)
    cfg.study.update(harmful_doses="0,2,4")
  elif arg:
    raise ValueError(f"unknown variant {arg!r} (have: smoke)")
  return cfg
