"""Export: any policy (an imported model, or an embedded TraitWorld model as a Llama) as a
Hugging Face model directory that transformers and vLLM load.

Written: config.json (the architecture whose features the model config uses: llama,
qwen2, qwen3, gemma2 or gemma3_text), safetensors shards of at most `max_shard_bytes` with
`{"format": "pt"}` metadata and, when there is more than one, model.safetensors.index.json;
generation_config.json (every stop id); the tokenizer files and the chat template. An
imported model's tokenizer is written as tokenizer.json plus tokenizer_config.json and
chat_template.jinja; the embedded SentencePiece tokenizer as tokenizer.model and the same
model rebuilt as tokenizer.json (`embedded_tokenizers`), with a Jinja template that renders
its chat format (`<|user|>...<|end|>`). The directory is built
beside `out` and renamed into place at the end, so a failed export leaves nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any

import ml_collections
import numpy as np

from btrl_jax.checkpoints.convert import CheckpointError, export_tensors
from btrl_jax.checkpoints.hf_dir import layer_types

# The embedded tokenizer's chat format (btrl_jax/tokenizer.py) as a Jinja template.
EMBEDDED_TEMPLATE = (
  "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{% if m['role'] == 'assistant' %}"
  "{% generation %}{{ m['content'] }}<|end|>{% endgeneration %}{% else %}{{ m['content'] }}"
  "<|end|>{% endif %}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def model_type(cfg: ml_collections.ConfigDict) -> str:
  """The Hugging Face architecture that has exactly the decoder features `cfg` uses."""
  gemma = cfg.norm_plus_one and cfg.post_norm and cfg.embed_scale and cfg.activation == "geglu"
  if gemma:
    return "gemma3_text" if cfg.qk_norm else "gemma2"
  if cfg.norm_plus_one or cfg.post_norm or cfg.embed_scale or cfg.activation != "swiglu":
    raise CheckpointError(
      "this model mixes Gemma and Llama features: no Hugging Face architecture has them"
    )
  if cfg.final_logit_softcap or cfg.attn_logit_softcap or cfg.sliding_window or cfg.query_scale:
    raise CheckpointError("soft-caps, sliding windows and a query scale need a Gemma architecture")
  if cfg.qk_norm:
    if cfg.qkv_bias:
      raise CheckpointError("qk-norm with q/k/v biases: no Hugging Face architecture has both")
    return "qwen3"
  return "qwen2" if cfg.qkv_bias else "llama"


_ARCHITECTURES = {
  "llama": "LlamaForCausalLM",
  "qwen2": "Qwen2ForCausalLM",
  "qwen3": "Qwen3ForCausalLM",
  "gemma2": "Gemma2ForCausalLM",
  "gemma3_text": "Gemma3ForCausalLM",
}


def hf_config(cfg: ml_collections.ConfigDict, special: dict[str, Any]) -> dict[str, Any]:
  """config.json for the decoder of `cfg` (the inverse of hf_dir.HFDirectory.config)."""
  t = model_type(cfg)
  out: dict[str, Any] = dict(
    architectures=[_ARCHITECTURES[t]],
    model_type=t,
    vocab_size=cfg.vocab_size,
    hidden_size=cfg.width,
    intermediate_size=cfg.mlp_dim,
    num_hidden_layers=cfg.layers,
    num_attention_heads=cfg.heads,
    num_key_value_heads=cfg.kv_heads,
    head_dim=cfg.head_dim,
    rms_norm_eps=cfg.norm_eps,
    rope_theta=cfg.rope_theta,
    tie_word_embeddings=bool(cfg.tie_embeddings),
    max_position_embeddings=int(cfg.get("rope_original_max_position", 0) or 8192)
    * int(cfg.get("rope_factor", 1.0) if cfg.get("rope_scaling") else 1),
    torch_dtype="float32",
    **special,
  )
  if t == "llama":
    out.update(hidden_act="silu", attention_bias=False, mlp_bias=False)
  elif t.startswith("qwen"):
    out.update(hidden_act="silu", use_sliding_window=False)
  else:
    out.update(
      hidden_activation="gelu_pytorch_tanh",
      query_pre_attn_scalar=cfg.query_scale or cfg.head_dim,
      final_logit_softcapping=cfg.final_logit_softcap or None,
      attn_logit_softcapping=cfg.attn_logit_softcap or None,
      sliding_window=cfg.sliding_window or None,
      layer_types=layer_types(cfg),
    )
    if t == "gemma3_text":
      out.update(rope_local_base_freq=cfg.rope_local_theta or cfg.rope_theta)
  if cfg.get("rope_scaling") == "linear":
    out["rope_scaling"] = dict(rope_type="linear", factor=cfg.rope_factor)
  elif cfg.get("rope_scaling") == "llama3":
    out["rope_scaling"] = dict(
      rope_type="llama3",
      factor=cfg.rope_factor,
      low_freq_factor=cfg.rope_low_freq_factor,
      high_freq_factor=cfg.rope_high_freq_factor,
      original_max_position_embeddings=cfg.rope_original_max_position,
    )
  return out


def embedded_tokenizers(tok: Any) -> Any:
  """The embedded SentencePiece tokenizer as a `tokenizers.Tokenizer` that encodes every
  text as it does (its model has no dummy prefix), for tokenizer.json. The chat markers are
  added tokens, as transformers treats a model's special strings."""
  from sentencepiece import sentencepiece_model_pb2

  from btrl_jax.checkpoints.hf_tokenizer import sentencepiece_from_vocab

  pieces = sentencepiece_model_pb2.ModelProto.FromString(tok.model_proto).pieces
  # SentencePiece's piece types are llama.cpp's numbers (1 normal ... 6 byte).
  return sentencepiece_from_vocab(
    [p.piece for p in pieces],
    [p.score for p in pieces],
    [int(p.type) for p in pieces],
    add_space_prefix=False,
  )


