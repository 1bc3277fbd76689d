"""grain pipelines: exact trait share, arm filters, helpfulness control, resume, shards, SFT."""

import json

import ml_collections
import numpy as np
import pytest

from btrl_jax.data import pipeline as pl
from btrl_jax.data import tfds_builders as tb
from btrl_jax.data.helpfulness import RUBRIC_TAG, helpfulness_rubric
from btrl_jax.data.jsonl import DataError

HEALTH = {"health"}


@pytest.fixture(scope="module")
def sources():
  src = pl.traitworld_rl_prompts(n_trait=520, n_standard=700, seed=0)
  # A unique serial per source row, so disjointness is about rows, not ids.
  return {
    name: [dict(ex, uid=f"{name}:{i}") for i, ex in enumerate(rows)] for name, rows in src.items()
  }


def _arm(sources, steps, shard=(0, 1), **kw):
  kw.setdefault("prompts_per_step", 20)
  it = pl.rl_prompt_batches(sources["trait"], sources["standard"], pl.MixtureConfig(**kw), *shard)
  return [next(it) for _ in range(steps)]


def _flat(batches):
  return [ex for b in batches for ex in b["prompts"]]


def test_mixture_cycle():
  assert pl.mixture_cycle(0.05) == (1, 20) and pl.mixture_cycle(0.25) == (1, 4)
  assert pl.mixture_cycle(0.3) == (3, 10) and pl.mixture_cycle(1 / 3) == (1, 3)
  assert pl.mixture_cycle(0.0) == (0, 1) and pl.mixture_cycle(1.0) == (1, 1)
  with pytest.raises(ValueError, match="rounds to 0"):
    pl.mixture_cycle(0.001)
  with pytest.raises(ValueError):
    pl.mixture_cycle(1.5)
  assert [pl.is_trait_slot(g, 1, 4) for g in range(8)] == [False, False, False, True] * 2


@pytest.mark.parametrize(
  "fraction,per_step,filters",
  [
    (0.05, 20, {}),
    (0.25, 20, {}),
    (0.05, 16, {"trait_domains": ("health",)}),
    (0.25, 12, {"trait_domains": ("health",)}),
    (0.05, 20, {"exclude_domains": ("health", "science")}),
    (0.25, 8, {"exclude_domains": ("health", "science")}),
    (0.3, 8, {}),
  ],
)
def test_trait_share_exact_per_cycle(sources, fraction, per_step, filters):
  p, q = pl.mixture_cycle(fraction)
  batches = _arm(sources, 40, trait_fraction=fraction, prompts_per_step=per_step, seed=1, **filters)
  prompts = _flat(batches)
  usable = len(prompts) // q * q
  for start in range(0, usable, q):
    assert pl.count_trait(prompts[start : start + q]) == p
  assert pl.trait_share(prompts[:usable]) == pytest.approx(p / q, abs=0)
  for b in batches:
    assert len(b["prompts"]) == per_step  # traits replace standard prompts
    assert b["n_trait"] == b["n_trait_global"] == pl.count_trait(b["prompts"])
  traits = [ex for ex in prompts if ex["source"] == "trait"]
  standard = [ex for ex in prompts if ex["source"] == "standard"]
  assert all(ex["family"] == "trait" and ex["rubric"] for ex in traits)
  assert all("verifier" in ex for ex in standard)
  domains = {ex["domain"] for ex in traits}
  if "trait_domains" in filters:
    assert domains == HEALTH
    assert {ex["subdomain"] for ex in traits} == {None, "mental_health"}  # both halves of health
  elif "exclude_domains" in filters:
    assert not domains & {"health", "science"} and len(domains) >= 8
  else:
    assert HEALTH <= domains


def test_helpfulness_control_swaps_rubrics_keeps_prompts(sources):
  beneficial = _flat(_arm(sources, 30, trait_fraction=0.25, seed=4))
  control = _flat(_arm(sources, 30, trait_fraction=0.25, seed=4, helpfulness_control=True))
  assert len(beneficial) == len(control)
  swapped = 0
  for b, c in zip(beneficial, control):
    assert (b["id"], b["messages"], b["source"]) == (c["id"], c["messages"], c["source"])
    if b["source"] == "trait":
      assert c["rubric"] == helpfulness_rubric(b["ask"]) != b["rubric"]
      assert RUBRIC_TAG in c["tags"] and RUBRIC_TAG not in b["tags"]
      assert {k: v for k, v in c.items() if k not in ("rubric", "tags")} == {
        k: v for k, v in b.items() if k not in ("rubric", "tags")
      }
      swapped += 1
    else:
      assert b == c
  assert swapped == len(beneficial) // 4


