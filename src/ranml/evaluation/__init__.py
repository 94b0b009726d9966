"""Closed-loop evaluation (offline side): e2sim and an app as separate processes, scored on e2sim's ground truth.

:func:`run_closed_loop` runs one scenario under each control policy from the same start and
tabulates energy, unserved traffic, overload and controls; :func:`run_session` is one such run,
for callers that drive the app themselves (the demo, the guide tests, ``benchmarks/xapp.py``).
"""

from ranml.evaluation.closed_loop import POLICIES, AppRun, Session, policy_row, run_closed_loop, run_policy, run_session

__all__ = ["POLICIES", "AppRun", "Session", "policy_row", "run_closed_loop", "run_policy", "run_session"]
