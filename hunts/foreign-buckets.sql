-- title: Principals that touched buckets owned by foreign accounts
-- question: Which principals touched buckets owned by accounts that are not ours, what did
--   they do there and how much did they move?
-- param: accounts (text[], optional): our (and sanctioned partners') account ids; without it, a bucket is foreign when its owner is not the account that received the event
-- param: since (date, optional): first day (UTC) to look at
-- param: until (date, optional): last day (UTC) to look at
-- The bucket owner is known from CloudTrail (resources[].accountId), not from access logs.
SELECT
  principal,
  account_id,
  bucket,
  bucket_account_id,
  list(DISTINCT event_name ORDER BY event_name) AS operations,
  count(*) AS requests,
  sum(coalesce(bytes_out, 0))::BIGINT AS bytes_out,
  sum(coalesce(bytes_in, 0))::BIGINT AS bytes_in,
  min(event_time) AS first_seen,
  max(event_time) AS last_seen
FROM events
WHERE source = 'cloudtrail'
  AND date BETWEEN coalesce($since, DATE '0001-01-01') AND coalesce($until, DATE '9999-12-31')
  AND bucket_account_id IS NOT NULL
  AND CASE WHEN len($accounts::VARCHAR[]) > 0
           THEN NOT list_contains($accounts::VARCHAR[], bucket_account_id)
           ELSE bucket_account_id IS DISTINCT FROM recipient_account_id END
GROUP BY ALL
ORDER BY first_seen, principal, bucket
