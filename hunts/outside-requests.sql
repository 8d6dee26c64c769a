-- title: Requests from outside our accounts and networks
-- question: Which requests came from a caller of another account, an anonymous caller, a VPC
--   endpoint of another account, or the internet (a public address, no VPC endpoint)?
-- param: accounts (text[], optional): our account ids; without it, "another account" means neither the account that received the event nor (for endpoints) the caller's
-- param: since (date, optional): first day (UTC) to look at
-- param: until (date, optional): last day (UTC) to look at
-- AWS services calling on a principal's behalf (source_ip is a service name) are left out.
WITH tagged AS (
  SELECT *,
    list_filter([
      CASE WHEN principal = 'anonymous' THEN 'anonymous' END,
      CASE WHEN principal <> 'anonymous' AND account_id IS NOT NULL
                AND CASE WHEN len($accounts::VARCHAR[]) > 0
                         THEN NOT list_contains($accounts::VARCHAR[], account_id)
                         ELSE account_id <> recipient_account_id END
           THEN 'foreign account' END,
      CASE WHEN vpc_endpoint_account_id IS NOT NULL
                AND CASE WHEN len($accounts::VARCHAR[]) > 0
                         THEN NOT list_contains($accounts::VARCHAR[], vpc_endpoint_account_id)
                         ELSE vpc_endpoint_account_id <> recipient_account_id
                              AND vpc_endpoint_account_id <> account_id END
           THEN 'foreign VPC endpoint' END,
      CASE WHEN vpc_endpoint_id IS NULL AND is_public_ip(source_ip) THEN 'public network' END
    ], x -> x IS NOT NULL) AS why
  FROM requests
  WHERE date BETWEEN coalesce($since, DATE '0001-01-01') AND coalesce($until, DATE '9999-12-31')
    AND invoked_by IS NULL
)
SELECT
  array_to_string(why, ', ') AS why,
  principal,
  account_id,
  source_ip,
  vpc_endpoint_id,
  count(*) AS requests,
  list(DISTINCT bucket ORDER BY bucket) FILTER (WHERE bucket IS NOT NULL) AS buckets,
  list_sort(list(DISTINCT coalesce(event_name, operation))) AS operations,
  min(event_time) AS first_seen,
  max(event_time) AS last_seen
FROM tagged
WHERE len(why) > 0
GROUP BY ALL
ORDER BY why, principal, source_ip
