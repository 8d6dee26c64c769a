-- title: Deletes per principal per hour
-- question: Who deleted objects, how many delete requests per hour, on which buckets, and how
--   many of them removed a specific version (permanent deletes)?
-- param: since (date, optional): first day (UTC) to look at
-- param: until (date, optional): last day (UTC) to look at
-- param: min_deletes (int, default 1): hours with fewer delete requests are left out
-- Each request once (the requests view): a DeleteObjects of many keys is one request.
SELECT
  date_trunc('hour', event_time) AS hour,
  principal,
  count(*) AS delete_requests,
  count(*) FILTER (WHERE version_id IS NOT NULL) AS version_deletes,
  count(*) FILTER (WHERE error_code IS NOT NULL) AS failed,
  list(DISTINCT bucket ORDER BY bucket) AS buckets,
  list(DISTINCT event_name ORDER BY event_name) AS operations
FROM requests
WHERE event_name IN ('DeleteObject', 'DeleteObjects')
  AND date BETWEEN coalesce($since, DATE '0001-01-01') AND coalesce($until, DATE '9999-12-31')
GROUP BY ALL
HAVING count(*) >= $min_deletes
ORDER BY hour, delete_requests DESC, principal
