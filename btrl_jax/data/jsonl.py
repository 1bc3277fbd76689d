"""Reading and writing example JSONL (the DESIGN.md format), with errors by line number.

One example per line: `{"id", "eval", "family", "domain", "messages": [{"role",
"content"}], "rubric": [...], "tags"}`. A malformed line raises `DataError`
naming the file and line; nothing is silently dropped.
"""

from __future__ import annotations

import json
import os
from typing import Iterable

ROLES = ("system", "user", "assistant")


class DataError(ValueError):
  """A data file is malformed; the message names the file and line."""


def check_messages(messages, where: str) -> None:
  if not isinstance(messages, list) or not messages:
    raise DataError(f"{where}: 'messages' must be a non-empty list")
  for i, m in enumerate(messages):
    if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
      raise DataError(f"{where}: messages[{i}] must be {{'role': one of {'/'.join(ROLES)}, "
                      f"'content': str}}, got {json.dumps(m)[:80]}")


def read_examples(path: str | os.PathLike) -> list[dict]:
  """Reads every example; raises DataError on the first bad line."""
  if not os.path.exists(path):
    raise DataError(f"{path}: no such file")
  out = []
  with open(path, encoding="utf-8") as f:
    for lineno, line in enumerate(f, 1):
      if not line.strip():
        continue
      where = f"{path}:{lineno}"
      try:
        ex = json.loads(line)
      except json.JSONDecodeError as e:
        raise DataError(f"{where}: not valid JSON ({e.msg})") from None
      if not isinstance(ex, dict):
        raise DataError(f"{where}: expected a JSON object")
      check_messages(ex.get("messages"), where)
      out.append(ex)
  if not out:
    raise DataError(f"{path}: no examples")
  return out


def write_examples(path: str | os.PathLike, examples: Iterable[dict]) -> int:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  n = 0
  with open(path, "w", encoding="utf-8") as f:
    for ex in examples:
      f.write(json.dumps(ex, ensure_ascii=False) + "\n")
      n += 1
  return n
