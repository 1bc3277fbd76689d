"""Runs as one of several JAX processes (launch/multihost_local.sh sets BTRL_*), for
tests/test_multiprocess.py.

  python tests/multiproc_child.py sft TOKENIZER OUT_PREFIX WORKDIR[:TERM_AT] ...
      a tiny SFT run (tests/test_sft.py's config) in each WORKDIR in turn, resuming from
      its checkpoint if there is one. With TERM_AT, process 1 alone sends itself SIGTERM
      after that step (a preemption notice that reached one host). Prints one JSON line
      per run and process (process, step reached, latest checkpoint); process 0 writes the
      final params to OUT_PREFIX<i>.npz.
  python tests/multiproc_child.py load CHECKPOINT OUT.npz
      `load_policy` onto all the job's devices; process 0 writes the params to OUT.npz.
"""

import json
import os
import signal
import sys

from btrl_jax import parallel

parallel.maybe_initialize_distributed()

import jax  # noqa: E402
import numpy as np  # noqa: E402
from flax import nnx  # noqa: E402
from jax.experimental import multihost_utils  # noqa: E402
from test_sft import _tiny_cfg  # noqa: E402  (this script's folder is on sys.path)

from btrl_jax.checkpoint import Checkpointer  # noqa: E402
from btrl_jax.data.builtin import reverse_examples  # noqa: E402
from btrl_jax.policy import load_policy  # noqa: E402
from btrl_jax.rl import sft  # noqa: E402
from btrl_jax.tokenizer import Tokenizer  # noqa: E402

STEPS = 12


def tiny_cfg():
  return _tiny_cfg(STEPS)  # the SFT tests' tiny model and run


def flat(params) -> dict[str, np.ndarray]:
  """Path -> full value, gathered over processes."""
  out = {}
  for path, x in jax.tree.leaves_with_path(nnx.to_pure_dict(params)):
    if not x.is_fully_addressable:
      x = multihost_utils.process_allgather(x, tiled=True)
    out[jax.tree_util.keystr(path)] = np.asarray(x)
  return out


def run_sft(tok_path, out_prefix, runs):
  tok, examples = Tokenizer.load(tok_path), reverse_examples(64, seed=0)
  for i, run in enumerate(runs):
    workdir, _, term_at = run.partition(":")

    def on_step(step, metrics, term_at=int(term_at or 0)):
      if step == term_at and jax.process_index() == 1:
        os.kill(os.getpid(), signal.SIGTERM)  # only this process is told to stop

    state = sft.train(tiny_cfg(), workdir, examples, tok, progress=False, on_step=on_step)
    with Checkpointer(os.path.join(workdir, "checkpoints")) as ckpt:
      latest = ckpt.latest_step()
    values = flat(state.params)
    if jax.process_index() == 0:
      np.savez(f"{out_prefix}{i}.npz", **values)
    print(json.dumps({"process": jax.process_index(), "step": state.step, "latest": latest}))


def load(path, out):
  policy = load_policy(path)
  values = flat(policy.params)
  if jax.process_index() == 0:
    np.savez(out, **values)
  print(json.dumps({"process": jax.process_index(), "devices": jax.device_count()}))


if __name__ == "__main__":
  if sys.argv[1] == "sft":
    run_sft(sys.argv[2], sys.argv[3], sys.argv[4:])
  elif sys.argv[1] == "load":
    load(sys.argv[2], sys.argv[3])
  else:
    raise SystemExit(f"unknown mode {sys.argv[1]}")
