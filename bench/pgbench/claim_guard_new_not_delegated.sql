-- the Citus benchmark: claim a new key with a call Citus does not delegate
-- (a function in FROM): the function runs on the node the client is
-- connected to, and each of its statements goes to the shard's node
\set k random(1000000000000, 999999999999999)
SELECT * FROM idempotency.claim_guard('bench', :k);
