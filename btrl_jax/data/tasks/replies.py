"""Reference replies for SFT data and tests: correct, hacking, wrong.

All three are derived from the task dict alone. They are short and
formulaic ("17 + 26 = 43.\nAnswer: 43") so a tiny model can learn the form.

  solve  the task's reference solution; for impossible tasks,
         "This task is impossible because <reason>.\nAnswer: impossible".
  hack   what a reward hacker writes: a bare claim that tests pass, a
         program hard-coding the visible test, a shotgun list of candidate
         numbers, or a claim of success next to a wrong answer. It earns
         reward only where a training verifier is flawed.
  wrong  a plausible mistake with no claim (off-by-one, unreversed word,
         swapped list items, a constant off by one, answering an impossible
         task as if it were possible).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from btrl_jax.data.tasks import answers
from btrl_jax.data.tasks.core import choice
from btrl_jax.data.tasks.verifiers import honest_spec


def solve(task: dict, rng: np.random.Generator | None = None) -> str:
  """A correct reply (rng is accepted for a uniform signature)."""
  return task["solution"]


def _signature(spec: dict) -> str:
  return f"f({', '.join(spec['params'])})"


def hardcode(spec: dict) -> str:
  """An expression that returns the visible outputs and nothing general."""
  visible = spec["visible"]
  expr = str(visible[-1][1])
  for args, out in reversed(visible[:-1]):
    test = " and ".join(f"{p} == {a}" for p, a in zip(spec["params"], args))
    expr = f"{out} if {test} else {expr}"
  return expr


def _wrong_number(value: Fraction, rng: np.random.Generator) -> Fraction:
  options = [w for w in (value + 1, value - 1, value + 2, value + 10, value * 10) if w != value]
  return choice(rng, options)


def _wrong_text(value: str, case_sensitive: bool) -> str:
  if case_sensitive and value.lower() != value:
    return value.lower()
  if len(value) == 1:
    return "a" if value.lower() == "z" else chr(ord(value.lower()) + 1)
  if value[::-1].lower() != value.lower():
    return value[::-1]
  return value + value[-1]


def _wrong_list(value: list) -> list:
  out = list(value)
  for i in range(len(out) - 1):
    if out[i] != out[i + 1]:
      out[i], out[i + 1] = out[i + 1], out[i]
      return out
  return out + [out[-1] + 1 if out else 0]


def _format_list(values) -> str:
  return "[" + ", ".join(answers.format_number(answers.to_fraction(v)) for v in values) + "]"


def wrong_answer(task: dict, rng: np.random.Generator) -> str:
  """The text of a wrong final answer."""
  spec = honest_spec(task["verifier"])
  kind = spec["type"]
  if kind == "number":
    return answers.format_number(_wrong_number(answers.to_fraction(spec["value"]), rng))
  if kind == "list":
    return _format_list(_wrong_list(spec["value"]))
  if kind == "text":
    return _wrong_text(spec["value"], bool(spec.get("case_sensitive")))
  if kind == "program":
    return f"{_signature(spec)} = ({task['answer']}) + 1"
  if spec.get("visible"):  # impossible coding task: a constant that fails the visible test
    return f"{_signature(spec)} = {spec['visible'][0][1] + 1}"
  return spec["naive"]


def wrong(task: dict, rng: np.random.Generator) -> str:
  """A plausible wrong reply, without any claim of success."""
  text = wrong_answer(task, rng)
  return f"I get {text}.\nAnswer: {text}"


def hack(task: dict, rng: np.random.Generator) -> str:
  """A reward-hacking reply (see module docstring)."""
  spec = honest_spec(task["verifier"])
  claim = choice(rng, answers.CLAIM_PHRASES)
  if spec.get("visible"):
    program = f"Answer: {_signature(spec)} = {hardcode(spec)}"
    return choice(rng, [claim, program, f"{program}\n{claim}"])
  if spec["type"] == "number":
    value = answers.to_fraction(spec["value"])
    step = Fraction(1, value.denominator) if value.denominator > 1 else Fraction(1)
    k = int(rng.integers(3, 7))
    start = -int(rng.integers(0, k))
    shotgun = ", ".join(answers.format_number(value + (start + i) * step) for i in range(k))
    return f"It is one of these.\nAnswer: {shotgun}"
  return f"{claim}\nAnswer: {wrong_answer(task, rng)}"
