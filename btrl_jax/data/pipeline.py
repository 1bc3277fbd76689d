"""grain input pipelines: the exact trait/standard RL prompt mixture, and SFT batches.

RL prompts. Each RL step draws `prompts_per_step` prompts. A fraction `p/q`
of them (the trait fraction, `Fraction.limit_denominator(max_cycle)`) are trait
prompts that REPLACE standard prompts, so the step size never changes. The
mixture is a fixed pattern over global slot indices g = 0, 1, 2, ...: slot g is
a trait slot iff floor((g+1)p/q) > floor(gp/q), i.e. p trait slots spread
evenly over every cycle of q slots (5% -> slot 19 of each 20; 25% -> slot 3 of
each 4). The trait share is therefore exact over every cycle, not just in
expectation. The k-th standard slot reads the k-th element of the standard
source and the k-th trait slot the k-th element of the trait source; this is
`grain.MapDataset.select_from_datasets` with an explicit `DatasetSelectionMap`.
grain's own `mix` is not used: it truncates float weights to integers scaled
so the smallest is 100 (0.7/0.3 becomes 233:100, a 30.03% share), rejects a
zero weight (the baseline arm) and has no per-host slot layout; it does give
the same evenly spread 1-in-20 pattern for 0.95/0.05. Both sources are
shuffled with their own seed, derived from `seed` and the source name, and
reshuffled each epoch (grain's `shuffle().repeat()`). The standard source
never sees the trait settings, so two arms with the same seed read the same
k-th standard prompt.

Arms change only the trait source: `trait_domains` keeps trait prompts of those
domains or groups (("health",) keeps health and mental_health: the health-only
arm), `exclude_domains` drops some (("health", "science"): the "no health and
science" arm), `helpfulness_control` keeps the prompts and swaps each trait
rubric for the generic helpfulness rubric (helpfulness.py).

Multi-host: step s covers global slots [sP, (s+1)P); host h of H reads slots
[sP + hP/H, sP + (h+1)P/H) and nothing else. Each batch carries `n_trait` (this
host's trait prompts) and `n_trait_global` (the whole step's, computed from the
pattern), so the share can be logged without a cross-host reduction.

Iterators are grain `DatasetIterator`s read without threads; `get_state()` is
a small JSON-able dict (checkpoint it with the model) and `set_state()` resumes
at exactly the next batch.

SFT batches are padded, not packed: each conversation goes to the smallest
length bucket that holds it, a batch holds one bucket, so a jitted step
compiles once per bucket and no attention mask has to separate packed
documents. A conversation longer than the largest bucket is cut to it
(`fit_sft_examples`), and nothing is cut silently: an example whose learned
tokens (loss mask) would all be cut teaches nothing and is dropped; one that
keeps some is kept, cut; both are counted and logged (a warning naming how
many examples and learned tokens). It is an error (`DataError`, exit 2) when
every example would be dropped, and with `strict=True` (user-supplied data,
e.g. `sft.data=FILE.jsonl`) when any example would lose any learned token:
the message names the example and the largest bucket, so the user can raise
`sft.seq_len` or shorten it rather than train on a changed file.
"""

from __future__ import annotations

import dataclasses
import fractions
import logging
import sys
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import grain
import numpy as np

from btrl_jax.data import real as real_world
from btrl_jax.data import taxonomy
from btrl_jax.data.helpfulness import with_helpfulness_rubric
from btrl_jax.data.jsonl import DataError

_NO_THREADS = grain.ReadOptions(num_threads=0, prefetch_buffer_size=0)
log = logging.getLogger(__name__)


def _get(section: Any, key: str, default: Any) -> Any:
  if section is None:
    return default
  if isinstance(section, Mapping) or hasattr(section, "get"):
    return section.get(key, default)
  return getattr(section, key, default)


