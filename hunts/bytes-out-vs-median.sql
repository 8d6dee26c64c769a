-- title: Top principals by bytes out per day against their 7-day median
-- question: Whose daily bytes out jumped above what they usually move (the median of their
--   previous seven days, a day without traffic counting as zero)?
-- param: since (date, optional): first day (UTC) to report; the seven days before it are read for the median
-- param: until (date, optional): last day (UTC) to report
-- param: min_bytes (int, default 1): days with fewer bytes out are not reported
-- param: top (int, default 20): how many rows to return
-- Each request counts once (the requests view), so CloudTrail and access logs do not double.
WITH daily AS (
  SELECT principal, date AS day, sum(bytes_out)::BIGINT AS bytes_out, count(*) AS requests
  FROM requests
  WHERE date BETWEEN coalesce(CAST($since AS DATE) - 7, DATE '0001-01-01')
                 AND coalesce($until, DATE '9999-12-31')
    AND coalesce(bytes_out, 0) > 0
  GROUP BY ALL
),
report AS (
  SELECT * FROM daily
  WHERE day >= coalesce($since, DATE '0001-01-01') AND bytes_out >= $min_bytes
),
history AS (
  SELECT r.principal, r.day, coalesce(h.bytes_out, 0) AS bytes_out, h.day IS NOT NULL AS seen
  FROM (SELECT principal, day, unnest(range(day - 7, day, INTERVAL 1 DAY))::DATE AS past
        FROM report) AS r
  LEFT JOIN daily h ON h.principal = r.principal AND h.day = r.past
),
scored AS (
  SELECT r.*, m.median_7d, m.days_seen_7d
  FROM report r JOIN (
    SELECT principal, day, median(bytes_out) AS median_7d,
           count(*) FILTER (WHERE seen) AS days_seen_7d
    FROM history GROUP BY ALL) AS m USING (principal, day)
)
SELECT
  day, principal, bytes_out, requests, median_7d, days_seen_7d,
  round(bytes_out / nullif(median_7d, 0), 2) AS ratio
FROM scored
ORDER BY ratio DESC NULLS LAST, bytes_out DESC, principal, day
LIMIT $top
