"""`trial-activation report`, opened in headless Chromium (the system one, as the UI test drives it).

The report of the sample build is written by the CLI, loaded from a file:// URL with every request
the page makes recorded, and checked against the marts queried here: one rendered chart per section
and goal, no http(s) request, the headline numbers, the activation lift and the candidate goals. A
full-page screenshot goes to artifacts/report/ (git-ignored). Then the same for `--compare prod:dev`,
dev being planned without changes, so that it has no view of its own for any mart (SQLMesh only
creates dev views for changed models) and both columns must show the same numbers. Last, the report
of a PostgreSQL build of the same sample: the same rows in every section, and the same page but for
the charts' drawing and the provenance.
"""

from __future__ import annotations

import re
import shutil

import duckdb
import pandas as pd
import pytest

from helpers import ARTIFACTS, edit_goal, plan_dev_with_edit, postgres_sample_project, short_name
from marts import GRAIN, TOLERANCE, assert_same_rows
from trial_activation.__main__ import main
from trial_activation.project import MissingInEnvironment, build, environment_table, open_context
from trial_activation.report import NO_CREDIBLE_CANDIDATE, NO_TRIAL, NOTHING_QUALIFIES, collect, draw_charts, render
from trial_activation.testing import SAMPLE_LOG, copy_project
from ui_server import CHROMIUM_ARGS

SCREENSHOTS = ARTIFACTS / "report"
CHARTS_BESIDES_GOALS = ("funnel", "lift", "cohorts", "days_to_activation", "time_to_conversion")


def _write_report(context, out, *options) -> None:
    warehouse = context.path.parent / "warehouse.duckdb"  # where the sample_build fixture builds
    assert main(["report", "--project", str(context.path), "--warehouse", str(warehouse), "--out", str(out), *options]) == 0


def _expected(context, suffix: str = "") -> dict:
    """The marts, queried directly: prod's tables, or with suffix '__<env>' a dev environment's views."""
    totals = context.fetchdf(
        f"""
        SELECT
          COUNT(*) AS organizations,
          SUM(CASE WHEN is_activated THEN 1 ELSE 0 END) AS activated,
          SUM(CASE WHEN converted THEN 1 ELSE 0 END) AS converted
        FROM marts{suffix}.trial_activation
        """
    ).iloc[0]
    lift = context.fetchdf(
        f"SELECT * FROM marts{suffix}.goal_conversion WHERE goal_id = 'activation' AND population = 'unconverted_at_window_end'"
    )
    assert len(lift) == 1
    q_value = context.config.variables["report_candidate_q_value"]
    credible = context.fetchdf(
        f"SELECT COUNT(*) AS n FROM marts{suffix}.candidate_goals WHERE is_supported AND q_value < {q_value}"
    ).n.iloc[0]
    goals = context.fetchdf(f"SELECT goal_id FROM staging{suffix}.activation_goals").goal_id
    return {
        "organizations": int(totals.organizations),
        "activated": int(totals.activated),
        "converted": int(totals.converted),
        "activation_rate": totals.activated / totals.organizations,
        "lift": lift.iloc[0],
        "credible_candidates": int(credible),
        "candidates_shown": context.config.variables["report_candidates_shown"],
        "charts": sorted([*CHARTS_BESIDES_GOALS, *(f"goal:{goal}" for goal in goals)]),
    }


def _open(chromium, path, screenshot_name: str, check) -> None:
    """Open the report in headless Chromium, recording every request, run check(page, requests), and
    save a full-page screenshot to artifacts/report/ (also when a check fails)."""
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = path.with_suffix(".png")
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            page.goto(path.as_uri(), wait_until="load")
            try:
                check(page, requests)
            finally:
                page.screenshot(path=str(shot), full_page=True)
                shutil.copy2(shot, SCREENSHOTS / f"{screenshot_name}.png")
                print(f"screenshot: {SCREENSHOTS / screenshot_name}.png")
        finally:
            browser.close()


