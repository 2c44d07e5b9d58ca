"""How well does early behaviour predict conversion at all? The figures of marts.predictability.

The engine aggregates each organization's in-trial events per feature window (one query, see
models/marts/predictability.py: per activity family, and per organization); this module turns those
rows into a feature matrix, keeps the window's honest population, and scores the standard classifier
of validation.py against the same figure under shuffled labels. Pure functions on pandas frames, so
tests/python/test_predictability.py can call them without an engine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trial_activation.modeling.validation import (
    FOLDS,
    PERMUTATIONS,
    REPEATS,
    cross_validated_auc,
    sample_organizations,
    shuffled_auc_p95,
)

# At most this many activity families become features (the ones most organizations use); with the
# organization-wide features that keeps a window under ~40 features on any log.
MAX_FAMILIES = 34
SEED = 0
# Organization-wide features of a window, besides log1p(events) of each activity family.
ORGANIZATION_FEATURES = ("events", "active_days", "activities", "day_0_events", "span_days")
# Counts that get log1p (heavy-tailed); active days, activities and the span are small and kept as they are.
LOGGED = ("events", "day_0_events")


def window_population(organizations: pd.DataFrame, window_end_day: int) -> pd.DataFrame:
    """The organizations a window's figure is computed over, and their outcome.

    organizations: one row per organization with organization_id, trial_start, converted,
    converted_at and is_outcome_final (intermediate.trial_organizations). Kept: outcome final
    (the conversion window has closed, converted or not) and not converted before the window ended (not converted, or
    converted_at >= trial_start + window_end_day + 1 days: the honest population of the goals; a
    conversion with no converted_at is not known to be after the window, so it is left out too).
    Returns organization_id and converted (bool), sorted by organization_id, with attrs
    excluded_pending and excluded_converted_before_window_end (how many each rule left out).
    """
    frame = organizations.copy()
    converted = frame["converted"].astype(bool)
    landmark = pd.to_datetime(frame["trial_start"]) + pd.to_timedelta(window_end_day + 1, unit="D")
    converted_after = pd.to_datetime(frame["converted_at"]) >= landmark
    is_pending = ~frame["is_outcome_final"].astype(bool)
    converted_before = ~is_pending & converted & ~converted_after.fillna(False)
    kept = frame.loc[~is_pending & ~converted_before, ["organization_id"]].assign(converted=converted)
    kept = kept.sort_values("organization_id").reset_index(drop=True)
    kept.attrs["excluded_pending"] = int(is_pending.sum())
    kept.attrs["excluded_converted_before_window_end"] = int(converted_before.sum())
    return kept


def feature_matrix(rows: pd.DataFrame, organization_ids) -> pd.DataFrame:
    """One row per organization (in the order of organization_ids), one column per feature.

    rows: the engine's aggregate for one window, organization_id and activity_family (NULL on the
    organization's own row) with events, and on the organization's row active_days, activities,
    day_0_events, first_day and last_day. Features: log1p(events) of each activity family (at most
    MAX_FAMILIES, those with the most organizations, ties by name), log1p of all events and of day-0
    events, active days, distinct activities, and the span from the first to the last active day.
    An organization without an event in the window has zeros.
    """
    ids = pd.Index(organization_ids, name="organization_id")
    families = rows[rows["activity_family"].notna() & rows["organization_id"].isin(ids)]
    usage = families.groupby("activity_family")["organization_id"].nunique()
    kept = sorted(usage.index, key=lambda family: (-usage[family], family))[:MAX_FAMILIES]
    per_family = (
        families[families["activity_family"].isin(kept)]
        .pivot_table(index="organization_id", columns="activity_family", values="events", aggfunc="sum")
        .reindex(index=ids, columns=sorted(kept))
        .fillna(0)
    )
    per_family = np.log1p(per_family.astype(float)).add_prefix("family_")
    totals = rows[rows["activity_family"].isna()].set_index("organization_id")
    totals = totals.assign(span_days=totals["last_day"] - totals["first_day"])
    organization = totals.reindex(ids)[list(ORGANIZATION_FEATURES)].astype(float).fillna(0)
    organization[list(LOGGED)] = np.log1p(organization[list(LOGGED)])
    return pd.concat([per_family, organization], axis=1)


def window_samples(organizations: pd.DataFrame, windows, max_organizations: int, seed: int = SEED) -> dict:
    """(window_start_day, window_end_day) -> (the window's population, the positions in it of the
    organizations its figures are computed on: all of them, or a stratified sample of max_organizations,
    the variable predictability_max_organizations: the shuffled baseline costs PERMUTATIONS x REPEATS x
    FOLDS fits, and its cost grows with the organizations, benchmarks/README.md)."""
    samples = {}
    for start, end in windows:
        population = window_population(organizations, end)
        chosen = sample_organizations(population["converted"].to_numpy(bool), max_organizations, seed=seed)
        samples[(start, end)] = (population, chosen)
    return samples


def sampled_organization_ids(samples: dict):
    """The organizations predictability() will read features of, when some window of window_samples'
    samples is sampled (sorted ids): the engine's aggregate need not cover the others. None when no
    window is sampled (all)."""
    if all(len(chosen) == len(population) for population, chosen in samples.values()):
        return None
    chosen_ids = (population["organization_id"].iloc[chosen] for population, chosen in samples.values())
    return sorted(set().union(*chosen_ids))


def predictability(rows: pd.DataFrame, samples: dict, seed: int = SEED, permutations: int = PERMUTATIONS) -> pd.DataFrame:
    """One row per feature window (window_start_day, window_end_day) with the figures of marts.predictability.

    rows: the engine's aggregate (feature_matrix's rows) for every window, with window_start_day and
    window_end_day (those of sampled_organization_ids' organizations are enough); samples: window_samples'
    populations and the organizations chosen in each. The cross-validated AUC (REPEATS x FOLDS, seed) and
    the shuffled baseline (permutations, seed) are computed on the chosen organizations. Deterministic:
    the populations are sorted by id first.
    """
    figures = []
    for (start, end), (population, chosen) in samples.items():
        labels = population["converted"].to_numpy(bool)
        window_rows = rows[(rows["window_start_day"] == start) & (rows["window_end_day"] == end)]
        features = feature_matrix(window_rows, population["organization_id"].iloc[chosen])
        auc, auc_sd = cross_validated_auc(features.to_numpy(float), labels[chosen], seed=seed)
        p95 = shuffled_auc_p95(features.to_numpy(float), labels[chosen], seed=seed, permutations=permutations)
        figures.append(
            {
                "window_id": f"{start}-{end}",
                "window_start_day": start,
                "window_end_day": end,
                "organizations": len(population),
                "converted": int(labels.sum()),
                "excluded_converted_before_window_end": population.attrs["excluded_converted_before_window_end"],
                "excluded_pending": population.attrs["excluded_pending"],
                "is_sampled": len(chosen) < len(population),
                "sample_organizations": len(chosen),
                "sample_converted": int(labels[chosen].sum()),
                "features": features.shape[1],
                "auc": auc,
                "auc_sd": auc_sd,
                "shuffled_auc_p95": p95,
                "is_above_chance": auc is not None and p95 is not None and auc > p95,
                "folds": FOLDS,
                "repeats": REPEATS,
                "permutations": permutations,
            }
        )
    return pd.DataFrame(figures)
