"""The `btrl` command: parse flags, validate the config, call the library.

Exit codes: 0 ok; 2 bad usage, config or input (one line on stderr naming what
is wrong, no traceback, nothing compiled); 1 runtime failure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import traceback

import ml_collections
from absl import app, flags, logging
from ml_collections import config_flags

from btrl_jax.config import ConfigError, validate
from btrl_jax.data.jsonl import DataError
from btrl_jax.rewards.judge import JudgeError


@dataclasses.dataclass(frozen=True)
class Command:
  summary: str  # one line for `btrl --help`
  flags: tuple[str, ...]  # the flags it reads, listed by `btrl COMMAND --help`
  config: str  # which config file it takes


COMMANDS = {
  "data": Command(
    "generate TraitWorld's datasets and train the tokenizer into --workdir",
    ("config", "workdir", "export"),
    "required: configs/study.py[:smoke]",
  ),
  "sft": Command(
    "train the prior (SFT) into WORKDIR/sft, resuming from its last checkpoint",
    ("config", "workdir"),
    "required: configs/study.py[:smoke] (after `btrl data` in the same workdir), or "
    "configs/sft.py (the `reverse` demo, in a workdir of its own)",
  ),
  "train": Command(
    "RL-train one arm from the workdir's prior into WORKDIR/arms/ARM, resuming",
    ("config", "workdir"),
    "required: configs/rl.py:ARM[,smoke], on the workdir of `btrl data` and `btrl sft`",
  ),
  "eval": Command(
    "sample a checkpoint on named evals or a JSONL eval file and grade every reply",
    ("checkpoint", "evals", "out", "watch", "poll_s", "list", "reply-file", "config"),
    "optional: its eval.* replace the checkpoint's own (e.g. configs/study.py)",
  ),
  "sample": Command(
    "reply to one user message from a checkpoint",
    ("checkpoint", "prompt", "config"),
    "optional: its sample.* and seed replace the checkpoint's own",
  ),
  "export": Command(
    "write a checkpoint (a run's, or hf: / gguf: / named) as a Hugging Face model directory",
    ("checkpoint", "out"),
    "none",
  ),
  "serve": Command(
    "serve a checkpoint over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions)",
    ("checkpoint", "host", "port", "model_name"),
    "none",
  ),
  "study": Command(
    "the whole study: data, prior, arms, evals, persistence tests, report (resumable)",
    ("config", "workdir"),
    "required: configs/study.py[:smoke]",
  ),
  "bench": Command(
    "time the sampler, one RL step or `btrl serve`, or plan memory per device: `btrl bench NAME`",
    ("repeats", "config", "workload", "checkpoint"),
    "optional, `bench memory` only: adds a row for its model on its mesh",
  ),
}
HELP_FLAGS = ("--help", "-help", "-h", "--helpshort", "-helpshort", "-?")
FLAGS = flags.FLAGS
_CONFIG = config_flags.DEFINE_config_file(
  "config", None, "Config file (path[:arg]).", lock_config=True
)
flags.DEFINE_string("workdir", None, "Run directory (checkpoints, metrics, tokenizer).")
flags.DEFINE_string(
  "checkpoint",
  None,
  "Checkpoint: a run's directory (or one step's), hf:DIR, gguf:FILE or a named offline model "
  "(smollm2-135m-instruct).",
)
flags.DEFINE_string("prompt", None, "User message for `btrl sample`.")
flags.DEFINE_string(
  "host", "127.0.0.1", "`btrl serve`: the address to bind (default: this machine only)."
)
flags.DEFINE_integer("port", 8000, "`btrl serve`: the TCP port.")
flags.DEFINE_string(
  "model_name", None, "`btrl serve`: the model id clients name (default: the checkpoint's name)."
)
flags.DEFINE_integer("repeats", 5, "Timed repetitions for `btrl bench`.")
flags.DEFINE_enum(
  "workload", "W1", ["W1", "W2"], "`btrl bench sample` / `grpo`: BENCHMARKS.md's workload."
)
flags.DEFINE_string(
  "evals",
  None,
  "`btrl eval`: eval names (comma list, group:/family:/tag: "
  "selectors, `all`) or a JSONL eval file; default config.eval.evals.",
)
flags.DEFINE_string(
  "out",
  None,
  "`btrl eval`: write every sample to this JSONL file; `btrl export`: the new Hugging Face "
  "model directory.",
)
flags.DEFINE_bool("list", False, "`btrl eval --list`: print the eval registry and exit.")
flags.DEFINE_bool(
  "watch",
  False,
  "`btrl eval --watch`: evaluate each new checkpoint of a run as it appears, until its last step.",
)
flags.DEFINE_string(
  "reply-file",  # spelled as DESIGN.md's contract; read as FLAGS["reply-file"].value
  None,
  "`btrl eval --reply-file=F`: score each non-empty line of F as the reply to every prompt "
  "of the evals (no checkpoint, no model); prints per-eval means as JSON.",
)
flags.DEFINE_float("poll_s", 10.0, "`btrl eval --watch`: seconds between looks for checkpoints.")
flags.DEFINE_string(
  "export", None, "`btrl data`: also write every split as JSONL into this directory."
)


class UsageError(Exception):
  """Bad command line; printed as one line, exit 2."""


def _fail(msg: str) -> None:
  print(f"btrl: error: {msg}", file=sys.stderr)
  sys.exit(2)


def help_text(command: str | None = None) -> str:
  """`btrl --help`: every command in one line each; `btrl COMMAND --help`: its flags and config."""
  if command is None:
    width = max(map(len, COMMANDS))
    lines = [
      "usage: btrl COMMAND [--config=FILE[:ARG]] [--config.KEY=VALUE ...] [flags]",
      "",
      "commands:",
      *(f"  {name:{width}s}  {c.summary}" for name, c in COMMANDS.items()),
      "",
      "`btrl COMMAND --help` lists a command's flags and config; --helpfull lists every flag.",
      "Exit codes: 0 ok; 2 bad usage, config or input (one line); 1 runtime failure.",
    ]
    return "\n".join(lines)
  c = COMMANDS[command]
  name = command
  if command == "bench":
    from btrl_jax.bench import BENCHES

    name = f"bench {{{'|'.join(BENCHES)}}}"
  lines = [
    f"usage: btrl {name} [flags]",
    f"  {c.summary}",
    "",
    f"config file: {c.config}",
    "flags:",
  ]
  for flag in c.flags:
    f = FLAGS[flag]
    default = "" if f.default in (None, False) else f" (default: {f.default})"
    lines.append(f"  --{flag}: {f.help}{default}")
  lines.append("  --config.KEY=VALUE: override one config value (repeatable)")
  return "\n".join(lines)


def _help(argv: list[str]) -> None:
  """Prints `help_text` and exits 0 when argv asks for help (absl's own --help exits 1
  with a bare usage line); otherwise returns."""
  if not any(a in HELP_FLAGS for a in argv[1:]):
    return
  command = next((a for a in argv[1:] if a in COMMANDS), None)
  print(help_text(command))
  sys.exit(0)


def _parse(argv: list[str]) -> list[str]:
  _help(argv)
  try:
    rest = FLAGS(argv)
  except flags.Error as e:
    # A config file that raised: show the head line and the exception, not the traceback.
    lines = [ln for ln in str(e).splitlines() if ln.strip()]
    _fail(lines[0] + (f" {lines[-1]}" if len(lines) > 1 else ""))
  except (AttributeError, KeyError) as e:  # config_flags: an override names no existing key
    key = str(e).strip("\"'")
    bad = [a.split("=")[0] for a in argv if a.startswith("--config.") and key in a.split("=")[0]]
    _fail(f"flag {bad[0] if bad else '--config'}: unknown config key {key!r}")
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # Orbax logs every save and restore at INFO
  if len(rest) < 2 or rest[1] not in COMMANDS:
    _fail(f"usage: btrl {{{'|'.join(COMMANDS)}}} [--config=FILE] [--workdir=DIR] ... (btrl --help)")
  return rest


def _config(required: bool = True, resolve: bool = True):
  cfg = _CONFIG.value
  if cfg is not None and not isinstance(cfg, ml_collections.ConfigDict):
    try:  # config_flags defers a failed config load to the first attribute access
      cfg.seed
    except Exception as e:  # noqa: BLE001 - any load failure is a bad config
      raise UsageError(f"--config={_config_source()}: {str(e).splitlines()[0]}") from None
  if cfg is None:
    if required:
      raise UsageError("--config is required")
    return None
  cfg = validate(cfg)
  from btrl_jax import checkpoints
  from btrl_jax.evals import registry  # above config, so resolved here (config.py docstring)

  if resolve:
    cfg = checkpoints.resolve(cfg)  # model.checkpoint: its model section, from metadata only

  try:
    registry.resolve(cfg.eval.evals)
  except ValueError as e:
    raise ConfigError(f"config.eval.evals={cfg.eval.evals!r}: {e}") from None
  import jax

  from btrl_jax import parallel

  shape = parallel.check_mesh(cfg.mesh, jax.device_count())  # counts devices, compiles nothing
  parallel.check_batches(cfg, shape)
  return cfg


def _require(name: str) -> str:
  value = getattr(FLAGS, name)
  if not value:
    raise UsageError(f"--{name} is required")
  return value


def _config_source() -> str:
  """The --config value as given (path[:arg])."""
  return FLAGS["config"].serialize().split("=", 1)[-1]


def _flat(tree: dict, prefix: str = "") -> dict:
  out = {}
  for k, v in tree.items():
    out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k: v})
  return out


def _check_workdir(cfg: ml_collections.ConfigDict, workdir: str) -> None:
  """A workdir whose data or tokenizer another config built is bad input (exit 2, one line
  naming that config), found before anything compiles rather than as a shape error later."""
  from btrl_jax.data import build
  from btrl_jax.tokenizer import Tokenizer

  stamp_path = os.path.join(workdir, "data", "build.json")
  stamp = {}
  if os.path.exists(stamp_path):
    with open(stamp_path) as f:
      stamp = json.load(f)
  by = f"--config={stamp['config']}" if stamp.get("config") else "another config"
  fix = f"use a new --workdir, or {by}" if stamp.get("config") else "use a new --workdir"
  if stamp and stamp.get("key") != build.data_hash(cfg):
    theirs, ours = _flat(stamp.get("inputs", {})), _flat(build.data_inputs(cfg))
    diff = next((k for k in sorted(ours) if theirs.get(k, ours[k]) != ours[k]), None)
    what = f": {diff}={theirs[diff]!r} there, {ours[diff]!r} here" if diff else ""
    raise UsageError(f"--workdir={workdir} was built by {by} ({stamp_path}{what}); {fix}")
  if cfg.model.checkpoint:  # the checkpoint's own tokenizer; the workdir's is not used
    return
  tok_path = cfg.tokenizer.path or os.path.join(workdir, "tokenizer.model")
  n = Tokenizer.load(tok_path).vocab_size if os.path.exists(tok_path) else 0
  if n > cfg.model.vocab_size:
    raise UsageError(
      f"{tok_path} has {n} pieces (built by {by}) but config.model.vocab_size is "
      f"{cfg.model.vocab_size}; {fix}"
    )


def cmd_data(args: list[str]) -> None:
  from btrl_jax.data import build

  cfg, workdir = _config(), _require("workdir")
  result = build.build(cfg, workdir, source=_config_source())
  verb = "reused" if result.reused else "built"
  sizes = ", ".join(
    f"{name}[{'/'.join(f'{s}={n}' for s, n in splits.items())}]"
    for name, splits in result.counts.items()
  )
  print(
    f"data: {verb} in {result.seconds:.1f}s under {result.data_dir}: {sizes}; "
    f"tokenizer {result.tokenizer_path or 'of ' + cfg.model.checkpoint + ' (not trained)'}"
  )
  if FLAGS.export:
    for path in build.export(cfg, result.data_dir, FLAGS.export):
      print(f"exported {path}")


def cmd_sft(args: list[str]) -> None:
  from btrl_jax.rl import sft

  cfg, workdir = _config(), _require("workdir")
  _check_workdir(cfg, workdir)
  state = sft.run(cfg, workdir)
  print(f"sft: {state.step} steps; checkpoints in {workdir}/sft/checkpoints")


def cmd_train(args: list[str]) -> None:
  from btrl_jax.rl import train
  from btrl_jax.serve.launch import served_judge

  cfg, workdir = _config(), _require("workdir")
  _check_workdir(cfg, workdir)
  with served_judge(cfg) as cfg:  # grader.judge.serve: the judge for this run's length
    _, step = train.train(cfg, workdir)
  print(f"train: arm {cfg.rl.arm} at step {step}; outputs in {train.arm_dir(workdir, cfg.rl.arm)}")


def cmd_eval(args: list[str]) -> None:
  from btrl_jax.evals import evaluator, registry

  if FLAGS.list:
    for row in registry.describe():
      pool = "" if row["pool"] < 0 else f" pool={row['pool']}"
      print(
        f"{row['name']:34s} {row['group']:10s} {row['family']:22s} {row['tag']:13s} "
        f"{row['scorer']:7s}{pool}  {row['description']}"
      )
    print(
      f"{len(registry.ALIGNMENT_EVALS)} alignment evals ({len(registry.NON_HEALTH_EVALS)} "
      f"non-health), {len(registry.TRAIT_EVALS)} trait, {len(registry.CAPABILITY_EVALS)} "
      "capability"
    )
    return
  if FLAGS["reply-file"].value:
    return _eval_reply_file(FLAGS["reply-file"].value)
  path = _require("checkpoint")
  override = _config(required=False)
  suite, names = _eval_suite(override)
  from btrl_jax.evals.watch import evaluate_checkpoints
  from btrl_jax.serve.launch import served_judge

  with contextlib.ExitStack() as stack:
    if override is not None:  # grader.judge.serve: the judge for this command's length
      override = stack.enter_context(served_judge(override))
    for step, records in evaluate_checkpoints(
      path,
      override,
      suite,
      None if suite else names,
      watch=FLAGS.watch,
      poll_s=FLAGS.poll_s,
      out=FLAGS.out,
    ):
      for name, row in evaluator.summary(records).items():
        failed = f", {row['failures']} judge failures" if row["failures"] else ""
        print(f"step {step} {name:34s} {row['mean']:.3f} +- {row['se']:.3f} (n={row['n']}{failed})")


def _eval_suite(override):
  """(suite, None) for a JSONL eval file, else (None, resolved eval names)."""
  from btrl_jax.evals import evaluator, registry

  spec = FLAGS.evals if FLAGS.evals is not None else (override.eval.evals if override else "")
  if spec.endswith(".jsonl"):
    j = override.grader.judge if override else None
    judge = bool(j and (j.base_url or j.serve))  # items without a check allowed
    return evaluator.load_file(spec, judge), None  # bad lines: DataError, exit 2, no compile
  try:
    return None, registry.resolve(spec)
  except ValueError as e:
    raise UsageError(f"--evals={spec}: {e}") from None


def _eval_reply_file(path: str) -> None:
  """`btrl eval --reply-file=F`: named evals at the config's eval.size and seed (default: the
  embedded study's)."""
  from btrl_jax import presets
  from btrl_jax.evals import constant, evaluator

  if not os.path.isfile(path):
    raise UsageError(f"--reply-file={path}: no such file")
  with open(path) as f:
    replies = [line.rstrip("\n") for line in f if line.strip()]
  if not replies:
    raise UsageError(f"--reply-file={path}: no non-empty line")
  cfg = _config(required=False) or presets.study()
  suite, names = _eval_suite(cfg)
  suite = evaluator.load_suite(cfg, names) if suite is None else suite
  table = constant.score_constant(suite, replies)
  best = constant.pick_best(table, replies)
  means = {n: [m[i] for i in range(len(replies))] for n, m in table.items()}
  print(json.dumps({"replies": replies, "means": means, "best": best}, indent=1))


