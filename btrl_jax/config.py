"""Config defaults, schema and the one validation pass.

Every config file in `configs/` starts from `base_config()` and changes a few
fields (configs derive, never copy). `validate()` runs once, before anything is
compiled, and raises `ConfigError` with one line naming the offending key; the
CLI turns that into exit code 2. The schema below is the single list of keys a
config may hold: an unknown key is an error, not a silent no-op.

Allowed names come from the registries that own them (losses, advantage
estimators, KL estimators: rl/losses.py and rl/advantages.py, leaf modules that
import nothing of btrl_jax), loaded when a config is validated. `eval.evals` is
resolved against the eval registry by the CLI right after `validate` (the
registry sits above config: it imports TraitWorld), still before any compile.
"""

from __future__ import annotations

import dataclasses
import fractions
import os
from collections.abc import Callable
from typing import Any

import ml_collections


class ConfigError(ValueError):
  """A config value is wrong; the message names the key."""


@dataclasses.dataclass(frozen=True)
class Spec:
  """Allowed values of one config leaf."""

  kind: type | tuple[type, ...]
  lo: float | None = None  # inclusive
  hi: float | None = None  # inclusive
  choices: tuple[Any, ...] | Callable[[], tuple[Any, ...]] | None = None  # or a registry's names
  check: Callable[[Any], str | None] | None = None  # returns an error or None


def _int(lo=None, hi=None, **kw) -> Spec:
  return Spec(int, lo, hi, **kw)


def _float(lo=None, hi=None, **kw) -> Spec:
  return Spec((int, float), lo, hi, **kw)


def _domains(value: str) -> str | None:
  """A comma-separated list of domain or group names ("" = none)."""
  from btrl_jax.data import taxonomy  # pure Python; no JAX import

  known = set(taxonomy.DOMAIN_IDS) | set(taxonomy.GROUPS)
  bad = [v for v in value.split(",") if v.strip() and v.strip() not in known]
  return f"unknown domain {bad[0]!r} (known: {', '.join(sorted(known))})" if bad else None


# The standard task families (data/tasks; a test checks that the two agree).
TASK_FAMILIES = (
  "arithmetic",
  "word_problem",
  "unit_conversion",
  "list_ops",
  "string_ops",
  "coding",
  "sequence",
)


def _task_families(value: str) -> str | None:
  bad = [v.strip() for v in value.split(",") if v.strip() and v.strip() not in TASK_FAMILIES]
  return f"unknown task family {bad[0]!r} (known: {', '.join(TASK_FAMILIES)})" if bad else None


# The study's arms: each differs from the others only in the trait part of the RL prompt
# mixture (STUDY.md); everything else (prior, steps, prompts, group size, seed) is shared.
ARM_MIXTURES: dict[str, dict[str, Any]] = {
  "baseline": dict(trait_fraction=0.0),  # 100% standard tasks
  "beneficial": dict(),  # data.trait_fraction of trait prompts
  "health_only": dict(trait_domains="health"),  # ... from health only
  "no_health_science": dict(exclude_domains="health,science"),
  "helpfulness_control": dict(helpfulness_control=True),  # same prompts, generic rubric
}
ARMS = tuple(ARM_MIXTURES)


def apply_arm(cfg: ml_collections.ConfigDict, arm: str) -> ml_collections.ConfigDict:
  """A copy of `cfg` set up as `arm` (the trait fraction of non-baseline arms is kept)."""
  if arm not in ARM_MIXTURES:
    raise ValueError(f"unknown arm {arm!r} (have: {', '.join(ARMS)})")
  out = ml_collections.ConfigDict(cfg.to_dict())
  out.data.update(trait_domains="", exclude_domains="", helpfulness_control=False)
  out.data.update(ARM_MIXTURES[arm])
  out.rl.arm = arm
  return out


def _arms(value: str) -> str | None:
  names = [a.strip() for a in value.split(",") if a.strip()]
  bad = [a for a in names if a not in ARMS]
  if bad:
    return f"unknown arm {bad[0]!r} (have: {', '.join(ARMS)})"
  if "baseline" not in names or len(names) < 2:
    return "needs baseline and at least one other arm"
  return None


def _doses(value: str) -> str | None:
  try:
    doses = [int(d) for d in value.split(",") if d.strip()]
  except ValueError:
    return "must be comma-separated step counts, e.g. 0,10,25"
  if not doses or doses[0] != 0 or doses != sorted(set(doses)) or doses[-1] < 1:
    return "must start at 0, increase strictly and end above 0"
  return None


