AUDIT (
  name conversion_within_window,
  blocking FALSE
);

/* A conversion later than trial_end + conversion_window_days was counted as not converted until it
   arrived: the window is too short for this product (raise conversion_window_days in config.yaml). Warn,
   do not block. One row per such organization. */
SELECT
  organization_id,
  trial_end,
  converted_at
FROM @this_model
WHERE
  converted_at > trial_end + INTERVAL '1' DAY * @conversion_window_days