"""Deterministic generator of realistic synthetic trial event logs.

Writes the raw schema of the real export (one row per event; the org-level columns repeat on every
row of the org)::

    ORGANIZATION_ID,ACTIVITY_NAME,TIMESTAMP,CONVERTED,CONVERTED_AT,TRIAL_START,TRIAL_END

All parameters are calibrated against aggregate statistics of the real (deduplicated) log
``/work/shared/data/trial_events.csv.gz`` (966 orgs, 102,895 rows) and of its original export
(170,526 rows, ~40% exact duplicates); no row of it is used.

Model, per organisation (orgs are independent; generated in fixed chunks of 4,096 orgs, each chunk
from its own random stream, so memory stays bounded and output depends only on the arguments):

* **Trial**: start = ``start_date`` + a uniform day in ``cohort_days`` + a time of day drawn from
  the real hour-of-day profile; every trial lasts exactly 30 days.
* **Conversion**: converted with p = 0.21; ``CONVERTED_AT`` = start + N(30.5, 8.5) days clipped to
  [2, 60], so about half of the conversions happen after the trial ended.
* **Engagement**: an org is *retained* (keeps using the product after its first days) with
  p = 0.36 for converters and 0.22 for non-converters, and converters get 1.2x the volume: they
  have ~1.7x the mean events of the others (in the real log they are no more active; here they
  are, so that percentiles of converted orgs mean something). All orgs start on their first day
  (day 0 for 88%, else after a geometric delay). Retained orgs are then active on each later day
  with an org-level rate ~ Beta(1.2, 1.8); the others only come back on a few days right after
  the first one (p = 0.06, halving per day): ~64% of orgs are active on one day only.
* **Volume**: events on an active day = 1 + Poisson(lambda_org * day_noise * boost * trend);
  lambda_org and day_noise are lognormal (lambda higher for retained orgs); retained orgs get a
  setup boost on their first days and a per-org exponential trend over the trial. This yields the
  real heavy tail (per-org events P50 ~ 7-8, P90 ~ 270, mean ~ 110) and weekly profile (week 1
  ~2x the events of week 2 from ~4x the orgs; weeks 2-4 flat-ish, ~22% of orgs active in each).
* **Timing**: an active day's events come in sessions (a new session after each event with
  p = 1/8); sessions start at a time of day drawn from the real hour profile (on day 0, minutes
  after the trial start), events within a session are seconds to minutes apart (lognormal gaps).
  Timestamps are made strictly increasing within an org, so (org, timestamp) is unique before
  duplication. ~0.5% of events are moved just outside the trial window (hours after TRIAL_END
  for events of the last 3 days, or just before TRIAL_START for day-0 events).
* **Activity**: drawn from the real activity mix, split into the org's first active day
  ("setup": mostly Scheduling.Shift.Created) and later days ("usage": mostly
  Mobile.Schedule.Loaded); each org draws its own mixes ~ Dirichlet(8 * mix), which keeps the mean
  but makes orgs use a few features each (rare activities occur in few orgs).
* **Duplicates**: 37% of orgs are *duplicate-prone* (a systematic sample of the orgs ranked by
  volume, which halves the seed-to-seed spread of the duplicate share); in those, each
  Scheduling.Shift.Created event is re-emitted with p = 0.5 (other activities p = 0.006): once,
  or (p = 0.11) as a burst of log-uniform size, up to 512 copies in all. Copies are byte-identical
  and adjacent to their original. ~40% of the rows are exact duplicates, ~97% of them
  Scheduling.Shift.Created, in ~28% of the orgs.

Styles: ``clean`` writes ``True``/``False`` and ``YYYY-MM-DD HH:MM:SS``. ``messy`` (default; the
committed sample) spells CONVERTED as True/TRUE/true (False/FALSE/false) per org and adds a
``.000`` suffix to timestamps: per org for the org-level columns, per event for TIMESTAMP.
Duplicates stay byte-identical and an org's columns are spelled identically on all its rows. The
style only changes spellings, never the data; it does not apply to Parquet, which is typed
(timestamps as TIMESTAMP, CONVERTED as BOOLEAN).

Output is byte-identical for the same seed and arguments (gzip with mtime=0 and no file name).

CLI::

    python -m trial_activation.generate --orgs 300 --seed 42 --out data/sample/trial_events.csv.gz
    python -m trial_activation.generate --events 10000000 --seed 1 --out /tmp/ev.parquet --style clean
    python -m trial_activation.generate --orgs 5000 --seed 1 --out /tmp/days --partition-by-day

Python: ``generate(out, orgs=300, seed=42)`` (or ``events=``) returns a dict of counts (orgs, rows,
unique_rows, duplicate_rows, converted_orgs, seconds, ...).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

COLUMNS = ["ORGANIZATION_ID", "ACTIVITY_NAME", "TIMESTAMP", "CONVERTED", "CONVERTED_AT",
           "TRIAL_START", "TRIAL_END"]

# Events per activity in the real deduplicated log, on the trial's first day (day 0) and on later
# days. Used as the "setup" and "usage" activity mixes.
ACTIVITY_COUNTS = {
    # name: (day-0 events, later-day events)
    "Mobile.Schedule.Loaded": (3187, 46353),
    "Scheduling.Shift.Created": (7651, 24167),
    "Scheduling.Shift.AssignmentChanged": (1026, 6582),
    "PunchClock.PunchedIn": (138, 4695),
    "Scheduling.Shift.Approved": (375, 2175),
    "Communication.Message.Created": (162, 1414),
    "ShiftDetails.View.Opened": (10, 1423),
    "Scheduling.Availability.Set": (11, 1073),
    "Scheduling.Template.ApplyModal.Applied": (80, 388),
    "Absence.Request.Created": (10, 378),
    "Absence.Request.Approved": (9, 328),
    "Scheduling.OpenShiftRequest.Created": (14, 247),
    "Break.Activate.Started": (0, 161),
    "Break.Activate.Finished": (0, 159),
    "PunchClockEndNote.Add.Completed": (3, 133),
    "PunchClock.PunchedOut": (0, 123),
    "PunchClock.Entry.Edited": (0, 91),
    "PunchClockStartNote.Add.Completed": (2, 55),
    "Absence.Request.Rejected": (0, 52),
    "Timesheets.BulkApprove.Confirmed": (1, 48),
    "Scheduling.ShiftSwap.Created": (3, 28),
    "Integration.Xero.PayrollExport.Synced": (1, 30),
    "Revenue.Budgets.Created": (0, 30),
    "Scheduling.ShiftSwap.Accepted": (2, 26),
    "Scheduling.ShiftHandover.Created": (0, 21),
    "Scheduling.ShiftHandover.Accepted": (0, 21),
    "Scheduling.OpenShiftRequest.Approved": (0, 6),
    "Shift.View.Opened": (1, 2),
}
ACTIVITIES = list(ACTIVITY_COUNTS)
SHIFT_CREATED = ACTIVITIES.index("Scheduling.Shift.Created")

# Events per hour of day (00..23) in the real log; also used for the time of day of trial starts.
HOUR_COUNTS = [2505, 1743, 1222, 1264, 939, 812, 1256, 2107, 3954, 4747, 6138, 6146,
               7143, 7082, 7746, 6772, 6408, 5447, 5603, 4776, 5348, 5412, 4896, 3429]

DAY = 86_400
TRIAL_DAYS = 30
ORGS_PER_CHUNK = 4096  # fixed: part of the output's definition (per-chunk random streams)

# Org-level model parameters (see the module docstring). Calibrated by simulation so that the
# generated log matches the real one's aggregates (quoted in tests/python/test_generate.py).
P_CONVERT = 0.21
CONVERT_DAYS = (30.5, 8.5, 2.0, 60.0)  # mean, sd, min, max of CONVERTED_AT - TRIAL_START in days
P_RETAINED = (0.22, 0.36)  # (non-converter, converter)
P_FIRST_DAY_0 = 0.88       # real: 924 of 966 orgs active in week 1, 851 on day 0
FIRST_DAY_DELAY_P = 0.2    # otherwise first day ~ Geometric(0.2)
RETAINED_RATE = (1.2, 1.8)  # Beta(a, b): daily activity rate of retained orgs (real: ~12 days)
P_RETURN = 0.06            # non-retained: p(active on day first+k) = P_RETURN / 2**(k-1), k<=6
CONVERTER_INTENSITY = 1.2  # converters' volume multiplier (with P_RETAINED: ~1.7x mean events)
LAMBDA = {False: (np.log(3.0), 1.2), True: (np.log(12.0), 1.0)}  # lognormal(mu, sigma) per retained
DAY_NOISE_SIGMA = 0.6
TREND = (0.2, 0.8)         # retained: intensity *= exp(trend * day / 29), trend ~ N(mean, sd)
SETUP_BOOST = (1.5, 1.0)   # retained: intensity *= 1 + a * exp(-days_since_first_day / b)
MAX_EVENTS_PER_DAY = 3000
P_NEW_SESSION = 1 / 8      # real: ~7.8 events per session (sessions split at 30-minute gaps)
GAP_SECONDS = (np.log(16), 1.8, 1800)  # lognormal(mu, sigma) gaps within a session, capped
FIRST_SESSION_DELAY = 600  # mean seconds from trial start to the first event (real median ~6 min)
FIRST_DAY_SESSIONS = 3600  # mean seconds from the first to later sessions on the first day
P_AFTER_END = 0.03         # events of the last 3 trial days moved hours after TRIAL_END, and
P_BEFORE_START = 0.01      # events of day 0 moved just before TRIAL_START (~0.5% of all events)
P_DUP_ORG = 0.37           # duplicate-prone orgs (real: 266 of 966 orgs had duplicates)
P_DUP_EVENT = (0.006, 0.5)  # (other activities, Scheduling.Shift.Created) in duplicate-prone orgs
P_DUP_BURST = 0.11         # a duplicated event is a burst (log-uniform 2..512 copies) ...
MAX_COPIES = 512           # ... else a single extra copy. Real max multiplicity: 512
MIN_ACTIVITY_SHARE = 2e-4  # floor on the shares of both mixes: rare activities occur in mid-size logs
ACTIVITY_ALPHA = 8.0       # per-org mixes ~ Dirichlet(alpha * mix): same mean, orgs specialise

# Mean raw rows (incl. duplicates) per org at scale 1, measured on ~200,000 generated orgs
# (4 seeds); turns --events into a number of orgs (heavy tail: rows land within ~5-10%).
MEAN_ROWS_PER_ORG = 199.6

CONVERTED_SPELLINGS = [("False", "FALSE", "false"), ("True", "TRUE", "true")]


def org_ids(seed: int, start: int, n: int) -> list[str]:
    """32-hex-char organisation ids, a pure function of (seed, org index)."""
    return [hashlib.md5(f"trial-org:{seed}:{i}".encode()).hexdigest() for i in range(start, start + n)]


def _hour_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Times of day (seconds) following the real hour-of-day profile."""
    p = np.asarray(HOUR_COUNTS, float)
    return rng.choice(24, size=n, p=p / p.sum()) * 3600 + rng.integers(0, 3600, n)