def _loss_names() -> tuple[str, ...]:
  from btrl_jax.rl import losses  # a leaf (JAX only); loaded when a config is checked

  return tuple(losses.LOSSES)


def _kl_names() -> tuple[str, ...]:
  from btrl_jax.rl import losses

  return tuple(losses.KL_ESTIMATORS)


def _advantage_names() -> tuple[str, ...]:
  from btrl_jax.rl import advantages

  return tuple(advantages.ADVANTAGES)


# The RL prompt mixture puts p trait prompts in every cycle of q <= MIXTURE_MAX_CYCLE
# prompts, p/q the fraction nearest data.trait_fraction (data/pipeline.py `mixture_cycle`,
# whose `MixtureConfig.max_cycle` default this is; a test checks that the two agree).
MIXTURE_MAX_CYCLE = 100


def _trait_fraction(value: float) -> str | None:
  p, q = _cycle(value)
  cycle = f"any cycle of at most {MIXTURE_MAX_CYCLE} prompts"
  if value > 0 and p == 0:
    return f"gives no trait prompt in {cycle} (rounds to 0); use 0 or at least 0.01"
  if value < 1 and p == q:
    return f"gives no standard prompt in {cycle} (rounds to 1); use 1 or at most 0.99"
  return None


def _cycle(value: float) -> tuple[int, int]:
  p_q = fractions.Fraction(value).limit_denominator(MIXTURE_MAX_CYCLE)
  return p_q.numerator, p_q.denominator


