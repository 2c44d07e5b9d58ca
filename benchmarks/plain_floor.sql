/* The plain floor: the activation flags as a user would compute them by hand, in one DuckDB query
   straight over the raw event log. One row per organization: its three goal flags and is_activated.

   The three default goals of seeds/activation_goals.csv are WRITTEN INTO THE QUERY (their windows,
   percentiles, floors and steadiness ratio), which is the point of this baseline: it is what someone
   who does not use the project writes for today's goals, not a general goal engine. If the seed's
   defaults change, this query does not follow them.

   - read the file as the reader types it (no quarantine: the benchmark's generated log is clean);
   - DISTINCT: exact duplicate rows count once;
   - trial day = whole days since the row's trial start; only events in [trial_start, trial_end] count;
   - per organization, its events in trial days 0-6, 7-13 and 21-27 (0 when none);
   - week_1_activity: week-1 events >= the 75th percentile (continuous) over converted
     organizations, at least 0; week_2_activity: the same for week 2, at least 1;
     week_4_steadiness: week-4 events >= 0.9 x its week-2 events (week 1 when week 2 has none), at
     least 1; is_activated: all three.

   The benchmark's generated log has one trial_start, trial_end and conversion per organization (as
   the real export does), so they are taken as they come; the project also resolves organizations
   whose rows disagree and quarantines invalid rows, which this query does not.

   The one placeholder, filled in by benchmarks/run_benchmark.py and the tests, is the table function
   that reads the log: READ_PARQUET of the benchmark's glob of daily files, or READ_CSV of an export
   such as data/sample/trial_events.csv.gz (DuckDB's sniffer types its columns). */

CREATE TABLE plain_activation AS
WITH events AS (
  SELECT DISTINCT /* named in lower case: the export's header is upper case */
    organization_id AS organization_id,
    activity_name AS activity_name,
    "timestamp" AS event_at,
    converted AS converted,
    converted_at AS converted_at,
    trial_start AS trial_start,
    trial_end AS trial_end
  FROM {read} /* the read: READ_PARQUET(...) or READ_CSV(...) */
), organizations AS (
  SELECT
    organization_id,
    BOOL_OR(converted) AS converted,
    COUNT(*) FILTER (WHERE is_in_trial AND trial_day BETWEEN 0 AND 6) AS week_1_events,
    COUNT(*) FILTER (WHERE is_in_trial AND trial_day BETWEEN 7 AND 13) AS week_2_events,
    COUNT(*) FILTER (WHERE is_in_trial AND trial_day BETWEEN 21 AND 27) AS week_4_events
  FROM (
    SELECT
      organization_id,
      converted,
      event_at BETWEEN trial_start AND trial_end AS is_in_trial,
      FLOOR(DATE_DIFF('second', trial_start, event_at) / 86400) AS trial_day
    FROM events
  )
  GROUP BY
    organization_id
), thresholds AS (
  SELECT
    QUANTILE_CONT(week_1_events, 0.75) AS week_1_p75,
    QUANTILE_CONT(week_2_events, 0.75) AS week_2_p75
  FROM organizations
  WHERE
    converted
), flags AS (
  SELECT
    o.organization_id,
    o.week_1_events >= GREATEST(0, t.week_1_p75) AS week_1_activity,
    o.week_2_events >= GREATEST(1, t.week_2_p75) AS week_2_activity,
    o.week_4_events >= GREATEST(
      1,
      0.9 * CASE WHEN o.week_2_events > 0 THEN o.week_2_events ELSE o.week_1_events END
    ) AS week_4_steadiness
  FROM organizations AS o
  CROSS JOIN thresholds AS t
)
SELECT
  organization_id,
  week_1_activity,
  week_2_activity,
  week_4_steadiness,
  week_1_activity AND week_2_activity AND week_4_steadiness AS is_activated
FROM flags
