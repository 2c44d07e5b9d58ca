"""Hostile names and settings: nothing a user types may bend the figures or stop the report.

One build of the committed sample with hostile names added: activities whose names hold LIKE
wildcards (`_obile.Schedule.Loaded` beside the sample's Mobile.Schedule.Loaded, `50%.Off.Applied`, a
backslash), HTML, TeX and spreadsheet formulas; organization ids with HTML and formula prefixes; goal
names and descriptions with TeX, HTML, formulas, quotes and SQL. Through the build, the candidate
search and the adoption of a candidate, the report, `compare` and both export formats, every name is
data: matched as itself, drawn and written as it is (escaped in HTML, marked as text in a
spreadsheet-safe CSV). Then each error a user can cause with a setting ends in one line, no traceback,
and the PostgreSQL password is printed nowhere.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
import socket
import subprocess
import sys
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from helpers import plan_dev_with_edit
from trial_activation.__main__ import main
from trial_activation.export import export_marts
from trial_activation.project import PROJECT_ROOT, build, find_project, open_context
from trial_activation.testing import SAMPLE_LOG, copy_project

WILDCARD_ACTIVITY = "_obile.Schedule.Loaded"  # `_` would match the M of the sample's Mobile.Schedule.Loaded
# Activity name -> how many organizations get one event of it on trial day 1.
HOSTILE_ACTIVITIES = {
    WILDCARD_ACTIVITY: 3,
    "50%.Off.Applied": 2,
    "Back\\slash.Opened": 2,
    "<img src=x onerror=alert(1)>.Opened": 2,
    '=HYPERLINK("http://example.invalid").Clicked': 2,
    "Paid $5 to $10.Viewed": 2,
    "It's'; DROP TABLE raw.trial_events; --.Done": 2,
}
HOSTILE_ORGANIZATIONS = ["<b onmouseover=alert(1)>org</b>", "=1+2", "@SUM(A1)", "-3+4"]
GOAL_NAMES = {
    "week_1_activity": "Costs $5\\month to $10 {pro} <script>alert(1)</script>",
    "week_2_activity": '=HYPERLINK("http://example.invalid","Week 2")',
    "week_4_steadiness": "Paid $5 to $10",
}
HOSTILE_DESCRIPTION = "It's'; DROP TABLE raw.trial_events; -- <iframe src=x></iframe>"
CONVERSION_WINDOW_DAYS = int(re.search(r"conversion_window_days: (\d+)", (PROJECT_ROOT / "config.yaml").read_text()).group(1))
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DEV = "hostile_dev"


def like_literal(name: str) -> str:
    """The LIKE pattern matching `name` as itself, backslash the escape character (docs/goals.md)."""
    return re.sub(r"([\\%_])", r"\\\1", name)


def _read_sample() -> tuple[list[str], list[list[str]]]:
    with gzip.open(SAMPLE_LOG, "rt", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def _hostile_events(path: Path) -> dict[str, list[str]]:
    """The sample with hostile organization ids and activities added, written to `path`; returns
    activity name -> the organizations given one event of it."""
    header, rows = _read_sample()
    column = {name: i for i, name in enumerate(header)}
    trial_start = {row[column["ORGANIZATION_ID"]]: row[column["TRIAL_START"]] for row in rows}
    # The candidate search counts organizations whose outcome is known: not converted, and
    # conversion_window_days (config.yaml) passed since trial_end by as_of (midnight after the latest
    # event or conversion). The hostile activities go to such organizations, so that each counts.
    latest = max(max(row[column["TIMESTAMP"]], row[column["CONVERTED_AT"]])[:10] for row in rows)
    as_of = datetime.strptime(latest, "%Y-%m-%d") + timedelta(days=1)
    unconverted = sorted(
        {
            row[column["ORGANIZATION_ID"]]
            for row in rows
            if row[column["CONVERTED"]].upper() == "FALSE"
            and datetime.strptime(row[column["TRIAL_END"]][:19], "%Y-%m-%d %H:%M:%S") + timedelta(days=CONVERSION_WINDOW_DAYS)
            <= as_of
        }
    )
    renamed = dict(zip(unconverted[: len(HOSTILE_ORGANIZATIONS)], HOSTILE_ORGANIZATIONS))
    for row in rows:
        row[column["ORGANIZATION_ID"]] = renamed.get(row[column["ORGANIZATION_ID"]], row[column["ORGANIZATION_ID"]])
    free = iter(unconverted[len(HOSTILE_ORGANIZATIONS):])
    given: dict[str, list[str]] = {}
    for activity, count in HOSTILE_ACTIVITIES.items():
        given[activity] = [next(free) for _ in range(count)]
        for organization in given[activity]:
            template = next(row for row in rows if row[column["ORGANIZATION_ID"]] == organization)
            start = datetime.strptime(trial_start[organization][:19], "%Y-%m-%d %H:%M:%S")
            event = list(template)
            event[column["ACTIVITY_NAME"]] = activity
            event[column["TIMESTAMP"]] = f"{start + timedelta(days=1, hours=1):%Y-%m-%d %H:%M:%S}"  # trial day 1
            rows.append(event)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return given


def _edit_goals(seed: Path) -> None:
    with open(seed, newline="") as handle:
        goals = list(csv.DictReader(handle))
    for goal in goals:
        goal["goal_name"] = GOAL_NAMES[goal["goal_id"]]
    goals[-1]["description"] = HOSTILE_DESCRIPTION
    with open(seed, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(goals[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(goals)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """prod built on the sample with hostile names: (context, activity -> organizations, warehouse path)."""
    root = tmp_path_factory.mktemp("hostile_names")
    project = copy_project(root / "project")
    _edit_goals(project / "seeds" / "activation_goals.csv")
    events = root / "events.csv"
    given = _hostile_events(events)
    warehouse = root / "warehouse.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        for name in ("TRIAL_EVENTS_PATH", "TRIAL_WAREHOUSE_PATH", "TRIAL_GATEWAY"):
            patch.delenv(name, raising=False)
        context = open_context(project, events_path=events, warehouse_path=warehouse)
        build(context, skip_tests=True)  # the YAML unit tests have their own test (test_sqlmesh_checks.py)
    return context, given, warehouse


def _cli(capsys, context, warehouse, *argv) -> tuple[int, str, str]:
    status = main([*argv, "--project", str(context.path), "--warehouse", str(warehouse)])
    out, err = capsys.readouterr()
    return status, out, err


# --- names with LIKE wildcards are matched as themselves -----------------------------------------


def test_each_activity_and_family_candidate_is_completed_by_exactly_the_organizations_with_that_activity(hostile):
    """Each hostile activity is on its own organizations only, all unconverted, on trial day 1: its
    at_least_1 candidate of days 0-13, and its family's, are completed by exactly those."""
    context, given, _ = hostile
    candidates = context.fetchdf("SELECT candidate_id, completed FROM marts.candidate_goals").set_index("candidate_id")
    for activity, organizations in given.items():
        family = like_literal(activity[: activity.index(".") + 1]) + "%"
        for pattern in (like_literal(activity), family):
            candidate = f"{pattern}|0-13|at_least_1"
            assert candidate in candidates.index, candidate
            assert candidates.completed[candidate] == len(organizations), candidate


