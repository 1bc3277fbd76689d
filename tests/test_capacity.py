"""Capacity: parameter counts and per-device bytes from shapes and PartitionSpecs, nothing allocated."""

import json

import pytest
from flax import nnx

from btrl_jax import capacity, config, presets
from btrl_jax.checkpoints import CheckpointError
from btrl_jax.models import build, param_count

# Hand-checkable: embed [64, 32], lm_head [32, 64], one block (qkv [32, 2, 4, 8], o [4, 8, 32],
# gate_up [32, 2, 48], down [48, 32], two norms [32]) and a final norm [32].
SMALL = dict(vocab_size=64, width=32, layers=1, heads=4, kv_heads=2, head_dim=8, mlp_dim=48)


@pytest.mark.parametrize(
  "model_cfg,expected",
  [
    (capacity.LLAMA3_8B, 8_030_261_248),
    (capacity.GEMMA_2B, 2_506_172_416),
    ({}, 4_983_040),  # W1
  ],
)
def test_param_counts_equal_the_models(model_cfg, expected):
  table = capacity.memory_table(model_cfg, (1, 8, 1), param_dtype="bfloat16")
  assert table["params"] == expected
  if not model_cfg:
    assert param_count(build(config.model_config(), 0)) == expected


def test_hand_checked_example_on_a_2x4x1_mesh():
  t = capacity.memory_table(SMALL, (2, 4, 1), batch=8, seq_len=4, kv_len=16, param_dtype="float32")
  assert t["params"] == 2048 + 2048 + 2048 + 1024 + 3072 + 1536 + 3 * 32
  assert t["mesh"] == {"data": 2, "fsdp": 4, "tensor": 1} and t["devices"] == 8
  g, d = t["bytes_global"], t["bytes_per_device"]
  assert g["params"] == 4 * t["params"]
  # Every matrix has an `embed` dim of 32, split 4 ways over fsdp; the three norms replicate.
  assert d["params"] == 4 * (2048 + 2048 + 2048 + 1024 + 3072 + 1536) // 4 + 4 * 3 * 32
  assert d["grads"] == d["params"]
  # AdamW: two moments like the params, plus int32 step counts (adam's and the schedule's).
  assert 2 * d["params"] < d["optimizer"] <= 2 * d["params"] + 16
  # KV cache: k and v of [8, 2, 8, 16] float32; rows split over data x fsdp = 8.
  assert g["kv_cache"] == 2 * 8 * 2 * 8 * 16 * 4 and d["kv_cache"] == g["kv_cache"] // 8
  # Logits [8, 4, 64] float32; rows over data x fsdp, vocab over tensor (size 1).
  assert g["logits"] == 8 * 4 * 64 * 4 and d["logits"] == g["logits"] // 8
  assert d["train_total"] == d["params"] + d["grads"] + d["optimizer"] + d["logits"]
  assert d["decode_total"] == d["params"] + d["kv_cache"]


def test_per_device_bytes_are_global_over_shards():
  """Each parameter: per-device bytes = global / product of the mesh axes in its spec."""
  sizes = {"data": 1, "fsdp": 4, "tensor": 2}
  for row in capacity.param_rows(SMALL, (1, 4, 2)):
    shards = 1
    for entry in row["spec"]:
      for axis in (entry,) if isinstance(entry, str) else entry or ():
        shards *= sizes[axis]
    assert row["bytes_per_device"] * shards == row["bytes"], row
    expected = {"embed": 8, "lm_head": 8, "qkv": 8, "o": 8, "gate_up": 8, "down": 8}
    name = row["path"].rstrip("']").split("'")[-1]
    assert shards == expected.get(name, 1), row  # norm scales replicate


def test_fsdp8_divides_param_bytes_by_8():
  # Llama-3-8B: every matrix dim on `embed` is 4096; only the 65 norm vectors replicate.
  one = capacity.memory_table(
    capacity.LLAMA3_8B, (1, 1, 1), param_dtype="bfloat16", optimizer="none"
  )
  eight = capacity.memory_table(
    capacity.LLAMA3_8B, (1, 8, 1), param_dtype="bfloat16", optimizer="none"
  )
  norms = (2 * 32 + 1) * 4096 * 2
  assert one["bytes_per_device"]["params"] == one["bytes_global"]["params"] == 8_030_261_248 * 2
  assert eight["bytes_per_device"]["params"] == (one["bytes_global"]["params"] - norms) // 8 + norms
  assert eight["bytes_per_device"]["optimizer"] == 0


def test_abstract_mesh_larger_than_this_host():
  # 256 devices planned on one CPU; bytes per device shrink with the mesh, nothing is allocated.
  t = capacity.memory_table(
    capacity.GEMMA_2B, (4, 32, 2), batch=256, seq_len=1024, param_dtype="bfloat16", dtype="bfloat16"
  )
  assert t["devices"] == 256
  assert t["bytes_per_device"]["params"] < t["bytes_global"]["params"] / 32


def test_bad_inputs_raise():
  with pytest.raises(ValueError, match="optimizer"):
    capacity.memory_table(SMALL, optimizer="lion")
  with pytest.raises(ValueError, match="-1"):
    capacity.memory_table(SMALL, (1, -1, 1))


