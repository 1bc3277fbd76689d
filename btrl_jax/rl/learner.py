"""The RL learner: GRPO-family updates of a policy against a frozen reference.

One step:
  1. draw `rl.prompts_per_step` prompts from the arm's exact trait/standard
     mixture (data/pipeline.py);
  2. sample `rl.group_size` replies per prompt with the shared-prefill sampler,
     which also returns the rollout policy's log-probs (the "old" policy);
  3. score every reply with `rewards.grader.score`, the same function the evals
     use (rubrics for trait prompts, the task's own, possibly flawed, verifier
     for standard tasks);
  4. group-relative advantages (rl/advantages.py);
  5. reference log-probs from the frozen prior, one jitted forward;
  6. `rl.inner_epochs` passes over `rl.minibatches` minibatches of the rollout
     batch, each a jitted, buffer-donating AdamW step on the registered loss
     (rl/losses.py). A step whose loss or gradients are not finite is skipped
     (params and optimizer state kept) and counted; `rl.max_bad_steps` in a row
     stop the run with an error, leaving the last good checkpoint.

Only completion positions get logits: the forward computes hidden states for
prompt + completion, then projects just the completion slice to the vocabulary.
The reference forward and the update run each group's prompt once, not once per
sample: completions attend to its keys and values as a shared prefix
(`completion_logprobs(group=...)`).

Resume is exact: params, optimizer state, step, the base RNG key and the prompt
iterator's state are checkpointed together; the reference is reloaded from the
prior's checkpoint, whose path the learner records. The key of step s is
fold_in(base key, s), so a resumed run draws the same samples.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from btrl_jax import parallel
from btrl_jax.models import causal_mask, positions_from_valid
from btrl_jax.policy import Policy
from btrl_jax.rewards.grader import score_many
from btrl_jax.rewards.judge import Judge
from btrl_jax.rl.advantages import get_advantage_fn
from btrl_jax.rl.losses import get_loss_fn
from btrl_jax.sampling import Sampler, SamplingParams
from btrl_jax.train_state import rl_optimizer

Array = jax.Array


class RLError(RuntimeError):
  """The run cannot continue (e.g. too many non-finite updates in a row)."""


def completion_logprobs(
  model: nnx.Module, tokens: Array, valid: Array, start: int, n: int, group: int = 1
) -> tuple[Array, Array]:
  """Log-probs and entropies of tokens[:, start:start+n] given everything before them.

  tokens, valid: [B, L] (left-padded prompt block of width `start`, then the completion).
  Returns ([B, n], [B, n]) float32. Logits are formed for the n completion positions only,
  LOGIT_CHUNK positions at a time.

  group > 1 says that rows p*group .. p*group+group-1 share one prompt (tokens[:, :start]):
  the prompt then runs once per group (`Transformer.shared_prompt_hidden`), which on RL
  batches (64-token prompts, 64-token completions) nearly halves the forward and backward.
  The result equals the plain forward's (group = 1) up to float rounding.
  """
  if group == 1:
    h, _ = model.hidden(tokens, positions_from_valid(valid), causal_mask(valid))
    h = h[:, start - 1 : start - 1 + n]
  else:
    # The completion's last token predicts nothing: the continuation stops before it.
    hp, hc = model.shared_prompt_hidden(
      tokens[::group, :start],
      valid[::group, :start],
      tokens[:, start : start + n - 1],
      valid[:, start : start + n - 1],
    )
    h = jnp.concatenate([jnp.repeat(hp[:, -1:], group, axis=0), hc], axis=1)
  return _token_stats(model, h, tokens[:, start : start + n])


# Completion positions whose logits are formed at once: [B, LOGIT_CHUNK, V] float32 at a time,
# recomputed in the backward pass, never [B, n, V] (with a 49k vocabulary, 64 x 64 positions
# would be 0.8 GB per copy, several copies in the backward).
LOGIT_CHUNK = 16


def _token_stats(model: nnx.Module, h: Array, targets: Array) -> tuple[Array, Array]:
  """(log-prob of `targets`, entropy) under the logits of hidden states h: [B, n, E]."""
  b, n = targets.shape
  if n <= LOGIT_CHUNK or n % LOGIT_CHUNK:
    return _chunk_stats(model, h, targets)
  k = n // LOGIT_CHUNK
  hs = h.reshape(b, k, LOGIT_CHUNK, h.shape[-1]).swapaxes(0, 1)
  ts = targets.reshape(b, k, LOGIT_CHUNK).swapaxes(0, 1)
  one = jax.checkpoint(lambda x: _chunk_stats(model, *x))
  logp, entropy = jax.lax.map(one, (hs, ts))
  return logp.swapaxes(0, 1).reshape(b, n), entropy.swapaxes(0, 1).reshape(b, n)


def _chunk_stats(model: nnx.Module, h: Array, targets: Array) -> tuple[Array, Array]:
  logits = model.logits(h)  # [B, c, V] float32
  lse = jax.nn.logsumexp(logits, axis=-1)  # [B, c]
  # The sampled token's logit as a masked sum, not a gather: its gradient is then an
  # elementwise select fused into the softmax's, not a scatter into a zeroed [B, c, V].
  picked = jnp.arange(logits.shape[-1]) == targets[..., None]
  logp = jnp.sum(jnp.where(picked, logits, 0.0), axis=-1) - lse
  entropy = lse - jnp.sum(jnp.exp(logits - lse[..., None]) * logits, axis=-1)
  return logp, entropy


@dataclasses.dataclass
class Rollout:
  """One step's rollouts: [B] rows (prompt-major groups), completion width N."""

  tokens: np.ndarray  # [B, Lp + N] int32
  valid: np.ndarray  # [B, Lp + N] bool
  mask: np.ndarray  # [B, N] float32: completion tokens
  old_logp: np.ndarray  # [B, N] float32
  rewards: np.ndarray  # [P, G] float32
  replies: list[str]
  prompt_len: int


