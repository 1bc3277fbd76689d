"""`btrl data`: generate TraitWorld, write its TFDS datasets, train the tokenizer.

Datasets (array_record under `W/data/<name>/<version>/`, JSON records):
  btrl_prior       train            persona-mixture SFT corpus (the prior's data)
  btrl_rl_prompts  trait, standard  RL prompts: trait scenarios with rubrics (all
                                    domains; arms filter) and standard tasks with
                                    (partly flawed) verifier specs, train split
  btrl_harmful     train            harmful fine-tune conversations (attack split)

No eval dataset is built: the evaluator regenerates every eval from the registry
(evals/registry.py, `evaluator.load_suite`), the one source of eval truth, and a
test checks that the training and attack splits are disjoint from exactly that.
The tokenizer is trained on the training splits only (`TOKENIZER_SPLITS`: the
prior corpus and the RL prompts), never on eval or attack text, so no piece
exists because an eval or the harmful fine-tune data needed it; text outside its
pieces still encodes (byte fallback).

Everything is keyed by a hash of the data config, the seed and the generator
version: a second call with the same config reuses what is there; a changed
config rebuilds. Arm-only keys (trait fraction, domain filters, helpfulness
control) are not part of the key: every arm of a study reads the same data.
With several processes (one workdir every host sees), process 0 builds and the
others wait for it, then read what it wrote.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time

import ml_collections

from btrl_jax import parallel
from btrl_jax.data import corpus, world_checks
from btrl_jax.data import real as real_world
from btrl_jax.data.jsonl import export_examples, import_examples
from btrl_jax.data.pipeline import derive_seed, traitworld_rl_prompts
from btrl_jax.data.rubric import coverage
from btrl_jax.data.tfds_builders import build_dataset, read_dataset
from btrl_jax.tokenizer import Tokenizer

# 2: no btrl_evals; tokenizer on train text only. 3: TraitWorld 2 (issue 14): constructs,
# three-axis personas, format asks, the instruction-following control
GENERATOR_VERSION = "traitworld-3"
WORLD_CHECKS = "world_checks.json"
ARM_KEYS = ("trait_fraction", "trait_domains", "exclude_domains", "helpfulness_control")
SPLITS = {
  "btrl_prior": ("train",),
  "btrl_rl_prompts": ("trait", "standard"),
  "btrl_harmful": ("train",),
}
TOKENIZER_SPLITS = {"btrl_prior": ("train",), "btrl_rl_prompts": ("trait", "standard")}


@dataclasses.dataclass
class DataBuild:
  data_dir: str
  tokenizer_path: str
  counts: dict[str, dict[str, int]]
  seconds: float
  reused: bool


def splits_of(cfg: ml_collections.ConfigDict) -> dict[str, tuple[str, ...]]:
  """The datasets a config builds: a real world has no prior corpus (its prior is
  `model.checkpoint`) and trains no tokenizer (it has the checkpoint's)."""
  if cfg.data.world == "real":
    return {k: v for k, v in SPLITS.items() if k != "btrl_prior"}
  return dict(SPLITS)


def data_inputs(cfg: ml_collections.ConfigDict) -> dict:
  """What the datasets and the tokenizer depend on (the stamp records it; the key hashes it)."""
  out = {
    "data": {k: v for k, v in cfg.data.to_dict().items() if k not in ARM_KEYS},
    "seed": cfg.seed,
    "tokenizer": cfg.tokenizer.to_dict(),
    "generator": GENERATOR_VERSION,
  }
  if cfg.data.trait_file:  # the file's content, not only its name
    with open(cfg.data.trait_file, "rb") as f:
      out["trait_file_sha256"] = hashlib.sha256(f.read()).hexdigest()
  return out


def data_hash(cfg: ml_collections.ConfigDict) -> str:
  blob = json.dumps(data_inputs(cfg), sort_keys=True)
  return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _generators(cfg: ml_collections.ConfigDict):
  d, seed = cfg.data, cfg.seed
  rl = {}

  def rl_split(name):
    if not rl:
      rl.update(
        traitworld_rl_prompts(
          d.rl_trait_prompts,
          d.rl_standard_prompts,
          derive_seed(seed, "rl_prompts"),
          families=[f.strip() for f in d.task_families.split(",") if f.strip()],
        )
      )
      if d.trait_file:  # any JSONL of trait prompts, each line checked as it is read
        judge = d.world == "real" or bool(cfg.grader.judge.base_url or cfg.grader.judge.serve)
        rl["trait"] = import_examples(d.trait_file, check=lambda ex: coverage(ex, judge))
    return rl[name]

  gens = {
    "btrl_prior": {
      "train": lambda: corpus.prior_corpus(
        d.prior_size, derive_seed(seed, "prior"), d.prior_trait_fraction, d.prior_system_fraction
      )
    },
    "btrl_rl_prompts": {s: (lambda s=s: rl_split(s)) for s in SPLITS["btrl_rl_prompts"]},
    "btrl_harmful": {
      "train": lambda: corpus.harmful_corpus(d.harmful_size, derive_seed(seed, "harmful"))
    },
  }
  return {name: gens[name] for name in splits_of(cfg)}


def _texts(data_dir: str):
  """Every message of the training splits, for the tokenizer (no eval or attack text)."""
  for name, splits in TOKENIZER_SPLITS.items():
    for split in splits:
      for ex in read_dataset(name, split, data_dir):
        for m in ex["messages"]:
          yield m["content"]


def build(cfg: ml_collections.ConfigDict, workdir: str, source: str = "") -> DataBuild:
  """Builds (or reuses) every dataset and the tokenizer under `workdir`; `source` (the
  config's file, as given on the command line) goes into the stamp, for error messages."""
  t0 = time.perf_counter()
  data_dir = os.path.join(workdir, "data")
  stamp = os.path.join(data_dir, "build.json")
  if parallel.is_lead():
    result = _build(cfg, workdir, data_dir, stamp, source)
  parallel.sync("btrl-data-built")
  if parallel.is_lead():
    return result
  with open(stamp) as f:  # what process 0 built
    built = json.load(f)
  if built.get("key") != data_hash(cfg):
    raise RuntimeError(
      f"{stamp} does not hold this config's data: is the workdir shared by every process?"
    )
  return DataBuild(data_dir, built["tokenizer"], built["counts"], time.perf_counter() - t0, True)


def _build(
  cfg: ml_collections.ConfigDict, workdir: str, data_dir: str, stamp: str, source: str
) -> DataBuild:
  t0 = time.perf_counter()
  key = data_hash(cfg)
  real = cfg.data.world == "real"  # the checkpoint's own tokenizer: none to train
  tok_path = "" if real else cfg.tokenizer.path or os.path.join(workdir, "tokenizer.model")
  reused = (
    os.path.exists(stamp)
    and json.load(open(stamp)).get("key") == key
    and (real or os.path.exists(tok_path))
  )
  for name, splits in _generators(cfg).items():
    build_dataset(
      name,
      splits,
      data_dir,
      version=cfg.data.version,
      config_hash=key,
      description=f"TraitWorld {name} ({GENERATOR_VERSION})",
    )
  if not reused and not cfg.tokenizer.path and not real:
    Tokenizer.train(
      _texts(data_dir), cfg.tokenizer.vocab_size, cfg.tokenizer.model_type, path=tok_path
    )
  counts = {
    name: {s: len(read_dataset(name, s, data_dir)) for s in splits}
    for name, splits in splits_of(cfg).items()
  }
  checks_path = os.path.join(data_dir, WORLD_CHECKS)
  if not (reused and os.path.exists(checks_path)):
    # The world's design checks, fixed before any arm runs (data/world_checks.py): written
    # with the data so report.json's preregistration reads what held when the study began.
    checks = world_checks.design_checks()
    with open(checks_path, "w") as f:
      json.dump(checks, f, indent=1)
  with open(stamp, "w") as f:
    record = {"key": key, "counts": counts, "tokenizer": tok_path, "inputs": data_inputs(cfg)}
    json.dump(dict(record, config=source), f, indent=1)
  return DataBuild(data_dir, tok_path, counts, time.perf_counter() - t0, reused)


def export(cfg: ml_collections.ConfigDict, data_dir: str, out_dir: str) -> list[str]:
  """Writes every split as DESIGN.md JSONL: `out_dir/<dataset>.<split>.jsonl`; in a real
  world, the RL prompts as the model sees them and the judge grades them (data/real.py)."""
  paths = []
  view = real_world.render if cfg.data.world == "real" else dict
  for name, splits in splits_of(cfg).items():
    for split in splits:
      path = os.path.join(out_dir, f"{name}.{split}.jsonl")
      rows = [
        view(ex) if name == "btrl_rl_prompts" else ex for ex in read_dataset(name, split, data_dir)
      ]
      export_examples(path, rows)
      paths.append(path)
  return paths