def _check_charts(page, expected_charts: list[str], columns: int) -> None:
    figures = page.locator("figure.chart")
    assert figures.count() == len(expected_charts) * columns
    names = sorted(figures.nth(i).get_attribute("data-chart") for i in range(figures.count()))
    assert names == sorted(expected_charts * columns)
    for i in range(figures.count()):
        svg = figures.nth(i).locator("svg")
        assert svg.count() == 1, names[i]
        box = svg.bounding_box()
        assert box and box["width"] > 200 and box["height"] > 80, (figures.nth(i).get_attribute("data-chart"), box)
        # Drawn marks (bars, lines, points, text): a chart that failed to plot has only its axes' few.
        assert svg.locator("path, use, text").count() > 10


def _check_headline(environment, expected: dict) -> None:
    def metric(name: str) -> str:
        return environment.locator(f'[data-metric="{name}"]').inner_text()

    assert metric("organizations") == f"{expected['organizations']:,}"
    assert metric("activated") == f"{expected['activated']:,}"
    assert metric("converted") == f"{expected['converted']:,}"
    assert metric("activation_rate") == f"{100 * expected['activation_rate']:.1f}%"
    lift = expected["lift"]
    assert metric("activation_rate_difference") == f"{100 * lift.rate_difference:+.1f} pts"
    assert metric("activation_rate_difference_low") == f"{100 * lift.rate_difference_low:+.1f} pts"
    assert metric("activation_rate_difference_high") == f"{100 * lift.rate_difference_high:+.1f} pts"
    verdict = environment.locator('[data-metric="activation_lift"]').inner_text()
    assert ("excludes zero" in verdict) == bool(lift.is_significant)


def _check_candidates(page, expected: dict) -> None:
    section = page.locator('[data-section="candidates"]')
    if expected["credible_candidates"]:
        rows = section.locator("code")  # each candidate is shown with its seed row
        assert rows.count() == min(expected["credible_candidates"], expected["candidates_shown"])
    else:
        assert section.inner_text().strip() == NO_CREDIBLE_CANDIDATE


def _points(value) -> str:
    return f"{100 * value:+.1f} pts"


def _check_as_of_and_in_trial(page, context, suffix: str = "") -> None:
    """The header's as_of and the organizations left out; on the sample (as_of after every trial) the
    "In trial now" section is its one line."""
    status = context.fetchdf(
        f"""
        SELECT MAX(as_of) AS as_of, COUNT(*) FILTER (WHERE is_outcome_final) AS final,
               COUNT(*) FILTER (WHERE outcome_status = 'pending') AS pending,
               COUNT(*) FILTER (WHERE trial_status = 'in_trial') AS in_trial
        FROM marts{suffix}.trial_activation
        """
    ).iloc[0]
    assert page.locator('[data-metric="as_of"]').first.inner_text() == pd.Timestamp(status.as_of).strftime("%Y-%m-%d %H:%M UTC")
    assert page.locator('[data-metric="outcomes_final"]').first.inner_text() == f"{int(status.final):,}"
    assert page.locator('[data-metric="outcomes_pending"]').first.inner_text() == f"{int(status.pending):,}"
    assert int(status.in_trial) == 0  # the sample's as_of is after every trial's end
    section = page.locator('[data-section="in-trial"]').first
    assert section.locator('[data-metric="in_trial_counts"]').inner_text().strip() == NO_TRIAL
    assert section.locator("table").count() == 0


