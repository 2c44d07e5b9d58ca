"""The plain pandas script: the activation flags as an analyst would compute them in pandas.

The same computation as benchmarks/plain_floor.sql, and like it with the three default goals of
seeds/activation_goals.csv WRITTEN INTO THE SCRIPT (a baseline for today's goals, not a goal engine):
read the log, drop exact duplicates, count each organization's in-trial events in trial days 0-6,
7-13 and 21-27, take the 75th percentiles (linear interpolation) over converted organizations, flag
the goals and activation. One row per organization: organization_id, week_1_activity,
week_2_activity, week_4_steadiness, is_activated.

Usage:

    python benchmarks/plain_pandas.py EVENTS OUTPUT.parquet

EVENTS is a Parquet file, a glob of Parquet files (quote it: "history/*/*.parquet") or a CSV(.gz)
file with the raw export's header (ORGANIZATION_ID, ACTIVITY_NAME, TIMESTAMP, CONVERTED,
CONVERTED_AT, TRIAL_START, TRIAL_END; any letter case).
"""

from __future__ import annotations

import glob
import sys

import pandas as pd

TIMES = ["timestamp", "converted_at", "trial_start", "trial_end"]


def read_events(path: str) -> pd.DataFrame:
    if path.endswith((".csv", ".csv.gz")):
        events = pd.read_csv(path)
        events.columns = events.columns.str.lower()
        for column in TIMES:  # some exports add a ".000" millisecond suffix to some values
            events[column] = pd.to_datetime(events[column], format="ISO8601")
        # True/TRUE/true (and False...) are all read as booleans; make sure nothing else slipped in.
        if events["converted"].dtype != bool:
            raise SystemExit(f"{path}: CONVERTED is not all True/False; fix the file or read it by hand")
        return events
    files = sorted(glob.glob(path))
    if not files:
        raise SystemExit(f"{path}: no such file")
    events = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    events.columns = events.columns.str.lower()
    return events


def activation(events: pd.DataFrame) -> pd.DataFrame:
    events = events.drop_duplicates()
    trial_day = (events["timestamp"] - events["trial_start"]) // pd.Timedelta(days=1)
    in_trial = events["timestamp"].between(events["trial_start"], events["trial_end"])
    counts = pd.DataFrame(
        {
            "organization_id": events["organization_id"],
            "converted": events["converted"],
            "week_1_events": in_trial & trial_day.between(0, 6),
            "week_2_events": in_trial & trial_day.between(7, 13),
            "week_4_events": in_trial & trial_day.between(21, 27),
        }
    )
    orgs = counts.groupby("organization_id").agg(
        converted=("converted", "any"),
        week_1_events=("week_1_events", "sum"),
        week_2_events=("week_2_events", "sum"),
        week_4_events=("week_4_events", "sum"),
    )
    converted = orgs[orgs["converted"]]
    week_1_p75 = converted["week_1_events"].quantile(0.75, interpolation="linear")
    week_2_p75 = converted["week_2_events"].quantile(0.75, interpolation="linear")
    baseline = orgs["week_2_events"].where(orgs["week_2_events"] > 0, orgs["week_1_events"])

    out = pd.DataFrame(index=orgs.index)
    out["week_1_activity"] = orgs["week_1_events"] >= max(0, week_1_p75)
    out["week_2_activity"] = orgs["week_2_events"] >= max(1, week_2_p75)
    out["week_4_steadiness"] = orgs["week_4_events"] >= (0.9 * baseline).clip(lower=1)
    out["is_activated"] = out.all(axis=1)
    return out.reset_index()


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit(__doc__.split("Usage:")[1].strip().splitlines()[0].strip())
    events_path, output = argv
    activation(read_events(events_path)).to_parquet(output, index=False)


if __name__ == "__main__":
    main(sys.argv[1:])
