"""TFDS datasets of JSON records in array_record files, built and read without TensorFlow.

Every record is one example serialised as UTF-8 JSON in a single
`tfds.features.Text()` field named `json`. Why not typed TFDS features: rubric
items carry nested `check` expressions, verifier specs differ per task family,
and imported data may carry extra fields. A FeaturesDict would force one schema
on all of them (ragged nested lists of dicts do not map onto TFDS features
without padding conventions), while a JSON string keeps every example exactly
as generated and lets the reader get back `==`-equal dicts. TFDS still supplies
the parts we want: versioned directories, `dataset_info.json` with split sizes,
atomic writes (it builds into `incomplete.*` and renames), array_record shards
and `tfds.data_source` random access (what grain reads).

What works without TensorFlow in tfds 4.9.10 (checked with TF absent):
`GeneratorBasedBuilder` + `file_format="array_record"` +
`download_and_prepare()` writes the shards (TFDS's example serializer no longer
needs TF for this feature); `tfds.data_source(name, split=, data_dir=)` reads
them back, also in a process that never defined the builder class (it falls
back to the files). What does not: `dataset_info_from_configs()` (it looks for
package metadata next to the builder's source file), so `_info` builds a
`DatasetInfo` directly. TFDS shuffles records by key hash unless
`disable_shuffling=True`; we disable it so record i is example i of the split.

Datasets of the study (names are conventions of `btrl data`, not enforced):
`btrl_prior` (SFT conversations, split `train`), `btrl_rl_prompts` (splits
`trait` and `standard`: rubric-graded trait prompts and verifier-graded
standard tasks), `btrl_harmful` (harmful fine-tune conversations). Evals are
not stored: the evaluator regenerates them from the registry. The builder
itself is generic.

Idempotence: the build key (the caller's `config_hash`, else a SHA-256 of the
split names and every serialised record) is stored in the dataset's
`metadata.json`. A second build with the same key returns the existing path
without touching a file; a different key deletes the version directory and
rebuilds. Passing `config_hash` with zero-argument callables as split values
skips generating the examples at all when the dataset is current. Builds are
not locked: on multi-host runs let one process build, then barrier.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import tensorflow_datasets as tfds

from btrl_jax.data.jsonl import DataError

RECORD_FIELD = "json"
HASH_KEY = "content_hash"
STUDY_DATASETS = ("btrl_prior", "btrl_rl_prompts", "btrl_harmful")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

SplitSource = Sequence[dict] | Callable[[], Iterable[dict]]


class _JsonRecordsBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Writes pre-serialised JSON strings, one record each, in the given order.

  Subclassed per dataset name by `_builder_class` (TFDS takes the name and the
  version from class attributes); `skip_registration` keeps these throwaway
  classes out of the global TFDS registry, so the same name can be rebuilt.
  """

  VERSION = tfds.core.Version("1.0.0")

  def __init__(
    self, *, records: Mapping[str, list[str]], build_key: str, description: str, **kwargs
  ):
    self._records = records
    self._build_key = build_key
    self._description = description
    super().__init__(**kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
      builder=self,
      description=self._description,
      features=tfds.features.FeaturesDict({RECORD_FIELD: tfds.features.Text()}),
      disable_shuffling=True,  # record i == example i of the split
      metadata=tfds.core.MetadataDict({HASH_KEY: self._build_key}),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download: examples are generated in process
    return {split: self._generate_examples(recs) for split, recs in self._records.items()}

  def _generate_examples(self, records: list[str]):
    for i, rec in enumerate(records):
      yield i, {RECORD_FIELD: rec}


def _builder_class(name: str, version: str) -> type[_JsonRecordsBuilder]:
  camel = "".join(part.title() for part in name.split("_"))
  return types.new_class(
    camel,
    (_JsonRecordsBuilder,),
    {"skip_registration": True},
    lambda ns: ns.update(name=name, VERSION=tfds.core.Version(version)),
  )


def dataset_path(name: str, data_dir: str | os.PathLike, version: str = "1.0.0") -> str:
  """Where `build_dataset` puts a dataset: `data_dir/name/version`."""
  return os.path.join(os.fspath(data_dir), name, version)


def stored_key(path: str | os.PathLike) -> str | None:
  """The build key of a finished dataset directory, or None if there is none."""
  meta = os.path.join(path, "metadata.json")
  if not os.path.exists(os.path.join(path, "dataset_info.json")) or not os.path.exists(meta):
    return None
  with open(meta, encoding="utf-8") as f:
    return json.load(f).get(HASH_KEY)


def _encode(ex: Any, where: str) -> str:
  if not isinstance(ex, dict):
    raise DataError(f"{where}: expected a dict, got {type(ex).__name__}")
  try:
    return json.dumps(ex, ensure_ascii=False, allow_nan=False)
  except (TypeError, ValueError) as e:
    raise DataError(f"{where}: not JSON-serialisable ({e})") from None


def _check_names(name: str, splits: Mapping[str, Any]) -> None:
  if not _NAME.match(name):
    raise ValueError(f"dataset name {name!r} must be snake_case ([a-z][a-z0-9_]*)")
  if not splits:
    raise ValueError(f"dataset {name}: no splits given")
  for split in splits:
    if not _NAME.match(split):
      raise ValueError(f"dataset {name}: split name {split!r} must be snake_case")


def build_dataset(
  name: str,
  splits: Mapping[str, SplitSource],
  data_dir: str | os.PathLike,
  version: str = "1.0.0",
  config_hash: str | None = None,
  description: str = "",
) -> str:
  """Builds (or reuses) `data_dir/name/version` and returns that path.

  `splits` maps split names to examples (JSON-able dicts), or to zero-argument
  callables returning them. With `config_hash`, a current dataset is detected
  before any callable runs; without it, the key is the content hash.
  """
  _check_names(name, splits)
  path = dataset_path(name, data_dir, version)
  key = None
  if config_hash is not None:
    key = f"config:{config_hash}|splits:{','.join(sorted(splits))}"
    if stored_key(path) == key:
      return path
  records: dict[str, list[str]] = {}
  for split, source in splits.items():
    examples = source() if callable(source) else source
    records[split] = [_encode(ex, f"{name}/{split}[{i}]") for i, ex in enumerate(examples)]
    if not records[split]:
      raise ValueError(f"dataset {name}: split {split!r} has no examples")
  if key is None:
    digest = hashlib.sha256()
    for split in sorted(records):
      digest.update(f"\0split:{split}:{len(records[split])}\0".encode())
      for rec in records[split]:
        digest.update(rec.encode("utf-8") + b"\n")
    key = f"content:{digest.hexdigest()}"
    if stored_key(path) == key:
      return path
  if os.path.exists(path):
    shutil.rmtree(path)  # stale build: a different key for the same version
  builder = _builder_class(name, version)(
    records=records,
    build_key=key,
    description=description or f"btrl-jax dataset {name}",
    data_dir=os.fspath(data_dir),
    file_format=tfds.core.FileFormat.ARRAY_RECORD,
  )
  # Nothing is downloaded, but TFDS still creates a download dir; keep it out of data_dir.
  with tempfile.TemporaryDirectory(prefix="btrl_tfds_dl_") as dl_dir:
    tfds.disable_progress_bar()  # our callers show their own progress
    with contextlib.redirect_stdout(io.StringIO()):  # TFDS prints "Downloading and preparing"
      builder.download_and_prepare(download_dir=dl_dir)
  return path


class JsonRecords(Sequence):
  """Random access to one split: `len()`, `[i]` -> the example dict, slices -> lists.

  Wraps the `tfds.data_source` of the split and decodes each record's JSON.
  Implements grain's batched-read protocol (`_getitems`) so grain fetches a
  batch of indices in one array_record call.
  """

  def __init__(self, source: Any, name: str, split: str):
    self._source = source
    self.name, self.split = name, split
    self._len = len(source)

  def __len__(self) -> int:
    return self._len

  def _index(self, i: int) -> int:
    i = int(i)
    if i < 0:
      i += self._len
    if not 0 <= i < self._len:
      raise IndexError(f"{self.name}/{self.split}: index {i} out of range ({self._len})")
    return i

  def __getitem__(self, index):
    if isinstance(index, slice):
      return self._getitems(range(*index.indices(self._len)))
    return json.loads(self._source[self._index(index)][RECORD_FIELD])

  def _getitems(self, indices: Iterable[int]) -> list[dict]:
    keys = [self._index(i) for i in indices]
    if not keys:
      return []
    return [json.loads(rec[RECORD_FIELD]) for rec in self._source.__getitems__(keys)]

  def __repr__(self) -> str:
    return f"JsonRecords({self.name}/{self.split}, n={self._len})"


def read_dataset(
  name: str, split: str, data_dir: str | os.PathLike, version: str | None = None
) -> JsonRecords:
  """Random-access source of decoded example dicts (no TensorFlow needed)."""
  if not os.path.isdir(os.path.join(os.fspath(data_dir), name)):
    raise DataError(f"{data_dir}: no dataset {name!r} (build it first, e.g. `btrl data`)")
  spec = f"{name}:{version}" if version else name
  try:
    source = tfds.data_source(spec, split=split, data_dir=os.fspath(data_dir))
  except (ValueError, KeyError, tfds.core.registered.DatasetNotFoundError) as e:
    raise DataError(f"{data_dir}: cannot read {spec} split {split!r}: {e}") from None
  return JsonRecords(source, name, split)
