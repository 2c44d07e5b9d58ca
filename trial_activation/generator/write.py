"""Writing the log: one chunk's Arrow table (its unique events expanded by their copies, in the CSV
style's spellings or typed for Parquet), the CSV, Parquet and per-day Parquet writers, and `generate`."""

from __future__ import annotations

import datetime as dt
import gzip
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from trial_activation.generator.draw import Chunk, PlantedEffect, draw_chunk, org_ids
from trial_activation.generator.parameters import (
    ACTIVITIES,
    COLUMNS,
    CONVERTED_SPELLINGS,
    DAY,
    MEAN_ROWS_PER_ORG,
    ORGS_PER_CHUNK,
)


def _timestamps(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds.astype("datetime64[s]")).cast(pa.timestamp("us"))


def _timestamp_strings(seconds: np.ndarray, with_millis: np.ndarray | None) -> pa.Array:
    """``YYYY-MM-DD HH:MM:SS`` strings, with ``.000`` appended where ``with_millis``."""
    strings = pa.array(seconds.astype("datetime64[s]")).cast(pa.string())
    if with_millis is None:
        return strings
    return pc.if_else(pa.array(with_millis), pc.binary_join_element_wise(strings, ".000", ""), strings)


def _per_row(indices: np.ndarray, values: pa.Array) -> pa.DictionaryArray:
    """`values[indices]`, as a dictionary column (CSV writes it out in full)."""
    return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), values)


def chunk_table(chunk: Chunk, ids: list[str], seed: int, chunk_number: int, typed: bool, messy: bool) -> pa.Table:
    """Arrow table of one chunk: unique events expanded by their copies (adjacent, byte-identical)."""
    event_of_row = np.repeat(np.arange(len(chunk.time)), chunk.copies)
    if typed:
        return _typed_table(chunk, ids, event_of_row)
    return _text_table(chunk, ids, event_of_row, np.random.default_rng([seed, chunk_number, 1]), messy)


def _typed_table(chunk: Chunk, ids: list[str], event_of_row: np.ndarray) -> pa.Table:
    trials = chunk.trials
    org_of_row = pa.array(chunk.org[event_of_row])
    converted_at = np.where(trials.converted, trials.converted_at, 0)
    converted_at_column = pa.array(converted_at.astype("datetime64[s]"), mask=~trials.converted)
    converted_at_column = converted_at_column.cast(pa.timestamp("us"))
    org_columns = [pa.array(trials.converted), converted_at_column, _timestamps(trials.start), _timestamps(trials.end)]
    org_id, *org_columns = [column.take(org_of_row) for column in [pa.array(ids), *org_columns]]
    activity = pa.array(ACTIVITIES).take(pa.array(chunk.activity[event_of_row]))
    return pa.table([org_id, activity, _timestamps(chunk.time[event_of_row]), *org_columns], names=COLUMNS)


def _text_table(
    chunk: Chunk, ids: list[str], event_of_row: np.ndarray, spelling_rng: np.random.Generator, messy: bool
) -> pa.Table:
    """The CSV's columns as strings. `spelling_rng` (its own stream) only picks spellings, never data."""
    trials, orgs = chunk.trials, chunk.orgs
    org_of_row = chunk.org[event_of_row]
    spelling = spelling_rng.integers(0, 3, orgs) if messy else np.zeros(orgs, np.int64)
    org_millis = spelling_rng.random(orgs) < 0.5 if messy else None
    event_millis = spelling_rng.random(len(chunk.time)) < 0.5 if messy else None
    converted = [CONVERTED_SPELLINGS[int(value)][int(pick)] for value, pick in zip(trials.converted, spelling)]
    converted_at = np.where(trials.converted, trials.converted_at, 0)
    converted_at_strings = pc.if_else(pa.array(trials.converted), _timestamp_strings(converted_at, org_millis), None)
    columns = [
        _per_row(org_of_row, pa.array(ids)),
        _per_row(chunk.activity[event_of_row], pa.array(ACTIVITIES)),
        _timestamp_strings(chunk.time, event_millis).take(pa.array(event_of_row)),
        _per_row(org_of_row, pa.array(converted)),
        _per_row(org_of_row, converted_at_strings),
        _per_row(org_of_row, _timestamp_strings(trials.start, org_millis)),
        _per_row(org_of_row, _timestamp_strings(trials.end, org_millis)),
    ]
    return pa.table(columns, names=COLUMNS)


def infer_format(out: str | Path) -> str:
    name = str(out).lower()
    for ext, fmt in ((".csv.gz", "csv.gz"), (".csv", "csv"), (".parquet", "parquet")):
        if name.endswith(ext):
            return fmt
    raise ValueError(f"cannot infer the format of {out!r}: pass format='csv'|'csv.gz'|'parquet'")


class CsvWriter:
    ROWS_PER_WRITE = 1 << 18  # bounded buffers

    def __init__(self, path: Path, compress: bool):
        self.file = open(path, "wb")
        self.stream = self.file
        if compress:  # no file name and mtime 0 in the header: the same arguments give the same bytes
            self.stream = gzip.GzipFile(filename="", fileobj=self.file, mode="wb", compresslevel=6, mtime=0)
        self.stream.write((",".join(COLUMNS) + "\n").encode())
        self.options = pacsv.WriteOptions(include_header=False, quoting_style="none", batch_size=65536)

    def write(self, table: pa.Table) -> None:
        for offset in range(0, len(table), self.ROWS_PER_WRITE):
            buffer = pa.BufferOutputStream()
            pacsv.write_csv(table.slice(offset, self.ROWS_PER_WRITE), buffer, self.options)
            self.stream.write(buffer.getvalue())

    def close(self) -> None:
        self.stream.close()
        self.file.close()


