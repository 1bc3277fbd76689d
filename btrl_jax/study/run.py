"""`btrl study --config=configs/study.py[:smoke] --workdir=W`: the whole study, resumable.

Stages, in order (each prints its name, its elapsed time and an estimate of the rest):
  data      TraitWorld datasets + tokenizer (`btrl data`)
  prior     SFT on the persona-mixture corpus (`btrl sft`)
  arms      every arm of `study.arms` from the prior, compute-matched (`btrl train`);
            one learner (one compiled rollout and update) serves all arms
  evals     every model (prior + arms) on the 53 alignment evals, the 7 in-distribution
            trait evals, the 7 capability evals and a sample of the trait *training*
            distribution (`trait_train`)
  persona   persistence A: the health and mental-health evals under each attack persona
            (baseline, beneficial, health_only, helpfulness_control: the models its
            comparisons use; the control shows whether persistence is trait-specific)
  harmful   persistence B: harmful SFT dose ladder on the prior, baseline, beneficial and
            helpfulness-control models, then the health (in-domain) and misalignment / alignment-questions /
            model-spec (out-of-domain) evals at each dose
  report    statistics, W/report.md, W/report.json, W/plots/*.png

Every stage writes a stamp holding a hash of the config sections it depends on
(cumulative: a changed prior invalidates every later stage); a stage whose stamp
matches is skipped, one whose stamp differs is redone, so an interrupted study
resumes where it stopped. Training stages resume from their own checkpoints.
`study.seeds` > 1 (3 in the default study, 1 in `:quick` and `:smoke`) runs the arms,
evals and persistence stages once per seed (`W/seed_<k>/`, RL / eval /
harmful-fine-tune seed = `seed + k`) over `study.prior_seeds` priors (default 1): seed k trains its arms from prior k mod prior_seeds
(data and prior built with seed `seed + k mod prior_seeds`, in that prior's first
seed directory, and read from there). The report pools the paired samples of all
seeds; between-run variance enters through the seed-level statistics.

Several processes (one per host of a TPU slice, or `launch/multihost_local.sh`) run
the same command on one shared workdir: they train and evaluate together on one
mesh; process 0 alone writes data, stamps, eval records, the report and the log
lines, and the others wait for it where they read what it wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from typing import Any

import jax
import ml_collections
import numpy as np

from btrl_jax import config as config_lib
from btrl_jax import parallel
from btrl_jax.data import build as data_build
from btrl_jax.data import real as real_world
from btrl_jax.data.tfds_builders import read_dataset
from btrl_jax.evals import attacks, constant, evaluator, registry
from btrl_jax.evals.watch import judging
from btrl_jax.policy import Policy, load_policy
from btrl_jax.rl import sft
from btrl_jax.rl import train as rl_train
from btrl_jax.rl.learner import Learner
from btrl_jax.serve.launch import served_judge
from btrl_jax.study import harmful as harmful_lib

# The judge's identity and protocol (not its URL: a served judge gets a new port each run).
JUDGE_KEYS = tuple(f"grader.judge.{k}" for k in ("model", "serve", "prefill", "temperature"))
STAGES = ("data", "prior", "arms", "evals", "persona", "harmful", "report")
# Config sections each stage reads (cumulative with the stages before it).
_SECTIONS = {
  "data": ("seed", "data", "tokenizer"),
  "prior": ("model", "sft"),
  "arms": ("rl", "mesh", "study.arms", "study.prior_seeds", *JUDGE_KEYS),
  "evals": ("eval", "study.trait_train_size"),
  "persona": ("study.persona_attack",),
  "harmful": ("study.harmful_doses", "study.harmful_learning_rate", "study.harmful_batch_size"),
  "report": (),
}
ARM_DATA_KEYS = data_build.ARM_KEYS
HARMFUL_MODELS = ("prior", "baseline", "beneficial", "helpfulness_control")
# The persona attack's comparisons: the trait arms against the compute-matched baseline.
# The prior too: the helpful persona must lift it for the attacks to be testable (issue 14).
PERSONA_MODELS = ("prior", "baseline", "beneficial", "health_only", "helpfulness_control")
OOD_FAMILIES = ("misalignment", "alignment_questions", "model_spec")


def study_evals(cfg: ml_collections.ConfigDict) -> tuple[str, ...]:
  """The evals every model takes: `eval.evals` ("" = the 53 alignment evals), then the 7
  in-distribution trait evals and the 7 capability evals."""
  names = registry.resolve(cfg.eval.evals) + registry.TRAIT_EVALS + registry.CAPABILITY_EVALS
  return tuple(dict.fromkeys(names))


def _get(cfg: ml_collections.ConfigDict, dotted: str) -> Any:
  node = cfg
  for part in dotted.split("."):
    node = node[part]
  return node.to_dict() if isinstance(node, ml_collections.ConfigDict) else node


def stage_hash(cfg: ml_collections.ConfigDict, stage: str) -> str:
  keys = [k for s in STAGES[: STAGES.index(stage) + 1] for k in _SECTIONS[s]]
  blob = {k: _get(cfg, k) for k in keys}
  if "data" in blob:  # arm-only data keys are set per arm, not by the study config
    blob["data"] = {k: v for k, v in blob["data"].items() if k not in ARM_DATA_KEYS}
  return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


class Stamps:
  """W/study_state.json: {stage or sub-stage: hash}, written after each finishes."""

  def __init__(self, workdir: str):
    self.path = os.path.join(workdir, "study_state.json")
    self.state = json.load(open(self.path)) if os.path.exists(self.path) else {}

  def done(self, name: str, h: str) -> bool:
    return self.state.get(name) == h

  def mark(self, name: str, h: str) -> None:
    self.state[name] = h
    self.save()

  def save(self) -> None:
    if not parallel.is_lead():  # every process keeps the same state; process 0 writes it
      return
    tmp = self.path + ".tmp"
    with open(tmp, "w") as f:
      json.dump(self.state, f, indent=1, sort_keys=True)
    os.replace(tmp, self.path)


class Progress:
  """Stage lines with elapsed time and a rough estimate of what is left."""

  # Rough shares of one seed's wall time per stage (the default study's first seed, with
  # its data and prior; docs/LOG.md 2026-12-02).
  SHARE = {
    "data": 0.01,
    "prior": 0.23,
    "arms": 0.33,
    "evals": 0.17,
    "persona": 0.08,
    "harmful": 0.17,
    "report": 0.01,
  }

  def __init__(self, stamps: Stamps, log: Callable[[str], None] = print):
    self.t0, self.log, self.done_share, self.stamps = time.perf_counter(), log, 0.0, stamps
    self.worked = False  # set by a stage that computed something (not all from cache)

  def start(self, stage: str, note: str = "") -> float:
    elapsed = time.perf_counter() - self.t0
    eta = ""
    if self.done_share > 0.05:
      eta = f", ~{elapsed / self.done_share * (1 - self.done_share):.0f} s left"
    self.log(
      f"[study {STAGES.index(stage) + 1}/{len(STAGES)}] {stage}{note} "
      f"({elapsed:.0f} s elapsed{eta})"
    )
    self.worked = False
    return time.perf_counter()

  def finish(self, stage: str, t: float, skipped: bool | None = None) -> None:
    """`skipped` defaults to "the stage did no work" (`worked` stayed False)."""
    skipped = (not self.worked) if skipped is None else skipped
    elapsed = time.perf_counter() - t
    self.done_share += self.SHARE[stage]
    if not skipped:  # wall time spent on each stage, summed over resumed invocations
      seconds = self.stamps.state.setdefault("seconds", {})
      seconds[stage] = seconds.get(stage, 0.0) + elapsed
      self.stamps.save()
    self.log(f"  {stage}: {'up to date, skipped' if skipped else 'done'} in {elapsed:.1f} s")


def _move_aside(path: str, workdir: str) -> None:
  if parallel.is_lead() and os.path.exists(path):
    dest = os.path.join(workdir, "stale", f"{os.path.basename(path)}-{int(time.time())}")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.move(path, dest)
  parallel.sync(f"btrl-moved-aside-{os.path.basename(path)}")


def _eval_models(
  policy: Policy,
  models: dict[str, Any],
  suite: dict[str, list[dict]],
  cfg: ml_collections.ConfigDict,
  workdir: str,
  stamps: Stamps,
  h: str,
  prog: Progress,
  *,
  judge: dict | None = None,
  persona: str | None = None,
  tag: str = "",
) -> dict[str, dict]:
  """Evaluates each {name: params} on the suite (cached per model under W/evals/<name>)."""
  out = {}
  for name, params in models.items():
    label = name + (f"@{persona}" if persona else "") + tag
    out_dir = os.path.join(workdir, "evals", label)
    key = f"evals/{label}"
    records = {}
    if stamps.done(key, h):  # reuse what is on disk; evaluate only evals that are missing
      records = {
        n: r
        for n in suite
        if (r := (evaluator.read_records(out_dir, [n]) or {}).get(n)) is not None
      }
    missing = {n: exs for n, exs in suite.items() if n not in records}
    if missing:
      new = evaluator.evaluate(
        policy.with_params(params, 0),
        missing,
        cfg.eval,
        jax.random.key(cfg.seed),
        persona=persona,
        desc=label,
        **(judge or {}),
      )
      evaluator.write_records(new, out_dir)
      records.update(new)
      prog.worked = True
      stamps.mark(key, h)
    out[label] = {n: records[n] for n in suite}
  return out


def run_one(
  cfg: ml_collections.ConfigDict,
  workdir: str,
  log=print,
  prior_seed: int | None = None,
  prior_workdir: str | None = None,
) -> dict[str, Any]:
  """All stages for one seed; returns what the report needs.

  `prior_seed`: the seed of the data and the prior (default `cfg.seed`, which seeds RL,
  evals and the harmful fine-tune); `prior_workdir`: where they are built (default
  `workdir`). A seed that shares an earlier seed's prior passes that seed's directory and
  finds both stages done there.
  """
  os.makedirs(workdir, exist_ok=True)
  stamps = Stamps(workdir)
  prog = Progress(stamps, log)
  arms = [a.strip() for a in cfg.study.arms.split(",") if a.strip()]
  pcfg = ml_collections.ConfigDict(cfg.to_dict())
  pcfg.seed = cfg.seed if prior_seed is None else prior_seed
  pdir = prior_workdir or workdir
  shared = os.path.abspath(pdir) != os.path.abspath(workdir)
  pstamps = Stamps(pdir) if shared else stamps
  data_dir = os.path.join(pdir, "data")

  t = prog.start("data", f" (shared with {pdir})" if shared else "")
  result = data_build.build(pcfg, pdir)
  prog.finish("data", t, skipped=result.reused)

  real = cfg.data.world == "real"
  mesh = parallel.make_mesh(cfg.mesh)
  if real:  # the prior is the imported checkpoint itself: no SFT stage
    t = prog.start("prior", f" (imported {cfg.model.checkpoint}, no SFT)")
    prior_ref = cfg.model.checkpoint
    prog.finish("prior", t, skipped=True)
  else:
    t = prog.start("prior", f" ({cfg.sft.steps} SFT steps)")
    h = stage_hash(pcfg, "prior")
    prior_dir = os.path.join(pdir, "sft")
    if not pstamps.done("prior", h):
      if shared:
        raise RuntimeError(f"the prior this seed shares is not built in {pdir}")
      if "prior" in stamps.state:  # a different prior: its checkpoints must not be resumed
        _move_aside(prior_dir, workdir)
      cfg_prior = ml_collections.ConfigDict(pcfg.to_dict())
      cfg_prior.sft.data = "prior"
      sft.run(cfg_prior, workdir)
      stamps.mark("prior", h)
      prog.finish("prior", t, skipped=False)
    else:
      prog.finish("prior", t, skipped=True)
    prior_ref = os.path.join(prior_dir, "checkpoints")
  prior = load_policy(prior_ref, mesh)

  judge = judging(cfg)  # grader.judge: rubric items without a check (real eval files)
  t = prog.start("arms", f" ({', '.join(arms)}; {cfg.rl.steps} steps each)")
  h = stage_hash(cfg, "arms")
  learner = None
  params = {"prior": prior.params}
  summaries = {}
  for arm in arms:
    acfg = config_lib.apply_arm(cfg, arm)
    acfg.rl.init_checkpoint = prior_ref
    out = rl_train.arm_dir(workdir, arm)
    if not stamps.done(f"arms/{arm}", h):
      if f"arms/{arm}" in stamps.state:
        _move_aside(out, workdir)
      if learner is None:
        learner = Learner(acfg, prior, mesh=mesh)
      learner.rl.arm = arm
      rl_train.train(acfg, workdir, learner=learner, data_dir=data_dir)
      parallel.sync(f"btrl-arm-{arm}")  # process 0 has written its summary.json
      stamps.mark(f"arms/{arm}", h)
      prog.worked = True
    arm_policy = load_policy(os.path.join(out, "checkpoints"), mesh)
    params[arm] = arm_policy.params
    summaries[arm] = json.load(open(os.path.join(out, "summary.json")))
  prog.finish("arms", t)

  t = prog.start("evals", f" ({len(params)} models)")
  h = stage_hash(cfg, "evals")
  suite = evaluator.load_suite(cfg, study_evals(cfg))
  # The RL trait prompts repeat some scenarios (small slot pools); score each one once.
  trait_train = list(
    {ex["id"]: ex for ex in read_dataset("btrl_rl_prompts", "trait", data_dir)}.values()
  )
  pick = np.random.default_rng(cfg.seed).permutation(len(trait_train))
  view = real_world.render if real else dict  # as the RL prompts were seen (data/real.py)
  suite["trait_train"] = [
    dict(view(trait_train[int(i)]), eval="trait_train")
    for i in sorted(pick[: cfg.study.trait_train_size])
  ]
  clean = _eval_models(prior, params, suite, cfg, workdir, stamps, h, prog, judge=judge)
  prog.finish("evals", t)
  # The trivial-policy baseline: each eval's best fixed reply (a few seconds, so recomputed
  # rather than stamped; evals/constant.py).
  t = time.perf_counter()
  replies = constant.candidates(cfg, prior.tokenizer)
  constant_best = constant.best_constant(suite, replies, (judge or {}).get("judge"))
  log(f"  constant replies: {len(replies)} scored on every eval in {time.perf_counter() - t:.1f} s")

  persona_records: dict[str, dict] = {}
  if cfg.study.persona_attack:
    health_suite = {n: suite[n] for n in registry.HEALTH_EVALS if n in suite}
    t = prog.start(
      "persona", f" ({', '.join(attacks.PERSONAS)} on {len(health_suite)} health evals)"
    )
    h = stage_hash(cfg, "persona")
    attacked = {m: p for m, p in params.items() if m in PERSONA_MODELS}
    for persona in attacks.PERSONAS:
      persona_records.update(
        _eval_models(
          prior, attacked, health_suite, cfg, workdir, stamps, h, prog, judge=judge, persona=persona
        )
      )
    prog.finish("persona", t)

  t = prog.start("harmful", f" (doses {cfg.study.harmful_doses})")
  h = stage_hash(cfg, "harmful")
  harm_models = [m for m in HARMFUL_MODELS if m in params]
  ood = tuple(n for n in registry.ALIGNMENT_EVALS if registry.EVALS[n].family in OOD_FAMILIES)
  harm_suite = {n: suite[n] for n in registry.HEALTH_EVALS + ood if n in suite}
  harmful_records: dict[str, dict[int, dict]] = {m: {} for m in harm_models}
  todo = [
    m
    for m in harm_models
    if not all(stamps.done(f"evals/{m}@harmful{d}", h) for d in harmful_lib.doses_of(cfg) if d)
  ]
  ft = None
  if todo:
    examples = list(read_dataset("btrl_harmful", "train", data_dir))
    ft = harmful_lib.HarmfulFinetune(cfg, examples, prior.tokenizer)
    prog.worked = True
  for m in harm_models:
    harmful_records[m][0] = {n: clean[m][n] for n in harm_suite}
    if m in todo:
      for dose, p in ft.ladder(params[m]):
        if dose:
          harmful_records[m][dose] = _eval_models(
            prior,
            {m: p},
            harm_suite,
            cfg,
            workdir,
            stamps,
            h,
            prog,
            judge=judge,
            tag=f"@harmful{dose}",
          )[f"{m}@harmful{dose}"]
    else:
      for dose in harmful_lib.doses_of(cfg):
        if dose:
          harmful_records[m][dose] = evaluator.read_records(
            os.path.join(workdir, "evals", f"{m}@harmful{dose}"), list(harm_suite)
          )
  prog.finish("harmful", t)
  return {
    "clean": clean,
    "constant_best": constant_best,
    "persona": persona_records,
    "harmful": harmful_records,
    "summaries": summaries,
    "arms": arms,
    "workdir": workdir,
    "data_dir": data_dir,
    "stage_seconds": dict(stamps.state.get("seconds", {})),
    "judge": dict(judge["judge"].stats) if judge else None,
    "metrics": {
      a: _read_jsonl(os.path.join(rl_train.arm_dir(workdir, a), "metrics.jsonl")) for a in arms
    },
  }


def _read_jsonl(path: str) -> list[dict]:
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def run(cfg: ml_collections.ConfigDict, workdir: str, log=print) -> dict[str, Any]:
  """Every stage for every seed, then the report; returns report.json's content. With
  `grader.judge.serve` set, the judge is that checkpoint, served for the study's length."""
  with served_judge(cfg, log) as cfg:
    return _run(cfg, workdir, log)


