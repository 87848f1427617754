-- idempotency.counters: each event counts exactly once, in its own scope.
-- Every block uses fresh scopes, so each expected count is exact: a missed
-- event shows as 0, a double count as 2.
\set VERBOSITY terse
CREATE TEMP VIEW ctr AS
  SELECT scope, claimed_new AS new, claimed_after_expiry AS expiry,
         claimed_after_lease AS lease, refused_pending AS pending,
         refused_completed AS completed, replayed, key_reused AS ik001,
         no_live_guard AS ik002, outcome_already_recorded AS ik003,
         stale_owner_fenced AS ik004, succeeded, failed, released,
         purged_by_worker, purged_by_hand, limit_reached AS ik005, waited
    FROM idempotency.counters WHERE kind = 'scope' AND scope LIKE 'ctr%';

-- Claims won: new, after expiry, after the lease ran out.
SELECT idempotency.claim_guard('ctr-new', 'k');
SELECT idempotency.claim_guard('ctr-expiry', 'k', ttl => '10 milliseconds');
SELECT idempotency.claim_guard('ctr-lease', 'k', lease => '10 milliseconds');
SELECT pg_sleep(0.05);
SELECT idempotency.claim_guard('ctr-expiry', 'k');
SELECT idempotency.claim_guard('ctr-lease', 'k');

-- Claims refused: in progress, and completed (a retry absorbed, replayed by
-- claim_or_lookup only).
SELECT idempotency.claim_guard('ctr-refused', 'pending');
SELECT idempotency.claim_guard('ctr-refused', 'pending');
SELECT idempotency.claim_guard('ctr-refused', 'done');
SELECT idempotency.record_outcome('ctr-refused', 'done', 'succeeded', '{"id": 1}', NULL);
SELECT idempotency.claim_guard('ctr-refused', 'done');
SELECT claimed, outcome FROM idempotency.claim_or_lookup('ctr-refused', 'done');

-- IK001 to IK004.
SELECT idempotency.claim_guard('ctr-errors', 'fp', fingerprint => 'a');
SELECT idempotency.claim_guard('ctr-errors', 'fp', fingerprint => 'b');
SELECT idempotency.record_outcome('ctr-errors', 'never-claimed', 'succeeded', NULL, NULL);
SELECT idempotency.record_outcome('ctr-errors', 'fp', 'succeeded', '{"v": 1}', NULL);
SELECT idempotency.record_outcome('ctr-errors', 'fp', 'succeeded', '{"v": 2}', NULL);
SELECT idempotency.release_guard('ctr-errors', 'fp', NULL);
SELECT idempotency.claim_guard('ctr-errors', 'token');
SELECT idempotency.record_outcome('ctr-errors', 'token', 'failed', NULL, 1);

-- Outcomes and releases; a repeated identical outcome is not a new one.
SELECT idempotency.claim_guard('ctr-outcomes', k) FROM (VALUES ('s'), ('f'), ('r')) AS v(k);
SELECT idempotency.record_outcome('ctr-outcomes', 's', 'succeeded', NULL, NULL);
SELECT idempotency.record_outcome('ctr-outcomes', 's', 'succeeded', NULL, NULL);
SELECT idempotency.record_outcome('ctr-outcomes', 'f', 'failed', NULL, NULL);
SELECT idempotency.release_guard('ctr-outcomes', 'r', NULL);
SELECT idempotency.release_guard('ctr-outcomes', 'r', NULL);

-- Batch claims count per key: new ones, a key given twice (its second
-- occurrence is refused as pending), and completed keys replayed.
SELECT idempotency.claim_guard('ctr-batch', 'done');
SELECT idempotency.record_outcome('ctr-batch', 'done', 'succeeded', '{"id": 2}', NULL);
SELECT ord, key, claimed, status
  FROM idempotency.claim_guards('ctr-batch', ARRAY['a', 'done', 'b', 'a']);

-- extend_lease's refusals: IK002, IK004, IK003.
SELECT claim_token AS token FROM idempotency.claim_or_lookup('ctr-heartbeat', 'k') \gset
SELECT idempotency.extend_lease('ctr-heartbeat', 'never-claimed', 1, '1 minute');
SELECT idempotency.extend_lease('ctr-heartbeat', 'k', -:token, '1 minute');
SELECT idempotency.record_outcome('ctr-heartbeat', 'k', 'failed', NULL, :token);
SELECT idempotency.extend_lease('ctr-heartbeat', 'k', :token, '1 minute');

-- A wait that runs out counts once as waited and once as refused (it claims
-- again each time it wakes, but answers once).
SELECT idempotency.claim_guard('ctr-waited', 'k');
SELECT claimed, status FROM idempotency.claim_or_lookup('ctr-waited', 'k', wait => '300 ms');

-- IK005: a claim refused by a scope limit.
SELECT idempotency.set_limits('ctr-limited', max_live => 1);
SELECT idempotency.claim_guard('ctr-limited', k) FROM (VALUES ('a'), ('b')) AS v(k);
SELECT idempotency.drop_limits('ctr-limited');

SELECT * FROM ctr ORDER BY scope;

