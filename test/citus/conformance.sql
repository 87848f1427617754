-- The client API, run identically on a plain server, through the Citus
-- coordinator and through a worker: the outputs must be the same. :p prefixes
-- every key so that runs on different nodes do not meet.
\set VERBOSITY sqlstate
SELECT idempotency.claim_guard('conf', :'p' || '-a', ttl => '1 hour');
SELECT idempotency.claim_guard('conf', :'p' || '-a', ttl => '1 hour');
SELECT claimed, status FROM idempotency.claim_or_lookup('conf', :'p' || '-b', fingerprint => 'f1');
SELECT claimed, status FROM idempotency.claim_or_lookup('conf', :'p' || '-b', fingerprint => 'f1');
SELECT idempotency.claim_guard('conf', :'p' || '-b', fingerprint => 'f2');
SELECT idempotency.record_outcome('conf', :'p' || '-a', 'succeeded', '{"x": 1}');
SELECT idempotency.record_outcome('conf', :'p' || '-a', 'succeeded', '{"x":1}');
SELECT idempotency.record_outcome('conf', :'p' || '-a', 'failed');
SELECT idempotency.record_outcome('conf', :'p' || '-none', 'succeeded');
SELECT status, outcome FROM idempotency.lookup('conf', :'p' || '-a');
SELECT claimed, status, outcome FROM idempotency.claim_or_lookup('conf', :'p' || '-a');
SELECT idempotency.record_outcome('conf', :'p' || '-b', 'succeeded', claim_token => 1);
SELECT idempotency.release_guard('conf', :'p' || '-b', claim_token => 1);
SELECT idempotency.release_guard('conf', :'p' || '-b');
SELECT idempotency.release_guard('conf', :'p' || '-a');
SELECT count(*) FROM idempotency.lookup('conf', :'p' || '-b');
SELECT idempotency.claim_guard('conf', '');
SELECT idempotency.claim_guard('conf', :'p' || '-c', ttl => '-1 s');
SELECT idempotency.claim_guard('conf', NULL);
SELECT idempotency.record_outcome('conf', :'p' || '-a', 'done');
-- a lease: a pending guard whose lease ran out is taken over
SELECT idempotency.claim_guard('conf', :'p' || '-l', lease => '1 ms');
SELECT pg_sleep(0.05);
SELECT claimed FROM idempotency.claim_or_lookup('conf', :'p' || '-l', lease => '1 hour');
SELECT idempotency.claim_guard('conf', :'p' || '-l');
-- an expired guard is invisible and claimable at once
SELECT idempotency.claim_guard('conf', :'p' || '-e', ttl => '1 ms');
SELECT pg_sleep(0.05);
SELECT count(*) FROM idempotency.lookup('conf', :'p' || '-e');
SELECT idempotency.claim_guard('conf', :'p' || '-e');
-- scope restrictions bind a restricted client role
SET ROLE conf_client;
SELECT idempotency.claim_guard('conf', :'p' || '-r');
SELECT idempotency.claim_guard('other', :'p' || '-r');
RESET ROLE;
-- 1.2: leases extended by their owner, batch claims, fingerprints
SELECT claim_token AS token FROM idempotency.claim_or_lookup('conf', :'p' || '-x', lease => '1 hour') \gset
SELECT idempotency.extend_lease('conf', :'p' || '-x', :token, '2 hours') > now() + '1 hour';
SELECT idempotency.extend_lease('conf', :'p' || '-x', :token + 1, '1 hour');
SELECT idempotency.record_outcome('conf', :'p' || '-x', 'succeeded', claim_token => :token + 1);
SELECT idempotency.record_outcome('conf', :'p' || '-x', 'succeeded', claim_token => :token);
SELECT idempotency.extend_lease('conf', :'p' || '-none', 1, '1 hour');
SELECT ord, claimed, status FROM idempotency.claim_guards('conf', ARRAY[:'p' || '-b1', :'p' || '-b2', :'p' || '-x']);
SELECT idempotency.claim_guards('conf', ARRAY[NULL]);
SELECT idempotency.fingerprint('{"b": 1, "a": [1, 2]}');
SELECT idempotency.fingerprint('{"a": 1}', ARRAY['no pointer']);
SELECT claimed, status FROM idempotency.claim_or_lookup('conf', :'p' || '-t', attempt => 'attempt-0123456789');
SELECT claimed, status FROM idempotency.claim_or_lookup('conf', :'p' || '-t', attempt => 'attempt-0123456789');
SELECT claimed, status FROM idempotency.claim_or_lookup('conf', :'p' || '-t', attempt => 'attempt-9876543210');
