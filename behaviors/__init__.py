"""Behavior judges: count verification, backtracking, subgoal setting and backward chaining in traces.

See docs/behaviors.md and docs/architecture.md. Entry points: behaviors.judges (make_judge, label_traces,
JudgeOptions), behaviors.rules.count_behaviors, behaviors.aggregate.results_table,
`python -m behaviors.classify`, `python -m behaviors.agreement`.
"""