def _group_starts(sizes: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)


def _chunk(seed: int, chunk: int, n: int, t0: int, cohort_days: int, scale: float) -> dict:
    """Draw the orgs and unique events of one chunk. Returns numpy arrays (times in epoch s)."""
    rng = np.random.default_rng([seed, chunk, 0])
    # --- orgs
    start = t0 + rng.integers(0, cohort_days, n) * DAY + _hour_seconds(rng, n)
    end = start + TRIAL_DAYS * DAY
    converted = rng.random(n) < P_CONVERT
    mu, sd, lo, hi = CONVERT_DAYS
    conv_at = start + (np.clip(rng.normal(mu, sd, n), lo, hi) * DAY).astype(np.int64)
    retained = rng.random(n) < np.where(converted, P_RETAINED[1], P_RETAINED[0])
    first = np.where(rng.random(n) < P_FIRST_DAY_0, 0,
                     np.minimum(rng.geometric(FIRST_DAY_DELAY_P, n), TRIAL_DAYS - 1))
    # --- active days (n x 30) and events per active day
    d = np.arange(TRIAL_DAYS)[None, :]
    k = d - first[:, None]
    rate = rng.beta(*RETAINED_RATE, n)[:, None]
    p_back = np.where(retained[:, None], rate,
                      np.where((k >= 1) & (k <= 6), P_RETURN / 2.0 ** (k - 1).clip(0), 0.0))
    active = (k == 0) | ((k > 0) & (rng.random((n, TRIAL_DAYS)) < p_back))
    lam = np.where(retained, rng.lognormal(LAMBDA[True][0], LAMBDA[True][1], n),
                   rng.lognormal(LAMBDA[False][0], LAMBDA[False][1], n))
    trend = np.where(retained, rng.normal(*TREND, n), 0.0)
    lam *= np.where(converted, CONVERTER_INTENSITY, 1.0)
    mean = (scale * lam[:, None] * np.exp(trend[:, None] * d / (TRIAL_DAYS - 1))
            * (1 + retained[:, None] * SETUP_BOOST[0] * np.exp(-k.clip(0) / SETUP_BOOST[1]))
            * rng.lognormal(0.0, DAY_NOISE_SIGMA, (n, TRIAL_DAYS)))
    counts = np.where(active, 1 + rng.poisson(np.minimum(mean, MAX_EVENTS_PER_DAY)), 0)
    org_of_day, day_of_day = np.nonzero(counts)  # (org, day) pairs, org-major
    per_day = counts[org_of_day, day_of_day]
    # --- events: org, day, session timing
    m = int(per_day.sum())
    org = np.repeat(org_of_day, per_day)
    day = np.repeat(day_of_day, per_day)
    pos = np.arange(m) - np.repeat(_group_starts(per_day), per_day)
    new_session = (pos == 0) | (rng.random(m) < P_NEW_SESSION)
    sess = np.cumsum(new_session) - 1
    s_org, s_day, s_pos = org[new_session], day[new_session], pos[new_session]
    tod = start[s_org] % DAY
    s_off = np.where(s_day == 0,  # day 0: the first session soon after the trial start
                     rng.exponential(FIRST_SESSION_DELAY, len(s_org))
                     + (s_pos > 0) * rng.exponential(FIRST_DAY_SESSIONS, len(s_org)),
                     (_hour_seconds(rng, len(s_org)) - tod) % DAY).astype(np.int64)
    gmu, gsig, gcap = GAP_SECONDS
    gap = np.where(new_session, 0, np.clip(rng.lognormal(gmu, gsig, m), 1, gcap).astype(np.int64))
    csum = np.cumsum(gap)
    first_of_sess = np.flatnonzero(new_session)
    in_sess = csum - csum[first_of_sess][sess]
    s_len = np.maximum.reduceat(in_sess, first_of_sess)
    s_off = np.clip(s_off, 0, DAY - 1 - s_len)  # a session ends within its trial day
    ts = np.minimum(start[org] + day * DAY + s_off[sess] + in_sess, end[org])
    # --- activity: setup mix on the first active day, usage mix after, times org preferences
    base = np.array(list(ACTIVITY_COUNTS.values()), float).T  # (2, 28)
    base = np.maximum(base / base.sum(axis=1, keepdims=True), MIN_ACTIVITY_SHARE)
    w = rng.gamma(ACTIVITY_ALPHA * base[None, :, :], 1.0, (n, 2, len(ACTIVITIES))) + 1e-12
    w = np.cumsum(w, axis=2)
    w /= w[:, :, -1:]
    w[:, :, -1] = 1.0
    row = org * 2 + (day != first[org])
    flat = (w.reshape(-1, len(ACTIVITIES)) + np.arange(2 * n)[:, None]).ravel()
    act = np.searchsorted(flat, row + rng.random(m), side="right") - row * len(ACTIVITIES)
    act = np.minimum(act, len(ACTIVITIES) - 1).astype(np.int8)
    # --- a few events just outside the trial window
    u = rng.random(m)
    after = (day >= TRIAL_DAYS - 3) & (u < P_AFTER_END)
    before = (day == 0) & (u < P_BEFORE_START)
    shift = 1 + np.minimum(rng.exponential(np.where(before, 3600, 6 * 3600)), 3 * DAY).astype(np.int64)
    ts = np.where(after, end[org] + shift, np.where(before, start[org] - shift, ts))
    # --- order by (org, ts); make ts strictly increasing within an org
    order = np.lexsort((ts, org))
    org, ts, act = org[order], ts[order], act[order]
    idx = np.arange(m)
    big = np.int64(1) << 36
    ts = np.maximum.accumulate(org * big + ts - idx) - org * big + idx
    # --- duplicates: copies per unique event (1 = no duplicate)
    # duplicate-prone orgs: a systematic sample of the orgs ranked by volume, so that the
    # duplicate share does not hinge on whether a few giant orgs happen to be drawn
    grid = np.floor(np.arange(n + 1) * P_DUP_ORG + rng.random())
    prone = np.empty(n, bool)
    prone[np.argsort(np.bincount(org, minlength=n), kind="stable")] = np.diff(grid) > 0
    p_dup = np.where(act == SHIFT_CREATED, P_DUP_EVENT[1], P_DUP_EVENT[0]) * prone[org]
    burst = np.exp(rng.uniform(np.log(2), np.log(MAX_COPIES + 1), m)).astype(np.int64)
    copies = np.where(rng.random(m) < p_dup,
                      np.where(rng.random(m) < P_DUP_BURST, np.minimum(burst, MAX_COPIES), 2), 1)
    return dict(n=n, start=start, end=end, converted=converted, conv_at=conv_at,
                org=org, ts=ts, act=act, copies=copies)


