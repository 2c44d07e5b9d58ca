"""The optional trials input (TRIAL_TRIALS_PATH, docs/data-quality.md): one row per organization, as a
billing system exports it, whose values win over those repeated on event rows.

Three builds of the committed sample: without a trials input (today's behaviour); with a trials input
that says what the events say for every organization (nothing changes); and with one where an
organization converts after its last event (only the trials input says so), one row is bad, one
organization's rows contradict each other, and one organization has no events at all.
"""

from __future__ import annotations

import pandas as pd
import pytest
from sqlmesh.utils.errors import SQLMeshError

from marts import assert_marts_equal, read_marts
from trial_activation.project import build, open_context
from trial_activation.testing import SAMPLE_LOG, copy_project

HEADER = "organization_id,trial_start,trial_end,converted,converted_at"
LATE_CONVERSION_AT = "2024-05-08 10:00:00"  # after every event and conversion of the sample (as_of 2024-05-06)
BILLING_ONLY = "org_billing_only"  # in the trials input, no events


def write_trials(path, rows) -> str:
    path.write_text("\n".join([HEADER, *(",".join(row) for row in rows)]) + "\n")
    return str(path)


def build_sample(root, trials_path: str):
    context = open_context(
        copy_project(root / "project"), events_path=SAMPLE_LOG, trials_path=trials_path, warehouse_path=root / "w.duckdb"
    )
    build(context, skip_tests=True)  # the YAML unit tests run on their own
    return context


def organizations(context):
    """Every organization's resolved values as text, as the trials input would spell them."""
    return context.fetchdf(
        """
        SELECT
          organization_id,
          STRFTIME(trial_start, '%Y-%m-%d %H:%M:%S') AS trial_start,
          STRFTIME(trial_end, '%Y-%m-%d %H:%M:%S') AS trial_end,
          CASE WHEN converted THEN 'true' ELSE 'false' END AS converted,
          COALESCE(STRFTIME(converted_at, '%Y-%m-%d %H:%M:%S'), '') AS converted_at
        FROM intermediate.trial_organizations
        ORDER BY organization_id
        """
    )


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    return build_sample(tmp_path_factory.mktemp("no_trials"), "")


@pytest.fixture(scope="module")
def late_build(tmp_path_factory, baseline):
    """The sample with a trials input: (context, the organization converting late, the bad one, the contradicting one)."""
    orgs = organizations(baseline)
    pending = baseline.fetchdf(
        "SELECT organization_id FROM marts.trial_activation WHERE outcome_status = 'pending' ORDER BY trial_end DESC, organization_id"
    ).organization_id
    late, bad, contradicting = pending[0], pending[1], pending[2]
    rows = []
    for org in orgs.itertuples(index=False):
        if org.organization_id == late:
            rows.append((org.organization_id, org.trial_start, org.trial_end, "true", LATE_CONVERSION_AT))
        elif org.organization_id == bad:
            rows.append((org.organization_id, "not a time", org.trial_end, org.converted, org.converted_at))
        elif org.organization_id == contradicting:
            rows.append((org.organization_id, org.trial_start, org.trial_end, "false", ""))
            rows.append((org.organization_id, org.trial_start, org.trial_end, "true", "2024-05-01 00:00:00"))
        else:
            rows.append(tuple(org))
    rows.append((BILLING_ONLY, "2024-04-15 00:00:00", "2024-05-15 00:00:00", "false", ""))
    root = tmp_path_factory.mktemp("late_trials")
    context = build_sample(root, write_trials(root / "trials.csv", rows))
    return context, late, bad, contradicting


def test_a_trials_input_agreeing_with_the_events_changes_no_mart(tmp_path_factory, baseline):
    root = tmp_path_factory.mktemp("agreeing_trials")
    rows = [tuple(org) for org in organizations(baseline).itertuples(index=False)]
    context = build_sample(root, write_trials(root / "trials.csv", rows))

    assert_marts_equal(read_marts(context), read_marts(baseline))


