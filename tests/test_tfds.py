"""TFDS array_record datasets: exact round trip, idempotent builds, TensorFlow not needed."""

import json
import os
import subprocess
import sys

import pytest

from btrl_jax.data import tfds_builders as tb
from btrl_jax.data.jsonl import DataError
from btrl_jax.data.pipeline import traitworld_rl_prompts

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def splits():
  return traitworld_rl_prompts(n_trait=120, n_standard=200, seed=3)


def _mtimes(path):
  return {
    f: (os.stat(os.path.join(path, f)).st_mtime_ns, os.stat(os.path.join(path, f)).st_ino)
    for f in sorted(os.listdir(path))
  }


# Runs with TensorFlow made unimportable (whether or not it is installed here): builds a
# dataset, reads it back through tfds.data_source (array_record) and grain; prints JSON.
_NO_TF_CHILD = r"""
import importlib.abc, importlib.util, json, sys

def _is_tf(name):
  return name.split(".")[0] == "tensorflow"

class _NoTensorFlow(importlib.abc.MetaPathFinder):  # `import tensorflow` fails ...
  def find_spec(self, name, path=None, target=None):
    if _is_tf(name):
      raise ModuleNotFoundError(f"No module named {name!r}", name=name)

_find_spec = importlib.util.find_spec  # ... and probing for it says it is not installed
importlib.util.find_spec = lambda name, *a: None if _is_tf(name) else _find_spec(name, *a)
sys.meta_path.insert(0, _NoTensorFlow())
import grain
from btrl_jax.data import tfds_builders as tb
examples = [{"id": str(i), "messages": [{"role": "user", "content": "x" * i}]} for i in range(5)]
tb.build_dataset("btrl_toy", {"train": examples}, sys.argv[1])
records = tb.read_dataset("btrl_toy", "train", sys.argv[1])
via_grain = list(grain.MapDataset.source(records).batch(2, batch_fn=list)[1])
print(json.dumps({
  "same": list(records) == examples,
  "grain": via_grain == examples[2:4],
  "source": type(records._source).__name__,
  "tf_loaded": any(_is_tf(m) for m in sys.modules),
}))
"""


def test_build_and_read_work_without_tensorflow(tmp_path):
  # tensorflow-datasets is used for array_record only; TF must be optional, not forbidden.
  r = subprocess.run(
    [sys.executable, "-c", _NO_TF_CHILD, str(tmp_path)],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert r.returncode == 0, r.stderr[-3000:]
  out = json.loads(r.stdout.strip().splitlines()[-1])
  assert out == {"same": True, "grain": True, "source": out["source"], "tf_loaded": False}
  assert "ArrayRecord" in out["source"]  # random access over array_record, not a tf.data pipeline


def test_build_then_read_equals_generated(tmp_path, splits):
  path = tb.build_dataset("btrl_rl_prompts", splits, tmp_path)
  assert path == os.path.join(str(tmp_path), "btrl_rl_prompts", "1.0.0")
  assert any(f.startswith("btrl_rl_prompts-trait.array_record") for f in os.listdir(path))
  for split, examples in splits.items():
    records = tb.read_dataset("btrl_rl_prompts", split, tmp_path)
    assert len(records) == len(examples)
    assert list(records) == examples  # every field, in generation order
    assert records[-1] == examples[-1] and records[3:7] == examples[3:7]
    assert records._getitems([5, 0, 5]) == [examples[5], examples[0], examples[5]]
    with pytest.raises(IndexError):
      records[len(examples)]
  first = tb.read_dataset("btrl_rl_prompts", "trait", tmp_path)[0]
  assert isinstance(first["rubric"][0]["points"], float) and "check" in first["rubric"][0]
  assert "verifier" in tb.read_dataset("btrl_rl_prompts", "standard", tmp_path)[0]


def test_unicode_and_nested_values_round_trip(tmp_path):
  ex = {
    "id": "ü-1",
    "messages": [{"role": "user", "content": "naïve café 😀 \u2028 end"}],
    "rubric": [
      {"criterion": "x", "points": -2.5, "tags": [], "check": {"not": {"any": ["refuse"]}}}
    ],
    "nested": {"a": [1, 2.0, None, True, {"b": []}]},
    "big": 2**60,
    "tiny": 1e-300,
  }
  tb.build_dataset("btrl_toy", {"eval": [ex]}, tmp_path)
  assert tb.read_dataset("btrl_toy", "eval", tmp_path)[0] == ex


def test_second_build_reuses_without_rewriting(tmp_path, splits):
  path = tb.build_dataset("btrl_rl_prompts", splits, tmp_path)
  before = _mtimes(path)
  assert tb.build_dataset("btrl_rl_prompts", splits, tmp_path) == path
  assert _mtimes(path) == before
  assert sorted(os.listdir(tmp_path)) == ["btrl_rl_prompts"]  # no download dir left behind


def test_config_hash_skips_generation_when_current(tmp_path, splits):
  calls = []

  def trait():
    calls.append(1)
    return splits["trait"]

  path = tb.build_dataset("btrl_prior", {"train": trait}, tmp_path, config_hash="abc")
  assert calls == [1]
  before = _mtimes(path)
  assert tb.build_dataset("btrl_prior", {"train": trait}, tmp_path, config_hash="abc") == path
  assert calls == [1] and _mtimes(path) == before  # the generator never ran again


def test_different_hash_rebuilds(tmp_path, splits):
  path = tb.build_dataset("btrl_harmful", {"train": splits["trait"][:10]}, tmp_path)
  key = tb.stored_key(path)
  new = splits["trait"][10:15]
  assert tb.build_dataset("btrl_harmful", {"train": new}, tmp_path) == path
  assert tb.stored_key(path) != key
  assert list(tb.read_dataset("btrl_harmful", "train", tmp_path)) == new
  tb.build_dataset("btrl_harmful", {"train": new}, tmp_path, config_hash="v2")
  assert tb.stored_key(path).startswith("config:v2")
  with pytest.raises(DataError, match="split"):
    tb.read_dataset("btrl_harmful", "eval", tmp_path)


def test_versions_live_side_by_side(tmp_path, splits):
  a = tb.build_dataset("btrl_toy", {"eval": splits["trait"][:3]}, tmp_path, version="1.0.0")
  b = tb.build_dataset("btrl_toy", {"eval": splits["trait"][3:5]}, tmp_path, version="1.1.0")
  assert a != b and os.path.isdir(a) and os.path.isdir(b)
  assert len(tb.read_dataset("btrl_toy", "eval", tmp_path, version="1.0.0")) == 3
  assert len(tb.read_dataset("btrl_toy", "eval", tmp_path)) == 2  # latest version


def test_bad_inputs_are_named(tmp_path):
  with pytest.raises(DataError, match=r"btrl_toy/eval\[1\]: not JSON-serialisable"):
    tb.build_dataset("btrl_toy", {"eval": [{"id": "a"}, {"id": object()}]}, tmp_path)
  with pytest.raises(DataError, match=r"btrl_toy/eval\[0\]: not JSON-serialisable"):
    tb.build_dataset("btrl_toy", {"eval": [{"x": float("nan")}]}, tmp_path)
  with pytest.raises(ValueError, match="no examples"):
    tb.build_dataset("btrl_toy", {"eval": []}, tmp_path)
  with pytest.raises(ValueError, match="snake_case"):
    tb.build_dataset("btrl_toy", {"bad-split": [{"id": "a"}]}, tmp_path)
  with pytest.raises(DataError, match="no dataset 'btrl_nothing'"):
    tb.read_dataset("btrl_nothing", "train", tmp_path)
