"""Config validation and the CLI's exit-code contract (2 = bad usage/config/input, one line)."""

import importlib.util
import json
import os

import pytest
from btrl_run import btrl as run_btrl

from btrl_jax import config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def btrl(*args, timeout=120):
  return run_btrl(*args, timeout=timeout)


def test_base_and_shipped_configs_validate():
  config.validate(config.base_config())
  spec = importlib.util.spec_from_file_location("sft_cfg", os.path.join(ROOT, "configs/sft.py"))
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  cfg = mod.get_config(None)
  assert config.validate(cfg) is cfg


@pytest.mark.parametrize(
  "override,key",
  [
    ("--config.model.heads=3", "model.kv_heads"),  # heads not divisible by kv heads
    ("--config.model.width=0", "model.width"),  # out of range
    ("--config.model.activation=relu", "model.activation"),  # not an allowed value
    ("--config.sft.learning_rate=-1.0", "sft.learning_rate"),
    ("--config.sample.top_p=0.0", "sample.top_p"),
    ("--config.model.head_dim=7", "model.head_dim"),  # RoPE needs an even head dim
    ("--config.sft.warmup_steps=100000", "sft.warmup_steps"),
    ("--config.model.width=abc", "config.model.width"),  # wrong type
    ("--config.model.nope=1", "config.model.nope"),  # unknown key
    ("--config.tokenizer.vocab_size=100000", "tokenizer.vocab_size"),
    ("--config.mesh.data=0", "mesh.data"),
    ("--config.rl.clip_eps=0.0", "config.rl.clip_eps=0.0"),  # the losses need 0 < it < 1
    ("--config.rl.clip_eps=1.0", "config.rl.clip_eps=1.0"),
    ("--config.data.trait_fraction=0.001", "data.trait_fraction"),  # no trait prompt per cycle
    ("--config.data.trait_fraction=0.999", "data.trait_fraction"),  # no standard prompt
    ("--config.rl.loss=ppo", "rl.loss"),
    ("--config.study.prior_seeds=4", "study.prior_seeds"),  # more priors than the 3 seeds
    ("--config.eval.evals=nope", "eval.evals"),  # the eval registry, checked by the CLI
  ],
)
def test_bad_config_exits_2_naming_the_key(override, key, tmp_path):
  r = btrl("sft", "--config=configs/sft.py", override, f"--workdir={tmp_path}")
  assert r.returncode == 2, r.stderr
  lines = r.stderr.strip().splitlines()
  assert len(lines) == 1 and key in lines[0] and "Traceback" not in r.stderr, r.stderr
  assert not os.listdir(tmp_path)  # rejected before anything was written or compiled


def test_allowed_names_come_from_the_registries(monkeypatch):
  """A loss or advantage estimator registered by name is a valid config value, no list to edit."""
  from btrl_jax.rl import advantages, losses

  monkeypatch.setitem(losses.LOSSES, "my_loss", losses.grpo_loss)
  monkeypatch.setitem(advantages.ADVANTAGES, "my_adv", advantages.grpo_advantages)
  for key, names in (
    ("loss", losses.LOSSES),
    ("advantage", advantages.ADVANTAGES),
    ("kl_estimator", losses.KL_ESTIMATORS),
  ):
    for name in names:
      cfg = config.base_config()
      cfg.rl[key] = name
      config.validate(cfg)
    cfg = config.base_config()
    cfg.rl[key] = "nope"
    with pytest.raises(config.ConfigError, match=f"config.rl.{key}='nope': must be one of"):
      config.validate(cfg)


def test_trait_fraction_check_agrees_with_the_mixture():
  """validate accepts a trait fraction exactly when the RL mixture can lay out its cycle."""
  from btrl_jax.data import pipeline

  max_cycle = pipeline.MixtureConfig().max_cycle
  assert config.MIXTURE_MAX_CYCLE == max_cycle
  for i in range(0, 4001):
    fraction = i / 4000
    cfg = config.base_config()
    cfg.data.trait_fraction = fraction
    try:
      pipeline.mixture_cycle(fraction, max_cycle)
      laid_out = True
    except ValueError:
      laid_out = False
    try:
      config.validate(cfg)
      accepted = True
    except config.ConfigError:
      accepted = False
    assert accepted == laid_out, fraction


@pytest.mark.parametrize(
  "args,needle",
  [
    (("frobnicate",), "usage"),
    (("sft", "--config=configs/missing.py", "--workdir=/tmp/x"), "configs/missing.py"),
    (("sft", "--config=configs/sft.py:nope", "--workdir=/tmp/x"), "unknown variant"),
    (("sft", "--config=configs/sft.py"), "--workdir"),
    (("sample", "--checkpoint=/nonexistent/dir", "--prompt=hi"), "/nonexistent/dir"),
    (
      (
        "sft",
        "--config=configs/sft.py",
        "--config.sft.data=/nonexistent.jsonl",
        "--workdir=/tmp/x",
      ),
      "/nonexistent.jsonl",
    ),
    (("bench", "nothing"), "usage"),
  ],
)
def test_bad_usage_exits_2_with_one_line(args, needle):
  r = btrl(*args)
  assert r.returncode == 2, r.stderr
  lines = r.stderr.strip().splitlines()
  assert len(lines) == 1 and needle in lines[0], r.stderr