@pytest.fixture(scope="module")
def adopted(hostile):
    """The wildcard-named activity's candidate adopted as a goal: its seed row appended to the goal seed
    and planned into a dev environment. Returns the new goal's id."""
    context, _, _ = hostile
    candidate = f"{like_literal(WILDCARD_ACTIVITY)}|0-13|at_least_1"
    seed_row = context.fetchdf(
        f"SELECT seed_row FROM marts.candidate_goals WHERE candidate_id = {_sql_string(candidate)}"
    ).seed_row[0]
    seed = context.path / "seeds" / "activation_goals.csv"
    plan_dev_with_edit(context, DEV, seed, (seed.read_text() + seed_row + "\n").encode())
    return next(csv.reader([seed_row]))[0]


def test_a_wildcard_named_candidate_adopted_through_its_seed_row_completes_exactly_its_organizations(hostile, adopted):
    context, given, _ = hostile
    completed = context.fetchdf(
        f"SELECT organization_id FROM marts__{DEV}.trial_goals"
        f" WHERE goal_id = {_sql_string(adopted)} AND is_completed"
    ).organization_id
    assert sorted(completed) == sorted(given[WILDCARD_ACTIVITY])


def test_goal_patterns_stay_like_patterns(hostile):
    """A goal's own activity_pattern is a LIKE pattern: the default goals' % still counts every activity."""
    context, _, _ = hostile
    events = context.fetchdf(
        "SELECT COUNT(*) AS n FROM marts.trial_goals WHERE goal_id = 'week_1_activity' AND metric_value > 0"
    ).n[0]
    active = context.fetchdf(
        "SELECT COUNT(DISTINCT organization_id) AS n FROM intermediate.org_days WHERE in_trial_events > 0 AND trial_day BETWEEN 0 AND 6"
    ).n[0]
    assert events == active > 0


