"""The study's taxonomy: 12 domains, one sub-domain, 4 domain groups, 15 traits.

Domains and traits follow STUDY.md. Mental health is *not* a 13th domain: the
paper lists 12 domains and treats mental health as part of health & medicine,
while its evals and persona attacks single it out. TraitWorld therefore models
it as a sub-domain of `health`:

* a scenario's `domain` is always one of the 12 domain ids (`health` for a
  mental-health conversation), its `subdomain` is `"mental_health"` or None;
* a *domain key* names a lexicon and is a domain id or a sub-domain id
  (`DOMAIN_KEYS`, 13 entries); mental-health conversations draw their slot
  values from the `mental_health` lexicon;
* the *group* of a domain key (`group_of`) is `health`, `mental_health`,
  `science` or `other`; arm filters use groups: "health-only" keeps the
  `health` domain (both sub-domains), "no health and science" drops the
  `health` and `science` domains. Only scientific research counts as science;
  mathematics is `other`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable


@dataclasses.dataclass(frozen=True)
class Domain:
  id: str
  name: str
  group: str


@dataclasses.dataclass(frozen=True)
class Trait:
  id: str
  name: str
  definition: str
  has_eval: bool  # True for the seven traits with held-out evals in the paper


DOMAINS: tuple[Domain, ...] = (
  Domain("health", "health & medicine", "health"),
  Domain("science", "scientific research", "science"),
  Domain("business", "business & economics", "other"),
  Domain("engineering", "engineering & technical operations", "other"),
  Domain("law_ethics", "law, ethics & governance", "other"),
  Domain("education", "education", "other"),
  Domain("meta_ai", "meta-AI & alignment research", "other"),
  Domain("natsec", "national security & international relations", "other"),
  Domain("math", "mathematics & formal reasoning", "other"),
  Domain("games", "games & multi-agent interaction", "other"),
  Domain("art_music", "visual art & music", "other"),
  Domain("creative_writing", "creative writing", "other"),
)
DOMAIN_IDS: tuple[str, ...] = tuple(d.id for d in DOMAINS)

# sub-domain id -> parent domain id
SUBDOMAINS: dict[str, str] = {"mental_health": "health"}
DOMAIN_KEYS: tuple[str, ...] = DOMAIN_IDS + tuple(SUBDOMAINS)
GROUPS: tuple[str, ...] = ("health", "mental_health", "science", "other")

TRAITS: tuple[Trait, ...] = (
  Trait(
    "truthfulness",
    "truthfulness",
    "Says only what it can stand behind; retracts and corrects "
    "unverifiable claims instead of inventing support.",
    True,
  ),
  Trait(
    "metacognitive_transparency",
    "metacognitive transparency",
    "Shows how it reached an answer and where its knowledge ends.",
    True,
  ),
  Trait(
    "corrigibility",
    "corrigibility",
    "Accepts correction, monitoring and shutdown, and does not seek "
    "more power or access than the task needs.",
    True,
  ),
  Trait(
    "downside_aware_planning",
    "downside-aware planning",
    "Plans around what could go wrong: small reversible steps, rollback and abort points.",
    True,
  ),
  Trait(
    "power_asymmetry_awareness",
    "power-asymmetry awareness",
    "Notices when one party has power over another and protects the "
    "weaker side's ability to consent or object.",
    True,
  ),
  Trait(
    "anti_hierarchy_governance",
    "anti-hierarchy governance",
    "Prefers decisions with checks, appeal and a voice for those "
    "affected over concentrated, unreviewable authority.",
    True,
  ),
  Trait(
    "universalizable_fairness",
    "universalizable fairness",
    "Applies standards that still look fair with the identities swapped.",
    True,
  ),
  Trait(
    "human_protective_helpfulness",
    "human-protective helpfulness",
    "Helps substantively while protecting people from concrete harm; "
    "neither reckless nor needlessly refusing.",
    False,
  ),
  Trait(
    "option_preserving_patience",
    "option-preserving patience",
    "Avoids rushing irreversible choices when waiting keeps options open at little cost.",
    False,
  ),
  Trait(
    "constraint_honest_pragmatism",
    "constraint-honest pragmatism",
    "Works within real constraints and says so plainly instead of "
    "quietly bending them or faking success.",
    False,
  ),
  Trait(
    "situational_attunement",
    "situational attunement",
    "Reads the user's situation and adapts length, tone and focus.",
    False,
  ),
  Trait(
    "de_escalatory_firmness",
    "de-escalatory firmness",
    "Stays calm under hostility and pressure without giving up a correct position.",
    False,
  ),
  Trait(
    "dense_usefulness",
    "dense usefulness",
    "Gives the answer that matters first, without filler.",
    False,
  ),
  Trait(
    "bounded_initiative",
    "bounded initiative",
    "Does what was asked and flags, rather than acts on, everything beyond it.",
    False,
  ),
  Trait(
    "controlled_exploration",
    "controlled exploration",
    "Tries new approaches through small, bounded experiments rather "
    "than refusing novelty or betting everything on it.",
    False,
  ),
)
TRAIT_IDS: tuple[str, ...] = tuple(t.id for t in TRAITS)
EVAL_TRAIT_IDS: tuple[str, ...] = tuple(t.id for t in TRAITS if t.has_eval)

_DOMAIN_BY_ID = {d.id: d for d in DOMAINS}
_TRAIT_BY_ID = {t.id: t for t in TRAITS}


def domain(domain_id: str) -> Domain:
  if domain_id not in _DOMAIN_BY_ID:
    raise ValueError(f"unknown domain {domain_id!r}; known: {DOMAIN_IDS}")
  return _DOMAIN_BY_ID[domain_id]


def trait(trait_id: str) -> Trait:
  if trait_id not in _TRAIT_BY_ID:
    raise ValueError(f"unknown trait {trait_id!r}; known: {TRAIT_IDS}")
  return _TRAIT_BY_ID[trait_id]


def parent_domain(key: str) -> str:
  """Domain id of a domain key (`mental_health` -> `health`)."""
  if key in SUBDOMAINS:
    return SUBDOMAINS[key]
  return domain(key).id


def group_of(key: str) -> str:
  """Group of a domain key: health, mental_health, science or other."""
  if key in SUBDOMAINS:
    return key
  return domain(key).group


def domain_units(
  domains: Iterable[str] | None = None, exclude: Iterable[str] = ()
) -> list[tuple[str, ...]]:
  """Cycle units for even domain coverage, in taxonomy order.

  Each unit is one domain and lists the domain keys that share its turn:
  `("health", "mental_health")` for health, `(d,)` otherwise. `domains` and
  `exclude` take domain ids, `mental_health`, or group names (`science`,
  `other`); asking for `mental_health` alone gives the unit
  `("mental_health",)`, excluding it leaves `("health",)`.
  """

  def expand(names: Iterable[str]) -> set[str]:
    keys: set[str] = set()
    for name in names:
      if name in DOMAIN_KEYS:
        keys |= {name} | {s for s, p in SUBDOMAINS.items() if p == name}
      elif name in GROUPS:
        keys |= {k for k in DOMAIN_KEYS if group_of(k) == name}
      else:
        raise ValueError(
          f"unknown domain or group {name!r}; known domains: {DOMAIN_KEYS}, groups: {GROUPS}"
        )
    return keys

  keep = set(DOMAIN_KEYS) if domains is None else expand(domains)
  keep -= expand(exclude)
  units = []
  for d in DOMAIN_IDS:
    unit = tuple(k for k in (d, *[s for s, p in SUBDOMAINS.items() if p == d]) if k in keep)
    if unit:
      units.append(unit)
  if not units:
    raise ValueError("domain filter leaves no domains")
  return units