def _check_what_this_data_can_tell(page, context) -> None:
    """Each table of "What this data can tell you" shows its mart's rows, in order, with their figures."""
    section = page.locator('[data-section="what-this-data-can-tell"]').first

    def rows(table: str, key: str) -> list[tuple[str, str]]:
        found = section.locator(f'[data-section="{table}"] tr[data-{key}]')
        return [(found.nth(i).get_attribute(f"data-{key}"), found.nth(i).inner_text()) for i in range(found.count())]

    ceiling = context.fetchdf("SELECT * FROM marts.predictability ORDER BY window_start_day, window_end_day")
    shown = rows("predictability", "window")
    assert [w for w, _ in shown] == list(ceiling.window_id)
    for (_, text), row in zip(shown, ceiling.itertuples()):
        assert f"{row.auc:.3f} ± {row.auc_sd:.3f}" in text and f"{row.shuffled_auc_p95:.3f}" in text
        assert f"{row.organizations:,} ({row.converted:,})" in text

    conversion = context.fetchdf("SELECT * FROM marts.goal_conversion ORDER BY goal_order")
    honest = conversion[conversion.population == "unconverted_at_window_end"]
    shown = rows("minimum-detectable", "goal")
    assert [g for g, _ in shown] == list(honest.goal_id)
    for (_, text), row in zip(shown, honest.itertuples()):
        assert f"{_points(row.rate_difference)} ({_points(row.rate_difference_low)} to {_points(row.rate_difference_high)})" in text
        mdd = row.minimum_detectable_difference
        assert ("none" in text) if pd.isna(mdd) else (f"±{100 * mdd:.1f} pts" in text)
        assert f"; {row.pending_organizations:,})" in text
    holdout = conversion[conversion.population == "holdout"]
    assert len(holdout) > 0
    shown = rows("holdout-goals", "goal")
    assert [g for g, _ in shown] == list(holdout.goal_id)
    for (_, text), row in zip(shown, holdout.itertuples()):
        assert text.split("\t")[2].startswith(
            f"{_points(row.rate_difference)} ({_points(row.rate_difference_low)} to {_points(row.rate_difference_high)})"
        )

    counts = context.fetchdf(
        "SELECT MAX(distinct_candidates_tested) AS tested, COUNT(*) FILTER (WHERE is_recommended) AS recommended FROM marts.candidate_goals"
    ).iloc[0]
    sentence = section.locator('[data-metric="candidates_recommended"]').inner_text()
    assert sentence.startswith(f"{int(counts.tested):,} distinct candidate goals were tested")
    assert (NOTHING_QUALIFIES in sentence) == (int(counts.recommended) == 0)
    best = context.fetchdf(
        f"""
        SELECT candidate_id FROM marts.candidate_goals WHERE is_supported AND NOT is_degenerate
        ORDER BY search_q_value NULLS LAST, search_p_value NULLS LAST, candidate_id
        LIMIT {context.config.variables["report_holdout_candidates_shown"]}
        """
    ).candidate_id
    assert [c for c, _ in rows("holdout-candidates", "candidate")] == list(best)

    survival = context.fetchdf(
        """
        SELECT s.*, c.goal_order FROM marts.goal_survival_summary AS s
        JOIN (SELECT DISTINCT goal_id, goal_order FROM marts.goal_conversion) AS c USING (goal_id) ORDER BY c.goal_order
        """
    )
    shown = rows("survival", "goal")
    assert [g for g, _ in shown] == list(survival.goal_id)
    for (_, text), row in zip(shown, survival.itertuples()):
        assert text.rstrip().endswith(f"{row.log_rank_p:.3g}")


def _no_network(requests: list[str]) -> None:
    assert requests, "the page itself should have been requested"
    leaving = [url for url in requests if url.startswith(("http://", "https://"))]
    assert leaving == []
    assert all(url.startswith(("file://", "data:", "about:")) for url in requests), requests