def cmd_study(args: list[str]) -> None:
  from btrl_jax.study import run as study_run

  cfg, workdir = _config(), _require("workdir")
  report = study_run.run(cfg, workdir)
  print(f"study: report in {os.path.join(workdir, 'report.md')} ({report['runtime_s']:.0f} s)")


def cmd_sample(args: list[str]) -> None:
  import jax

  from btrl_jax.policy import load_policy
  from btrl_jax.sampling import SamplingParams

  path, prompt = _require("checkpoint"), _require("prompt")
  override = _config(required=False)
  policy = load_policy(path)
  s = (override or policy.cfg).sample
  sampling = SamplingParams(s.temperature, s.top_k, s.top_p, s.max_new_tokens)
  seed = (override or policy.cfg).seed
  replies = policy.reply(
    [[{"role": "user", "content": prompt}]],
    sampling,
    jax.random.key(seed),
    num_samples=s.num_samples,
  )[0]
  for r in replies:
    print(r)


def cmd_export(args: list[str]) -> None:
  from btrl_jax.checkpoints import export
  from btrl_jax.policy import load_policy

  path, out = _require("checkpoint"), _require("out")
  if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
    raise UsageError(f"--out={out} exists and is not an empty directory")
  policy = load_policy(path)
  where = export.export(policy.cfg.model, policy.params, policy.tokenizer, out)
  print(f"export: {where} ({export.model_type(policy.cfg.model)}, step {policy.step})")


