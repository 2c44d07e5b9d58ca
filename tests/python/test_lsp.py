"""SQLMesh's language server (`sqlmesh_lsp`, the `lsp` extra), driven over stdio as an editor drives it.

The server runs on a copy of the project, with its warehouse in a temporary directory, and is
spoken to with the small client of lsp_client.py: initialize with the copy as workspace folder,
open models/marts/trial_activation.sql, then ask what an editor asks. Every expected value is read
from the project's files (the model's leading comment, its column comments, the file tree, the
macros), never from the server.

What sqlmesh_lsp 0.236.4 does, from its source (sqlmesh/lsp/main.py) and checked here:
- `initialize` loads the project found at the root of a workspace folder (config.yaml) before it
  answers, and says `Loaded SQLMesh Context` (window/showMessage); without workspace folders it
  loads it when the first model is opened, from the nearest config.yaml above the file;
- hover and go-to-definition work on a model name in FROM / JOIN; completion offers every model of
  the project but the file's own, the macros and SQL keywords, wherever the cursor is;
- diagnostics are SQLMesh's linter run on the saved file: published on didOpen and on didSave
  (which reloads the project from disk), not on didChange; a reference to a model that does not
  exist is the `nomissingexternalmodels` rule (config.yaml turns every rule on);
- formatting returns the buffer formatted as `sqlmesh format` formats files.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from lsp_client import LspClient
from trial_activation.testing import SAMPLE_LOG, copy_project

MODEL_FILE = Path("models/marts/trial_activation.sql")  # the model opened in the editor
UPSTREAM = "marts.trial_goals"  # a model it references
UPSTREAM_FILE = Path("models/marts/trial_goals.sql")
BROKEN = "marts.trial_goalz"  # a model that does not exist
LOAD_TIMEOUT = 180  # loading the project: about 4 s warm, 11 s cold, more on 2 busy cores

REFERENCE_KIND = 18  # CompletionItemKind.Reference: what sqlmesh_lsp gives model names
FUNCTION_KIND = 3  # CompletionItemKind.Function: macros
KEYWORD_KIND = 14  # CompletionItemKind.Keyword: SQL keywords and the file's identifiers
SEVERITY_ERROR = 1


# -- the server --------------------------------------------------------------------------------------


def sqlmesh_lsp_command() -> list[str]:
    """The `sqlmesh_lsp` console script of the running interpreter's environment (the lsp extra)."""
    script = Path(sys.executable).with_name("sqlmesh_lsp")
    if not script.is_file():
        pytest.fail(f"no sqlmesh_lsp next to {sys.executable}: install the project with its lsp extra (pip install -e .)")
    return [str(script)]


