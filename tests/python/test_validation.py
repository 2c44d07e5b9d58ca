"""trial_activation/modeling/validation.py against statsmodels, lifelines, scikit-learn and scipy, and
against published worked examples (Freireich et al. 1963 as worked in Kleinbaum and Klein; lifelines'
documented log-rank test)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from trial_activation.modeling.validation import (
    classifier,
    cross_validated_auc,
    degenerate_flags,
    holdout_split,
    is_recommended,
    kaplan_meier_by_group,
    landmark_durations,
    minimum_detectable_difference,
    roc_auc,
    sample_organizations,
    shuffled_auc_p95,
)

# --- minimum_detectable_difference ------------------------------------------------------------


def cohens_h(p1: float, p2: float) -> float:
    return 2 * np.arcsin(np.sqrt(p1)) - 2 * np.arcsin(np.sqrt(p2))


@pytest.mark.parametrize(
    "n1,n2,p_base,tests",
    [(243, 723, 0.213, 1), (48, 837, 0.141, 1), (243, 723, 0.213, 118), (500, 500, 0.5, 1), (30, 40, 0.05, 672)],
)
def test_minimum_detectable_difference_has_the_power_statsmodels_computes(n1, n2, p_base, tests):
    """Round trip through another statsmodels function: the returned rates, turned into Cohen's h by
    statsmodels' proportion_effectsize, have 80% power in NormalIndPower.power."""
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    for direction, sign in (("increase", 1), ("decrease", -1)):
        difference = minimum_detectable_difference(n1, n2, p_base, tests=tests, direction=direction)
        if difference is None:
            continue
        h = proportion_effectsize(p_base + sign * difference, p_base)
        power = NormalIndPower().power(abs(h), nobs1=n1, alpha=0.05 / tests, ratio=n2 / n1, alternative="two-sided")
        assert power == pytest.approx(0.8, abs=1e-4)  # statsmodels solves for h to about 1e-5


def test_minimum_detectable_difference_matches_the_textbook_formula():
    """The normal approximation for two arcsine-transformed proportions (Cohen 1988, ch. 6):
    h = (z_(1 - alpha/2) + z_power) sqrt(1/n1 + 1/n2), ignoring the far tail's negligible power."""
    n1, n2, p_base = 243, 723, 0.213
    h = (scipy.stats.norm.ppf(0.975) + scipy.stats.norm.ppf(0.8)) * np.sqrt(1 / n1 + 1 / n2)
    increase = minimum_detectable_difference(n1, n2, p_base, direction="increase")
    decrease = minimum_detectable_difference(n1, n2, p_base, direction="decrease")
    assert cohens_h(p_base + increase, p_base) == pytest.approx(h, abs=1e-5)
    assert cohens_h(p_base, p_base - decrease) == pytest.approx(h, abs=1e-5)
    assert minimum_detectable_difference(n1, n2, p_base) == max(increase, decrease)
    # Equal groups of 392.4 detect h = 0.2, Cohen's "small" effect (the n of his Table 6.4.1 for h = .20).
    n = 2 * ((scipy.stats.norm.ppf(0.975) + scipy.stats.norm.ppf(0.8)) / 0.2) ** 2
    increase = minimum_detectable_difference(n, n, 0.5, direction="increase")
    assert cohens_h(0.5 + increase, 0.5) == pytest.approx(0.2, abs=1e-5)


def test_minimum_detectable_difference_brackets_the_issues_figures():
    """Issue 21 measured, with the pooled normal (Wald) approximation, 8.5 points for week 1 (243 vs 723
    organizations at 21.3%) and 14.6 after a correction over 672 candidates; the arcsine scale puts the
    detectable fall just below and the detectable rise just above."""
    assert minimum_detectable_difference(243, 723, 0.213, direction="decrease") < 0.085
    assert minimum_detectable_difference(243, 723, 0.213, direction="increase") > 0.085
    assert minimum_detectable_difference(243, 723, 0.213, tests=672, direction="decrease") < 0.146
    assert minimum_detectable_difference(243, 723, 0.213, tests=672, direction="increase") > 0.146


