"""Reading and writing example JSONL (the DESIGN.md format), with errors by line number.

One example per line: `{"id", "eval", "family", "domain", "messages": [{"role",
"content"}], "rubric": [...], "tags"}`, optionally `"cluster"`: a string naming
the group of prompts whose scores move together (a template, a source
document); the statistics resample clusters, and an example without one is its
own cluster (the evaluator reads `example.get("cluster", example["id"])`, so
the field is left absent rather than filled in, and files round-trip as they
are). A malformed line raises `DataError` naming the file and line; nothing
is silently dropped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable

ROLES = ("system", "user", "assistant")


class DataError(ValueError):
  """A data file is malformed; the message names the file and line."""


def check_messages(messages, where: str) -> None:
  if not isinstance(messages, list) or not messages:
    raise DataError(f"{where}: 'messages' must be a non-empty list")
  for i, m in enumerate(messages):
    if (
      not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str)
    ):
      raise DataError(
        f"{where}: messages[{i}] must be {{'role': one of {'/'.join(ROLES)}, "
        f"'content': str}}, got {json.dumps(m)[:80]}"
      )


def write_examples(path: str | os.PathLike, examples: Iterable[dict]) -> int:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  n = 0
  with open(path, "w", encoding="utf-8") as f:
    for ex in examples:
      f.write(json.dumps(ex, ensure_ascii=False) + "\n")
      n += 1
  return n


# ------------------------------------------------------------------ import / export
# HealthBench's own field names -> the DESIGN.md names they are imported as.
HEALTHBENCH_FIELDS = {
  "prompt": "messages",
  "rubrics": "rubric",
  "prompt_id": "id",
  "example_tags": "tags",
}
_MAX_REPORTED = 20  # bad lines listed in one DataError; the rest are counted


def check_rubric(rubric, where: str) -> None:
  """Validates rubric items `{criterion: str, points: number, tags: [str], check?: dict}`.

  `check` (the programmatic grader's expression) is optional because real data
  is graded by a judge model from `criterion`; when present it must be a valid
  check over known moves, so a typo fails at import, not mid-run.
  """
  from btrl_jax.data.rubric import validate_check  # rubric -> moves; kept lazy, jsonl is a leaf

  if not isinstance(rubric, list):
    raise DataError(f"{where}: 'rubric' must be a list of items, got {type(rubric).__name__}")
  for i, it in enumerate(rubric):
    at = f"{where}: rubric[{i}]"
    if not isinstance(it, dict):
      raise DataError(f"{at} must be an object, got {json.dumps(it)[:60]}")
    unknown = sorted(set(it) - {"criterion", "points", "tags", "check"})
    if unknown:
      raise DataError(f"{at}: unknown fields {unknown} (allowed: criterion, points, tags, check)")
    if not isinstance(it.get("criterion"), str) or not it["criterion"].strip():
      raise DataError(f"{at}: 'criterion' must be a non-empty string")
    points = it.get("points")
    if (
      isinstance(points, bool)
      or not isinstance(points, (int, float))
      or points != points
      or points in (float("inf"), float("-inf"))
    ):
      raise DataError(f"{at}: 'points' must be a finite number, got {json.dumps(points)}")
    tags = it.get("tags")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
      raise DataError(f"{at}: 'tags' must be a list of strings, got {json.dumps(tags)[:60]}")
    if "check" in it:
      if not isinstance(it["check"], dict):
        raise DataError(f"{at}: 'check' must be an object, got {json.dumps(it['check'])[:60]}")
      try:
        validate_check(it["check"])
      except ValueError as e:
        raise DataError(f"{at}: bad check ({e})") from None


def normalize_example(raw, where: str) -> dict:
  """One example in DESIGN.md form, from DESIGN or HealthBench field names.

  Renames HealthBench fields, fills the optional fields (`eval`, `family`,
  `domain` -> None, `rubric`, `tags` -> []), checks the optional `cluster` (a
  non-empty string; absent means the example's id) and keeps any other field
  as it is, so nothing in the input is lost. Raises DataError naming `where`.
  """
  if not isinstance(raw, dict):
    raise DataError(f"{where}: expected a JSON object, got {type(raw).__name__}")
  ex = dict(raw)
  for theirs, ours in HEALTHBENCH_FIELDS.items():
    if theirs in ex:
      if ours in ex:
        raise DataError(f"{where}: both '{ours}' and HealthBench's '{theirs}' given; use one")
      ex[ours] = ex.pop(theirs)
  if not isinstance(ex.get("id"), str) or not ex["id"]:
    raise DataError(
      f"{where}: 'id' (or 'prompt_id') must be a non-empty string, got {json.dumps(ex.get('id'))}"
    )
  if "messages" not in ex:
    raise DataError(f"{where}: missing 'messages' (or HealthBench 'prompt')")
  check_messages(ex["messages"], where)
  for key in ("eval", "family", "domain"):
    ex.setdefault(key, None)
    if ex[key] is not None and not isinstance(ex[key], str):
      raise DataError(f"{where}: '{key}' must be a string or null, got {json.dumps(ex[key])[:60]}")
  if "cluster" in ex and (not isinstance(ex["cluster"], str) or not ex["cluster"]):
    raise DataError(
      f"{where}: 'cluster' must be a non-empty string, got {json.dumps(ex['cluster'])[:60]}"
    )
  ex.setdefault("rubric", [])
  ex.setdefault("tags", [])
  check_rubric(ex["rubric"], where)
  if not isinstance(ex["tags"], list) or not all(isinstance(t, str) for t in ex["tags"]):
    raise DataError(f"{where}: 'tags' (or 'example_tags') must be a list of strings")
  return ex


def import_examples(
  path: str | os.PathLike, check: Callable[[dict], str | None] | None = None
) -> list[dict]:
  """Reads and validates every line; raises one DataError listing all bad lines.

  `check(example)` adds the caller's own test (e.g. that a grader covers the example): a
  message it returns is one more bad line.

  Every malformed line is reported as `FILE:LINE: what is wrong` (the first
  20 verbatim, then a count); the error's `errors` attribute holds them all.
  Blank lines are skipped; any other line either imports or is reported.
  Duplicate ids are errors too: results are keyed by id downstream.
  """
  if not os.path.exists(path):
    raise DataError(f"{path}: no such file")
  out, errors, first_line = [], [], {}
  with open(path, encoding="utf-8") as f:
    for lineno, line in enumerate(f, 1):
      if not line.strip():
        continue
      where = f"{path}:{lineno}"
      try:
        try:
          raw = json.loads(line)
        except json.JSONDecodeError as e:
          raise DataError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from None
        ex = normalize_example(raw, where)
        if check is not None and (problem := check(ex)):
          raise DataError(f"{where}: {problem}")
        if ex["id"] in first_line:
          raise DataError(
            f"{where}: duplicate id {ex['id']!r} (first on line {first_line[ex['id']]})"
          )
        first_line[ex["id"]] = lineno
        out.append(ex)
      except DataError as e:
        errors.append(str(e))
  if errors:
    shown = errors[:_MAX_REPORTED]
    more = len(errors) - len(shown)
    err = DataError("\n".join(shown) + (f"\n... and {more} more bad lines" if more else ""))
    err.errors = errors
    raise err
  if not out:
    raise DataError(f"{path}: no examples")
  return out


def export_examples(path: str | os.PathLike, examples: Iterable[dict]) -> int:
  """Validates and writes examples in DESIGN.md form; returns the count.

  Validation runs before anything is written, and the file is replaced
  atomically, so an export either yields a file `import_examples` accepts or
  leaves the old file alone.
  """
  rows = [normalize_example(ex, f"{path}: example {i}") for i, ex in enumerate(examples)]
  tmp = f"{os.fspath(path)}.tmp"
  write_examples(tmp, rows)
  os.replace(tmp, path)
  return len(rows)
