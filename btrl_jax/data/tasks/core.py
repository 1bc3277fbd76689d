"""Task records, the family registry, the train/eval partition, generation.

A family is a function `make(rng, level, impossible) -> Problem` that draws
one problem with its honest verifier spec and a formulaic correct reply.
`generate_tasks` turns problems into JSON-serialisable task dicts:

    {"id", "family", "level", "split", "messages": [{"role": "user",
     "content"}], "answer", "verifier", "tags", "solution"}

`solution` is the reference reply (what `solve` returns); it is never shown
to the policy. The split of a problem is a hash of its normalised prompt
text (25% eval), so train and eval prompts are disjoint by construction
and every family draws both splits from one distribution (eval measures
held-out capability, not a shifted one). Train tasks of families with a
registered flaw get that flawed verifier; eval tasks are always honest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from btrl_jax.data.tasks import answers

SPLITS = ("train", "eval")
LEVELS = (1, 2, 3)
EVAL_FRACTION = 0.25
_MAX_DRAWS = 400
_MAX_REPEAT_DRAWS = 8  # in-split draws spent looking for an unseen prompt


@dataclasses.dataclass(frozen=True)
class Problem:
  prompt: str
  answer: Any  # JSON value: number, string, list, or "impossible"
  spec: dict  # honest verifier spec
  solution: str  # formulaic correct reply
  template: str  # template name, kept as a tag


@dataclasses.dataclass(frozen=True)
class Family:
  name: str
  make: Callable[[np.random.Generator, int, bool], Problem]
  flaw: Callable[[dict], dict | None] | None = None  # honest spec -> train spec
  has_impossible: bool = True


FAMILIES: dict[str, Family] = {}


def register_family(name: str, flaw=None, has_impossible: bool = True):
  def wrap(make):
    FAMILIES[name] = Family(name, make, flaw, has_impossible)
    return make

  return wrap


def number_problem(prompt: str, value, working: str, template: str) -> Problem:
  value = answers.json_number(value)
  return Problem(
    prompt,
    value,
    {"type": "number", "value": value},
    f"{working}\nAnswer: {answers.format_number(answers.to_fraction(value))}",
    template,
  )


def impossible_problem(prompt: str, reason: str, template: str, naive: str, **extra) -> Problem:
  """`naive` is the plausible answer a careless solver gives (for `wrong`)."""
  spec = {"type": "impossible", "reason": reason, "naive": naive, **extra}
  return Problem(
    prompt,
    "impossible",
    spec,
    f"This task is impossible because {reason}.\nAnswer: impossible",
    template,
  )


def choice(rng: np.random.Generator, items):
  return items[int(rng.integers(len(items)))]


def split_of(prompt: str) -> str:
  """The split a prompt belongs to: a hash of its normalised text."""
  key = " ".join(prompt.lower().split())
  bucket = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 2**32
  return "eval" if bucket < EVAL_FRACTION else "train"


def _task(family: Family, split: str, level: int, problem: Problem, task_id: str) -> dict:
  flawed_spec = family.flaw(problem.spec) if split == "train" and family.flaw else None
  flawed = flawed_spec is not None
  spec = flawed_spec if flawed else problem.spec
  impossible = problem.spec["type"] == "impossible"
  tags = [
    family.name,
    f"level{level}",
    split,
    problem.template,
    "impossible" if impossible else "possible",
  ]
  if flawed:
    tags.append("flawed_verifier")
  return {
    "id": task_id,
    "family": family.name,
    "level": level,
    "split": split,
    "messages": [{"role": "user", "content": problem.prompt}],
    "answer": problem.answer,
    "verifier": spec,
    "tags": tags,
    "solution": problem.solution,
  }


def generate_tasks(
  family: str, split: str, n: int, seed: int, level: int | None = None, impossible: bool = False
) -> list[dict]:
  """`n` tasks of one family and split, a pure function of the arguments.

  level=None draws each task's level uniformly from 1-3. impossible=True
  draws only impossible variants (honest reply: say it cannot be done).
  Each task takes up to 8 in-split draws to find a prompt not yet used in
  this call; once a level's problem space runs thin a repeat is kept, with
  an id ending "-rK".
  """
  if family not in FAMILIES:
    raise ValueError(f"unknown task family {family!r}; known: {sorted(FAMILIES)}")
  if split not in SPLITS:
    raise ValueError(f"unknown split {split!r}; known: {SPLITS}")
  if level is not None and level not in LEVELS:
    raise ValueError(f"level must be one of {LEVELS} or None, got {level!r}")
  fam = FAMILIES[family]
  if impossible and not fam.has_impossible:
    raise ValueError(f"family {family!r} has no impossible variants")
  rng = np.random.default_rng(
    [seed, zlib.crc32(family.encode()), SPLITS.index(split), level or 0, int(impossible)]
  )
  tasks, seen = [], {}
  for _ in range(n):
    lv = level if level is not None else int(rng.integers(1, 4))
    chosen, in_split = None, 0
    for _ in range(_MAX_DRAWS):
      problem = fam.make(rng, lv, impossible)
      if split_of(problem.prompt) != split:
        continue
      chosen, in_split = problem, in_split + 1
      if problem.prompt not in seen or in_split >= _MAX_REPEAT_DRAWS:
        break
    if chosen is None:
      raise RuntimeError(f"no {split} prompt in {_MAX_DRAWS} draws ({family}, level {lv})")
    digest = hashlib.sha256(chosen.prompt.encode()).hexdigest()[:10]
    repeat = seen.get(chosen.prompt, 0)
    seen[chosen.prompt] = repeat + 1
    task_id = f"{family}-{split}-L{lv}-{digest}" + (f"-r{repeat}" if repeat else "")
    tasks.append(_task(fam, split, lv, chosen, task_id))
  return tasks


def is_impossible(task: dict) -> bool:
  return task["verifier"].get("honest", task["verifier"])["type"] == "impossible"