def start_server(project: Path, workdir: Path, *, workspace_folders: bool = True) -> tuple[LspClient, dict, float]:
    """Start sqlmesh_lsp on `project` and initialize it as an editor does (with the project as
    workspace folder, or, if not `workspace_folders`, with rootUri alone and run from `workdir`).

    Returns the client, the initialize result and how long initialize took (the project loads then).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    env = {name: value for name, value in os.environ.items() if not name.startswith("TRIAL_")}
    env |= {
        "TRIAL_WAREHOUSE_PATH": str(workdir / "warehouse.duckdb"),  # outside the project copy
        "TRIAL_EVENTS_PATH": str(SAMPLE_LOG.resolve()),
    }
    cwd = project if workspace_folders else workdir
    client = LspClient(sqlmesh_lsp_command(), cwd=cwd, env=env, stderr_path=workdir / "sqlmesh_lsp.stderr")
    params = {
        "processId": os.getpid(),
        "rootUri": project.as_uri(),
        # No textDocument.diagnostic capability: the server then pushes diagnostics
        # (textDocument/publishDiagnostics), which is what an editor without pull diagnostics gets.
        "capabilities": {"textDocument": {"hover": {"contentFormat": ["markdown", "plaintext"]}}},
        "clientInfo": {"name": "trial-activation test"},
    }
    if workspace_folders:  # the server loads the project from here, before it answers; rootUri alone does not
        params["workspaceFolders"] = [{"uri": project.as_uri(), "name": project.name}]
    try:
        started = time.monotonic()
        result = client.request("initialize", params, timeout=LOAD_TIMEOUT)
        load_seconds = time.monotonic() - started
        client.notify("initialized", {})
        return client, result, load_seconds
    except BaseException:
        client.close()
        raise


def open_document(client: LspClient, path: Path, text: str | None = None) -> str:
    """didOpen `path` (with `text`, or its content on disk); returns its URI."""
    uri = path.as_uri()
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "sql", "version": 1, "text": path.read_text() if text is None else text}},
    )
    return uri


def change_document(client: LspClient, uri: str, version: int, text: str) -> None:
    """didChange with the whole new text, as the editor sends an unsaved edit."""
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]},
    )


def diagnostics_for(uri: str):
    return lambda params: params["uri"] == uri


@pytest.fixture(scope="module")
def editor(tmp_path_factory):
    """The server on a copy of the project, initialized, with MODEL_FILE open. Yields
    (client, project, initialize result, load seconds, diagnostics published on open)."""
    root = tmp_path_factory.mktemp("lsp")
    project = copy_project(root / "project")
    client, result, load_seconds = start_server(project, root / "server")
    print(f"\nsqlmesh_lsp loaded the project in {load_seconds:.1f}s")
    try:
        uri = open_document(client, project / MODEL_FILE)
        opened = client.wait_for_notification("textDocument/publishDiagnostics", diagnostics_for(uri), timeout=LOAD_TIMEOUT)
        yield client, project, result, load_seconds, opened
    finally:
        code = client.close()
        print(f"sqlmesh_lsp exited with code {code}")


# -- what the project's files say (the expected values) -------------------------------------------


def position_of(text: str, needle: str) -> tuple[int, int]:
    """(line, character) of the first occurrence of `needle` in `text` (ASCII text: UTF-16 units = characters)."""
    for line_number, line in enumerate(text.splitlines()):
        if needle in line:
            return line_number, line.index(needle)
    raise AssertionError(f"{needle!r} not in the text")


def upstream_in_model(project: Path) -> tuple[int, int]:
    """(line, character) where the opened model names UPSTREAM after FROM: where the editor's cursor goes."""
    line, start = position_of((project / MODEL_FILE).read_text(), f"FROM {UPSTREAM}")
    return line, start + len("FROM ")


def request_on_upstream(client: LspClient, project: Path, method: str, offset: int, **params) -> object:
    """The answer to `method` with the cursor `offset` characters into the opened model's UPSTREAM."""
    line, start = upstream_in_model(project)
    position = {"line": line, "character": start + offset}
    return client.request(method, {"textDocument": {"uri": (project / MODEL_FILE).as_uri()}, "position": position, **params})


def span(line: int, start: int, length: int) -> dict:
    return {"start": {"line": line, "character": start}, "end": {"line": line, "character": start + length}}


def leading_comment(path: Path) -> str:
    """The /* ... */ comment before MODEL (SQLMesh makes it the model's description), whitespace collapsed."""
    match = re.match(r"\s*/\*(.*?)\*/\s*MODEL\b", path.read_text(), re.DOTALL)
    assert match, f"{path} has no comment before MODEL"
    return " ".join(match.group(1).split())


def column_comments(path: Path) -> list[tuple[str, str]]:
    """(column, comment) of each `column, /* comment */` line of the model's final SELECT."""
    final_select = path.read_text().rsplit("\nSELECT\n", 1)[1].split("\nFROM ", 1)[0]
    pairs = re.findall(r"(\w+),?\s*/\*\s*(.*?)\s*\*/\s*$", final_select, re.MULTILINE)
    assert pairs, f"no commented columns in {path}'s final SELECT"
    return pairs


def project_models(project: Path) -> set[str]:
    """Model names from the file tree: every path mirrors its name (models/<schema>/<name>.sql|.py)."""
    return {f"{p.parent.name}.{p.stem}" for p in (project / "models").glob("*/*") if p.suffix in (".sql", ".py")}