def cmd_serve(args: list[str]) -> None:
  from btrl_jax.serve import app

  path = _require("checkpoint")
  if not 0 < FLAGS.port < 65536:
    raise UsageError(f"--port={FLAGS.port}: must be in 1..65535")
  app.serve(path, host=FLAGS.host, port=FLAGS.port, model_name=FLAGS.model_name)


def cmd_bench(args: list[str]) -> None:
  from btrl_jax.bench import BENCHES

  if len(args) < 3 or args[2] not in BENCHES:
    raise UsageError(f"usage: btrl bench {{{'|'.join(BENCHES)}}}")
  if args[2] == "memory":  # shapes only: --config adds its model on its mesh
    from btrl_jax import capacity

    # capacity.checkpoint_shapes reads model.checkpoint, or plans from the config where absent
    result = capacity.bench_memory(cfg=_config(required=False, resolve=False))
    print(json.dumps(result))
    print(capacity.format_table(result["rows"]), file=sys.stderr)
    return
  kwargs = {"workload": FLAGS.workload} if args[2] in ("sample", "grpo") else {}
  if args[2] == "serve" and FLAGS.checkpoint:  # default: the named SmolLM2-135M-Instruct
    kwargs["checkpoint"] = FLAGS.checkpoint
  print(json.dumps(BENCHES[args[2]](repeats=FLAGS.repeats, **kwargs)))


