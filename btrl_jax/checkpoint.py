"""Orbax checkpoints of a training run: array state plus JSON metadata.

Why: the resume invariant (kill a run at any step, resume, get bitwise the
same final parameters) needs params, optimizer state, step, RNG key data and
the data iterator's position saved together and atomically. The SFT trainer,
the RL learner and the evaluator all go through this one wrapper so the
on-disk layout is defined in one place.

Layout: ``directory/<step>/state`` (any pytree of jax/numpy arrays and
scalars, written with ``ocp.args.StandardSave``) and ``directory/<step>/meta``
(a JSON-serialisable dict: data-iterator state, config, counters; written
with ``ocp.args.JsonSave``), saved as one ``ocp.args.Composite`` so a step
directory exists only once both items are finalised. JSON turns tuples into
lists and non-str dict keys into strings; bytes must be encoded by the
caller (e.g. base64).

Restoring onto a mesh: pass ``target``, an abstract pytree of
``jax.ShapeDtypeStruct(shape, dtype, sharding=...)`` (from ``jax.eval_shape``
or ``nnx.eval_shape`` plus the sharding rules); every array is read directly
into that sharding and cast to the target dtype. Without a target the state
comes back as saved (jax arrays on their saved sharding, numpy arrays and
Python scalars as such), which suits one-host inspection and tests.

Flax NNX models: save ``nnx.to_pure_dict(nnx.state(model))``. A State object
also round-trips, but on disk it becomes ``{"kernel": {"value": ...}}``,
a layout tied to the Variable class internals; the pure dict is plain nested
dicts, loads without a target, and restores onto
``nnx.to_pure_dict(nnx.state(nnx.eval_shape(make_model)))`` after which
``nnx.replace_by_pure_dict(abstract_state, restored)`` and ``nnx.merge``
rebuild the model.

PRNG keys: the state convention is raw key data (``key_to_data(key)``, a
uint32 array), rebuilt with ``data_to_key``. Orbax 0.12.8 happens to wrap
typed keys itself, but older Orbax versions, JSON, ``ShapeDtypeStruct``
targets built by hand and other readers of the checkpoint do not, and raw
uint32 data makes the key's bits explicit in the saved tree.

Async saving (the default) copies device arrays to host before ``save``
returns and writes files in a background thread; call ``wait()`` before
reading the directory from elsewhere, and do not mutate numpy leaves in place
until it returns. On multi-host runs every process calls every method.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from typing import Any

import jax
import orbax.checkpoint as ocp

PyTree = Any

_ITEMS = ("state", "meta")


def key_to_data(key: jax.Array, mesh=None) -> jax.Array:
  """Typed PRNG key ``[...] key<impl>`` -> raw key data ``[..., k] uint32``.

  With a ``mesh``, the data is replicated over it: the form several processes
  can checkpoint (a host-local array cannot be saved by a multi-process run).
  """
  data = jax.random.key_data(key)
  if mesh is None:
    return data
  from btrl_jax import parallel

  return parallel.put(data, parallel.replicated(mesh))


def data_to_key(data: jax.Array, impl: str | None = None) -> jax.Array:
  """Raw key data ``[..., k] uint32`` -> typed PRNG key. ``impl`` must match
  the key's implementation (None = JAX's default, threefry2x32)."""
  return jax.random.wrap_key_data(data, impl=impl)


def restore_target(tree: PyTree, shardings: PyTree | None = None) -> PyTree:
  """The abstract restore target of a state on this run's shardings:
  `jax.ShapeDtypeStruct(shape, dtype, sharding=...)` per leaf, so a checkpoint written by
  any number of processes on any mesh is read onto this one. `shardings` (same structure):
  for an abstract `tree`; default: each leaf's own (a live state's)."""
  if shardings is None:
    shardings = jax.tree.map(lambda x: x.sharding, tree)
  return jax.tree.map(
    lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), tree, shardings
  )


class Checkpointer:
  """Saves and restores ``(state, meta)`` pairs by training step.

  Usable as a context manager; ``close()`` waits for pending saves.
  """

  def __init__(
    self,
    directory: str | os.PathLike,
    *,
    max_to_keep: int | None = 3,
    save_interval_steps: int = 1,
    async_save: bool = True,
  ):
    directory = os.fspath(directory)
    if "://" not in directory:  # Orbax wants absolute local paths.
      directory = os.path.abspath(directory)
    self.directory = directory
    self._manager = ocp.CheckpointManager(
      directory,
      options=ocp.CheckpointManagerOptions(
        max_to_keep=max_to_keep,
        save_interval_steps=save_interval_steps,
        enable_async_checkpointing=async_save,
        create=True,
      ),
      item_names=_ITEMS,
    )

  def save(self, step: int, state: PyTree, meta: dict[str, Any], *, force: bool = False) -> bool:
    """Saves ``state`` and ``meta`` as ``step``.

    Returns False (and writes nothing) when ``step`` is not a multiple of
    ``save_interval_steps`` and ``force`` is False. ``meta`` is checked
    for JSON-serialisability here, so a bad value fails at the call site
    rather than in the background writer.
    """
    try:
      json.dumps(meta)
    except TypeError as e:
      raise TypeError(f"checkpoint meta must be JSON-serialisable: {e}") from e
    return self._manager.save(
      int(step),
      args=ocp.args.Composite(
        state=ocp.args.StandardSave(state),
        meta=ocp.args.JsonSave(meta),
      ),
      force=force,
    )

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def all_steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def restore(
    self, step: int | None = None, *, target: PyTree | None = None
  ) -> tuple[PyTree, dict[str, Any]]:
    """Returns ``(state, meta)`` saved at ``step`` (None = latest).

    ``target`` is an abstract pytree (``jax.ShapeDtypeStruct`` leaves,
    optionally with ``sharding``) with the saved tree's structure; the
    state is restored onto its shapes, dtypes and shardings. Raises
    FileNotFoundError when there is no such checkpoint.
    """
    step = self._resolve(step)
    restored = self._manager.restore(
      step,
      args=ocp.args.Composite(
        state=ocp.args.StandardRestore(target),
        meta=ocp.args.JsonRestore(),
      ),
    )
    return restored.state, restored.meta

  def restore_meta(self, step: int | None = None) -> dict[str, Any]:
    """Only the JSON metadata of ``step`` (None = latest): cheap, and enough
    to rebuild the abstract target that ``restore`` needs."""
    step = self._resolve(step)
    restored = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
    return restored.meta

  def _resolve(self, step: int | None) -> int:
    self.wait()  # A pending async save must be visible to restore.
    steps = self.all_steps()
    if step is None:
      if not steps:
        raise FileNotFoundError(f"no checkpoint to restore in {self.directory}")
      return steps[-1]
    if int(step) not in steps:
      raise FileNotFoundError(
        f"no checkpoint for step {step} in {self.directory}; available steps: {steps or 'none'}"
      )
    return int(step)

  def wait(self) -> None:
    """Blocks until every pending async save is on disk."""
    self._manager.wait_until_finished()

  def close(self) -> None:
    """Waits for pending saves and releases Orbax's resources."""
    self._manager.close()

  def __enter__(self) -> Checkpointer:
    return self

  def __exit__(self, *exc_info) -> None:
    self.close()


class StopSignal:
  """Turns SIGTERM / SIGINT into a flag, so a training loop can finish its step,
  checkpoint and exit cleanly (preemption on TPU VMs sends SIGTERM).

  Use as a context manager around the loop and poll ``requested``; the previous
  handlers are restored on exit. Only the main thread can install handlers;
  elsewhere the flag simply never fires.
  """

  _SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __init__(self) -> None:
    self.requested = False
    self._previous: dict[int, Any] = {}

  def _handle(self, signum, frame) -> None:
    del frame
    self.requested = True
    self.signum = signum

  def __enter__(self) -> StopSignal:
    if threading.current_thread() is threading.main_thread():
      for sig in self._SIGNALS:
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc_info) -> None:
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
