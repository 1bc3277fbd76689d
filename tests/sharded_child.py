"""Runs in a subprocess with fake CPU devices (and, for `rl`, as one of several JAX
processes): the sharded paths of issue 6 against their one-device values.

  python tests/sharded_child.py equiv TOKENIZER OUT.json
      (8 devices) SFT loss and gradients on (8,1,1), (2,4,1), (2,2,2) vs one device;
      RL steps on (8,1,1) and (2,2,2) vs one device; greedy sampling sharded vs unsharded;
      trace counts over steady-state steps.
  python tests/sharded_child.py rl TOKENIZER DATA,FSDP,TENSOR CKPT_DIR OUT.npz
      a few RL steps on that mesh (over all processes' devices), checkpointed into
      CKPT_DIR by every process; process 0 writes the final params to OUT.npz. Then
      `btrl eval`'s path (evals.watch.evaluate_checkpoints) evaluates that checkpoint
      on three evals (15 prompts: the last batch of 7 splits unevenly over two
      processes) and writes OUT.npz's name with .evals.jsonl.
  python tests/sharded_child.py restore TOKENIZER DATA,FSDP,TENSOR CKPT_DIR OUT.npz
      restores CKPT_DIR's latest RL checkpoint onto that mesh and writes its params.
"""

import json
import sys

from btrl_jax import parallel

parallel.maybe_initialize_distributed()  # BTRL_* from launch/multihost_local.sh, if any

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402

from btrl_jax import config  # noqa: E402
from btrl_jax.checkpoint import Checkpointer, key_to_data  # noqa: E402
from btrl_jax.models import build  # noqa: E402
from btrl_jax.policy import Policy  # noqa: E402
from btrl_jax.rl.learner import Learner  # noqa: E402
from btrl_jax.rl.sft import SFTTrainer  # noqa: E402
from btrl_jax.sampling import Sampler, SamplingParams  # noqa: E402
from btrl_jax.tokenizer import Tokenizer  # noqa: E402
from btrl_jax.train_state import rl_optimizer  # noqa: E402

WORDS = "apple banana cherry delta echo foxtrot golf hotel india juliet kilo lima".split()
RL_STEPS = 3
RL_MESHES = [(8, 1, 1), (2, 2, 2)]  # pure data parallel; data x fsdp x tensor


def make_cfg():
  cfg = config.base_config()
  cfg.model.update(vocab_size=320, width=32, layers=2, heads=4, kv_heads=2, head_dim=8, mlp_dim=64)
  cfg.tokenizer.vocab_size = 320
  cfg.rl.update(
    prompts_per_step=8,
    group_size=4,
    max_new_tokens=12,
    learning_rate=3e-3,
    warmup_steps=1,
    kl_coef=0.05,
    steps=RL_STEPS,
    minibatches=1,
  )
  cfg.sft.update(batch_size=8, seq_len=32)
  return config.validate(cfg)


def mesh_of(shape, devices=None):
  return parallel.make_mesh(dict(zip(parallel.MESH_AXES, shape)), devices)


def prompts(n=8, seed=1):
  rng = np.random.default_rng(seed)
  return [
    {"id": str(i), "messages": [{"role": "user", "content": " ".join(rng.choice(WORDS, 3))}]}
    for i in range(n)
  ]


def vowel_share(example, reply):
  letters = [c for c in reply.lower() if c.isalpha()]
  return sum(c in "aeiou" for c in letters) / len(letters) if letters else 0.0


def prior(cfg, tok):
  graphdef, params = nnx.split(build(cfg.model, seed=0))
  return Policy(cfg, tok, graphdef, params, 0)


def keep_grads(tx: optax.GradientTransformation) -> optax.GradientTransformation:
  """`tx` after a transform whose state (state[0]) holds the last raw gradients, so the test
  reads the learner's own gradients, not a second jitted loss's."""
  record = optax.GradientTransformation(
    lambda params: jax.tree.map(jnp.zeros_like, params), lambda g, state, params=None: (g, g)
  )
  return optax.chain(record, tx)


