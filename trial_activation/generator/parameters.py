"""The generator's calibrated constants: the real log's activity and hour-of-day mixes and the model's
parameters (the package docstring says what each one shapes)."""

from __future__ import annotations

import numpy as np

COLUMNS = ["ORGANIZATION_ID", "ACTIVITY_NAME", "TIMESTAMP", "CONVERTED", "CONVERTED_AT",
           "TRIAL_START", "TRIAL_END"]

# Events per activity in the real deduplicated log, on the trial's first day (day 0) and on later
# days. Used as the "setup" and "usage" activity mixes.
ACTIVITY_COUNTS = {
    # name: (day-0 events, later-day events)
    "Mobile.Schedule.Loaded": (3187, 46353),
    "Scheduling.Shift.Created": (7651, 24167),
    "Scheduling.Shift.AssignmentChanged": (1026, 6582),
    "PunchClock.PunchedIn": (138, 4695),
    "Scheduling.Shift.Approved": (375, 2175),
    "Communication.Message.Created": (162, 1414),
    "ShiftDetails.View.Opened": (10, 1423),
    "Scheduling.Availability.Set": (11, 1073),
    "Scheduling.Template.ApplyModal.Applied": (80, 388),
    "Absence.Request.Created": (10, 378),
    "Absence.Request.Approved": (9, 328),
    "Scheduling.OpenShiftRequest.Created": (14, 247),
    "Break.Activate.Started": (0, 161),
    "Break.Activate.Finished": (0, 159),
    "PunchClockEndNote.Add.Completed": (3, 133),
    "PunchClock.PunchedOut": (0, 123),
    "PunchClock.Entry.Edited": (0, 91),
    "PunchClockStartNote.Add.Completed": (2, 55),
    "Absence.Request.Rejected": (0, 52),
    "Timesheets.BulkApprove.Confirmed": (1, 48),
    "Scheduling.ShiftSwap.Created": (3, 28),
    "Integration.Xero.PayrollExport.Synced": (1, 30),
    "Revenue.Budgets.Created": (0, 30),
    "Scheduling.ShiftSwap.Accepted": (2, 26),
    "Scheduling.ShiftHandover.Created": (0, 21),
    "Scheduling.ShiftHandover.Accepted": (0, 21),
    "Scheduling.OpenShiftRequest.Approved": (0, 6),
    "Shift.View.Opened": (1, 2),
}
ACTIVITIES = list(ACTIVITY_COUNTS)
SHIFT_CREATED = ACTIVITIES.index("Scheduling.Shift.Created")

# Events per hour of day (00..23) in the real log; also used for the time of day of trial starts.
HOUR_COUNTS = [2505, 1743, 1222, 1264, 939, 812, 1256, 2107, 3954, 4747, 6138, 6146,
               7143, 7082, 7746, 6772, 6408, 5447, 5603, 4776, 5348, 5412, 4896, 3429]

DAY = 86_400
TRIAL_DAYS = 30
ORGS_PER_CHUNK = 4096  # fixed: part of the output's definition (per-chunk random streams)

# Org-level model parameters (see the module docstring). Calibrated by simulation so that the
# generated log matches the real one's aggregates (quoted in tests/python/test_generate.py).
P_CONVERT = 0.21
CONVERT_DAYS = (30.5, 8.5, 2.0, 60.0)  # mean, sd, min, max of CONVERTED_AT - TRIAL_START in days
P_RETAINED = (0.22, 0.36)  # (non-converter, converter)
P_FIRST_DAY_0 = 0.88       # real: 924 of 966 orgs active in week 1, 851 on day 0
FIRST_DAY_DELAY_P = 0.2    # otherwise first day ~ Geometric(0.2)
RETAINED_RATE = (1.2, 1.8)  # Beta(a, b): daily activity rate of retained orgs (real: ~12 days)
P_RETURN = 0.06            # non-retained: p(active on day first+k) = P_RETURN / 2**(k-1), k<=6
CONVERTER_INTENSITY = 1.2  # converters' volume multiplier (with P_RETAINED: ~1.7x mean events)
LAMBDA = {False: (np.log(3.0), 1.2), True: (np.log(12.0), 1.0)}  # lognormal(mu, sigma) per retained
DAY_NOISE_SIGMA = 0.6
TREND = (0.2, 0.8)         # retained: intensity *= exp(trend * day / 29), trend ~ N(mean, sd)
SETUP_BOOST = (1.5, 1.0)   # retained: intensity *= 1 + a * exp(-days_since_first_day / b)
MAX_EVENTS_PER_DAY = 3000
P_NEW_SESSION = 1 / 8      # real: ~7.8 events per session (sessions split at 30-minute gaps)
GAP_SECONDS = (np.log(16), 1.8, 1800)  # lognormal(mu, sigma) gaps within a session, capped
FIRST_SESSION_DELAY = 600  # mean seconds from trial start to the first event (real median ~6 min)
FIRST_DAY_SESSIONS = 3600  # mean seconds from the first to later sessions on the first day
P_AFTER_END = 0.03         # events of the last 3 trial days moved hours after TRIAL_END, and
P_BEFORE_START = 0.01      # events of day 0 moved just before TRIAL_START (~0.5% of all events)
P_DUP_ORG = 0.37           # duplicate-prone orgs (real: 266 of 966 orgs had duplicates)
P_DUP_EVENT = (0.006, 0.5)  # (other activities, Scheduling.Shift.Created) in duplicate-prone orgs
P_DUP_BURST = 0.11         # a duplicated event is a burst (log-uniform 2..512 copies) ...
MAX_COPIES = 512           # ... else a single extra copy. Real max multiplicity: 512
MIN_ACTIVITY_SHARE = 2e-4  # floor on the shares of both mixes: rare activities occur in mid-size logs
ACTIVITY_ALPHA = 8.0       # per-org mixes ~ Dirichlet(alpha * mix): same mean, orgs specialise

# Mean raw rows (incl. duplicates) per org at scale 1, measured on ~200,000 generated orgs
# (4 seeds); turns --events into a number of orgs (heavy tail: rows land within ~5-10%).
MEAN_ROWS_PER_ORG = 199.6

CONVERTED_SPELLINGS = [("False", "FALSE", "false"), ("True", "TRUE", "true")]