def project_macros(project: Path) -> set[str]:
    return {
        name
        for path in (project / "macros").glob("*.py")
        for name in re.findall(r"^@macro\(\)\s*\ndef (\w+)", path.read_text(), re.MULTILINE)
    }


def path_of(uri: str) -> Path:
    parsed = urlparse(uri)
    assert parsed.scheme == "file", uri
    return Path(unquote(parsed.path)).resolve()


# -- the tests -----------------------------------------------------------------------------------


def test_initialize_loads_the_project(editor):
    client, project, result, load_seconds, opened = editor
    assert result["serverInfo"]["name"] == "sqlmesh_lsp"
    capabilities = result["capabilities"]
    for capability in ("hoverProvider", "definitionProvider", "completionProvider", "documentFormattingProvider"):
        assert capabilities.get(capability), f"{capability} not advertised: {capabilities}"
    # The project was loaded from the workspace folder before initialize answered.
    messages = [n["params"]["message"] for n in client.notifications if n["method"] == "window/showMessage"]
    assert "Loaded SQLMesh Context" in messages, messages
    assert not [m for m in messages if "error" in m.lower()], messages
    # Opening a model publishes its lint diagnostics: none, the project is lint-clean with every rule
    # on (what test_sqlmesh_checks.py's `sqlmesh lint` pins).
    assert path_of(opened["uri"]) == (project / MODEL_FILE).resolve()
    assert opened["diagnostics"] == []


def test_hover_on_a_model_shows_its_description_and_columns(editor):
    client, project, *_ = editor
    line, start = upstream_in_model(project)
    hover = request_on_upstream(client, project, "textDocument/hover", 8)
    assert hover is not None, f"no hover on {UPSTREAM}"
    assert hover["range"] == span(line, start, len(UPSTREAM))
    assert hover["contents"]["kind"] == "markdown"
    description, _, table = hover["contents"]["value"].partition("\n\n")
    # The description is the comment before MODEL in models/marts/trial_goals.sql.
    assert " ".join(description.split()) == leading_comment(project / UPSTREAM_FILE)
    # Then a Markdown table of its columns, with each column's comment.
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| Column |")]
    shown = [(cells[0], cells[2]) for cells in ([c.strip() for c in row.strip("|").split("|")] for row in rows)]
    assert shown == column_comments(project / UPSTREAM_FILE)


def test_go_to_definition_opens_the_upstream_model_file(editor):
    client, project, *_ = editor
    line, start = upstream_in_model(project)
    links = request_on_upstream(client, project, "textDocument/definition", 3)
    assert len(links) == 1, links
    (link,) = links
    assert path_of(link["targetUri"]) == (project / UPSTREAM_FILE).resolve()
    assert link["targetRange"]["start"] == {"line": 0, "character": 0}  # the top of the file
    assert link["originSelectionRange"] == span(line, start, len(UPSTREAM))


def test_find_references_lists_every_model_that_reads_it(editor):
    client, project, *_ = editor
    locations = request_on_upstream(client, project, "textDocument/references", 1, context={"includeDeclaration": True})
    found = {(path_of(loc["uri"]), loc["range"]["start"]["line"], loc["range"]["start"]["character"]) for loc in locations}
    # Every FROM / JOIN of the model in a SQL model, and its own file (the declaration, at its top).
    expected = {((project / UPSTREAM_FILE).resolve(), 0, 0)}
    for path in (project / "models").glob("*/*.sql"):
        for number, source_line in enumerate(path.read_text().splitlines()):
            for match in re.finditer(rf"\b(?:FROM|JOIN)\s+({re.escape(UPSTREAM)})\b", source_line):
                expected.add((path.resolve(), number, match.start(1)))
    assert len(expected) >= 4, expected  # trial_activation, activation_funnel, goal_conversion_counts and itself
    assert found == expected


