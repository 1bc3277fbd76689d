"""The package's import layering: no cycles, and no module imports one above it.

Layers, lowest first (a module may import its own layer and those below; the
longest matching prefix decides a module's layer):

  0 leaves     data.taxonomy, rl.losses, rl.advantages: names and maths that
               config validates against; workloads (benchmark constants that
               outside scripts share); they import nothing of btrl_jax
  1 config     config (schema, validate, arms), presets (the shipped configs' values)
  2 core       models, tokenizer, parallel, runtime, checkpoint, metrics
  3 data       data.* (TraitWorld, tasks, JSONL, TFDS builders, the mixture)
  4 training   sampling, train_state (optimizers, checkpoint layouts), capacity,
               checkpoints.* (real checkpoints in and out: HF, GGUF, tokenizers)
  5 policy     policy (a restored checkpoint that samples)
  6 rewards    rewards.* (the grader: data in, scores out)
  7 rl         rl.* (SFT trainer, RL learner and loop)
  8 evals      evals.* (registry, evaluator, watch, statistics)
  9 study      study.*, bench, serve (the OpenAI-compatible server)
 10 cli        cli

Every import counts, at module level or inside a function: a lazy import of a
module above is still an upward dependency (it only hides the cycle until the
function runs). `from P import name` depends on P.name when that is a module,
else on P. A module's own ancestor packages are not counted (Python runs them
before the module anyway; the package root `btrl_jax` is an empty namespace).
"""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "btrl_jax"
LAYERS = (
  ("data.taxonomy", "rl.losses", "rl.advantages", "workloads"),
  ("config", "presets"),
  ("models", "tokenizer", "parallel", "runtime", "checkpoint", "metrics"),
  ("data",),
  ("sampling", "train_state", "capacity", "checkpoints"),
  ("policy",),
  ("rewards",),
  ("rl",),
  ("evals",),
  ("study", "bench", "serve"),
  ("cli",),
)


def _modules() -> dict[str, pathlib.Path]:
  mods = {}
  for path in ROOT.rglob("*.py"):
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    if parts[-1] == "__init__":
      parts = parts[:-1]
    mods[".".join(parts)] = path
  return mods


def _owner(name: str, mods) -> str | None:
  """The btrl_jax module that `name` (a module or an attribute of one) lives in."""
  while name and name not in mods:
    name = name.rpartition(".")[0]
  return name or None


def imports(mods=None) -> dict[str, set[str]]:
  """{module: btrl_jax modules it imports anywhere in its body}."""
  mods = mods or _modules()
  graph = {}
  for mod, path in mods.items():
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    deps = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
      if isinstance(node, ast.Import):
        targets = [a.name for a in node.names]
      elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
          up = package.split(".")[: len(package.split(".")) - node.level + 1]
          base = ".".join(up + ([base] if base else []))
        targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
      else:
        continue
      for t in targets:
        owner = _owner(t, mods) if t.startswith("btrl_jax") else None
        if owner and owner != mod and owner != "btrl_jax" and not mod.startswith(owner + "."):
          deps.add(owner)
    graph[mod] = deps
  return graph


def layer(mod: str) -> int:
  name = mod.removeprefix("btrl_jax.")
  best, best_len = None, -1
  for i, prefixes in enumerate(LAYERS):
    for p in prefixes:
      if (name == p or name.startswith(p + ".")) and len(p) > best_len:
        best, best_len = i, len(p)
  assert best is not None, f"{mod} has no layer: add it to LAYERS and the docstring"
  return best


def test_every_module_has_a_layer():
  for mod in _modules():
    if mod != "btrl_jax":
      layer(mod)


def test_no_module_imports_one_above_it():
  bad = [
    f"{mod} (layer {layer(mod)}) imports {dep} (layer {layer(dep)})"
    for mod, deps in sorted(imports().items())
    if mod != "btrl_jax"
    for dep in sorted(deps)
    if layer(dep) > layer(mod)
  ]
  assert not bad, "\n".join(bad)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
  """Groups of modules that import each other, directly or through others (Tarjan)."""
  index, low, stack, on_stack, groups = {}, {}, [], set(), []

  def visit(mod):
    index[mod] = low[mod] = len(index)
    stack.append(mod)
    on_stack.add(mod)
    for dep in sorted(graph[mod]):
      if dep not in index:
        visit(dep)
        low[mod] = min(low[mod], low[dep])
      elif dep in on_stack:
        low[mod] = min(low[mod], index[dep])
    if low[mod] == index[mod]:
      group = []
      while True:
        top = stack.pop()
        on_stack.discard(top)
        group.append(top)
        if top == mod:
          break
      groups.append(sorted(group))

  for mod in sorted(graph):
    if mod not in index:
      visit(mod)
  return groups


def test_no_import_cycles():
  cycles = [g for g in strongly_connected(imports()) if len(g) > 1]
  assert not cycles, "modules that import each other: " + "; ".join(map(", ".join, cycles))
