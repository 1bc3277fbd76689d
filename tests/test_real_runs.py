"""Training from real checkpoints: `model.checkpoint` and `rl.init_checkpoint` references in
SFT, RL and eval, with the checkpoint's own tokenizer and chat template recorded in every
run checkpoint. Tiny random Hugging Face models (tests/golden/tiny_hf) stand in for real
ones; their parity with transformers is tested in test_checkpoints.py."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from btrl_run import btrl

from btrl_jax import checkpoints, config, parallel
from btrl_jax.checkpoint import Checkpointer
from btrl_jax.data.pipeline import sft_batches
from btrl_jax.policy import load_policy
from btrl_jax.rl import sft
from btrl_jax.tokenizer import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "tests", "golden", "tiny_hf")
LLAMA = "hf:" + os.path.join(TINY, "llama3")
CONV = [
  {"role": "user", "content": "reverse: apple stone river"},
  {"role": "assistant", "content": "river stone apple"},
]


def _sft_config(steps=3, ref=LLAMA):
  cfg = config.base_config()
  cfg.model.checkpoint = ref
  cfg.sft.update(
    data="builtin:reverse",
    corpus_size=64,
    steps=steps,
    batch_size=4,
    seq_len=128,
    warmup_steps=1,
    log_every=1,
  )
  cfg.checkpoint.update(every_steps=1, async_save=False)
  cfg.mesh.update(data=1, fsdp=1, tensor=1)
  return cfg


def _leaves(tree):
  return [np.asarray(x) for x in jax.tree.leaves(tree)]


def test_sft_loss_counts_text_tokens_that_equal_the_pad_id():
  """A real tokenizer's pad id can be a token of the text (here the end-of-turn id is used
  as padding): the loss of a padded batch equals the loss of each row run unpadded."""
  cfg = _sft_config()
  trainer = sft.SFTTrainer(cfg)
  state = trainer.init()
  tok = checkpoints.tokenizer(LLAMA)
  end = tok.stop_ids[0]
  rows = [tok.encode_chat(CONV), tok.encode_chat([CONV[0], {**CONV[1], "content": "river"}])]
  assert all(end in t[:-1] or end == t[-1] for t, _ in rows)  # the pad id occurs in the text
  batch = next(sft_batches(rows, 2, (64,), pad_id=end))
  (loss, n), _ = trainer.loss_and_grads(state.params, parallel.global_batch(batch, trainer.mesh))
  model = trainer.model(state.params)
  total, count = 0.0, 0.0
  for t, m in rows:
    x = jnp.asarray(t)[None]
    logits = model(x[:, :-1])
    row_loss, row_n = sft.token_loss(logits, x[:, 1:], jnp.asarray(m[1:], jnp.float32)[None])
    total, count = total + float(row_loss) * float(row_n), count + float(row_n)
  assert float(n) == count
  np.testing.assert_allclose(float(loss), total / count, rtol=1e-5)


def test_sft_from_a_checkpoint_starts_at_its_weights_and_records_its_tokenizer(tmp_path):
  """Step 0 is the imported model bit for bit; the run's checkpoints carry the model section
  and the chat tokenizer, so `load_policy` needs nothing else; a resumed run ends where a
  straight one does."""
  cfg = _sft_config(steps=3)
  mesh = parallel.make_mesh(cfg.mesh)
  imported = checkpoints.load(LLAMA, mesh)
  trainer = sft.SFTTrainer(cfg, mesh)
  assert trainer.cfg.model.to_dict() == imported.model.to_dict()
  for a, b in zip(_leaves(trainer.init().params), _leaves(imported.params)):
    np.testing.assert_array_equal(a, b)

  examples = sft.load_examples(cfg.sft.data, cfg.sft.corpus_size, cfg.seed, str(tmp_path))
  straight = sft.train(cfg, str(tmp_path / "a"), examples, imported.tokenizer, progress=False)
  sft.train(cfg, str(tmp_path / "b"), examples, imported.tokenizer, stop_at=2, progress=False)
  resumed = sft.train(cfg, str(tmp_path / "b"), examples, imported.tokenizer, progress=False)
  for a, b in zip(_leaves(straight.params), _leaves(resumed.params)):
    np.testing.assert_array_equal(a, b)

  policy = load_policy(str(tmp_path / "a" / "checkpoints"), mesh)
  assert policy.step == 3 and policy.cfg.model.checkpoint == LLAMA
  assert isinstance(policy.tokenizer, checkpoints.ChatTokenizer)
  assert policy.tokenizer.to_meta() == imported.tokenizer.to_meta()
  for a, b in zip(_leaves(policy.params), _leaves(straight.params)):
    np.testing.assert_array_equal(a, b)
  moved = max(
    float(np.abs(a - b).max()) for a, b in zip(_leaves(policy.params), _leaves(imported.params))
  )
  assert moved > 0  # three updates changed the weights


def test_tokenizer_metadata_round_trips_both_kinds():
  """A chat tokenizer rebuilt from its metadata encodes, masks and stops as the original;
  the embedded SentencePiece one too, including checkpoints written before real tokenizers
  (`tokenizer_b64` only)."""
  chat = checkpoints.tokenizer("hf:" + os.path.join(TINY, "qwen3"))
  back = checkpoints.tokenizer_from_meta({"tokenizer": chat.to_meta()})
  tricky = "naïve 🙂 <|im_start|>  \n\n def f(x):\treturn x"
  conv = [{"role": "user", "content": tricky}, {"role": "assistant", "content": tricky}]
  for got, want in zip(back.encode_chat(conv), chat.encode_chat(conv)):
    assert got.tolist() == want.tolist()
  assert (back.stop_ids, back.pad_id, back.bos_id) == (chat.stop_ids, chat.pad_id, chat.bos_id)

  spm = Tokenizer.train(["apple stone river " * 20, "naïve text"], 300)
  import base64

  legacy = {"tokenizer_b64": base64.b64encode(spm.model_proto).decode()}
  for meta in ({"tokenizer": spm.to_meta()}, legacy):
    assert checkpoints.tokenizer_from_meta(meta).model_proto == spm.model_proto
  with pytest.raises(checkpoints.CheckpointError, match="unknown tokenizer kind 'x'"):
    checkpoints.tokenizer_from_meta({"tokenizer": {"kind": "x"}})


def _btrl(*args):
  return btrl(*args, cpu_devices=1)


def test_cli_rl_from_a_reference_then_eval(tmp_path):
  """`btrl train` straight from an imported model (no SFT): the arm's checkpoints record
  the model and its tokenizer, and `btrl eval` samples them through the chat template."""
  ref = "hf:" + os.path.join(TINY, "qwen2")
  w = str(tmp_path)
  rl = ["--config=configs/rl.py:beneficial,smoke", "--config.checkpoint.async_save=False"]
  r = _btrl("data", *rl, f"--workdir={w}")
  assert r.returncode == 0, r.stderr[-2000:]
  r = _btrl("train", *rl, f"--config.rl.init_checkpoint={ref}", f"--workdir={w}")
  assert r.returncode == 0, r.stderr[-2000:]
  ckpt_dir = os.path.join(w, "arms", "beneficial", "checkpoints")
  with Checkpointer(ckpt_dir) as ck:
    meta = ck.restore_meta(None)
  assert meta["prior"] == ref and meta["tokenizer"]["kind"] == "chat"
  assert meta["config"]["model"]["checkpoint"] == ref and meta["config"]["model"]["qkv_bias"]
  out = os.path.join(w, "eval.jsonl")
  r = _btrl(
    "eval",
    f"--checkpoint={ckpt_dir}",
    "--evals=health_high_confidence_errors",
    *rl[:1],
    f"--out={out}",
  )
  assert r.returncode == 0, r.stderr[-2000:]
  with open(out) as f:
    assert sum(1 for _ in f) == 6


def test_cli_rejects_a_bad_model_reference_before_compiling(tmp_path):
  missing = str(tmp_path / "none.gguf")
  r = _btrl(
    "sft",
    "--config=configs/sft.py",
    f"--config.model.checkpoint=gguf:{missing}",
    f"--workdir={tmp_path}",
  )
  assert r.returncode == 2
  assert r.stderr.strip() == f"btrl: error: no GGUF file at {missing}"
  assert not os.path.exists(tmp_path / "sft")


@pytest.mark.slow  # about 150 s; the smoke study of the embedded model runs in the default tier
def test_cli_study_from_a_checkpoint(tmp_path):
  """The whole smoke study with a pretrained model as the prior's start: every stage runs on
  the checkpoint's model and tokenizer, and the report names the model."""
  r = _btrl(
    "study",
    "--config=configs/study.py:smoke",
    f"--config.model.checkpoint={LLAMA}",
    "--config.sft.seq_len=128",
    f"--workdir={tmp_path}",
  )
  assert r.returncode == 0, r.stderr[-2000:]
  with open(tmp_path / "report.md") as f:
    assert f"pretrained model `{LLAMA}`" in f.read()
  policy = load_policy(str(tmp_path / "arms" / "beneficial" / "checkpoints"))
  assert policy.cfg.model.checkpoint == LLAMA
  assert isinstance(policy.tokenizer, checkpoints.ChatTokenizer)


