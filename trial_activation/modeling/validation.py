"""Does a goal hold up? Power, time to conversion, the predictability ceiling and held-out validation.

stats.py says what one 2x2 table shows; this module says how far to trust it (issue 21):

- minimum_detectable_difference: the smallest difference in conversion rates that groups of these
  sizes would detect with 80% power at two-sided 5%, Bonferroni-corrected across candidates
  (statsmodels' power of the arcsine-transformed proportions, Cohen's h);
- landmark_durations, kaplan_meier_by_group: time to conversion from the end of a goal's window (a
  landmark analysis), outcomes not known yet censored at as_of; Kaplan-Meier curves, medians and the
  log-rank p-value (lifelines);
- cross_validated_auc, shuffled_auc_p95, sample_organizations: how well per-organization features
  predict conversion at all (a standardised logistic regression, scikit-learn), against the same
  figure with the labels shuffled;
- holdout_split, degenerate_flags, is_recommended: choose on the earlier trials, check on the later
  ones, count only distinct candidates in the correction.

Pure functions on numpy/pandas inputs; tests/python/test_validation.py checks each against
statsmodels, lifelines, scikit-learn/scipy or a published worked example. Unlike stats.py these
need statistics libraries at run time (pinned in pyproject.toml).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

ALPHA = 0.05
POWER = 0.8
DAY_SECONDS = 86_400


# --- power ------------------------------------------------------------------------------------


def minimum_detectable_difference(
    n1: int,
    n2: int,
    p_base: float,
    alpha: float = ALPHA,
    power: float = POWER,
    tests: int = 1,
    direction: str = "either",
) -> float | None:
    """The smallest difference in conversion rates (a fraction: 0.085 is 8.5 points) between groups of
    n1 and n2 organizations that a two-sided test at alpha / tests detects with the given power.

    p_base is the conversion rate under no difference: pass the pooled rate of both groups, as a power
    calculation assumes. The test is the normal test of the arcsine-transformed proportions: statsmodels'
    NormalIndPower is solved for Cohen's h (h = 2 asin sqrt(p1) - 2 asin sqrt(p2)), mapped back
    to rates around p_base. On that scale the same h is a larger rise than fall below 0.5, so
    `direction` says which: "increase" (p_base to a higher rate), "decrease", or "either" (the
    default: the larger of the two, so that "no difference of this size either way" holds).

    `tests` divides alpha (Bonferroni): pass the number of distinct candidates tested. The candidates
    are ranked by Benjamini-Hochberg q-values, whose threshold depends on the other p-values, so no
    power follows from the group sizes alone; but BH's first discovery needs p <= alpha / tests, the
    Bonferroni threshold, so this is the difference a candidate needs to be found at all.

    None when a group is empty or no rate in that direction reaches the power (the groups are too
    small for any difference of that sign to be detected reliably).
    """
    from statsmodels.stats.power import NormalIndPower

    if direction not in ("either", "increase", "decrease"):
        raise ValueError(f"direction must be 'either', 'increase' or 'decrease', not {direction!r}")
    if not 0 <= p_base <= 1:
        raise ValueError(f"p_base is a rate between 0 and 1, not {p_base}")
    if tests < 1:
        raise ValueError(f"tests counts the tests corrected for, at least 1, not {tests}")
    if n1 <= 0 or n2 <= 0:
        return None
    h = NormalIndPower().solve_power(
        effect_size=None, nobs1=n1, alpha=alpha / tests, power=power, ratio=n2 / n1, alternative="two-sided"
    )
    phi = 2 * math.asin(math.sqrt(p_base))
    increase = math.sin((phi + h) / 2) ** 2 - p_base if phi + h <= math.pi else None
    decrease = p_base - math.sin((phi - h) / 2) ** 2 if phi - h >= 0 else None
    if direction == "increase":
        return increase
    if direction == "decrease":
        return decrease
    return None if increase is None or decrease is None else max(increase, decrease)


# --- time to conversion -----------------------------------------------------------------------


def landmark_durations(trial_start, converted_at, as_of, landmark_day: float) -> pd.DataFrame:
    """Each organization's time to conversion for a landmark analysis from trial day `landmark_day`
    (the goal window's end: 7 for a goal over days 0-6), in days since trial_start.

    Columns: is_included, days (to conversion, or to as_of when censored), is_converted (the event).
    - An organization that converted before trial_start + landmark_day is left out (it was not at
      risk at the landmark: the goal cannot have led to the purchase), as in the goals' honest
      population; one converting exactly at the landmark stays in.
    - One whose landmark is after as_of is left out too (not yet at the landmark).
    - A conversion after as_of is not known yet: that organization is censored at as_of, like one
      that has not converted (converted_at missing).
    Every included organization has days >= landmark_day, so a Kaplan-Meier curve over them is flat
    at 1 until the landmark and then the conversion curve conditional on reaching it.
    """
    start = pd.to_datetime(pd.Series(trial_start)).reset_index(drop=True)
    converted = pd.to_datetime(pd.Series(converted_at)).reset_index(drop=True)
    as_of = pd.Timestamp(as_of)
    landmark = start + pd.to_timedelta(landmark_day, unit="D")
    is_converted = converted.notna() & (converted <= as_of)
    end = converted.where(is_converted, as_of)
    days = (end - start).dt.total_seconds() / DAY_SECONDS
    is_included = (landmark <= as_of) & ~(is_converted & (converted < landmark))
    return pd.DataFrame({"is_included": is_included, "days": days, "is_converted": is_converted})


def kaplan_meier_by_group(days, is_converted, group) -> dict:
    """Kaplan-Meier curves of conversion for each group (e.g. completed the goal or not), with the
    log-rank test of their difference (lifelines).

    Returns {"groups": {group: {...}}, "log_rank_p": float | None, "log_rank_statistic": ...}; each
    group holds organizations, conversions, curve (a DataFrame: days, share_converted = 1 - survival,
    at_risk), median_days (Kaplan-Meier median time to conversion; None when fewer than half are
    estimated to convert, the usual case at ~21% conversion) and median_days_among_converted (the
    plain median of the observed conversions' days, which ignores censoring: descriptive only).
    The log-rank p-value is None with fewer than two groups.

    For a goal, from the end of its window (trial days 0-6: landmark day 7):
        frame = landmark_durations(trial_start, converted_at, as_of, landmark_day=7)
        kept = frame["is_included"].to_numpy()
        kaplan_meier_by_group(frame["days"][kept], frame["is_converted"][kept], completed[kept])
    """
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    frame = pd.DataFrame(
        {"days": np.asarray(days, float), "is_converted": np.asarray(is_converted, bool), "group": np.asarray(group)}
    )
    groups = {}
    for name, rows in frame.groupby("group", sort=True):
        fitter = KaplanMeierFitter().fit(rows["days"], rows["is_converted"])
        survival = fitter.survival_function_.iloc[:, 0]
        curve = pd.DataFrame(
            {
                "days": survival.index.to_numpy(float),
                "share_converted": 1 - survival.to_numpy(float),
                "at_risk": fitter.event_table["at_risk"].reindex(survival.index).to_numpy(),
            }
        )
        median = fitter.median_survival_time_
        converted_days = rows.loc[rows["is_converted"], "days"]
        groups[name] = {
            "organizations": len(rows),
            "conversions": int(rows["is_converted"].sum()),
            "curve": curve,
            "median_days": float(median) if np.isfinite(median) else None,
            "median_days_among_converted": float(converted_days.median()) if len(converted_days) else None,
        }
    statistic = p_value = None
    if len(groups) >= 2:
        result = multivariate_logrank_test(frame["days"], frame["group"], frame["is_converted"])
        statistic, p_value = float(result.test_statistic), float(result.p_value)
    return {"groups": groups, "log_rank_statistic": statistic, "log_rank_p": p_value}


# --- predictability ceiling -------------------------------------------------------------------

# The defaults keep the shuffled baseline (PERMUTATIONS x REPEATS x FOLDS = 1,000 fits) to a few
# seconds on ~1,000 organizations x ~40 features.
FOLDS = 5
REPEATS = 2
PERMUTATIONS = 100
# Newton's method converges in a handful of iterations on standardised, correlated count features,
# where scikit-learn's default lbfgs takes tens (several times slower); the optimum is the same.
SOLVER = "newton-cholesky"
# Decimals a held-out score is rounded to before ranking (see _fold_aucs): far below any real difference
# between organizations' scores, far above the noise of floating-point kernels.
SCORE_DECIMALS = 9


def classifier():
    """The standard classifier: features standardised on the training folds, then an L2-penalised
    logistic regression (scikit-learn's defaults but the solver, SOLVER). _fold_aucs computes exactly
    this pipeline's cross-validated AUC, faster (tests/python/test_validation.py compares the two)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(solver=SOLVER, max_iter=1000))


def _fold_aucs(features: np.ndarray, labels: np.ndarray, repeats: int, folds: int, seed) -> np.ndarray:
    """The AUC on each held-out fold of `repeats` x `folds` stratified cross-validation of classifier().

    The shuffled baseline runs this thousands of times, so the pipeline is spelled out: StandardScaler's
    standardisation (mean and population sd of the training fold; a constant column is left unscaled),
    scikit-learn's LogisticRegression on it, and the AUC of its linear scores on the test fold. Same
    figures as cross_val_score(classifier(), ..., scoring="roc_auc"), without the per-call checks and
    copies that cost more than the fit on ~1,000 organizations.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RepeatedStratifiedKFold
    from threadpoolctl import threadpool_limits

    splits = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    aucs = []
    # One BLAS thread: the matrices are small, and threads cost more than they save (several times
    # more on a machine whose cores are busy with other work).
    with threadpool_limits(limits=1):
        for train, test in splits.split(features, labels):
            mean = features[train].mean(axis=0)
            scale = features[train].std(axis=0)
            scale[scale == 0] = 1.0
            model = LogisticRegression(solver=SOLVER, max_iter=1000)
            model.fit((features[train] - mean) / scale, labels[train])
            # Organizations with the same features must tie (an AUC counts a tie one half): rounded,
            # or the last bits of the BLAS kernel the machine picks would rank them, and the AUC would
            # move in its fourth decimal from one machine (or OPENBLAS_CORETYPE) to another.
            scores = np.round(((features[test] - mean) / scale) @ model.coef_[0], SCORE_DECIMALS)
            aucs.append(roc_auc(labels[test], scores))
    return np.asarray(aucs)


def roc_auc(labels, scores) -> float:
    """The area under the ROC curve: the probability that a random positive scores above a random
    negative, ties counting one half (the Mann-Whitney U statistic over the product of the class sizes).
    The same figure as sklearn.metrics.roc_auc_score, without its input checks (it runs thousands of
    times per shuffled baseline)."""
    from scipy.stats import rankdata

    labels = np.asarray(labels, dtype=bool)
    positives = int(labels.sum())
    negatives = len(labels) - positives
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _as_arrays(features, labels) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(features, dtype=float)
    y = np.asarray(labels, dtype=bool)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"features must be (organizations x features) with one label each: {x.shape}, {y.shape}")
    return x, y


def _enough_of_each_class(labels: np.ndarray, folds: int) -> bool:
    return min(labels.sum(), (~labels).sum()) >= folds


def cross_validated_auc(
    features, labels, repeats: int = REPEATS, folds: int = FOLDS, seed: int = 0
) -> tuple[float, float] | tuple[None, None]:
    """(mean, sd) of the held-out ROC AUC of the standard classifier (standardised logistic regression)
    over `repeats` x `folds` stratified cross-validation (RepeatedStratifiedKFold with random_state
    seed): how well the features rank converters above the others on organizations the model did not
    see. 0.5 is chance. sd is across the repeats x folds AUCs (ddof 1). Deterministic given seed.
    (None, None) when either class has fewer organizations than folds."""
    x, y = _as_arrays(features, labels)
    if not _enough_of_each_class(y, folds):
        return None, None
    aucs = _fold_aucs(x, y, repeats, folds, seed)
    return float(aucs.mean()), float(aucs.std(ddof=1))


def shuffled_auc_p95(
    features,
    labels,
    repeats: int = REPEATS,
    folds: int = FOLDS,
    seed: int = 0,
    permutations: int = PERMUTATIONS,
) -> float | None:
    """The 95th percentile of cross_validated_auc's mean when the labels are shuffled: what chance
    alone reaches with these features, organizations and class sizes. A mean AUC above it is
    unlikely (p < 0.05) to come from features that carry no signal.

    Each of `permutations` shuffles (numpy's default_rng(seed)) reruns the same cross-validation
    (same repeats, folds and split seed) on the shuffled labels; the percentile is numpy's linear one.
    Cost: permutations x repeats x folds fits (100 x 2 x 5 = 1,000 by default). Deterministic given
    seed. None when either class has fewer organizations than folds."""
    x, y = _as_arrays(features, labels)
    if not _enough_of_each_class(y, folds):
        return None
    rng = np.random.default_rng(seed)
    means = [_fold_aucs(x, rng.permutation(y), repeats, folds, seed).mean() for _ in range(permutations)]
    return float(np.percentile(means, 95))


def sample_organizations(labels, max_organizations: int, seed: int = 0) -> np.ndarray:
    """Sorted positions of at most max_organizations organizations, drawn without replacement with
    each class kept in proportion (numpy's default_rng(seed)): the shuffled baseline costs
    permutations x repeats x folds fits, so on large logs both figures are computed on such a sample
    (the same one for both: the baseline's spread depends on the number of organizations). All
    positions when there are not more than max_organizations."""
    y = np.asarray(labels, dtype=bool)
    if len(y) <= max_organizations:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    positives = np.flatnonzero(y)
    negatives = np.flatnonzero(~y)
    take_positives = round(max_organizations * len(positives) / len(y))
    chosen = np.concatenate(
        [
            rng.choice(positives, take_positives, replace=False),
            rng.choice(negatives, max_organizations - take_positives, replace=False),
        ]
    )
    return np.sort(chosen)


# --- held-out validation and honest counting ---------------------------------------------------


def holdout_split(trial_starts, holdout_fraction: float = 0.4) -> np.ndarray:
    """Boolean mask of the held-out organizations: the latest trial starts, at most
    floor(holdout_fraction x organizations) of them.

    The split is a point in time: an organization is held out when at least
    organizations - floor(holdout_fraction x organizations) organizations started strictly before it
    (in SQL: RANK() OVER (ORDER BY trial_start) - 1 >= that number). Organizations with the same
    trial_start are always on the same side, and a tie across the cut goes to the earlier (search)
    part, so the holdout never exceeds the fraction and the mask does not depend on the input order.
    """
    if not 0 <= holdout_fraction <= 1:
        raise ValueError(f"holdout_fraction is between 0 and 1, not {holdout_fraction}")
    starts = pd.to_datetime(pd.Series(trial_starts)).reset_index(drop=True)
    if starts.isna().any():
        raise ValueError("every organization needs a trial_start to be split by cohort")
    search_size = len(starts) - math.floor(holdout_fraction * len(starts))
    started_before = starts.rank(method="min").to_numpy() - 1
    return started_before >= search_size


COUNT_COLUMNS = ("completed", "completed_converted", "not_completed", "not_completed_converted")


def degenerate_flags(counts: pd.DataFrame) -> pd.DataFrame:
    """Which candidates to leave out of the correction, from their 2x2 counts (the columns
    completed, completed_converted, not_completed, not_completed_converted), one row per candidate.

    Columns (same index as counts):
    - is_trivial: a threshold everyone or no one meets (completed or not_completed is 0): it splits
      no one, so it tests nothing;
    - duplicate_of: for a 2x2 table identical to an earlier row's, that row's index label (the first
      of each identical set, in the order of `counts`, is kept: sort counts first, e.g. by
      candidate_id, for a result that does not depend on how the rows arrive); otherwise None;
    - is_tested: neither. Correct across these only (their number is the distinct candidates tested,
      the `tests` of minimum_detectable_difference): q-values from
      stats.benjamini_hochberg(p_value.where(flags["is_tested"])), NaN for the rest.
    """
    missing = [column for column in COUNT_COLUMNS if column not in counts.columns]
    if missing:
        raise ValueError(f"degenerate_flags needs the 2x2 columns {list(COUNT_COLUMNS)}; missing {missing}")
    table = counts[list(COUNT_COLUMNS)].astype("int64")
    is_trivial = (table["completed"] == 0) | (table["not_completed"] == 0)
    labels = pd.Series(counts.index, index=counts.index)
    first = labels.groupby([table[column] for column in COUNT_COLUMNS], sort=False).transform("first")
    is_duplicate = (first != labels) & ~is_trivial
    duplicate_of = pd.Series([f if d else None for f, d in zip(first, is_duplicate)], index=counts.index, dtype=object)
    return pd.DataFrame(
        {"is_trivial": is_trivial, "duplicate_of": duplicate_of, "is_tested": ~is_trivial & ~is_duplicate},
        index=counts.index,
    )


def is_recommended(
    is_supported,
    search_q_value,
    search_difference,
    holdout_difference_low,
    holdout_difference_high,
    alpha: float = ALPHA,
):
    """The rule for recommending a candidate goal: supported (enough organizations on each side),
    significant after the correction in the search part (q-value < alpha; None/NaN for a candidate
    left out of the correction), and a held-out interval of the difference that excludes 0 on the
    same side as the search part's difference. Works elementwise on arrays or Series (returns a bool
    array) and on scalars (returns a bool); a missing figure means not recommended."""
    values = [is_supported, search_q_value, search_difference, holdout_difference_low, holdout_difference_high]
    scalar = all(np.ndim(value) == 0 for value in values)
    supported, q, difference, low, high = (
        pd.to_numeric(pd.Series(np.atleast_1d(np.asarray(value, dtype=object))), errors="coerce").to_numpy(float)
        for value in values
    )
    with np.errstate(invalid="ignore"):
        holds = ((difference > 0) & (low > 0)) | ((difference < 0) & (high < 0))
        result = (supported == 1) & (q < alpha) & holds
    return bool(result[0]) if scalar else result