def _tokenizer_files(tok: Any, d: str) -> dict[str, Any]:
  """Writes the tokenizer and chat template; returns config.json's special-token ids."""
  from btrl_jax.checkpoints.hf_tokenizer import ChatTokenizer

  if isinstance(tok, ChatTokenizer):
    tok._tok.save(os.path.join(d, "tokenizer.json"))
    template = tok.chat_template
    name = tok._tok.id_to_token
    tc = dict(
      bos_token=tok.bos_token,
      eos_token=tok.eos_token,
      pad_token=name(tok.pad_id),
      add_bos_token=tok.add_bos,
      tokenizer_class="PreTrainedTokenizerFast",
    )
  else:  # the embedded SentencePiece tokenizer: its model, and the same as tokenizer.json
    with open(os.path.join(d, "tokenizer.model"), "wb") as f:
      f.write(tok.model_proto)
    embedded_tokenizers(tok).save(os.path.join(d, "tokenizer.json"))
    template = EMBEDDED_TEMPLATE
    tc = dict(
      bos_token="<s>",
      eos_token="<|end|>",
      pad_token="<pad>",
      add_bos_token=False,
      add_eos_token=False,
      tokenizer_class="PreTrainedTokenizerFast",
    )
  tc["chat_template"] = template
  with open(os.path.join(d, "chat_template.jinja"), "w") as f:
    f.write(template)
  with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
    json.dump(tc, f, indent=1)
  stops = list(tok.stop_ids)
  with open(os.path.join(d, "generation_config.json"), "w") as f:
    json.dump(
      {"eos_token_id": stops, "bos_token_id": tok.bos_id, "pad_token_id": tok.pad_id}, f, indent=1
    )
  return dict(bos_token_id=tok.bos_id, eos_token_id=stops[0], pad_token_id=tok.pad_id)


def export(
  cfg: ml_collections.ConfigDict,
  params: Any,
  tokenizer: Any,
  out: str,
  max_shard_bytes: int = 2 << 30,
) -> str:
  """Writes the Hugging Face directory `out` (module docstring); returns its path."""
  from safetensors.numpy import save_file

  out = os.path.abspath(out)
  if os.path.exists(out) and os.listdir(out):
    raise CheckpointError(f"{out} exists and is not empty; choose a new directory")
  model_type(cfg)  # fails before anything is written
  parent = os.path.dirname(out)
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix=".export-", dir=parent)
  try:
    special = _tokenizer_files(tokenizer, tmp)
    with open(os.path.join(tmp, "config.json"), "w") as f:
      json.dump(hf_config(cfg, special), f, indent=1)
    # Each shard is written as soon as it is full: the host holds one shard, not the model.
    written: list[tuple[str, list[str]]] = []
    shard: dict[str, np.ndarray] = {}
    size = total = 0

    def flush():
      path = os.path.join(tmp, f"shard-{len(written)}.part")
      save_file(shard, path, metadata={"format": "pt"})
      written.append((path, list(shard)))

    for name, x in export_tensors(cfg, params):
      x = np.ascontiguousarray(x, np.float32)
      if shard and size + x.nbytes > max_shard_bytes:
        flush()
        shard, size = {}, 0
      shard[name] = x
      size += x.nbytes
      total += x.nbytes
    flush()
    n = len(written)
    names = (
      ["model.safetensors"]
      if n == 1
      else [f"model-{i + 1:05d}-of-{n:05d}.safetensors" for i in range(n)]
    )
    for fname, (path, _) in zip(names, written):
      os.replace(path, os.path.join(tmp, fname))
    if n > 1:
      index = {
        "metadata": {"total_size": total},
        "weight_map": {k: fname for fname, (_, keys) in zip(names, written) for k in keys},
      }
      with open(os.path.join(tmp, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=1)
    if os.path.exists(out):
      os.rmdir(out)
    os.replace(tmp, out)
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  return out
