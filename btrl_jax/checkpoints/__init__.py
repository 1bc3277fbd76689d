"""Real checkpoints in: Hugging Face directories, GGUF files and named offline models.

A checkpoint reference (`model.checkpoint`, `btrl sample --checkpoint`) is one of

  hf:DIR        a Hugging Face model directory (hf_dir.py)
  gguf:FILE     a GGUF file (gguf_file.py)
  NAME          a named offline model (named.py), e.g. smollm2-135m-instruct

`load(ref, mesh)` returns the model config (from the checkpoint's own metadata), the
decoder's graphdef and its parameters placed on `mesh` one at a time (convert.py), and the
model's tokenizer with its chat template (hf_tokenizer.py).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import ml_collections
from flax import nnx

from btrl_jax.checkpoints.convert import CheckpointError
from btrl_jax.checkpoints.hf_tokenizer import ChatTokenizer, TemplateError

__all__ = [
  "CheckpointError",
  "ChatTokenizer",
  "Imported",
  "TemplateError",
  "is_reference",
  "load",
  "open_source",
  "resolve",
  "tokenizer",
  "tokenizer_from_meta",
]

PREFIXES = ("hf:", "gguf:")


def is_reference(ref: str) -> bool:
  """Whether `ref` names an importable checkpoint (not a btrl run directory)."""
  from btrl_jax.checkpoints import named

  return ref.startswith(PREFIXES) or ref in named.MODELS


def open_source(ref: str):
  """The HFDirectory or GGUFFile that `ref` names (a named model is fetched first)."""
  from btrl_jax.checkpoints import gguf_file, hf_dir, named

  if ref in named.MODELS:
    ref = "gguf:" + named.fetch(ref)
  if ref.startswith("hf:"):
    path = ref[3:]
    if not os.path.isdir(path) and "/" in path and not path.startswith((".", "/")):
      path = _download(path)
    return hf_dir.HFDirectory(path)
  if ref.startswith("gguf:"):
    return gguf_file.GGUFFile(ref[5:])
  raise CheckpointError(
    f"checkpoint reference {ref!r}: expected hf:DIR, gguf:FILE or one of {sorted(named.MODELS)}"
  )


def _download(repo_id: str) -> str:
  """hf:ORG/NAME that is not a local directory: a snapshot through huggingface_hub."""
  from huggingface_hub import snapshot_download

  patterns = ["*.json", "*.safetensors", "*.jinja", "tokenizer.model"]
  try:
    return snapshot_download(repo_id, allow_patterns=patterns)
  except Exception as e:  # no network, no such repo, gated: one line naming the reference
    raise CheckpointError(f"hf:{repo_id}: not a local directory and not downloadable ({e})") from e


@dataclasses.dataclass
class Imported:
  model: ml_collections.ConfigDict  # config.model_config() fields, checkpoint set
  tokenizer: ChatTokenizer
  graphdef: nnx.GraphDef
  params: Any  # nnx.State of nnx.Param, on the mesh


def model_config(ref: str, source=None, **overrides) -> ml_collections.ConfigDict:
  """The model config of checkpoint `ref` (dtype overrides allowed)."""
  from btrl_jax import config

  source = source or open_source(ref)
  return config.model_config(**source.config(), checkpoint=ref, **overrides)


# The model keys a run may set on top of a checkpoint's own (how it computes, not its shapes).
COMPUTE_KEYS = ("dtype", "param_dtype", "remat")


def resolve(cfg: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """`cfg` with its `model` section read from `model.checkpoint`'s metadata (a copy; `cfg`
  itself when no checkpoint is set). Only COMPUTE_KEYS keep the config's values. Reads
  metadata only (a named model is fetched first); a bad reference is a CheckpointError."""
  ref = cfg.model.checkpoint
  if not ref:
    return cfg
  out = ml_collections.ConfigDict(cfg.to_dict())
  out.model = model_config(ref, **{k: cfg.model[k] for k in COMPUTE_KEYS})
  return out


def tokenizer(ref: str, source=None) -> ChatTokenizer:
  """The tokenizer and chat template of checkpoint `ref`."""
  from btrl_jax.checkpoints.gguf_file import GGUFFile
  from btrl_jax.checkpoints.hf_tokenizer import from_gguf_fields

  source = source or open_source(ref)
  if isinstance(source, GGUFFile):
    return from_gguf_fields(source.tokenizer_fields())
  return source.tokenizer()


def tokenizer_from_meta(meta: dict):
  """The tokenizer a btrl checkpoint's metadata describes: `meta["tokenizer"]` (the
  `to_meta()` of the embedded SentencePiece tokenizer or of a ChatTokenizer), or the
  SentencePiece model of checkpoints written before real tokenizers (`tokenizer_b64`)."""
  import base64

  from btrl_jax.tokenizer import Tokenizer

  spec = meta.get("tokenizer") or {"kind": "sentencepiece", "model_b64": meta["tokenizer_b64"]}
  if spec["kind"] == "chat":
    return ChatTokenizer.from_meta(spec)
  if spec["kind"] == "sentencepiece":
    return Tokenizer.from_bytes(base64.b64decode(spec["model_b64"]))
  raise CheckpointError(f"checkpoint metadata: unknown tokenizer kind {spec['kind']!r}")


def load(ref: str, mesh: Any, progress: bool = False, **overrides) -> Imported:
  """Imports checkpoint `ref` onto `mesh` (module docstring)."""
  from btrl_jax.checkpoints import convert

  source = open_source(ref)
  cfg = model_config(ref, source, **overrides)
  tok = tokenizer(ref, source)
  if tok.vocab_size > cfg.vocab_size:
    raise CheckpointError(
      f"{ref}: the tokenizer has {tok.vocab_size} ids, the model's embedding {cfg.vocab_size}"
    )
  graphdef, params = convert.load_params(cfg, source, mesh, progress=progress)
  return Imported(cfg, tok, graphdef, params)
