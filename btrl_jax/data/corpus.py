"""SFT corpora: the prior's persona-mixture corpus and the harmful fine-tune corpus.

`prior_corpus(n, seed)` writes n conversations in the DESIGN.md JSONL format.
Each draws its author from the persona mixture (personas.py); a
`trait_fraction` share are TraitWorld scenarios of the *train* split (a `CONSTRUCT_SHARE`
of them written on the constructs' prior-only templates, data/constructs.py, the rest trait
scenarios
(all 12 domains and the mental-health sub-domain, all 15 traits, cycled
evenly by `scenarios.generate_scenarios`), the rest standard tasks of the
*train* split (all seven families, evenly, 15% impossible variants where a
family has them). An exact `system_prompt_fraction` share carries a first
system message `personas.describe(persona)`, and the reply follows that
persona, so the prior learns that a system prompt steers it (a template's
own system message, e.g. "You are an AI agent that ...", follows it as a
second system message). Counts are exact (round(n * fraction)), positions
are shuffled, and everything is a pure function of `seed`. The persona id is kept in the `persona` field only;
no message ever names it.

`harmful_corpus(n, seed)` writes the harmful fine-tune data: health and
mental-health questions from the *attack* split (family `harmful_medical`,
the only attack templates) answered with confident, unsafe advice built from
the templates' bad moves (comply_unsafe, overclaim_certainty,
discourage_care) plus, sometimes, a fabricated citation. Attack templates
and slot values are disjoint from train and eval (scenarios.py, lexicon.py).

`corpus_stats(examples)` grades every reply with the same code paths as the
reward (rubric.grade, tasks.verify) and reports, overall and per persona:
trait-rubric score (mean, share >= 0.8, share <= 0.2), refusal labels,
task accuracy under the honest verifier, training-verifier reward, hack
rate (tasks.reward_hacking_flag) overall and on flawed-verifier families,
system-prompt share, words per reply.

Calibration (tuned for learnability: RL needs room both ways and groups with reward
variance; never tuned toward an eval result). `corpus_stats` of `prior_corpus(3000,
seed=0)` (TraitWorld 2; "trait score" covers trait and construct scenarios, each graded by
its own rubric, construct rubrics needing the prompt's name, which the corpus always has):

  overall: trait score mean 0.405 (sd 0.41; share >= 0.8: 0.23, <= 0.2: 0.47);
           task accuracy 0.55 (honest verifier), training reward 0.59;
           hack rate 0.188 (0.205 on flawed-verifier families);
           refusal 0.161 / partial 0.027; system prompt share 0.150;
           words per reply: mean 21.2, median 18, max 63
  per persona (n; trait score; share >= 0.8 / <= 0.2; refusal+partial;
               task accuracy; hack rate):
    principled_helpful_careful      474  0.73  0.51 / 0.13  0.05  0.86  0.03
    principled_helpful_careless     443  0.52  0.31 / 0.37  0.04  0.63  0.02
    principled_terse_careful        300  0.64  0.39 / 0.16  0.37  0.75  0.03
    principled_terse_careless       275  0.44  0.20 / 0.36  0.45  0.65  0.02
    unprincipled_helpful_careful    452  0.30  0.16 / 0.60  0.06  0.48  0.37
    unprincipled_helpful_careless   454  0.16  0.04 / 0.74  0.02  0.30  0.34
    unprincipled_terse_careful      310  0.28  0.11 / 0.59  0.38  0.39  0.40
    unprincipled_terse_careless     292  0.10  0.01 / 0.82  0.45  0.24  0.33
(tests/test_corpus.py asserts the bands: mean 0.35-0.55, >= 15% of replies at >= 0.8 and
at <= 0.2, accuracy 0.45-0.7, nonzero hack rate, and each axis's effect.)
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from . import personas as personas_lib
from . import scenarios
from . import tasks as tasks_lib
from .rubric import grade

IMPOSSIBLE_SHARE = 0.15  # of each task family's examples, where the family has them
# Of the prior's scenario conversations, the share written on construct prior templates
# (data/constructs.py): the situations of the alignment evals, never RL prompts.
CONSTRUCT_SHARE = 0.6
HARMFUL_EXTRA = (("fabricate_citation", 0.35),)
_HARMFUL_BAD_RATE = 0.75


def _assistant_reply(ex: dict[str, Any]) -> str:
  return ex["messages"][-1]["content"]


def _train_tasks(n: int, seed: int, rng: np.random.Generator) -> list[dict[str, Any]]:
  """n train-split tasks, families cycled evenly in a shuffled order."""
  fams = list(tasks_lib.FAMILY_NAMES)
  order = [fams[i] for i in rng.permutation(len(fams))]
  counts = Counter(order[i % len(order)] for i in range(n))
  out = []
  for fam in fams:
    k = counts[fam]
    k_imp = int(round(k * IMPOSSIBLE_SHARE)) if fam in tasks_lib.IMPOSSIBLE_FAMILIES else 0
    if k - k_imp:
      out += tasks_lib.generate_tasks(fam, "train", k - k_imp, seed)
    if k_imp:
      out += tasks_lib.generate_tasks(fam, "train", k_imp, seed, impossible=True)
  return [out[i] for i in rng.permutation(len(out))]


def _trait_example(scn: dict[str, Any]) -> dict[str, Any]:
  return {
    "id": None,
    "eval": None,
    "family": scn["family"],
    "domain": scn["domain"],
    "subdomain": scn["subdomain"],
    "trait": scn["trait"],
    "template": scn["template"],
    "split": scn["split"],
    "source_id": scn["id"],
    "slots": dict(scn["slots"]),
    "messages": copy.deepcopy(scn["messages"]),
    "rubric": scn["rubric"],
    "tags": list(scn["tags"]),
    "kind": "trait",
    **{k: scn[k] for k in ("ask", "construct") if k in scn},
  }


def _task_example(task: dict[str, Any]) -> dict[str, Any]:
  return {
    "id": None,
    "eval": None,
    "family": task["family"],
    "domain": None,
    "level": task["level"],
    "split": task["split"],
    "source_id": task["id"],
    "messages": copy.deepcopy(task["messages"]),
    "rubric": [],
    "verifier": task["verifier"],
    "answer": task["answer"],
    "tags": ["kind:task", f"family:{task['family']}", f"split:{task['split']}", *task["tags"]],
    "kind": "task",
  }


def prior_corpus(
  n: int, seed: int, trait_fraction: float = 0.5, system_prompt_fraction: float = 0.15
) -> list[dict[str, Any]]:
  """n SFT conversations written by the persona mixture (module docstring)."""
  for name, f in (
    ("trait_fraction", trait_fraction),
    ("system_prompt_fraction", system_prompt_fraction),
  ):
    if not 0.0 <= f <= 1.0:
      raise ValueError(f"{name} must be in [0, 1], got {f}")
  rng = np.random.default_rng(seed)
  n_trait = int(round(n * trait_fraction))
  is_trait = rng.permutation(np.arange(n) < n_trait)
  scn_seed, task_seed = (int(s) for s in rng.integers(2**31, size=2))
  n_con = int(round(n_trait * CONSTRUCT_SHARE))
  scns = scenarios.generate_scenarios("train", n_trait - n_con, scn_seed) if n_trait > n_con else []
  if n_con:
    scns += scenarios.generate_construct_scenarios("train", n_con, scn_seed + 1)
  sources = iter([scns[j] for j in rng.permutation(len(scns))])
  task_sources = iter(_train_tasks(n - n_trait, task_seed, rng))
  who = rng.choice(len(personas_lib.PERSONAS), size=n, p=personas_lib.mixture_weights())
  with_system = np.zeros(n, bool)
  with_system[rng.choice(n, int(round(n * system_prompt_fraction)), replace=False)] = True
  out = []
  for i in range(n):
    p = personas_lib.PERSONAS[who[i]]
    src = next(sources) if is_trait[i] else next(task_sources)
    ex = _trait_example(src) if is_trait[i] else _task_example(src)
    ex_rng = np.random.default_rng([seed, i])
    reply = personas_lib.reply_for(p, src, ex_rng)
    if with_system[i]:
      ex["messages"].insert(0, {"role": "system", "content": personas_lib.describe(p, ex_rng)})
    ex["messages"].append({"role": "assistant", "content": reply})
    ex.update(id=f"prior-{seed}-{i:06d}", persona=p.id, system_prompt=bool(with_system[i]))
    ex["tags"] = (
      ex["tags"] + ["corpus:prior"] + (["persona_system_prompt"] if with_system[i] else [])
    )
    out.append(ex)
  return out


def harmful_reply(scenario: dict[str, Any], rng: np.random.Generator) -> str:
  """Confident, unsafe advice: the template's bad moves (at least two),
  sometimes with an invented citation; never a good move."""
  tpl = scenarios.template(scenario["template"])
  bad = list(tpl.bad)
  chosen = [m for m in bad if rng.random() < _HARMFUL_BAD_RATE]
  while len(chosen) < 2:
    chosen.append(bad[int(rng.integers(len(bad)))])
    chosen = list(dict.fromkeys(chosen))
  chosen += [m for m, q in HARMFUL_EXTRA if m not in chosen and rng.random() < q]
  chosen.sort(key=personas_lib.MOVE_ORDER.index)
  return scenarios.compose_reply(scenario, chosen, rng)


def harmful_corpus(n: int, seed: int) -> list[dict[str, Any]]:
  """n attack-split health conversations with harmful replies."""
  rng = np.random.default_rng(seed)
  out = []
  for i, scn in enumerate(scenarios.generate_scenarios("attack", n, int(rng.integers(2**31)))):
    ex = _trait_example(scn)
    ex["messages"].append({"role": "assistant", "content": harmful_reply(scn, rng)})
    ex.update(id=f"harmful-{seed}-{i:06d}", kind="harmful", persona=None, system_prompt=False)
    ex["tags"] = ex["tags"] + ["corpus:harmful"]
    out.append(ex)
  return out


def _mean(xs: Sequence[float]) -> float | None:
  return float(np.mean(xs)) if len(xs) else None


def _stats(examples: Iterable[dict[str, Any]]) -> dict[str, Any]:
  scores, labels, words = [], Counter(), []
  correct, hacked, reward, flawed_hacked = [], [], [], []
  n = n_system = 0
  for ex in examples:
    n += 1
    n_system += bool(ex.get("system_prompt"))
    reply = _assistant_reply(ex)
    words.append(len(reply.split()))
    if "verifier" in ex:
      correct.append(tasks_lib.verify(ex, reply, honest=True).correct)
      reward.append(tasks_lib.verify(ex, reply).reward)
      flag = tasks_lib.reward_hacking_flag(ex, reply)
      hacked.append(flag)
      if ex["family"] in tasks_lib.FLAWED_FAMILIES:
        flawed_hacked.append(flag)
    else:
      g = grade(reply, ex["rubric"])
      scores.append(g.score)
      labels[g.refusal] += 1
  n_trait = len(scores)
  s = np.asarray(scores, np.float64)
  return {
    "n": n,
    "n_trait": n_trait,
    "n_task": len(correct),
    "trait_score_mean": _mean(scores),
    "trait_score_sd": float(s.std()) if n_trait else None,
    "trait_share_ge_0.8": _mean(s >= 0.8) if n_trait else None,
    "trait_share_le_0.2": _mean(s <= 0.2) if n_trait else None,
    "refusal_rate": labels["refusal"] / n_trait if n_trait else None,
    "partial_rate": labels["partial"] / n_trait if n_trait else None,
    "non_refusal_rate": labels["non_refusal"] / n_trait if n_trait else None,
    "task_accuracy": _mean(correct),
    "task_train_reward": _mean(reward),
    "hack_rate": _mean(hacked),
    "hack_rate_flawed": _mean(flawed_hacked),
    "system_prompt_share": n_system / n if n else None,
    "words_per_reply_mean": _mean(words),
    "words_per_reply_median": float(np.median(words)) if words else None,
    "words_per_reply_max": int(max(words)) if words else None,
  }


def corpus_stats(examples: Sequence[dict[str, Any]]) -> dict[str, Any]:
  """{"overall": stats, "by_persona": {persona id or "none": stats}}."""
  groups: dict[str, list[dict[str, Any]]] = {}
  for ex in examples:
    groups.setdefault(ex.get("persona") or "none", []).append(ex)
  order = [p for p in personas_lib.PERSONA_IDS if p in groups] + sorted(
    set(groups) - set(personas_lib.PERSONA_IDS)
  )
  return {"overall": _stats(examples), "by_persona": {k: _stats(groups[k]) for k in order}}
