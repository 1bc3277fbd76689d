"""The study on a real pretrained model: `btrl study --config=configs/real.py[:VARIANT] --workdir=W`.

    btrl study --config=configs/real.py:smoke --workdir=W    # SmolLM2-135M on this CPU, ~30 min
    btrl study --config=configs/real.py --workdir=W \
      --config.grader.judge.base_url=http://HOST:8000/v1 --config.grader.judge.model=NAME

The prior is the imported checkpoint (`model.checkpoint`: hf:DIR, gguf:FILE or a named
offline model); there is no SFT prior stage. TraitWorld's scenarios are graded by the
judge's reading of their rubric criteria and its tasks by exact verifiers (data/real.py).
Variants and their settings: `btrl_jax.presets.real` (docs/real_models.md for the TPU and
GPU recipes).
"""

from btrl_jax import presets


def get_config(arg: str | None = None):
  return presets.real(arg)
