"""Layers run one way: staging -> intermediate -> marts. Nothing in staging or intermediate reads a
mart (a statistic over marts is itself a mart), for every model SQLMesh loads from the project."""

from __future__ import annotations

from sqlglot import exp

UPSTREAM_LAYERS = ("staging", "intermediate")  # the layers that must not read the marts


def _layer(name: str) -> str:
    return exp.to_table(name).db.lower()


def _name(fqn: str) -> str:
    table = exp.to_table(fqn)
    return f"{table.db}.{table.name}"


def test_no_staging_or_intermediate_model_reads_a_mart(make_context):
    context = make_context()
    models = context.models.values()
    assert {_layer(model.fqn) for model in models} >= {"staging", "intermediate", "marts"}, "no model loaded?"
    backwards = sorted(
        (model.name, _name(dependency))
        for model in models
        if _layer(model.fqn) in UPSTREAM_LAYERS
        for dependency in model.depends_on
        if _layer(dependency) == "marts"
    )
    assert not backwards, f"models that read a mart from a layer upstream of the marts: {backwards}"
