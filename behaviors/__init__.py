"""Behavior judges: count verification, backtracking, subgoal setting and backward chaining in traces.

See docs/behaviors.md. Entry points: behaviors.classify.label_traces, behaviors.rules.count_behaviors,
behaviors.aggregate.results_table, behaviors.client.ChatClient, `python -m behaviors.classify`.
"""
