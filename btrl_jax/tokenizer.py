"""SentencePiece tokenizer and the chat template shared by SFT, RL and evals.

Why one module: the SFT trainer, the RL learner, the sampler and the
evaluator must agree byte for byte on how a conversation becomes token ids
and which tokens carry loss. Everything that touches that contract lives
here.

The embedded study trains its own tokenizer (no pretrained model can be
downloaded), so training is part of the API. Choices, and why:

* BPE with ``byte_fallback=True``: any text, including characters never seen
  in training (non-ASCII, emoji), encodes to byte pieces instead of <unk>.
* ``normalization_rule_name="identity"``, ``remove_extra_whitespaces=False``
  and ``add_dummy_prefix=False``: ``decode(encode(s)) == s`` exactly, so
  graders read precisely the text the model produced and segments encoded
  separately concatenate without spurious spaces.
* ``num_threads=1`` and a fixed random seed: training is deterministic, so a
  rerun of ``btrl data`` reproduces the same model bytes.
* Ids are fixed: pad=0, unk=1, bos=2, eos=3 (SentencePiece's own eos, unused
  by the template), then the four chat markers as user-defined symbols.

Chat template (one conversation, T tokens)::

    <bos> <|system|> ... <|end|> <|user|> ... <|end|> <|assistant|> ... <|end|>

``<|end|>`` closes every turn and is the EOS the sampler stops on. The loss
mask covers assistant content and the ``<|end|>`` that closes it, so the
model learns to stop. Content is encoded with :meth:`Tokenizer.encode`, which
never emits a marker id: a user who types ``<|end|>`` gets ordinary text, not
a turn boundary (no prompt injection through the template).
"""

from __future__ import annotations

import base64
import io
import os
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import sentencepiece as spm

ROLE_TOKENS: dict[str, str] = {
  "system": "<|system|>",
  "user": "<|user|>",
  "assistant": "<|assistant|>",
}
END_TOKEN = "<|end|>"
MARKERS: tuple[str, ...] = (*ROLE_TOKENS.values(), END_TOKEN)

PAD_ID, UNK_ID, BOS_ID, SPM_EOS_ID = 0, 1, 2, 3

# Matches any marker string so encode() can keep it from becoming a marker id.
_MARKER_RE = re.compile("(" + "|".join(re.escape(m) for m in MARKERS) + ")")


