"""Test ordering for `make test` (pytest -n 2 --dist loadfile).

The heaviest modules (subprocess runs of whole pipelines) go first, so the two
workers start on them and the many short modules fill in at the end; in
alphabetical order they all landed last, one worker finishing long after the
other. Ordering only: every test still runs.
"""

HEAVY_FIRST = (
  "test_sharded.py",
  "test_study.py",
  "test_real_study.py",
  "test_rl_resume.py",
  "test_rl.py",
  "test_sft.py",
  "test_bench.py",
  "test_parallel.py",
  "test_checkpoints.py",
)


def pytest_collection_modifyitems(config, items):
  def rank(item):
    name = item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
    return HEAVY_FIRST.index(name) if name in HEAVY_FIRST else len(HEAVY_FIRST)

  items.sort(key=rank)  # stable: order within a module is kept
