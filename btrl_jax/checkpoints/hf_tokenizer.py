"""Real models' tokenizers and chat templates, behind the embedded tokenizer's interface.

`ChatTokenizer` wraps a `tokenizers.Tokenizer` (from a tokenizer.json, or rebuilt from a
GGUF file's vocabulary and merges) and the model's own Jinja chat template, and offers
what SFT, RL, the sampler and the evaluator already call on btrl_jax.tokenizer.Tokenizer:
`encode`, `decode`, `encode_chat(messages, add_generation_prompt, last_turn_only) ->
(tokens, loss_mask)`, `encode_prompt`, `pad_id`, `bos_id`, `end_id`, plus `stop_ids`
(every end-of-turn id, e.g. Llama 3's `<|eot_id|>` and `<|end_of_text|>`).

The template is rendered as transformers renders it: a sandboxed Jinja environment with
`trim_blocks` and `lstrip_blocks`, `raise_exception`, `strftime_now`, a `tojson` that
keeps non-ASCII, and the `{% generation %}` block. Two rules keep it safe and exact:

* Message text never becomes a control token. Each message's content enters the template
  as a placeholder; the template's own text is encoded with special tokens recognised,
  and the content with them treated as plain text (`encode_special_tokens`), so a user who
  types `<|im_start|>` gets those characters, not a forged turn. Segments meet at
  pre-tokenizer boundaries, so the ids equal encoding the rendered text at once whenever
  the content holds no special-token string (tested against transformers).
* The assistant-only loss mask agrees with the template. With `{% generation %}` blocks
  the mask is what they enclose; otherwise, for each assistant turn, the text that the
  full render adds beyond the render up to it with `add_generation_prompt=True` (the
  reply and its end-of-turn). A template that does not render such prefixes consistently,
  or a conversation whose mask would be empty, is an error.

BOS: added only when the tokenizer asks for it and the template did not already render it
(no double BOS).
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from btrl_jax.data.jsonl import DataError

_PLACEHOLDER = "\ue000btrl{}\ue001"
_PLACEHOLDER_RE = re.compile("\ue000btrl(\\d+)\ue001")
_GEN_OPEN, _GEN_CLOSE = "\ue002", "\ue003"

# Pre-tokenizer split patterns by GGUF `tokenizer.ggml.pre` (the regexes of the models'
# tokenizer.json files); anything else uses GPT-2's byte-level default.
_LLAMA3 = (
  r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
  r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2 = (
  r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
  r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_SPLITS = {"llama3": _LLAMA3, "llama-bpe": _LLAMA3, "qwen2": _QWEN2}
_DIGIT_SPLIT = ("smollm",)  # single digits, then GPT-2's pattern


class TemplateError(DataError):
  """A chat template that cannot render a conversation, or renders it inconsistently (the
  CLI's exit 2, one line)."""


def _environment():
  from jinja2 import nodes
  from jinja2.ext import Extension
  from jinja2.sandbox import ImmutableSandboxedEnvironment

  class Generation(Extension):
    """`{% generation %}...{% endgeneration %}`: marks text the assistant generates."""

    tags = {"generation"}

    def parse(self, parser):
      lineno = next(parser.stream).lineno
      body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
      return nodes.CallBlock(self.call_method("_mark"), [], [], body).set_lineno(lineno)

    def _mark(self, caller):
      return _GEN_OPEN + caller() + _GEN_CLOSE

  def raise_exception(message):
    raise TemplateError(f"chat template: {message}")

  def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(
      x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )

  env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[Generation])
  env.filters["tojson"] = tojson
  env.globals["raise_exception"] = raise_exception
  env.globals["strftime_now"] = lambda fmt: datetime.datetime.now().strftime(fmt)
  return env


