"""Every mart of an environment written to files for the rest of the warehouse, plus a manifest.

    trial-activation export [-e ENV] --format csv|parquet --out DIR

The marts are the environment's models in the `marts` schema, read from SQLMesh's state (so the
insight marts are exported by any environment that has them). Each is written by the engine itself
(DuckDB `COPY`, rows in grain order) to `DIR/<name>.<format>`, then `DIR/manifest.json` lists the
environment, each model's version, row count, columns and types, and the file's SHA-256.

Each file is written under a temporary name in DIR and renamed over the old one (os.replace, atomic on
one file system), so a reader of DIR sees either the previous export of a file or the new one, never
a half-written file. The manifest is replaced last.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from sqlglot import exp
from sqlmesh import Context
from sqlmesh.core.model.kind import ModelKindName

from trial_activation.project import MissingInEnvironment, environment_snapshots, environment_table

SCHEMA = "marts"
FORMATS = {"csv": "(FORMAT csv, HEADER true)", "parquet": "(FORMAT parquet)"}
MANIFEST = "manifest.json"


def exported_models(context: Context, environment: str) -> list[str]:
    """The models of the marts schema in `environment`, sorted."""
    snapshots = environment_snapshots(context, environment)
    return sorted(
        name
        for name, snapshot in snapshots.items()
        if name.startswith(f"{SCHEMA}.")
        and snapshot.kind_name not in (ModelKindName.EMBEDDED, ModelKindName.EXTERNAL)
    )


def export_marts(context: Context, environment: str, file_format: str, out: Path | str) -> dict:
    """Write every mart of `environment` and the manifest into `out`; returns the manifest."""
    if file_format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {file_format!r}")
    if context.engine_adapter.dialect != "duckdb":
        raise MissingInEnvironment(
            f"export writes files with DuckDB's COPY: run it on the local (DuckDB) gateway,"
            f" not {context.engine_adapter.dialect}"
        )
    table_infos = environment_snapshots(context, environment)
    models = exported_models(context, environment)
    if not models:
        raise MissingInEnvironment(f"environment '{environment}' has no model in the {SCHEMA} schema")
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    snapshots = context.state_reader.get_snapshots([table_infos[m] for m in models])
    entries = []
    for model in models:
        snapshot = snapshots[table_infos[model].snapshot_id]
        table = environment_table(context, model, environment)
        target = out / f"{model.split('.', 1)[1]}.{file_format}"
        query = f"SELECT * FROM {table}"
        if snapshot.model.grains:  # a stable row order: a re-export of the same data gives the same file
            query += " ORDER BY " + ", ".join(column.sql("duckdb") for column in _grain_columns(snapshot.model.grains))
        columns = context.engine_adapter.fetchall(f"DESCRIBE {query}")

        def copy(path: Path, query: str = query) -> int:
            copied = context.engine_adapter.fetchone(
                f"COPY ({query}) TO {exp.Literal.string(str(path)).sql()} {FORMATS[file_format]}"
            )
            return copied[0]  # DuckDB answers COPY with the number of rows written

        rows = _write_atomically(target, copy)
        entries.append(
            {
                "model": model,
                "file": target.name,
                "version": snapshot.version,
                "fingerprint": snapshot.fingerprint.to_identifier(),
                "rows": int(rows),
                "columns": [{"name": name, "type": column_type} for name, column_type, *_ in columns],
                "sha256": sha256(target),
            }
        )
    manifest = {
        "environment": environment,
        "format": file_format,
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "models": entries,
    }
    _write_atomically(out / MANIFEST, lambda path: Path(path).write_text(json.dumps(manifest, indent=2) + "\n"))
    return manifest


def _grain_columns(grains: list[exp.Expression]) -> list[exp.Expression]:
    """A model's grain as columns (a grain may be a tuple of columns)."""
    return [column for grain in grains for column in (grain.expressions if isinstance(grain, exp.Tuple) else [grain])]


def _write_atomically(target: Path, write):
    """write(temporary path) in target's folder, then rename it over target; returns what write returned."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
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
