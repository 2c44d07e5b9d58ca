AUDIT (
  name goal_separates_organizations,
  blocking FALSE
);

/* A goal that every organization completes, or that none does, tells the product team nothing:
   usually a threshold derived from unusual data (e.g. a percentile of 0). Warn, do not block,
   so the marts still build; the warning lists the goal. One row per such goal. */
SELECT
  goal_id,
  COUNT(*) AS organizations,
  COUNT(*) FILTER(WHERE
    is_completed) AS completed_organizations
FROM @this_model
WHERE
  NOT threshold IS NULL /* a goal awaiting its threshold is warned about by goals_have_threshold */
GROUP BY
  goal_id
HAVING
  COUNT(*) FILTER(WHERE
    is_completed) IN (0, COUNT(*))