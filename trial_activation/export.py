"""Every mart of an environment written to files for the rest of the warehouse, plus a manifest.

    trial-activation export [-e ENV] --format csv|parquet --out DIR [--spreadsheet-safe]

The marts are the environment's models in the `marts` schema, read from SQLMesh's state (so the
insight marts are exported by any environment that has them). Each is written by the engine itself
(DuckDB `COPY`, rows in grain order) to `DIR/<name>.<format>`, then `DIR/manifest.json` lists the
environment, each model's version, row count, columns and types, and the file's SHA-256.

Each file is written in a private temporary folder inside DIR (a unique name, created by this process
and writable by it alone, so nobody can plant a symlink there for the export to write through), then
renamed over the old one (os.replace, atomic on one file system; a link at the destination is
replaced, never followed). A reader of DIR sees either the previous export of a file or the new one,
never a half-written file. The manifest is replaced last.

CSV cells are written as they are, for other tools. A text cell starting with =, +, -, @, a tab or a
carriage return is a formula to a spreadsheet (the funnel's own step names start with +):
spreadsheet_safe (CLI: --spreadsheet-safe) starts such text cells with an apostrophe, which
spreadsheets read as "this is text", and the manifest says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from sqlglot import exp
from sqlmesh import Context
from sqlmesh.core.model.kind import ModelKindName

import pandas as pd

from trial_activation.project import MissingInEnvironment, environment_snapshots, environment_table, select_rows

SCHEMA = "marts"
FORMATS = {"csv": "(FORMAT csv, HEADER true)", "parquet": "(FORMAT parquet)"}
MANIFEST = "manifest.json"
# The first characters that make a spreadsheet read a cell as a formula (OWASP's list for CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportError(ValueError):
    """An export that cannot be written as asked: the message is one line saying what to do."""


def exported_models(context: Context, environment: str) -> list[str]:
    """The models of the marts schema in `environment`, sorted."""
    snapshots = environment_snapshots(context, environment)
    return sorted(
        name
        for name, snapshot in snapshots.items()
        if name.startswith(f"{SCHEMA}.")
        and snapshot.kind_name not in (ModelKindName.EMBEDDED, ModelKindName.EXTERNAL)
    )


def export_marts(
    context: Context, environment: str, file_format: str, out: Path | str, *, spreadsheet_safe: bool = False
) -> dict:
    """Write every mart of `environment` and the manifest into `out`; returns the manifest.

    spreadsheet_safe (CSV only): text cells a spreadsheet would read as a formula start with an apostrophe.
    """
    if file_format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {file_format!r}")
    if spreadsheet_safe and file_format != "csv":
        raise ExportError(
            "--spreadsheet-safe is for CSV (a Parquet cell is typed, never a formula): use --format csv or drop it"
        )
    if context.engine_adapter.dialect != "duckdb":
        raise MissingInEnvironment(
            f"export writes files with DuckDB's COPY: run it on the local (DuckDB) gateway,"
            f" not {context.engine_adapter.dialect}"
        )
    table_infos = environment_snapshots(context, environment)
    models = exported_models(context, environment)
    if not models:
        raise MissingInEnvironment(f"environment '{environment}' has no model in the {SCHEMA} schema")
    out = _output_folder(out)
    snapshots = context.state_reader.get_snapshots([table_infos[m] for m in models])
    with _private_folder(out) as staging:
        entries = [
            _export_model(context, environment, model, snapshots[table_infos[model].snapshot_id], file_format,
                          out / f"{model.split('.', 1)[1]}.{file_format}", staging, spreadsheet_safe)
            for model in models
        ]
        manifest = {
            "environment": environment,
            "format": file_format,
            "spreadsheet_safe": spreadsheet_safe,
            "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "as_of": _as_of(context, environment),
            "models": entries,
        }

        def write_manifest(path: Path) -> None:
            with open(path, "x", encoding="utf-8") as file:  # "x": a new file, never an existing one or a link
                file.write(json.dumps(manifest, indent=2) + "\n")

        _write_atomically(out / MANIFEST, staging, write_manifest)
    return manifest


def _as_of(context: Context, environment: str) -> str | None:
    """When the exported data describes (marts.report_status.as_of, UTC), ISO 8601; None for an environment
    built before that mart."""
    try:
        value = select_rows(context, "marts.report_status", environment, ("as_of",)).as_of.iloc[0]
    except MissingInEnvironment:
        return None
    return None if pd.isna(value) else pd.Timestamp(value).isoformat()


def _export_model(context, environment, model, snapshot, file_format, target, staging, spreadsheet_safe) -> dict:
    """Write `model` of `environment` to `target` (through the private folder `staging`); its manifest entry."""
    table = environment_table(context, model, environment)
    query = f"SELECT * FROM {table}"
    if snapshot.model.grains:  # a stable row order: a re-export of the same data gives the same file
        query += " ORDER BY " + ", ".join(column.sql("duckdb") for column in _grain_columns(snapshot.model.grains))
    columns = context.engine_adapter.fetchall(f"DESCRIBE {query}")
    if spreadsheet_safe:
        query = _formulas_as_text(query, columns)

    def copy(path: Path) -> int:
        copied = context.engine_adapter.fetchone(
            f"COPY ({query}) TO {exp.Literal.string(str(path)).sql()} {FORMATS[file_format]}"
        )
        return copied[0]  # DuckDB answers COPY with the number of rows written

    rows = _write_atomically(target, staging, copy)
    return {
        "model": model,
        "file": target.name,
        "version": snapshot.version,
        "fingerprint": snapshot.fingerprint.to_identifier(),
        "rows": int(rows),
        "columns": [{"name": name, "type": column_type} for name, column_type, *_ in columns],
        "sha256": sha256(target),
    }


def _formulas_as_text(query: str, columns: list) -> str:
    """`query` with each text cell that starts like a formula prefixed with an apostrophe (rows kept in order)."""
    starts = ", ".join(exp.Literal.string(start).sql("duckdb") for start in FORMULA_STARTS)
    apostrophe = exp.Literal.string("'").sql("duckdb")
    selected = []
    for name, column_type, *_ in columns:
        column = exp.to_identifier(name, quoted=True).sql("duckdb")
        if column_type == "VARCHAR":
            column = (
                f"CASE WHEN LEFT({column}, 1) IN ({starts}) THEN {apostrophe} || {column} ELSE {column} END AS {column}"
            )
        selected.append(column)
    return f"SELECT {', '.join(selected)} FROM ({query})"


def _grain_columns(grains: list[exp.Expression]) -> list[exp.Expression]:
    """A model's grain as columns (a grain may be a tuple of columns)."""
    return [column for grain in grains for column in (grain.expressions if isinstance(grain, exp.Tuple) else [grain])]


def _output_folder(out: Path | str) -> Path:
    """`out` as an existing folder (created if missing), or an ExportError saying what is wrong."""
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise ExportError(
            f"--out {out} is a file, not a folder: give a folder for the exported files (created if missing)"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExportError(f"cannot create the folder {out} ({error.strerror}): give another --out") from error
    return out


def _private_folder(out: Path) -> tempfile.TemporaryDirectory:
    """A new folder in `out` that only this process writes to (unique name, mode 0700), removed at the end."""
    try:
        return tempfile.TemporaryDirectory(dir=out, prefix=".export-")
    except OSError as error:
        raise ExportError(f"cannot write into the folder {out} ({error.strerror}): give another --out") from error


def _write_atomically(target: Path, staging: str, write):
    """write(a new path in the private folder `staging`), then rename it over target; returns what write returned."""
    temporary = Path(staging) / target.name
    try:
        result = write(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return result


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