def _ts(a: np.ndarray) -> pa.Array:
    return pa.array(a.astype("datetime64[s]")).cast(pa.timestamp("us"))


def _ts_str(a: np.ndarray, suffix: np.ndarray | None) -> pa.Array:
    """``YYYY-MM-DD HH:MM:SS`` strings, with ``.000`` appended where ``suffix``."""
    s = pa.array(a.astype("datetime64[s]")).cast(pa.string())
    if suffix is None:
        return s
    return pc.if_else(pa.array(suffix), pc.binary_join_element_wise(s, ".000", ""), s)


def _table(c: dict, ids: list[str], seed: int, chunk: int, typed: bool, messy: bool) -> pa.Table:
    """Arrow table of one chunk: unique events expanded by their copies."""
    rows = np.repeat(np.arange(len(c["ts"])), c["copies"])
    org = c["org"][rows]
    dictcol = lambda idx, values: pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()), values)
    conv_at = np.where(c["converted"], c["conv_at"], 0)
    if typed:
        conv_at_col = pa.array(conv_at.astype("datetime64[s]"), mask=~c["converted"]).cast(pa.timestamp("us"))
        per_org = [pa.array(ids), pa.array(c["converted"]), conv_at_col, _ts(c["start"]), _ts(c["end"])]
        per_org = [col.take(pa.array(org)) for col in per_org]
        cols = per_org[:1] + [pa.array(ACTIVITIES).take(pa.array(c["act"][rows])), _ts(c["ts"][rows])] + per_org[1:]
        return pa.table(cols, names=COLUMNS)
    n = c["n"]
    srng = np.random.default_rng([seed, chunk, 1])  # spelling only: never changes the data
    spell = srng.integers(0, 3, n) if messy else np.zeros(n, np.int64)
    org_suffix = srng.random(n) < 0.5 if messy else None
    ev_suffix = srng.random(len(c["ts"])) < 0.5 if messy else None
    conv_str = [CONVERTED_SPELLINGS[int(v)][int(s)] for v, s in zip(c["converted"], spell)]
    conv_at_str = pc.if_else(pa.array(c["converted"]), _ts_str(conv_at, org_suffix), None)
    cols = [dictcol(org, pa.array(ids)), dictcol(c["act"][rows], pa.array(ACTIVITIES)),
            _ts_str(c["ts"], ev_suffix).take(pa.array(rows)),
            dictcol(org, pa.array(conv_str)), dictcol(org, conv_at_str),
            dictcol(org, _ts_str(c["start"], org_suffix)), dictcol(org, _ts_str(c["end"], org_suffix))]
    return pa.table(cols, names=COLUMNS)