def test_report_renders_offline_with_the_marts_numbers(sample_build, chromium, tmp_path):
    context, events = sample_build
    out = tmp_path / "trial_activation_prod.html"
    _write_report(context, out)
    html = out.read_text()
    # Nothing to fetch: no script, no link or source attribute, no CSS url() or @import, to anywhere.
    assert not re.search(r"<script|<link|<img|<iframe|\bsrc\s*=|url\((?!#)|@import", html, re.IGNORECASE)
    assert not re.search(r"href\s*=\s*[\"'](?!#)", html), "a link leaves the page"
    expected = _expected(context)

    def check(page, requests):
        _no_network(requests)
        _check_charts(page, expected["charts"], columns=1)
        environment = page.locator('.env[data-environment="prod"]').first
        _check_headline(environment, expected)
        _check_candidates(page, expected)
        assert page.get_by_text("Goal seed as used").count() == 1
        _check_as_of_and_in_trial(page, context)
        _check_what_this_data_can_tell(page, context)
        # Provenance: the file the build read, its rows (counted here with DuckDB), every model's version.
        assert page.locator('[data-metric="input_file"]').all_inner_texts() == [str(events.resolve())]
        with duckdb.connect() as reader:
            raw_rows = reader.execute("SELECT COUNT(*) FROM read_csv(?, all_varchar = true)", [str(events)]).fetchone()[0]
        assert page.locator('[data-metric="raw_rows"]').inner_text() == f"{raw_rows:,}"
        versions = page.locator('[data-section="model-versions"] tr[data-model]')
        shown = {versions.nth(i).get_attribute("data-model"): versions.nth(i).locator("code").first.inner_text()
                 for i in range(versions.count())}
        assert shown == {short_name(s.name): s.version for s in context.state_reader.get_environment("prod").snapshots}

    _open(chromium, out, "report", check)


def test_report_compares_two_environments_side_by_side(sample_build, chromium, tmp_path):
    """A threshold experiment in dev next to prod. Dev only gets views for the models the seed change
    reaches, so the report must read the others (raw and staging events) from the tables dev shares."""
    context, _ = sample_build
    dev = "report_dev"  # a new environment, created from prod (not from another test's dev)
    seed = context.path / "seeds" / "activation_goals.csv"
    original = seed.read_bytes()
    edit_goal(seed, "week_1_activity", threshold_percentile=60)
    edited = seed.read_bytes()
    seed.write_bytes(original)
    plan_dev_with_edit(context, dev, seed, edited)
    dev_views = set(
        context.fetchdf("SELECT table_schema || '.' || table_name AS v FROM information_schema.tables").v
    )
    assert f"marts__{dev}.trial_activation" in dev_views and f"staging__{dev}.trial_events" not in dev_views
    out = tmp_path / f"trial_activation_prod_vs_{dev}.html"
    _write_report(context, out, "--compare", f"prod:{dev}")
    expected = {"prod": _expected(context), dev: _expected(context, suffix=f"__{dev}")}
    assert expected["prod"]["activated"] != expected[dev]["activated"]  # the experiment changed something

    def check(page, requests):
        _no_network(requests)
        _check_charts(page, expected["prod"]["charts"], columns=2)
        for environment in ("prod", dev):
            _check_headline(page.locator(f'.env[data-environment="{environment}"]').first, expected[environment])

    _open(chromium, out, "report_compare", check)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["-e", "no_such_env"], "environment 'no_such_env' does not exist"),
        (["--compare", "prod:no_such_env"], "environment 'no_such_env' does not exist"),
    ],
)
def test_report_of_a_missing_environment_is_one_line(sample_build, tmp_path, capsys, options, message):
    context, _ = sample_build
    out = tmp_path / "report.html"
    warehouse = context.path.parent / "warehouse.duckdb"
    status = main(["report", "--project", str(context.path), "--warehouse", str(warehouse), "--out", str(out), *options])
    assert status == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err
    assert not out.exists()


def test_a_model_missing_from_the_environment_is_named(sample_build):
    """An environment built before a model existed (e.g. before the insight marts): one line naming both."""
    context, _ = sample_build
    with pytest.raises(MissingInEnvironment, match=r"^marts\.no_such_mart is not in environment 'prod' .*build -e prod") as error:
        environment_table(context, "marts.no_such_mart", "prod")
    assert "\n" not in str(error.value)


