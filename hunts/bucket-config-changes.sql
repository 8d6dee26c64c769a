-- title: Bucket policy, ACL, public access block, logging, versioning, encryption and lifecycle changes
-- question: Who changed a bucket's policy, ACL, public access block, logging, versioning,
--   encryption or lifecycle, from where, with what agent, and did it succeed?
-- param: since (date, optional): first day (UTC) to look at
-- param: until (date, optional): last day (UTC) to look at
-- param: bucket (text, optional): only this bucket
-- Each request once (the requests view); denied attempts are listed with their error code.
SELECT
  event_time,
  event_name,
  bucket,
  principal,
  principal_arn,
  source_ip,
  user_agent,
  vpc_endpoint_id,
  error_code,
  request_parameters,
  source,
  coalesce(event_id, request_id) AS id
FROM requests
WHERE date BETWEEN coalesce($since, DATE '0001-01-01') AND coalesce($until, DATE '9999-12-31')
  AND ($bucket::VARCHAR IS NULL OR bucket = $bucket::VARCHAR)
  AND event_name IN (
    'PutBucketPolicy', 'DeleteBucketPolicy',
    'PutBucketAcl', 'PutObjectAcl',
    'PutBucketPublicAccessBlock', 'DeleteBucketPublicAccessBlock',
    'PutPublicAccessBlock', 'DeletePublicAccessBlock',
    'PutAccountPublicAccessBlock', 'DeleteAccountPublicAccessBlock',
    'PutBucketOwnershipControls', 'DeleteBucketOwnershipControls',
    'PutBucketLogging',
    'PutBucketVersioning',
    'PutBucketEncryption', 'DeleteBucketEncryption',
    'PutBucketLifecycle', 'PutBucketLifecycleConfiguration', 'DeleteBucketLifecycle',
    'PutBucketReplication', 'DeleteBucketReplication',
    'PutObjectLockConfiguration')
ORDER BY event_time, id