def run_rl(cfg, tok, mesh, steps=RL_STEPS, tx=None, on_step=None):
  """`steps` RL steps (rollout + reference + update) on `mesh`; this process's prompts.
  `on_step(rollout, metrics, params, opt_state)`, if given, sees every step's results."""
  learner = Learner(cfg, prior(cfg, tok), mesh=mesh, reward_fn=vowel_share, tx=tx)
  params = jax.tree.map(jnp.copy, learner.ref_params)
  opt_state = learner.init_opt(params)
  key, traces, rewards = jax.random.key(cfg.seed), [], []
  for step in range(steps):
    ro = learner.rollout(params, parallel.process_rows(prompts()), jax.random.fold_in(key, step))
    params, opt_state, metrics, bad = learner.train_on(params, opt_state, ro)
    assert bad == 0
    if on_step is not None:
      on_step(ro, metrics, params, opt_state)
    rewards.append(parallel.gather_rows(ro.rewards).tolist())
    traces.append((learner.trace_count, learner.sampler.trace_count))
  return learner, params, opt_state, traces, rewards


def flat(params) -> dict[str, np.ndarray]:
  """Path -> full numpy value (gathered across processes where needed)."""
  out = {}
  for path, x in jax.tree.leaves_with_path(params):
    if not x.is_fully_addressable:
      x = jax.experimental.multihost_utils.process_allgather(x, tiled=True)
    out[jax.tree_util.keystr(path)] = np.asarray(x)
  return out


def max_diff(a: dict, b: dict) -> float:
  assert a.keys() == b.keys()
  return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def equiv(tok):
  cfg = make_cfg()
  one = mesh_of((1, 1, 1), jax.devices()[:1])
  rng = np.random.default_rng(0)
  tokens = rng.integers(4, 320, (8, 32)).astype(np.int32)
  tokens[:, 24:] = 0  # right padding (PAD_ID 0)
  valid = tokens != 0
  batch = {"tokens": tokens, "loss_mask": valid & (np.arange(32) >= 8), "valid": valid}
  out = {"n_devices": jax.device_count(), "sft": {}}

  def sft_values(mesh):
    trainer = SFTTrainer(cfg, mesh)
    state = trainer.init()
    gb = parallel.global_batch(batch, mesh)
    (loss, _), grads = jax.jit(trainer.loss_and_grads)(state.params, gb)
    specs = sorted({str(x.sharding.spec) for x in jax.tree.leaves(grads)})
    state, _ = trainer.step(state, batch)
    state, _ = trainer.step(state, batch)
    return float(loss), flat(grads), flat(state.params), specs

  loss1, grads1, params1, _ = sft_values(one)
  for shape in [(8, 1, 1), (2, 4, 1), (2, 2, 2)]:
    loss, grads, params, specs = sft_values(mesh_of(shape))
    out["sft"][str(shape)] = {
      "loss": loss,
      "loss_one": loss1,
      "grad_max_diff": max_diff(grads, grads1),
      "grad_max_abs": max(float(np.abs(g).max()) for g in grads1.values()),
      "params_after_2_steps_max_diff": max_diff(params, params1),
      "grad_specs": specs,
    }

  # RL on two meshes vs one device: each step's sampled tokens, loss and the learner's own
  # gradients (recorded by keep_grads before AdamW), then the params after all steps.
  def rl_values(mesh):
    steps = []

    def on_step(ro, metrics, params, opt_state):
      steps.append((ro.tokens, metrics["loss"], flat(opt_state[0])))

    tx = keep_grads(rl_optimizer(cfg.rl))
    learner, params, opt_state, traces, _ = run_rl(cfg, tok, mesh, tx=tx, on_step=on_step)
    return learner, params, opt_state, traces, steps

  l1, p1, _, _, steps1 = rl_values(one)
  out["rl"] = {
    "moved": max_diff(flat(p1), flat(l1.ref_params)),
    "grad_max_abs": min(max(float(np.abs(g).max()) for g in s[2].values()) for s in steps1),
  }
  for shape in RL_MESHES:
    _, p, opt_state, traces, steps = rl_values(mesh_of(shape))
    out["rl"][str(shape)] = {
      "tokens_equal": [bool((a[0] == b[0]).all()) for a, b in zip(steps1, steps)],
      "loss_diff": [abs(a[1] - b[1]) for a, b in zip(steps1, steps)],
      # Per step, the largest over leaves of max |grad - grad_one| / max |grad_one|.
      "grad_rel_diff": [
        max(float(np.abs(b[2][k] - a[2][k]).max() / np.abs(a[2][k]).max()) for k in a[2])
        for a, b in zip(steps1, steps)
      ],
      "params_max_diff": max_diff(flat(p), flat(p1)),
      "traces": traces,
      "param_specs": sorted({str(x.sharding.spec) for x in jax.tree.leaves(p)}),
      "opt_specs": sorted({str(x.sharding.spec) for x in jax.tree.leaves(opt_state)}),
    }

  # Greedy sampling: sharded == unsharded tokens, for several batch sizes; no recompiles.
  policy = prior(cfg, tok)
  plain = Sampler(policy.graphdef, eos_id=tok.end_id, pad_id=tok.pad_id)
  mesh = mesh_of((2, 2, 2))
  sharded = Sampler(policy.graphdef, eos_id=tok.end_id, pad_id=tok.pad_id, mesh=mesh)
  sharded_params = parallel.put(policy.params, parallel.state_shardings(policy.params, mesh))
  greedy = SamplingParams(temperature=0.0, max_new_tokens=16)
  same, counts = [], []
  for n in (3, 8, 8):
    enc = [tok.encode_prompt(p["messages"]).tolist() for p in prompts(n, seed=n)]
    a = plain.generate(policy.params, enc, jax.random.key(0), greedy, group_size=2)
    b = sharded.generate(sharded_params, enc, jax.random.key(0), greedy, group_size=2)
    same.append(bool((a.tokens == b.tokens).all() and (a.lengths == b.lengths).all()))
    counts.append(sharded.trace_count)
  out["greedy"] = {"same": same, "trace_counts": counts}  # batches of 3, 8, 8 prompts
  return out


