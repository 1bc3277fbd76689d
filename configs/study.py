"""The embedded study on TraitWorld: `btrl study --config=configs/study.py[:smoke] --workdir=W`.

    btrl study --config=configs/study.py --workdir=W    # everything, report in W/report.md
    btrl data  --config=configs/study.py --workdir=W    # or stage by stage: datasets + tokenizer
    btrl sft   --config=configs/study.py --workdir=W    # the prior (persona-mixture corpus)
    btrl train --config=configs/rl.py:ARM --workdir=W   # one arm (configs/rl.py reads this file)

The default runs 3 seeds (RL, eval and harmful fine-tune seeds over one prior);
`:quick` is the study on one seed without no_health_science (findings at most
`direction_only`);
`:smoke` is a ~2-minute variant (tiny model, datasets, steps and evals) for tests
and notebooks; its numbers mean nothing. Arms change only `data.*` fields.
The values live in the package (`btrl_jax.presets.study`), where `btrl bench
memory` reads them too.
"""

from btrl_jax import presets


def get_config(arg: str | None = None):
  return presets.study(arg)
