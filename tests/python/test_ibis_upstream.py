"""The Ibis models build their input tables from the upstream models' schemas, as SQLMesh knows them
(trial_activation.modeling.engine.upstream_table), not from hand-copied column lists that can drift: an upstream
column's type change reaches the Ibis model, and a renamed column stops the load with the model and
the column named."""

from __future__ import annotations

import ibis.expr.datatypes as dt
import pytest
from ibis.backends.sql.datatypes import DuckDBType
from sqlglot.errors import SchemaError
from sqlmesh.core.dialect import normalize_mapping_schema
from sqlmesh.core.macros import MacroEvaluator, RuntimeStage
from sqlmesh.core.model import SqlModel

from trial_activation.modeling.engine import upstream_table
from trial_activation.project import build

IBIS_MODELS = ("intermediate.goal_thresholds", "intermediate.candidate_goal_counts")
METRICS = "models/intermediate/org_goal_metrics.sql"


def _evaluator(model) -> MacroEvaluator:
    """A macro evaluator with the upstream schemas SQLMesh gives `model` when it renders its query."""
    return MacroEvaluator(
        model.dialect,
        schema=normalize_mapping_schema(model.mapping_schema, dialect=model.dialect),
        default_catalog=model.default_catalog,
        runtime_stage=RuntimeStage.EVALUATING,
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


def test_no_table_while_the_project_loads():
    """SQLMesh knows no schema while it loads: the helper says so (the model then renders a placeholder)."""
    assert upstream_table(MacroEvaluator("duckdb"), "intermediate.org_goal_metrics") is None


def test_an_upstream_type_change_reaches_the_ibis_model_and_builds(project_copy, make_context):
    path = project_copy / METRICS
    text = path.read_text()
    assert text.count("END::BIGINT AS metric_value") == 1
    path.write_text(text.replace("END::BIGINT AS metric_value", "END::DOUBLE AS metric_value"))
    context = make_context()
    model = context.get_model("intermediate.goal_thresholds")
    metrics = upstream_table(_evaluator(model), "intermediate.org_goal_metrics")
    assert metrics.schema()["metric_value"] == dt.float64

    build(context, skip_tests=True)
    thresholds = context.fetchdf("SELECT goal_id, threshold FROM intermediate.goal_thresholds")
    assert len(thresholds) and thresholds.goal_id.notna().all()


def test_an_upstream_column_renamed_stops_the_load_naming_it(project_copy, make_context):
    path = project_copy / METRICS
    text = path.read_text()
    assert text.count("  metric_value, /*") == 1
    path.write_text(text.replace("  metric_value, /*", "  metric_value AS metric_count, /*"))
    with pytest.raises(SchemaError) as raised:  # SQLMesh's "Failed to update model schemas", at load
        make_context()
    message = str(raised.value)
    assert "goal_thresholds.py" in message
    assert "Column 'metric_value' is not found" in message and "metric_count" in message
