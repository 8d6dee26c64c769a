-- title: Reads that did not go through our VPC endpoints
-- question: Who read object data without going through one of our VPC endpoints (from the
--   internet, from inside AWS without an endpoint, or through someone else's endpoint)?
-- param: since (date, optional): first day (UTC) to look at
-- param: until (date, optional): last day (UTC) to look at
-- param: endpoints (text[], optional): our VPC endpoint ids, comma-separated; others do not count
-- param: accounts (text[], optional): our account ids; endpoints owned by other accounts do not count
-- CloudTrail only: S3 server access logs do not record the VPC endpoint.
SELECT
  principal,
  bucket,
  source_ip,
  vpc_endpoint_id,
  count(*) AS reads,
  sum(coalesce(bytes_out, 0))::BIGINT AS bytes_out,
  min(event_time) AS first_seen,
  max(event_time) AS last_seen,
  any_value(user_agent) AS user_agent
FROM events
WHERE source = 'cloudtrail'
  AND date BETWEEN coalesce($since, DATE '0001-01-01') AND coalesce($until, DATE '9999-12-31')
  AND event_name IN ('GetObject', 'SelectObjectContent', 'GetObjectTorrent')
  AND error_code IS NULL
  AND invoked_by IS NULL
  AND (vpc_endpoint_id IS NULL
       OR (len($endpoints::VARCHAR[]) > 0
           AND NOT list_contains($endpoints::VARCHAR[], vpc_endpoint_id))
       OR (len($accounts::VARCHAR[]) > 0
           AND NOT list_contains($accounts::VARCHAR[], coalesce(vpc_endpoint_account_id, ''))))
GROUP BY ALL
ORDER BY bytes_out DESC, reads DESC, principal, bucket, source_ip