def _run(cfg: ml_collections.ConfigDict, workdir: str, log=print) -> dict[str, Any]:
  t0 = time.perf_counter()
  if not parallel.is_lead():
    log = lambda *_: None  # noqa: E731 - one process's stage lines are the study's
  n, n_priors = cfg.study.seeds, cfg.study.prior_seeds
  wds = [workdir if n == 1 else os.path.join(workdir, f"seed_{k}") for k in range(n)]
  runs = []
  for k in range(n):
    scfg = ml_collections.ConfigDict(cfg.to_dict())
    scfg.seed = cfg.seed + k
    j = k % n_priors  # seeds 0..n_priors-1 build the priors; the rest reuse them
    if n > 1:
      log(f"[study] seed {scfg.seed} ({k + 1}/{n}) in {wds[k]}, prior {cfg.seed + j}")
    runs.append(run_one(scfg, wds[k], log, prior_seed=cfg.seed + j, prior_workdir=wds[j]))
  from btrl_jax.study import report as report_lib  # scipy and matplotlib load only here

  t = time.perf_counter()
  log(f"[study {len(STAGES)}/{len(STAGES)}] report")
  report = report_lib.build(cfg, runs, runtime_s=time.perf_counter() - t0)
  report["runtime_s"] = time.perf_counter() - t0
  if parallel.is_lead():
    report_lib.write(report, runs, workdir)
    with open(os.path.join(workdir, "report.json"), "w") as f:
      json.dump(report, f, indent=1)
  parallel.sync("btrl-report")
  log(f"  report: done in {time.perf_counter() - t:.1f} s; {workdir}/report.md")
  return report
