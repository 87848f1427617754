-- extend_lease: the owner of a pending guard heartbeats, pushing its lease
-- forward from now; a competitor cannot take it over while it does.
SELECT claim_token AS owner FROM idempotency.claim_or_lookup('heartbeat', 'job-1',
                                                              lease => '1 second') \gset
SELECT idempotency.extend_lease('heartbeat', 'job-1', :owner, '1 hour') AS new_lease \gset
SELECT :'new_lease'::timestamptz BETWEEN now() + interval '59 minutes'
                                     AND clock_timestamp() + interval '1 hour' AS one_hour_from_now,
       lease_expires_at = :'new_lease'::timestamptz AS stored
  FROM idempotency.guards WHERE scope = 'heartbeat' AND key = 'job-1';
-- The original one-second lease has run out, but the extended one has not.
SELECT pg_sleep(1.1);
SELECT idempotency.claim_guard('heartbeat', 'job-1', lease => '1 second') AS competitor_claimed;
-- A shorter lease is also "from now": the owner may shorten it.
SELECT idempotency.extend_lease('heartbeat', 'job-1', :owner, '1 second')
       < clock_timestamp() + interval '2 seconds' AS shortened;
-- Once the owner stops heartbeating, the lease runs out and a claim takes over.
SELECT pg_sleep(1.1);
SELECT claimed, claim_token <> :owner AS new_token
  FROM idempotency.claim_or_lookup('heartbeat', 'job-1', lease => '1 hour');
-- The old owner has lost the guard: IK004.
SELECT idempotency.extend_lease('heartbeat', 'job-1', :owner, '1 hour');

-- A guard claimed without a lease gets one: it may be taken over once that
-- lease runs out.
SELECT claim_token AS strict_owner FROM idempotency.claim_or_lookup('heartbeat', 'job-2') \gset
SELECT lease_expires_at IS NULL AS no_lease_yet FROM idempotency.guards WHERE key = 'job-2';
SELECT idempotency.extend_lease('heartbeat', 'job-2', :strict_owner, '10 minutes') IS NOT NULL
       AS extended;
SELECT lease_expires_at IS NOT NULL AS has_lease FROM idempotency.guards WHERE key = 'job-2';

-- Part of the caller's transaction: rolled back with it.
SELECT lease_expires_at AS before_rollback FROM idempotency.guards WHERE key = 'job-2' \gset
BEGIN;
SELECT idempotency.extend_lease('heartbeat', 'job-2', :strict_owner, '5 hours') IS NOT NULL
       AS extended_in_transaction;
ROLLBACK;
SELECT lease_expires_at = :'before_rollback'::timestamptz AS unchanged
  FROM idempotency.guards WHERE key = 'job-2';

-- A completed guard has no lease to extend: IK003.
SELECT idempotency.record_outcome('heartbeat', 'job-2', 'succeeded', NULL, :strict_owner);
SELECT idempotency.extend_lease('heartbeat', 'job-2', :strict_owner, '1 hour');
-- Nothing claimed, or expired: IK002.
SELECT idempotency.extend_lease('heartbeat', 'never-claimed', 1, '1 hour');
SELECT claim_token AS short_owner FROM idempotency.claim_or_lookup('heartbeat', 'job-3',
                                                                    ttl => '1 second') \gset
SELECT pg_sleep(1.1);
SELECT idempotency.extend_lease('heartbeat', 'job-3', :short_owner, '1 hour');

-- Bad input.
\set VERBOSITY sqlstate
SELECT idempotency.extend_lease('heartbeat', 'job-1', NULL, '1 hour');
SELECT idempotency.extend_lease('heartbeat', 'job-1', 1, NULL);
SELECT idempotency.extend_lease(NULL, 'job-1', 1, '1 hour');
SELECT idempotency.extend_lease('heartbeat', '', 1, '1 hour');
SELECT idempotency.extend_lease('heartbeat', 'job-1', 1, '0 seconds');
SELECT idempotency.extend_lease('heartbeat', 'job-1', 1, '-1 hour');
SELECT idempotency.extend_lease('heartbeat', 'job-1', 1, '1000000 years');
\set VERBOSITY default
