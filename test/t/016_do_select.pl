# PostgreSQL 19's INSERT ... ON CONFLICT DO SELECT ... RETURNING (an atomic
# get-or-create that returns the row in the way) against a guard, case by
# case, on a table shaped like idempotency.guards (LIKE ... INCLUDING ALL).
# Each case shows what the statement gives by itself and what the guard adds;
# the README's "Why not just ON CONFLICT DO SELECT?" names these cases.
# Runs only on PostgreSQL 19 and later (the statement does not exist before).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('do_select');
if (("" . $node->pg_version) =~ /^(\d+)/ && $1 < 19)
{
	plan skip_all => 'INSERT ... ON CONFLICT DO SELECT needs PostgreSQL 19';
}
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'idempotency'
deadlock_timeout = 100ms
});
$node->start;
$node->safe_psql('postgres', q{
  CREATE EXTENSION idempotency;
  CREATE TABLE raw_guards (LIKE idempotency.guards INCLUDING ALL);
});

# The hand-written get-or-create: one statement, returning whether it
# inserted and the row it inserted or met.
sub do_select
{
	my ($key, %options) = @_;
	my $ttl = $options{ttl} // '1 hour';
	my $fingerprint = defined $options{fingerprint} ? "'$options{fingerprint}'" : 'NULL';
	return qq{
INSERT INTO raw_guards AS g (scope, key, status, fingerprint, claim_token, claimed_at, expires_at)
  VALUES ('raw', '$key', 'pending', $fingerprint, 1 + (random() * 1e15)::int8, now(),
          now() + '$ttl'::interval)
  ON CONFLICT (scope, key) DO SELECT
  RETURNING old.key IS NULL AS inserted, g.status, g.fingerprint, g.claim_token,
            g.outcome->>'charge', g.expires_at < clock_timestamp() AS expired};
}

sub sql { return $node->safe_psql('postgres', $_[0]); }

# An error's SQLSTATE, with VERBOSITY verbose.
sub sqlstate_of
{
	my ($query) = @_;
	my ($stdout, $stderr);
	$node->psql('postgres', "\\set VERBOSITY verbose\n$query", stdout => \$stdout, stderr => \$stderr);
	return $stderr =~ /ERROR:\s+([0-9A-Z]{5}):/ ? $1 : "no error: $stdout";
}

# --- expiry -------------------------------------------------------------------
sql(do_select('expiry', ttl => '1 millisecond'));
sql(q{SELECT idempotency.claim_guard('guard', 'expiry', ttl => '1 millisecond')});
sql('SELECT pg_sleep(0.05)');
is(sql(do_select('expiry')), 'f|pending||' . sql(q{SELECT claim_token FROM raw_guards WHERE key = 'expiry'}) . '||t',
	'expiry: DO SELECT returns the expired row as if it were live');
is(sql(q{INSERT INTO raw_guards AS g (scope, key, status, claim_token, claimed_at, expires_at)
            VALUES ('raw', 'expiry', 'pending', 2, now(), now() + interval '1 hour')
            ON CONFLICT (scope, key) DO SELECT WHERE g.expires_at > now() RETURNING g.key;
          SELECT count(*) FROM raw_guards WHERE key = 'expiry' AND expires_at < now()}), '1',
	'expiry: DO SELECT ... WHERE expires_at > now() returns nothing and leaves the expired row in the way');
is(sql(q{SELECT idempotency.claim_guard('guard', 'expiry')}), 't',
	'expiry: a guard past expires_at is claimable again at once');

# --- fingerprint mismatch -----------------------------------------------------
sql(do_select('reused', fingerprint => 'request-A'));
is(sql(do_select('reused', fingerprint => 'request-B')), join('|', 'f', 'pending', 'request-A',
		sql(q{SELECT claim_token FROM raw_guards WHERE key = 'reused'}), '', 'f'),
	'fingerprint: DO SELECT answers a different request with the first one\'s row, silently');
sql(q{SELECT idempotency.claim_guard('guard', 'reused', fingerprint => 'request-A')});
is(sqlstate_of(q{SELECT idempotency.claim_guard('guard', 'reused', fingerprint => 'request-B')}),
	'IK001', 'fingerprint: a guard raises IK001 for a key reused by a different request');