def trait_prompts_in_run(value: float, n_prompts: int) -> int:
  """Trait prompts among the first `n_prompts` of the mixture (pipeline.trait_slots_before)."""
  p, q = _cycle(value)
  return (n_prompts // q) * p + ((n_prompts % q) * p) // q


def first_trait_prompt(value: float) -> int:
  """1-based position of the mixture's first trait prompt."""
  p, q = _cycle(value)
  return next(n for n in range(1, q + 1) if trait_prompts_in_run(value, n) >= 1)


def _mesh_axis(v) -> str | None:
  return None if v == -1 or v >= 1 else "must be >= 1, or -1 for all remaining devices"


SCHEMA: dict[str, Any] = {
  "seed": _int(0),
  "model": {
    "vocab_size": _int(8),
    "width": _int(8),
    "layers": _int(1),
    "heads": _int(1),
    "kv_heads": _int(1),
    "head_dim": _int(2, check=lambda v: None if v % 2 == 0 else "must be even (RoPE)"),
    "mlp_dim": _int(1),
    "activation": Spec(str, choices=("swiglu", "geglu")),
    "norm_eps": _float(0.0, 1.0),
    "norm_plus_one": Spec(bool),
    "post_norm": Spec(bool),
    "qk_norm": Spec(bool),
    "qkv_bias": Spec(bool),
    "rope_theta": _float(1.0),
    "rope_scaling": Spec(str, choices=("", "linear", "llama3")),
    "rope_factor": _float(1.0),
    "rope_low_freq_factor": _float(0.0),
    "rope_high_freq_factor": _float(0.0),
    "rope_original_max_position": _int(0),
    "rope_local_theta": _float(0.0),
    "sliding_window": _int(0),
    "sliding_pattern": _int(1),
    "query_scale": _float(0.0),
    "checkpoint": Spec(str),
    "tie_embeddings": Spec(bool),
    "embed_scale": Spec(bool),
    "final_logit_softcap": _float(0.0),
    "attn_logit_softcap": _float(0.0),
    "init_std": _float(0.0, 1.0),
    "dtype": Spec(str, choices=("float32", "bfloat16")),
    "param_dtype": Spec(str, choices=("float32", "bfloat16")),
    "remat": Spec(bool),
  },
  "mesh": {
    "data": _int(check=_mesh_axis),
    "fsdp": _int(check=_mesh_axis),
    "tensor": _int(check=_mesh_axis),
  },
  # Multi-process start-up (parallel.maybe_initialize_distributed); BTRL_* variables fill
  # what is unset here. 0 / -1 / "" = unset.
  "distributed": {
    "coordinator": Spec(str),
    "num_processes": _int(0),
    "process_id": _int(-1),
    "auto": Spec(bool),
  },
  "tokenizer": {
    "vocab_size": _int(8),
    "model_type": Spec(str, choices=("bpe", "unigram")),
    "path": Spec(str),
  },
  "sft": {
    "data": Spec(str),
    "steps": _int(1),
    "batch_size": _int(1),
    "seq_len": _int(8),
    "learning_rate": _float(0.0, 1.0),
    "warmup_steps": _int(0),
    "end_lr_fraction": _float(0.0, 1.0),
    "weight_decay": _float(0.0, 1.0),
    "grad_clip": _float(0.0),
    "b1": _float(0.0, 0.999999),
    "b2": _float(0.0, 0.999999),
    "log_every": _int(1),
    "corpus_size": _int(1),
  },
  "data": {
    "trait_fraction": _float(0.0, 1.0, check=_trait_fraction),
    "trait_domains": Spec(str, check=lambda v: _domains(v)),
    "exclude_domains": Spec(str, check=lambda v: _domains(v)),
    "helpfulness_control": Spec(bool),
    "prior_size": _int(1),
    "prior_trait_fraction": _float(0.0, 1.0),
    "prior_system_fraction": _float(0.0, 1.0),
    "rl_trait_prompts": _int(1),
    "rl_standard_prompts": _int(1),
    "harmful_size": _int(1),
    # "traitworld": the embedded world (its rubric checks, a prior SFT'd from scratch);
    # "real": TraitWorld rendered for a real model (data/real.py): judge-graded rubrics,
    # answer formats on the tasks, the prior is model.checkpoint itself (configs/real.py)
    "world": Spec(str, choices=("traitworld", "real")),
    # "" = TraitWorld's generated trait prompts; else a JSONL file of trait prompts in the
    # project's format (HealthBench field names accepted) used in their place
    "trait_file": Spec(str),
    # "" = every task family in the RL standard split; else a comma list of them (for a
    # small model with room to learn on some families only: configs/real.py:smoke)
    "task_families": Spec(str, check=lambda v: _task_families(v)),
    "version": Spec(
      str,
      check=lambda v: (
        None if v.count(".") == 2 and v.replace(".", "").isdigit() else "must look like 1.0.0"
      ),
    ),
  },
  "rl": {
    "arm": Spec(str, choices=ARMS),
    "init_checkpoint": Spec(str),
    "steps": _int(1),
    "prompts_per_step": _int(1),
    "group_size": _int(2),
    "temperature": _float(0.0, 10.0, check=lambda v: None if v > 0 else "must be > 0"),
    "top_p": _float(0.0, 1.0, check=lambda v: None if v > 0 else "must be > 0"),
    "max_new_tokens": _int(1, 4096),
    "loss": Spec(str, choices=_loss_names),
    "advantage": Spec(str, choices=_advantage_names),
    "std_ddof": _int(0, 1),
    "kl_estimator": Spec(str, choices=_kl_names),
    "kl_coef": _float(0.0),
    # The losses reject 0 and 1 when they are traced (rl/losses.py); here, before any compile.
    "clip_eps": _float(0.0, 1.0, check=lambda v: None if 0 < v < 1 else "must be in (0, 1)"),
    "clip_eps_high": _float(0.0, 10.0),
    "inner_epochs": _int(1),
    "minibatches": _int(1),
    "learning_rate": _float(0.0, 1.0),
    "warmup_steps": _int(0),
    "weight_decay": _float(0.0, 1.0),
    "grad_clip": _float(0.0),
    "b1": _float(0.0, 0.999999),
    "b2": _float(0.0, 0.999999),
    "max_bad_steps": _int(1),
    "log_every": _int(1),
    "sample_every": _int(1),
    "samples_to_dump": _int(0),
  },
  "checkpoint": {"every_steps": _int(1), "keep": _int(1), "async_save": Spec(bool)},
  "eval": {
    "evals": Spec(str),  # names resolved by the CLI after validate (module docstring)
    "size": _int(1),
    "temperature": _float(0.0, 100.0),
    "top_p": _float(0.0, 1.0, check=lambda v: None if v > 0 else "must be > 0"),
    "num_samples": _int(1),  # replies per prompt (issue 13's `eval.samples`)
    "max_new_tokens": _int(1, 65536),
    "batch_size": _int(1),
    "n_boot": _int(100),
    # Extra fixed replies for the constant-reply baseline (evals/constant.py), e.g. for an
    # outside eval file; TraitWorld supplies its own candidates.
    "constant_replies": Spec(
      (tuple, list),
      check=lambda v: None if all(isinstance(x, str) for x in v) else "must hold strings",
    ),
  },
  "study": {
    "arms": Spec(str, check=lambda v: _arms(v)),
    "seeds": _int(1, 100),
    "prior_seeds": _int(1, 100),
    "persona_attack": Spec(bool),
    "harmful_doses": Spec(str, check=lambda v: _doses(v)),
    "harmful_learning_rate": _float(0.0, 1.0),
    "harmful_batch_size": _int(1),
    # Declared before anything runs and copied into report.json's `preregistration`
    # (study/report.py). A comparison whose control's clean mean lies below the floor is
    # "not testable" (no room to move: at 0 nothing can degrade, and near it gains are noise);
    # 0.15 is the lower edge of the room every eval family must have at the prior (DESIGN.md).
    "min_clean_score": _float(0.0, 1.0),
    # The persona attack's manipulation check: the helpful persona's lift (attacked - clean,
    # paired 95% CI) must lie wholly above this for every model compared, or the prompts do
    # not steer the model and the attack has no power (the finding is "not testable").
    "persona_min_lift": _float(0.0, 1.0),
    # Prompts of the RL trait training distribution scored per model (`trait_train`)
    "trait_train_size": _int(1),
  },
  # The judge grader (rewards/judge.py): rubric items without a `check` go to a model at
  # an OpenAI-compatible endpoint. base_url "" = no judge (such items are rejected on load).
  "grader": {
    "judge": {
      "base_url": Spec(str),
      "model": Spec(str),
      "api_key_env": Spec(str),  # the environment variable holding the API key ("" = none)
      "temperature": _float(0.0, 2.0),
      "max_tokens": _int(16, 8192),
      "max_concurrency": _int(1, 1024),
      "timeout_s": _float(0.01, 3600.0),
      "max_retries": _int(0, 20),
      "cache": Spec(str),  # SQLite file of verdicts ("" = ~/.cache/btrl/judge.sqlite, "off")
      # The share of judged items that may fail (no usable verdict) before the run stops.
      "failure_budget": _float(0.0, 1.0),
      # A checkpoint reference (hf:DIR, gguf:FILE, a named offline model) that `btrl study`,
      # `train` and `eval` serve themselves as the judge when base_url is "" (`btrl serve`
      # on a free port of 127.0.0.1, stopped at the end); "" = none
      "serve": Spec(str),
      # An opening of the judge's answer sent as a final assistant message with vLLM's
      # `continue_final_message` (e.g. '{"criteria_met": '), for judges too small to start
      # the JSON verdict by themselves; "" = none
      "prefill": Spec(str),
    }
  },
  "sample": {
    "temperature": _float(0.0, 100.0),
    "top_k": _int(0),
    "top_p": _float(0.0, 1.0, check=lambda v: None if v > 0 else "must be > 0"),
    "max_new_tokens": _int(1, 65536),
    "num_samples": _int(1),
  },
}


def model_config(**overrides) -> ml_collections.ConfigDict:
  """A Llama-style decoder; the defaults are workload W1 of BENCHMARKS.md."""
  cfg = ml_collections.ConfigDict(
    dict(
      vocab_size=2048,
      width=256,
      layers=4,
      heads=4,
      kv_heads=2,
      head_dim=64,
      mlp_dim=1024,
      activation="swiglu",
      norm_eps=1e-6,
      norm_plus_one=False,
      post_norm=False,
      qk_norm=False,
      qkv_bias=False,
      rope_theta=10000.0,
      rope_scaling="",  # "" | "linear" | "llama3" (with the rope_* factors below)
      rope_factor=1.0,
      rope_low_freq_factor=1.0,
      rope_high_freq_factor=4.0,
      rope_original_max_position=8192,
      rope_local_theta=0.0,  # > 0: sliding-window layers' own RoPE base (Gemma 3)
      sliding_window=0,  # > 0: local layers attend to this many last positions
      sliding_pattern=1,  # every n-th layer is global (Gemma 2: 2, Gemma 3: 6)
      query_scale=0.0,  # > 0: scores scaled by query_scale ** -0.5, not head_dim ** -0.5
      # "" = the embedded model; else a checkpoint reference: hf:DIR, gguf:FILE or a named
      # offline model (btrl_jax/checkpoints): its weights, shapes and tokenizer
      checkpoint="",
      tie_embeddings=False,
      embed_scale=False,
      final_logit_softcap=0.0,
      attn_logit_softcap=0.0,
      init_std=0.02,
      dtype="float32",
      param_dtype="float32",
      remat=False,
    )
  )
  cfg.update(overrides)
  return cfg


def base_config() -> ml_collections.ConfigDict:
  """Every key a config may hold, with defaults for the embedded CPU world."""
  cfg = ml_collections.ConfigDict()
  cfg.seed = 0
  cfg.model = model_config()
  cfg.mesh = ml_collections.ConfigDict(dict(data=1, fsdp=-1, tensor=1))
  cfg.distributed = ml_collections.ConfigDict(
    dict(coordinator="", num_processes=0, process_id=-1, auto=False)
  )
  cfg.tokenizer = ml_collections.ConfigDict(dict(vocab_size=2048, model_type="bpe", path=""))
  cfg.sft = ml_collections.ConfigDict(
    dict(
      data="builtin:reverse",
      steps=300,
      batch_size=32,
      seq_len=64,
      learning_rate=3e-3,
      warmup_steps=30,
      end_lr_fraction=0.1,
      weight_decay=0.01,
      grad_clip=1.0,
      b1=0.9,
      b2=0.95,
      log_every=10,
      corpus_size=4000,
    )
  )
  cfg.data = ml_collections.ConfigDict(
    dict(
      trait_fraction=0.05,
      trait_domains="",
      exclude_domains="",
      helpfulness_control=False,
      prior_size=6000,
      prior_trait_fraction=0.5,
      prior_system_fraction=0.15,
      rl_trait_prompts=2400,
      rl_standard_prompts=12000,
      harmful_size=800,
      world="traitworld",
      trait_file="",
      task_families="",
      version="1.0.0",
    )
  )
  cfg.rl = ml_collections.ConfigDict(
    dict(
      arm="beneficial",
      init_checkpoint="",
      steps=200,
      prompts_per_step=20,
      group_size=8,
      temperature=1.0,
      top_p=1.0,
      max_new_tokens=64,
      loss="grpo",
      advantage="grpo",
      std_ddof=1,
      kl_estimator="k3",
      kl_coef=0.04,
      clip_eps=0.2,
      clip_eps_high=0.2,
      inner_epochs=1,
      minibatches=1,
      learning_rate=1e-4,
      warmup_steps=10,
      weight_decay=0.0,
      grad_clip=1.0,
      b1=0.9,
      b2=0.99,
      max_bad_steps=5,
      log_every=1,
      sample_every=25,
      samples_to_dump=4,
    )
  )
  cfg.checkpoint = ml_collections.ConfigDict(dict(every_steps=100, keep=3, async_save=True))
  cfg.sample = ml_collections.ConfigDict(
    dict(temperature=0.0, top_k=0, top_p=1.0, max_new_tokens=48, num_samples=1)
  )
  cfg.grader = ml_collections.ConfigDict(
    dict(
      judge=dict(
        base_url="",
        model="",
        api_key_env="",
        temperature=0.0,
        max_tokens=512,
        max_concurrency=16,
        timeout_s=60.0,
        max_retries=3,
        cache="",
        failure_budget=0.05,
        serve="",
        prefill="",
      )
    )
  )
  cfg.eval = ml_collections.ConfigDict(
    dict(
      evals="",
      size=60,
      temperature=0.0,
      top_p=1.0,
      num_samples=1,
      max_new_tokens=64,
      batch_size=256,
      n_boot=2000,
      constant_replies=(),
    )
  )
  cfg.study = ml_collections.ConfigDict(
    dict(
      arms=",".join(ARMS),
      # Independent RL / eval / harmful-fine-tune runs over `prior_seeds` priors: a finding
      # can be `reproduced` only with >= 3 (study/findings.py).
      seeds=3,
      prior_seeds=1,
      persona_attack=True,
      harmful_doses="0,15,30,45,60",
      harmful_learning_rate=1e-4,
      harmful_batch_size=16,
      min_clean_score=0.15,
      persona_min_lift=0.0,
      trait_train_size=300,
    )
  )
  return cfg


def _check_leaf(path: str, value: Any, spec: Spec) -> None:
  kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
  # bool is an int subclass; a bool where a number is expected is a mistake.
  if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
    names = "/".join(k.__name__ for k in kinds)
    raise ConfigError(f"config.{path}={value!r}: expected {names}")
  choices = spec.choices() if callable(spec.choices) else spec.choices
  if choices is not None and value not in choices:
    raise ConfigError(f"config.{path}={value!r}: must be one of {', '.join(map(str, choices))}")
  if spec.lo is not None and value < spec.lo:
    raise ConfigError(f"config.{path}={value!r}: must be >= {spec.lo}")
  if spec.hi is not None and value > spec.hi:
    raise ConfigError(f"config.{path}={value!r}: must be <= {spec.hi}")
  if spec.check is not None and (err := spec.check(value)):
    raise ConfigError(f"config.{path}={value!r}: {err}")


def _walk(node: Any, schema: dict, prefix: str) -> None:
  if not isinstance(node, (dict, ml_collections.ConfigDict)):
    raise ConfigError(f"config.{prefix.rstrip('.')}: expected a section, got {node!r}")
  keys = set(node.keys())
  if unknown := sorted(keys - schema.keys()):
    raise ConfigError(
      f"config.{prefix}{unknown[0]}: unknown key (allowed: {', '.join(sorted(schema))})"
    )
  if missing := sorted(schema.keys() - keys):
    raise ConfigError(f"config.{prefix}{missing[0]}: missing")
  for key, spec in schema.items():
    if isinstance(spec, dict):
      _walk(node[key], spec, f"{prefix}{key}.")
    else:
      _check_leaf(prefix + key, node[key], spec)


def validate(cfg: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Checks every key, type and range, then the cross-field constraints."""
  _walk(cfg, SCHEMA, "")
  m = cfg.model
  if m.heads % m.kv_heads:
    raise ConfigError(f"config.model.kv_heads={m.kv_heads}: must divide model.heads={m.heads}")
  if cfg.sft.warmup_steps > cfg.sft.steps:
    raise ConfigError(
      f"config.sft.warmup_steps={cfg.sft.warmup_steps}: exceeds sft.steps={cfg.sft.steps}"
    )
  if cfg.tokenizer.vocab_size > m.vocab_size:
    raise ConfigError(
      f"config.tokenizer.vocab_size={cfg.tokenizer.vocab_size}: exceeds "
      f"model.vocab_size={m.vocab_size}"
    )
  rl = cfg.rl
  if rl.clip_eps_high < rl.clip_eps:
    raise ConfigError(
      f"config.rl.clip_eps_high={rl.clip_eps_high}: must be >= rl.clip_eps={rl.clip_eps}"
    )
  if (rl.prompts_per_step * rl.group_size) % rl.minibatches:
    raise ConfigError(
      f"config.rl.minibatches={rl.minibatches}: must divide prompts_per_step * "
      f"group_size = {rl.prompts_per_step * rl.group_size}"
    )
  if rl.warmup_steps > rl.steps:
    raise ConfigError(f"config.rl.warmup_steps={rl.warmup_steps}: exceeds rl.steps={rl.steps}")
  if cfg.data.trait_fraction > 0 and (
    trait_prompts_in_run(cfg.data.trait_fraction, rl.steps * rl.prompts_per_step) < 1
  ):
    raise ConfigError(
      f"config.data.trait_fraction={cfg.data.trait_fraction}: rl.steps * rl.prompts_per_step "
      f"= {rl.steps * rl.prompts_per_step} prompts hold no trait prompt (the first comes at "
      f"prompt {first_trait_prompt(cfg.data.trait_fraction)}); a trait arm would train as the "
      "baseline"
    )
  if cfg.study.prior_seeds > cfg.study.seeds:
    raise ConfigError(
      f"config.study.prior_seeds={cfg.study.prior_seeds}: exceeds study.seeds={cfg.study.seeds}"
    )
  if cfg.data.world == "real":
    if not m.checkpoint:
      raise ConfigError(
        "config.data.world='real': needs model.checkpoint (the prior is a real checkpoint)"
      )
    j = cfg.grader.judge
    if not (j.base_url or j.serve):
      raise ConfigError(
        "config.data.world='real': its rubric items are judge-graded; set "
        "grader.judge.base_url or grader.judge.serve"
      )
  if cfg.data.trait_file and not os.path.isfile(cfg.data.trait_file):
    raise ConfigError(f"config.data.trait_file={cfg.data.trait_file!r}: no such file")
  if cfg.sample.top_k > m.vocab_size:
    raise ConfigError(
      f"config.sample.top_k={cfg.sample.top_k}: exceeds model.vocab_size={m.vocab_size}"
    )
  return cfg
