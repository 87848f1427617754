-- The bad-input catalogue, beyond validation.sql: each case either succeeds
-- as documented or fails with the documented SQLSTATE, and writes nothing.
-- (Only this file's scope: the purge below must not make other files' guards count.)
SELECT count(*) AS before FROM idempotency.guards WHERE scope = 'bad' \gset
-- NULL in every optional position is the documented default, not an error.
SELECT idempotency.claim_guard('bad', 'null-args', NULL, NULL, NULL) AS claimed;
SELECT claimed, status FROM idempotency.claim_or_lookup('bad', 'null-args-2', NULL, NULL, NULL);
SELECT idempotency.record_outcome('bad', 'null-args', 'failed', NULL, NULL) AS recorded;
SELECT idempotency.claim_guard('bad', 'null-release');
SELECT idempotency.release_guard('bad', 'null-release', NULL) AS released;
SELECT idempotency.purge_expired(NULL, NULL) >= 0 AS purged;
-- Intervals: fractional, calendar and tiny ttls are fine; a microsecond
-- guard expires at once; past the end of time is 22008.
SELECT idempotency.claim_guard('bad', 'frac', ttl => '10.5 seconds') AS fractional,
       idempotency.claim_guard('bad', 'month', ttl => '1 month') AS calendar,
       idempotency.claim_guard('bad', 'tiny', ttl => '1 microsecond') AS tiny,
       idempotency.claim_guard('bad', 'lease-frac', lease => '0.25 seconds') AS fractional_lease;
SELECT key, CASE WHEN key <> 'month' THEN expires_at - claimed_at END AS ttl,
       expires_at = claimed_at + interval '1 month' AS one_calendar_month
  FROM idempotency.guards WHERE scope = 'bad' AND key IN ('frac', 'month', 'tiny') ORDER BY key;
SELECT idempotency.claim_guard('bad', 'tiny') AS tiny_already_expired;
\set VERBOSITY sqlstate
SELECT idempotency.claim_guard('bad', 'huge', ttl => '178000000 years');
SELECT idempotency.claim_guard('bad', 'huge', lease => '178000000 years');
SELECT idempotency.set_retention('bad', '178000000 years');
-- A status must match exactly: case, spaces and look-alikes are 22023.
SELECT idempotency.record_outcome('bad', 'frac', 'succeeded ');
SELECT idempotency.record_outcome('bad', 'frac', ' failed');
SELECT idempotency.record_outcome('bad', 'frac', 'Failed');
SELECT idempotency.record_outcome('bad', 'frac', 'succeded');
-- Tokens that never existed: IK004 on a live guard, whatever their value.
SELECT idempotency.record_outcome('bad', 'frac', 'failed', NULL, 0);
SELECT idempotency.record_outcome('bad', 'frac', 'failed', NULL, -1);
SELECT idempotency.record_outcome('bad', 'frac', 'failed', NULL, 9223372036854775807);
SELECT idempotency.release_guard('bad', 'frac', -9223372036854775808);
-- Keys at the byte limit with 4-byte characters: 63 emoji + 3 bytes is 255.
SELECT idempotency.claim_guard('bad', repeat('😀', 64));
\set VERBOSITY default
SELECT idempotency.claim_guard('bad', repeat('😀', 63) || 'abc') AS emoji_at_limit,
       idempotency.claim_guard('bad', ' ') AS single_space,
       idempotency.claim_guard('bad', E'e\u0301') AS combining_mark,
       idempotency.claim_guard('bad', E'\\x00') AS backslash_x00,
       idempotency.claim_guard('bad', 'key', fingerprint => E'\x01\x02\x1f') AS control_fingerprint;
-- Unicode is compared byte for byte: a precomposed é is another key.
SELECT idempotency.claim_guard('bad', E'\u00e9') AS precomposed_is_distinct;
SELECT status FROM idempotency.guards WHERE scope = 'bad' AND key = 'frac';
-- Outcomes: JSON null is a value, not SQL NULL; scalars, arrays, deep nesting.
SELECT idempotency.claim_guard('bad', 'json-null');
SELECT idempotency.record_outcome('bad', 'json-null', 'succeeded', 'null') AS recorded;
SELECT idempotency.record_outcome('bad', 'json-null', 'succeeded', NULL);
SELECT outcome IS NULL AS sql_null, jsonb_typeof(outcome) FROM idempotency.lookup('bad', 'json-null');
SELECT idempotency.claim_guard('bad', 'deep');
SELECT idempotency.record_outcome('bad', 'deep', 'succeeded',
       (repeat('[', 500) || '1' || repeat(']', 500))::jsonb) AS deep_recorded;
SELECT outcome = (repeat('[', 500) || '1' || repeat(']', 500))::jsonb AS replayed_intact
  FROM idempotency.lookup('bad', 'deep');
SELECT idempotency.claim_guard('bad', 'array');
SELECT idempotency.record_outcome('bad', 'array', 'failed', '[1, "two", {"three": 3}]');
SELECT outcome FROM idempotency.lookup('bad', 'array');
-- Exactly the 15 guards claimed successfully above exist (one was released,
-- one re-claimed in place); none of the failures wrote a row.
SELECT count(*) - :before AS rows_written FROM idempotency.guards WHERE scope = 'bad';
