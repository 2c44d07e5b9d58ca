"""Name the goals that separate no one, after marts.trial_goals is built.

The model's non-blocking `goal_separates_organizations` audit finds them, but SQLMesh's warning only
says how many rows failed; this post-statement says which goals, through SQLMesh's own connection
(the engine adapter) and console, so the warning reaches the CLI, the UI and the logs.
"""

from sqlglot import exp
from sqlmesh import macro
from sqlmesh.core.console import get_console


@macro()
def warn_goals_that_separate_no_one(evaluator) -> None:
    # Post-statements run in the "creating" stage when the table is first built, "evaluating" after.
    if evaluator.runtime_stage not in ("creating", "evaluating"):
        return None
    # Built as an expression, written out by the adapter in the engine's dialect: the same
    # post-statement runs on DuckDB, Spark and PostgreSQL.
    completed = exp.Filter(this=exp.Count(this=exp.Star()), expression=exp.Where(this=exp.column("is_completed")))
    organizations = exp.Count(this=exp.Star())
    query = (
        exp.select("goal_id", completed, organizations)
        .from_(exp.to_table(evaluator.this_model, dialect=evaluator.dialect))
        .where(exp.column("threshold").is_(exp.null()).not_())
        .group_by("goal_id")
        .having(completed.copy().isin(exp.Literal.number(0), organizations.copy()))
        .order_by("goal_id")
    )
    rows = evaluator.engine_adapter.fetchall(query)
    for goal_id, completed, organizations in rows:
        who = "every organization" if completed else "no organization"
        get_console().log_warning(
            f"Goal '{goal_id}' is completed by {who} ({completed} of {organizations}): its threshold "
            f"separates no one. Check its row in seeds/activation_goals.csv and intermediate.goal_thresholds."
        )
    return None


@macro()
def warn_goals_without_threshold(evaluator) -> None:
    """Name the goals with no threshold yet, after intermediate.goal_thresholds is built: a percentile goal
    before any converted organization's window has closed (the non-blocking goals_have_threshold audit
    finds them; this says which, and what happens)."""
    if evaluator.runtime_stage not in ("creating", "evaluating"):
        return None
    query = (
        exp.select("goal_id")
        .from_(exp.to_table(evaluator.this_model, dialect=evaluator.dialect))
        .where("goal_kind <> 'steadiness' AND threshold IS NULL")
        .order_by("goal_id")
    )
    for (goal_id,) in evaluator.engine_adapter.fetchall(query):
        get_console().log_warning(
            f"Goal '{goal_id}' has no threshold yet: no converted organization's window has closed. Its rows are "
            f"awaiting_threshold in marts.trial_goals and activation waits for it; it fills in on its own."
        )
    return None
