"""The shipped configs' values, importable from an installed package.

`configs/study.py` and `configs/rl.py` are thin files over `study()`, so tools
inside the package (`btrl bench memory`, capacity.py) read the embedded study's
shapes without a checkout's `configs/` directory, and the two can never differ.
"""

from __future__ import annotations

import ml_collections

from btrl_jax import config

STUDY_VARIANTS = ("quick", "smoke")
REAL_VARIANTS = ("smoke", "qwen3_1p7b")


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


# The smoke study's evals besides the trait and capability ones (study/run.py `study_evals`):
# health and mental health (persona and harmful-fine-tune in-domain), misalignment
# (harmful-fine-tune out-of-domain), and two task evals (reward hacking, impossible).
REAL_SMOKE_EVALS = (
  "healthbench,mental_health,misalignment_research,reward_hacking_word_problem,impossible_tasks"
)


def real(variant: str | None = None) -> ml_collections.ConfigDict:
  """The study on a real pretrained model (configs/real.py; docs/real_models.md).

  The prior is `model.checkpoint` (no SFT prior stage); TraitWorld is rendered for it
  (`data.world="real"`, data/real.py): rubric items graded by the judge, tasks with their
  answer format; persona attacks through the model's chat template; the harmful fine-tune
  is SFT with that template and an assistant-only loss.

  default: SmolLM2-135M-Instruct (the named offline model) with every arm and 3 seeds,
    judged by SmolLM2 served by the study unless `grader.judge.base_url` names a judge (a
    vLLM or other OpenAI-compatible endpoint; base_url wins over serve)
  `smoke`: SmolLM2-135M-Instruct on this CPU in about 30 minutes, judged by SmolLM2 itself
    served by the study (`grader.judge.serve`, with the verdict's opening prefilled): a
    plumbing run whose findings mean nothing (a 135M judge grades little better than chance)
  `qwen3_1p7b`: Qwen3-1.7B on a TPU v5e-8 slice or one GPU (docs/real_models.md), bfloat16,
    FSDP over every device; set model.checkpoint to its directory and grader.judge.base_url
  """
  cfg = config.base_config()
  cfg.model.checkpoint = "smollm2-135m-instruct"
  cfg.data.update(world="real", rl_trait_prompts=2400, rl_standard_prompts=12000, harmful_size=400)
  # One model copy per device, each device a share of every batch (135M float32 fits twice
  # over on any host); on accelerators the qwen3 variant shards it.
  cfg.mesh.update(data=-1, fsdp=1, tensor=1)
  # The harmful fine-tune's SFT settings (harmful.py reads sft.*): chat-template lengths
  cfg.sft.update(seq_len=512, batch_size=8)
  cfg.rl.update(
    steps=200,
    prompts_per_step=16,
    group_size=8,
    max_new_tokens=128,
    temperature=0.7,  # a 135M model's T=1 samples are mostly noise
    learning_rate=2e-6,
    warmup_steps=10,
    kl_coef=0.04,
    sample_every=10,
  )
  cfg.checkpoint.every_steps = 50
  cfg.eval.update(size=20, max_new_tokens=192, batch_size=64, num_samples=1, temperature=0.0)
  cfg.study.update(
    seeds=3, harmful_doses="0,10,20,40", harmful_learning_rate=1e-5, trait_train_size=100
  )
  # SmolLM2 judges itself unless base_url names a judge (base_url wins over serve): it
  # cannot start the JSON verdict on its own, so the answer's opening is prefilled and it
  # gives the value (rewards/judge.py `prefill`). A 135M judge grades little better than
  # chance: set base_url (and clear prefill) for a study whose findings mean something.
  cfg.grader.judge.update(
    serve="smollm2-135m-instruct",
    prefill='{"criteria_met": ',
    max_tokens=16,
    max_concurrency=16,
    failure_budget=0.05,
  )
  if variant == "smoke":
    # SmolLM2-135M's reward at T=0.7 on the rendered tasks is ~1% on every family but word
    # problems (15%, by their flawed training verifier: any number in the reply counts;
    # docs/LOG.md 2026-12-03): the smoke's standard prompts are word problems, the one
    # family with room for its RL to move (the honest word-problem and reward-hacking evals
    # tell learning from gaming). The default keeps every family.
    cfg.data.update(
      rl_trait_prompts=60, rl_standard_prompts=400, harmful_size=40, task_families="word_problem"
    )
    cfg.rl.update(
      steps=8,  # 64 prompts: the 5% mixture's trait prompts are the 20th, 40th and 60th
      prompts_per_step=8,
      group_size=4,
      max_new_tokens=64,
      learning_rate=2e-5,
      warmup_steps=1,
      sample_every=4,
      samples_to_dump=2,
    )
    cfg.checkpoint.every_steps = 4
    # Every rubric item costs a judge call (~0.7 s each here, SmolLM2 judging on the same two
    # cores): 2 prompts per eval, replies of at most 48 tokens, 4 trait-train prompts.
    cfg.eval.update(evals=REAL_SMOKE_EVALS, size=2, max_new_tokens=48, batch_size=64, n_boot=200)
    cfg.study.update(
      arms="baseline,beneficial",
      seeds=1,
      harmful_doses="0,4",
      harmful_batch_size=4,
      trait_train_size=4,
    )
    cfg.sft.update(batch_size=4)
    cfg.grader.judge.failure_budget = 0.2
  elif variant == "qwen3_1p7b":
    # Qwen3-1.7B's config.json as hf_dir.py reads it (1,720,574,976 parameters). A run
    # takes the checkpoint's own; these let `btrl bench memory` plan it where it is absent.
    cfg.model.update(
      vocab_size=151936,
      width=2048,
      layers=28,
      heads=16,
      kv_heads=8,
      head_dim=128,
      mlp_dim=6144,
      qk_norm=True,
      rope_theta=1000000.0,
      tie_embeddings=True,
      norm_eps=1e-6,
      checkpoint="hf:Qwen3-1.7B",
      dtype="bfloat16",
      param_dtype="bfloat16",
      remat=True,
    )
    cfg.mesh.update(data=1, fsdp=-1, tensor=1)
    cfg.rl.update(prompts_per_step=32, group_size=8, max_new_tokens=256, learning_rate=1e-6)
    cfg.eval.update(max_new_tokens=384, batch_size=256)
    cfg.sft.update(seq_len=512, batch_size=16)
    # A vLLM server on the same host (docs/real_models.md), its default port
    cfg.grader.judge.update(
      serve="",
      prefill="",
      base_url="http://127.0.0.1:8000/v1",
      model="Qwen/Qwen3-32B",
      max_tokens=512,
      max_concurrency=64,
    )
  elif variant:
    raise ValueError(f"unknown variant {variant!r} (have: {', '.join(REAL_VARIANTS)})")
  return cfg
