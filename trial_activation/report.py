"""The product team's report: one self-contained HTML file per environment (or two side by side).

    trial-activation report [-e ENV] [--out PATH]
    trial-activation report --compare prod:dev [--out PATH]

Every figure comes from the marts of the environment, through SQL run by the engine (histogram bins
included); Python only lays the answers out. Charts are drawn by matplotlib and inlined as SVG, the
style sheet is inline, and nothing else is referenced: the file opens the same attached to an e-mail
or on a closed network.
"""

from __future__ import annotations

import errno
import io
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import jinja2
import matplotlib
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter
from sqlglot import exp, parse_one
from sqlmesh import Context

from trial_activation.project import (
    HONEST_POPULATION,
    MissingInEnvironment,
    environment_snapshots,
    environment_state,
    environment_table,
)

# The tables the report reads, by the name used in its queries.
TABLES = {
    "trial_goals": "marts.trial_goals",
    "trial_activation": "marts.trial_activation",
    "goal_conversion": "marts.goal_conversion",
    "activation_funnel": "marts.activation_funnel",
    "activation_cohorts": "marts.activation_cohorts",
    "candidate_goals": "marts.candidate_goals",
    "goals": "staging.activation_goals",  # the goal seed as the environment used it
    "goal_metrics": "intermediate.org_goal_metrics",  # steadiness: each organization's baseline
    "raw_events": "raw.trial_events",
    "events": "staging.trial_events",
    "quarantine": "staging.trial_events_quarantine",
}
POPULATION_LABELS = {"all": "all organizations", HONEST_POPULATION: "not converted by the window's end"}
HISTOGRAM_BINS = 20
# The histograms' x axis stops at this quantile of the goal's metric (the tail is counted in the
# last bin), so a few very active organizations do not squeeze everyone else into one bar.
HISTOGRAM_TAIL_QUANTILE = 0.95
CANDIDATE_Q_VALUE = 0.05  # false discovery rate under which a candidate counts as credible
CANDIDATES_SHOWN = 10
NO_CREDIBLE_CANDIDATE = "None of the candidates is credibly better than chance."

COLORS = {"converted": "#1b7f5f", "not_converted": "#8a8f98", "threshold": "#c2410c", "all": "#2563eb"}
COLORS[HONEST_POPULATION] = "#7c3aed"


@dataclass
class EnvironmentReport:
    """What the report shows for one environment: query results (DataFrames / dicts) and its charts."""

    environment: str
    headline: dict
    activation_lift: dict  # goal_conversion rows of 'activation', by population
    funnel: pd.DataFrame
    goals: list[dict]
    lifts: pd.DataFrame
    cohorts: pd.DataFrame
    days_to_activation: pd.DataFrame
    days_summary: dict
    candidates: pd.DataFrame
    candidate_counts: dict  # tested, credible
    provenance: dict
    charts: dict[str, str] = field(default_factory=dict)  # chart name -> inline SVG


