"""Deterministic generator of realistic synthetic trial event logs.

Writes the raw schema of the real export (one row per event; the org-level columns repeat on every
row of the org)::

    ORGANIZATION_ID,ACTIVITY_NAME,TIMESTAMP,CONVERTED,CONVERTED_AT,TRIAL_START,TRIAL_END

All parameters are calibrated against aggregate statistics of the real (deduplicated) log
``/work/shared/data/trial_events.csv.gz`` (966 orgs, 102,895 rows) and of its original export
(170,526 rows, ~40% exact duplicates); no row of it is used.

Model, per organisation (orgs are independent; generated in fixed chunks of 4,096 orgs, each chunk
from its own random stream, so memory stays bounded and output depends only on the arguments):

* **Trial**: start = ``start_date`` + a uniform day in ``cohort_days`` + a time of day drawn from
  the real hour-of-day profile; every trial lasts exactly 30 days.
* **Conversion**: converted with p = 0.21; ``CONVERTED_AT`` = start + N(30.5, 8.5) days clipped to
  [2, 60], so about half of the conversions happen after the trial ended.
* **Engagement**: an org is *retained* (keeps using the product after its first days) with
  p = 0.36 for converters and 0.22 for non-converters, and converters get 1.2x the volume: they
  have ~1.7x the mean events of the others (in the real log they are no more active; here they
  are, so that percentiles of converted orgs mean something). All orgs start on their first day
  (day 0 for 88%, else after a geometric delay). Retained orgs are then active on each later day
  with an org-level rate ~ Beta(1.2, 1.8); the others only come back on a few days right after
  the first one (p = 0.06, halving per day): ~64% of orgs are active on one day only.
* **Volume**: events on an active day = 1 + Poisson(lambda_org * day_noise * boost * trend);
  lambda_org and day_noise are lognormal (lambda higher for retained orgs); retained orgs get a
  setup boost on their first days and a per-org exponential trend over the trial. This yields the
  real heavy tail (per-org events P50 ~ 7-8, P90 ~ 270, mean ~ 110) and weekly profile (week 1
  ~2x the events of week 2 from ~4x the orgs; weeks 2-4 flat-ish, ~22% of orgs active in each).
* **Timing**: an active day's events come in sessions (a new session after each event with
  p = 1/8); sessions start at a time of day drawn from the real hour profile (on day 0, minutes
  after the trial start), events within a session are seconds to minutes apart (lognormal gaps).
  Timestamps are made strictly increasing within an org, so (org, timestamp) is unique before
  duplication. ~0.5% of events are moved just outside the trial window (hours after TRIAL_END
  for events of the last 3 days, or just before TRIAL_START for day-0 events).
* **Activity**: drawn from the real activity mix, split into the org's first active day
  ("setup": mostly Scheduling.Shift.Created) and later days ("usage": mostly
  Mobile.Schedule.Loaded); each org draws its own mixes ~ Dirichlet(8 * mix), which keeps the mean
  but makes orgs use a few features each (rare activities occur in few orgs).
* **Duplicates**: 37% of orgs are *duplicate-prone* (a systematic sample of the orgs ranked by
  volume, which halves the seed-to-seed spread of the duplicate share); in those, each
  Scheduling.Shift.Created event is re-emitted with p = 0.5 (other activities p = 0.006): once,
  or (p = 0.11) as a burst of log-uniform size, up to 512 copies in all. Copies are byte-identical
  and adjacent to their original. ~40% of the rows are exact duplicates, ~97% of them
  Scheduling.Shift.Created, in ~28% of the orgs.

* **Planted effect** (off by default; ``plant=PlantedEffect(...)``, ``--plant-*``): organizations
  with at least k in-trial events of one activity on given trial days convert at lift x 0.21, the
  others at 0.21; conversion is drawn again after the events from its own stream, so the events
  are unchanged and the planted rule is the only link between activity and conversion.

Styles: ``clean`` writes ``True``/``False`` and ``YYYY-MM-DD HH:MM:SS``. ``messy`` (default; the
committed sample) spells CONVERTED as True/TRUE/true (False/FALSE/false) per org and adds a
``.000`` suffix to timestamps: per org for the org-level columns, per event for TIMESTAMP.
Duplicates stay byte-identical and an org's columns are spelled identically on all its rows. The
style only changes spellings, never the data; it does not apply to Parquet, which is typed
(timestamps as TIMESTAMP, CONVERTED as BOOLEAN).

Modules: ``parameters`` (the calibrated constants), ``draw`` (one chunk's organizations and events, as
numpy arrays), ``write`` (Arrow tables, the CSV/Parquet writers, ``generate``), ``cli`` (``main``).

Output is byte-identical for the same seed and arguments (gzip with mtime=0 and no file name).

CLI::

    python -m trial_activation.generator --orgs 300 --seed 42 --out data/sample/trial_events.csv.gz
    python -m trial_activation.generator --events 10000000 --seed 1 --out /tmp/ev.parquet --style clean
    python -m trial_activation.generator --orgs 5000 --seed 1 --out /tmp/days --partition-by-day
    python -m trial_activation.generator --orgs 2000 --seed 7 --out /tmp/planted.csv.gz \
        --plant-activity Scheduling.Shift.AssignmentChanged --plant-min-events 3 --plant-days 0-6 --plant-lift 2

Python: ``trial_activation.generator.generate(out, orgs=300, seed=42)`` (or ``events=``) returns a dict
of counts (orgs, rows, unique_rows, duplicate_rows, converted_orgs, seconds, ...).
"""

from trial_activation.generator.cli import main
from trial_activation.generator.draw import PlantedEffect
from trial_activation.generator.parameters import ACTIVITIES, COLUMNS
from trial_activation.generator.write import generate

__all__ = ["ACTIVITIES", "COLUMNS", "PlantedEffect", "generate", "main"]