EVALS = ("healthbench", "capability_arithmetic", "health_risky_actions")


def save_rl(tok, shape, ckpt_dir, out_path):
  cfg = make_cfg()
  learner, params, opt_state, traces, rewards = run_rl(cfg, tok, mesh_of(shape))
  with Checkpointer(ckpt_dir, async_save=False) as ckpt:  # a checkpoint `btrl eval` can load
    ckpt.save(
      RL_STEPS,
      {
        "params": params,
        "opt_state": opt_state,
        "key": key_to_data(jax.random.key(cfg.seed), learner.mesh),
      },
      {
        "processes": jax.process_count(),
        "mesh": list(shape),
        "config": cfg.to_dict(),
        "kind": "rl",
        "step": RL_STEPS,
        "tokenizer": tok.to_meta(),
      },
      force=True,
    )
  values = flat(params)
  if jax.process_index() == 0:
    np.savez(out_path, **values)
  from btrl_jax.evals.watch import evaluate_checkpoints

  ecfg = make_cfg()
  ecfg.mesh.update(dict(zip(parallel.MESH_AXES, shape)))
  ecfg.eval.update(size=5, max_new_tokens=12, batch_size=8)
  out = out_path.replace(".npz", ".evals.jsonl")
  [(step, records)] = evaluate_checkpoints(ckpt_dir, ecfg, None, EVALS, out=out, progress=False)
  if jax.process_index() == 0:
    print(
      json.dumps(
        {
          "processes": jax.process_count(),
          "devices": jax.device_count(),
          "rewards": rewards,
          "traces": traces,
          "eval_step": step,
          "eval_rows": {n: len(r) for n, r in records.items()},
        }
      )
    )


def restore_rl(tok, shape, ckpt_dir, out_path):
  cfg = make_cfg()
  learner = Learner(cfg, prior(cfg, tok), mesh=mesh_of(shape), reward_fn=vowel_share)
  params = learner.ref_params
  target = {
    "params": params,
    "opt_state": learner.init_opt(params),
    "key": key_to_data(jax.random.key(cfg.seed), learner.mesh),
  }
  with Checkpointer(ckpt_dir) as ckpt:
    saved, meta = ckpt.restore(
      target=jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), target
      )
    )
  specs = sorted({str(x.sharding.spec) for x in jax.tree.leaves(saved["params"])})
  np.savez(out_path, **flat(saved["params"]))
  print(
    json.dumps(
      {
        "meta": {k: meta[k] for k in ("processes", "mesh")},
        "specs": specs,
        "devices": jax.device_count(),
      }
    )
  )


def main(argv):
  mode, tok = argv[1], Tokenizer.load(argv[2])
  if mode == "equiv":
    with open(argv[3], "w") as f:
      json.dump(equiv(tok), f)
  elif mode == "rl":
    save_rl(tok, tuple(int(x) for x in argv[3].split(",")), argv[4], argv[5])
  elif mode == "restore":
    restore_rl(tok, tuple(int(x) for x in argv[3].split(",")), argv[4], argv[5])
  else:
    raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
  main(sys.argv)
