-- title: Timeline of one principal across CloudTrail and access logs
-- question: What did this principal do, request by request, with each CloudTrail event and
--   the access-log line of the same request side by side (joined on request_id)?
-- param: principal (text): a principal as alerts name it (role ARN, user ARN, anonymous), or a principal_arn, session_issuer_arn or access_key_id
-- param: since (date, optional): first day (UTC) to look at
-- param: until (date, optional): last day (UTC) to look at
WITH ct AS (
  SELECT * FROM events
  WHERE source = 'cloudtrail'
    AND date BETWEEN coalesce($since, DATE '0001-01-01') AND coalesce($until, DATE '9999-12-31')
    AND $principal::VARCHAR IN (principal, principal_arn, session_issuer_arn, access_key_id)
),
sal AS (
  -- access-log lines name no access key: those of the principal's CloudTrail requests too
  SELECT * FROM events
  WHERE source = 's3_access'
    AND date BETWEEN coalesce($since, DATE '0001-01-01') AND coalesce($until, DATE '9999-12-31')
    AND ($principal::VARCHAR IN (principal, principal_arn, session_issuer_arn)
         OR request_id IN (SELECT request_id FROM ct))
)
SELECT
  coalesce(ct.event_time, sal.event_time) AS event_time,
  coalesce(ct.event_name, sal.event_name) AS event_name,
  sal.operation,
  coalesce(ct.bucket, sal.bucket) AS bucket,
  coalesce(ct.key, sal.key) AS key,
  coalesce(ct.source_ip, sal.source_ip) AS source_ip,
  coalesce(ct.user_agent, sal.user_agent) AS user_agent,
  ct.vpc_endpoint_id,
  coalesce(ct.error_code, sal.error_code) AS error_code,
  sal.http_status,
  coalesce(ct.bytes_out, sal.bytes_out) AS bytes_out,
  coalesce(ct.request_id, sal.request_id) AS request_id,
  ct.event_id,
  ct.source IS NOT NULL AS in_cloudtrail,
  sal.source IS NOT NULL AS in_access_log
FROM ct FULL OUTER JOIN sal ON ct.request_id = sal.request_id
ORDER BY event_time, request_id, ct.event_id, sal.origin_object, sal.origin_index