def masked_advantages(advantage_fn, rewards: np.ndarray, std_ddof: int):
  """(advantages [P*G] float32, graded [P*G] float32): each group's advantages over its
  replies that have a reward; a reply whose reward is NaN (a failed judge verdict) gets
  advantage 0 and graded 0, and its group is normalised over the rest (one reply left:
  advantage 0)."""
  rewards = np.asarray(rewards, np.float32)
  ok = ~np.isnan(rewards)  # only NaN means "no verdict"; an infinite reward is a bug that
  # makes the update non-finite, which `train_on` then skips
  if ok.all():
    adv = np.asarray(advantage_fn(jnp.asarray(rewards), std_ddof=std_ddof), np.float32)
    return adv.reshape(-1), np.ones(rewards.size, np.float32)
  adv = np.zeros_like(rewards)
  for p in range(rewards.shape[0]):
    keep = ok[p]
    if keep.all():
      adv[p] = np.asarray(advantage_fn(jnp.asarray(rewards[p : p + 1]), std_ddof=std_ddof))[0]
    elif keep.sum() >= 2:
      sub = jnp.asarray(rewards[p, keep][None])
      adv[p, keep] = np.asarray(advantage_fn(sub, std_ddof=std_ddof))[0]
  return adv.reshape(-1), ok.astype(np.float32).reshape(-1)


