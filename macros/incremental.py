"""Which organizations an organization-level incremental model recomputes in a run."""

from sqlglot import exp
from sqlmesh import macro
from sqlmesh.core.dialect import parse_one


@macro()
def is_changed_organization(evaluator, organization_id: exp.Expression) -> exp.Expression:
    """TRUE for the rows of the organizations the run must recompute.

    On a load from the project's start (a first build, or a restatement, which SQLMesh runs from the
    start for unique-key models): every organization, with no filter to evaluate. Otherwise the
    organizations with staged events in the interval: all their other rows are unchanged, because
    everything an organization's rows are computed from is its own events.
    """
    project_start = evaluator.var("trial_events_start")
    condition = parse_one(
        f"""@start_ds <= '{project_start}'
        OR {organization_id.sql(dialect=evaluator.dialect)} IN (
          SELECT DISTINCT organization_id FROM staging.trial_events WHERE event_at BETWEEN @start_ts AND @end_ts
        )""",
        dialect=evaluator.dialect,
    )
    return evaluator.transform(exp.paren(condition))


@macro()
def moved_goal_ids(evaluator) -> exp.Expression:
    """SELECT goal_id of the goals whose threshold moved since the previous run, i.e. differs from
    the last row of intermediate.goal_threshold_history before the interval (or has no such row: a
    first build or a restatement). Every organization's row of such a goal must be re-evaluated."""
    query = parse_one(
        """SELECT t.goal_id
        FROM intermediate.goal_thresholds AS t
        LEFT JOIN (
          SELECT goal_id, threshold
          FROM intermediate.goal_threshold_history
          WHERE as_of_date = (
            SELECT MAX(as_of_date) FROM intermediate.goal_threshold_history WHERE as_of_date < @start_ds
          )
        ) AS previous
          ON t.goal_id = previous.goal_id
        WHERE previous.goal_id IS NULL OR t.threshold IS DISTINCT FROM previous.threshold""",
        dialect=evaluator.dialect,
    )
    return evaluator.transform(query)