def test_minimum_detectable_difference_edges():
    assert minimum_detectable_difference(0, 100, 0.2) is None
    # 5 against 5 organizations at 2%: no fall can be detected (the rate cannot go below 0).
    assert minimum_detectable_difference(5, 5, 0.02, direction="decrease") is None
    assert minimum_detectable_difference(5, 5, 0.02) is None
    assert minimum_detectable_difference(5, 5, 0.02, direction="increase") > 0.5
    # One organization a side, corrected for 1,000 tests: not even 20% -> 100% reaches the power.
    assert minimum_detectable_difference(1, 1, 0.2, tests=1000) is None
    # At a base rate of 0 only a rise is possible; at 1 only a fall.
    assert minimum_detectable_difference(3, 5, 0.0, direction="decrease") is None
    assert minimum_detectable_difference(3, 5, 0.0, direction="increase") == pytest.approx(
        minimum_detectable_difference(3, 5, 1.0, direction="decrease")
    )
    with pytest.raises(ValueError):
        minimum_detectable_difference(10, 10, 0.2, direction="up")
    with pytest.raises(ValueError):
        minimum_detectable_difference(10, 10, 0.2, tests=0)


# --- Kaplan-Meier -----------------------------------------------------------------------------

# Freireich et al. (1963), remission times in weeks of leukemia patients on 6-MP or placebo, as worked
# in Kleinbaum and Klein, "Survival Analysis: A Self-Learning Text" (ch. 2): the KM estimates of the
# 6-MP group, the medians (23 and 8 weeks) and the log-rank statistic 16.79 (1 degree of freedom).
MP_WEEKS = [6, 6, 6, 7, 10, 13, 16, 22, 23, 6, 9, 10, 11, 17, 19, 20, 25, 32, 32, 34, 35]
MP_RELAPSED = [True] * 9 + [False] * 12
PLACEBO_WEEKS = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]
MP_SURVIVAL = {6: 0.857, 7: 0.807, 10: 0.753, 13: 0.690, 16: 0.627, 22: 0.538, 23: 0.448}


def test_kaplan_meier_reproduces_the_remission_data_example():
    result = kaplan_meier_by_group(
        MP_WEEKS + PLACEBO_WEEKS, MP_RELAPSED + [True] * 21, ["6-MP"] * 21 + ["placebo"] * 21
    )
    assert result["log_rank_statistic"] == pytest.approx(16.79, abs=0.005)
    assert result["log_rank_p"] == pytest.approx(scipy.stats.chi2.sf(result["log_rank_statistic"], 1), rel=1e-9)
    mp, placebo = result["groups"]["6-MP"], result["groups"]["placebo"]
    assert (mp["median_days"], placebo["median_days"]) == (23.0, 8.0)
    assert (mp["organizations"], mp["conversions"], placebo["conversions"]) == (21, 9, 21)
    curve = mp["curve"].set_index("days")
    for week, survival in MP_SURVIVAL.items():
        assert 1 - curve.loc[week, "share_converted"] == pytest.approx(survival, abs=5e-4)
    assert curve.loc[6, "at_risk"] == 21 and curve.loc[7, "at_risk"] == 17
    assert mp["median_days_among_converted"] == 10.0


def test_kaplan_meier_log_rank_equals_lifelines_documented_example():
    """lifelines' documentation ("Survival analysis with lifelines", comparing two populations): the
    log-rank test of the Waltons data's two groups has test statistic 122.25."""
    from lifelines.datasets import load_waltons

    waltons = load_waltons()
    result = kaplan_meier_by_group(waltons["T"], waltons["E"], waltons["group"])
    assert result["log_rank_statistic"] == pytest.approx(122.25, abs=0.005)
    assert result["log_rank_p"] < 0.005


def test_kaplan_meier_never_reaching_half_has_no_median_and_one_group_has_no_test():
    result = kaplan_meier_by_group([3, 5, 9, 9, 9], [True, False, False, False, False], ["a"] * 5)
    assert result["groups"]["a"]["median_days"] is None
    assert result["log_rank_p"] is None
    assert result["groups"]["a"]["curve"]["share_converted"].max() == pytest.approx(0.2)


