"""One chunk of organizations and their unique events, drawn as numpy arrays (times in epoch seconds).

Every draw comes from one random stream per chunk, in a fixed order: the order of the calls below is
part of the output's definition (the committed sample is regenerated from it bit for bit), so a change
that adds, removes or reorders a draw changes every log generated after it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from trial_activation.generator.parameters import (
    ACTIVITIES,
    ACTIVITY_ALPHA,
    ACTIVITY_COUNTS,
    CONVERT_DAYS,
    CONVERTER_INTENSITY,
    DAY,
    DAY_NOISE_SIGMA,
    FIRST_DAY_DELAY_P,
    FIRST_DAY_SESSIONS,
    FIRST_SESSION_DELAY,
    GAP_SECONDS,
    HOUR_COUNTS,
    LAMBDA,
    MAX_COPIES,
    MAX_EVENTS_PER_DAY,
    MIN_ACTIVITY_SHARE,
    P_AFTER_END,
    P_BEFORE_START,
    P_CONVERT,
    P_DUP_BURST,
    P_DUP_EVENT,
    P_DUP_ORG,
    P_FIRST_DAY_0,
    P_NEW_SESSION,
    P_RETAINED,
    P_RETURN,
    RETAINED_RATE,
    SETUP_BOOST,
    SHIFT_CREATED,
    TREND,
    TRIAL_DAYS,
)

# Keeps organizations apart in one running maximum over the events of many (times stay below 2**36 s).
ORG_TIME_OFFSET = np.int64(1) << 36


@dataclass(frozen=True)
class PlantedEffect:
    """A known link between activity and conversion, planted so that tests can check the project finds
    it: an organization with at least `min_events` in-trial events of `activity` on trial days
    `first_day`..`last_day` converts with probability min(1, lift x P_CONVERT), any other with
    P_CONVERT. With lift 1 conversion is independent of all activity (a log with nothing to find)."""

    activity: str
    min_events: int = 3
    first_day: int = 0
    last_day: int = 6
    lift: float = 2.0

    def __post_init__(self):
        if self.activity not in ACTIVITIES:
            raise ValueError(f"planted activity {self.activity!r} is not one the generator draws (see ACTIVITIES)")
        if self.min_events < 1 or not 0 <= self.first_day <= self.last_day < TRIAL_DAYS or self.lift < 0:
            raise ValueError(f"planted effect needs min_events >= 1, 0 <= first_day <= last_day < {TRIAL_DAYS}, "
                             f"lift >= 0: {self}")


@dataclass
class Trials:
    """One entry per organization of a chunk."""

    start: np.ndarray  # TRIAL_START, epoch seconds
    end: np.ndarray  # TRIAL_END
    converted: np.ndarray  # bool
    converted_at: np.ndarray  # CONVERTED_AT (drawn for every organization; used where converted)
    retained: np.ndarray  # bool: keeps using the product after its first days
    first_day: np.ndarray  # the trial day of its first event


@dataclass
class Chunk:
    """The organizations of one chunk and their unique events, events sorted by (org, time)."""

    orgs: int
    trials: Trials
    org: np.ndarray  # per event: the organization's index in the chunk
    time: np.ndarray  # per event: epoch seconds, strictly increasing within an organization
    activity: np.ndarray  # per event: index into ACTIVITIES (int8)
    copies: np.ndarray  # per event: how many identical rows it is written as (1: not duplicated)
    planted: np.ndarray | None = None  # per organization, with a PlantedEffect: meets its rule


def org_ids(seed: int, start: int, n: int) -> list[str]:
    """32-hex-char organisation ids, a pure function of (seed, org index)."""
    return [hashlib.md5(f"trial-org:{seed}:{i}".encode()).hexdigest() for i in range(start, start + n)]


def draw_chunk(
    seed: int,
    chunk: int,
    orgs: int,
    first_start: int,
    cohort_days: int,
    scale: float,
    plant: PlantedEffect | None = None,
) -> Chunk:
    """Draw the `orgs` organizations of chunk number `chunk` and their unique events; trials start
    from `first_start` (epoch seconds) over `cohort_days` days, with activity volume times `scale`.
    With `plant`, conversion is drawn again after the events (see _plant_conversion)."""
    rng = np.random.default_rng([seed, chunk, 0])
    trials = _draw_trials(rng, orgs, first_start, cohort_days)
    daily_counts = _draw_daily_event_counts(rng, trials, scale)
    org, day, time = _draw_event_times(rng, trials, daily_counts)
    activity = _draw_activities(rng, trials.first_day, org, day)
    time = _move_a_few_outside_the_trial(rng, trials, org, day, time)
    order = np.lexsort((time, org))
    org, time, activity = org[order], time[order], activity[order]
    time = _strictly_increasing_per_org(org, time)
    copies = _draw_copies(rng, org, activity, orgs)
    planted = None
    if plant is not None:
        planted = planted_organizations(plant, trials, org, time, activity)
        trials.converted = _plant_conversion(np.random.default_rng([seed, chunk, 2]), plant, planted)
    return Chunk(orgs=orgs, trials=trials, org=org, time=time, activity=activity, copies=copies, planted=planted)


def planted_organizations(
    plant: PlantedEffect, trials: Trials, org: np.ndarray, time: np.ndarray, activity: np.ndarray
) -> np.ndarray:
    """Per organization: meets the planted rule. Counts unique in-trial events (as the project counts
    them: duplicates collapsed, trial day = whole days since TRIAL_START, inside [TRIAL_START, TRIAL_END])."""
    start = trials.start[org]
    trial_day = (time - start) // DAY
    counted = (
        (activity == ACTIVITIES.index(plant.activity))
        & (time >= start)
        & (time <= trials.end[org])
        & (trial_day >= plant.first_day)
        & (trial_day <= plant.last_day)
    )
    return np.bincount(org[counted], minlength=len(trials.start)) >= plant.min_events


def _plant_conversion(rng: np.random.Generator, plant: PlantedEffect, meets: np.ndarray) -> np.ndarray:
    """Conversion drawn again from its own stream (so every other draw, and every event, is the same as
    without the plant): min(1, lift x P_CONVERT) for organizations meeting the rule, P_CONVERT for the
    rest. The first draw still shaped the activity (converters' extra volume and retention), but no
    longer marks the buyers: the planted rule is the only link. CONVERTED_AT keeps its drawn day."""
    return rng.random(len(meets)) < np.where(meets, min(1.0, plant.lift * P_CONVERT), P_CONVERT)


def hour_of_day_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Times of day (seconds) following the real hour-of-day profile."""
    weights = np.asarray(HOUR_COUNTS, float)
    return rng.choice(24, size=n, p=weights / weights.sum()) * 3600 + rng.integers(0, 3600, n)


def _draw_trials(rng: np.random.Generator, orgs: int, first_start: int, cohort_days: int) -> Trials:
    start = first_start + rng.integers(0, cohort_days, orgs) * DAY + hour_of_day_seconds(rng, orgs)
    end = start + TRIAL_DAYS * DAY
    converted = rng.random(orgs) < P_CONVERT
    mean_days, sd_days, min_days, max_days = CONVERT_DAYS
    days_to_conversion = np.clip(rng.normal(mean_days, sd_days, orgs), min_days, max_days)
    converted_at = start + (days_to_conversion * DAY).astype(np.int64)
    retained = rng.random(orgs) < np.where(converted, P_RETAINED[1], P_RETAINED[0])
    starts_on_day_0 = rng.random(orgs) < P_FIRST_DAY_0
    delayed_start = np.minimum(rng.geometric(FIRST_DAY_DELAY_P, orgs), TRIAL_DAYS - 1)
    first_day = np.where(starts_on_day_0, 0, delayed_start)
    return Trials(start, end, converted, converted_at, retained, first_day)


def _draw_daily_event_counts(rng: np.random.Generator, trials: Trials, scale: float) -> np.ndarray:
    """(orgs x TRIAL_DAYS) events per trial day: 0 on inactive days, 1 + Poisson(mean) on active ones."""
    day = np.arange(TRIAL_DAYS)[None, :]
    days_since_first = day - trials.first_day[:, None]
    active = _draw_active_days(rng, trials.retained, days_since_first)
    mean = _draw_daily_means(rng, trials, day, days_since_first, scale)
    return np.where(active, 1 + rng.poisson(np.minimum(mean, MAX_EVENTS_PER_DAY)), 0)


def _draw_active_days(rng: np.random.Generator, retained: np.ndarray, days_since_first: np.ndarray) -> np.ndarray:
    """(orgs x TRIAL_DAYS) bool: the first day; then retained orgs at their own daily rate, the others
    on a few days right after the first one (P_RETURN, halving per day)."""
    orgs = len(retained)
    retained_rate = rng.beta(*RETAINED_RATE, orgs)[:, None]
    soon_after = (days_since_first >= 1) & (days_since_first <= 6)
    return_rate = np.where(soon_after, P_RETURN / 2.0 ** (days_since_first - 1).clip(0), 0.0)
    p_active = np.where(retained[:, None], retained_rate, return_rate)
    later_active = (days_since_first > 0) & (rng.random((orgs, TRIAL_DAYS)) < p_active)
    return (days_since_first == 0) | later_active


def _draw_daily_means(
    rng: np.random.Generator, trials: Trials, day: np.ndarray, days_since_first: np.ndarray, scale: float
) -> np.ndarray:
    """(orgs x TRIAL_DAYS) mean extra events per day: the org's intensity, its trend over the trial
    and setup boost (retained orgs), and day-to-day noise."""
    orgs, retained = len(trials.retained), trials.retained
    intensity = np.where(retained, rng.lognormal(*LAMBDA[True], orgs), rng.lognormal(*LAMBDA[False], orgs))
    trend = np.where(retained, rng.normal(*TREND, orgs), 0.0)
    intensity *= np.where(trials.converted, CONVERTER_INTENSITY, 1.0)
    growth = np.exp(trend[:, None] * day / (TRIAL_DAYS - 1))
    boost, boost_days = SETUP_BOOST
    setup_boost = 1 + retained[:, None] * boost * np.exp(-days_since_first.clip(0) / boost_days)
    day_noise = rng.lognormal(0.0, DAY_NOISE_SIGMA, (orgs, TRIAL_DAYS))
    return scale * intensity[:, None] * growth * setup_boost * day_noise


def _draw_event_times(
    rng: np.random.Generator, trials: Trials, daily_counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(org, trial day, time) of each event, org-major. A day's events come in sessions: a new one
    after each event with P_NEW_SESSION; events within a session are lognormal gaps apart."""
    org, day, position_in_day = _events_of_active_days(daily_counts)
    starts_session = (position_in_day == 0) | (rng.random(len(org)) < P_NEW_SESSION)
    session = np.cumsum(starts_session) - 1
    session_offset = _draw_session_offsets(
        rng, trials.start, org[starts_session], day[starts_session], position_in_day[starts_session]
    )
    into_session = _draw_seconds_into_session(rng, starts_session, session)
    session_length = np.maximum.reduceat(into_session, np.flatnonzero(starts_session))
    session_offset = np.clip(session_offset, 0, DAY - 1 - session_length)  # a session ends within its trial day
    time = trials.start[org] + day * DAY + session_offset[session] + into_session
    return org, day, np.minimum(time, trials.end[org])


def _events_of_active_days(daily_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One entry per event: its org, its trial day and its position among that day's events."""
    org_of_day, day_of_day = np.nonzero(daily_counts)  # (org, day) pairs, org-major
    events_that_day = daily_counts[org_of_day, day_of_day]
    org = np.repeat(org_of_day, events_that_day)
    day = np.repeat(day_of_day, events_that_day)
    day_starts = np.concatenate([[0], np.cumsum(events_that_day)[:-1]]).astype(np.int64)
    position_in_day = np.arange(int(events_that_day.sum())) - np.repeat(day_starts, events_that_day)
    return org, day, position_in_day


def _draw_session_offsets(
    rng: np.random.Generator,
    trial_start: np.ndarray,
    session_org: np.ndarray,
    session_day: np.ndarray,
    session_position: np.ndarray,
) -> np.ndarray:
    """Seconds from (trial start + day) to each session's start: on day 0 soon after the trial start
    (later sessions of day 0 later still); on other days at a time of day from the real hour profile."""
    sessions = len(session_org)
    start_time_of_day = trial_start[session_org] % DAY
    after_trial_start = rng.exponential(FIRST_SESSION_DELAY, sessions) + (session_position > 0) * rng.exponential(
        FIRST_DAY_SESSIONS, sessions
    )
    at_a_usual_hour = (hour_of_day_seconds(rng, sessions) - start_time_of_day) % DAY
    return np.where(session_day == 0, after_trial_start, at_a_usual_hour).astype(np.int64)


def _draw_seconds_into_session(rng: np.random.Generator, starts_session: np.ndarray, session: np.ndarray) -> np.ndarray:
    """Each event's seconds since its session's first event."""
    gap_mu, gap_sigma, gap_cap = GAP_SECONDS
    gaps = np.where(
        starts_session, 0, np.clip(rng.lognormal(gap_mu, gap_sigma, len(session)), 1, gap_cap).astype(np.int64)
    )
    elapsed = np.cumsum(gaps)
    return elapsed - elapsed[np.flatnonzero(starts_session)][session]


def _activity_mixes() -> np.ndarray:
    """(2, activities): the real setup (first active day) and usage (later days) shares, floored."""
    counts = np.array(list(ACTIVITY_COUNTS.values()), float).T
    return np.maximum(counts / counts.sum(axis=1, keepdims=True), MIN_ACTIVITY_SHARE)


def _draw_activities(rng: np.random.Generator, first_day: np.ndarray, org: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Each event's activity (int8 index into ACTIVITIES): from its org's own setup mix on the org's
    first active day and its usage mix after (each org's mixes ~ Dirichlet(ACTIVITY_ALPHA * mix))."""
    orgs, kinds = len(first_day), len(ACTIVITIES)
    shape = (orgs, 2, kinds)
    preferences = rng.gamma(ACTIVITY_ALPHA * _activity_mixes()[None, :, :], 1.0, shape) + 1e-12
    cumulative = np.cumsum(preferences, axis=2)
    cumulative /= cumulative[:, :, -1:]
    cumulative[:, :, -1] = 1.0
    # Mix number org * 2 is an org's setup mix, org * 2 + 1 its usage mix. Mix r's cumulative shares
    # plus r, concatenated, increase throughout: one search finds every event's activity in its mix.
    mix = org * 2 + (day != first_day[org])
    shifted = (cumulative.reshape(-1, kinds) + np.arange(2 * orgs)[:, None]).ravel()
    activity = np.searchsorted(shifted, mix + rng.random(len(org)), side="right") - mix * kinds
    return np.minimum(activity, kinds - 1).astype(np.int8)


def _move_a_few_outside_the_trial(
    rng: np.random.Generator, trials: Trials, org: np.ndarray, day: np.ndarray, time: np.ndarray
) -> np.ndarray:
    """Events of the last 3 trial days moved hours after TRIAL_END (P_AFTER_END), and of day 0 just
    before TRIAL_START (P_BEFORE_START)."""
    draw = rng.random(len(org))
    after = (day >= TRIAL_DAYS - 3) & (draw < P_AFTER_END)
    before = (day == 0) & (draw < P_BEFORE_START)
    mean_shift = np.where(before, 3600, 6 * 3600)
    shift = 1 + np.minimum(rng.exponential(mean_shift), 3 * DAY).astype(np.int64)
    return np.where(after, trials.end[org] + shift, np.where(before, trials.start[org] - shift, time))


def _strictly_increasing_per_org(org: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Times (sorted by org, time) raised where needed so each org's strictly increase: the running
    maximum of time minus position, per org, plus the position back."""
    position = np.arange(len(time))
    offset = org * ORG_TIME_OFFSET
    return np.maximum.accumulate(offset + time - position) - offset + position


def _draw_copies(rng: np.random.Generator, org: np.ndarray, activity: np.ndarray, orgs: int) -> np.ndarray:
    """Rows per unique event (1: not duplicated). In duplicate-prone orgs an event is re-emitted with
    P_DUP_EVENT (by activity): once, or (P_DUP_BURST) as a burst of log-uniform size up to MAX_COPIES."""
    prone = _duplicate_prone_orgs(rng, org, orgs)
    p_duplicated = np.where(activity == SHIFT_CREATED, P_DUP_EVENT[1], P_DUP_EVENT[0]) * prone[org]
    events = len(org)
    burst_size = np.exp(rng.uniform(np.log(2), np.log(MAX_COPIES + 1), events)).astype(np.int64)
    duplicated = rng.random(events) < p_duplicated
    as_burst = rng.random(events) < P_DUP_BURST
    return np.where(duplicated, np.where(as_burst, np.minimum(burst_size, MAX_COPIES), 2), 1)


def _duplicate_prone_orgs(rng: np.random.Generator, org: np.ndarray, orgs: int) -> np.ndarray:
    """A systematic sample (P_DUP_ORG) of the orgs ranked by volume, so that the duplicate share does
    not hinge on whether a few giant orgs happen to be drawn."""
    grid = np.floor(np.arange(orgs + 1) * P_DUP_ORG + rng.random())
    prone = np.empty(orgs, bool)
    prone[np.argsort(np.bincount(org, minlength=orgs), kind="stable")] = np.diff(grid) > 0
    return prone
