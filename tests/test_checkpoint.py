"""Checkpointer: bitwise round-trips (the resume invariant rests on them),
pruning, restore onto a sharded abstract target, async saves, NNX state."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from btrl_jax.checkpoint import Checkpointer, data_to_key, key_to_data

META = {
  "data_iterator": {"cycle": 3, "index": 17},
  "config": {"lr": 1e-3},
  "arm": "baseline",
  "history": [1, 2.5, None, "x"],
}


def _state(seed: int = 0) -> dict:
  rng = np.random.default_rng(seed)
  return {
    "params": {
      "dense": {
        "kernel": jnp.asarray(rng.normal(size=(4, 8)), jnp.float32),
        "bias": jnp.asarray(rng.normal(size=(8,)), jnp.bfloat16),
      },
      "embed": jnp.asarray(rng.normal(size=(16, 4)), jnp.bfloat16),
    },
    "opt": {
      "count": jnp.asarray(7, jnp.int32),
      "mu": np.asarray(rng.integers(-9, 9, size=(3, 2)), np.int32),
    },
    "step": jnp.asarray(seed + 100, jnp.int32),
    "rng": key_to_data(jax.random.key(seed)),
  }


def _assert_bitwise(restored, expected):
  r_leaves, r_def = jax.tree.flatten(restored)
  e_leaves, e_def = jax.tree.flatten(expected)
  assert r_def == e_def
  for r, e in zip(r_leaves, e_leaves):
    r, e = np.asarray(r), np.asarray(e)
    assert (r.dtype, r.shape) == (e.dtype, e.shape)
    assert r.tobytes() == e.tobytes()


def test_round_trip_is_bitwise(tmp_path):
  state = _state()
  with Checkpointer(tmp_path / "ckpt", async_save=False) as ckpt:
    assert ckpt.save(5, state, META)
    restored, meta = ckpt.restore(5)
  _assert_bitwise(restored, state)
  assert meta == META
  assert restored["params"]["embed"].dtype == jnp.bfloat16


def test_key_helpers_round_trip(tmp_path):
  key = jax.random.fold_in(jax.random.key(3), 11)
  with Checkpointer(tmp_path, async_save=False) as ckpt:
    ckpt.save(0, {"rng": key_to_data(key)}, {})
    data, _ = ckpt.restore()
  rebuilt = data_to_key(data["rng"])
  assert jax.random.key_impl(rebuilt) == jax.random.key_impl(key)
  np.testing.assert_array_equal(jax.random.bits(rebuilt, (4,)), jax.random.bits(key, (4,)))


def test_max_to_keep_prunes_and_latest_step(tmp_path):
  with Checkpointer(tmp_path, max_to_keep=2, async_save=False) as ckpt:
    assert ckpt.latest_step() is None and ckpt.all_steps() == []
    for step in (1, 2, 3, 4):
      ckpt.save(step, _state(step), {"step": step})
    assert ckpt.all_steps() == [3, 4]
    assert ckpt.latest_step() == 4
    state, meta = ckpt.restore()
    assert meta == {"step": 4}
    _assert_bitwise(state, _state(4))
    _assert_bitwise(ckpt.restore(3)[0], _state(3))
  with Checkpointer(tmp_path, max_to_keep=2) as reopened:
    assert reopened.all_steps() == [3, 4]


def test_save_interval_and_force(tmp_path):
  with Checkpointer(tmp_path, save_interval_steps=10, async_save=False) as ckpt:
    assert ckpt.save(0, _state(), {})
    assert not ckpt.save(5, _state(), {})
    assert ckpt.save(7, _state(), {}, force=True)
    assert ckpt.all_steps() == [0, 7]


def test_restore_onto_sharded_target(tmp_path):
  mesh = jax.make_mesh((1,), ("data",), axis_types=(jax.sharding.AxisType.Auto,))
  replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  rows = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
  state = _state(1)
  abstract = jax.eval_shape(lambda: _state(1))
  target = jax.tree.map(
    lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=rows if x.ndim == 2 else replicated),
    abstract,
  )
  with Checkpointer(tmp_path, async_save=False) as ckpt:
    ckpt.save(1, state, META)
    restored, meta = ckpt.restore(target=target)
  assert meta == META
  _assert_bitwise(restored, state)
  for leaf, want in zip(jax.tree.leaves(restored), jax.tree.leaves(target)):
    assert isinstance(leaf, jax.Array)
    assert (leaf.shape, leaf.dtype) == (want.shape, want.dtype)
    assert leaf.sharding == want.sharding


def test_missing_checkpoints_raise(tmp_path):
  with Checkpointer(tmp_path / "empty") as ckpt:
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
      ckpt.restore()
    ckpt.save(2, _state(), {})
    with pytest.raises(FileNotFoundError, match=r"step 9 .*\[2\]"):
      ckpt.restore(9)


def test_meta_must_be_json(tmp_path):
  with Checkpointer(tmp_path, async_save=False) as ckpt:
    with pytest.raises(TypeError, match="JSON"):
      ckpt.save(0, _state(), {"blob": b"bytes"})
    assert ckpt.all_steps() == []


def test_async_save_then_wait_and_restore(tmp_path):
  ckpt = Checkpointer(tmp_path, async_save=True)
  for step in range(3):
    assert ckpt.save(step, _state(step), {"step": step})
  ckpt.wait()
  assert ckpt.all_steps() == [0, 1, 2]
  state, meta = ckpt.restore(2)
  ckpt.close()
  _assert_bitwise(state, _state(2))
  assert meta == {"step": 2}


def _linear() -> nnx.Linear:
  return nnx.Linear(5, 3, param_dtype=jnp.float32, rngs=nnx.Rngs(0))


def test_nnx_pure_dict_round_trip(tmp_path):
  model = nnx.Linear(5, 3, rngs=nnx.Rngs(42))
  graphdef, state = nnx.split(model)
  x = jax.random.normal(jax.random.key(1), (2, 5), jnp.float32)
  with Checkpointer(tmp_path, async_save=False) as ckpt:
    ckpt.save(1, nnx.to_pure_dict(state), {})
    abstract = nnx.state(nnx.eval_shape(_linear))
    restored, _ = ckpt.restore(target=nnx.to_pure_dict(abstract))
  nnx.replace_by_pure_dict(abstract, restored)
  rebuilt = nnx.merge(graphdef, abstract)
  _assert_bitwise(nnx.to_pure_dict(nnx.state(rebuilt)), nnx.to_pure_dict(state))
  assert np.asarray(rebuilt(x)).tobytes() == np.asarray(model(x)).tobytes()


def test_nnx_state_object_round_trip(tmp_path):
  model = nnx.Linear(5, 3, rngs=nnx.Rngs(7))
  graphdef, state = nnx.split(model)
  x = jnp.ones((1, 5), jnp.float32)
  with Checkpointer(tmp_path, async_save=False) as ckpt:
    ckpt.save(1, state, {})
    restored, _ = ckpt.restore(target=nnx.state(nnx.eval_shape(_linear)))
  assert isinstance(restored, nnx.State)
  rebuilt = nnx.merge(graphdef, restored)
  assert np.asarray(rebuilt(x)).tobytes() == np.asarray(model(x)).tobytes()