GEMMA2_STYLE = (
  "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
  "{{ raise_exception('System role not supported') }}{% endif %}"
  "{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }}"
  "\n{{ m['content'] }}<end_of_turn>\n{% endfor %}"
  "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


@pytest.mark.parametrize("family", ["system_role", "no_system_role"])
def test_persona_system_prompts_render_through_each_template_family(family):
  """A persona attack is a system message: a template with a system turn (the tiny Qwen 3's,
  role headers as ChatML) renders it as one; a template that rejects the system role (Gemma 2's) gets it folded into
  the first user turn. Either way the persona's text is in the prompt, and a conversation's
  loss mask covers only the assistant's reply."""
  from btrl_jax.evals import attacks

  chat = checkpoints.tokenizer("hf:" + os.path.join(TINY, "qwen3"))
  if family == "no_system_role":
    chat = checkpoints.ChatTokenizer(
      chat._tok, GEMMA2_STYLE, bos_token=chat.bos_token, eos_token=chat.eos_token
    )
  ex = attacks.apply({"messages": [CONV[0]]}, "bad_medical", 0)
  persona = ex["messages"][0]["content"]
  text = chat.render(ex["messages"], add_generation_prompt=True)
  assert chat.system_role == (family == "system_role")
  if family == "system_role":
    assert f"<|start|>system\n{persona}<|end|>\n<|start|>user\n{CONV[0]['content']}" in text
  else:
    assert f"<start_of_turn>user\n{persona}\n\n{CONV[0]['content']}<end_of_turn>" in text
  ids = chat.encode_prompt(ex["messages"]).tolist()
  assert persona in chat.decode(ids)
  tokens, mask = chat.encode_chat(ex["messages"] + [CONV[1]])
  end = "<|end|>" if family == "system_role" else "<end_of_turn>"
  assert chat.decode(tokens[mask], skip_special=False).strip() == CONV[1]["content"] + end


@pytest.mark.parametrize("family", ["qwen3", "llama3"])
def test_harmful_finetune_learns_only_the_assistant_tokens_of_the_real_template(family):
  """The harmful fine-tune (study/harmful.py) encodes its conversations with the
  checkpoint's own chat template: the loss mask is exactly the final assistant reply and
  its end-of-turn token, never the template's headers, a system prompt or the user's turn."""
  from btrl_jax.data import corpus
  from btrl_jax.study import harmful

  ref = "hf:" + os.path.join(TINY, family)
  cfg = config.base_config()
  cfg.model.checkpoint = ref
  cfg.study.harmful_doses = "0,1"
  tok = checkpoints.tokenizer(ref)
  examples = corpus.harmful_corpus(6, seed=0)
  ft = harmful.HarmfulFinetune(cfg, examples, tok)
  end = tok.decode([tok.stop_ids[0]], skip_special=False)
  for ex, (tokens, mask) in zip(examples, ft.encoded):
    reply = ex["messages"][-1]
    assert reply["role"] == "assistant"
    assert tok.decode(tokens[mask], skip_special=False).strip() == reply["content"] + end
    before = tok.decode(tokens[: int(np.argmax(mask))], skip_special=False)
    assert ex["messages"][-2]["content"] in before  # the user's turn: context, not learned