def collect(context: Context, environment: str) -> EnvironmentReport:
    """Query everything the report shows from `environment`'s views."""
    t = {key: environment_table(context, model, environment) for key, model in TABLES.items()}
    fetch = context.fetchdf
    headline = fetch(
        f"""
        SELECT
          COUNT(*) AS organizations,
          COUNT(*) FILTER (WHERE is_activated) AS activated,
          AVG(is_activated::INT) AS activation_rate,
          COUNT(*) FILTER (WHERE converted) AS converted,
          AVG(converted::INT) AS conversion_rate
        FROM {t['trial_activation']}
        """
    ).iloc[0].to_dict()
    conversion = fetch(f"SELECT * FROM {t['goal_conversion']} ORDER BY goal_order, population")
    goals = fetch(
        f"""
        SELECT
          c.goal_id,
          c.goal_name,
          c.goal_order,
          s.description,
          s.goal_kind,
          s.baseline_ratio,
          ANY_VALUE(g.threshold) AS threshold,
          COUNT(*) AS organizations,
          COUNT(*) FILTER (WHERE g.is_completed) AS completed,
          AVG(g.is_completed::INT) AS completion_rate
        FROM (SELECT DISTINCT goal_id, goal_name, goal_order FROM {t['goal_conversion']}) AS c
        JOIN {t['goals']} AS s ON c.goal_id = s.goal_id
        JOIN {t['trial_goals']} AS g ON c.goal_id = g.goal_id
        GROUP BY ALL
        ORDER BY c.goal_order
        """
    )
    bins = _histograms(context, t)
    goal_rows = []
    for goal in goals.to_dict("records"):
        goal["lift"] = conversion[conversion.goal_id == goal["goal_id"]].to_dict("records")
        goal["bins"] = bins[bins.goal_id == goal["goal_id"]]
        goal_rows.append(goal)
    days = fetch(
        f"""
        SELECT days_to_activation, COUNT(*) AS organizations
        FROM {t['trial_activation']}
        WHERE is_activated
        GROUP BY days_to_activation
        ORDER BY days_to_activation
        """
    )
    days_summary = fetch(
        f"""
        SELECT
          COUNT(*) AS activated,
          MEDIAN(days_to_activation) AS median_days,
          QUANTILE_CONT(days_to_activation, 0.9) AS p90_days
        FROM {t['trial_activation']}
        WHERE is_activated
        """
    ).iloc[0].to_dict()
    candidates = fetch(
        f"""
        SELECT *
        FROM {t['candidate_goals']}
        WHERE is_supported AND q_value < {CANDIDATE_Q_VALUE}
        ORDER BY q_value, rate_difference DESC, candidate_id
        LIMIT {CANDIDATES_SHOWN}
        """
    )
    candidate_counts = fetch(
        f"""
        SELECT
          COUNT(*) AS tested,
          COUNT(*) FILTER (WHERE is_supported AND q_value < {CANDIDATE_Q_VALUE}) AS credible
        FROM {t['candidate_goals']}
        """
    ).iloc[0].to_dict()
    activation = conversion[conversion.goal_id == "activation"]
    return EnvironmentReport(
        environment=environment,
        headline=headline,
        activation_lift={row["population"]: row for row in activation.to_dict("records")},
        funnel=fetch(f"SELECT * FROM {t['activation_funnel']} WHERE section = 'funnel' ORDER BY step"),
        goals=goal_rows,
        lifts=conversion,
        cohorts=fetch(f"SELECT * FROM {t['activation_cohorts']} ORDER BY trial_start_week"),
        days_to_activation=days,
        days_summary=days_summary,
        candidates=candidates,
        candidate_counts=candidate_counts,
        provenance=_provenance(context, environment, t),
    )