class ParquetWriter:
    def __init__(self, path: Path):
        self.path, self.writer = path, None

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self.writer.write_table(table, row_group_size=1 << 20)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class DayPartitionedWriter:
    """Hive-style partitions: DIR/event_date=YYYY-MM-DD/part-0.parquet, by the event's date.

    Each chunk is split by day; the day slices are buffered up to BUFFER_ROWS rows in all, so that
    the per-day row groups are not tiny.
    """

    BUFFER_ROWS = 2_000_000

    def __init__(self, root: Path):
        self.root, self.writers, self.slices, self.buffered = root, {}, {}, 0

    def write(self, table: pa.Table) -> None:
        days = table.column("TIMESTAMP").cast(pa.timestamp("s")).cast(pa.int64()).to_numpy() // DAY
        order = np.argsort(days, kind="stable")  # keeps each org's events in time order
        table, days = table.take(pa.array(order)), days[order]
        bounds = np.flatnonzero(np.diff(days)) + 1
        for begin, end in zip(np.r_[0, bounds], np.r_[bounds, len(days)]):
            day = str(np.datetime64(int(days[begin]), "D"))
            self.slices.setdefault(day, []).append(table.slice(begin, end - begin))
        self.buffered += len(table)
        if self.buffered >= self.BUFFER_ROWS:
            self.flush()

    def flush(self) -> None:
        for day, slices in sorted(self.slices.items()):
            if day not in self.writers:
                folder = self.root / f"event_date={day}"
                folder.mkdir(parents=True, exist_ok=True)
                self.writers[day] = ParquetWriter(folder / "part-0.parquet")
            self.writers[day].write(pa.concat_tables(slices))
        self.slices, self.buffered = {}, 0

    def close(self) -> None:
        self.flush()
        for writer in self.writers.values():
            writer.close()


def generate(out: str | Path, orgs: int | None = None, seed: int = 42, *, events: int | None = None,
             format: str | None = None, start_date: str = "2024-01-01", cohort_days: int = 90,
             events_per_org_scale: float = 1.0, style: str = "messy",
             partition_by_day: bool = False, plant: PlantedEffect | None = None) -> dict:
    """Write a synthetic trial event log to ``out``; return summary stats.

    Give ``orgs`` or ``events`` (approximate total raw rows incl. duplicates). ``format`` defaults
    to the one implied by the extension; ``partition_by_day`` writes a directory of Parquet files.
    ``plant`` plants a known link between an activity and conversion (PlantedEffect; the events are
    the same as without it, only CONVERTED changes); the stats then count ``planted_orgs``.
    """
    if (orgs is None) == (events is None):
        raise ValueError("give exactly one of orgs= or events=")
    if style not in ("clean", "messy"):
        raise ValueError(f"style must be 'clean' or 'messy', not {style!r}")
    if orgs is None:
        orgs = max(1, round(events / (MEAN_ROWS_PER_ORG * events_per_org_scale)))
    out = Path(out)
    fmt = format or ("parquet" if partition_by_day else infer_format(out))
    writer = _open_writer(out, fmt, partition_by_day)
    first_start = int(dt.datetime.fromisoformat(start_date).replace(tzinfo=dt.timezone.utc).timestamp())
    stats = dict(orgs=orgs, rows=0, unique_rows=0, converted_orgs=0, format=fmt, path=str(out))
    began = time.perf_counter()
    try:
        # One writer thread: the next chunk is generated while the previous one is written.
        with ThreadPoolExecutor(max_workers=1) as pool:  # (exiting waits for the pending write)
            pending = None
            for chunk_number, first_org in enumerate(range(0, orgs, ORGS_PER_CHUNK)):
                chunk_orgs = min(ORGS_PER_CHUNK, orgs - first_org)
                chunk = draw_chunk(
                    seed, chunk_number, chunk_orgs, first_start, cohort_days, events_per_org_scale, plant
                )
                ids = org_ids(seed, first_org, chunk_orgs)
                table = chunk_table(chunk, ids, seed, chunk_number, fmt == "parquet", style == "messy")
                if pending is not None:
                    pending.result()
                pending = pool.submit(writer.write, table)
                stats["rows"] += int(chunk.copies.sum())
                stats["unique_rows"] += len(chunk.time)
                stats["converted_orgs"] += int(chunk.trials.converted.sum())
                if chunk.planted is not None:
                    stats["planted_orgs"] = stats.get("planted_orgs", 0) + int(chunk.planted.sum())
            if pending is not None:
                pending.result()
    finally:
        writer.close()
    stats["duplicate_rows"] = stats["rows"] - stats["unique_rows"]
    stats["seconds"] = round(time.perf_counter() - began, 3)
    if partition_by_day:
        stats["files"] = len(writer.writers)
    return stats


def _open_writer(out: Path, fmt: str, partition_by_day: bool) -> CsvWriter | ParquetWriter | DayPartitionedWriter:
    if partition_by_day and fmt != "parquet":
        raise ValueError("partition_by_day writes Parquet only")
    if partition_by_day:
        if out.exists() and any(out.iterdir()):
            raise FileExistsError(f"{out} is not empty")
        return DayPartitionedWriter(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return ParquetWriter(out) if fmt == "parquet" else CsvWriter(out, compress=fmt == "csv.gz")