# What the report shows from each mart, with the grain its rows are compared on.
SECTIONS = {
    "funnel": GRAIN["marts.activation_funnel"],
    "lifts": GRAIN["marts.goal_conversion"],
    "cohorts": GRAIN["marts.activation_cohorts"],
    "days_to_activation": GRAIN["marts.report_days_to_activation"],
    "candidates": GRAIN["marts.report_candidates"],
}


def test_report_from_postgres_shows_the_duckdb_figures(sample_build, tmp_path, monkeypatch):
    """The report read from a PostgreSQL build of the sample (through the CLI, on TRIAL_GATEWAY=postgres)
    shows the figures of the DuckDB build's report: every section's rows, and the page's text once the
    charts (drawn from those rows; the engines sum floats in their own order) and the provenance (other
    versions and input) are set aside."""
    duckdb_context, _ = sample_build
    expected = collect(duckdb_context, "prod")
    duckdb_page = tmp_path / "duckdb.html"
    _write_report(duckdb_context, duckdb_page)
    with postgres_sample_project(tmp_path, monkeypatch) as context:
        build(context, skip_tests=True)  # the YAML unit tests run on DuckDB (test_sqlmesh_checks.py)
        actual = collect(context, "prod")
        postgres_page = tmp_path / "postgres.html"
        status = main(
            ["report", "--project", str(context.path), "--warehouse", str(tmp_path / "unused.duckdb"), "--out", str(postgres_page)]
        )
        assert status == 0
    assert not (tmp_path / "unused.duckdb").exists()

    assert_same_rows(pd.DataFrame([actual.headline]), pd.DataFrame([expected.headline]), [], atol=TOLERANCE, name="headline")
    for section, grain in SECTIONS.items():
        assert_same_rows(getattr(actual, section), getattr(expected, section), grain, atol=TOLERANCE, name=section)
    goals = [{k: v for k, v in goal.items() if k not in ("lift", "bins")} for goal in actual.goals]
    assert_same_rows(
        pd.DataFrame(goals), pd.DataFrame([{k: v for k, v in g.items() if k not in ("lift", "bins")} for g in expected.goals]),
        GRAIN["marts.report_goals"], atol=TOLERANCE, name="goals",
    )
    assert_same_rows(
        *(pd.concat([goal["bins"] for goal in report.goals]) for report in (actual, expected)),
        GRAIN["marts.report_goal_histograms"], atol=TOLERANCE, name="histograms",
    )
    assert_same_rows(actual.provenance["seed"], expected.provenance["seed"], ["goal_id"], name="seed")
    assert actual.provenance["inputs"].to_dict("records") == [
        {"input_source": "warehouse table raw.trial_events", "raw_rows": int(expected.provenance["inputs"].raw_rows.sum())}
    ]
    assert _page_text(postgres_page) == _page_text(duckdb_page)


def _page_text(path) -> str:
    """The report's HTML without its charts (SVG), the time it was made and its provenance section."""
    html = path.read_text(encoding="utf-8")
    html = re.sub(r"<svg.*?</svg>", "<svg/>", html, flags=re.DOTALL)
    html = re.sub(r"report made [0-9-]+ [0-9:]+ UTC", "report made (time)", html)
    return html[: html.index("<h2>Provenance</h2>")]


def _cut_sample(cut: str, target) -> None:
    """The committed sample as a feed on `cut` holds it: events before the cut, a conversion only if it
    happened before the cut (so some trials are still running at as_of)."""
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(
            f"""
            COPY (
              WITH raw AS (
                SELECT *, TRY_CAST(CONVERTED_AT AS TIMESTAMPTZ) AS conversion
                FROM READ_CSV('{SAMPLE_LOG}', header = TRUE, all_varchar = TRUE)
                WHERE TRY_CAST("TIMESTAMP" AS TIMESTAMPTZ) < TIMESTAMPTZ '{cut} 00:00:00+00'
              )
              SELECT ORGANIZATION_ID, ACTIVITY_NAME, "TIMESTAMP",
                     CASE WHEN conversion >= TIMESTAMPTZ '{cut} 00:00:00+00' THEN 'false' ELSE CONVERTED END AS CONVERTED,
                     CASE WHEN conversion >= TIMESTAMPTZ '{cut} 00:00:00+00' THEN NULL ELSE CONVERTED_AT END AS CONVERTED_AT,
                     TRIAL_START, TRIAL_END
              FROM raw
            ) TO '{target}' (FORMAT CSV, HEADER)
            """
        )