def test_landmark_durations_by_hand():
    """Landmark at trial day 7, as_of 2024-03-01, trials starting 2024-01-01 unless said:"""
    start = pd.Timestamp("2024-01-01")
    rows = [
        # trial_start, converted_at, is_included, days, is_converted
        (start, pd.Timestamp("2024-01-05"), False, 4.0, True),  # converted before the landmark: out
        (start, pd.Timestamp("2024-01-08"), True, 7.0, True),  # converted exactly at the landmark: in
        (start, pd.Timestamp("2024-01-21 12:00"), True, 20.5, True),
        (start, None, True, 60.0, False),  # not converted: censored at as_of
        (start, pd.Timestamp("2024-03-05"), True, 60.0, False),  # converts after as_of: not known yet
        (pd.Timestamp("2024-02-25"), None, False, 5.0, False),  # landmark after as_of: not yet at risk
    ]
    frame = landmark_durations([r[0] for r in rows], [r[1] for r in rows], "2024-03-01", landmark_day=7)
    expected = pd.DataFrame(
        {"is_included": [r[2] for r in rows], "days": [r[3] for r in rows], "is_converted": [r[4] for r in rows]}
    )
    pd.testing.assert_frame_equal(frame, expected)


# --- predictability ---------------------------------------------------------------------------


def planted(organizations: int, noise_features: int, signal: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features of which the first shifts the log-odds of conversion by `signal` per sd; ~21% convert."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(organizations, noise_features + 1))
    log_odds = np.log(0.21 / 0.79) + signal * features[:, 0]
    return features, rng.random(organizations) < 1 / (1 + np.exp(-log_odds))


def test_cross_validated_auc_equals_scikit_learns_pipeline_and_scipys_auc():
    """The hand-spelled cross-validation equals cross_val_score of the scikit-learn Pipeline, fold by
    fold; and the AUC equals scipy's Mann-Whitney U over the product of the class sizes."""
    from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score

    features, labels = planted(600, 10, 0.5, seed=5)
    features[:, 3] = 2.0  # a constant column, which StandardScaler leaves unscaled
    folds = cross_val_score(
        classifier(), features, labels, scoring="roc_auc",
        cv=RepeatedStratifiedKFold(n_splits=5, n_repeats=3, random_state=9),
    )
    mean, sd = cross_validated_auc(features, labels, repeats=3, folds=5, seed=9)
    assert mean == pytest.approx(folds.mean(), abs=1e-9)
    assert sd == pytest.approx(folds.std(ddof=1), abs=1e-9)

    scores = np.round(features[:, 0], 1)  # with ties
    u = scipy.stats.mannwhitneyu(scores[labels], scores[~labels]).statistic
    assert roc_auc(labels, scores) == pytest.approx(u / (labels.sum() * (~labels).sum()), abs=1e-12)


def test_predictability_sees_a_planted_feature_and_not_noise():
    """~1,000 organizations, 40 features: a planted one lifts the AUC clearly above the shuffled
    baseline's 95th percentile; with no signal the AUC stays within it."""
    features, labels = planted(1000, 39, 0.6, seed=1)
    mean, sd = cross_validated_auc(features, labels, repeats=3, seed=3)
    baseline = shuffled_auc_p95(features, labels, repeats=3, seed=3, permutations=30)
    assert 0.5 < baseline < 0.6
    assert mean > baseline + 0.05 and 0 < sd < 0.1

    noise, noise_labels = planted(1000, 39, 0.0, seed=2)
    noise_mean, _ = cross_validated_auc(noise, noise_labels, repeats=3, seed=3)
    assert noise_mean < shuffled_auc_p95(noise, noise_labels, repeats=3, seed=3, permutations=30)


def test_organizations_with_the_same_features_tie_whatever_the_last_bits():
    """Inactive organizations share every feature (all zero). Their held-out scores must tie, not be
    ranked by the last bits the machine's BLAS kernel leaves (which moved the real log's AUC in its
    fourth decimal between two environments): the AUC is the same after noise far below any real
    difference is added to half of them."""
    features, labels = planted(600, 8, 0.4, seed=11)
    inactive = np.arange(600) % 5 < 2
    features[inactive] = 0.0
    nudged = features.copy()
    rows = np.flatnonzero(inactive)[::2]
    nudged[rows] += 1e-13 * np.random.default_rng(0).standard_normal((len(rows), features.shape[1]))
    assert cross_validated_auc(nudged, labels, repeats=2, seed=3) == cross_validated_auc(features, labels, repeats=2, seed=3)


def test_predictability_is_deterministic_and_undefined_without_both_classes():
    features, labels = planted(300, 5, 0.3, seed=4)
    first = cross_validated_auc(features, labels, repeats=2, seed=7)
    assert first == cross_validated_auc(features, labels, repeats=2, seed=7)
    assert shuffled_auc_p95(features, labels, repeats=1, permutations=5, seed=7) == shuffled_auc_p95(
        features, labels, repeats=1, permutations=5, seed=7
    )
    too_few = np.zeros(300, bool)
    too_few[:4] = True
    assert cross_validated_auc(features, too_few) == (None, None)
    assert shuffled_auc_p95(features, too_few) is None


def test_sample_organizations_keeps_the_class_shares():
    labels = np.random.default_rng(0).random(20_000) < 0.21
    sample = sample_organizations(labels, 2_000, seed=1)
    assert len(sample) == 2_000 and len(set(sample)) == 2_000 and (np.diff(sample) > 0).all()
    assert labels[sample].sum() == round(2_000 * labels.sum() / len(labels))
    assert (sample == sample_organizations(labels, 2_000, seed=1)).all()
    assert (sample_organizations(labels[:100], 2_000) == np.arange(100)).all()


# --- held-out validation and honest counting ---------------------------------------------------


def test_holdout_split_takes_the_latest_starts_and_keeps_ties_together():
    starts = pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-02", "2024-01-03", "2024-01-04"])
    # floor(0.4 x 5) = 2 at most; the two on 2024-01-03 straddle the cut, so both stay in the search part.
    assert holdout_split(starts, 0.4).tolist() == [False, False, False, False, True]
    assert holdout_split(starts, 0.6).tolist() == [False, True, False, True, True]
    assert not holdout_split(starts, 0.0).any() and holdout_split(starts, 1.0).all()

    rng = np.random.default_rng(0)
    many = pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 90, 966), unit="D"))
    mask = holdout_split(many, 0.4)
    assert mask.sum() <= 386 and many[mask].min() > many[~mask].max()
    order = rng.permutation(966)
    assert (holdout_split(many.iloc[order], 0.4) == mask[order]).all()
    distinct = pd.Series(pd.date_range("2024-01-01", periods=10, freq="h"))
    assert holdout_split(distinct, 0.4).tolist() == [False] * 6 + [True] * 4
    with pytest.raises(ValueError):
        holdout_split([pd.Timestamp("2024-01-01"), None])


