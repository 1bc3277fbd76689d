"""Hugging Face model directories: config.json, safetensors (sharded with an index or not),
tokenizer.json and the chat template.

Supported `model_type`s: llama (Llama 3.x with `rope_scaling` of type llama3, SmolLM2),
qwen2 (Qwen 2.5: q/k/v biases), qwen3 (qk-norm), gemma2 (soft-caps, alternating
sliding-window attention, `query_pre_attn_scalar`) and gemma3_text / gemma3 (qk-norm, local
and global RoPE bases, five local layers to one global). Tensors are read one at a time
with `safetensors.safe_open`, upcast to float32 on the host (bf16, f16 and f32 files, or a
mix), and exposed under the canonical `model.` names: a `language_model.` or
`model.language_model.` prefix is removed. A config option the decoder does not implement
is an error naming it, never silently ignored.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from btrl_jax.checkpoints.convert import CheckpointError
from btrl_jax.models.transformer import is_sliding

SUPPORTED_TYPES = ("llama", "qwen2", "qwen3", "gemma2", "gemma3_text", "gemma3")
_PREFIXES = ("model.language_model.", "language_model.model.", "language_model.")


def _canonical(name: str) -> str:
  for p in _PREFIXES:
    if name.startswith(p):
      rest = name[len(p) :]
      return rest if rest.startswith("lm_head.") else "model." + rest.removeprefix("model.")
  return name


def _read_json(path: str) -> dict[str, Any]:
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, json.JSONDecodeError) as e:
    raise CheckpointError(f"{path}: {e}") from e


def layer_types(cfg: Any) -> list[str]:
  """config.json's `layer_types` of a model config (the decoder's own sliding-layer rule)."""
  return [
    "sliding_attention" if is_sliding(cfg, i) else "full_attention" for i in range(cfg["layers"])
  ]


class HFDirectory:
  """One Hugging Face model directory: `config()`, tokenizer files, and a TensorSource."""

  def __init__(self, path: str | os.PathLike):
    self.path = os.fspath(path)
    if not os.path.isdir(self.path):
      raise FileNotFoundError(f"no model directory at {self.path}")
    cfg_path = os.path.join(self.path, "config.json")
    if not os.path.isfile(cfg_path):
      raise CheckpointError(f"{self.path} has no config.json")
    self.hf_config = _read_json(cfg_path)
    if self.hf_config.get("model_type") == "gemma3" and "text_config" in self.hf_config:
      self.hf_config = {**self.hf_config["text_config"], "model_type": "gemma3_text"}
    self.model_type = self.hf_config.get("model_type")
    if self.model_type not in SUPPORTED_TYPES:
      raise CheckpointError(
        f"{cfg_path}: model_type {self.model_type!r} is not supported "
        f"(have: {', '.join(SUPPORTED_TYPES)})"
      )
    self._files = self._tensor_files()

  def _tensor_files(self) -> dict[str, tuple[str, str]]:
    """{canonical tensor name: (safetensors file, the name in it)}."""
    from safetensors import safe_open

    index = os.path.join(self.path, "model.safetensors.index.json")
    if os.path.isfile(index):
      weight_map = _read_json(index).get("weight_map")
      if not isinstance(weight_map, dict):
        raise CheckpointError(f"{index}: no weight_map")
      files = sorted(set(weight_map.values()))
    else:
      files = sorted(f for f in os.listdir(self.path) if f.endswith(".safetensors"))
    if not files:
      raise CheckpointError(f"{self.path} has no .safetensors file")
    out: dict[str, tuple[str, str]] = {}
    for f in files:
      full = os.path.join(self.path, f)
      if not os.path.isfile(full):
        raise CheckpointError(f"{full}: named by the index but missing")
      with safe_open(full, framework="numpy") as st:
        for name in st.keys():
          canon = _canonical(name)
          if canon in out:
            raise CheckpointError(f"tensor {name} appears twice ({out[canon][0]} and {full})")
          out[canon] = (full, name)
    return out

  # ---- config -----------------------------------------------------------

  def config(self) -> dict[str, Any]:
    """Model config fields (config.model_config's keys) from config.json."""
    c, t = self.hf_config, self.model_type
    width, heads = int(c["hidden_size"]), int(c["num_attention_heads"])
    out = dict(
      vocab_size=int(c["vocab_size"]),
      width=width,
      layers=int(c["num_hidden_layers"]),
      heads=heads,
      kv_heads=int(c.get("num_key_value_heads") or heads),
      head_dim=int(c.get("head_dim") or width // heads),
      mlp_dim=int(c["intermediate_size"]),
      activation="swiglu",
      norm_eps=float(c.get("rms_norm_eps", 1e-6)),
      norm_plus_one=False,
      post_norm=False,
      qk_norm=t == "qwen3",
      qkv_bias=t == "qwen2" or bool(c.get("attention_bias", False)),
      tie_embeddings=bool(c.get("tie_word_embeddings", t.startswith("gemma"))),
      embed_scale=False,
      final_logit_softcap=0.0,
      attn_logit_softcap=0.0,
    )
    act = c.get("hidden_act") or c.get("hidden_activation") or "silu"
    if c.get("mlp_bias"):
      raise CheckpointError("config.json: mlp_bias=true is not supported by the decoder")
    if t.startswith("gemma"):
      out.update(
        activation="geglu",
        norm_plus_one=True,
        post_norm=True,
        embed_scale=True,
        query_scale=float(c.get("query_pre_attn_scalar") or out["head_dim"]),
        final_logit_softcap=float(c.get("final_logit_softcapping") or 0.0),
        attn_logit_softcap=float(c.get("attn_logit_softcapping") or 0.0),
      )
      if act != "gelu_pytorch_tanh":
        raise CheckpointError(f"config.json: activation {act!r} (Gemma needs gelu_pytorch_tanh)")
    elif act != "silu":
      raise CheckpointError(f"config.json: activation {act!r} is not supported (have: silu)")
    if t == "gemma3_text":
      out.update(qk_norm=True)
    out.update(self._windows(out["layers"]))
    out.update(self._rope())
    return out

  def _windows(self, layers: int) -> dict[str, Any]:
    c, t = self.hf_config, self.model_type
    if t in ("qwen2", "qwen3"):
      if c.get("use_sliding_window"):
        raise CheckpointError("config.json: use_sliding_window=true is not supported")
      return {}
    if not t.startswith("gemma"):
      return {}
    window = int(c.get("sliding_window") or 0)
    types = c.get("layer_types")
    if types:
      pattern = next((i + 1 for i, k in enumerate(types) if k == "full_attention"), len(types))
      if list(types) != layer_types(dict(layers=layers, sliding_window=1, sliding_pattern=pattern)):
        raise CheckpointError(f"config.json: layer_types {types} is not a repeating pattern")
    else:
      pattern = 2 if t == "gemma2" else int(c.get("sliding_window_pattern", 6))
    return dict(sliding_window=window, sliding_pattern=pattern)

  def _rope(self) -> dict[str, Any]:
    """RoPE base(s) and scaling, from `rope_parameters` (transformers 5, optionally per layer
    type) or from `rope_theta` / `rope_scaling` / `rope_local_base_freq` (released files)."""
    c = self.hf_config
    params = c.get("rope_parameters")
    local = None
    if params:
      if "full_attention" in params:
        glob, local = params["full_attention"], params.get("sliding_attention")
      else:
        glob = params
      theta = glob.get("rope_theta", 10000.0)
    else:
      glob, theta = c.get("rope_scaling") or {}, c.get("rope_theta", 10000.0)
      if self.model_type == "gemma3_text":
        local = {"rope_theta": c.get("rope_local_base_freq", 10000.0)}
    out: dict[str, Any] = dict(rope_theta=float(theta))
    if local is not None:
      if (local.get("rope_type") or "default") != "default":
        raise CheckpointError("config.json: scaled RoPE on sliding-window layers is not supported")
      out["rope_local_theta"] = float(local["rope_theta"])
    kind = glob.get("rope_type") or glob.get("type")
    if not kind or kind == "default":
      return out
    if kind == "linear":
      return {**out, "rope_scaling": "linear", "rope_factor": float(glob["factor"])}
    if kind == "llama3":
      return {
        **out,
        "rope_scaling": "llama3",
        "rope_factor": float(glob["factor"]),
        "rope_low_freq_factor": float(glob["low_freq_factor"]),
        "rope_high_freq_factor": float(glob["high_freq_factor"]),
        "rope_original_max_position": int(glob["original_max_position_embeddings"]),
      }
    raise CheckpointError(f"config.json: RoPE type {kind!r} is not supported")

  # ---- TensorSource -----------------------------------------------------

  def names(self) -> list[str]:
    return list(self._files)

  def get(self, name: str) -> np.ndarray:
    from safetensors import safe_open

    path, key = self._files[name]
    with safe_open(path, framework="flax") as st:  # flax reads bf16, numpy cannot
      return np.asarray(st.get_tensor(key).astype("float32"))

  # ---- tokenizer --------------------------------------------------------

  def tokenizer(self):
    """The ChatTokenizer of this directory (tokenizer.json, its config, the template)."""
    from tokenizers import Tokenizer

    from btrl_jax.checkpoints.hf_tokenizer import ChatTokenizer

    tj = os.path.join(self.path, "tokenizer.json")
    if not os.path.isfile(tj):
      raise CheckpointError(f"{self.path} has no tokenizer.json")
    tok = Tokenizer.from_file(tj)
    tc_path = os.path.join(self.path, "tokenizer_config.json")
    tc = _read_json(tc_path) if os.path.isfile(tc_path) else {}
    jinja = os.path.join(self.path, "chat_template.jinja")
    if os.path.isfile(jinja):  # transformers reads this file before tokenizer_config.json
      with open(jinja) as f:
        template = f.read()
    else:
      template = tc.get("chat_template") or ""
      if isinstance(template, list):  # named templates: the default one
        template = next((t["template"] for t in template if t.get("name") == "default"), "")
    gc_path = os.path.join(self.path, "generation_config.json")
    gen = _read_json(gc_path) if os.path.isfile(gc_path) else {}
    eos = gen.get("eos_token_id", [])
    eos = [eos] if isinstance(eos, int) else list(eos or [])
    token = lambda v: v.get("content") if isinstance(v, dict) else v
    return ChatTokenizer(
      tok,
      template,
      bos_token=token(tc.get("bos_token")),
      eos_token=token(tc.get("eos_token")),
      pad_token=token(tc.get("pad_token")),
      stop_tokens=[tok.id_to_token(i) for i in eos],
      add_bos=bool(tc.get("add_bos_token", False)),
    )