def _histograms(context: Context, t: dict) -> pd.DataFrame:
    """Per goal, converted vs not: organizations per bin of the goal's metric, binned by the engine.

    The metric is the goal's event count, or for a steadiness goal the ratio of its window to its
    baseline (what the seed's baseline_ratio applies to); organizations without baseline events have
    no ratio (their threshold is the floor) and are counted apart (bin NULL).
    """
    return context.fetchdf(
        f"""
        WITH metric AS (
          SELECT
            g.goal_id,
            a.converted,
            CASE
              WHEN g.goal_kind = 'steadiness' THEN g.metric_value / NULLIF(m.baseline_value, 0)
              ELSE g.metric_value
            END AS x,
            g.goal_kind = 'steadiness' AS is_ratio,
            CASE WHEN g.goal_kind = 'steadiness' THEN s.baseline_ratio ELSE g.threshold END AS threshold_line
          FROM {t['trial_goals']} AS g
          JOIN {t['trial_activation']} AS a ON g.organization_id = a.organization_id
          JOIN {t['goals']} AS s ON g.goal_id = s.goal_id
          LEFT JOIN {t['goal_metrics']} AS m ON g.organization_id = m.organization_id AND g.goal_id = m.goal_id
        ), axis AS (
          SELECT
            goal_id,
            GREATEST(QUANTILE_CONT(x, {HISTOGRAM_TAIL_QUANTILE}), ANY_VALUE(threshold_line)) AS upper,
            ANY_VALUE(is_ratio) AS is_ratio
          FROM metric
          GROUP BY goal_id
        ), width AS (
          SELECT
            goal_id,
            CASE
              WHEN is_ratio THEN GREATEST(upper, 1e-9) / {HISTOGRAM_BINS}
              ELSE GREATEST(1, CEIL(upper / {HISTOGRAM_BINS}))  -- counts: whole-number bins
            END AS bin_width
          FROM axis
        ), binned AS (
          SELECT
            m.goal_id,
            m.converted,
            LEAST(FLOOR(m.x / w.bin_width), {HISTOGRAM_BINS} - 1)::INT AS bin,
            w.bin_width,
            m.threshold_line
          FROM metric AS m
          JOIN width AS w ON m.goal_id = w.goal_id
        )
        SELECT
          goal_id,
          converted,
          bin,
          ANY_VALUE(bin_width) AS bin_width,
          ANY_VALUE(threshold_line) AS threshold_line,
          COUNT(*) AS organizations,
          CASE
            WHEN bin IS NOT NULL
            THEN COUNT(*) / SUM(CASE WHEN bin IS NOT NULL THEN COUNT(*) END) OVER (PARTITION BY goal_id, converted)
          END AS share  -- of the group's organizations that have a value
        FROM binned
        GROUP BY goal_id, converted, bin
        ORDER BY goal_id, converted, bin
        """
    )


def _provenance(context: Context, environment: str, t: dict) -> dict:
    env = environment_state(context, environment)
    snapshots = environment_snapshots(context, environment)
    # The file(s) raw.trial_events reads are in the definition of its physical view in this environment.
    raw = exp.to_table(snapshots["raw.trial_events"].table_name(), dialect="duckdb")
    definition = context.fetchdf(
        f"SELECT sql FROM duckdb_views() WHERE schema_name = {exp.Literal.string(raw.db).sql()}"
        f" AND view_name = {exp.Literal.string(raw.name).sql()}"
    )
    counts = context.fetchdf(
        f"""
        SELECT
          (SELECT COUNT(*) FROM {t['raw_events']}) AS raw_rows,
          (SELECT COUNT(*) FROM {t['events']}) AS events,
          (SELECT COUNT(*) FROM {t['quarantine']}) AS quarantined
        """
    ).iloc[0].to_dict()
    return {
        "environment": environment,
        "built_at": _timestamp(env.finalized_ts),
        "reported_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "input_files": _input_files(definition.sql.iloc[0]) if len(definition) else ["(unknown)"],
        "counts": counts,
        "models": sorted(
            (name, s.version, s.fingerprint.to_identifier()) for name, s in snapshots.items()
        ),
        "seed": context.fetchdf(f"SELECT * FROM {t['goals']}"),
    }


def _input_files(view_sql: str) -> list[str]:
    """The paths raw.trial_events' view reads (the first argument of each READ_CSV / READ_PARQUET)."""
    files = []
    for call in parse_one(view_sql, dialect="duckdb").find_all(exp.Func):
        name = call.sql_name() if not isinstance(call, exp.Anonymous) else call.name
        if name.upper() in ("READ_CSV", "READ_PARQUET", "READ_CSV_AUTO"):
            first = call.this if call.this is not None else (call.expressions or [None])[0]
            if isinstance(first, exp.Array):
                files.extend(e.name for e in first.expressions)
            elif first is not None:
                files.append(first.name)
    return files or ["(unknown)"]


