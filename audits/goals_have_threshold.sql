AUDIT (
  name goals_have_threshold,
  blocking FALSE
);

/* A goal with a goal-level threshold (every kind but steadiness) whose threshold cannot be derived yet:
   a percentile goal with no converted organization whose window has closed (a young feed). Its rows
   are awaiting_threshold in marts.trial_goals and activation waits for it; the threshold fills in once
   a converted organization's window closes. Warn, do not block, so the rest of the marts build. */
SELECT
  goal_id,
  converted_org_count
FROM @this_model
WHERE
  goal_kind <> 'steadiness' AND threshold IS NULL