def infer_format(out: str | Path) -> str:
    name = str(out).lower()
    for ext, fmt in ((".csv.gz", "csv.gz"), (".csv", "csv"), (".parquet", "parquet")):
        if name.endswith(ext):
            return fmt
    raise ValueError(f"cannot infer the format of {out!r}: pass format='csv'|'csv.gz'|'parquet'")


class _CsvSink:
    def __init__(self, path: Path, compress: bool):
        self.raw = open(path, "wb")
        self.f = gzip.GzipFile(filename="", fileobj=self.raw, mode="wb", compresslevel=6, mtime=0) \
            if compress else self.raw
        self.f.write((",".join(COLUMNS) + "\n").encode())
        self.opts = pacsv.WriteOptions(include_header=False, quoting_style="none", batch_size=65536)

    def write(self, t: pa.Table) -> None:
        for offset in range(0, len(t), 1 << 18):  # bounded buffers
            buf = pa.BufferOutputStream()
            pacsv.write_csv(t.slice(offset, 1 << 18), buf, self.opts)
            self.f.write(buf.getvalue())

    def close(self) -> None:
        self.f.close()
        self.raw.close()


class _ParquetSink:
    def __init__(self, path: Path):
        self.path, self.w = path, None

    def write(self, t: pa.Table) -> None:
        if self.w is None:
            self.w = pq.ParquetWriter(self.path, t.schema, compression="zstd")
        self.w.write_table(t, row_group_size=1 << 20)

    def close(self) -> None:
        if self.w is not None:
            self.w.close()


