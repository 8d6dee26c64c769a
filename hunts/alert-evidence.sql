-- title: Evidence events of an alert
-- question: Which events made this alert (its evidence_event_ids: CloudTrail eventIDs and
--   access-log request IDs), with the other log's record of the same request?
-- param: alert_id (text): the alert's alert_id
-- param: since (date, optional): read no day before this one (the alert's first_seen day); at most, the day before first_seen is read
-- param: until (date, optional): read no day after this one (the alert's last_seen day); at most, the day after last_seen is read
-- Every alert carries this hunt as a ready command, with since and until set so that only
-- the alert's days are read. Alerts without evidence (silence, correlation) return no rows:
-- look at their reasons and principal instead.
WITH alert AS (
  SELECT evidence_event_ids AS ids,
         CAST(first_seen AS DATE) - 1 AS lo, CAST(last_seen AS DATE) + 1 AS hi
  FROM alerts WHERE alert_id = $alert_id::VARCHAR
  LIMIT 1
),
ids AS (SELECT DISTINCT unnest(ids) AS id FROM alert),
direct AS (
  SELECT request_id FROM events
  WHERE date BETWEEN coalesce($since, DATE '0001-01-01') AND coalesce($until, DATE '9999-12-31')
    AND date BETWEEN (SELECT lo FROM alert) AND (SELECT hi FROM alert)
    AND coalesce(event_id, request_id) IN (SELECT id FROM ids)
    AND request_id IS NOT NULL
),
wanted AS (SELECT id FROM ids UNION SELECT request_id FROM direct)
SELECT
  coalesce(event_id, request_id) IN (SELECT id FROM ids) AS is_evidence,
  event_time,
  source,
  event_name,
  principal,
  bucket,
  key,
  source_ip,
  user_agent,
  vpc_endpoint_id,
  error_code,
  bytes_out,
  event_id,
  request_id,
  origin_object
FROM events
WHERE date BETWEEN coalesce($since, DATE '0001-01-01') AND coalesce($until, DATE '9999-12-31')
  AND date BETWEEN (SELECT lo FROM alert) AND (SELECT hi FROM alert)
  AND (event_id IN (SELECT id FROM ids) OR request_id IN (SELECT id FROM wanted))
ORDER BY event_time, source, request_id, event_id, origin_index