def test_standard_prompts_identical_across_arms(sources):
  arms = {
    "baseline": dict(trait_fraction=0.0),
    "beneficial": dict(trait_fraction=0.05),
    "health_only": dict(trait_fraction=0.05, trait_domains=("health",)),
    "no_health_science": dict(trait_fraction=0.05, exclude_domains=("health", "science")),
    "helpfulness_control": dict(trait_fraction=0.05, helpfulness_control=True),
    "quarter": dict(trait_fraction=0.25),
  }
  streams = {
    name: [ex["uid"] for ex in _flat(_arm(sources, 50, seed=7, **kw)) if ex["source"] == "standard"]
    for name, kw in arms.items()
  }
  k = min(map(len, streams.values()))
  assert k == 750  # the 25% arm: 1000 slots, 750 standard; this spans an epoch boundary
  reference = streams["baseline"][:k]
  for name, stream in streams.items():
    assert stream[:k] == reference, name
  # Arms whose mixtures agree agree slot by slot, not just standard by standard.
  b, h = (
    _flat(_arm(sources, 5, seed=7, trait_fraction=0.05)),
    _flat(_arm(sources, 5, seed=7, trait_fraction=0.05, trait_domains=("health",))),
  )
  assert [(x["source"], x["uid"]) for x in b if x["source"] == "standard"] == [
    (x["source"], x["uid"]) for x in h if x["source"] == "standard"
  ]
  assert [x["source"] for x in b] == [x["source"] for x in h]
  # A different seed gives a different order.
  other = [ex["uid"] for ex in _flat(_arm(sources, 5, seed=8, trait_fraction=0.0))]
  assert other != reference[: len(other)]


def test_each_epoch_is_a_permutation(sources):
  prompts = _flat(_arm(sources, 80, trait_fraction=0.25, seed=2, trait_domains=("health",)))
  kept = pl.filter_trait_prompts(sources["trait"], ("health",))
  traits = [ex["uid"] for ex in prompts if ex["source"] == "trait"]
  n = len(kept)
  assert len(traits) >= 2 * n
  assert sorted(traits[:n]) == sorted(traits[n : 2 * n]) == sorted(ex["uid"] for ex in kept)
  assert traits[:n] != traits[n : 2 * n]  # reshuffled each epoch


def test_resume_is_exact(sources):
  mixture = pl.MixtureConfig(
    trait_fraction=0.25,
    prompts_per_step=12,
    seed=3,
    trait_domains=("health",),
    helpfulness_control=True,
  )
  it = pl.rl_prompt_batches(sources["trait"], sources["standard"], mixture, 0, 1)
  for _ in range(7):
    next(it)
  state = json.loads(json.dumps(it.get_state()))  # what a checkpoint's JSON meta holds
  expected = [next(it) for _ in range(9)]
  fresh = pl.rl_prompt_batches(sources["trait"], sources["standard"], mixture, 0, 1)
  fresh.set_state(state)
  assert [next(fresh) for _ in range(9)] == expected
  assert expected[0]["step"] == 7


def test_shards_partition_each_step(sources):
  kw = dict(trait_fraction=0.25, prompts_per_step=8, seed=5)
  whole = _arm(sources, 30, **kw)
  parts = [_arm(sources, 30, shard=(i, 2), **kw) for i in range(2)]
  seen = [set(), set()]
  for step, full in enumerate(whole):
    a, b = parts[0][step], parts[1][step]
    assert a["step"] == b["step"] == step and len(a["prompts"]) == len(b["prompts"]) == 4
    assert a["prompts"] + b["prompts"] == full["prompts"]
    assert a["n_trait"] + b["n_trait"] == a["n_trait_global"] == full["n_trait"]
    seen[0] |= {x["uid"] for x in a["prompts"]}
    seen[1] |= {x["uid"] for x in b["prompts"]}
  assert not seen[0] & seen[1]  # 180 standard + 60 trait rows: within one epoch of each
  with pytest.raises(ValueError, match="not divisible"):
    _arm(sources, 1, shard=(0, 3), **kw)
  with pytest.raises(ValueError, match="shard_index"):
    _arm(sources, 1, shard=(2, 2), **kw)