def _timestamp(epoch_ms) -> str:
    if not epoch_ms:
        return "(not finalized)"
    return datetime.fromtimestamp(epoch_ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# --- charts -------------------------------------------------------------------------------------


def _svg(figure) -> str:
    """The figure as inline SVG (no XML prolog, no external reference), then closed."""
    buffer = io.StringIO()
    # No metadata block: its Dublin Core links are the only URLs matplotlib would write.
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata=dict.fromkeys(("Date", "Creator", "Format", "Type")))
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _figure(width: float = 6.4, height: float = 3.2):
    # A bare Figure, not pyplot: no GUI backend and no global figure registry, only SVG text out.
    figure = Figure(figsize=(width, height))
    axes = figure.subplots()
    axes.spines[["top", "right"]].set_visible(False)
    return figure, axes


def _percent_axis(axis) -> None:
    axis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))


def funnel_chart(funnel: pd.DataFrame) -> str:
    figure, axes = _figure(6.4, 0.6 + 0.55 * len(funnel))
    labels = list(funnel.step_name)[::-1]
    bars = axes.barh(labels, list(funnel.organizations)[::-1], color=COLORS["all"])
    for bar, row in zip(bars, funnel.iloc[::-1].itertuples()):
        axes.annotate(
            f"  {row.organizations:,} ({_pct(row.share_of_organizations)}) · converted {_pct(row.conversion_rate)}",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            va="center",
            fontsize=8,
        )
    axes.set_xlabel("organizations")
    axes.set_xlim(0, max(funnel.organizations.max(), 1) * 1.6)
    return _svg(figure)


def goal_histogram(goal: dict) -> str:
    bins = goal["bins"].dropna(subset=["bin"])
    figure, axes = _figure(6.4, 2.8)
    width = float(goal["bins"].bin_width.iloc[0]) if len(goal["bins"]) else 1.0
    edges = [width * i for i in range(HISTOGRAM_BINS + 1)]
    for converted, label, color in ((False, "not converted", "not_converted"), (True, "converted", "converted")):
        share = [0.0] * HISTOGRAM_BINS
        for row in bins[bins.converted == converted].itertuples():
            share[int(row.bin)] = row.share
        axes.stairs(share, edges, label=label, color=COLORS[color], fill=True, alpha=0.45)
    line = goal["bins"].threshold_line.iloc[0] if len(goal["bins"]) else None
    if line is not None and not pd.isna(line):
        axes.axvline(line, color=COLORS["threshold"], linewidth=2, label=f"threshold {line:g}")
    is_ratio = goal["goal_kind"] == "steadiness"
    metric = "active trial days in the goal's window" if goal["goal_kind"] == "active_days" else "events in the goal's window"
    axes.set_xlabel("window events / baseline events" if is_ratio else metric)
    axes.set_ylabel("share of group")
    _percent_axis(axes.yaxis)
    axes.legend(frameon=False, fontsize=8)
    return _svg(figure)


def lift_chart(lifts: pd.DataFrame) -> str:
    names = list(dict.fromkeys(lifts.sort_values("goal_order").goal_name))
    figure, axes = _figure(6.4, 0.8 + 0.6 * len(names))
    populations = list(dict.fromkeys(lifts.population))
    offsets = {p: (i - (len(populations) - 1) / 2) * 0.25 for i, p in enumerate(populations)}
    for population in populations:
        rows = lifts[lifts.population == population]
        y = [len(names) - 1 - names.index(n) + offsets[population] for n in rows.goal_name]
        x = rows.rate_difference
        errors = [x - rows.rate_difference_low, rows.rate_difference_high - x]
        axes.errorbar(
            x, y, xerr=errors, fmt="o", capsize=3, color=COLORS.get(population, "#333"),
            label=POPULATION_LABELS.get(population, population),
        )
    axes.axvline(0, color="#444", linewidth=1)
    axes.set_yticks(range(len(names)), names[::-1])
    axes.set_xlabel("conversion rate, completed minus not completed (95% interval)")
    _percent_axis(axes.xaxis)
    axes.legend(frameon=False, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2)
    return _svg(figure)


