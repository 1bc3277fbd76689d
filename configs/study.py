"""The embedded study on TraitWorld (data, prior, arms; later issues add evals and the report).

    btrl data --config=configs/study.py --workdir=W     # datasets + tokenizer (~10 s)
    btrl sft  --config=configs/study.py --workdir=W     # the prior: SFT on the persona corpus

`:smoke` is a minutes-scale variant with small datasets and few steps, for tests
and notebooks. Arms change only `data.*` fields (configs/rl.py, a later issue).
"""

from btrl_jax import config


def get_config(arg: str | None = None):
  cfg = config.base_config()
  cfg.model.update(vocab_size=2048, width=128, layers=4, heads=4, kv_heads=2, head_dim=32,
                   mlp_dim=512)
  cfg.tokenizer.vocab_size = 2048
  cfg.sft.update(data="prior", steps=500, batch_size=32, seq_len=192, learning_rate=3e-3,
                 warmup_steps=40, log_every=20)
  cfg.checkpoint.every_steps = 200
  if arg == "smoke":
    cfg.data.update(prior_size=600, rl_trait_prompts=240, rl_standard_prompts=1200,
                    eval_per_trait=8, eval_per_task_family=8, harmful_size=80)
    cfg.tokenizer.vocab_size = cfg.model.vocab_size = 1024
    cfg.model.update(width=64, layers=2, head_dim=16, mlp_dim=256)
    cfg.sft.update(steps=40, warmup_steps=4, log_every=10)
    cfg.checkpoint.every_steps = 20
  elif arg:
    raise ValueError(f"unknown variant {arg!r} (have: smoke)")
  return cfg