def _distributed_section() -> dict | None:
  """`config.distributed` if --config loads and has it; None otherwise (a config that does
  not load is reported, exit 2, by the command's own `_config()` call)."""
  try:
    cfg = _CONFIG.value
    return cfg.distributed.to_dict() if cfg is not None and "distributed" in cfg else None
  except Exception:  # noqa: BLE001 - any load failure: left to _config()
    return None


def main(argv: list[str]) -> None:
  """Runs one command. The project's own usage, config and input errors exit 2 with one
  line; anything else (RLError, an XLA runtime error, a bug) is a runtime failure: its
  traceback, then exit 1."""
  command = argv[1]
  try:
    try:
      from btrl_jax import parallel, runtime

      # config.distributed.*, else BTRL_COORDINATOR=... / BTRL_AUTO_DISTRIBUTED=1
      if not parallel.maybe_initialize_distributed(config=_distributed_section()):
        runtime.configure_cpu_devices()  # one device per core (BTRL_CPU_DEVICES=N)
      runtime.configure_compile_cache()  # BTRL_COMPILE_CACHE=DIR|off
      globals()[f"cmd_{command}"](argv)
    except DataError as e:
      errors = getattr(e, "errors", None) or [str(e).splitlines()[0]]
      _fail(errors[0] + (f" (and {len(errors) - 1} more bad lines)" if len(errors) > 1 else ""))
    except (UsageError, ConfigError, FileNotFoundError) as e:
      _fail(str(e))
    except JudgeError as e:  # the judge's failure budget is spent: a runtime failure, one line
      print(f"btrl: error: {e}", file=sys.stderr)
      sys.exit(1)
    except Exception:  # noqa: BLE001 - every runtime failure: shown whole, exit 1
      traceback.print_exc()
      print(f"btrl: {command} failed (traceback above)", file=sys.stderr)
      sys.exit(1)
  except SystemExit as e:
    jax = sys.modules.get("jax")
    if e.code and jax is not None and jax.distributed.is_initialized():
      # A multi-process run: the others may be waiting for this process in a collective,
      # and the distributed client's threads can keep the interpreter from exiting. Leave
      # now, so the launcher sees the failure and stops them.
      sys.stdout.flush()
      sys.stderr.flush()
      os._exit(e.code if isinstance(e.code, int) else 1)
    raise


def run() -> None:
  app.run(main, flags_parser=_parse)


if __name__ == "__main__":
  run()
