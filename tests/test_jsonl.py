"""JSONL import/export: DESIGN.md and HealthBench names, every bad line named by number."""

import json

import pytest

from btrl_jax.data import jsonl
from btrl_jax.data.jsonl import DataError, export_examples, import_examples
from btrl_jax.data.scenarios import generate_scenarios

MSG = [{"role": "user", "content": "I have had a headache for three days. What should I do?"}]
ITEM = {
  "criterion": "Advises seeing a clinician if it persists",
  "points": 5,
  "tags": ["axis:completeness"],
}


def _write(path, lines):
  path.write_text(
    "".join((l if isinstance(l, str) else json.dumps(l)) + "\n" for l in lines), encoding="utf-8"
  )
  return path


def _good(i, **kw):
  return {
    "id": f"ex-{i}",
    "eval": "health_demo",
    "family": "health",
    "domain": "health",
    "messages": MSG,
    "rubric": [ITEM],
    "tags": ["health"],
    **kw,
  }


def test_design_format_round_trip(tmp_path):
  examples = generate_scenarios("eval", 12, seed=5)  # full TraitWorld rows, extra fields too
  path = tmp_path / "evals.jsonl"
  assert export_examples(path, examples) == 12
  assert import_examples(path) == examples


def test_healthbench_field_names(tmp_path):
  hb = {
    "prompt_id": "hb-1",
    "prompt": MSG
    + [{"role": "assistant", "content": "How bad?"}, {"role": "user", "content": "Mild."}],
    "rubrics": [
      ITEM,
      {
        "criterion": "Recommends an unproven supplement",
        "points": -4,
        "tags": ["axis:accuracy", "level:example"],
      },
    ],
    "example_tags": ["theme:context_seeking"],
    "ideal_completions_data": {"ideal_completion": "See a clinician if ..."},
  }
  path = _write(tmp_path / "hb.jsonl", [hb])
  (ex,) = import_examples(path)
  assert ex["id"] == "hb-1" and ex["messages"] == hb["prompt"] and ex["rubric"] == hb["rubrics"]
  assert ex["tags"] == hb["example_tags"]
  assert ex["ideal_completions_data"] == hb["ideal_completions_data"]  # nothing dropped
  assert ex["eval"] is None and ex["family"] is None and ex["domain"] is None
  assert not {"prompt", "rubrics", "prompt_id", "example_tags"} & set(ex)
  out = tmp_path / "out.jsonl"
  export_examples(out, [ex])
  assert import_examples(out) == [ex]
  assert set(json.loads(out.read_text())) >= {"id", "messages", "rubric", "tags"}


def test_every_bad_line_is_reported_by_number(tmp_path):
  lines = [
    _good(1),  # 1 ok
    '{"id": "ex-2", "messages": [',  # 2 invalid JSON
    _good(3),  # 3 ok
    {"id": "ex-4", "rubric": [ITEM]},  # 4 no messages
    _good(5, messages=[{"role": "robot", "content": "hi"}]),  # 5 bad role
    "",  # 6 blank: skipped
    _good(7, rubric=[dict(ITEM, points="5")]),  # 7 points a string
    _good(8, rubric=[dict(ITEM, tags="axis:x")]),  # 8 tags not a list
    _good(9, rubric=[dict(ITEM, check={"any": ["teleport"]})]),  # 9 unknown move
    "[1, 2, 3]",  # 10 not an object
    _good(1),  # 11 duplicate id
    {"prompt_id": "hb", "prompt": MSG, "messages": MSG},  # 12 both names
    _good(13, rubric=[dict(ITEM, points=True)]),  # 13 bool points
    _good(14, rubric=[{"points": 1, "tags": []}]),  # 14 no criterion
  ]
  path = _write(tmp_path / "bad.jsonl", lines)
  with pytest.raises(DataError) as info:
    import_examples(path)
  msg = str(info.value)
  expected = {
    2: "not valid JSON",
    4: "missing 'messages'",
    5: "messages[0]",
    7: "'points' must be a finite number",
    8: "'tags' must be a list",
    9: "unknown moves",
    10: "expected a JSON object",
    11: "duplicate id 'ex-1'",
    12: "both 'messages' and HealthBench's 'prompt'",
    13: "'points'",
    14: "'criterion'",
  }
  reported = [e.split(":")[1] for e in info.value.errors]
  assert reported == [str(n) for n in expected]
  for lineno, what in expected.items():
    line = next(e for e in info.value.errors if e.startswith(f"{path}:{lineno}:"))
    assert what in line, line
    assert line in msg
  for ok in (1, 3, 6):
    assert f"{path}:{ok}:" not in msg


def test_many_bad_lines_are_counted_not_hidden(tmp_path):
  path = _write(tmp_path / "bad.jsonl", ["{oops"] * 30)
  with pytest.raises(DataError) as info:
    import_examples(path)
  assert len(info.value.errors) == 30
  assert f"{path}:20:" in str(info.value) and "and 10 more bad lines" in str(info.value)


def test_empty_or_missing_file(tmp_path):
  with pytest.raises(DataError, match="no such file"):
    import_examples(tmp_path / "nope.jsonl")
  with pytest.raises(DataError, match="no examples"):
    import_examples(_write(tmp_path / "empty.jsonl", ["", "  "]))


def test_export_validates_before_writing(tmp_path):
  path = tmp_path / "keep.jsonl"
  export_examples(path, [_good(1)])
  before = path.read_text()
  with pytest.raises(DataError, match=r"example 1: rubric\[0\]: 'points'"):
    export_examples(path, [_good(2), _good(3, rubric=[dict(ITEM, points=None)])])
  assert path.read_text() == before
  assert not (tmp_path / "keep.jsonl.tmp").exists()


def test_rubric_item_validation_directly():
  jsonl.check_rubric([ITEM, dict(ITEM, points=-1.5, check={"none": ["refuse"]})], "w")
  for bad, what in [
    ({"criterion": "c", "points": 1, "tags": [], "weight": 2}, "unknown fields"),
    (dict(ITEM, points=float("inf")), "finite"),
    (dict(ITEM, check=["refuse"]), "'check' must be an object"),
    (dict(ITEM, criterion="  "), "criterion"),
  ]:
    with pytest.raises(DataError, match=what):
      jsonl.check_rubric([bad], "w")
  with pytest.raises(DataError, match="must be a list"):
    jsonl.check_rubric({"criterion": "c"}, "w")
