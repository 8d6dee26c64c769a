-- title: Anonymous access
-- question: Which buckets were read or written by unauthenticated callers, how, from where,
--   and with what result?
-- param: since (date, optional): first day (UTC) to look at
-- param: until (date, optional): last day (UTC) to look at
-- Each request once (the requests view).
SELECT
  bucket,
  coalesce(event_name, operation) AS operation,
  source_ip,
  user_agent,
  coalesce(error_code, CAST(http_status AS VARCHAR)) AS result,
  count(*) AS requests,
  sum(coalesce(bytes_out, 0))::BIGINT AS bytes_out,
  min(event_time) AS first_seen,
  max(event_time) AS last_seen,
  list(DISTINCT key ORDER BY key)[1:5] AS sample_keys
FROM requests
WHERE principal = 'anonymous'
  AND date BETWEEN coalesce($since, DATE '0001-01-01') AND coalesce($until, DATE '9999-12-31')
GROUP BY ALL
ORDER BY bucket, first_seen, source_ip
