-- release_guard: give a pending claim back so a retry may claim it.
SELECT idempotency.claim_guard('payments', 'rel-1');
SELECT idempotency.release_guard('payments', 'rel-1') AS released;
SELECT count(*) FROM idempotency.guards WHERE key = 'rel-1';
SELECT idempotency.claim_guard('payments', 'rel-1') AS claimable_again;
-- Nothing to release: false.
SELECT idempotency.release_guard('payments', 'never-claimed') AS released;
-- A completed guard is never released: IK003.
SELECT idempotency.record_outcome('payments', 'rel-1', 'succeeded');
SELECT idempotency.release_guard('payments', 'rel-1');
SELECT status FROM idempotency.guards WHERE key = 'rel-1';
-- With a token: only the owner's token releases.
SELECT claim_token AS owner FROM idempotency.claim_or_lookup('payments', 'rel-2') \gset
SELECT idempotency.release_guard('payments', 'rel-2', 12345);
SELECT idempotency.release_guard('payments', 'rel-2', :owner) AS released_by_owner;
SELECT count(*) FROM idempotency.guards WHERE key = 'rel-2';