class ChatTokenizer:
  """A `tokenizers.Tokenizer` plus a Jinja chat template (module docstring)."""

  def __init__(
    self,
    tokenizer: Any,
    chat_template: str,
    *,
    bos_token: str | None,
    eos_token: str | None,
    pad_token: str | None = None,
    stop_tokens: Sequence[str] = (),
    add_bos: bool = False,
  ):
    if not chat_template:
      raise TemplateError("the tokenizer has no chat template")
    self._tok = tokenizer
    self.chat_template = chat_template
    self._specials = dict(
      bos_token=bos_token,
      eos_token=eos_token,
      pad_token=pad_token,
      stop_tokens=list(stop_tokens),
      add_bos=add_bos,
    )
    self._template = _environment().from_string(chat_template)
    self.bos_token, self.eos_token = bos_token, eos_token
    ids = {
      t: tokenizer.token_to_id(t) for t in (bos_token, eos_token, pad_token, *stop_tokens) if t
    }
    if any(i is None for i in ids.values()):
      raise TemplateError(
        f"special tokens not in the vocabulary: {[t for t, i in ids.items() if i is None]}"
      )
    self._bos_id = ids.get(bos_token) if bos_token else None
    eos_id = ids[eos_token] if eos_token else None
    self.stop_ids: tuple[int, ...] = tuple(
      dict.fromkeys([i for i in [eos_id, *(ids[t] for t in stop_tokens)] if i is not None])
    )
    if not self.stop_ids:
      raise TemplateError("no end-of-turn token: set an eos token or stop tokens")
    self._pad_id = ids[pad_token] if pad_token else self.stop_ids[0]
    self.add_bos = add_bos
    self._special_ids = frozenset(
      i for i, t in tokenizer.get_added_tokens_decoder().items() if t.special
    ) | set(self.stop_ids)

  # ---- checkpoint metadata ----------------------------------------------

  def to_meta(self) -> dict:
    """Everything needed to rebuild this tokenizer, for a checkpoint's JSON metadata: the
    tokenizer.json (zlib-compressed, base64), the chat template and the special tokens."""
    packed = zlib.compress(self._tok.to_str().encode(), 9)
    return {
      "kind": "chat",
      "tokenizer_json_zb64": base64.b64encode(packed).decode(),
      "chat_template": self.chat_template,
      **self._specials,
    }

  @classmethod
  def from_meta(cls, meta: Mapping[str, Any]) -> ChatTokenizer:
    from tokenizers import Tokenizer

    text = zlib.decompress(base64.b64decode(meta["tokenizer_json_zb64"])).decode()
    return cls(
      Tokenizer.from_str(text),
      meta["chat_template"],
      bos_token=meta["bos_token"],
      eos_token=meta["eos_token"],
      pad_token=meta["pad_token"],
      stop_tokens=meta["stop_tokens"],
      add_bos=meta["add_bos"],
    )

  # ---- ids --------------------------------------------------------------

  @property
  def vocab_size(self) -> int:
    return self._tok.get_vocab_size(with_added_tokens=True)

  @property
  def pad_id(self) -> int:
    return self._pad_id

  @property
  def bos_id(self) -> int | None:
    return self._bos_id

  @property
  def end_id(self) -> int:
    """The first stop id (the sampler stops on every id of `stop_ids`)."""
    return self.stop_ids[0]

  # ---- text -------------------------------------------------------------

  def _encode(self, text: str, specials: bool) -> list[int]:
    self._tok.encode_special_tokens = not specials
    try:
      return self._tok.encode(text, add_special_tokens=False).ids
    finally:
      self._tok.encode_special_tokens = False

  def encode(self, text: str) -> list[int]:
    """Plain text -> ids; a special-token string in it stays text."""
    return self._encode(text, specials=False)

  def decode(self, ids: Sequence[int] | np.ndarray, skip_special: bool = True) -> str:
    return self._tok.decode(
      [int(i) for i in np.asarray(ids).reshape(-1)], skip_special_tokens=skip_special
    )

  # ---- chat -------------------------------------------------------------

  def render(
    self, messages: Sequence[Mapping[str, Any]], add_generation_prompt: bool = False
  ) -> str:
    """The template's text for `messages` (as transformers' apply_chat_template(tokenize=False))."""
    return self._strip_marks(self._render(messages, add_generation_prompt))

  @staticmethod
  def _strip_marks(text: str) -> str:
    return text.replace(_GEN_OPEN, "").replace(_GEN_CLOSE, "")

  @property
  def system_role(self) -> bool:
    """Whether the template takes a system message (Gemma 2's raises on one)."""
    if not hasattr(self, "_system_role"):
      probe = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
      try:
        self._render_raw(probe, True)
        self._system_role = True
      except TemplateError:
        self._system_role = False
    return self._system_role

  def _render(self, messages, add_generation_prompt: bool) -> str:
    """The template's text; for a template without a system role, a leading system message
    is folded into the first user message ("SYSTEM\n\nUSER"), as templates that accept
    one but have no system turn (Gemma 3's) render it."""
    if messages and messages[0].get("role") == "system" and not self.system_role:
      first, rest = messages[0], list(messages[1:])
      if rest and rest[0].get("role") == "user":
        merged = f"{first['content']}\n\n{rest[0]['content']}"
        messages = [{**rest[0], "content": merged}, *rest[1:]]
      else:
        messages = [{"role": "user", "content": first["content"]}, *rest]
    return self._render_raw(messages, add_generation_prompt)

  def _render_raw(self, messages, add_generation_prompt: bool) -> str:
    for index, m in enumerate(messages):
      if not isinstance(m.get("content"), str):
        raise ValueError(f"message {index} ({m.get('role')}) needs a str 'content'")
    try:
      return self._template.render(
        messages=list(messages),
        add_generation_prompt=add_generation_prompt,
        bos_token=self.bos_token or "",
        eos_token=self.eos_token or "",
      )
    except TemplateError:
      raise
    except Exception as e:  # jinja2's own errors: one line naming the template's complaint
      raise TemplateError(f"chat template failed: {type(e).__name__}: {e}") from e

  def encode_chat(
    self,
    messages: Sequence[Mapping[str, str]],
    add_generation_prompt: bool = False,
    last_turn_only: bool = False,
  ) -> tuple[np.ndarray, np.ndarray]:
    """(tokens [T] int32, loss mask [T] bool) of the rendered conversation (module docstring)."""
    placed = [{**m, "content": _PLACEHOLDER.format(i)} for i, m in enumerate(messages)]
    full = self._render(placed, add_generation_prompt)
    assistants = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
    learn = assistants[-1:] if last_turn_only else assistants
    spans = self._spans(placed, full, learn)
    text = self._strip_marks(full)
    # Cut points: span edges and placeholder edges; each piece is encoded on its own.
    cuts = {0, len(text)} | {p for s in spans for p in s}
    for m in _PLACEHOLDER_RE.finditer(text):
      cuts |= {m.start(), m.end()}
    tokens: list[int] = []
    mask: list[bool] = []
    edges = sorted(cuts)
    for a, b in zip(edges, edges[1:]):
      piece = text[a:b]
      hit = _PLACEHOLDER_RE.fullmatch(piece)
      ids = (
        self.encode(messages[int(hit.group(1))]["content"]) if hit else self._encode(piece, True)
      )
      inside = any(s <= a and b <= e for s, e in spans)
      tokens += ids
      mask += [inside] * len(ids)
    if self.add_bos and self._bos_id is not None and (not tokens or tokens[0] != self._bos_id):
      tokens.insert(0, self._bos_id)
      mask.insert(0, False)
    if learn and not any(mask):
      raise TemplateError("the assistant-only loss mask is empty for this conversation")
    return np.asarray(tokens, np.int32), np.asarray(mask, np.bool_)

  def _spans(self, placed, full: str, learn: Sequence[int]) -> list[tuple[int, int]]:
    """Character spans of the learned assistant turns in the mark-free text of `full`."""
    if _GEN_OPEN in full:
      spans, pos, out, start = [], 0, [], None
      for ch in full:
        if ch == _GEN_OPEN:
          start = pos
        elif ch == _GEN_CLOSE:
          spans.append((start, pos))
        else:
          pos += 1
      text = self._strip_marks(full)
      # keep the generation blocks that hold a learned turn's content
      for s, e in spans:
        for i in learn:
          if _PLACEHOLDER.format(i) in text[s:e]:
            out.append((s, e))
      return out
    text = self._strip_marks(full)
    out = []
    for i in learn:
      before = self._strip_marks(self._render(placed[:i], True))
      upto = self._strip_marks(self._render(placed[: i + 1], False))
      if not (upto.startswith(before) and text.startswith(upto)):
        raise TemplateError(
          f"the chat template does not render message {i} as an extension of the "
          "conversation before it; the assistant loss mask cannot be derived (add "
          "{% generation %} blocks to the template)"
        )
      out.append((len(before), len(upto)))
    return out

  def encode_prompt(self, messages: Sequence[Mapping[str, str]]) -> np.ndarray:
    """Prompt for sampling, ending in the template's generation prompt."""
    return self.encode_chat(messages, add_generation_prompt=True)[0]


