"""The product team's report: one self-contained HTML file per environment (or two side by side).

    trial-activation report [-e ENV] [--out PATH]
    trial-activation report --compare prod:dev [--out PATH]

Every figure is a row of one of the environment's marts (marts.report_* where a section needs a shape
of its own: the histograms' bins, the credible candidates, the headline), selected as it is through
SQLMesh's engine adapter, on any gateway the marts are built on; Python only lays the rows out.
Charts are drawn by matplotlib and inlined as SVG, the style sheet is inline, and nothing else is
referenced: the file opens the same attached to an e-mail or on a closed network.
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
from sqlmesh import Context

from trial_activation.project import (
    HONEST_POPULATION,
    environment_snapshots,
    environment_state,
    select_rows,
)

POPULATION_LABELS = {
    "all": "all organizations",
    HONEST_POPULATION: "not converted by the window's end",
    "holdout": "held-out later trials, not converted by the window's end",
}
NO_CREDIBLE_CANDIDATE = "None of the candidates is credibly better than chance."
NO_TRIAL = "No organization is in trial at this date: nobody to nudge."
NOTHING_QUALIFIES = "Nothing qualifies: no candidate goal is confirmed on the held-out trials."

COLORS = {"converted": "#1b7f5f", "not_converted": "#8a8f98", "threshold": "#c2410c", "all": "#2563eb"}
COLORS[HONEST_POPULATION] = "#7c3aed"


@dataclass
class EnvironmentReport:
    """What the report shows for one environment: rows of its marts (DataFrames / dicts) and its charts."""

    environment: str
    headline: dict  # the row of marts.report_headline
    row_counts: dict  # the row of marts.report_rows: valid events, quarantined rows
    activation_lift: dict  # goal_conversion rows of 'activation', by population
    funnel: pd.DataFrame
    goals: list[dict]  # rows of marts.report_goals, each with its lift rows and histogram bins
    lifts: pd.DataFrame
    cohorts: pd.DataFrame
    days_to_activation: pd.DataFrame
    candidates: pd.DataFrame
    provenance: dict
    status: dict = field(default_factory=dict)  # the row of marts.report_status (as_of, pending, in trial, candidates)
    worklist: pd.DataFrame = field(default_factory=pd.DataFrame)  # marts.trial_worklist's first worklist_shown rows
    predictability: pd.DataFrame = field(default_factory=pd.DataFrame)  # marts.predictability
    candidate_holdout: pd.DataFrame = field(default_factory=pd.DataFrame)  # marts.report_candidate_holdout
    survival: pd.DataFrame = field(default_factory=pd.DataFrame)  # marts.goal_survival_summary, in goal order
    curves: pd.DataFrame = field(default_factory=pd.DataFrame)  # marts.goal_time_to_conversion
    charts: dict[str, str] = field(default_factory=dict)  # chart name -> inline SVG


def collect(context: Context, environment: str) -> EnvironmentReport:
    """Select everything the report shows from `environment`'s marts: each section is the rows of one
    mart (models/marts/report_*.sql where a section needs a shape of its own), read through SQLMesh's
    engine adapter, so the report reads any gateway the marts are built on."""

    def rows(model: str, where: dict | None = None, order_by: tuple = ()) -> pd.DataFrame:
        return select_rows(context, model, environment, where=where, order_by=order_by)

    conversion = rows("marts.goal_conversion", order_by=("goal_order", "population"))
    bins = rows("marts.report_goal_histograms", order_by=("goal_id", "converted", "bin"))
    goals = []
    for goal in rows("marts.report_goals", order_by=("goal_order",)).to_dict("records"):
        goal["lift"] = conversion[conversion.goal_id == goal["goal_id"]].to_dict("records")
        goal["bins"] = bins[bins.goal_id == goal["goal_id"]]
        goals.append(goal)
    activation = conversion[conversion.goal_id == "activation"]
    goal_order = dict(zip(conversion.goal_id, conversion.goal_order))
    survival = rows("marts.goal_survival_summary", order_by=("goal_id",))
    survival = survival.assign(goal_name=survival.goal_id.map(dict(zip(conversion.goal_id, conversion.goal_name))))
    survival = survival.iloc[sorted(range(len(survival)), key=lambda i: goal_order.get(survival.goal_id.iloc[i], math.inf))]
    status = rows("marts.report_status").iloc[0].to_dict()
    return EnvironmentReport(
        environment=environment,
        headline=rows("marts.report_headline").iloc[0].to_dict(),
        row_counts=rows("marts.report_rows").iloc[0].to_dict(),
        activation_lift={row["population"]: row for row in activation.to_dict("records")},
        funnel=rows("marts.activation_funnel", where={"section": "funnel"}, order_by=("step",)),
        goals=goals,
        lifts=conversion,
        cohorts=rows("marts.activation_cohorts", order_by=("trial_start_week",)),
        days_to_activation=rows("marts.report_days_to_activation", order_by=("days_to_activation",)),
        candidates=rows("marts.report_candidates", order_by=("candidate_rank",)),
        provenance=_provenance(context, environment, rows),
        status=status,
        worklist=rows("marts.trial_worklist", order_by=("worklist_rank",)).head(status["worklist_shown"]),
        predictability=rows("marts.predictability", order_by=("window_start_day", "window_end_day")),
        candidate_holdout=rows("marts.report_candidate_holdout", order_by=("candidate_rank",)),
        survival=survival.reset_index(drop=True),
        curves=rows("marts.goal_time_to_conversion", order_by=("goal_id", "completion_group", "day")),
    )


def _provenance(context: Context, environment: str, rows) -> dict:
    env = environment_state(context, environment)
    snapshots = environment_snapshots(context, environment)
    return {
        "environment": environment,
        "built_at": _timestamp(env.finalized_ts),
        "reported_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "inputs": rows("marts.report_input", order_by=("input_source",)),
        "models": sorted(
            (name, s.version, s.fingerprint.to_identifier()) for name, s in snapshots.items()
        ),
        "seed": rows("staging.activation_goals", order_by=("goal_order",)),
    }


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
    count = int(goal["bins"].bin_count.iloc[0]) if len(goal["bins"]) else 1
    edges = [width * i for i in range(count + 1)]
    for converted, label, color in ((False, "not converted", "not_converted"), (True, "converted", "converted")):
        share = [0.0] * count
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


def time_to_conversion_chart(curves: pd.DataFrame, survival: pd.DataFrame) -> str:
    """One panel per goal (and activation), in goal order: the Kaplan-Meier share converted by day since
    trial start, completed vs not, from the goal's landmark; the log-rank p in the panel's title."""
    panels = list(survival.itertuples()) or [None]
    columns = 2 if len(panels) > 1 else 1
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(6.4, 0.4 + 2.3 * rows))
    grid = figure.subplots(rows, columns, squeeze=False, sharey=True)
    for axes in grid.flat[len(panels):]:
        axes.set_visible(False)
    for axes, goal in zip(grid.flat, panels):
        axes.spines[["top", "right"]].set_visible(False)
        if goal is None:
            axes.set_title("no goal followed", fontsize=8)
            continue
        for group, label, color in (("completed", "completed", "converted"), ("not_completed", "not completed", "not_converted")):
            curve = curves[(curves.goal_id == goal.goal_id) & (curves.completion_group == group)]
            if len(curve):
                axes.step(curve.day, curve.share_converted, where="post", color=COLORS[color], label=label)
        p = "n/a" if pd.isna(goal.log_rank_p) else f"{goal.log_rank_p:.2g}"
        axes.set_title(f"{goal.goal_name} (log-rank p {p})", fontsize=8)
        axes.set_xlabel("days since trial start", fontsize=8)
        _percent_axis(axes.yaxis)
    grid.flat[0].set_ylabel("share converted")
    grid.flat[0].legend(frameon=False, fontsize=7)
    figure.tight_layout()
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
        report.charts["time_to_conversion"] = time_to_conversion_chart(report.curves, report.survival)


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


def _number(value, spec: str = ".2f") -> str:
    return "n/a" if value is None or pd.isna(value) else format(value, spec)


def _date(value) -> str:
    return "n/a" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M UTC")


def render(reports: list[EnvironmentReport]) -> str:
    """The HTML page for one environment, or several side by side."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters.update(pct=_pct, points=_points, count=_count, num=_number)
    return environment.get_template("report.html.j2").render(
        reports=reports,
        honest=HONEST_POPULATION,
        population_labels=POPULATION_LABELS,
        no_credible=NO_CREDIBLE_CANDIDATE,
        isna=pd.isna,
        zip=zip,
        date=_date,
        no_trial=NO_TRIAL,
        nothing_qualifies=NOTHING_QUALIFIES,
    )


def default_path(project: Path, environments: list[str]) -> Path:
    """reports/trial_activation_<env>.html (or _<env>_vs_<env>) in the project (git-ignored)."""
    return Path(project) / "reports" / f"trial_activation_{'_vs_'.join(environments)}.html"


def write_report(context: Context, environments: list[str], out: Path | str | None = None) -> Path:
    """Collect, draw and write the report of `environments` (one, or two compared); returns its path."""
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
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:  # said of the path asked for, not of the temporary name
        raise type(error)(error.errno, error.strerror, str(path)) from error
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