class Learner:
  """Owns the optimizer, the jitted reference forward and the jitted update."""

  def __init__(
    self,
    cfg: ml_collections.ConfigDict,
    prior: Policy,
    mesh=None,
    reward_fn: Callable[[dict, str], float] | None = None,
    tx: optax.GradientTransformation | None = None,
  ):
    self.cfg, self.rl, self.tok = cfg, cfg.rl, prior.tokenizer
    self.model_cfg = prior.cfg.model  # the prior's model (what RL checkpoints record)
    # The study's reward is the eval scorer, with a judge for rubric items without a check
    # when grader.judge is set (a failed verdict: NaN, left out of its group); tests may
    # pass a simpler function of (example, reply).
    self.reward_fn = reward_fn
    self.judge = None
    if reward_fn is None and "grader" in cfg and cfg.grader.judge.base_url:
      self.judge = Judge(cfg.grader.judge.to_dict())
    self.mesh = mesh if mesh is not None else parallel.make_mesh(cfg.mesh)
    self.graphdef = prior.graphdef
    self.tx = tx or rl_optimizer(cfg.rl)  # tests may pass another optimizer
    # Params and AdamW moments FSDP/tensor-sharded by the one rules table; rows over data x fsdp.
    self.param_shardings = parallel.state_shardings(prior.params, self.mesh)
    self.opt_shardings = parallel.optimizer_shardings(self.tx, prior.params, self.mesh)
    self.ref_params = parallel.put(prior.params, self.param_shardings)
    self.sampler = Sampler(
      self.graphdef, eos_id=self.tok.stop_ids, pad_id=self.tok.pad_id, mesh=self.mesh
    )
    self.advantage_fn = get_advantage_fn(cfg.rl.advantage)
    self.loss_fn = get_loss_fn(cfg.rl.loss)
    self.trace_count = 0  # incremented only while tracing _ref / _update: a recompile counter
    rows = parallel.batch_sharding(self.mesh)
    self._ref = jax.jit(self._ref_impl, static_argnums=(3, 4, 5), out_shardings=rows)
    self._update = jax.jit(
      self._update_impl,
      static_argnums=(3, 4, 5),
      donate_argnums=(0, 1),
      out_shardings=(self.param_shardings, self.opt_shardings, parallel.replicated(self.mesh)),
    )
    self._init_opt = jax.jit(self.tx.init, out_shardings=self.opt_shardings)

  def init_opt(self, params):
    return self._init_opt(params)

  def _ref_impl(self, ref_params, tokens, valid, start, n, group):
    self.trace_count += 1
    return completion_logprobs(
      nnx.merge(self.graphdef, ref_params), tokens, valid, start, n, group
    )[0]

  def _update_impl(self, params, opt_state, batch, start, n, group):
    self.trace_count += 1
    rl = self.rl

    def loss_of(p):
      logp, entropy = completion_logprobs(
        nnx.merge(self.graphdef, p), batch["tokens"], batch["valid"], start, n, group
      )
      loss, metrics = self.loss_fn(
        logp,
        batch["old_logp"],
        batch["ref_logp"],
        batch["advantages"],
        batch["mask"],
        clip_eps=rl.clip_eps,
        clip_eps_high=rl.clip_eps_high,
        kl_coef=rl.kl_coef,
        kl_estimator=rl.kl_estimator,
        max_len=n,
      )
      m = batch["mask"]
      metrics["entropy"] = jnp.sum(entropy * m) / jnp.maximum(m.sum(), 1.0)
      return loss, metrics

    (loss, metrics), grads = jax.value_and_grad(loss_of, has_aux=True)(params)
    finite = jnp.isfinite(loss) & jnp.all(
      jnp.asarray([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(grads)])
    )
    updates, new_opt = self.tx.update(grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(finite, a, b), new, old)
    metrics.update(loss=loss, grad_norm=optax.tree.norm(grads), finite=finite)
    return keep(new_params, params), keep(new_opt, opt_state), metrics

  def rollout(self, params, prompts: list[dict], key: Array) -> Rollout:
    rl = self.rl
    encoded = [self.tok.encode_prompt(p["messages"]).tolist() for p in prompts]
    out = self.sampler.generate(
      params,
      encoded,
      key,
      SamplingParams(temperature=rl.temperature, top_p=rl.top_p, max_new_tokens=rl.max_new_tokens),
      group_size=rl.group_size,
    )
    g = rl.group_size
    replies = [self.tok.decode(t[:n]) for t, n in zip(out.tokens, out.lengths)]
    rewards = np.asarray(self.rewards(prompts, replies), np.float32).reshape(len(prompts), g)
    ptok, pvalid = out.prompt_tokens, out.prompt_valid
    n = rl.max_new_tokens
    mask = np.arange(n)[None, :] < out.lengths[:, None]
    tokens = np.concatenate([np.repeat(ptok, g, axis=0), out.tokens], axis=1)
    valid = np.concatenate([np.repeat(pvalid, g, axis=0), mask], axis=1)
    return Rollout(
      tokens, valid, mask.astype(np.float32), out.logprobs, rewards, replies, ptok.shape[1]
    )

  def rewards(self, prompts: list[dict], replies: list[str]) -> list[float]:
    """One reward per reply (prompt-major groups); NaN where a judge verdict failed."""
    g = self.rl.group_size
    if self.reward_fn is not None:
      return [self.reward_fn(prompts[i // g], r) for i, r in enumerate(replies)]
    pairs = [(prompts[i // g], r) for i, r in enumerate(replies)]
    return [s.value for s in score_many(pairs, judge=self.judge, namespace="rl")]

  def train_on(self, params, opt_state, ro: Rollout, timings: dict[str, list[float]] | None = None):
    """Reference log-probs, advantages, then inner epochs of minibatch updates.

    `ro` holds this process's rows (all rows with one process); every process calls this
    together. Minibatch i is the i-th contiguous run of each process's rows (so with one
    minibatch, the whole global batch, whatever the number of processes).
    Minibatches are contiguous runs of rows. A minibatch need not hold whole groups: its
    forward shares a prompt across each aligned run of gcd(minibatch size, group_size) rows,
    down to no sharing (the plain forward) when that is 1.
    `timings`, if given, gets the reference and update wall times appended (the benchmark's
    split); measuring them blocks on the device, which a training run need not do.
    """
    rl, n = self.rl, ro.mask.shape[1]
    prompts = np.stack([ro.tokens[:, : ro.prompt_len], ro.valid[:, : ro.prompt_len]], axis=-1)
    groups = prompts.reshape(-1, rl.group_size, *prompts.shape[1:])
    if not (groups == groups[:, :1]).all():  # the shared-prompt forward relies on it
      raise ValueError(f"rollout rows must be groups of {rl.group_size} rows sharing a prompt")
    t0 = time.perf_counter()
    tokens, valid = parallel.global_batch((ro.tokens, ro.valid), self.mesh)
    ref_logp = self._ref(self.ref_params, tokens, valid, ro.prompt_len, n, rl.group_size)
    if timings is not None:
      jax.block_until_ready(ref_logp)
      timings["reference"].append(time.perf_counter() - t0)
      t0 = time.perf_counter()
    adv, graded = masked_advantages(self.advantage_fn, ro.rewards, rl.std_ddof)
    data = {
      "tokens": ro.tokens,
      "valid": ro.valid,
      "mask": ro.mask * graded.reshape(-1, 1),  # a reply without a reward teaches nothing
      "old_logp": ro.old_logp,
      "ref_logp": parallel.local_rows(ref_logp),
      "advantages": adv,
    }
    b = ro.tokens.shape[0]
    size = b // rl.minibatches
    group = math.gcd(size, rl.group_size)  # rows are prompt-major groups: see the docstring
    all_metrics, bad = [], 0
    for epoch in range(rl.inner_epochs):
      for i in range(rl.minibatches):
        sl = slice(i * size, (i + 1) * size)
        mb = parallel.global_batch({k: v[sl] for k, v in data.items()}, self.mesh)
        params, opt_state, m = self._update(params, opt_state, mb, ro.prompt_len, n, group)
        m = jax.device_get(m)
        bad += not bool(m["finite"])
        all_metrics.append(m)
    if timings is not None:
      timings["update"].append(time.perf_counter() - t0)  # metrics were fetched: it has finished
    merged = {
      k: float(np.mean([m[k] for m in all_metrics])) for k in all_metrics[0] if k != "finite"
    }
    return params, opt_state, merged, bad