# --- leases and fencing tokens ------------------------------------------------
# The owner of a pending row dies; nothing ever frees the row.
sql(do_select('dead-owner'));
sql('SELECT pg_sleep(0.05)');
like(sql(do_select('dead-owner')), qr/^f\|pending\|/,
	'lease: DO SELECT keeps answering a dead owner\'s pending row');
my $old_token = sql(q{SELECT claim_token FROM idempotency.claim_or_lookup('guard', 'dead-owner', lease => '10 milliseconds')});
sql('SELECT pg_sleep(0.05)');
my $taken = sql(q{SELECT claimed, claim_token FROM idempotency.claim_or_lookup('guard', 'dead-owner', lease => '10 milliseconds')});
my ($claimed, $new_token) = split /\|/, $taken;
ok($claimed eq 't' && $new_token ne $old_token,
	'lease: a guard whose lease ran out is taken over, with a new fencing token');
is(sqlstate_of(qq{SELECT idempotency.record_outcome('guard', 'dead-owner', 'succeeded', '{}', $old_token)}),
	'IK004', 'fencing: the stale owner\'s token is refused (IK004)');

# --- the stored outcome ---------------------------------------------------------
sql(do_select('outcome'));
sql(q{UPDATE raw_guards SET status = 'succeeded', outcome = '{"charge": "ch_1"}' WHERE key = 'outcome'});
sql(q{UPDATE raw_guards SET status = 'succeeded', outcome = '{"charge": "ch_2"}' WHERE key = 'outcome'});
like(sql(do_select('outcome')), qr/^f\|succeeded\|\|\d+\|ch_2\|f$/,
	'outcome: DO SELECT replays whatever the row holds now: a second write replaced the first');
sql(q{SELECT idempotency.claim_guard('guard', 'outcome')});
sql(q{SELECT idempotency.record_outcome('guard', 'outcome', 'succeeded', '{"charge": "ch_1"}')});
is(sqlstate_of(q{SELECT idempotency.record_outcome('guard', 'outcome', 'succeeded', '{"charge": "ch_2"}')}),
	'IK003', 'outcome: a guard records one outcome; a different second one is refused (IK003)');
is(sql(q{SELECT outcome::text FROM idempotency.claim_or_lookup('guard', 'outcome')}), '{"charge": "ch_1"}',
	'outcome: every retry replays the first outcome');

# --- waits for the first answer ---------------------------------------------------
sql(do_select('slow'));
like(sql(do_select('slow')), qr/^f\|pending\|/,
	'wait: DO SELECT answers "pending" at once: the retry must poll');
sql(q{SELECT idempotency.claim_guard('guard', 'slow')});
my $waiter = $node->background_psql('postgres', on_error_stop => 0);
my $waiter_pid = $waiter->query_safe('SELECT pg_backend_pid()');
$waiter->query_until(qr/sent/, q{\echo sent
SELECT status || '/' || (outcome->>'charge') FROM idempotency.claim_or_lookup('guard', 'slow', wait => '60 seconds');
});
$node->poll_query_until('postgres',
	qq{SELECT wait_event_type = 'Extension' FROM pg_stat_activity WHERE pid = $waiter_pid})
  or die 'the waiter never slept';
sql(q{SELECT idempotency.record_outcome('guard', 'slow', 'succeeded', '{"charge": "ch_slow"}')});
my ($answer) = $waiter->query('');
$waiter->quit;
chomp $answer;
is($answer, 'succeeded/ch_slow', 'wait: claim_or_lookup(wait) returns the first attempt\'s outcome once recorded');

# --- retry-safe attempts ----------------------------------------------------------
sql(do_select('lost-answer'));
like(sql(do_select('lost-answer')), qr/^f\|/,
	'attempt: DO SELECT cannot tell the caller\'s own retry from another caller');
my $attempt = 'attempt-0123456789abcdef';
my $first = sql(qq{SELECT claimed, claim_token FROM idempotency.claim_or_lookup('guard', 'lost-answer', attempt => '$attempt')});
my $retry = sql(qq{SELECT claimed, claim_token FROM idempotency.claim_or_lookup('guard', 'lost-answer', attempt => '$attempt')});
ok($first =~ /^t\|/ && $retry eq $first,
	'attempt: the same attempt\'s retry gets its claim back (claimed, same token)');