def test_a_typed_parquet_trials_input_reads_like_the_csv(tmp_path_factory, baseline):
    """Parquet keeps its own types (timestamps, a boolean): staging types them the same way."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path_factory.mktemp("parquet_trials")
    orgs = organizations(baseline)
    times = {column: pd.to_datetime(orgs[column].replace("", None)) for column in ("trial_start", "trial_end", "converted_at")}
    table = pa.table(
        {
            "ORGANIZATION_ID": orgs.organization_id,
            "TRIAL_START": times["trial_start"],
            "TRIAL_END": times["trial_end"],
            "CONVERTED": orgs.converted == "true",
            "CONVERTED_AT": times["converted_at"],
        }
    )
    pq.write_table(table, root / "trials.parquet")
    context = build_sample(root, str(root / "trials.parquet"))

    assert int(context.fetchdf("SELECT SUM(raw_row_count) AS n FROM staging.trials").n[0]) == len(orgs)
    assert_marts_equal(read_marts(context), read_marts(baseline))


def test_a_conversion_only_the_trials_input_knows_is_a_conversion_and_moves_as_of(baseline, late_build):
    context, late, _, _ = late_build
    before = baseline.fetchdf(f"SELECT outcome_status, as_of FROM marts.trial_activation WHERE organization_id = '{late}'")
    after = context.fetchdf(
        "SELECT converted, CAST(converted_at AS TEXT) AS converted_at, outcome_status, has_conflicting_attributes,"
        f" CAST(as_of AS TEXT) AS as_of FROM marts.trial_activation WHERE organization_id = '{late}'"
    ).iloc[0]
    last_event = context.fetchdf(
        f"SELECT MAX(event_at) AS last_event_at FROM staging.trial_events WHERE organization_id = '{late}'"
    ).last_event_at[0]

    assert (before.outcome_status[0], str(before.as_of[0])) == ("pending", "2024-05-06 00:00:00")
    assert str(last_event) < LATE_CONVERSION_AT
    assert (bool(after.converted), after.converted_at, after.outcome_status) == (True, LATE_CONVERSION_AT, "converted")
    assert not after.has_conflicting_attributes
    assert set(context.fetchdf("SELECT DISTINCT CAST(as_of AS TEXT) AS as_of FROM marts.trial_goals").as_of) == {
        "2024-05-09 00:00:00"
    }


def test_bad_trials_rows_are_quarantined_with_their_reason_and_the_events_decide(baseline, late_build):
    context, _, bad, contradicting = late_build
    quarantined = context.fetchdf(
        "SELECT source, quarantine_reason, organization_id, raw_trial_start FROM staging.trials_quarantine ORDER BY ALL"
    )

    assert sorted(zip(quarantined.source, quarantined.quarantine_reason, quarantined.organization_id)) == sorted(
        [
            ("trials", "unparseable_trial_start", bad),
            ("trials", "conflicting_organization_rows", contradicting),
            ("trials", "conflicting_organization_rows", contradicting),
        ]
    )
    assert quarantined[quarantined.organization_id == bad].raw_trial_start.tolist() == ["not a time"]
    # neither organization is in staging.trials: their event rows decide, as without a trials input
    staged = set(context.fetchdf("SELECT organization_id FROM staging.trials").organization_id)
    assert not {bad, contradicting} & staged
    resolved = organizations(context).set_index("organization_id")
    expected = organizations(baseline).set_index("organization_id")
    for org in (bad, contradicting):
        assert resolved.loc[org].to_dict() == expected.loc[org].to_dict()


def test_every_trials_row_is_staged_or_quarantined(late_build):
    context, *_ = late_build
    counts = context.fetchdf(
        """
        SELECT
          (SELECT COUNT(*) FROM raw.trials) AS raw_rows,
          (SELECT SUM(raw_row_count) FROM staging.trials) AS staged_rows,
          (SELECT COUNT(*) FROM staging.trials_quarantine) AS quarantined_rows
        """
    ).iloc[0]

    assert int(counts.raw_rows) == 300 + 1 + 1  # every sample organization, the contradicting one twice, the billing-only one
    assert int(counts.raw_rows) == int(counts.staged_rows) + int(counts.quarantined_rows) == int(counts.staged_rows) + 3
    assert context.audit(start="2024-01-01", end="2024-12-31", models=["staging.trials"])


def test_an_organization_only_in_the_trials_input_has_no_activity(late_build):
    context, *_ = late_build
    organization = context.fetchdf(
        f"SELECT event_count, first_event_at, has_conflicting_attributes FROM intermediate.trial_organizations WHERE organization_id = '{BILLING_ONLY}'"
    ).iloc[0]
    activation = context.fetchdf(
        "SELECT goals_completed, is_activated, activation_score, trial_status, outcome_status"
        f" FROM marts.trial_activation WHERE organization_id = '{BILLING_ONLY}'"
    ).iloc[0]
    goals = context.fetchdf(f"SELECT goal_id, metric_value, is_completed FROM marts.trial_goals WHERE organization_id = '{BILLING_ONLY}'")

    assert (int(organization.event_count), bool(organization.has_conflicting_attributes)) == (0, False)
    assert pd.isna(organization.first_event_at)
    assert (int(activation.goals_completed), bool(activation.is_activated), float(activation.activation_score)) == (0, False, 0.0)
    assert (activation.trial_status, activation.outcome_status) == ("in_trial", "pending")
    assert len(goals) == 3 and not goals.is_completed.any() and (goals.metric_value == 0).all()


def test_a_trials_file_with_a_wrong_header_fails_naming_it_before_anything_is_written(tmp_path):
    path = tmp_path / "trials.csv"
    path.write_text("organization_id,trial_start,trial_end,converted\norg,2024-01-01 00:00:00,2024-01-31 00:00:00,false\n")

    # Checked like the event log: when the raw model is rendered, i.e. when the project loads.
    with pytest.raises(SQLMeshError) as error:
        build(
            open_context(
                copy_project(tmp_path / "project"), events_path=SAMPLE_LOG, trials_path=path, warehouse_path=tmp_path / "w.duckdb"
            )
        )

    assert f"{path}: missing column(s) converted_at. Expected a header with exactly: {HEADER.replace(',', ', ')}" in str(error.value)
    assert not (tmp_path / "w.duckdb").exists()


def test_a_missing_trials_file_names_its_variable(tmp_path):
    with pytest.raises(SQLMeshError, match="no-such-trials.csv: file not found \\(TRIAL_TRIALS_PATH\\)"):
        open_context(
            copy_project(tmp_path / "project"),
            events_path=SAMPLE_LOG,
            trials_path=tmp_path / "no-such-trials.csv",
            warehouse_path=tmp_path / "w.duckdb",
        )


def test_the_input_report_names_the_trials_input_and_its_quarantine(baseline, late_build):
    from trial_activation.project import input_report

    context, *_ = late_build

    assert "Trials input" not in input_report(baseline)
    assert input_report(context).splitlines()[-1].endswith("trials.csv (3 quarantined: staging.trials_quarantine)")
    assert "Trials input (prod): 302 rows from " in input_report(context)
