"""The paper's headline numbers (Gandhi et al. 2025, arXiv 2503.01307), as facts for comparison.

Held-out Countdown accuracy at RL step 0 and at the end of training (step 250), from the paper's headline
table (../shared/PAPER.md). Figures can draw them as dashed reference lines (`--paper-reference`) and the
report puts them beside the measured numbers. Our toy-scale runs are not expected to match them in level,
only possibly in direction.
"""
from __future__ import annotations

from dataclasses import dataclass

PAPER = "Gandhi et al. 2025, Cognitive Behaviors that Enable Self-Improving Reasoners (arXiv 2503.01307)"
PAPER_FINAL_STEP = 250


@dataclass(frozen=True)
class PaperResult:
    key: str            # our name for the row
    description: str    # the row as the paper's table names it
    start: float        # accuracy at step 0
    end: float          # accuracy at step 250
    max: float | None = None  # best checkpoint where the paper reports it separately
    model: str = "llama"      # the model family the row was measured on (every primed row is Llama's)


HEADLINE: tuple[PaperResult, ...] = (
    PaperResult("qwen_no_priming", "Qwen-2.5-3B, no priming", 0.01, 0.54, 0.61, model="qwen"),
    PaperResult("llama_no_priming", "Llama-3.2-3B, no priming", 0.00, 0.34, 0.35),
    PaperResult("all_strategies", "Llama primed all_strategies", 0.35, 0.74),
    PaperResult("only_backtracking", "Llama primed only_backtracking", 0.41, 0.77),
    PaperResult("backtracking_verification", "Llama primed backtracking_verification", 0.42, 0.77),
    PaperResult("backtracking_backward", "Llama primed backtracking_backward", 0.31, 0.77),
    PaperResult("backtracking_subgoal", "Llama primed backtracking_subgoal", 0.18, 0.71),
    PaperResult("no_positive", "Llama primed with incorrect-answer traces (no_positive)", 0.28, 0.74),
    PaperResult("empty_cot", "Llama empty_cot control", 0.06, 0.41),
    PaperResult("dots", "Llama dots (length-matched) control", 0.11, 0.38),
    PaperResult("cpt_rich", "Llama continued-pretrained on behavior-rich OpenWebMath", 0.00, 0.49),
    PaperResult("cpt_minimal", "Llama continued-pretrained on behavior-minimal OpenWebMath", 0.00, 0.37),
)
BY_KEY = {r.key: r for r in HEADLINE}

# Share of correct answers in the paper's (unfiltered) priming sets, per condition.
PRIMING_SHARE_CORRECT: dict[str, float] = {
    "all_strategies": 0.43, "backtracking_verification": 0.44, "only_backtracking": 0.42,
    "backtracking_backward": 0.38, "backtracking_subgoal": 0.28, "empty_cot": 0.19,
}

# Our condition names -> the paper row they correspond to. priming's `incorrect_only` is the paper's
# no_positive control and `length_matched` its dots control; an unprimed base model that lacks the
# behaviors plays unprimed Llama. priming's `negative_control` (correct direct solutions, no behaviors) has
# no row of its own in the paper's table, so it gets no reference.
ALIASES: dict[str, str] = {
    "incorrect_only": "no_positive", "length_matched": "dots",
    "qwen": "qwen_no_priming", "qwen_base": "qwen_no_priming",
    "llama": "llama_no_priming", "llama_base": "llama_no_priming",
    "no_priming": "llama_no_priming", "unprimed": "llama_no_priming", "base": "llama_no_priming",
    "cpt_behavior_rich": "cpt_rich", "cpt_behavior_minimal": "cpt_minimal",
}


# The paper authors' condition names, as their published per-step results tables spell them -> ours.
# base_70b is the larger Llama reference of the paper's first figure (no row in the headline table);
# owmathqa_* are the continued-pretraining runs on OpenWebMath (owmathqa_method: behavior-rich,
# owmathqa_none: behavior-minimal). human_cot keeps its name: the toolkit has no such condition.
AUTHOR_CONDITIONS: dict[str, str] = {
    "base_ppo": "no_priming", "base_70b": "no_priming_70b",
    "no_positive_all_strategies": "incorrect_only", "no_positive": "incorrect_only", "dots": "length_matched",
    "owmathqa_method": "cpt_rich", "owmathqa_none": "cpt_minimal",
}
# base models (not primed, not continued-pretrained): the conditions of the step-0 base-model figure
BASE_CONDITIONS = ("no_priming", "no_priming_70b", "qwen", "qwen_base", "llama", "llama_base", "unprimed", "base")


def toolkit_condition(name: str) -> str:
    """Our name for a condition as the paper's authors name it (other names are returned unchanged)."""
    key = name.strip()
    if key in AUTHOR_CONDITIONS:
        return AUTHOR_CONDITIONS[key]
    if key.startswith("owmathqa"):  # a continued-pretraining run we have no exact counterpart for
        return "cpt_" + key
    return key


def model_family(model: str | None) -> str | None:
    """"qwen" or "llama" when a model name says which of the paper's models it is, else None."""
    name = (model or "").lower()
    for family in ("qwen", "llama"):
        if family in name:
            return family
    return None


def paper_result(condition: str, model: str | None = None) -> PaperResult | None:
    """The paper row for one of our condition names (exact key, alias, or with a llama_/qwen_ prefix).

    With a `model` whose name says Qwen or Llama, only rows measured on that model count: an unprimed
    condition gets that model's no-priming row, a primed one (all Llama rows) none for Qwen.
    """
    name = condition.strip().lower().replace("-", "_")
    row = None
    for candidate in (name, name.removeprefix("llama_"), name.removeprefix("primed_")):
        key = candidate if candidate in BY_KEY else ALIASES.get(candidate)
        if key is not None:
            row = BY_KEY[key]
            break
    family = model_family(model)
    if row is None or family is None:
        return row
    if row.key.endswith("_no_priming"):
        return BY_KEY[f"{family}_no_priming"]
    return row if row.model == family else None
