"""Tests of the synthetic trial-event-log generator (trial_activation/generator/).

Distribution targets come from the real log /work/shared/data/README.md describes (deduplicated
copy: 102,895 rows, 966 orgs; original export: 170,526 rows with 67,631 exact duplicates). The
tolerances are about 2 standard deviations of the seed-to-seed variation of a 2,000-org log
(measured over 12 seeds), so they hold for most seeds, not only for the one used here.
"""

import gzip
import re
from pathlib import Path

import duckdb
import pytest

from trial_activation.generator import ACTIVITIES, COLUMNS, generate, main

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample" / "trial_events.csv.gz"
# The documented command that produced the committed sample (see the module docstring).
SAMPLE_ARGS = ["--orgs", "300", "--seed", "42", "--out", "data/sample/trial_events.csv.gz"]

N_ORGS, SEED = 2000, 7

# Activity shares (of deduplicated events) in the real log, e.g. 49,540 / 102,895.
REAL_TOP_SHARES = {
    "Mobile.Schedule.Loaded": 0.481,
    "Scheduling.Shift.Created": 0.309,
    "Scheduling.Shift.AssignmentChanged": 0.074,
    "PunchClock.PunchedIn": 0.047,
    "Scheduling.Shift.Approved": 0.025,
}
SHARE_TOL = 0.05          # absolute, for the two big ones (seed-to-seed sd ~0.013)
SHARE_REL_TOL = 0.35      # relative, for the smaller ones (sd ~10% of the share)
DUP_SHARE = (0.40, 0.05)  # real: 67,631 of 170,526 rows were exact duplicates
DUP_ON_SHIFT_CREATED = 0.90  # real: 65,077 of 67,631 duplicates (96%) were Scheduling.Shift.Created
DUP_ORG_SHARE = (0.27, 0.06)  # real: 266 of 966 orgs had duplicates
MAX_MULTIPLICITY = 512    # real: an (org, activity, timestamp) appeared up to 512 times
CONVERTED = (0.21, 0.04)  # real: 206 of 966 orgs converted
LATE_CONVERSIONS = (0.5, 0.15)  # real: 107 of 206 conversions after TRIAL_END
OUTSIDE_TRIAL = (0.002, 0.01)   # our choice (real: none): ~0.5% of events outside the trial window
# Real weekly profile: week 1 33,215 events from 924 orgs, week 2 16,403 from 206 orgs.
WEEK1_OVER_WEEK2_EVENTS = 1.4   # real ratio 2.0
WEEK1_OVER_WEEK2_ORGS = 3.0     # real ratio 4.5
ACTIVE_WEEK2_ORGS = (0.15, 0.32)  # real: 206 of 966 = 21%
# Not in the real log (there converters are no more active): required so that percentile
# thresholds of converted orgs mean something.
CONVERTER_MEAN_RATIO = 1.3
CONVERTER_RETENTION_GAP = 0.05  # share of orgs active in weeks 2-4, converters minus others


def _load(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """raw: the file as text; ev: its distinct events, typed."""
    con.execute(f"create or replace table raw as select * from read_csv('{path}', header=true, all_varchar=true)")
    con.execute("""create or replace table ev as select distinct ORGANIZATION_ID o, ACTIVITY_NAME a,
        TIMESTAMP::timestamp ts, CONVERTED::boolean c, CONVERTED_AT::timestamp ca,
        TRIAL_START::timestamp s, TRIAL_END::timestamp te from raw""")
    con.execute("""create or replace table org as select o, any_value(c) c, any_value(ca) ca, any_value(te) te,
        count(*) n,
        count(*) filter (where ts < s + interval 7 day) w1,
        count(*) filter (where ts >= s + interval 7 day and ts < s + interval 14 day) w2,
        count(*) filter (where ts >= s + interval 7 day and ts < s + interval 28 day) w2_4
        from ev group by o""")


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    d = tmp_path_factory.mktemp("gen")
    stats = generate(d / "log.csv.gz", orgs=N_ORGS, seed=SEED)
    generate(d / "log.parquet", orgs=N_ORGS, seed=SEED)
    con = duckdb.connect()
    _load(con, d / "log.csv.gz")
    return con, d, stats


def one(con, sql):
    return con.execute(sql).fetchone()[0]


def test_schema_and_spellings(log):
    con, d, stats = log
    with gzip.open(d / "log.csv.gz", "rt") as f:
        assert f.readline().rstrip("\n") == ",".join(COLUMNS)
    assert one(con, "select count(*) from raw") == stats["rows"]
    assert one(con, "select count(distinct ORGANIZATION_ID) from raw") == N_ORGS
    assert one(con, "select bool_and(regexp_full_match(ORGANIZATION_ID, '[0-9a-f]{32}')) from raw")
    ts = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.000)?"
    for col in ("TIMESTAMP", "TRIAL_START", "TRIAL_END", "CONVERTED_AT"):
        assert one(con, f"select bool_and(regexp_full_match({col}, '{ts}')) from raw where {col} is not null")
    # messy style: all spellings occur, each org spells its org-level columns one way only
    assert {r[0] for r in con.execute("select distinct CONVERTED from raw").fetchall()} == {
        "True", "TRUE", "true", "False", "FALSE", "false"}
    assert one(con, "select count(*) filter (where TIMESTAMP like '%.000') / count(*) from raw") > 0.2
    assert one(con, """select max(k) from (select count(distinct (CONVERTED, coalesce(CONVERTED_AT, ''),
        TRIAL_START, TRIAL_END)) k from raw group by ORGANIZATION_ID)""") == 1
    assert one(con, "select bool_and((c and ca is not null) or (not c and ca is null)) from ev")
    # every trial lasts exactly 30 days
    assert one(con, "select bool_and(te = s + interval 30 day) from ev")
    # duplicates are exact: two raw rows are the same event only if they are byte-identical
    assert one(con, "select count(*) from (select distinct * from raw)") == one(con, "select count(*) from ev")


