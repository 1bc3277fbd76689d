"""Mesh validation, the logical-axis rules and multi-process start-up.

The device checks run in one subprocess with 8 fake CPU devices
(`--xla_force_host_platform_device_count` must be set before JAX starts, and
the test process's JAX has already started with one device).
"""

import json
import math
import os
import subprocess
import sys

import pytest

from btrl_jax import config, parallel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = ("data", "fsdp", "tensor")
GOOD_MESHES = [(8, 1, 1), (2, 4, 1), (2, 2, 2)]

# Runs under 8 fake devices; prints one JSON object.
_CHILD = r"""
import json
import jax, jax.numpy as jnp, numpy as np
from flax import nnx
from btrl_jax import config, parallel
from btrl_jax.models import build
from btrl_jax.train_state import sft_optimizer

def spec_list(spec):
  return [list(a) if isinstance(a, tuple) else a for a in spec]

out = {"n_devices": jax.device_count(), "errors": {}, "meshes": {}}
for shape in [(2, 3, 1), (3, -1, 1), (-1, -1, 1), (16, 1, 1), (0, -1, 1)]:
  try:
    parallel.make_mesh(dict(zip(parallel.MESH_AXES, shape)))
    out["errors"][str(shape)] = None
  except ValueError as e:
    out["errors"][str(shape)] = str(e)

cfg = config.model_config(vocab_size=96, width=32, layers=2, heads=4, kv_heads=2, head_dim=8,
                          mlp_dim=48, qkv_bias=True, qk_norm=True)
model = build(cfg, 0)
graphdef, params, rest = nnx.split(model, nnx.Param, ...)
tx = sft_optimizer(config.base_config().sft)
tokens = jnp.asarray(np.random.default_rng(0).integers(0, 96, (8, 6)), jnp.int32)
forward = lambda p, t: nnx.merge(graphdef, p, rest)(t)
want = np.asarray(jax.jit(forward)(params, tokens))
is_var = lambda x: isinstance(x, nnx.Variable)
for shape in %(meshes)s:
  mesh = parallel.make_mesh(dict(zip(parallel.MESH_AXES, shape)))
  shardings = parallel.state_shardings(params, mesh)
  placed = jax.device_put(params, shardings)
  got = np.asarray(jax.jit(forward)(placed, jax.device_put(tokens, parallel.batch_sharding(mesh))))
  opt_abstract = jax.eval_shape(tx.init, params)
  opt = jax.jit(tx.init, out_shardings=parallel.state_shardings(opt_abstract, mesh))(placed)
  rows = {}
  for path, var in jax.tree.leaves_with_path(params, is_leaf=is_var):
    rows[jax.tree_util.keystr(path)] = dict(
        shape=list(var.shape), names=list(var.get_metadata()["out_sharding"]),
        spec=spec_list(parallel.leaf_spec(var, mesh)))
  mu_specs = {jax.tree_util.keystr(p): spec_list(v.sharding.spec)
              for p, v in jax.tree.leaves_with_path(opt[1][0].mu, is_leaf=is_var)}
  placed_specs = {jax.tree_util.keystr(p): spec_list(v.sharding.spec)
                  for p, v in jax.tree.leaves_with_path(placed, is_leaf=is_var)}
  batch = jax.device_put(tokens, parallel.batch_sharding(mesh))
  from_host = parallel.global_batch({"t": np.asarray(tokens)}, mesh)["t"]
  assert from_host.sharding == batch.sharding and (np.asarray(from_host) == np.asarray(tokens)).all()
  out["meshes"][str(shape)] = dict(
      axis_sizes=list(mesh.axis_sizes), params=rows, mu_specs=mu_specs, placed_specs=placed_specs,
      max_abs_diff=float(np.max(np.abs(got - want))),
      batch_shard_rows=batch.sharding.shard_shape(batch.shape)[0])
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def child():
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
  r = subprocess.run(
    [sys.executable, "-c", _CHILD % {"meshes": GOOD_MESHES}],
    cwd=ROOT,
    env=env,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert r.returncode == 0, r.stderr[-3000:]
  return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
  "mesh,n,words",
  [
    ((2, 3, 1), 8, ["data=2", "fsdp=3", "tensor=1", "= 6", "8 devices"]),
    ((16, 1, 1), 8, ["data=16", "= 16", "8 devices"]),
    ((-1, -1, 1), 8, ["data=-1", "fsdp=-1", "at most one"]),
    ((3, -1, 1), 8, ["data=3", "3", "does not divide the 8 devices"]),
    ((0, -1, 1), 8, ["data=0", ">= 1"]),
  ],
)
def test_check_mesh_rejects_with_the_numbers(mesh, n, words):
  with pytest.raises(ValueError) as e:
    parallel.check_mesh(dict(zip(SIZES, mesh)), n)
  assert isinstance(e.value, config.ConfigError)  # the CLI maps it to exit 2
  for w in words:
    assert w in str(e.value), (w, str(e.value))


def test_check_mesh_resolves_one_minus_one():
  assert parallel.check_mesh(config.base_config().mesh, 8) == (1, 8, 1)
  assert parallel.check_mesh((2, -1, 2), 8) == (2, 2, 2)
  assert parallel.check_mesh((1, 1, -1), 1) == (1, 1, 1)


def test_make_mesh_rejects_bad_meshes_on_8_devices(child):
  assert child["n_devices"] == 8
  errors = child["errors"]
  assert "data=2 x fsdp=3 x tensor=1 = 6 does not match the 8 devices" in errors["(2, 3, 1)"]
  assert "16 does not match the 8 devices" in errors["(16, 1, 1)"]
  assert "at most one" in errors["(-1, -1, 1)"]
  assert errors["(3, -1, 1)"] and errors["(0, -1, 1)"]


@pytest.mark.parametrize("shape", GOOD_MESHES)
def test_rules_give_valid_even_specs_and_sharded_forward_matches(child, shape):
  got = child["meshes"][str(shape)]
  assert got["axis_sizes"] == list(shape)
  sizes = dict(zip(SIZES, shape))
  for path, row in got["params"].items():
    spec, dims, names = row["spec"], row["shape"], row["names"]
    assert len(spec) <= len(dims), path
    axes = [a for entry in spec if entry for a in ([entry] if isinstance(entry, str) else entry)]
    assert len(axes) == len(set(axes)) and set(axes) <= set(SIZES), (path, spec)
    for dim, entry in zip(dims, spec):
      if entry:
        n = math.prod(sizes[a] for a in ([entry] if isinstance(entry, str) else entry))
        assert dim % n == 0, (path, dims, spec)
    # FSDP: every weight with an embedding dim is split over fsdp; heads / MLP / vocab over tensor.
    for i, name in enumerate(names):
      entry = spec[i] if i < len(spec) else None
      if name == "embed" and sizes["fsdp"] > 1:
        assert entry == "fsdp", (path, spec)
      if name in ("heads", "kv_heads", "mlp", "vocab") and sizes["tensor"] > 1:
        assert entry == "tensor", (path, spec)
      if name in ("norm", "head_dim", None):
        assert entry is None, (path, spec)
  # The device_put arrays carry these specs, and the AdamW moments shard like the parameters.
  assert got["placed_specs"] == got["mu_specs"]
  assert got["batch_shard_rows"] == 8 // (sizes["data"] * sizes["fsdp"])
  assert got["max_abs_diff"] < 1e-5


def test_distributed_is_a_noop_without_env():
  assert parallel.maybe_initialize_distributed({}) is False
  assert parallel.maybe_initialize_distributed({"BTRL_AUTO_DISTRIBUTED": "0"}) is False
  unset = config.base_config().distributed.to_dict()
  assert parallel.maybe_initialize_distributed({}, unset) is False


@pytest.mark.parametrize(
  "section,env,words",
  [
    ({"coordinator": "127.0.0.1:1234", "num_processes": 2, "process_id": 2}, {}, "process id 2"),
    (
      {"coordinator": "127.0.0.1:1234", "num_processes": 0, "process_id": 0},
      {},
      "config.distributed.num_processes",
    ),
    (
      {"coordinator": "", "num_processes": 2, "process_id": -1},  # the env's coordinator, no id
      {"BTRL_COORDINATOR": "127.0.0.1:1234"},
      "BTRL_PROCESS_ID",
    ),
  ],
)
def test_distributed_config_section_errors(section, env, words):
  with pytest.raises(config.ConfigError, match=words):
    parallel.maybe_initialize_distributed(env, section)


@pytest.mark.parametrize(
  "env",
  [
    {"BTRL_COORDINATOR": "127.0.0.1:1234"},
    {"BTRL_COORDINATOR": "127.0.0.1:1234", "BTRL_NUM_PROCESSES": "2", "BTRL_PROCESS_ID": "x"},
    {"BTRL_COORDINATOR": "127.0.0.1:1234", "BTRL_NUM_PROCESSES": "2", "BTRL_PROCESS_ID": "2"},
  ],
)
def test_distributed_rejects_bad_env(env):
  with pytest.raises(config.ConfigError, match="BTRL_"):
    parallel.maybe_initialize_distributed(env)


def test_only_process_0_writes_records_stamps_and_metrics(tmp_path, monkeypatch):
  """Every process holds the same records and stamps; the others must not write them."""
  import jax

  from btrl_jax.evals import evaluator
  from btrl_jax.metrics import MetricsWriter
  from btrl_jax.study.run import Stamps

  records = {
    "healthbench": [{"id": "a", "score": 0.5}],
    "capability_coding": [{"id": "b", "score": 1}],
  }
  for pid, where in ((1, tmp_path / "other"), (0, tmp_path / "lead")):
    monkeypatch.setattr(jax, "process_index", lambda: pid)
    paths = evaluator.write_records(records, str(where / "evals"))
    one = evaluator.write_jsonl(records, str(where / "all.jsonl"))
    stamps = Stamps(str(tmp_path))
    stamps.mark(f"stage{pid}", "h")
    writer = MetricsWriter(str(where / "run"))
    writer.write(1, {"loss": 0.25})
    writer.close()
  assert not (tmp_path / "other").exists()  # process 1: nothing on disk
  assert [os.path.basename(p) for p in paths] == ["healthbench.jsonl", "capability_coding.jsonl"]
  assert evaluator.read_records(str(tmp_path / "lead" / "evals"), list(records)) == records
  assert [json.loads(x) for x in open(one)] == records["healthbench"] + records["capability_coding"]
  assert json.load(open(tmp_path / "study_state.json")) == {"stage0": "h"}  # not process 1's
  assert [
    r["loss"] for r in map(json.loads, open(tmp_path / "lead" / "run" / "metrics.jsonl"))
  ] == [0.25]


def test_lead_ints_and_sync_talk_to_other_processes_only_when_there_are_some(monkeypatch):
  import jax
  from jax.experimental import multihost_utils

  calls = []
  monkeypatch.setattr(
    multihost_utils, "sync_global_devices", lambda name: calls.append(("sync", name))
  )

  def broadcast(row):
    calls.append(("broadcast", row.tolist()))
    return row

  monkeypatch.setattr(multihost_utils, "broadcast_one_to_all", broadcast)
  monkeypatch.setattr(parallel, "process_max", lambda n: 4)  # the longest list of any process
  assert parallel.lead_ints([3, 1, 2]) == [3, 1, 2]
  parallel.sync("one-process")
  assert calls == []  # one process: no collective at all
  monkeypatch.setattr(jax, "process_count", lambda: 2)
  parallel.sync("btrl-data-built")
  assert parallel.lead_ints([3, 1, 2]) == [3, 1, 2]  # padded to 4 with -1, which is dropped
  assert calls == [("sync", "btrl-data-built"), ("broadcast", [3, 1, 2, -1])]