def test_completion_offers_the_project_models_and_macros(editor):
    client, project, *_ = editor
    path = project / MODEL_FILE
    uri, text = path.as_uri(), path.read_text()
    # The analyst is typing the model name: `FROM marts.trial_g|` (an unsaved edit).
    typing = text.replace(f"FROM {UPSTREAM}", "FROM marts.trial_g", 1)
    line, start = position_of(typing, "FROM marts.trial_g")
    change_document(client, uri, 2, typing)
    try:
        completion = client.request(
            "textDocument/completion",
            {"textDocument": {"uri": uri}, "position": {"line": line, "character": start + len("FROM marts.trial_g")}},
        )
    finally:
        change_document(client, uri, 3, text)  # back to the file's text for the other tests
    items = completion["items"] if isinstance(completion, dict) else completion
    by_label = {item["label"]: item for item in items}
    assert UPSTREAM in by_label, f"{UPSTREAM} not offered"
    assert by_label[UPSTREAM]["kind"] == REFERENCE_KIND
    assert by_label[UPSTREAM]["detail"] == "SQLMesh Model"
    # Its documentation is the model's description, as on hover.
    assert leading_comment(project / UPSTREAM_FILE) in " ".join(by_label[UPSTREAM]["documentation"]["value"].split())
    # Every model of the project is offered, except the one the file itself defines.
    models = {item["label"] for item in items if item.get("kind") == REFERENCE_KIND}
    assert models == project_models(project) - {"marts.trial_activation"}
    # So are the project's macros (as @name), next to SQLMesh's own and the SQL keywords.
    macros = {item["label"] for item in items if item.get("kind") == FUNCTION_KIND}
    ours = {f"@{name}" for name in project_macros(project)}
    assert "@trial_day" in ours  # used by this model, defined in macros/trial_time.py
    assert ours <= macros, ours - macros
    assert "@each" in macros  # one of SQLMesh's own
    # And keywords: SQL's, and the identifiers of the buffer as typed (trial_g is in no file).
    keywords = {item["label"] for item in items if item.get("kind") == KEYWORD_KIND}
    assert {"SELECT", "FROM", "activation_score", "trial_g"} <= keywords


def test_formatting_formats_the_buffer_as_sqlmesh_format(editor):
    client, project, *_ = editor
    path = project / UPSTREAM_FILE
    # The committed file is `sqlmesh format --check` clean (test_sqlmesh_checks.py). The buffer is that
    # file with a column comment edited (which formatting keeps: the edit shows that the buffer, not
    # the file on disk, is formatted) and its clause keywords typed in lower case, not saved.
    edited = path.read_text().replace("/* human-readable goal name */", "/* the goal's name, edited */", 1)
    sloppy, changed = re.subn(
        r"^(\s*)(WITH|SELECT|FROM|INNER JOIN|LEFT JOIN)\b", lambda m: m.group(1) + m.group(2).lower(), edited, flags=re.MULTILINE
    )
    assert changed >= 5 and sloppy != edited and "edited */" in sloppy
    uri = open_document(client, path, sloppy)
    try:
        edits = client.request(
            "textDocument/formatting", {"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": True}}
        )
    finally:
        client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert len(edits) == 1, edits
    (edit,) = edits
    assert edit["range"]["start"] == {"line": 0, "character": 0}
    assert edit["range"]["end"]["line"] >= len(sloppy.splitlines()) - 1  # the whole buffer
    assert edit["newText"].rstrip("\n") == edited.rstrip("\n")


def test_the_editing_requests_leave_the_warehouse_alone(editor):
    """Runs after the tests above on the shared server: none of their requests opened the warehouse
    (the file was never created), so the server holds no DuckDB lock while an editor is open."""
    client, project, *_ = editor
    assert client.process.poll() is None, "the server died"
    warehouse = project.parent / "server" / "warehouse.duckdb"
    assert not warehouse.exists()
    open_files = [os.readlink(fd) for fd in Path(f"/proc/{client.process.pid}/fd").iterdir()]
    assert not [f for f in open_files if f.endswith(".duckdb")], open_files


