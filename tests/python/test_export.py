"""`trial-activation export`: every mart of the environment to CSV / Parquet through DuckDB's COPY.

Checked against the warehouse itself: the exported models are the tables of the environment's marts
schema (listed from DuckDB's catalog, not from SQLMesh), each file read back with DuckDB equals its mart
row for row, and the manifest's row counts, column types and checksums match the files and the marts.
"""

from __future__ import annotations

import hashlib
import json
import os

import duckdb
import pandas as pd
import pytest

from helpers import plan_dev_with_edit, short_name
from marts import GRAIN, assert_same_rows
from trial_activation import export as export_module
from trial_activation.__main__ import main
from trial_activation.export import export_marts


def _marts_in_warehouse(context) -> list[str]:
    """The tables and views of prod's marts schema, from DuckDB's catalog."""
    rows = context.fetchdf("SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'")
    return sorted(f"marts.{name}" for name in rows.table_name)


def _read_back(path, file_format: str, columns: list[dict]) -> pd.DataFrame:
    with duckdb.connect() as reader:
        if file_format == "parquet":
            return reader.execute("SELECT * FROM read_parquet(?)", [str(path)]).df()
        types = "{" + ", ".join(f"'{c['name']}': '{c['type']}'" for c in columns) + "}"
        query = f"SELECT * FROM read_csv(?, header = true, auto_detect = false, columns = {types})"
        return reader.execute(query, [str(path)]).df()


EMPTY_ON_THE_SAMPLE = ("marts.report_candidates", "marts.trial_worklist")


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_export_round_trips_every_mart(sample_build, tmp_path, file_format):
    context, _ = sample_build
    out = tmp_path / file_format
    manifest = export_marts(context, "prod", file_format, out)

    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    assert on_disk["environment"] == "prod" and on_disk["format"] == file_format
    models = [entry["model"] for entry in on_disk["models"]]
    assert models == _marts_in_warehouse(context)
    assert {"marts.trial_goals", "marts.trial_activation", "marts.trial_worklist", "marts.report_status",
            "marts.report_candidate_holdout"} <= set(models)
    # The moment the data describes (issue 23): the marts' as_of, in ISO 8601.
    as_of = context.fetchdf("SELECT MAX(as_of) AS as_of FROM marts.trial_activation").as_of.iloc[0]
    assert on_disk["as_of"] == pd.Timestamp(as_of).isoformat() == "2024-05-06T00:00:00"
    assert sorted(p.name for p in out.iterdir()) == sorted(["manifest.json", *(e["file"] for e in on_disk["models"])])

    for entry in on_disk["models"]:
        path = out / entry["file"]
        mart = context.fetchdf(f"SELECT * FROM {entry['model']}")
        types = context.fetchdf(f"DESCRIBE SELECT * FROM {entry['model']}")
        assert [(c["name"], c["type"]) for c in entry["columns"]] == list(zip(types.column_name, types.column_type))
        exported = _read_back(path, file_format, entry["columns"])
        assert entry["rows"] == len(exported) == len(mart), entry["model"]
        # Every mart has rows, but the report's credible candidates (on the sample, none is credible) and
        # the worklists (the sample's as_of is after every trial's end: nobody is in trial).
        assert len(mart) > 0 or entry["model"] in EMPTY_ON_THE_SAMPLE, entry["model"]
        assert_same_rows(exported, mart, GRAIN[entry["model"]], name=entry["model"])
        assert entry["sha256"] == _sha256(path)
    # The snapshot versions are the environment's (what SQLMesh's state says prod points to).
    versions = {short_name(s.name): s.version for s in context.state_reader.get_environment("prod").snapshots}
    assert all(entry["version"] == versions[entry["model"]] for entry in on_disk["models"])


def test_re_export_replaces_each_file_by_rename(sample_build, tmp_path, monkeypatch):
    """A second export into the same folder writes temporary files in a private folder inside it and
    renames them over the old ones: until each rename, the old file is still whole (what a concurrent
    reader would open)."""
    context, _ = sample_build
    out = tmp_path / "parquet"
    first = export_marts(context, "prod", "parquet", out)
    old = {name: (out / name).read_bytes() for name in os.listdir(out)}
    old_inodes = {name: (out / name).stat().st_ino for name in old}

    renames = []
    real_replace = os.replace

    def replace(source, destination):
        source, destination = os.fspath(source), os.fspath(destination)
        # At this moment the destination still holds the complete previous export.
        assert open(destination, "rb").read() == old[os.path.basename(destination)]
        renames.append((source, destination))
        real_replace(source, destination)

    monkeypatch.setattr(export_module.os, "replace", replace)
    second = export_marts(context, "prod", "parquet", out)

    assert sorted(os.path.basename(d) for _, d in renames) == sorted(old)
    for source, destination in renames:
        assert os.path.dirname(destination) == str(out)
        assert os.path.dirname(os.path.dirname(source)) == str(out)  # a folder in out: the same file system
        assert source != destination and not os.path.exists(source)
    assert renames[-1][1] == str(out / "manifest.json")  # the manifest last, after every file it lists
    assert sorted(os.listdir(out)) == sorted(old)  # no temporary file left behind
    assert all((out / name).stat().st_ino != old_inodes[name] for name in old)  # new files, not rewritten in place
    # Same data, same rows in grain order: the same files and checksums.
    assert [e["sha256"] for e in second["models"]] == [e["sha256"] for e in first["models"]]


def test_export_of_a_missing_environment_is_one_line(sample_build, tmp_path, capsys):
    context, _ = sample_build
    status = main(
        [
            "export", "-e", "no_such_env", "--format", "csv", "--out", str(tmp_path / "out"),
            "--project", str(context.path), "--warehouse", str(context.path.parent / "warehouse.duckdb"),
        ]
    )
    assert status == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no_such_env" in err and "does not exist" in err
    assert not (tmp_path / "out").exists()


def test_export_of_dev_reads_unchanged_marts_from_the_tables_dev_shares(sample_build, tmp_path):
    """Dev gets views only for the models it changed: a dev that changed one mart exports that mart
    from its dev view and every other mart from the table it shares with prod."""
    context, _ = sample_build
    dev = "export_dev"  # a new environment, created from prod (not from another test's dev)
    model_file = context.path / "models" / "marts" / "activation_cohorts.sql"
    original = model_file.read_text()
    anchor = "  trial_start_week, /* Monday of the ISO week of trial_start */\n"
    assert anchor in original
    edited = original.replace(anchor, anchor + "  42 AS export_probe, /* test column */\n")
    plan_dev_with_edit(context, dev, model_file, edited.encode())
    dev_views = context.fetchdf(f"SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts__{dev}'")
    assert list(dev_views.table_name) == ["activation_cohorts"]

    out = tmp_path / "dev"
    manifest = export_marts(context, dev, "parquet", out)
    assert manifest["environment"] == dev
    assert [entry["model"] for entry in manifest["models"]] == _marts_in_warehouse(context)
    for entry in manifest["models"]:
        source = f"marts__{dev}.activation_cohorts" if entry["model"] == "marts.activation_cohorts" else entry["model"]
        expected = context.fetchdf(f"SELECT * FROM {source}")
        exported = _read_back(out / entry["file"], "parquet", entry["columns"])
        assert_same_rows(exported, expected, GRAIN[entry["model"]], name=entry["model"])
    cohorts = next(entry for entry in manifest["models"] if entry["model"] == "marts.activation_cohorts")
    assert "export_probe" in [column["name"] for column in cohorts["columns"]]
