-- Leases: opt-in takeover of a pending guard whose owner is presumed dead.
-- Without a lease a pending guard is never taken over, however old.
SELECT idempotency.claim_guard('jobs', 'no-lease', ttl => '1 hour');
SELECT pg_sleep(0.3);
SELECT idempotency.claim_guard('jobs', 'no-lease', lease => '0.1 seconds') AS taken_over;

-- With a lease: blocked while the lease runs, claimable once it ran out.
SELECT claim_token AS first_owner
  FROM idempotency.claim_or_lookup('jobs', 'leased', lease => '1 second') \gset
SELECT idempotency.claim_guard('jobs', 'leased') AS during_lease;
SELECT pg_sleep(1.1);
SELECT claim_token AS second_owner
  FROM idempotency.claim_or_lookup('jobs', 'leased') \gset
SELECT :second_owner <> :first_owner AS new_owner;
-- The stale owner is fenced off by its token: IK004.
SELECT idempotency.record_outcome('jobs', 'leased', 'succeeded', '{"by": "first"}', :first_owner);
SELECT idempotency.release_guard('jobs', 'leased', :first_owner);
-- The new owner records; the new claim had no lease, so it is strict again.
SELECT idempotency.record_outcome('jobs', 'leased', 'succeeded', '{"by": "second"}', :second_owner);
SELECT status, outcome, lease_expires_at IS NULL AS strict FROM idempotency.guards WHERE key = 'leased';
-- A completed guard is never taken over, even after its lease ran out.
SELECT idempotency.claim_guard('jobs', 'done', lease => '0.1 seconds');
SELECT idempotency.record_outcome('jobs', 'done', 'succeeded');
SELECT pg_sleep(0.2);
SELECT idempotency.claim_guard('jobs', 'done') AS taken_over;
