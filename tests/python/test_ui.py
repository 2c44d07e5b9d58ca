"""The SQLMesh UI (`sqlmesh ui`), tested in a real browser.

Builds prod on a copy of the project, starts `sqlmesh ui` on it, and drives headless Chromium
(Debian's /usr/bin/chromium, through Playwright's Python API) through what a user does: the model
list, the page of marts.trial_activation (details, columns, lineage), the column-level lineage of
is_activated back to raw.trial_events, and the plan page. Screenshots go to pytest's tmp dir and are
copied to artifacts/ui/ (git-ignored).

Page state is awaited with Playwright's auto-waiting assertions (generous timeouts: 2 busy cores),
never with fixed sleeps.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest

from helpers import ARTIFACTS as ARTIFACTS_ROOT
from trial_activation.project import build, open_context
from trial_activation.testing import SAMPLE_LOG
from ui_server import CHROMIUM_ARGS, start_ui

MODEL = "marts.trial_activation"
COLUMN = "is_activated"
RAW = "raw.trial_events"
ARTIFACTS = ARTIFACTS_ROOT / "ui"
SCREENSHOTS = ("model_page", "column_lineage_page", "column_lineage_raw", "plan", "failure")
TIMEOUT_MS = 60_000  # first load on 2 busy cores takes 10-30 s


@pytest.fixture
def built_project(project_copy, tmp_path):
    """Prod built on the sample in a copy of the project; returns what the UI should show."""
    warehouse = tmp_path / "warehouse.duckdb"  # outside the project: the UI watches the project dir
    context = open_context(project_copy, events_path=SAMPLE_LOG, warehouse_path=warehouse)
    build(context)
    model = context.get_model(MODEL)
    expected = {
        "models": {m.name for m in context.models.values()},
        # The lineage graph shows the model's upstream and its downstream models (the insight marts).
        "lineage": {MODEL}
        | {context.get_model(fqn).name for fqn in [*context.dag.upstream(model.fqn), *context.dag.downstream(model.fqn)]},
        "columns": dict(model.column_descriptions),
        "raw_columns": set(context.get_model(RAW).columns_to_types or {}),
    }
    context.close()  # release the DuckDB file: the UI server opens it next
    return project_copy, warehouse, expected


@pytest.fixture
def ui_server(built_project, tmp_path):
    project, warehouse, _ = built_project
    server = start_ui(
        project,
        {"TRIAL_WAREHOUSE_PATH": str(warehouse), "TRIAL_EVENTS_PATH": str(SAMPLE_LOG.resolve())},
        tmp_path / "ui",
    )
    try:
        yield server
    finally:
        server.stop()
        print(f"\nsqlmesh ui output: {server.output}")


def _node_name(data_id: str) -> str:
    """React Flow node id '%22catalog%22.%22schema%22.%22name%22' -> 'schema.name'."""
    return ".".join(part.strip('"') for part in unquote(data_id).split('"."')[1:])


def _node_width(node) -> float:
    return node.evaluate("e => e.getBoundingClientRect().width")


def _zoom_to(page, node, width: float = 140) -> None:
    """Zoom the lineage graph in (its + control) until `node` is `width` px wide, then pan it into view."""
    for _ in range(20):
        before = _node_width(node)
        if before >= width:
            break
        page.locator(".react-flow__controls-zoomin").click()
        page.wait_for_function("([e, w]) => e.getBoundingClientRect().width > w", arg=[node.element_handle(), before])
    box, pane = node.bounding_box(), page.locator(".react-flow__pane").bounding_box()
    # Drag an empty spot of the pane (no node, no panel on it) so that the node lands at 30% width,
    # mid height.
    start_x, start_y = page.evaluate(
        """([x0, y0, w, h]) => {
            for (let y = y0 + 60; y < y0 + h - 10; y += 20)
                for (let x = x0 + 80; x < x0 + w - 10; x += 20) {
                    const e = document.elementFromPoint(x, y);
                    if (e && e.classList.contains("react-flow__pane")) return [x, y];
                }
            throw new Error("no empty spot in the lineage pane");
        }""",
        [pane["x"], pane["y"], pane["width"], pane["height"]],
    )
    dx = pane["x"] + 0.3 * pane["width"] - (box["x"] + box["width"] / 2)
    dy = pane["y"] + 0.5 * pane["height"] - (box["y"] + box["height"] / 2)
    page.mouse.move(start_x, start_y)
    page.mouse.down()
    page.mouse.move(start_x + dx, start_y + dy, steps=10)
    page.mouse.up()


def test_ui_shows_models_lineage_and_plan(chromium, built_project, ui_server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    _, _, expected = built_project
    shots = tmp_path / "screenshots"  # outside the project dir, see ui_server.py
    shots.mkdir()
    for stale in SCREENSHOTS:
        (ARTIFACTS / f"{stale}.png").unlink(missing_ok=True)
    saved: list[Path] = []

    def screenshot(page, name: str, locator=None) -> None:
        path = shots / f"{name}.png"
        (locator or page).screenshot(path=str(path))
        saved.append(path)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 1400})
        page.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        try:
            # 1. The data catalog lists every model of the project.
            page.goto(f"{ui_server.url}/data-catalog", timeout=TIMEOUT_MS)
            items = page.locator("tbk-ui-source-list-item[search-value]")
            expect(items).to_have_count(len(expected["models"]))
            listed = {items.nth(i).get_attribute("search-value") for i in range(items.count())}
            assert listed == expected["models"]
            assert {MODEL, "marts.trial_goals", RAW} <= listed

            # 2. The model page of marts.trial_activation: details and described columns.
            page.locator(f'tbk-ui-source-list-item[search-value="{MODEL}"]').click()
            expect(page).to_have_url(f"{ui_server.url}/data-catalog/models/{MODEL}")
            expect(page.get_by_text("Model Details", exact=True)).to_be_visible()
            details = page.locator("tbk-metadata")
            expect(details.get_by_text("models/marts/trial_activation.sql", exact=True)).to_be_visible()
            page.get_by_text("Show 5 More").click()
            expect(details.get_by_text("FULL", exact=True)).to_be_visible()  # kind
            expect(page.get_by_text("Columns", exact=True)).to_be_visible()
            description = expected["columns"][COLUMN]
            assert description, f"{MODEL}.{COLUMN} has no description in the model"
            expect(page.get_by_text(description, exact=True).first).to_be_visible()
            first_column = next(iter(expected["columns"]))
            expect(page.get_by_text(expected["columns"][first_column], exact=True).first).to_be_visible()

            # 3. Its lineage graph: the model, every upstream model (raw.trial_events included) and its downstream.
            nodes = page.locator(".react-flow__node")
            expect(nodes).to_have_count(len(expected["lineage"]))
            shown = {_node_name(nodes.nth(i).get_attribute("data-id")) for i in range(nodes.count())}
            assert shown == expected["lineage"]
            assert RAW in shown
            expect(page.locator(".react-flow__edge").first).to_be_attached()
            page.locator(".react-flow__controls-fitview").click()
            screenshot(page, "model_page")

            # 4. Column-level lineage of is_activated, reaching raw.trial_events' columns.
            main_node = nodes.filter(has=page.locator(f'span[title="{MODEL}"]'))
            main_node.locator('input[placeholder="Filter items"]').fill(COLUMN)  # the list is virtualised
            with page.expect_response(lambda r: "/api/lineage/" in r.url and r.url.endswith(f"/{COLUMN}")) as info:
                main_node.locator("li", has=page.locator(f'span[title="{COLUMN}"]')).click()
            assert info.value.status == 200
            raw_handles = page.locator('.react-flow__handle[data-handleid^="right__"][data-handleid*="raw%22.%22trial_events%22__"]')
            expect(raw_handles.first).to_be_attached()
            raw_columns = {h.get_attribute("data-handleid").rsplit("__", 1)[1] for h in raw_handles.all()}
            print(f"\ncolumn lineage of {MODEL}.{COLUMN} reaches {RAW} columns: {sorted(raw_columns)}")
            assert raw_columns <= expected["raw_columns"]
            # Activation depends on when events happened relative to the trial start.
            assert {"timestamp", "trial_start"} <= raw_columns
            expect(page.locator('.react-flow__handle[data-handleid$="trial_goals%22__is_completed"]').first).to_be_attached()
            raw_node = nodes.filter(has=page.locator(f'span[title="{RAW}"]'))
            expect(raw_node.locator('span[title="timestamp"]')).to_be_visible()
            page.locator(".react-flow__controls-fitview").click()
            screenshot(page, "column_lineage_page")
            _zoom_to(page, raw_node)  # fit-to-view is too small to read: zoom in on raw.trial_events
            expect(raw_node.locator('span[title="timestamp"]')).to_be_in_viewport()
            screenshot(page, "column_lineage_raw", page.locator(".react-flow"))

            # 5. The plan page: prod was built, so there is nothing to apply.
            plan_button = page.locator('a[href="/plan"]', has_text="Plan")
            expect(plan_button).to_be_visible()
            plan_button.click()
            expect(page).to_have_url(f"{ui_server.url}/plan/environments/prod")
            expect(page.get_by_text("Prod Environment", exact=True)).to_be_visible()
            expect(page.get_by_text("No Backfills", exact=True)).to_be_visible()
            screenshot(page, "plan")
        except BaseException:
            try:
                screenshot(page, "failure")
            except Exception as error:  # the page itself may be what failed
                print(f"\nno failure screenshot: {error}")
            print(f"\nsqlmesh ui output (tail):\n{ui_server.output_tail()}")
            raise
        finally:
            browser.close()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            for path in saved:
                shutil.copy2(path, ARTIFACTS / path.name)
                print(f"screenshot: {ARTIFACTS / path.name} (also {path})")