def test_activity_mix(log):
    con, _, _ = log
    shares = dict(con.execute("select a, count(*) / (select count(*) from ev) from ev group by a").fetchall())
    assert set(shares) == set(ACTIVITIES) and len(ACTIVITIES) == 28
    for name, real in REAL_TOP_SHARES.items():
        tol = SHARE_TOL if real > 0.1 else SHARE_REL_TOL * real
        assert abs(shares[name] - real) <= tol, (name, shares[name], real)


def test_duplicates(log):
    con, _, stats = log
    dup_share = 1 - one(con, "select count(*) from (select distinct * from raw)") / one(con, "select count(*) from raw")
    assert abs(dup_share - DUP_SHARE[0]) <= DUP_SHARE[1], dup_share
    assert stats["duplicate_rows"] == one(con, "select count(*) from raw") - one(con, "select count(*) from ev")
    con.execute("create or replace temp table mult as select *, count(*) k from raw group by all")
    on_sc = one(con, "select sum(k - 1) filter (where ACTIVITY_NAME = 'Scheduling.Shift.Created') / sum(k - 1) from mult")
    assert on_sc >= DUP_ON_SHIFT_CREATED, on_sc
    org_share = one(con, f"select count(distinct ORGANIZATION_ID) filter (where k > 1) / {N_ORGS} from mult")
    assert abs(org_share - DUP_ORG_SHARE[0]) <= DUP_ORG_SHARE[1], org_share
    assert 64 < one(con, "select max(k) from mult") <= MAX_MULTIPLICITY


def test_conversion(log):
    con, _, _ = log
    conv = one(con, "select avg(c::int) from org")
    assert abs(conv - CONVERTED[0]) <= CONVERTED[1], conv
    late = one(con, "select avg((ca > te)::int) from org where c")
    assert abs(late - LATE_CONVERSIONS[0]) <= LATE_CONVERSIONS[1], late
    assert one(con, "select bool_and(ca > s and ca <= te + interval 31 day) from ev where c")


def test_weekly_decay_and_outside_events(log):
    con, _, _ = log
    w1, w2, o1, o2 = con.execute(
        "select sum(w1), sum(w2), count(*) filter (where w1 > 0), count(*) filter (where w2 > 0) from org").fetchone()
    assert w1 > WEEK1_OVER_WEEK2_EVENTS * w2, (w1, w2)
    assert o1 > WEEK1_OVER_WEEK2_ORGS * o2, (o1, o2)
    assert ACTIVE_WEEK2_ORGS[0] <= o2 / N_ORGS <= ACTIVE_WEEK2_ORGS[1]
    # heavy tail: median org small, mean dominated by a few heavy users
    p50, p90, mean = con.execute("select median(n), quantile_cont(n, 0.9), avg(n) from org").fetchone()
    assert p50 <= 20 and p90 > 100 and mean > 3 * p50
    outside = one(con, "select avg((ts < s or ts > te)::int) from ev")
    assert OUTSIDE_TRIAL[0] <= outside <= OUTSIDE_TRIAL[1], outside
    assert one(con, "select max(epoch(ts) - epoch(te)) / 86400 from ev") <= 4  # only slightly outside


