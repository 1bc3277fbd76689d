"""JAX's process-wide settings that the CLI makes before anything touches a device.

    configure_cpu_devices()   one CPU device per core (BTRL_CPU_DEVICES=N)
    configure_compile_cache() compiled programs kept on disk (BTRL_COMPILE_CACHE=DIR|off)

Both change only how fast a run goes, never what it computes on a given mesh: the
devices are the mesh's (a different device count is a different mesh, and floating
point may differ between meshes), and a cached program is the program XLA would build.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import jax

from btrl_jax.config import ConfigError

CPU_DEVICES_ENV = "BTRL_CPU_DEVICES"
MAX_AUTO_CPU_DEVICES = 8


def configure_cpu_devices(env: Mapping[str, str] | None = None) -> int | None:
  """Splits this host's CPU into one JAX device per core (a power of two, at most 8), so
  that a data-parallel mesh keeps every core busy; returns the count set, or None.

  XLA:CPU runs one program on one device with a few intra-op threads, which leaves cores
  idle at the batch sizes of the embedded study (a 160-row rollout decodes as fast on one
  core as on two); a mesh over per-core devices runs each device's rows on its own core
  (`btrl bench sample` / `grpo`, docs/LOG.md). `BTRL_CPU_DEVICES=N` sets the count;
  an explicit `--xla_force_host_platform_device_count` in XLA_FLAGS, a platform other
  than the CPU in JAX_PLATFORMS, or an already started backend leave JAX as it is. Must
  run before anything touches a device; not for multi-process runs (one device each).
  """
  env = os.environ if env is None else env
  if env.get(CPU_DEVICES_ENV, ""):  # a bad value is an error wherever JAX stands
    try:
      n = int(env[CPU_DEVICES_ENV])
    except ValueError:
      n = 0
    if n < 1:
      raise ConfigError(f"{CPU_DEVICES_ENV}={env[CPU_DEVICES_ENV]!r}: must be an integer >= 1")
  else:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    n = min(MAX_AUTO_CPU_DEVICES, 1 << (max(1, cores or 1).bit_length() - 1))
  if "xla_force_host_platform_device_count" in env.get("XLA_FLAGS", ""):
    return None
  platforms = env.get("JAX_PLATFORMS", "")
  if platforms and "cpu" not in platforms.split(","):
    return None
  from jax._src import xla_bridge  # no public "has a backend started" query

  if xla_bridge.backends_are_initialized():
    return None
  jax.config.update("jax_num_cpu_devices", n)
  return n


COMPILE_CACHE_ENV = "BTRL_COMPILE_CACHE"
DEFAULT_COMPILE_CACHE = os.path.join("~", ".cache", "btrl-jax", "xla")
COMPILE_CACHE_MAX_BYTES = 1 << 30


def configure_compile_cache(env: Mapping[str, str] | None = None) -> str | None:
  """Keeps every compiled program in JAX's persistent cache (default ~/.cache/btrl-jax/xla;
  `BTRL_COMPILE_CACHE=DIR`, or `off`); returns the directory, or None when off.

  A study builds the same programs for every seed, stage and resumed run (a new policy
  or learner is a new jitted function to JAX's in-memory cache); from disk, XLA:CPU's
  4-5 s compiles of the sampler take about 1 s. Keys cover the program, the compile
  options, the devices and the JAX version, so a stale entry is never used.
  """
  env = os.environ if env is None else env
  where = env.get(COMPILE_CACHE_ENV, "") or DEFAULT_COMPILE_CACHE
  if where.lower() in ("off", "0", "none"):
    return None
  where = os.path.abspath(os.path.expanduser(where))
  try:
    os.makedirs(where, exist_ok=True)
  except OSError as e:
    raise ConfigError(f"{COMPILE_CACHE_ENV}={where}: cannot create it ({e.strerror})") from None
  jax.config.update("jax_compilation_cache_dir", where)
  # Least recently used entries go beyond this size (JAX's default is unbounded); a
  # study writes ~15 MB here.
  jax.config.update("jax_compilation_cache_max_size", COMPILE_CACHE_MAX_BYTES)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  return where