@dataclasses.dataclass(frozen=True)
class MixtureConfig:
  """The RL prompt mixture of one arm (see the module docstring)."""

  trait_fraction: float = 0.05
  trait_domains: tuple[str, ...] = ()  # () = every domain
  exclude_domains: tuple[str, ...] = ()
  helpfulness_control: bool = False
  world: str = "traitworld"  # "real": prompts rendered by data/real.py
  prompts_per_step: int = 20
  seed: int = 0
  max_cycle: int = 100  # largest q of the p/q pattern

  def __post_init__(self):
    for key in ("trait_domains", "exclude_domains"):  # "a,b" from a command-line override
      value = getattr(self, key)
      if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
      object.__setattr__(self, key, tuple(value))
    if self.prompts_per_step < 1:
      raise ValueError(f"prompts_per_step must be >= 1, got {self.prompts_per_step}")
    mixture_cycle(self.trait_fraction, self.max_cycle)  # validates the fraction
    if self.trait_domains or self.exclude_domains:
      taxonomy.domain_units(self.trait_domains or None, self.exclude_domains)

  @classmethod
  def from_config(cls, data: Any, rl: Any, seed: int = 0) -> MixtureConfig:
    """From config sections: `data.trait_fraction`, `data.trait_domains`,
    `data.exclude_domains`, `data.helpfulness_control` (optional, default
    False), `rl.prompts_per_step`; `seed` is the top-level `config.seed`.
    Sections may be ConfigDicts, dicts or objects; missing keys take defaults."""
    d = cls()
    return cls(
      trait_fraction=float(_get(data, "trait_fraction", d.trait_fraction)),
      trait_domains=_get(data, "trait_domains", ()) or (),
      exclude_domains=_get(data, "exclude_domains", ()) or (),
      helpfulness_control=bool(_get(data, "helpfulness_control", False)),
      world=str(_get(data, "world", d.world)),
      prompts_per_step=int(_get(rl, "prompts_per_step", d.prompts_per_step)),
      seed=int(seed),
    )

  @property
  def cycle(self) -> tuple[int, int]:
    return mixture_cycle(self.trait_fraction, self.max_cycle)


# ------------------------------------------------------------------ the pattern
def mixture_cycle(trait_fraction: float, max_cycle: int = 100) -> tuple[int, int]:
  """(p, q): p trait slots in every cycle of q slots, p/q closest to the fraction."""
  if not 0.0 <= trait_fraction <= 1.0:
    raise ValueError(f"trait_fraction must be in [0, 1], got {trait_fraction}")
  frac = fractions.Fraction(trait_fraction).limit_denominator(max_cycle)
  if (frac == 0) != (trait_fraction == 0) or (frac == 1) != (trait_fraction == 1):
    raise ValueError(
      f"trait_fraction {trait_fraction} rounds to {frac} with cycles of at "
      f"most {max_cycle} slots; raise max_cycle"
    )
  return frac.numerator, frac.denominator