def cohort_chart(cohorts: pd.DataFrame) -> str:
    figure, axes = _figure(6.4, 3.0)
    weeks = pd.to_datetime(cohorts.trial_start_week)
    axes.plot(weeks, cohorts.activation_rate, marker="o", color=COLORS["all"], label="activated")
    axes.plot(weeks, cohorts.conversion_rate, marker="s", color=COLORS["converted"], label="converted")
    axes.set_ylabel("share of the week's organizations")
    axes.set_xlabel("week the trial started")
    _percent_axis(axes.yaxis)
    figure.autofmt_xdate()
    axes.legend(frameon=False, fontsize=8)
    return _svg(figure)


def days_chart(days: pd.DataFrame) -> str:
    figure, axes = _figure(6.4, 2.6)
    axes.bar(days.days_to_activation, days.organizations, color=COLORS["all"], width=0.8)
    axes.set_xlabel("days from trial start to activation")
    axes.set_ylabel("organizations")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _svg(figure)


# Text stays text (the page's fonts, searchable, smaller), and ids are stable from one run to the next.
# Every label is plain text: names come from the data and the seeds, and matplotlib would otherwise read
# $...$ in them as TeX (a goal named "Costs $5\month" stops the report, "$5 to $10" is drawn in italics).
CHART_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "trial-activation", "font.size": 9, "text.parse_math": False}


def draw_charts(report: EnvironmentReport) -> None:
    with matplotlib.rc_context(CHART_STYLE):
        report.charts["funnel"] = funnel_chart(report.funnel)
        for goal in report.goals:
            report.charts[f"goal:{goal['goal_id']}"] = goal_histogram(goal)
        report.charts["lift"] = lift_chart(report.lifts)
        report.charts["cohorts"] = cohort_chart(report.cohorts)
        report.charts["days_to_activation"] = days_chart(report.days_to_activation)


# --- HTML ---------------------------------------------------------------------------------------


def _pct(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{100 * value:.{digits}f}%"


def _points(value) -> str:
    """A rate difference in percentage points, signed."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{100 * value:+.1f} pts"


def _count(value) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{int(value):,}"


def render(reports: list[EnvironmentReport]) -> str:
    """The HTML page for one environment, or several side by side."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters.update(pct=_pct, points=_points, count=_count)
    return environment.get_template("report.html.j2").render(
        reports=reports,
        honest=HONEST_POPULATION,
        population_labels=POPULATION_LABELS,
        q_value=CANDIDATE_Q_VALUE,
        no_credible=NO_CREDIBLE_CANDIDATE,
        tail_quantile=HISTOGRAM_TAIL_QUANTILE,
        isna=pd.isna,
        zip=zip,
    )


def default_path(project: Path, environments: list[str]) -> Path:
    """reports/trial_activation_<env>.html (or _<env>_vs_<env>) in the project (git-ignored)."""
    return Path(project) / "reports" / f"trial_activation_{'_vs_'.join(environments)}.html"


def write_report(context: Context, environments: list[str], out: Path | str | None = None) -> Path:
    """Collect, draw and write the report of `environments` (one, or two compared); returns its path."""
    if context.engine_adapter.dialect != "duckdb":
        raise MissingInEnvironment(
            f"the report reads the warehouse's DuckDB catalog: run it on the local (DuckDB) gateway,"
            f" not {context.engine_adapter.dialect}"
        )
    reports = [collect(context, environment) for environment in environments]
    for report in reports:
        draw_charts(report)
    out = Path(out) if out else default_path(context.path, environments)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_replacing(out, render(reports))
    return out


def write_replacing(path: Path, text: str) -> None:
    """Write `text` to a new file of a unique name beside `path` (created exclusively), then rename it
    over `path`: a reader never sees half a report, and a link planted at either name in a shared
    folder is replaced, never written through."""
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as a plain write would leave it (mkstemp makes it 0600)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def parse_compare(value: str) -> list[str]:
    """'prod:dev' -> ['prod', 'dev']."""
    match = re.fullmatch(r"([^:\s]+):([^:\s]+)", value)
    if not match:
        raise ValueError(f"--compare takes two environments as SOURCE:TARGET, e.g. prod:dev, not {value!r}")
    return [match.group(1), match.group(2)]
