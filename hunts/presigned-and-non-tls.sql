-- title: Presigned URL and non-TLS requests
-- question: Which requests used a presigned URL (QueryString authentication) or plain HTTP
--   without TLS, by whom, on which buckets, from where?
-- param: since (date, optional): first day (UTC) to look at
-- param: until (date, optional): last day (UTC) to look at
-- Presigned: each request once (the requests view). Non-TLS: access-log lines with no TLS
-- version and no cipher suite from an IPv4 caller (CloudTrail does not record it reliably).
WITH presigned AS (
  SELECT 'presigned' AS kind, * FROM requests
  WHERE auth_method = 'QueryString'
    AND date BETWEEN coalesce($since, DATE '0001-01-01') AND coalesce($until, DATE '9999-12-31')
),
plain AS (
  SELECT 'non-tls' AS kind, * FROM events
  WHERE source = 's3_access' AND tls_version IS NULL AND cipher_suite IS NULL
    AND regexp_matches(source_ip, '^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$')
    AND date BETWEEN coalesce($since, DATE '0001-01-01') AND coalesce($until, DATE '9999-12-31')
)
SELECT
  kind,
  principal,
  bucket,
  source_ip,
  count(*) AS requests,
  list_sort(list(DISTINCT coalesce(event_name, operation))) AS operations,
  sum(coalesce(bytes_out, 0))::BIGINT AS bytes_out,
  min(event_time) AS first_seen,
  max(event_time) AS last_seen,
  any_value(user_agent) AS user_agent
FROM (SELECT * FROM presigned UNION ALL BY NAME SELECT * FROM plain)
GROUP BY ALL
ORDER BY kind, principal, bucket, source_ip