def byte_level_from_vocab(
  tokens: Sequence[str], merges: Sequence[str], token_type: Sequence[int], pre: str
) -> Any:
  """A byte-level BPE `tokenizers.Tokenizer` from a GGUF vocabulary (`tokenizer.ggml.*`).

  Token types (llama.cpp): 3 = control (added as special tokens), 4 = user-defined (added,
  not special); every other token is part of the BPE model.
  """
  from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

  vocab = {t: i for i, t in enumerate(tokens)}
  pairs = [tuple(m.split(" ", 1)) for m in merges]
  tok = Tokenizer(models.BPE(vocab=vocab, merges=pairs, fuse_unk=False, byte_fallback=False))
  if pre in _SPLITS:
    tok.pre_tokenizer = pre_tokenizers.Sequence(
      [
        pre_tokenizers.Split(Regex(_SPLITS[pre]), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
      ]
    )
  elif pre in _DIGIT_SPLIT:
    tok.pre_tokenizer = pre_tokenizers.Sequence(
      [
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
      ]
    )
  else:
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
  tok.decoder = decoders.ByteLevel()
  special = [
    AddedToken(t, special=True, normalized=False) for t, k in zip(tokens, token_type) if k == 3
  ]
  user = [
    AddedToken(t, special=False, normalized=False) for t, k in zip(tokens, token_type) if k == 4
  ]
  if special:
    tok.add_special_tokens(special)
  if user:
    tok.add_tokens(user)
  return tok


def sentencepiece_from_vocab(
  tokens: Sequence[str],
  scores: Sequence[float],
  token_type: Sequence[int],
  *,
  add_space_prefix: bool,
  unk_id: int | None = None,
) -> Any:
  """A `tokenizers.Tokenizer` equal to a SentencePiece BPE model, from a GGUF vocabulary of
  model `llama` (`tokenizer.ggml.tokens`, `.scores`, `.token_type`: Gemma, Llama 2).

  SentencePiece BPE encodes by repeatedly joining the adjacent pair of symbols whose join
  is the best-scoring piece; a `tokenizers` BPE model with every split of every piece as a
  merge, ranked by the joined piece's score, does the same. Token types (llama.cpp's
  numbers, SentencePiece's own): 1 normal, 2 unknown, 3 control (special added tokens), 4
  user-defined (added tokens, matched whole in the text), 5 unused, 6 byte (`<0xNN>`, the
  byte fallback of characters outside the vocabulary). Only normal and user-defined pieces
  take part in merges. Spaces become `▁`. `add_space_prefix` (SentencePiece's
  `add_dummy_prefix`) prepends one `▁` to the text and decoding strips it again; as in
  llama.cpp and transformers' legacy Llama tokenizer the `▁` is prepended to each stretch
  of text after an added token too, where SentencePiece prepends it once before the text
  (`tokenizers` splits added tokens out before normalizing, so its exact rule cannot be
  expressed); text without added tokens encodes as SentencePiece encodes it.
  """
  from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers

  if not len(tokens) == len(scores) == len(token_type):
    raise ValueError(
      f"vocabulary of {len(tokens)} tokens with {len(scores)} scores and {len(token_type)} types"
    )
  vocab: dict[str, int] = {}
  for i, t in enumerate(tokens):
    vocab.setdefault(t, i)
  joinable = {t: i for t, i in vocab.items() if token_type[i] in (1, 4)}
  ranked = []
  for piece, i in joinable.items():
    for cut in range(1, len(piece)):
      left, right = piece[:cut], piece[cut:]
      if left in joinable and right in joinable:
        ranked.append((-float(scores[i]), i, -cut, left, right))
  ranked.sort()
  if unk_id is None:
    unk_id = next((i for i, k in enumerate(token_type) if k == 2), None)
  model = models.BPE(
    vocab=vocab,
    merges=[(left, right) for *_, left, right in ranked],
    unk_token=tokens[unk_id] if unk_id is not None else None,
    fuse_unk=True,
    byte_fallback=True,
  )
  tok = Tokenizer(model)
  spaces = normalizers.Replace(" ", "\u2581")
  tok.normalizer = (
    normalizers.Sequence([normalizers.Prepend("\u2581"), spaces]) if add_space_prefix else spaces
  )
  steps = [decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()]
  tok.decoder = decoders.Sequence(
    steps + [decoders.Strip(content=" ", left=1, right=0)] if add_space_prefix else steps
  )
  for kind, add in ((3, tok.add_special_tokens), (4, tok.add_tokens)):
    added = [
      AddedToken(t, special=kind == 3, normalized=False)
      for t, k in zip(tokens, token_type)
      if k == kind
    ]
    if added:
      add(added)
  return tok


def from_gguf_fields(f: Mapping[str, Any]) -> ChatTokenizer:
  """The ChatTokenizer of a GGUF file's `GGUFFile.tokenizer_fields()`."""
  if f.get("model") == "llama":  # SentencePiece vocabularies (Gemma, Llama 2)
    tok = sentencepiece_from_vocab(
      f["tokens"],
      f["scores"],
      f["token_type"],
      add_space_prefix=f["add_space_prefix"],
      unk_id=f["unk_id"],
    )
  else:
    tok = byte_level_from_vocab(f["tokens"], f["merges"], f["token_type"], f["pre"])
  name = lambda i: f["tokens"][i] if i is not None else None
  return ChatTokenizer(
    tok,
    f["chat_template"] or "",
    bos_token=name(f["bos_id"]),
    eos_token=name(f["eos_id"]),
    pad_token=name(f["pad_id"]),
    add_bos=f["add_bos"],
  )