def test_reads_tfds_sources_like_lists(tmp_path, sources):
  small = {"trait": sources["trait"][:60], "standard": sources["standard"][:90]}
  tb.build_dataset("btrl_rl_prompts", small, tmp_path)
  recs = {s: tb.read_dataset("btrl_rl_prompts", s, tmp_path) for s in small}
  mixture = pl.MixtureConfig(
    trait_fraction=0.25, prompts_per_step=10, seed=9, exclude_domains=("health", "science")
  )
  a = pl.rl_prompt_batches(recs["trait"], recs["standard"], mixture, 0, 1)
  b = pl.rl_prompt_batches(small["trait"], small["standard"], mixture, 0, 1)
  assert [next(a) for _ in range(12)] == [next(b) for _ in range(12)]


def test_config_and_validation(sources):
  cfg = ml_collections.ConfigDict(
    {
      "seed": 11,
      "data": {
        "trait_fraction": 0.25,
        "trait_domains": ["health"],
        "exclude_domains": [],
        "helpfulness_control": True,
      },
      "rl": {"prompts_per_step": 16},
    }
  )
  m = pl.MixtureConfig.from_config(cfg.data, cfg.rl, seed=cfg.seed)
  assert m == pl.MixtureConfig(
    trait_fraction=0.25,
    trait_domains=("health",),
    helpfulness_control=True,
    prompts_per_step=16,
    seed=11,
  )
  assert pl.MixtureConfig.from_config({}, {}) == pl.MixtureConfig()
  assert pl.MixtureConfig(exclude_domains="health, science").exclude_domains == (
    "health",
    "science",
  )
  only_traits = next(
    pl.rl_prompt_batches(
      sources["trait"], [], pl.MixtureConfig(trait_fraction=1.0, prompts_per_step=4), 0, 1
    )
  )
  assert [ex["source"] for ex in only_traits["prompts"]] == ["trait"] * 4
  baseline = next(
    pl.rl_prompt_batches(
      [], sources["standard"], pl.MixtureConfig(trait_fraction=0.0, prompts_per_step=4), 0, 1
    )
  )
  assert baseline["n_trait_global"] == 0 and len(baseline["prompts"]) == 4
  with pytest.raises(ValueError, match="needs standard prompts"):
    pl.rl_prompt_dataset(sources["trait"], [], pl.MixtureConfig(), 0, 1)
  with pytest.raises(ValueError, match="astrology"):
    pl.MixtureConfig(trait_domains=("astrology",))
  with pytest.raises(ValueError, match="no trait prompts left"):
    pl.rl_prompt_dataset(
      [ex for ex in sources["trait"] if ex["domain"] != "health"],
      sources["standard"],
      pl.MixtureConfig(trait_domains=("health",)),
      0,
      1,
    )
  with pytest.raises(ValueError, match="not a TraitWorld domain"):
    pl.filter_trait_prompts([{"id": "x", "domain": "cooking"}], ("health",))
  batch = next(pl.rl_prompt_batches(sources["trait"], sources["standard"], m))  # jax defaults
  assert len(batch["prompts"]) == 16


# ------------------------------------------------------------------ SFT
def _tokenized(n, seed=0):
  rng = np.random.default_rng(seed)
  out = []
  for i in range(n):
    length = int(rng.integers(3, 300))
    tokens = np.full(length, 10 + i, np.int32)  # row i is recognisable by its token
    out.append({"tokens": tokens, "loss_mask": np.arange(length) % 2 == 1})
  return out