class _DaySink:
    """Hive-style partitions: DIR/event_date=YYYY-MM-DD/part-0.parquet, by the event's date.

    Each chunk is split by day; the day slices are buffered up to BUFFER_ROWS rows in all, so that
    the per-day row groups are not tiny.
    """

    BUFFER_ROWS = 2_000_000

    def __init__(self, root: Path):
        self.root, self.sinks, self.slices, self.buffered = root, {}, {}, 0

    def write(self, t: pa.Table) -> None:
        days = t.column("TIMESTAMP").cast(pa.timestamp("s")).cast(pa.int64()).to_numpy() // DAY
        order = np.argsort(days, kind="stable")  # keeps each org's events in time order
        t, days = t.take(pa.array(order)), days[order]
        bounds = np.flatnonzero(np.diff(days)) + 1
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(days)]):
            self.slices.setdefault(str(np.datetime64(int(days[lo]), "D")), []).append(t.slice(lo, hi - lo))
        self.buffered += len(t)
        if self.buffered >= self.BUFFER_ROWS:
            self.flush()

    def flush(self) -> None:
        for day, slices in sorted(self.slices.items()):
            if day not in self.sinks:
                d = self.root / f"event_date={day}"
                d.mkdir(parents=True, exist_ok=True)
                self.sinks[day] = _ParquetSink(d / "part-0.parquet")
            self.sinks[day].write(pa.concat_tables(slices))
        self.slices, self.buffered = {}, 0

    def close(self) -> None:
        self.flush()
        for s in self.sinks.values():
            s.close()