# --- batches: lock order ----------------------------------------------------------
# A third transaction holds the middle key; two batches over the same keys in
# opposite orders queue behind it (as test/isolation/specs/batch_claim_order.spec).
sub run_batches
{
	my ($hold, $batch) = @_;
	my $holder = $node->background_psql('postgres');
	$holder->query_safe("BEGIN; $hold");
	my @sessions;
	for my $keys ("'a', 'm', 'z'", "'z', 'm', 'a'")
	{
		my $session = $node->background_psql('postgres', on_error_stop => 0);
		$session->query_until(qr/sent/, "\\echo sent\n" . sprintf($batch, $keys) . ";\n");
		push @sessions, $session;
	}
	$node->poll_query_until('postgres',
		q{SELECT count(*) = 2 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%m''%'})
	  or die 'the batches never queued behind the held key';
	$holder->query_safe('COMMIT');
	$holder->quit;
	my @errors;
	for my $session (@sessions)
	{
		$session->query('');
		push @errors, $session->{stderr} =~ /ERROR:\s+(.*)/ ? $1 : ();
		$session->quit;
	}
	return join(', ', @errors) || 'no error';
}
like(run_batches(
		q{INSERT INTO raw_guards (scope, key, status, claim_token, claimed_at, expires_at)
		    VALUES ('raw-batch', 'm', 'pending', 1, now(), now() + interval '1 hour');},
		q{INSERT INTO raw_guards AS g (scope, key, status, claim_token, claimed_at, expires_at)
		    SELECT 'raw-batch', k, 'pending', 1, now(), now() + interval '1 hour' FROM unnest(ARRAY[%s]) AS k
		    ON CONFLICT (scope, key) DO SELECT RETURNING g.key}),
	qr/deadlock detected/,
	'batch: two DO SELECT batches in opposite key orders deadlock (40P01)');
is(run_batches(
		q{SELECT idempotency.claim_guard('guard-batch', 'm');},
		q{SELECT count(*) FROM idempotency.claim_guards('guard-batch', ARRAY[%s])}),
	'no error', 'batch: claim_guards takes keys in sorted order: the same batches both finish');

# --- purge and retention ----------------------------------------------------------
sql(do_select('old', ttl => '1 millisecond'));
sql(q{SELECT idempotency.claim_guard('guard', 'old', ttl => '1 millisecond')});
sql('SELECT pg_sleep(0.05)');
is(sql(q{SELECT count(*) FROM raw_guards WHERE expires_at < clock_timestamp()}), '2',
	'purge: expired rows stay in the plain table until the application deletes them');
cmp_ok(sql('SELECT idempotency.purge_expired()'), '>=', 1, 'purge: purge_expired() deletes expired guards');
is(sql(q{SELECT count(*) FROM idempotency.guards WHERE expires_at < clock_timestamp()}), '0',
	'purge: no expired guard is left (the worker does the same on its schedule)');
sql(q{SELECT idempotency.set_retention('short-lived', '1 millisecond')});
sql(q{SELECT idempotency.claim_guard('short-lived', 'k')});
sql('SELECT pg_sleep(0.05)');
is(sql(q{SELECT idempotency.claim_guard('short-lived', 'k')}), 't',
	'retention: a scope\'s policy sets the ttl of claims that give none');

# --- limits -------------------------------------------------------------------------
sql(do_select("limit-$_")) for 1 .. 3;
is(sql(q{SELECT count(*) FROM raw_guards WHERE key LIKE 'limit-%'}), '3',
	'limits: the plain table takes every new key');
sql(q{SELECT idempotency.set_limits('limited', max_pending => 2)});
sql(qq{SELECT idempotency.claim_guard('limited', 'limit-$_')}) for 1 .. 2;
is(sqlstate_of(q{SELECT idempotency.claim_guard('limited', 'limit-3')}), 'IK005',
	'limits: a claim past the scope\'s limit fails with IK005');

# --- counters -------------------------------------------------------------------------
# The plain table's statistics count rows, not what happened to a key.
sql(q{SELECT idempotency.claim_guard('counted', 'k')});
sql(q{SELECT idempotency.claim_guard('counted', 'k')});
sql(q{SELECT idempotency.record_outcome('counted', 'k', 'succeeded')});
sql(q{SELECT idempotency.claim_or_lookup('counted', 'k')});
is(sql(q{SELECT claimed_new || '/' || refused_pending || '/' || succeeded || '/' || replayed
           FROM idempotency.counters WHERE scope = 'counted'}), '1/1/1/1',
	'counters: the guard counts each event of a scope (new claim, refused retry, outcome, replay)');

done_testing();
