"""Activity patterns: the SQL LIKE patterns of goals and candidates (escape character: a backslash)."""

from sqlglot import exp
from sqlmesh import macro

from trial_activation.modeling.engine import LIKE_ESCAPE


@macro()
def like_literal(evaluator, text: exp.Expression) -> exp.Expression:
    r"""A LIKE pattern that matches the string `text` and nothing else: its escape character, % and _
    each escaped (the escape character first, so that the others' escapes stay single). An activity
    named _obile.X must not match Mobile.X, in the candidate search or in the seed row that adopts it.

    >>> from sqlglot import exp
    >>> like_literal(None, exp.column("activity_name")).sql("duckdb")
    "REPLACE(REPLACE(REPLACE(activity_name, '\\', '\\\\'), '%', '\\%'), '_', '\\_')"
    """
    for special in (LIKE_ESCAPE, "%", "_"):
        text = exp.func("REPLACE", text, exp.Literal.string(special), exp.Literal.string(LIKE_ESCAPE + special))
    return text