def generate(out: str | Path, orgs: int | None = None, seed: int = 42, *, events: int | None = None,
             format: str | None = None, start_date: str = "2024-01-01", cohort_days: int = 90,
             events_per_org_scale: float = 1.0, style: str = "messy",
             partition_by_day: bool = False) -> dict:
    """Write a synthetic trial event log to ``out``; return summary stats.

    Give ``orgs`` or ``events`` (approximate total raw rows incl. duplicates). ``format`` defaults
    to the one implied by the extension; ``partition_by_day`` writes a directory of Parquet files.
    """
    if (orgs is None) == (events is None):
        raise ValueError("give exactly one of orgs= or events=")
    if style not in ("clean", "messy"):
        raise ValueError(f"style must be 'clean' or 'messy', not {style!r}")
    if orgs is None:
        orgs = max(1, round(events / (MEAN_ROWS_PER_ORG * events_per_org_scale)))
    out = Path(out)
    fmt = format or ("parquet" if partition_by_day else infer_format(out))
    if partition_by_day and fmt != "parquet":
        raise ValueError("partition_by_day writes Parquet only")
    if partition_by_day:
        if out.exists() and any(out.iterdir()):
            raise FileExistsError(f"{out} is not empty")
        sink = _DaySink(out)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        sink = _ParquetSink(out) if fmt == "parquet" else _CsvSink(out, compress=fmt == "csv.gz")
    t0 = int(dt.datetime.fromisoformat(start_date).replace(tzinfo=dt.timezone.utc).timestamp())
    stats = dict(orgs=orgs, rows=0, unique_rows=0, converted_orgs=0, format=fmt, path=str(out))
    began = time.perf_counter()
    try:
        # One writer thread: the next chunk is generated while the previous one is written.
        with ThreadPoolExecutor(max_workers=1) as pool:  # (exiting waits for the pending write)
            pending = None
            for chunk, first in enumerate(range(0, orgs, ORGS_PER_CHUNK)):
                n = min(ORGS_PER_CHUNK, orgs - first)
                c = _chunk(seed, chunk, n, t0, cohort_days, events_per_org_scale)
                table = _table(c, org_ids(seed, first, n), seed, chunk, fmt == "parquet", style == "messy")
                if pending is not None:
                    pending.result()
                pending = pool.submit(sink.write, table)
                stats["rows"] += int(c["copies"].sum())
                stats["unique_rows"] += len(c["ts"])
                stats["converted_orgs"] += int(c["converted"].sum())
            if pending is not None:
                pending.result()
    finally:
        sink.close()
    stats["duplicate_rows"] = stats["rows"] - stats["unique_rows"]
    stats["seconds"] = round(time.perf_counter() - began, 3)
    if partition_by_day:
        stats["files"] = len(sink.sinks)
    return stats