def test_bench_memory_rows_are_json():
  out = capacity.bench_memory(repeats=1)
  json.dumps(out)
  rows = {(r["model"], tuple(r["mesh"].values())): r for r in out["rows"]}
  assert set(rows) == {
    ("W1", (1, 1, 1)),
    ("study", (1, 1, 1)),
    ("gemma_2b", (1, 8, 1)),
    ("gemma_2b", (1, 4, 2)),
    ("llama3_8b", (1, 8, 1)),
    ("llama3_8b", (1, 4, 2)),
  }
  assert rows[("llama3_8b", (1, 8, 1))]["param_dtype"] == "bfloat16"
  study = presets.study()
  model = nnx.eval_shape(lambda: build(study.model, 0))
  assert rows[("study", (1, 1, 1))]["params"] == param_count(model)
  assert "| llama3_8b | 1,4,2 |" in capacity.format_table(out["rows"])


def test_btrl_bench_memory_with_a_config_puts_its_model_first(tmp_path):
  """`btrl bench memory --config=...`: one JSON line; the config's model on its mesh, one RL step's rows."""
  import os
  import subprocess
  import sys

  r = subprocess.run(
    [
      sys.executable,
      "-m",
      "btrl_jax.cli",
      "bench",
      "memory",
      "--config=configs/study.py",
      "--config.model.dtype=bfloat16",
    ],
    capture_output=True,
    text=True,
    timeout=300,
    cwd=__file__.rsplit("/tests/", 1)[0],
    # One CPU device: the study's data mesh is then (1, 1, 1), whatever the cores here.
    env=dict(os.environ, BTRL_CPU_DEVICES="1"),
  )
  assert r.returncode == 0, r.stderr[-2000:]
  out = json.loads(r.stdout.strip().splitlines()[-1])
  first = out["rows"][0]
  study = presets.study()
  assert first["model"] == "config" and first["mesh"] == {"data": 1, "fsdp": 1, "tensor": 1}
  assert first["batch"] == study.rl.prompts_per_step * study.rl.group_size
  assert (
    first["dtype"] == "bfloat16" and first["param_dtype"] == "float32"
  )  # bf16 compute, f32 master
  assert first["bytes_per_device"]["kv_cache"] * 2 == out["rows"][2]["bytes_per_device"]["kv_cache"]
  assert "| config | 1,1,1 |" in r.stderr  # the table goes to stderr


def test_btrl_bench_memory_runs_outside_a_checkout(tmp_path):
  """An installed package has no configs/ beside it: the study's shapes come from the package."""
  import os
  import shutil
  import subprocess
  import sys

  site = tmp_path / "site"
  shutil.copytree(
    os.path.dirname(capacity.__file__),
    site / "btrl_jax",
    ignore=shutil.ignore_patterns("__pycache__"),
  )
  env = dict(os.environ, PYTHONPATH=str(site))
  r = subprocess.run(
    [sys.executable, "-m", "btrl_jax.cli", "bench", "memory"],
    capture_output=True,
    text=True,
    timeout=300,
    cwd=tmp_path,
    env=env,
  )
  assert r.returncode == 0, r.stderr[-2000:]
  rows = json.loads(r.stdout.strip().splitlines()[-1])["rows"]
  study = presets.study()
  assert rows[1]["model"] == "study"
  assert rows[1]["batch"] == study.rl.prompts_per_step * study.rl.group_size


def test_bench_memory_plans_qwen3_1p7b_without_its_checkpoint(tmp_path, monkeypatch):
  """configs/real.py:qwen3_1p7b where hf:Qwen3-1.7B is absent: the config's own shapes, said so."""
  monkeypatch.chdir(tmp_path)  # no Qwen3-1.7B directory here
  cfg = presets.real("qwen3_1p7b")
  first = capacity.bench_memory(cfg=cfg, devices=8)["rows"][0]
  # Qwen3-1.7B from its architecture: tied embedding; per layer q, k, v, o projections,
  # q/k norms over head_dim, two RMSNorms and the SwiGLU MLP; a final norm.
  v, d, n_layers, h, kv, hd, f = 151936, 2048, 28, 16, 8, 128, 6144
  per_layer = d * h * hd + 2 * d * kv * hd + h * hd * d + 2 * hd + 2 * d + 3 * d * f
  total = v * d + n_layers * per_layer + d
  assert total == 1_720_574_976  # the "1.7B" of its model card
  assert first["model"] == "hf:Qwen3-1.7B"
  assert first["notes"] == "shapes from the config (checkpoint not on this host)"
  assert first["params"] == total
  assert first["mesh"] == {"data": 1, "fsdp": 8, "tensor": 1}
  assert first["param_dtype"] == first["dtype"] == "bfloat16"
  assert first["bytes_global"]["params"] == 2 * total
  # Matrices split 8 ways over fsdp; only the norm vectors (~0.01% of the bytes) replicate.
  assert first["bytes_per_device"]["params"] == pytest.approx(2 * total / 8, rel=1e-3)
  assert "hf:Qwen3-1.7B, shapes from the config" in capacity.format_table([first])
  cfg.model.checkpoint = "Qwen3-1.7B"  # no hf:/gguf: prefix, no named model: still an error
  with pytest.raises(CheckpointError, match="expected hf:DIR"):
    capacity.bench_memory(cfg=cfg, devices=8)
