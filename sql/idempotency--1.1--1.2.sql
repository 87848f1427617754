-- idempotency 1.1 -> 1.2. A new installation runs 1.0, 1.1 and then this
-- script. Each part below belongs to one capability of 1.2; keep additions
-- inside their part so that the parts stay independent.
\echo Use "ALTER EXTENSION idempotency UPDATE TO '1.2'" to load this file. \quit

-- == Part 1: batch claims, waits for the first answer, retry-safe claims ==

-- == Part 2: event counters ==

-- == Part 3: guardrails (heartbeats, limits, fingerprints) ==

-- == Part 4: Citus ==
