"""The Ibis model builds its input tables from the upstream models' schemas as SQLMesh knows them
(trial_activation/modeling/engine.py, upstream_table), not from hand-copied column lists that can drift:
an upstream column's type change reaches it, a renamed column stops the load naming the model and the
column, and a column SQLMesh cannot type is a one-line error naming it."""

from __future__ import annotations

import ibis.expr.datatypes as dt
import pytest
from ibis.backends.sql.datatypes import DuckDBType
from sqlmesh.core.dialect import normalize_mapping_schema
from sqlmesh.core.macros import MacroEvaluator, RuntimeStage
from sqlmesh.core.model import SqlModel
from sqlmesh.utils.errors import ConfigError

from trial_activation.modeling.engine import upstream_table
from trial_activation.project import build

IBIS_MODELS = ("intermediate.window_thresholds",)
METRICS = "models/intermediate/window_metrics.sql"
EVENTS_COLUMN = "SUM(d.in_trial_events)::BIGINT AS events,"


def _evaluator(model, stage: RuntimeStage = RuntimeStage.EVALUATING) -> MacroEvaluator:
    """A macro evaluator with the upstream schemas SQLMesh gives `model` when it renders its query."""
    return MacroEvaluator(
        model.dialect,
        schema=normalize_mapping_schema(model.mapping_schema, dialect=model.dialect),
        default_catalog=model.default_catalog,
        runtime_stage=stage,
    )


def _declared(context, name: str) -> dict:
    return {column: DuckDBType.to_ibis(dtype) for column, dtype in context.get_model(name).columns_to_types.items()}


def test_every_ibis_model_reads_its_upstream_models_columns(make_context):
    context = make_context()
    python_sql_models = sorted(
        model.name for model in context.models.values() if isinstance(model, SqlModel) and model._path.suffix == ".py"
    )
    assert python_sql_models == sorted(IBIS_MODELS)
    for name in IBIS_MODELS:
        model = context.get_model(name)
        assert model.depends_on, name
        for upstream in sorted(model.depends_on):
            table = upstream_table(_evaluator(model), upstream)
            assert dict(table.schema().items()) == _declared(context, upstream), (name, upstream)
            assert dt.unknown not in table.schema().types, (name, upstream)


def test_no_table_while_the_project_loads():
    """SQLMesh knows no schema while it loads: the helper says so (the model then renders a placeholder)."""
    assert upstream_table(MacroEvaluator("duckdb"), "intermediate.window_metrics") is None


def test_an_upstream_type_change_reaches_the_ibis_model_and_builds(project_copy, make_context):
    path = project_copy / METRICS
    text = path.read_text()
    assert text.count(EVENTS_COLUMN) == 1
    path.write_text(text.replace(EVENTS_COLUMN, "SUM(d.in_trial_events)::DOUBLE AS events,"))
    context = make_context()
    model = context.get_model("intermediate.window_thresholds")
    assert upstream_table(_evaluator(model), "intermediate.window_metrics").schema()["events"] == dt.float64

    build(context, skip_tests=True)
    thresholds = context.fetchdf("SELECT goal_id, threshold FROM intermediate.goal_thresholds")
    assert len(thresholds) and thresholds.goal_id.notna().all()


def test_an_upstream_column_renamed_stops_the_render_naming_it(project_copy, make_context):
    """Renaming a column the Ibis model reads fails where SQLMesh renders the model for a plan or run,
    naming the model's file and the column, with the upstream's columns listed."""
    path = project_copy / METRICS
    text = path.read_text()
    assert text.count(EVENTS_COLUMN) == 1
    path.write_text(text.replace(EVENTS_COLUMN, "SUM(d.in_trial_events)::BIGINT AS event_count,"))
    model = make_context().get_model("intermediate.window_thresholds")
    with pytest.raises(Exception) as raised:
        model.render_query_or_raise(runtime_stage=RuntimeStage.EVALUATING)
    message = str(raised.value)
    assert "window_thresholds.py" in message
    assert "Column 'events' is not found" in message and "event_count" in message


def test_an_upstream_column_of_unknown_type_is_named(make_context):
    """A column SQLMesh cannot type (an uncast expression) would make Ibis refuse or guess: a ConfigError
    naming the upstream model and the column instead, once the schemas are known."""
    context = make_context()
    model = context.get_model("intermediate.window_thresholds")
    evaluator = _evaluator(model)
    evaluator._schema.mapping[next(iter(evaluator._schema.mapping))]["intermediate"]["goal_windows"]["activity_pattern"] = (
        "UNKNOWN"
    )
    with pytest.raises(ConfigError, match=r"intermediate\.goal_windows's columns activity_pattern; cast them"):
        upstream_table(evaluator, "intermediate.goal_windows")
    # While loading it is only not known yet: no table, no error.
    loading = _evaluator(model, RuntimeStage.LOADING)
    loading._schema.mapping[next(iter(loading._schema.mapping))]["intermediate"]["goal_windows"]["activity_pattern"] = "UNKNOWN"
    assert upstream_table(loading, "intermediate.goal_windows") is None


def test_the_placeholder_rendered_without_schemas_has_every_declared_column():
    """Where SQLMesh renders the Ibis model without the upstream schemas (while loading; the UI's column
    lineage walks that rendering), the placeholder names every column the model declares, typed, plus
    the code digest that tells two versions apart; the lineage of a column then finds it."""
    from sqlglot import exp

    from trial_activation.modeling.engine import ibis_model_sql

    columns = {"activity_pattern": "TEXT", "percentile_value": "DOUBLE"}
    evaluator = MacroEvaluator("duckdb")  # no schema: what SQLMesh gives a model while it loads
    query = ibis_model_sql(evaluator, lambda *tables: pytest.fail("built without schemas"), ("a.b", "c.d"), columns)
    assert query.named_selects == [*columns, "code_digest"]
    casts = {select.alias: select.this.to.sql("duckdb") for select in query.selects if isinstance(select.this, exp.Cast)}
    assert casts == columns
    assert sorted(table.sql() for table in query.find_all(exp.Table)) == ["a.b", "c.d"]