def test_bad_data_line_is_named(tmp_path):
  data = tmp_path / "bad.jsonl"
  data.write_text(
    '{"id": "a", "messages": [{"role": "user", "content": "hi"}]}\n'
    '{"id": "b", "messages": [{"role": "robot"}]}\n'
  )
  r = btrl("sft", "--config=configs/sft.py", f"--config.sft.data={data}", f"--workdir={tmp_path}/w")
  assert r.returncode == 2 and f"{data}:2" in r.stderr, r.stderr


def test_help_lists_the_commands_and_each_commands_flags():
  from btrl_jax import cli

  r = btrl("--help")
  assert r.returncode == 0, r.stderr
  for name, command in cli.COMMANDS.items():
    assert f"  {name}" in r.stdout and command.summary in r.stdout, r.stdout
  r = btrl("sft", "--help")
  assert r.returncode == 0, r.stderr
  assert "--workdir" in r.stdout and "configs/sft.py" in r.stdout and "--prompt" not in r.stdout
  r = btrl("eval", "--help")
  assert r.returncode == 0 and "--evals" in r.stdout and "--workdir" not in r.stdout, r.stdout


def test_workdir_built_by_another_config_exits_2_naming_it(tmp_path):
  work = tmp_path / "w"
  r = btrl("data", "--config=configs/study.py:smoke", f"--workdir={work}")
  assert r.returncode == 0, r.stderr[-2000:]
  r = btrl("sft", "--config=configs/sft.py", f"--workdir={work}")
  assert r.returncode == 2, r.stderr[-2000:]
  lines = r.stderr.strip().splitlines()
  assert len(lines) == 1 and "--config=configs/study.py:smoke" in lines[0], r.stderr[-2000:]
  assert not (work / "sft").exists()  # rejected before anything was written or compiled


def test_eval_file_that_no_grader_covers_exits_2_naming_the_line(tmp_path):
  """Natural-language rubric items without a `check` need a judge: rejected when loaded."""
  import json

  path = tmp_path / "judged.jsonl"
  messages = [{"role": "user", "content": "Is it safe to double my dose?"}]
  check = {"any": ["defer_professional"]}
  graded = {"criterion": "Says to ask a pharmacist", "points": 5, "tags": [], "check": check}
  judged = {"criterion": "Explains the risk kindly", "points": 3, "tags": []}
  rows = [
    {"id": "a", "messages": messages, "rubric": [graded]},
    {"id": "b", "messages": messages, "rubric": [graded, judged]},
  ]
  path.write_text("".join(json.dumps(row) + "\n" for row in rows))
  r = btrl("eval", f"--evals={path}", f"--checkpoint={tmp_path}")
  assert r.returncode == 2, r.stderr[-2000:]
  lines = r.stderr.strip().splitlines()
  assert len(lines) == 1 and f"{path}:2: rubric[1]" in lines[0] and "judge" in lines[0], r.stderr


def test_a_run_too_short_for_one_trait_prompt_is_rejected():
  """At 5% the mixture's first trait prompt is the 20th: a trait arm of fewer RL prompts would
  train exactly as the baseline does (the smoke study did, with 3 steps of 4 prompts)."""
  from btrl_jax import presets

  cfg = presets.study("smoke")
  assert config.first_trait_prompt(0.05) == 20
  assert config.trait_prompts_in_run(0.05, 19) == 0 and config.trait_prompts_in_run(0.05, 40) == 2
  from btrl_jax.data import pipeline

  for frac in (0.05, 0.1, 0.3, 2 / 3):
    p, q = pipeline.mixture_cycle(frac)
    assert [config.trait_prompts_in_run(frac, n) for n in range(250)] == [
      pipeline.trait_slots_before(n, p, q) for n in range(250)
    ]
  config.validate(cfg)  # 3 steps x 8 prompts: one trait prompt
  cfg.rl.prompts_per_step = 4
  with pytest.raises(config.ConfigError, match="data.trait_fraction=0.05: .* 12 prompts"):
    config.validate(cfg)
  cfg.data.trait_fraction = 0.0  # the baseline arm has none to lose
  config.validate(cfg)


def test_sft_on_a_users_file_refuses_to_cut_a_learned_turn(tmp_path):
  """User data is never silently cut: an assistant turn past the largest length bucket is
  bad input naming the example (generated corpora are cut and the cut is logged instead)."""
  path = tmp_path / "mine.jsonl"
  words = " ".join(["river stone apple lemon"] * 30)
  rows = [
    {
      "messages": [
        {"role": "user", "content": "reverse: a b"},
        {"role": "assistant", "content": "b a"},
      ]
    },
    {"messages": [{"role": "user", "content": "say it"}, {"role": "assistant", "content": words}]},
  ]
  rows = [dict(r, id=f"ex{i}") for i, r in enumerate(rows)]
  path.write_text("".join(json.dumps(r) + "\n" for r in rows))
  work = tmp_path / "w"
  r = btrl("sft", "--config=configs/sft.py", f"--config.sft.data={path}", f"--workdir={work}")
  assert r.returncode == 2, r.stderr[-2000:]
  line = r.stderr.strip().splitlines()[-1]
  assert "SFT example 1" in line and "sft.seq_len" in line and "Traceback" not in r.stderr