def test_converters_more_active(log):
    con, _, _ = log
    ratio, gap = con.execute("""select avg(n) filter (where c) / avg(n) filter (where not c),
        avg((w2_4 > 0)::int) filter (where c) - avg((w2_4 > 0)::int) filter (where not c) from org""").fetchone()
    assert ratio >= CONVERTER_MEAN_RATIO, ratio
    assert gap >= CONVERTER_RETENTION_GAP, gap


def test_events_time_ordered_within_org(log):
    con, _, _ = log
    con.execute("create or replace temp table seq as select ORGANIZATION_ID o, TIMESTAMP::timestamp ts, "
                "row_number() over () i from raw")
    assert one(con, """select count(*) from (select ts < lag(ts) over (partition by o order by i) back
        from seq) where back""") == 0


def test_parquet_carries_the_same_rows(log):
    con, d, _ = log
    diff = """select count(*) from (select * from ({a}) except all select * from ({b}))"""
    csv = """select ORGANIZATION_ID, ACTIVITY_NAME, TIMESTAMP::timestamp, CONVERTED::boolean,
             CONVERTED_AT::timestamp, TRIAL_START::timestamp, TRIAL_END::timestamp from raw"""
    pq = f"select * from '{d / 'log.parquet'}'"
    assert one(con, f"select count(*) from ({pq})") == one(con, "select count(*) from raw")
    assert one(con, diff.format(a=csv, b=pq)) == 0
    assert one(con, diff.format(a=pq, b=csv)) == 0
    types = dict(con.execute(f"select column_name, column_type from (describe {pq})").fetchall())
    assert types["TIMESTAMP"] == "TIMESTAMP" and types["CONVERTED"] == "BOOLEAN"


def test_partition_by_day(tmp_path):
    generate(tmp_path / "one.parquet", orgs=300, seed=3)
    stats = generate(tmp_path / "days", orgs=300, seed=3, partition_by_day=True)
    files = sorted((tmp_path / "days").glob("event_date=*/part-0.parquet"))
    assert len(files) == stats["files"] > 90
    con = duckdb.connect()
    days = f"read_parquet('{tmp_path / 'days'}/*/*.parquet', hive_partitioning=true)"
    assert one(con, f"select bool_and(TIMESTAMP::date = event_date) from {days}")
    a, b = f"select * exclude (event_date) from {days}", f"select * from '{tmp_path / 'one.parquet'}'"
    assert one(con, f"select count(*) from ({a} except all {b})") == 0
    assert one(con, f"select count(*) from ({b} except all {a})") == 0


def test_deterministic(tmp_path):
    for ext in ("csv.gz", "parquet"):
        a, b, c = (tmp_path / f"{name}.{ext}" for name in "abc")
        generate(a, orgs=200, seed=5)
        generate(b, orgs=200, seed=5)
        generate(c, orgs=200, seed=6)
        assert a.read_bytes() == b.read_bytes()
        assert a.read_bytes() != c.read_bytes()


def test_clean_style_same_data(tmp_path):
    generate(tmp_path / "m.csv", orgs=200, seed=5, style="messy")
    generate(tmp_path / "c.csv", orgs=200, seed=5, style="clean")
    clean = (tmp_path / "c.csv").read_text()
    assert re.sub(r"\.000", "", (tmp_path / "m.csv").read_text()).lower() == clean.lower()
    assert ".000" not in clean and "TRUE" not in clean and "false" not in clean


def test_cohort_window(tmp_path):
    generate(tmp_path / "w.parquet", orgs=300, seed=1, start_date="2024-06-01", cohort_days=10)
    lo, hi = duckdb.sql(f"select min(TRIAL_START), max(TRIAL_START) from '{tmp_path / 'w.parquet'}'").fetchone()
    assert str(lo) >= "2024-06-01" and str(hi) < "2024-06-11"


def test_events_target(tmp_path):
    stats = generate(tmp_path / "e.parquet", events=200_000, seed=1, style="clean")
    assert 0.75 * 200_000 <= stats["rows"] <= 1.25 * 200_000, stats


