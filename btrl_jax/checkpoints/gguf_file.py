"""GGUF files (llama.cpp's format) through the `gguf` package: config, tensors, tokenizer.

The model config comes from the file's own metadata (`{arch}.embedding_length`, ...).
Tensors are dequantized one at a time with `gguf.quants.dequantize` (F32, F16, BF16,
Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K and the rest the package knows) and exposed under
Hugging Face names (convert.py). llama.cpp's converter permutes the query and key rows of
`llama`-architecture files for its interleaved RoPE; `_unpermute` undoes that, so the
rotate-half RoPE of models/transformer.py reads them as Hugging Face wrote them.

The tokenizer (`tokenizer.ggml.*`: the vocabulary, BPE merges, token types, special ids
and the chat template) is rebuilt as a `tokenizers` BPE model in hf_tokenizer.py.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from btrl_jax.checkpoints.convert import CheckpointError

SUPPORTED_ARCHS = ("llama", "qwen2", "qwen3")

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


def _f32(x: float) -> float:
  """A float32 metadata value as the shortest decimal that reads back as it (GGUF stores
  1e-6 as 9.99999997e-07; config.json says 1e-06)."""
  return float(np.format_float_positional(np.float32(x), unique=True, trim="-"))


def hf_name(name: str) -> str:
  """The Hugging Face name of a GGUF tensor; an unknown name is an error naming it."""
  if name in _GLOBAL:
    return _GLOBAL[name]
  parts = name.split(".", 2)
  if len(parts) == 3 and parts[0] == "blk" and parts[1].isdigit() and parts[2] in _LAYER:
    return f"model.layers.{parts[1]}.{_LAYER[parts[2]]}"
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
    self._by_hf = {hf_name(n): n for n in self._tensors}

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
    return dict(
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
      rope_theta=_f32(self.field(f"{a}.rope.freq_base", 10000.0)),
      tie_embeddings="lm_head.weight" not in names,
      embed_scale=False,
      final_logit_softcap=0.0,
      attn_logit_softcap=0.0,
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
    return x

  # ---- tokenizer ------------------------------------------------------

  def tokenizer_fields(self) -> dict[str, Any]:
    """What hf_tokenizer.from_gguf needs: tokens, merges, types, special ids, template."""
    model = self.field("tokenizer.ggml.model")
    if model != "gpt2":
      raise CheckpointError(
        f"{self.path}: tokenizer model {model!r} is not supported (have: gpt2, byte-level BPE)"
      )
    return dict(
      model=model,
      pre=self.field("tokenizer.ggml.pre", "default"),
      tokens=list(self.field("tokenizer.ggml.tokens")),
      merges=list(self.field("tokenizer.ggml.merges")),
      token_type=[int(t) for t in self.field("tokenizer.ggml.token_type")],
      bos_id=self.field("tokenizer.ggml.bos_token_id", None),
      eos_id=self.field("tokenizer.ggml.eos_token_id", None),
      pad_id=self.field("tokenizer.ggml.padding_token_id", None),
      add_bos=bool(self.field("tokenizer.ggml.add_bos_token", False)),
      chat_template=self.field("tokenizer.chat_template", None),
    )