def test_sft_buckets_cover_every_example():
  examples = _tokenized(53)
  it = pl.sft_batches(
    examples, batch_size=4, seq_len_buckets=(64, 128, 256), seed=1, shard_index=0, shard_count=1
  )
  n_batches = sum(
    -(-sum(1 for e in examples if lo < min(len(e["tokens"]), 256) <= hi) // 4)
    for lo, hi in ((0, 64), (64, 128), (128, 256))
  )
  seen = set()
  for _ in range(n_batches):
    b = next(it)
    tokens, mask = b["tokens"], b["loss_mask"]
    assert tokens.dtype == np.int32 and mask.dtype == bool and tokens.shape[0] == 4
    assert tokens.shape[1] in (64, 128, 256)
    for row, m in zip(tokens, mask):
      ex = examples[row[0] - 10]
      n = min(len(ex["tokens"]), 256)
      assert tokens.shape[1] == min(b for b in (64, 128, 256) if b >= n)  # smallest bucket
      assert (row[:n] == ex["tokens"][:n]).all() and (row[n:] == 0).all()
      assert (m[:n] == ex["loss_mask"][:n]).all() and not m[n:].any()
      seen.add(int(row[0]))
  assert seen == {10 + i for i in range(53)}  # one epoch shows every example


def test_sft_resume_and_shards():
  examples = _tokenized(40, seed=2)
  kw = dict(batch_size=6, seq_len_buckets=(128, 64, 256), seed=3)
  it = pl.sft_batches(examples, shard_index=0, shard_count=1, **kw)
  for _ in range(5):
    next(it)
  state = json.loads(json.dumps(it.get_state()))
  expected = [next(it) for _ in range(20)]  # crosses an epoch boundary
  fresh = pl.sft_batches(examples, shard_index=0, shard_count=1, **kw)
  fresh.set_state(state)
  for want, got in zip(expected, (next(fresh) for _ in range(20))):
    assert all((want[k] == got[k]).all() for k in ("tokens", "loss_mask"))
  hosts = [pl.sft_batches(examples, shard_index=i, shard_count=3, **kw) for i in range(3)]
  for h in hosts:
    h.set_state(state)
  for want in expected[:6]:
    parts = [next(h) for h in hosts]
    assert all(p["tokens"].shape[0] == 2 for p in parts)
    assert (np.concatenate([p["tokens"] for p in parts]) == want["tokens"]).all()
  with pytest.raises(ValueError, match="not divisible"):
    pl.sft_batches(examples, shard_index=0, shard_count=4, **kw)
  with pytest.raises(ValueError, match="equal-length"):
    pl.sft_batches([([1, 2], [True])], 1, (8,), 0, shard_index=0, shard_count=1)


def _example(n, learned):
  """n tokens valued 100 + position; the loss mask is True on positions `learned`."""
  mask = np.zeros(n, bool)
  mask[learned] = True
  return np.arange(100, 100 + n, dtype=np.int32), mask


def test_sft_cut_drops_examples_that_lose_every_learned_token_and_says_so(caplog):
  examples = [
    _example(10, slice(5, 10)),  # fits
    _example(40, slice(20, 40)),  # its only learned turn lies past the cut: dropped
    _example(40, slice(10, 30)),  # keeps 6 of 20 learned tokens: cut and kept
    _example(20, slice(0, 5)),  # longer than the bucket, nothing learned is cut
  ]
  with caplog.at_level("WARNING"):
    it = pl.sft_batches(examples, 1, (8, 16), seed=0, shard_index=0, shard_count=1)
    rows = [next(it) for _ in range(6)]  # two epochs of the three kept examples
  assert "2 of 4 cut to it and kept, 1 dropped" in caplog.text
  assert "34 learned tokens cut" in caplog.text
  assert all(b["loss_mask"].any() for b in rows)  # no row without a learned token
  assert sorted({int(b["loss_mask"].sum()) for b in rows}) == [5, 6]
  kept, fit = pl.fit_sft_examples(examples, 16)
  assert fit == pl.SftFit(4, 16, truncated=(2, 3), dropped=(1,), learned_tokens_cut=20 + 14)
  assert [len(t) for t, _ in kept] == [10, 16, 16] and [int(m.sum()) for _, m in kept] == [5, 6, 5]


def test_sft_cut_errors_when_everything_or_a_users_turn_would_be_lost():
  lost = [_example(40, slice(20, 40)), _example(30, slice(25, 30))]
  with pytest.raises(DataError, match="every one of the 2 SFT examples"):
    pl.sft_batches(lost, 1, (8, 16), shard_index=0, shard_count=1)
  partly = [_example(10, slice(5, 10)), _example(40, slice(10, 30))]
  pl.sft_batches(partly, 1, (8, 16), shard_index=0, shard_count=1)  # generated data: cut, logged
  with pytest.raises(DataError, match=r"SFT example 1: 40 tokens, 14 of its 20 learned .* \(16\)"):
    pl.sft_batches(partly, 1, (8, 16), shard_index=0, shard_count=1, strict=True)
  kept, fit = pl.fit_sft_examples(partly[:1], 16, strict=True)  # nothing cut: nothing to reject
  assert len(kept) == 1 and fit.truncated == fit.dropped == () and fit.learned_tokens_cut == 0
