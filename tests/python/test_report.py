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
from trial_activation.project import MissingInEnvironment, build, environment_table
from trial_activation.report import NO_CREDIBLE_CANDIDATE, collect
from ui_server import CHROMIUM_ARGS

SCREENSHOTS = ARTIFACTS / "report"
CHARTS_BESIDES_GOALS = ("funnel", "lift", "cohorts", "days_to_activation")


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