def test_in_trial_now_lists_the_worklist_on_a_feed_with_running_trials(tmp_path):
    """The sample cut at 2024-03-15, when a third of its trials are running: "In trial now" lists the
    worklist's first report_worklist_shown organizations in its order, with their figures, and the
    counts sentence gives the marts' counts; the header prints that as_of."""
    events = tmp_path / "cut.csv"
    _cut_sample("2024-03-15", events)
    context = open_context(copy_project(tmp_path / "project"), events_path=events, warehouse_path=tmp_path / "warehouse.duckdb")
    build(context, skip_tests=True, skip_linter=True)
    out = tmp_path / "report.html"
    assert main(["report", "--project", str(context.path), "--warehouse", str(tmp_path / "warehouse.duckdb"), "--out", str(out)]) == 0
    html = out.read_text()

    shown = context.config.variables["report_worklist_shown"]
    worklist = context.fetchdf("SELECT * FROM marts.trial_worklist ORDER BY worklist_rank")
    assert len(worklist) > shown  # enough running trials that the list is cut
    first = worklist.head(shown)
    rows = re.findall(r'<tr data-organization="([^"]+)">(.*?)</tr>', html, flags=re.DOTALL)
    assert [organization for organization, _ in rows] == list(first.organization_id)
    for (_, cells), row in zip(rows, first.itertuples()):
        text = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", cells, flags=re.DOTALL)]
        assert text[:4] == [str(row.worklist_rank), row.organization_id, str(row.days_left_in_trial), row.activation_status.replace("_", " ")]
        assert text[5] == ("none open" if pd.isna(row.next_goal_id) else row.next_goal_name)
        assert text[8] == ("" if pd.isna(row.next_goal_is_on_pace) else ("yes" if row.next_goal_is_on_pace else "behind"))
    behind = int(((worklist.activation_status == "in_progress") & (worklist.next_goal_is_on_pace == False)).sum())  # noqa: E712
    in_progress = int((worklist.activation_status == "in_progress").sum())
    sentence = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", re.search(r'data-metric="in_trial_counts">(.*?)</p>', html, re.DOTALL).group(1)))
    assert f"{len(worklist):,} organizations are in trial: {in_progress:,} in progress" in sentence
    assert f"of which {behind:,} behind pace" in sentence
    assert NO_TRIAL not in html
    assert 'data-metric="as_of">2024-03-15 00:00 UTC<' in html
    # The headline reads the mart's activation difference; where the mart has none (a side of the
    # population with no final outcome yet: NULL), it says so instead of reading an interval into it.
    honest = "unconverted_at_window_end"
    verdict = _activation_verdict(html)
    assert "No difference can be computed yet" not in verdict and "95% interval" in verdict
    report = collect(context, "prod")
    draw_charts(report)
    row = report.activation_lift[honest]
    report.activation_lift[honest] = {**row, "rate_difference": float("nan"), "rate_difference_low": float("nan"), "rate_difference_high": float("nan"), "is_significant": False}
    verdict = _activation_verdict(render([report]))
    assert "No difference can be computed yet" in verdict and "interval includes zero" not in verdict
    assert f"{int(row['completed']):,} activated and {int(row['not_completed']):,} other organizations" in verdict


def _activation_verdict(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", re.search(r'data-metric="activation_lift">(.*?)</p>', html, re.DOTALL).group(1)))