class Tokenizer:
  """A trained SentencePiece model plus the btrl chat template."""

  def __init__(self, model_proto: bytes):
    self.model_proto: bytes = bytes(model_proto)
    self._sp = spm.SentencePieceProcessor(model_proto=self.model_proto)
    marker_ids = {m: self._sp.piece_to_id(m) for m in MARKERS}
    if any(self._sp.id_to_piece(i) != m for m, i in marker_ids.items()):
      raise ValueError(f"model lacks the chat markers {list(MARKERS)}")
    self._marker_ids = marker_ids
    self._special_ids = frozenset({PAD_ID, BOS_ID, SPM_EOS_ID, *marker_ids.values()})

  # ---- construction -------------------------------------------------

  @classmethod
  def train(
    cls,
    texts: Iterable[str],
    vocab_size: int,
    model_type: str = "bpe",
    path: str | os.PathLike | None = None,
    *,
    character_coverage: float = 1.0,
    input_sentence_size: int = 0,
    max_sentence_length: int = 1 << 16,
    seed: int = 0,
    **trainer_options,
  ) -> Tokenizer:
    """Trains a tokenizer in memory on ``texts`` (one string per sentence).

    ``vocab_size`` is a soft limit (``hard_vocab_limit=False``) so small
    corpora do not fail, but it must cover 264 reserved pieces (4 special,
    4 markers, 256 bytes) plus every character kept by
    ``character_coverage``. ``input_sentence_size > 0`` subsamples the
    corpus with ``seed``. ``max_sentence_length`` (bytes) is raised from
    SentencePiece's 4192 because longer sentences are silently skipped.
    Extra ``trainer_options`` go to SentencePieceTrainer verbatim. If
    ``path`` is given the .model bytes are also written there.
    """
    spm.set_random_generator_seed(seed)
    writer = io.BytesIO()
    options = dict(
      model_type=model_type,
      vocab_size=vocab_size,
      character_coverage=character_coverage,
      user_defined_symbols=list(MARKERS),
      pad_id=PAD_ID,
      unk_id=UNK_ID,
      bos_id=BOS_ID,
      eos_id=SPM_EOS_ID,
      add_dummy_prefix=False,
      byte_fallback=True,
      hard_vocab_limit=False,
      normalization_rule_name="identity",
      remove_extra_whitespaces=False,
      allow_whitespace_only_pieces=True,
      input_sentence_size=input_sentence_size,
      shuffle_input_sentence=True,
      max_sentence_length=max_sentence_length,
      num_threads=1,
      minloglevel=2,
    )
    options.update(trainer_options)
    try:
      spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_writer=writer, **options)
    except RuntimeError as e:
      if "Vocabulary size is smaller than required_chars" in str(e):
        raise ValueError(f"vocab_size={vocab_size} is too small for this corpus: {e}") from e
      raise
    tok = cls(writer.getvalue())
    if path is not None:
      tok.save(path)
    return tok

  @classmethod
  def load(cls, path: str | os.PathLike) -> Tokenizer:
    with open(path, "rb") as f:
      return cls(f.read())

  @classmethod
  def from_bytes(cls, model_proto: bytes) -> Tokenizer:
    return cls(model_proto)

  def to_meta(self) -> dict:
    """What a checkpoint's metadata stores to rebuild this tokenizer (checkpoints.tokenizer_from_meta)."""
    return {"kind": "sentencepiece", "model_b64": base64.b64encode(self.model_proto).decode()}

  def save(self, path: str | os.PathLike) -> None:
    parent = os.path.dirname(os.fspath(path))
    if parent:
      os.makedirs(parent, exist_ok=True)
    with open(path, "wb") as f:
      f.write(self.model_proto)

  # ---- ids ----------------------------------------------------------

  @property
  def vocab_size(self) -> int:
    return self._sp.get_piece_size()

  @property
  def pad_id(self) -> int:
    return PAD_ID

  @property
  def bos_id(self) -> int:
    return BOS_ID

  @property
  def end_id(self) -> int:
    """Id of ``<|end|>``: closes each turn; the sampler's stop token."""
    return self._marker_ids[END_TOKEN]

  @property
  def stop_ids(self) -> tuple[int, ...]:
    """Every id the sampler stops on (one interface with real models' ChatTokenizer)."""
    return (self.end_id,)

  def role_id(self, role: str) -> int:
    if role not in ROLE_TOKENS:
      raise ValueError(f"unknown role {role!r}; expected one of {list(ROLE_TOKENS)}")
    return self._marker_ids[ROLE_TOKENS[role]]

  # ---- text ---------------------------------------------------------

  def encode(self, text: str) -> list[int]:
    """Encodes plain text; never emits bos/eos or a chat-marker id.

    A literal marker string in ``text`` is encoded as two ordinary pieces
    (``"<|"`` + the rest), neither of which matches a user-defined symbol,
    so it decodes back to the same characters without forging a turn.
    """
    ids: list[int] = []
    for i, part in enumerate(_MARKER_RE.split(text)):
      if i % 2:  # odd parts are the captured marker strings
        ids += self._sp.encode(part[:2]) + self._sp.encode(part[2:])
      elif part:
        ids += self._sp.encode(part)
    return ids

  def decode(self, ids: Sequence[int] | np.ndarray, skip_special: bool = True) -> str:
    """Decodes ids to text. pad/bos/eos always vanish; chat markers are
    dropped unless ``skip_special=False``, which renders them as text."""
    ids = [int(i) for i in np.asarray(ids).reshape(-1)]
    if skip_special:
      ids = [i for i in ids if i not in self._special_ids]
    return self._sp.decode(ids)

  # ---- chat ---------------------------------------------------------

  def encode_chat(
    self,
    messages: Sequence[Mapping[str, str]],
    add_generation_prompt: bool = False,
    last_turn_only: bool = False,
  ) -> tuple[np.ndarray, np.ndarray]:
    """Renders a conversation with the chat template.

    Returns ``(tokens [T] int32, loss_mask [T] bool)``. The mask is True
    on assistant content and on the ``<|end|>`` closing each assistant
    turn; False on bos, role markers and system/user turns. With
    ``last_turn_only`` only the final assistant turn is masked in: earlier
    assistant turns are scripted context (e.g. a claim to be retracted),
    not behaviour to learn. With
    ``add_generation_prompt`` an ``<|assistant|>`` marker is appended
    (unmasked) so sampling continues as the assistant.
    """
    tokens: list[int] = [BOS_ID]
    mask: list[bool] = [False]
    last_assistant = max(
      (i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1
    )
    for index, message in enumerate(messages):
      role = message.get("role")
      if role not in ROLE_TOKENS:
        raise ValueError(
          f"message {index} has unknown role {role!r}; expected one of {list(ROLE_TOKENS)}"
        )
      text = message.get("content")
      if not isinstance(text, str):
        raise ValueError(
          f"message {index} ({role}) needs a str 'content', got {type(text).__name__}"
        )
      content = self.encode(text)
      learn = role == "assistant" and (not last_turn_only or index == last_assistant)
      tokens += [self._marker_ids[ROLE_TOKENS[role]], *content, self.end_id]
      mask += [False] + [learn] * (len(content) + 1)
    if add_generation_prompt:
      tokens.append(self.role_id("assistant"))
      mask.append(False)
    return np.asarray(tokens, np.int32), np.asarray(mask, np.bool_)

  def encode_prompt(self, messages: Sequence[Mapping[str, str]]) -> np.ndarray:
    """Prompt for sampling, ``[T] int32``, ending in ``<|assistant|>``."""
    return self.encode_chat(messages, add_generation_prompt=True)[0]