def main(argv: list[str] | None = None, prog: str = "python -m trial_activation.generate") -> int:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    size = p.add_mutually_exclusive_group(required=True)
    size.add_argument("--orgs", type=int, help="number of organisations")
    size.add_argument("--events", type=int, help="approximate total rows incl. duplicates (sets --orgs)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", required=True, help="output file (.csv, .csv.gz, .parquet) or directory")
    p.add_argument("--format", choices=["csv", "csv.gz", "parquet"], help="default: from the extension")
    p.add_argument("--start-date", default="2024-01-01", help="first possible trial start (UTC)")
    p.add_argument("--cohort-days", type=int, default=90, help="trial starts spread over this many days")
    p.add_argument("--events-per-org-scale", type=float, default=1.0, help="multiplies activity volume")
    p.add_argument("--style", choices=["clean", "messy"], default="messy", help="CSV spellings (see docs)")
    p.add_argument("--partition-by-day", action="store_true",
                   help="write DIR/event_date=YYYY-MM-DD/part-0.parquet by event date")
    a = p.parse_args(argv)
    stats = generate(a.out, a.orgs, a.seed, events=a.events, format=a.format, start_date=a.start_date,
                     cohort_days=a.cohort_days, events_per_org_scale=a.events_per_org_scale,
                     style=a.style, partition_by_day=a.partition_by_day)
    print(" ".join(f"{k}={v}" for k, v in stats.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
