"""SFT: loss parity, exact resume after interruption, and the end-to-end CLI run."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from btrl_jax import config
from btrl_jax.checkpoint import Checkpointer
from btrl_jax.data.builtin import reverse_examples, reverse_target
from btrl_jax.metrics import read_metrics
from btrl_jax.rl import sft
from btrl_jax.tokenizer import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_token_loss_matches_numpy():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(2, 5, 7)).astype(np.float32)
  targets = rng.integers(0, 7, size=(2, 5))
  weights = (rng.random((2, 5)) > 0.4).astype(np.float32)
  got, n = sft.token_loss(jnp.asarray(logits), jnp.asarray(targets), jnp.asarray(weights))
  lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  nll = -np.take_along_axis(lp, targets[..., None], -1)[..., 0]
  np.testing.assert_allclose(got, (nll * weights).sum() / weights.sum(), rtol=1e-6)
  assert n == weights.sum()


def _tiny_cfg(steps=12):
  cfg = config.base_config()
  cfg.model.update(vocab_size=320, width=32, layers=1, heads=2, kv_heads=1, head_dim=16, mlp_dim=64)
  cfg.tokenizer.vocab_size = 320
  cfg.sft.update(steps=steps, batch_size=4, seq_len=24, warmup_steps=2, log_every=1, corpus_size=64)
  cfg.checkpoint.update(every_steps=4, async_save=True)
  return config.validate(cfg)


@pytest.fixture(scope="module")
def corpus():
  examples = reverse_examples(64, seed=0)
  texts = [m["content"] for e in examples for m in e["messages"]]
  return examples, Tokenizer.train(texts, 320)


def _params(state):
  return jax.tree.map(np.asarray, nnx.to_pure_dict(state.params))


class Crash(Exception):
  pass


def test_interrupted_run_resumes_to_identical_parameters(tmp_path, corpus):
  examples, tok = corpus
  cfg = _tiny_cfg()
  straight = sft.train(cfg, str(tmp_path / "a"), examples, tok, progress=False)

  # A graceful stop (as on SIGTERM) checkpoints at the current step...
  stopped = sft.train(cfg, str(tmp_path / "b"), examples, tok, progress=False, stop_at=6)
  assert stopped.step == 6
  with Checkpointer(tmp_path / "b" / "checkpoints") as ck:
    assert ck.latest_step() == 6

  # ...and a hard crash at step 7 loses everything after the step-4 checkpoint.
  def crash(step, metrics):
    if step == 7:
      raise Crash

  with pytest.raises(Crash):
    sft.train(cfg, str(tmp_path / "c"), examples, tok, progress=False, on_step=crash)
  for run in ("b", "c"):
    resumed = sft.train(cfg, str(tmp_path / run), examples, tok, progress=False)
    assert resumed.step == 12
    jax.tree.map(np.testing.assert_array_equal, _params(resumed), _params(straight))
  rows = read_metrics(str(tmp_path / "a" / "metrics.jsonl"))
  assert [r["step"] for r in rows] == list(range(1, 13))
  # One row per step after a resume too: "c" logged 5-7 before crashing at 7 and resumed
  # from 4; the rows after 4 were dropped and logged again, with the same values.
  for run in ("b", "c"):
    again = read_metrics(str(tmp_path / run / "metrics.jsonl"))
    assert [r["step"] for r in again] == list(range(1, 13)), run
    assert [r["loss"] for r in again] == [r["loss"] for r in rows], run
  assert {"loss", "grad_norm", "lr", "tokens_per_s"} <= rows[0].keys()
  assert os.listdir(tmp_path / "a" / "tb")  # TensorBoard event files


def test_loss_mask_learns_only_the_final_assistant_turn(corpus):
  _, tok = corpus
  msgs = [
    {"role": "user", "content": "reverse: a b"},
    {"role": "assistant", "content": "x y"},
    {"role": "user", "content": "again"},
    {"role": "assistant", "content": "b a"},
  ]
  tokens, mask = sft.encode_examples([{"messages": msgs}], tok)[0]
  learned = tokens[mask]
  assert tok.decode(learned) == "b a" and learned[-1] == tok.end_id


@pytest.mark.slow  # the study smoke test (tests/test_study.py) runs the CLI end to end by default
def test_end_to_end_cli_sft_then_sample_follows_the_rule(tmp_path):
  """`btrl sft` on the built-in reverse corpus, then `btrl sample` on held-out word lists."""
  env = dict(os.environ, PYTHONUNBUFFERED="1")
  run = lambda *a: subprocess.run(
    [sys.executable, "-m", "btrl_jax.cli", *a],
    cwd=ROOT,
    env=env,
    capture_output=True,
    text=True,
    timeout=600,
  )
  r = run("sft", "--config=configs/sft.py", f"--workdir={tmp_path}")
  assert r.returncode == 0, r.stderr[-2000:]
  rows = read_metrics(str(tmp_path / "sft" / "metrics.jsonl"))
  assert rows[0]["loss"] > 3.0 and rows[-1]["loss"] < 0.5, (rows[0]["loss"], rows[-1]["loss"])
  held_out = reverse_examples(6, seed=123, split="eval")
  hits = 0
  for ex in held_out:
    prompt = ex["messages"][0]["content"]
    r = run("sample", f"--checkpoint={tmp_path}/sft/checkpoints", f"--prompt={prompt}")
    assert r.returncode == 0, r.stderr[-2000:]
    hits += r.stdout.strip() == reverse_target(prompt)
  assert hits >= 5, hits
