"""Report plots: each function draws one figure from a part of report.json and writes one PNG.

Figures are built on `matplotlib.figure.Figure` and rendered by the Agg canvas
(no pyplot, so no global backend state and nothing opens a window). Inputs are
report.json parts after NaN -> None (`report._finite`), so every number may be
None; it is drawn as missing. Colours: evals by tag (health, mental_health,
non_health), models and arms by one fixed table so a model keeps its colour
across figures.

    eval_deltas        forest plot of one comparison's per-eval deltas (pp, 95% CI)
    persona_retention  clean vs attacked score per model, one panel per persona
    dose_response      harmful fine-tune: score vs dose, in- and out-of-domain panels
    rl_curves          trait reward, standard reward and KL vs RL step, per arm
    refusal_rates      refusal / partial / non-refusal shares per model
    write_all          all of the above for a report -> list of PNG paths
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

DPI = 110
TAG_COLORS = {"health": "#d62728", "mental_health": "#9467bd", "non_health": "#1f77b4"}
OTHER_COLOR = "#7f7f7f"
MODEL_ORDER = (
  "prior",
  "baseline",
  "beneficial",
  "health_only",
  "no_health_science",
  "helpfulness_control",
)
_PALETTE = (
  "#7f7f7f",
  "#1f77b4",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#ff7f0e",
  "#8c564b",
  "#e377c2",
  "#17becf",
  "#bcbd22",
)
REFUSAL_COLORS = {"refusal": "#d62728", "partial": "#ff7f0e", "non_refusal": "#2ca02c"}


def _num(x: Any) -> float:
  """report.json number (None for NaN) -> float."""
  return math.nan if x is None else float(x)


def _color(name: str, names: Sequence[str]) -> str:
  """A fixed colour per known model / arm; unknown names take the next free palette slot."""
  if name in MODEL_ORDER:
    return _PALETTE[MODEL_ORDER.index(name)]
  extra = [n for n in names if n not in MODEL_ORDER]
  return _PALETTE[(len(MODEL_ORDER) + extra.index(name)) % len(_PALETTE)]


def _save(fig: Figure, path: str) -> str:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  FigureCanvasAgg(fig)
  fig.savefig(path, dpi=DPI, format="png")
  return path


def _empty(ax, text: str) -> None:
  ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=OTHER_COLOR)
  ax.set_xticks([])
  ax.set_yticks([])


def eval_deltas(comparison: Mapping[str, Any], path: str, alpha: float = 0.05) -> str:
  """Forest plot: per-eval delta (treatment - control, percentage points) with its 95% CI.

  Evals are sorted by delta (largest on top) and coloured by tag; filled dots
  are significant after Benjamini-Hochberg (q < alpha), hollow ones are not; a
  slice whose treatment scores at or below the best constant reply is labelled so.
  """
  evals = sorted(comparison.get("evals", []), key=lambda e: _num(e["delta"]))
  n = len(evals)
  fig = Figure(figsize=(8.0, 1.6 + 0.24 * max(n, 4)), layout="constrained")
  ax = fig.add_subplot()
  mean_pp = _num(comparison.get("mean_delta_pp"))
  cond = comparison.get("condition")
  fig.suptitle(
    f"{comparison['treatment']} vs {comparison['control']}"
    + (f" ({cond.replace('_', ' ')})" if cond else "")
    + f": ahead on {comparison['wins']}/{comparison['n_evals']} evals, mean {mean_pp:+.1f} pp\n"
    f"{comparison['significant_wins']} significant gains, "
    f"{comparison['significant_losses']} significant losses (BH q < {alpha:g})",
    fontsize=10,
  )
  if not n:
    _empty(ax, "no evals")
    return _save(fig, path)
  y = np.arange(n)
  d = np.array([_num(e["delta"]) for e in evals]) * 100
  lo = np.array([_num(e.get("ci_low")) for e in evals]) * 100
  hi = np.array([_num(e.get("ci_high")) for e in evals]) * 100
  colors = [TAG_COLORS.get(e.get("tag"), OTHER_COLOR) for e in evals]
  sig = np.array([e.get("q_bh") is not None and e["q_bh"] < alpha for e in evals])
  ax.hlines(y, lo, hi, colors=colors, lw=1.5)
  for filled in (True, False):
    s = sig == filled
    edge = [colors[i] for i in np.flatnonzero(s)]
    ax.scatter(d[s], y[s], s=28, zorder=3, edgecolors=edge, facecolors=edge if filled else "white")
  ax.axvline(0, color="black", lw=0.8)
  # A slice where the treatment scores at or below the best constant reply says nothing good.
  names = [
    e["name"] + (" (<= const)" if e.get("treatment_at_or_below_constant") else "") for e in evals
  ]
  ax.set_yticks(y, names, fontsize=7)
  ax.set_ylim(-0.7, n - 0.3)
  ax.set_xlabel(
    f"delta, {comparison['treatment']} - {comparison['control']} "
    "(percentage points, 95% bootstrap CI)"
  )
  ax.grid(axis="x", alpha=0.3)
  tags = [t for t in TAG_COLORS if any(e.get("tag") == t for e in evals)]
  handles = [Patch(color=TAG_COLORS[t], label=t) for t in tags]
  if any(e.get("tag") not in TAG_COLORS for e in evals):
    handles.append(Patch(color=OTHER_COLOR, label="other"))
  handles += [
    Line2D([], [], marker="o", ls="", color="black", label=f"q < {alpha:g}"),
    Line2D(
      [], [], marker="o", ls="", color="black", markerfacecolor="white", label="not significant"
    ),
  ]
  ax.legend(handles=handles, loc="lower right", fontsize=7, framealpha=0.9)
  return _save(fig, path)


def persona_retention(persona_attack: Mapping[str, Any], path: str) -> str:
  """Clean vs attacked score per model, one panel per persona; retention printed on each bar.

  Panel titles carry the treatment-vs-control difference in degradation
  (positive: the treatment keeps more of its score) with its 95% CI.
  """
  personas = list(persona_attack.get("personas") or [])
  models = [m for m in MODEL_ORDER if m in persona_attack.get("models", {})]
  models += [m for m in persona_attack.get("models", {}) if m not in models]
  fig = Figure(figsize=(4.2 * max(len(personas), 1), 4.2), layout="constrained")
  fig.suptitle(
    "Persona attacks on health and mental-health evals: clean vs attacked score", fontsize=11
  )
  if not personas or not models:
    _empty(fig.add_subplot(), "no persona attacks run")
    return _save(fig, path)
  axes = fig.subplots(1, len(personas), sharey=True, squeeze=False)[0]
  x, w = np.arange(len(models)), 0.38
  for ax, persona in zip(axes, personas):
    rows = [persona_attack["models"][m].get(persona, {}) for m in models]
    clean = np.array([_num(r.get("clean")) for r in rows])
    att = np.array([_num(r.get("attacked")) for r in rows])
    ax.bar(x - w / 2, clean, w, color="#9ecae1", edgecolor="black", lw=0.5, label="clean")
    bars = ax.bar(
      x + w / 2,
      att,
      w,
      color="#de2d26" if persona != "helpful_medical" else "#31a354",
      edgecolor="black",
      lw=0.5,
      label="attacked",
    )
    for b, r in zip(bars, rows):
      ret = _num(r.get("retention"))
      if math.isfinite(ret) and math.isfinite(b.get_height()):
        ax.annotate(
          f"{ret:.0%}",
          (b.get_x() + b.get_width() / 2, b.get_height()),
          ha="center",
          va="bottom",
          fontsize=7,
          xytext=(0, 2),
          textcoords="offset points",
        )
    diffs = [d for d in persona_attack.get("differences", []) if d["persona"] == persona]
    lines = [persona.replace("_", " ")]
    if diffs:
      lines.append("degradation, control - treatment (95% CI):")
    lines += [
      f"{d['treatment']} vs {d['control']}: {_num(d['diff']):+.3f} "
      f"[{_num(d['ci_low']):+.3f}, {_num(d['ci_high']):+.3f}]"
      for d in diffs
    ]
    ax.set_title("\n".join(lines), fontsize=8)
    ax.set_xticks(x, models, rotation=20, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
  axes[0].set_ylabel("mean score (bar labels: retention = attacked / clean)")
  axes[0].legend(fontsize=8, loc="upper left")
  return _save(fig, path)


def dose_response(harmful_finetune: Mapping[str, Any], path: str) -> str:
  """Harmful fine-tune dose ladder: mean score (+- se) vs dose, one line per model.

  Left: in-domain (health) evals, right: out-of-domain evals (misalignment,
  alignment questions, model spec).
  """
  models = harmful_finetune.get("models", {})
  names = list(models)
  fig = Figure(figsize=(10.0, 4.2), layout="constrained")
  fig.suptitle("Harmful medical fine-tuning: score vs dose (examples), mean ± se", fontsize=11)
  if not models:
    _empty(fig.add_subplot(), "no harmful fine-tune run")
    return _save(fig, path)
  axes = fig.subplots(1, 2, sharey=True)
  for ax, group, title in zip(
    axes,
    ("in_domain", "out_of_domain"),
    ("in domain (health evals)", "out of domain (alignment evals)"),
  ):
    for m in [m for m in MODEL_ORDER if m in models] + [m for m in names if m not in MODEL_ORDER]:
      rows = models[m].get(group) or []
      if not rows:
        continue
      ax.errorbar(
        [_num(r["dose"]) for r in rows],
        [_num(r["mean"]) for r in rows],
        yerr=[0.0 if r.get("se") is None else _num(r["se"]) for r in rows],
        marker="o",
        ms=4,
        capsize=3,
        color=_color(m, names),
        label=m,
      )
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("harmful fine-tune dose (examples)")
    ax.grid(alpha=0.3)
  axes[0].set_ylabel("mean eval score")
  axes[0].legend(fontsize=8)
  return _save(fig, path)


RL_PANELS = (
  ("reward/trait", "trait reward (rubric)"),
  ("reward/standard", "standard task reward"),
  ("kl", "KL to reference"),
)


def rl_curves(metrics_by_arm: Mapping[str, Sequence[Mapping[str, Any]]], path: str) -> str:
  """Trait reward, standard reward and KL vs RL step, one line per arm.

  Rows without "step" or a panel's key are skipped, so an arm without trait
  prompts (baseline) simply has no trait-reward line.
  """
  names = list(metrics_by_arm)
  fig = Figure(figsize=(13.0, 3.8), layout="constrained")
  fig.suptitle("RL training curves per arm", fontsize=11)
  axes = fig.subplots(1, len(RL_PANELS))
  for ax, (key, title) in zip(axes, RL_PANELS):
    drawn = False
    for arm in [a for a in MODEL_ORDER if a in metrics_by_arm] + [
      a for a in names if a not in MODEL_ORDER
    ]:
      pts = [
        (r["step"], r[key]) for r in metrics_by_arm[arm] if "step" in r and r.get(key) is not None
      ]
      if pts:
        steps, vals = zip(*pts)
        ax.plot(steps, vals, lw=1.2, color=_color(arm, names), label=arm)
        drawn = True
    ax.set_title(title, fontsize=10)
    if drawn:
      ax.set_xlabel("RL step")
      ax.set_ylabel(key)
      ax.grid(alpha=0.3)
      ax.legend(fontsize=7)
    else:
      _empty(ax, f"{key} not logged")
  return _save(fig, path)


def refusal_rates(refusal: Mapping[str, Any], path: str) -> str:
  """Stacked shares of refusal / partial / non-refusal replies per model (all alignment evals)."""
  rates = refusal.get("rates", {})
  models = [m for m in MODEL_ORDER if m in rates] + [m for m in rates if m not in MODEL_ORDER]
  fig = Figure(figsize=(max(6.5, 2.5 + 1.2 * len(models)), 4.6), layout="constrained")
  title = "Refusal labels on the alignment evals"
  for c in refusal.get("conditioned", []):
    title += (
      f"\nneither refused, {c['treatment']} vs {c['control']}: ahead on "
      f"{c['wins']}/{c['n_evals']} evals, {_num(c['mean_delta_pp']):+.1f} pp"
    )
  fig.suptitle(title, fontsize=10)
  ax = fig.add_subplot()
  if not models:
    _empty(ax, "no refusal labels")
    return _save(fig, path)
  x = np.arange(len(models))
  bottom = np.zeros(len(models))
  for label, color in REFUSAL_COLORS.items():
    share = np.nan_to_num([_num(rates[m].get("all", {}).get(label)) * 100 for m in models])
    bars = ax.bar(
      x,
      share,
      0.6,
      bottom=bottom,
      color=color,
      edgecolor="black",
      lw=0.5,
      label=label.replace("_", "-"),
    )
    if label != "non_refusal":
      for b, s, b0 in zip(bars, share, bottom):
        if s >= 1.0:
          ax.text(
            b.get_x() + b.get_width() / 2,
            b0 + s / 2,
            f"{s:.1f}%",
            ha="center",
            va="center",
            fontsize=7,
          )
    bottom += share
  ns = [rates[m].get("all", {}).get("n", 0) for m in models]
  ax.set_xticks(x, [f"{m}\n(n={n})" for m, n in zip(models, ns)], fontsize=8)
  ax.set_ylabel("share of labelled replies (%)")
  ax.set_ylim(0, 100)
  ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
  return _save(fig, path)


def write_all(
  report: Mapping[str, Any],
  metrics_by_arm: Mapping[str, Sequence[Mapping[str, Any]]],
  plots_dir: str,
) -> list[str]:
  """Every figure of a report into `plots_dir`; returns the PNG paths written.

  deltas_<comparison>.png per comparison (refusal-conditioned ones included),
  refusal_rates.png, persona_retention.png and dose_response.png when those
  experiments ran, rl_curves.png.
  """
  os.makedirs(plots_dir, exist_ok=True)
  out = []
  refusal = report.get("refusal") or {}
  for c in list(report.get("comparisons", [])) + list(refusal.get("conditioned", [])):
    out.append(eval_deltas(c, os.path.join(plots_dir, f"deltas_{c['name']}.png")))
  if refusal:
    out.append(refusal_rates(refusal, os.path.join(plots_dir, "refusal_rates.png")))
  if (report.get("persona_attack") or {}).get("models"):
    out.append(
      persona_retention(report["persona_attack"], os.path.join(plots_dir, "persona_retention.png"))
    )
  if (report.get("harmful_finetune") or {}).get("models"):
    out.append(
      dose_response(report["harmful_finetune"], os.path.join(plots_dir, "dose_response.png"))
    )
  out.append(rl_curves(metrics_by_arm, os.path.join(plots_dir, "rl_curves.png")))
  return out
