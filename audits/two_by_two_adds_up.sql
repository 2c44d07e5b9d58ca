AUDIT (
  name two_by_two_adds_up
);

/* A 2x2 table (goal or candidate goal x converted) that does not add up: completed + not completed
   must be the population, and the converted part of a group at most the group. Returns those rows. */
SELECT
  *
FROM @this_model
WHERE
  completed + not_completed <> organizations
  OR completed_converted > completed
  OR not_completed_converted > not_completed
  OR LEAST(completed, not_completed, completed_converted, not_completed_converted) < 0