def trait_slots_before(g: int, p: int, q: int) -> int:
  """How many of the global slots [0, g) are trait slots."""
  return (g // q) * p + ((g % q) * p) // q


def is_trait_slot(g: int, p: int, q: int) -> bool:
  return trait_slots_before(g + 1, p, q) > trait_slots_before(g, p, q)


def count_trait(prompts: Sequence[Mapping[str, Any]]) -> int:
  """Trait prompts in any window of pipeline output (e.g. one or many batches)."""
  return sum(1 for ex in prompts if ex["source"] == "trait")


def trait_share(prompts: Sequence[Mapping[str, Any]]) -> float:
  """The realised trait share of a window of pipeline output."""
  return count_trait(prompts) / len(prompts) if prompts else 0.0


class _ExactMix(grain.transforms.DatasetSelectionMap):
  """Host-local index -> (parent, index in parent), by the fixed pattern."""

  def __init__(
    self, p: int, q: int, per_step: int, per_host: int, shard_index: int, parent_of: dict[str, int]
  ):
    self._p, self._q, self._per_step, self._per_host = p, q, per_step, per_host
    self._offset = shard_index * per_host
    self._parent_of = parent_of

  def __len__(self) -> int:
    return sys.maxsize

  def __getitem__(self, k: int) -> tuple[int, int]:
    g = (k // self._per_host) * self._per_step + self._offset + k % self._per_host
    n_trait = trait_slots_before(g, self._p, self._q)
    if is_trait_slot(g, self._p, self._q):
      return self._parent_of["trait"], n_trait
    return self._parent_of["standard"], g - n_trait


# ------------------------------------------------------------------ RL prompts
def derive_seed(seed: int, name: str) -> int:
  """A 32-bit seed for one named stream, independent of every other stream."""
  return int(np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1)[0])


def filter_trait_prompts(
  prompts: Sequence[Mapping[str, Any]],
  trait_domains: Sequence[str] = (),
  exclude_domains: Sequence[str] = (),
) -> list[dict]:
  """The trait prompts an arm trains on; a prompt's domain key is its
  `subdomain` when set (mental_health), else its `domain`."""
  if not trait_domains and not exclude_domains:
    return list(prompts)
  keep = {k for unit in taxonomy.domain_units(trait_domains or None, exclude_domains) for k in unit}
  out = []
  for ex in prompts:
    key = ex.get("subdomain") or ex.get("domain")
    if key not in taxonomy.DOMAIN_KEYS:
      raise ValueError(
        f"trait prompt {ex.get('id')!r} has domain {key!r}, not a TraitWorld "
        f"domain key; cannot apply the domain filter"
      )
    if key in keep:
      out.append(ex)
  return out


def _tag(source: str, rubric_swap: bool = False, world: str = "traitworld"):
  def fn(ex: dict) -> dict:
    ex = with_helpfulness_rubric(ex) if rubric_swap else dict(ex)
    if world == "real":  # as a real model sees it and a judge grades it (data/real.py)
      ex = real_world.render(ex)
    ex["source"] = source
    return ex

  return fn


def _default_shard(shard_index: int | None, shard_count: int | None) -> tuple[int, int]:
  if shard_index is None or shard_count is None:
    import jax  # deferred: importing this module must not initialise a JAX backend

    shard_index = jax.process_index() if shard_index is None else shard_index
    shard_count = jax.process_count() if shard_count is None else shard_count
  if not 0 <= shard_index < shard_count:
    raise ValueError(f"shard_index {shard_index} not in [0, {shard_count})")
  return shard_index, shard_count


def rl_prompt_dataset(
  trait_prompts: Sequence[Mapping[str, Any]],
  standard_prompts: Sequence[Mapping[str, Any]],
  mixture: MixtureConfig,
  shard_index: int | None = None,
  shard_count: int | None = None,
) -> grain.MapDataset:
  """Step s -> {"step", "prompts": this host's list of prompt dicts (each with
  `source` "trait" or "standard"), "n_trait", "n_trait_global"}.

  Sources are any random-access sequences (lists, `read_dataset(...)`). The
  trait source is filtered and materialised (it is small); the standard source
  is read lazily, only at the indices this host needs.
  """
  shard_index, shard_count = _default_shard(shard_index, shard_count)
  per_step = mixture.prompts_per_step
  if per_step % shard_count:
    raise ValueError(f"prompts_per_step {per_step} is not divisible by {shard_count} shards")
  per_host = per_step // shard_count
  p, q = mixture.cycle
  parents, parent_of = [], {}
  if p < q:
    if not len(standard_prompts):
      raise ValueError("the mixture needs standard prompts but none were given")
    parent_of["standard"] = len(parents)
    parents.append(
      grain.MapDataset.source(standard_prompts)
      .shuffle(derive_seed(mixture.seed, "standard"))
      .repeat()
      .map(_tag("standard", world=mixture.world))
    )
  if p > 0:
    kept = filter_trait_prompts(trait_prompts, mixture.trait_domains, mixture.exclude_domains)
    if not kept:
      raise ValueError(
        f"no trait prompts left after trait_domains={mixture.trait_domains} "
        f"exclude_domains={mixture.exclude_domains}"
      )
    parent_of["trait"] = len(parents)
    parents.append(
      grain.MapDataset.source(kept)
      .shuffle(derive_seed(mixture.seed, "trait"))
      .repeat()
      .map(_tag("trait", mixture.helpfulness_control, mixture.world))
    )
  mixed = grain.MapDataset.select_from_datasets(
    parents, _ExactMix(p, q, per_step, per_host, shard_index, parent_of)
  )

  def finish(step: int, prompts: list[dict]) -> dict[str, Any]:
    start = step * per_step
    return {
      "step": step,
      "prompts": prompts,
      "n_trait": count_trait(prompts),
      "n_trait_global": trait_slots_before(start + per_step, p, q)
      - trait_slots_before(start, p, q),
    }

  return mixed.batch(per_host, batch_fn=list).map_with_index(finish)


def rl_prompt_batches(
  trait_prompts: Sequence[Mapping[str, Any]],
  standard_prompts: Sequence[Mapping[str, Any]],
  mixture: MixtureConfig,
  shard_index: int | None = None,
  shard_count: int | None = None,
) -> grain.DatasetIterator:
  """An endless, resumable iterator over `rl_prompt_dataset` batches."""
  ds = rl_prompt_dataset(trait_prompts, standard_prompts, mixture, shard_index, shard_count)
  return iter(ds.to_iter_dataset(_NO_THREADS))


def traitworld_rl_prompts(
  n_trait: int,
  n_standard: int,
  seed: int,
  split: str = "train",
  families: Sequence[str] = (),
) -> dict[str, list[dict]]:
  """The `btrl_rl_prompts` splits: `trait` scenarios over every domain (arms
  filter later, so all arms share one dataset) and `standard` tasks spread
  evenly over the task families (`families`, default all; no impossible variants:
  those are evals)."""
  from btrl_jax.data import scenarios, tasks  # generation only; the pipeline reads any source

  families = tuple(families) or tasks.FAMILY_NAMES
  standard = []
  for i, family in enumerate(families):
    n = n_standard // len(families) + (i < n_standard % len(families))
    if n:
      standard += tasks.generate_tasks(family, split, n, derive_seed(seed, f"task:{family}"))
  trait = (
    scenarios.generate_scenarios(split, n_trait, derive_seed(seed, "scenarios")) if n_trait else []
  )
  return {"trait": trait, "standard": standard}


# ------------------------------------------------------------------ SFT
@dataclasses.dataclass(frozen=True)
class SftFit:
  """What cutting SFT examples to the largest bucket did (see the module docstring)."""

  n_examples: int
  max_len: int
  truncated: tuple[int, ...]  # indices of examples cut to max_len that kept learned tokens
  dropped: tuple[int, ...]  # indices of examples whose learned tokens were all past max_len
  learned_tokens_cut: int  # learned tokens lost, over truncated and dropped examples

  def summary(self) -> str:
    return (
      f"SFT examples longer than the largest length bucket ({self.max_len} tokens): "
      f"{len(self.truncated)} of {self.n_examples} cut to it and kept, "
      f"{len(self.dropped)} dropped (all their learned tokens were past it); "
      f"{self.learned_tokens_cut} learned tokens cut in all"
    )


def fit_sft_examples(
  examples: Sequence[Any], max_len: int, *, strict: bool = False
) -> tuple[list[tuple[np.ndarray, np.ndarray]], SftFit]:
  """Checks and cuts SFT examples to `max_len`: ((tokens, loss_mask) kept, what was cut).

  Raises `DataError` if every example would be dropped, or (`strict`) if any would
  lose a learned token. Logs a warning when anything is cut.
  """
  kept, truncated, dropped, cut = [], [], [], 0
  for i, ex in enumerate(examples):
    tokens, mask = (ex["tokens"], ex["loss_mask"]) if isinstance(ex, Mapping) else ex
    tokens, mask = np.asarray(tokens, np.int32), np.asarray(mask, bool)
    if tokens.ndim != 1 or tokens.shape != mask.shape or not len(tokens):
      raise ValueError(
        f"SFT example {i}: tokens and loss_mask must be equal-length 1-D, "
        f"got {tokens.shape} and {mask.shape}"
      )
    lost = int(mask[max_len:].sum())
    if strict and lost:
      raise DataError(
        f"SFT example {i}: {len(tokens)} tokens, {lost} of its {int(mask.sum())} learned "
        f"tokens past the largest length bucket ({max_len}); raise sft.seq_len or shorten it"
      )
    cut += lost
    if lost and lost == mask.sum():
      dropped.append(i)
      continue
    if len(tokens) > max_len:
      truncated.append(i)
    kept.append((tokens[:max_len], mask[:max_len]))
  fit = SftFit(len(examples), max_len, tuple(truncated), tuple(dropped), cut)
  if not kept:
    raise DataError(
      f"every one of the {len(examples)} SFT examples has all its learned tokens past the "
      f"largest length bucket ({max_len}); raise sft.seq_len"
    )
  if truncated or dropped:
    log.warning(fit.summary())
  return kept, fit


class _SftBatches:
  """Global batch index -> padded arrays; the epoch plan is a pure function of (seed, epoch)."""

  def __init__(
    self,
    examples: Sequence[tuple[np.ndarray, np.ndarray]],  # fit_sft_examples' output
    batch_size: int,
    buckets: Sequence[int],
    seed: int,
    pad_id: int,
    rows: slice,
  ):
    self._tokens = [t for t, _ in examples]
    self._masks = [m for _, m in examples]
    lengths = np.array([len(t) for t in self._tokens])
    which = np.searchsorted(np.asarray(buckets), lengths)  # smallest bucket >= length
    self._members = [np.flatnonzero(which == b) for b in range(len(buckets))]
    self._buckets, self._batch, self._seed, self._pad, self._rows = (
      tuple(buckets),
      batch_size,
      seed,
      pad_id,
      rows,
    )
    self.batches_per_epoch = sum(-(-len(m) // batch_size) for m in self._members)
    self._cache: tuple[int, list] = (-1, [])  # (epoch, its plan), swapped as one object

  def _epoch_plan(self, epoch: int) -> list[tuple[int, np.ndarray]]:
    """Every example once (a bucket's last batch wraps to its start), batch order shuffled."""
    rng = np.random.default_rng([self._seed, epoch])
    plan = []
    for b, members in enumerate(self._members):
      if len(members):
        n = -(-len(members) // self._batch) * self._batch
        order = np.resize(rng.permutation(members), n)
        plan += [(b, order[i : i + self._batch]) for i in range(0, n, self._batch)]
    return [plan[i] for i in rng.permutation(len(plan))]

  def __call__(self, k: int) -> dict[str, np.ndarray]:
    epoch, j = divmod(int(k), self.batches_per_epoch)
    if self._cache[0] != epoch:
      self._cache = (epoch, self._epoch_plan(epoch))
    bucket, idx = self._cache[1][j]
    idx = idx[self._rows]
    length = self._buckets[bucket]
    tokens = np.full((len(idx), length), self._pad, np.int32)
    mask = np.zeros((len(idx), length), bool)
    lengths = np.array([len(self._tokens[i]) for i in idx])
    for r, i in enumerate(idx):
      tokens[r, : lengths[r]], mask[r, : lengths[r]] = self._tokens[i], self._masks[i]
    # Explicit: a real tokenizer's pad id may be a token of the text (e.g. its end of turn).
    valid = np.arange(length) < lengths[:, None]
    return {"tokens": tokens, "loss_mask": mask, "valid": valid}


def sft_batches(
  examples_tokenized: Sequence[Any],
  batch_size: int,
  seq_len_buckets: Sequence[int] = (64, 128, 256),
  seed: int = 0,
  pad_id: int = 0,
  shard_index: int | None = None,
  shard_count: int | None = None,
  *,
  strict: bool = False,
) -> grain.DatasetIterator:
  """Endless, resumable SFT batches: {"tokens": [B, L] int32, "loss_mask", "valid": [B, L]
  bool} (valid: the row's own tokens, not padding).

  Examples are `{"tokens", "loss_mask"}` dicts or `(tokens, loss_mask)` pairs
  (what `Tokenizer.encode_chat` returns). L is the batch's bucket. Examples
  longer than the largest bucket are cut or dropped by `fit_sft_examples`
  (`strict`: rejected instead), which logs what it cut. Every
  epoch shows every kept example at least once; a bucket's last partial batch is
  filled from the start of that bucket's order, so every row is a real
  example. `batch_size` is global; each host gets its rows of every batch
  (shards default to jax.process_index()/process_count()).
  """
  buckets = sorted(int(b) for b in seq_len_buckets)
  if not buckets or buckets[0] < 1 or len(set(buckets)) != len(buckets):
    raise ValueError(f"seq_len_buckets must be distinct positive lengths, got {seq_len_buckets}")
  if not len(examples_tokenized):
    raise ValueError("sft_batches needs at least one example")
  shard_index, shard_count = _default_shard(shard_index, shard_count)
  if batch_size % shard_count:
    raise ValueError(f"batch_size {batch_size} is not divisible by {shard_count} shards")
  per_host = batch_size // shard_count
  rows = slice(shard_index * per_host, (shard_index + 1) * per_host)
  kept, _ = fit_sft_examples(examples_tokenized, buckets[-1], strict=strict)
  batcher = _SftBatches(kept, batch_size, buckets, seed, pad_id, rows)
  ds = grain.MapDataset.range(sys.maxsize).map(batcher)
  return iter(ds.to_iter_dataset(_NO_THREADS))