-- Counts are not transactional: a rolled-back claim still counts (the event
-- happened; pg_stat_statements counts the same way).
BEGIN;
SELECT idempotency.claim_guard('ctr-rollback', 'k');
ROLLBACK;
SELECT scope, new FROM ctr WHERE scope = 'ctr-rollback';
-- ... and the claim is gone, so claiming again is a second new claim.
SELECT idempotency.claim_guard('ctr-rollback', 'k');
SELECT scope, new FROM ctr WHERE scope = 'ctr-rollback';

-- idempotency.track_counters = off stops counting.
SET idempotency.track_counters = off;
SELECT idempotency.claim_guard('ctr-rollback', 'untracked');
RESET idempotency.track_counters;
SELECT scope, new FROM ctr WHERE scope = 'ctr-rollback';

-- Guards purged by hand count on this database's unscoped row, once each.
SELECT count(idempotency.claim_guard('ctr-purge', k::text, ttl => '10 milliseconds'))
  FROM generate_series(1, 3) AS k;
SELECT pg_sleep(0.05);
SELECT coalesce((SELECT purged_by_hand FROM idempotency.counters WHERE kind = 'unscoped'), 0)
       AS purged_before \gset
SELECT idempotency.purge_expired() AS purged \gset
SELECT :purged >= 3 AS purged_some,
       purged_by_hand - :purged_before = :purged AS counted_once, purged_by_worker
  FROM idempotency.counters WHERE kind = 'unscoped';

-- A scope-restricted client sees its own scopes' rows only (and neither the
-- unscoped nor the overflow row); an unrestricted one sees them all.
CREATE ROLE ctr_client;
SELECT idempotency.grant_client('ctr_client');
SELECT idempotency.restrict_scopes('ctr_client', ARRAY['ctr-new']);
SET ROLE ctr_client;
SELECT scope, kind, claimed_new FROM idempotency.counters ORDER BY scope;
SELECT idempotency.reset_counters();
RESET ROLE;
SELECT idempotency.unrestrict_scopes('ctr_client');
SET ROLE ctr_client;
SELECT count(*) > 2 AS sees_all FROM idempotency.counters;
RESET ROLE;
SELECT idempotency.revoke_client('ctr_client');
-- Without grant_client the view, which PUBLIC may select from, raises 42501:
-- it calls counters_rows(), which needs EXECUTE.
GRANT USAGE ON SCHEMA idempotency TO ctr_client;
SET ROLE ctr_client;
SELECT count(*) FROM idempotency.counters;
RESET ROLE;
REVOKE USAGE ON SCHEMA idempotency FROM ctr_client;
DROP ROLE ctr_client;

-- grant_admin lets a DBA role read every row and reset counters.
CREATE ROLE ctr_admin;
SELECT idempotency.grant_admin('ctr_admin');
SET ROLE ctr_admin;
SELECT count(*) > 2 AS sees_all FROM idempotency.counters;
SELECT idempotency.reset_counters('ctr-lease');
RESET ROLE;
SELECT scope, lease FROM ctr WHERE scope = 'ctr-lease';
SELECT idempotency.revoke_admin('ctr_admin');
REVOKE USAGE ON SCHEMA idempotency FROM ctr_admin;
DROP ROLE ctr_admin;

-- reset_counters: one scope, an unknown scope, then everything.
SELECT idempotency.reset_counters('ctr-new'), idempotency.reset_counters('ctr-unknown');
SELECT scope, new FROM ctr WHERE scope IN ('ctr-new', 'ctr-expiry') ORDER BY scope;
SELECT since > now() - interval '1 minute' AS since_reset FROM idempotency.counters
 WHERE scope = 'ctr-new';
SELECT idempotency.reset_counters();
SELECT count(*) AS rows_with_counts FROM idempotency.counters
 WHERE claimed_new + refused_pending + purged_by_hand + succeeded <> 0;

-- record_outcomes: one success (or failure) per key recorded, counted when the whole
-- call succeeded; a failing call counts its own refusal once and no success.
SELECT idempotency.reset_counters('outbox-ctr') IS NOT NULL AS reset;
SELECT count(*) FILTER (WHERE claimed) AS claimed
  FROM idempotency.claim_guards('outbox-ctr', ARRAY['c-1', 'c-2', 'c-3', 'c-4']);
SELECT count(*) FILTER (WHERE recorded) AS recorded
  FROM idempotency.record_outcomes('outbox-ctr', ARRAY['c-1', 'c-2', 'c-1'], 'succeeded');
SELECT count(*) FILTER (WHERE recorded) AS recorded
  FROM idempotency.record_outcomes('outbox-ctr', ARRAY['c-3'], 'failed');
SELECT idempotency.record_outcomes('outbox-ctr', ARRAY['c-4', 'c-5'], 'succeeded');
SELECT idempotency.record_outcomes('outbox-ctr', ARRAY['c-4', 'c-1'], 'failed');
SELECT succeeded, failed, no_live_guard, outcome_already_recorded, stale_owner_fenced
  FROM idempotency.counters WHERE scope = 'outbox-ctr';
SELECT status FROM idempotency.lookup('outbox-ctr', 'c-4');
DELETE FROM idempotency.guards WHERE scope = 'outbox-ctr';
