-- purge_expired: deletes expired guards (and only those), in batches.
-- purge_expired is database-wide: first let earlier tests' short-lived guards
-- expire, and clear them, so the counts below are this test's own.
SELECT pg_sleep(0.2) \gset
SELECT idempotency.purge_expired() AS leftovers_from_earlier_tests \gset
SELECT idempotency.claim_guard('purge', 'live-' || i, ttl => '1 hour')
  FROM generate_series(1, 5) AS i \g /dev/null
SELECT idempotency.claim_guard('purge', 'expiring-' || i, ttl => '0.1 seconds')
  FROM generate_series(1, 25) AS i \g /dev/null
SELECT idempotency.claim_guard('purge', 'done', ttl => '0.1 seconds');
SELECT idempotency.record_outcome('purge', 'done', 'succeeded', '{"kept": false}');
SELECT pg_sleep(0.2);
SELECT count(*) FILTER (WHERE expires_at <= now()) AS expired, count(*) AS stored
  FROM idempotency.guards WHERE scope = 'purge';
-- max_rows caps one call; batch_size only sizes the statements.
SELECT idempotency.purge_expired(batch_size => 4, max_rows => 10) AS deleted;
SELECT idempotency.purge_expired(batch_size => 4) AS deleted;
SELECT idempotency.purge_expired() AS deleted;
SELECT count(*) AS stored, count(*) FILTER (WHERE key LIKE 'live-%') AS live
  FROM idempotency.guards WHERE scope = 'purge';
SELECT idempotency.purge_expired(max_rows => 0) AS deleted;
\set VERBOSITY sqlstate
SELECT idempotency.purge_expired(batch_size => 0);
SELECT idempotency.purge_expired(max_rows => -1);
\set VERBOSITY default
SELECT idempotency.purge_expired(batch_size => -5);

-- stats: per scope, live guards by status, expired ones awaiting the purge,
-- and the oldest pending claim.
SELECT idempotency.claim_guard('stats', 'p1'), idempotency.claim_guard('stats', 'p2'),
       idempotency.claim_guard('stats', 's1'), idempotency.claim_guard('stats', 'f1'),
       idempotency.claim_guard('stats', 'x1', ttl => '0.1 seconds');
SELECT idempotency.record_outcome('stats', 's1', 'succeeded'),
       idempotency.record_outcome('stats', 'f1', 'failed');
SELECT pg_sleep(0.2);
SELECT scope, pending, succeeded, failed, expired_awaiting_purge,
       oldest_pending_claimed_at = (SELECT min(claimed_at) FROM idempotency.guards
                                     WHERE scope = 'stats' AND status = 'pending'
                                       AND expires_at > now()) AS oldest_pending_right
  FROM idempotency.stats WHERE scope = 'stats';

-- worker_status: this database is not in idempotency.databases.
SELECT database = current_database() AS this_database, running, pid, state
  FROM idempotency.worker_status() WHERE database = current_database();