def test_a_reference_to_a_missing_model_is_diagnosed_on_save(tmp_path):
    """Its own server: this test edits the model file."""
    project = copy_project(tmp_path / "project")
    client, _, load_seconds = start_server(project, tmp_path / "server")
    print(f"\nsqlmesh_lsp loaded the project in {load_seconds:.1f}s")
    try:
        path = project / MODEL_FILE
        text = path.read_text()
        uri = open_document(client, path)
        opened = client.wait_for_notification("textDocument/publishDiagnostics", diagnostics_for(uri), timeout=LOAD_TIMEOUT)
        assert opened["diagnostics"] == []

        broken = text.replace(f"FROM {UPSTREAM}", f"FROM {BROKEN}", 1)
        assert broken != text
        line, start = position_of(broken, f"FROM {BROKEN}")
        start += len("FROM ")

        # An unsaved edit is not linted: no diagnostics come before the answer to the next request
        # (the server handles messages in order).
        before_change = len(client.notifications)
        change_document(client, uri, 2, broken)
        client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}})
        assert [n for n in client.notifications[before_change:] if n["method"] == "textDocument/publishDiagnostics"] == []

        # Saving it does: the server reloads the project from disk and lints the saved model.
        path.write_text(broken)
        before_save = len(client.notifications)
        client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
        saved = client.wait_for_notification(
            "textDocument/publishDiagnostics", diagnostics_for(uri), after=before_save, timeout=LOAD_TIMEOUT
        )
        assert len(saved["diagnostics"]) == 1, saved["diagnostics"]
        (diagnostic,) = saved["diagnostics"]
        assert diagnostic["range"] == span(line, start, len(BROKEN))  # underlines the reference
        assert diagnostic["severity"] == SEVERITY_ERROR
        assert diagnostic["source"] == "sqlmesh"
        assert diagnostic["code"] == "nomissingexternalmodels"
        assert '"marts"."trial_goalz"' in diagnostic["message"]
        assert "unregistered external model" in diagnostic["message"]

        # An editor that pulls diagnostics (textDocument/diagnostic, LSP 3.17) gets the same.
        pulled = client.request("textDocument/diagnostic", {"textDocument": {"uri": uri}})
        assert pulled["kind"] == "full"
        assert pulled["items"] == saved["diagnostics"]

        # Fixing the file and saving again clears it.
        path.write_text(text)
        before_fix = len(client.notifications)
        client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
        fixed = client.wait_for_notification(
            "textDocument/publishDiagnostics", diagnostics_for(uri), after=before_fix, timeout=LOAD_TIMEOUT
        )
        assert fixed["diagnostics"] == []

        # None of this opened the warehouse (it was never even created), so the server holds no DuckDB
        # lock: `sqlmesh plan` and `trial-activation build` can run while the editor is open.
        assert not (tmp_path / "server" / "warehouse.duckdb").exists()
    finally:
        code = client.close()
        print(f"sqlmesh_lsp exited with code {code}")


def test_without_workspace_folders_the_project_loads_when_a_model_is_opened(tmp_path):
    """An editor that sends rootUri alone: the server loads nothing at initialize, then finds the
    project from the first opened model, walking up from its folder to config.yaml (run from
    outside the project, so not from its working directory)."""
    project = copy_project(tmp_path / "project")
    client, _, _ = start_server(project, tmp_path / "server", workspace_folders=False)
    try:
        loaded = lambda: [n for n in client.notifications if n["method"] == "window/showMessage"]  # noqa: E731
        assert loaded() == []  # nothing loaded yet
        path = project / MODEL_FILE
        uri = open_document(client, path)
        opened = client.wait_for_notification("textDocument/publishDiagnostics", diagnostics_for(uri), timeout=LOAD_TIMEOUT)
        assert opened["diagnostics"] == []
        assert [n["params"]["message"] for n in loaded()] == ["Loaded SQLMesh Context"]
        line, start = position_of(path.read_text(), f"FROM {UPSTREAM}")
        hover = client.request(
            "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": line, "character": start + len("FROM ") + 1}}
        )
        assert " ".join(hover["contents"]["value"].split("\n\n")[0].split()) == leading_comment(project / UPSTREAM_FILE)
    finally:
        client.close()
