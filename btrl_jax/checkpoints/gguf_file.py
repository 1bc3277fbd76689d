"""GGUF files (llama.cpp's format) through the `gguf` package: config, tensors, tokenizer.

Architectures (`general.architecture`): llama (Llama 2 / 3, SmolLM2), qwen2, qwen3, gemma2
and gemma3, as llama.cpp's convert_hf_to_gguf.py writes them. The model config comes from
the file's own metadata (`{arch}.embedding_length`, ...) and equals what hf_dir.py reads
from the same model's config.json. RoPE: `{arch}.rope.freq_base` and `rope.scaling.type`
none or linear (any other type is an error naming the key).

Gemma (2 and 3): GeGLU, sandwich norms, embeddings scaled by sqrt(width) and tied, what
llama.cpp assumes for these architectures:

* Every RMSNorm weight (`*norm.weight`, qk-norms included) is stored as `w + 1` (the
  converter folds Gemma's `x * (1 + w)` into a plain scale); `get` subtracts the 1 again,
  so the tensors are Hugging Face's and the decoder's `norm_plus_one` adds it back.
* Sliding windows: `{arch}.attention.sliding_window` (Gemma 2 defaults to 4096; a Gemma 3
  file without it has no local layers), every n-th layer global with n from
  `{arch}.attention.sliding_window_pattern` when present (a period or one bool per
  layer; llama.cpp's period 0 = all local, 1 = none local) and else llama.cpp's fixed 2
  (Gemma 2) or 6 (Gemma 3).
* Query scale (transformers' `query_pre_attn_scalar`): the converter does not store it;
  llama.cpp uses `{arch}.attention.key_length`, or width / heads for the 27B models (46
  layers for Gemma 2, 62 for Gemma 3), which is what the released configs say. A file
  with `{arch}.attention.scale` (llama.cpp's `f_attention_scale`, the factor itself)
  overrides that.
* Soft-caps: `gemma2.attn_logit_softcapping` / `final_logit_softcapping` (llama.cpp's
  defaults 50 / 30 when absent); Gemma 3 has no attention cap and a final cap only when
  the key is present.
* Gemma 3's local layers use `gemma3.rope.freq_base_swa` when present, else llama.cpp's
  fixed 10000, unscaled; `rope.scaling.*` applies to the global layers.

Tensors are dequantized one at a time with `gguf.quants.dequantize` (F32, F16, BF16,
Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K and the rest the package knows) and exposed under
Hugging Face names (convert.py). llama.cpp's converter permutes the query and key rows of
`llama`-architecture files for its interleaved RoPE; `_unpermute` undoes that, so the
rotate-half RoPE of models/transformer.py reads them as Hugging Face wrote them (the
other architectures use NeoX RoPE and are stored unpermuted).

The tokenizer (`tokenizer.ggml.*`) is rebuilt in hf_tokenizer.py: `gpt2` files (the
vocabulary, BPE merges, token types, special ids and the chat template) as a byte-level
BPE model; `llama` files (SentencePiece: pieces, scores and token types with `<0xNN>`
byte pieces, as Gemma and Llama 2 GGUFs hold) as a BPE model whose merges follow the
scores, with byte fallback.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from btrl_jax.checkpoints.convert import CheckpointError
from btrl_jax.models.transformer import is_sliding

SUPPORTED_ARCHS = ("llama", "qwen2", "qwen3", "gemma2", "gemma3")
GEMMA = ("gemma2", "gemma3")
TOKENIZER_MODELS = ("gpt2", "llama")

_GLOBAL = {
  "token_embd.weight": "model.embed_tokens.weight",
  "output_norm.weight": "model.norm.weight",
  "output.weight": "lm_head.weight",
}
_LAYER = {
  "attn_norm.weight": "input_layernorm.weight",
  "ffn_norm.weight": "post_attention_layernorm.weight",
  "attn_q.weight": "self_attn.q_proj.weight",
  "attn_k.weight": "self_attn.k_proj.weight",
  "attn_v.weight": "self_attn.v_proj.weight",
  "attn_output.weight": "self_attn.o_proj.weight",
  "attn_q.bias": "self_attn.q_proj.bias",
  "attn_k.bias": "self_attn.k_proj.bias",
  "attn_v.bias": "self_attn.v_proj.bias",
  "attn_q_norm.weight": "self_attn.q_norm.weight",
  "attn_k_norm.weight": "self_attn.k_norm.weight",
  "ffn_gate.weight": "mlp.gate_proj.weight",
  "ffn_up.weight": "mlp.up_proj.weight",
  "ffn_down.weight": "mlp.down_proj.weight",
}
# Gemma's sandwich norms: llama.cpp's `ffn_norm` is the norm before the MLP, which Hugging
# Face calls `pre_feedforward_layernorm` here (and `post_attention_layernorm` in Llama).
_GEMMA_LAYER = {
  **{k: v for k, v in _LAYER.items() if k != "ffn_norm.weight"},
  "post_attention_norm.weight": "post_attention_layernorm.weight",
  "ffn_norm.weight": "pre_feedforward_layernorm.weight",
  "post_ffw_norm.weight": "post_feedforward_layernorm.weight",
}
# llama.cpp's Gemma attention scale uses width / heads instead of the head size for the
# 27B models, which it recognises by their layer count.
_GEMMA_27B_LAYERS = {"gemma2": 46, "gemma3": 62}


def _f32(x: float) -> float:
  """A float32 metadata value as the shortest decimal that reads back as it (GGUF stores
  1e-6 as 9.99999997e-07; config.json says 1e-06)."""
  return float(np.format_float_positional(np.float32(x), unique=True, trim="-"))


def hf_name(name: str, arch: str = "llama") -> str:
  """The Hugging Face name of a GGUF tensor of architecture `arch`; an unknown name is an
  error naming it."""
  if name in _GLOBAL:
    return _GLOBAL[name]
  layer = _GEMMA_LAYER if arch in GEMMA else _LAYER
  parts = name.split(".", 2)
  if len(parts) == 3 and parts[0] == "blk" and parts[1].isdigit() and parts[2] in layer:
    return f"model.layers.{parts[1]}.{layer[parts[2]]}"
  raise CheckpointError(f"GGUF tensor {name}: no Hugging Face counterpart known")


def _unpermute(w: np.ndarray, n_heads: int) -> np.ndarray:
  """Inverse of llama.cpp's `permute(w, n_head, n_head_kv)` for q / k rows."""
  return (
    w.reshape(n_heads, w.shape[0] // n_heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)
  )


class GGUFFile:
  """One GGUF file: `config()`, `tokenizer_fields()` and a `TensorSource` over its tensors."""

  def __init__(self, path: str | os.PathLike):
    import gguf

    self.path = os.fspath(path)
    if not os.path.isfile(self.path):
      raise FileNotFoundError(f"no GGUF file at {self.path}")
    try:
      self._reader = gguf.GGUFReader(self.path)
    except (ValueError, OSError) as e:
      raise CheckpointError(f"{self.path} is not a readable GGUF file: {e}") from e
    self.arch = self.field("general.architecture")
    if self.arch not in SUPPORTED_ARCHS:
      raise CheckpointError(
        f"{self.path}: architecture {self.arch!r} is not supported "
        f"(have: {', '.join(SUPPORTED_ARCHS)})"
      )
    self._tensors = {t.name: t for t in self._reader.tensors}
    try:
      self._by_hf = {hf_name(n, self.arch): n for n in self._tensors}
    except CheckpointError as e:
      raise CheckpointError(f"{self.path}: {e}") from None

  def field(self, key: str, default: Any = KeyError) -> Any:
    f = self._reader.fields.get(key)
    if f is None:
      if default is KeyError:
        raise CheckpointError(f"{self.path}: metadata key {key!r} is missing")
      return default
    return f.contents()

  # ---- config ---------------------------------------------------------

  def config(self) -> dict[str, Any]:
    """Model config fields (config.model_config's keys) from the file's metadata."""
    a = self.arch
    width = int(self.field(f"{a}.embedding_length"))
    heads = int(self.field(f"{a}.attention.head_count"))
    kv = self.field(f"{a}.attention.head_count_kv", heads)
    if isinstance(kv, list):
      if len(set(kv)) != 1:
        raise CheckpointError(f"{self.path}: per-layer kv head counts {sorted(set(kv))}")
      kv = kv[0]
    head_dim = int(self.field(f"{a}.attention.key_length", width // heads))
    names = set(self._by_hf)
    out = dict(
      vocab_size=len(self.field("tokenizer.ggml.tokens")),
      width=width,
      layers=int(self.field(f"{a}.block_count")),
      heads=heads,
      kv_heads=int(kv),
      head_dim=head_dim,
      mlp_dim=int(self.field(f"{a}.feed_forward_length")),
      activation="swiglu",
      norm_eps=_f32(self.field(f"{a}.attention.layer_norm_rms_epsilon")),
      norm_plus_one=False,
      post_norm=False,
      qk_norm="model.layers.0.self_attn.q_norm.weight" in names,
      qkv_bias="model.layers.0.self_attn.q_proj.bias" in names,
      tie_embeddings="lm_head.weight" not in names,
      embed_scale=False,
      final_logit_softcap=0.0,
      attn_logit_softcap=0.0,
    )
    out.update(self._rope())
    if a in GEMMA:
      out.update(self._gemma(out))
    return out

  def _rope(self) -> dict[str, Any]:
    """The RoPE base and scaling (`{arch}.rope.*`; the scaling applies to global layers)."""
    a = self.arch
    out: dict[str, Any] = dict(rope_theta=_f32(self.field(f"{a}.rope.freq_base", 10000.0)))
    kind = self.field(f"{a}.rope.scaling.type", "none")
    if kind == "linear":
      out.update(rope_scaling="linear", rope_factor=_f32(self.field(f"{a}.rope.scaling.factor")))
    elif kind != "none":
      raise CheckpointError(
        f"{self.path}: metadata key '{a}.rope.scaling.type' = {kind!r} is not supported "
        "(have: none, linear)"
      )
    if a == "gemma3":  # llama.cpp: local layers at a fixed base unless the file says
      out["rope_local_theta"] = _f32(self.field(f"{a}.rope.freq_base_swa", 10000.0))
    elif f"{a}.rope.freq_base_swa" in self._reader.fields:
      out["rope_local_theta"] = _f32(self.field(f"{a}.rope.freq_base_swa"))
    return out

  def _gemma(self, base: dict[str, Any]) -> dict[str, Any]:
    """The Gemma 2 / 3 fields, with llama.cpp's defaults for what the file leaves out
    (module docstring)."""
    a, layers = self.arch, base["layers"]
    scale = self.field(f"{a}.attention.scale", None)
    if scale is not None:  # the factor itself: query_scale ** -0.5
      query = 1.0 / float(np.float32(scale)) ** 2
      if abs(query - round(query)) <= 1e-5 * query:  # a float32 of an integer's rsqrt
        query = float(round(query))
    elif layers == _GEMMA_27B_LAYERS[a]:
      query = float(base["width"] // base["heads"])
    else:
      query = float(base["head_dim"])
    window = int(self.field(f"{a}.attention.sliding_window", 4096 if a == "gemma2" else 0))
    period = self.field(f"{a}.attention.sliding_window_pattern", 2 if a == "gemma2" else 6)
    if isinstance(period, list):  # one bool per layer, True = sliding window
      local = [bool(x) for x in period]
      pattern = next((i + 1 for i, x in enumerate(local) if not x), len(local))
      if len(local) != layers or local != [
        is_sliding(dict(sliding_window=1, sliding_pattern=pattern), i) for i in range(layers)
      ]:
        raise CheckpointError(
          f"{self.path}: metadata key '{a}.attention.sliding_window_pattern' = {local} is "
          "not a repeating pattern of local layers then one global layer"
        )
    else:  # llama.cpp's period: 0 = every layer local, 1 = none
      pattern = int(period)
      if pattern == 1:
        window = 0
      pattern = max(pattern, 1)
    attn_cap = self.field(f"{a}.attn_logit_softcapping", 50.0) if a == "gemma2" else 0.0
    final_cap = self.field(f"{a}.final_logit_softcapping", 30.0 if a == "gemma2" else 0.0)
    return dict(
      activation="geglu",
      norm_plus_one=True,
      post_norm=True,
      embed_scale=True,
      query_scale=query,
      sliding_window=window,
      sliding_pattern=pattern,
      attn_logit_softcap=_f32(attn_cap),
      final_logit_softcap=_f32(final_cap),
    )

  # ---- TensorSource ---------------------------------------------------

  def names(self) -> list[str]:
    return list(self._by_hf)

  def get(self, name: str) -> np.ndarray:
    import gguf

    t = self._tensors[self._by_hf[name]]
    x = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
    shape = tuple(int(s) for s in reversed(t.shape))  # GGUF lists dims fastest-first
    x = x.reshape(shape)
    if self.arch == "llama" and name.endswith(("q_proj.weight", "k_proj.weight")):
      a = self.arch
      heads = int(self.field(f"{a}.attention.head_count"))
      if name.endswith("k_proj.weight"):
        heads = int(self.field(f"{a}.attention.head_count_kv", heads))
      x = _unpermute(x, heads)
    if self.arch in GEMMA and name.endswith("norm.weight"):
      x = x - np.float32(1.0)  # the converter stored Gemma's w + 1 (module docstring)
    return x

  # ---- tokenizer ------------------------------------------------------

  def tokenizer_fields(self) -> dict[str, Any]:
    """What hf_tokenizer.from_gguf_fields needs: the tokenizer model (`gpt2` or `llama`),
    tokens, merges (gpt2) or scores (llama), types, special ids, template."""
    model = self.field("tokenizer.ggml.model")
    if model not in TOKENIZER_MODELS:
      raise CheckpointError(
        f"{self.path}: tokenizer model {model!r} (metadata key 'tokenizer.ggml.model') is not "
        "supported (have: gpt2 byte-level BPE, llama SentencePiece)"
      )
    spm = model == "llama"
    out = dict(
      model=model,
      pre=self.field("tokenizer.ggml.pre", "default"),
      tokens=list(self.field("tokenizer.ggml.tokens")),
      merges=list(self.field("tokenizer.ggml.merges", [] if spm else KeyError)),
      token_type=[int(t) for t in self.field("tokenizer.ggml.token_type")],
      bos_id=self.field("tokenizer.ggml.bos_token_id", None),
      eos_id=self.field("tokenizer.ggml.eos_token_id", None),
      pad_id=self.field("tokenizer.ggml.padding_token_id", None),
      # llama.cpp adds BOS by default for SentencePiece vocabularies, not for gpt2 ones
      add_bos=bool(self.field("tokenizer.ggml.add_bos_token", spm)),
      chat_template=self.field("tokenizer.chat_template", None),
    )
    if spm:
      out.update(
        scores=[float(x) for x in self.field("tokenizer.ggml.scores")],
        unk_id=self.field("tokenizer.ggml.unknown_token_id", None),
        add_space_prefix=bool(self.field("tokenizer.ggml.add_space_prefix", True)),
      )
    for key in ("token_type", "scores"):
      if key in out and len(out[key]) != len(out["tokens"]):
        raise CheckpointError(
          f"{self.path}: metadata key 'tokenizer.ggml.{key}' has {len(out[key])} entries for "
          f"{len(out['tokens'])} tokens"
        )
    return out