def test_committed_sample_is_regenerated_by_the_documented_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    main(SAMPLE_ARGS)
    with gzip.open(tmp_path / SAMPLE_ARGS[-1]) as fresh, gzip.open(SAMPLE) as committed:
        assert fresh.read() == committed.read(), (
            "data/sample/trial_events.csv.gz differs from: python -m trial_activation.generator " + " ".join(SAMPLE_ARGS))
    assert SAMPLE.stat().st_size < 1.5e6


# A planted effect (docs/generating.md): organizations with >= 3 Scheduling.Shift.AssignmentChanged
# events in trial days 0-6 (about a fifth of them) convert at 2 x 21%, the others at 21%.
PLANT_ARGS = [
    "--plant-activity", "Scheduling.Shift.AssignmentChanged", "--plant-min-events", "3", "--plant-days", "0-6"
]
PLANT_DIFFERENCE = (0.21, 0.08)  # 42% - 21%; 0.08 is 3 standard errors of the difference at 2,000 orgs


def _planted_rates(path: Path, activity: str, min_events: int, last_day: int):
    """From the file, with pandas alone: per organization, whether it has >= min_events distinct in-trial
    events of the activity on trial days 0..last_day, and whether it converted."""
    import pandas as pd

    raw = pd.read_csv(path, dtype=str).drop_duplicates()
    for column in ("TIMESTAMP", "TRIAL_START", "TRIAL_END"):
        raw[column] = pd.to_datetime(raw[column], format="ISO8601")
    trial_day = (raw["TIMESTAMP"] - raw["TRIAL_START"]) // pd.Timedelta(days=1)
    counted = (
        (raw["ACTIVITY_NAME"] == activity)
        & (raw["TIMESTAMP"] >= raw["TRIAL_START"])
        & (raw["TIMESTAMP"] <= raw["TRIAL_END"])
        & trial_day.between(0, last_day)
    )
    orgs = raw.groupby("ORGANIZATION_ID").agg(converted=("CONVERTED", lambda v: v.iloc[0].lower() == "true"))
    orgs["events"] = counted.groupby(raw["ORGANIZATION_ID"]).sum()
    orgs["meets"] = orgs["events"] >= min_events
    return orgs


def test_planted_effect_shows_in_the_generated_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--orgs", str(N_ORGS), "--seed", str(SEED), "--out", "planted.csv.gz", *PLANT_ARGS]) == 0
    orgs = _planted_rates(tmp_path / "planted.csv.gz", "Scheduling.Shift.AssignmentChanged", 3, 6)
    rates = orgs.groupby("meets")["converted"].mean()
    expected, tolerance = PLANT_DIFFERENCE
    assert 0.1 < orgs["meets"].mean() < 0.35, orgs["meets"].mean()
    assert rates[True] - rates[False] == pytest.approx(expected, abs=tolerance), rates
    assert rates[False] == pytest.approx(0.21, abs=0.04)

    # The events are those of the log without the plant; only CONVERTED (and its timestamp) may differ.
    stats = generate(tmp_path / "plain.csv.gz", orgs=N_ORGS, seed=SEED)
    import pandas as pd

    planted_rows, plain_rows = (
        pd.read_csv(tmp_path / name, dtype=str)[["ORGANIZATION_ID", "ACTIVITY_NAME", "TIMESTAMP", "TRIAL_START"]]
        for name in ("planted.csv.gz", "plain.csv.gz")
    )
    pd.testing.assert_frame_equal(planted_rows, plain_rows)
    assert stats["orgs"] == len(orgs) and "planted_orgs" not in stats


def test_planted_lift_1_leaves_nothing_to_find(tmp_path):
    from trial_activation.generator.draw import PlantedEffect

    plant = PlantedEffect("Scheduling.Shift.AssignmentChanged", min_events=3, lift=1.0)
    stats = generate(tmp_path / "null.parquet", orgs=N_ORGS, seed=SEED, plant=plant)
    con = duckdb.connect()
    con.execute(f"create table raw as select * from '{tmp_path / 'null.parquet'}'")
    # Week-1 activity no longer goes with converting (in the calibrated log converters are ~1.7x as active).
    ratio = one(con, """select avg(n) filter (where c) / avg(n) filter (where not c) from (
        select ORGANIZATION_ID, any_value(CONVERTED) c, count(distinct (ACTIVITY_NAME, TIMESTAMP)) n
        from raw where TIMESTAMP < TRIAL_START + interval 7 day group by 1)""")
    assert 0.7 < ratio < 1.3, ratio
    assert stats["planted_orgs"] > 0 and stats["converted_orgs"] == pytest.approx(0.21 * N_ORGS, rel=0.15)