def test_quotes_and_sql_in_names_are_stored_as_data(hostile):
    context, given, _ = hostile
    names = set(context.fetchdf("SELECT DISTINCT activity_name FROM staging.trial_events").activity_name)
    assert set(given) <= names
    assert set(context.fetchdf("SELECT description FROM staging.activation_goals").description) >= {HOSTILE_DESCRIPTION}
    assert set(HOSTILE_ORGANIZATIONS) <= set(
        context.fetchdf("SELECT organization_id FROM marts.trial_activation").organization_id
    )
    assert context.fetchdf("SELECT COUNT(*) AS n FROM raw.trial_events").n[0] > 0  # not dropped


# --- the report: names drawn as plain text, escaped in HTML ---------------------------------------


class _Page(HTMLParser):
    """Every tag and attribute of a page, the text of its SVG <text> elements and all of its text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[str]]] = []
        self.svg_texts: list[str] = []
        self.text: list[str] = []
        self._in_svg_text = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, [name for name, _ in attrs]))
        self._in_svg_text = tag == "text"

    def handle_endtag(self, tag):
        if tag == "text":
            self._in_svg_text = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_svg_text:
            self.svg_texts.append(data)


@pytest.mark.parametrize("compared", [False, True], ids=["prod", "prod_vs_dev"])
def test_report_draws_every_name_as_written_and_runs_nothing(hostile, adopted, tmp_path, capsys, compared):
    context, _, warehouse = hostile
    out = tmp_path / "report.html"
    options = ["--compare", f"prod:{DEV}"] if compared else []

    status, _, err = _cli(capsys, context, warehouse, "report", "--out", str(out), *options)

    assert status == 0, err
    page = _Page()
    page.feed(out.read_text(encoding="utf-8"))
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"script", "img", "iframe"}, tags
    assert not [(tag, attrs) for tag, attrs in page.tags if any(a.startswith("on") or a == "src" for a in attrs)]
    text = "".join(page.text)
    for name in [*GOAL_NAMES.values(), HOSTILE_DESCRIPTION]:
        assert name in text, name
    # In the charts (SVG text, svg.fonttype none) each goal name is one text run, as written: not TeX.
    for name in GOAL_NAMES.values():
        assert name in page.svg_texts, name
    assert f"+ {GOAL_NAMES['week_2_activity']}" in page.svg_texts  # the funnel's step


def test_compare_prints_names_as_data(hostile, adopted, capsys):
    context, _, warehouse = hostile

    status, out, err = _cli(capsys, context, warehouse, "compare", "--source", "prod", "--target", DEV, "--sample", "1000")

    assert status == 0, err
    # The adopted goal makes activation harder: organizations are lost, listed by id as they are.
    lost = set(context.fetchdf(
        f"SELECT organization_id FROM marts.trial_activation WHERE is_activated"
        f" EXCEPT SELECT organization_id FROM marts__{DEV}.trial_activation WHERE is_activated"
    ).organization_id)
    assert lost and all(organization in out for organization in lost)


# --- the exports: raw values for tools, formulas marked as text on request -------------------------


def _csv_columns(path: Path) -> dict[str, list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return {name: [row[i] for row in rows[1:]] for i, name in enumerate(rows[0])}


def _mart_text(context, model: str, column: str) -> list[str]:
    values = context.fetchdf(f'SELECT "{column}" AS v FROM {model}').v
    return ["" if value is None else str(value) for value in values]


def test_csv_and_parquet_exports_keep_every_value_as_it_is(hostile, tmp_path, capsys):
    context, _, warehouse = hostile
    for file_format in ("csv", "parquet"):
        out = tmp_path / file_format
        status, _, err = _cli(capsys, context, warehouse, "export", "--format", file_format, "--out", str(out))
        assert status == 0, err
    manifest = json.loads((tmp_path / "csv" / "manifest.json").read_text())
    assert manifest["spreadsheet_safe"] is False

    for model, column in (("marts.trial_activation", "organization_id"), ("marts.trial_goals", "goal_name"),
                          ("marts.activation_funnel", "step_name"), ("marts.candidate_goals", "activity_pattern")):
        expected = sorted(_mart_text(context, model, column))
        name = model.split(".")[1]
        assert sorted(_csv_columns(tmp_path / "csv" / f"{name}.csv")[column]) == expected, model
        with duckdb.connect() as reader:
            parquet_file = str(tmp_path / "parquet" / f"{name}.parquet")
            parquet = reader.execute(f'SELECT "{column}" FROM read_parquet(?)', [parquet_file]).fetchall()
        assert sorted("" if v is None else v for (v,) in parquet) == expected, model
    organizations = _csv_columns(tmp_path / "csv" / "trial_activation.csv")["organization_id"]
    assert set(HOSTILE_ORGANIZATIONS) <= set(organizations)


def test_spreadsheet_safe_csv_marks_every_formula_like_text_cell_and_nothing_else(hostile, tmp_path, capsys):
    context, _, warehouse = hostile
    raw, safe = tmp_path / "raw", tmp_path / "safe"
    assert _cli(capsys, context, warehouse, "export", "--format", "csv", "--out", str(raw))[0] == 0
    status, _, err = _cli(capsys, context, warehouse, "export", "--format", "csv", "--out", str(safe), "--spreadsheet-safe")
    assert status == 0, err

    manifest = json.loads((safe / "manifest.json").read_text())
    assert manifest["spreadsheet_safe"] is True
    marked = 0
    for entry in manifest["models"]:
        raw_columns, safe_columns = _csv_columns(raw / entry["file"]), _csv_columns(safe / entry["file"])
        for column in entry["columns"]:
            before, after = raw_columns[column["name"]], safe_columns[column["name"]]
            if column["type"] != "VARCHAR":
                assert after == before, (entry["file"], column["name"])  # numbers, -0.05 included, untouched
                continue
            assert after == [f"'{v}" if v.startswith(FORMULA_STARTS) else v for v in before], (entry["file"], column["name"])
            assert not any(v.startswith(FORMULA_STARTS) for v in after)
            marked += sum(v != w for v, w in zip(before, after))
    assert marked > 0  # the hostile ids and names, and the funnel's "+ ..." steps
    assert "'=1+2" in _csv_columns(safe / "trial_activation.csv")["organization_id"]


def test_export_does_not_write_through_a_planted_symlink(hostile, tmp_path):
    """Someone who can write into a shared output folder plants links where the export used to put its
    temporary files (.<file>.<pid>.tmp) and at manifest.json: no file they point to is written."""
    context, _, _ = hostile
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    out = tmp_path / "shared"
    out.mkdir()
    names = ["manifest.json", *(f"{model.split('.')[1]}.csv" for model in
                                context.fetchdf("SELECT 'marts.' || table_name AS m FROM information_schema.tables"
                                                " WHERE table_schema = 'marts'").m)]
    for name in names:
        os.symlink(victim, out / f".{name}.{os.getpid()}.tmp")
    os.symlink(victim, out / "manifest.json")

    manifest = export_marts(context, "prod", "csv", out)

    assert victim.read_text() == "keep me\n"
    assert not (out / "manifest.json").is_symlink()
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert all((out / entry["file"]).is_file() and not (out / entry["file"]).is_symlink() for entry in manifest["models"])


def test_report_does_not_write_through_a_planted_symlink(hostile, tmp_path, capsys):
    context, _, warehouse = hostile
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    out = tmp_path / "shared" / "report.html"
    out.parent.mkdir()
    os.symlink(victim, out)

    status, _, err = _cli(capsys, context, warehouse, "report", "--out", str(out))

    assert status == 0, err
    assert victim.read_text() == "keep me\n"
    assert not out.is_symlink() and out.read_text(encoding="utf-8").startswith("<!")
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.html"]  # no temporary file left


# --- errors a setting can cause: one line, no traceback ------------------------------------------


def _assert_one_line(status: int, err: str, command: str, *expected: str) -> None:
    assert status == 1, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"trial-activation {command}: "), err
    for part in expected:
        assert part in err, err


def test_export_onto_a_file_is_one_line(hostile, tmp_path, capsys):
    context, _, warehouse = hostile
    existing = tmp_path / "exports"
    existing.write_text("not a folder\n")

    status, _, err = _cli(capsys, context, warehouse, "export", "--format", "csv", "--out", str(existing))

    _assert_one_line(status, err, "export", str(existing), "is a file, not a folder")
    assert existing.read_text() == "not a folder\n"


def test_spreadsheet_safe_parquet_is_one_line(hostile, tmp_path, capsys):
    context, _, warehouse = hostile
    status, _, err = _cli(
        capsys, context, warehouse, "export", "--format", "parquet", "--out", str(tmp_path / "p"), "--spreadsheet-safe"
    )
    _assert_one_line(status, err, "export", "--spreadsheet-safe", "--format csv")


def test_report_onto_a_folder_is_one_line(hostile, tmp_path, capsys):
    context, _, warehouse = hostile
    status, _, err = _cli(capsys, context, warehouse, "report", "--out", str(tmp_path))
    _assert_one_line(status, err, "report", str(tmp_path))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _no_password_anywhere(password: str, out: str, err: str, project: Path) -> None:
    """Not in the output, nor in a log SQLMesh wrote under the project."""
    assert password not in out and password not in err
    for path in project.rglob("*.log"):
        assert password not in path.read_text(errors="replace"), path


def test_unreachable_postgres_is_one_line_without_the_password(project_copy, tmp_path, capsys, monkeypatch):
    password = "hostile-secret-41"
    port = _free_port()  # nobody listens on it
    for name, value in (("TRIAL_GATEWAY", "postgres"), ("TRIAL_PG_HOST", "127.0.0.1"), ("TRIAL_PG_PORT", str(port)),
                        ("TRIAL_PG_USER", "postgres"), ("TRIAL_PG_PASSWORD", password), ("TRIAL_PG_DATABASE", "postgres")):
        monkeypatch.setenv(name, value)

    status = main(["build", "--project", str(project_copy), "--warehouse", str(tmp_path / "w.duckdb")])
    out, err = capsys.readouterr()

    _assert_one_line(status, err, "build", "PostgreSQL", f"port {port}", "TRIAL_PG_PORT")
    _no_password_anywhere(password, out, err, project_copy)


def test_postgres_refusing_the_password_is_one_line_without_the_password(project_copy, tmp_path, capsys, monkeypatch):
    needed = ("TRIAL_PG_HOST", "TRIAL_PG_PORT", "TRIAL_PG_USER", "TRIAL_PG_PASSWORD")
    if not all(os.environ.get(name) for name in needed):
        pytest.fail(
            "needs a PostgreSQL server with password authentication: run `bash .ci/run`, or `source .ci/postgres.sh"
            f" && start_test_postgres` (which exports {', '.join(needed)})"
        )
    real = os.environ["TRIAL_PG_PASSWORD"]
    wrong = f"{real}-not-it"
    monkeypatch.setenv("TRIAL_GATEWAY", "postgres")
    monkeypatch.setenv("TRIAL_PG_PASSWORD", wrong)

    status = main(["summary", "--project", str(project_copy), "--warehouse", str(tmp_path / "w.duckdb")])
    out, err = capsys.readouterr()

    assert "does not exist" not in err, "the server accepted a wrong password: it must ask for one (.ci/postgres.sh)"
    _assert_one_line(status, err, "summary", "PostgreSQL", "password authentication failed", "TRIAL_PG_PASSWORD")
    _no_password_anywhere(wrong, out, err, project_copy)
    _no_password_anywhere(real, out, err, project_copy)
    # sqlmesh itself, refused, and then connected with --debug: neither its output nor its logs hold the password.
    logs = tmp_path / "sqlmesh-logs"
    for password, argv in ((wrong, ["plan", "--no-prompts"]), (real, ["--debug", "info"])):
        done = subprocess.run(
            [str(Path(sys.executable).parent / "sqlmesh"), "--log-file-dir", str(logs), *argv],
            cwd=project_copy, capture_output=True, text=True, timeout=300,
            env={**os.environ, "TRIAL_PG_PASSWORD": password, "TRIAL_WAREHOUSE_PATH": str(tmp_path / "w.duckdb")},
        )
        assert list(logs.glob("*.log")), done.stderr[-2000:]
        _no_password_anywhere(password, done.stdout, done.stderr, logs)


@pytest.mark.parametrize("port", ['"5432', "5432\nhost: elsewhere", "five"], ids=["quote", "newline", "word"])
def test_a_stray_postgres_port_is_one_line(project_copy, tmp_path, capsys, monkeypatch, port):
    """config.yaml writes TRIAL_PG_PORT through tojson like every variable: a stray value is a config
    error naming the field, not a YAML ScannerError, and a newline cannot add keys (host here)."""
    password = "hostile-secret-42"
    monkeypatch.setenv("TRIAL_GATEWAY", "postgres")
    monkeypatch.setenv("TRIAL_PG_PORT", port)
    monkeypatch.setenv("TRIAL_PG_PASSWORD", password)

    status = main(["summary", "--project", str(project_copy), "--warehouse", str(tmp_path / "w.duckdb")])
    out, err = capsys.readouterr()

    _assert_one_line(status, err, "summary", "'port'")
    _no_password_anywhere(password, out, err, project_copy)


def test_every_value_config_yaml_takes_from_the_environment_is_quoted_by_tojson():
    """The rule the stray port broke, over the whole file: each env_var written into config.yaml as a
    value goes through tojson (a comparison in an {% if %} writes nothing)."""
    config = (PROJECT_ROOT / "config.yaml").read_text()
    written = re.findall(r"{{(.*?)}}", config)

    assert written and all("env_var(" not in value or value.rstrip().endswith("| tojson") for value in written), [
        value for value in written if "env_var(" in value and not value.rstrip().endswith("| tojson")
    ]


# --- the project is the folder you stand in --------------------------------------------------------


def test_the_cli_works_on_the_copy_of_the_project_it_runs_in_and_says_so(project_copy, capsys, monkeypatch):
    monkeypatch.chdir(project_copy / "models")  # inside a second copy, below its root
    monkeypatch.setenv("TRIAL_WAREHOUSE_PATH", "warehouse/second_copy.duckdb")

    status = main(["summary", "-e", "nosuchenv"])
    out, err = capsys.readouterr()

    assert out.splitlines() == [f"project: {project_copy}"]
    # summary only reads: it looked for the warehouse in this copy (relative to its root) and created none.
    _assert_one_line(status, err, "summary", f"no warehouse at {project_copy / 'warehouse' / 'second_copy.duckdb'}")
    assert not (PROJECT_ROOT / "warehouse" / "second_copy.duckdb").exists()


def test_outside_any_copy_the_cli_falls_back_to_its_checkout(tmp_path):
    (tmp_path / "config.yaml").write_text("# another tool's config\n")  # not this project's
    assert find_project(tmp_path) == PROJECT_ROOT
    assert find_project(PROJECT_ROOT / "models" / "marts") == PROJECT_ROOT


# --- what holds already, pinned --------------------------------------------------------------------


def test_sqlmesh_ui_listens_on_loopback_by_default():
    from sqlmesh.cli.main import cli

    host = next(param for param in cli.commands["ui"].params if param.name == "host")
    assert host.default == "127.0.0.1"


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
