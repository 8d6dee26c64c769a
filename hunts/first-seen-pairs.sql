-- title: First-seen principal to bucket pairs
-- question: Which principals touched a bucket for the first time in the lake's history, and
--   what did they do there first?
-- param: since (date, optional): only pairs first seen on or after this day (UTC); history before it is still read
-- param: until (date, optional): ignore events after this day (UTC)
SELECT
  min(event_time) AS first_seen,
  principal,
  bucket,
  arg_min(coalesce(event_name, operation), event_time) AS first_operation,
  arg_min(source_ip, event_time) AS first_source_ip,
  count(*) AS requests
FROM events
WHERE bucket IS NOT NULL AND principal IS NOT NULL
  AND date <= coalesce($until, DATE '9999-12-31')
GROUP BY principal, bucket
HAVING min(event_time) >= coalesce($since, DATE '0001-01-01')
ORDER BY first_seen, principal, bucket
