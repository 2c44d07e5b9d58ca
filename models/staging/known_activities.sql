/* The product's known activity names, from seeds/known_activities.csv: one row per activity.
   Events with other names are kept and flagged (staging.trial_events.is_known_activity). */
MODEL (
  name staging.known_activities,
  kind SEED (
    path '../../seeds/known_activities.csv'
  ),
  columns (
    activity_name TEXT,
    product_area TEXT
  ),
  column_descriptions (
    activity_name = 'Product event name as the export spells it',
    product_area = 'Part of the product the event belongs to'
  ),
  ignored_rules (
    nomissingunittest /* a seed is data: a unit test pinning its rows would make every edit a code change; its audits check the shape */
  ),
  grain (
    activity_name
  ),
  audits (
    not_null(columns := (
      activity_name
    )),
    unique_values(columns := (
      activity_name
    ))
  )
)