def test_degenerate_flags_by_hand():
    counts = pd.DataFrame(
        {
            "completed": [0, 5, 5, 7, 5, 12],
            "completed_converted": [0, 1, 1, 2, 1, 3],
            "not_completed": [12, 7, 7, 5, 7, 0],
            "not_completed_converted": [3, 2, 2, 1, 2, 0],
        },
        index=["nobody", "a", "b", "c", "d", "everybody"],
    )
    flags = degenerate_flags(counts)
    assert flags["is_trivial"].tolist() == [True, False, False, False, False, True]
    assert flags["duplicate_of"].tolist() == [None, None, "a", None, "a", None]
    assert flags["is_tested"].tolist() == [False, True, False, True, False, False]
    with pytest.raises(ValueError, match="not_completed"):
        degenerate_flags(counts.drop(columns="not_completed"))


def test_is_recommended_rule():
    # supported, q < 0.05, held-out interval on the search difference's side
    assert is_recommended(True, 0.01, 0.10, 0.02, 0.20) is True
    assert is_recommended(True, 0.01, -0.10, -0.20, -0.01) is True
    assert is_recommended(False, 0.01, 0.10, 0.02, 0.20) is False  # not supported
    assert is_recommended(True, 0.05, 0.10, 0.02, 0.20) is False  # not significant after correction
    assert is_recommended(True, 0.01, 0.10, -0.01, 0.20) is False  # held-out interval contains 0
    assert is_recommended(True, 0.01, 0.10, -0.20, -0.02) is False  # held out, the other way round
    assert is_recommended(True, None, 0.10, 0.02, 0.20) is False  # left out of the correction
    rule = is_recommended(
        pd.Series([True, True, False, True]),
        np.array([0.001, np.nan, 0.001, 0.001]),
        [0.1, 0.1, 0.1, 0.1],
        [0.01, 0.01, 0.01, None],
        [0.2, 0.2, 0.2, None],
    )
    assert rule.tolist() == [True, False, False, False]
