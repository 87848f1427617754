# idempotency.counters across the server's life: scopes past
# max_tracked_scopes go to the overflow row without losing totals, the purge
# worker's deletions count once, a clean restart keeps the counters and a
# crash resets them (and the log says so).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('counters');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'idempotency'
idempotency.databases = 'postgres'
idempotency.purge_interval = '1h'
idempotency.max_tracked_scopes = 4
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION idempotency');

sub counters
{
	my ($columns, $where) = @_;
	return $node->safe_psql('postgres',
		"SELECT $columns FROM idempotency.counters WHERE $where");
}

# The purge worker's deletions count on the unscoped row, once each.
$node->safe_psql('postgres', q{
  SELECT count(idempotency.claim_guard('scope-1', 'short-' || k, ttl => '1 millisecond'))
    FROM generate_series(1, 7) AS k;
});
$node->safe_psql('postgres', "ALTER SYSTEM SET idempotency.purge_interval = '200ms'");
$node->reload;
# The worker counts after its batch commits: wait for the count, then check
# that the guards are gone and nothing was counted twice.
$node->poll_query_until('postgres',
	q{SELECT purged_by_worker >= 7 FROM idempotency.counters WHERE kind = 'unscoped'})
  or die 'the purge worker did not purge';
$node->safe_psql('postgres', "ALTER SYSTEM SET idempotency.purge_interval = '1h'");
$node->reload;
is($node->safe_psql('postgres', q{SELECT count(*) FROM idempotency.guards WHERE key LIKE 'short-%'}),
	0, 'the worker purged the expired guards');
is(counters('purged_by_worker', "kind = 'unscoped'"), 7, 'the worker counts each purged guard once');

# Ten scopes, 1 + 2 + ... + 10 claims: the table tracks at most four
# entries (the unscoped row, which holds the purges, is one of them), so
# most scopes land in the overflow row, and the total is whole.
$node->safe_psql('postgres', q{
  SELECT count(idempotency.claim_guard('scope-' || s, 'key-' || k))
    FROM generate_series(1, 10) AS s, generate_series(1, s) AS k;
});
is(counters('count(*)', "kind <> 'overflow'") <= 4, 1, 'at most max_tracked_scopes rows');
ok(counters('claimed_new', "kind = 'overflow'") > 0, 'scopes past the cap count in the overflow row');
is(counters('sum(claimed_new)', 'true'), 55 + 7, 'no claim lost from the totals');

# A clean restart keeps every count and its since.
my $before = counters("string_agg(concat_ws(',', kind, scope, since, claimed_new, purged_by_worker), ';' ORDER BY kind, scope)", 'true');
$node->restart;
is(counters("string_agg(concat_ws(',', kind, scope, since, claimed_new, purged_by_worker), ';' ORDER BY kind, scope)", 'true'),
	$before, 'a clean restart keeps the counters');

# A crash (a child process killed with SIGKILL makes the postmaster
# reinitialize shared memory) resets them, with a new since, and the log
# says so.
my $offset = -s $node->logfile;
my $since = counters('min(since)', 'true');
my $worker = $node->safe_psql('postgres',
	q{SELECT pid FROM idempotency.worker_status() WHERE database = 'postgres' AND running});
ok($worker > 0, 'the purge worker runs');
kill 'KILL', $worker;
$node->poll_query_until('postgres', q{SELECT sum(claimed_new) FROM idempotency.counters}, '0')
  or die 'the counters did not reset after the crash';
$node->safe_psql('postgres', q{SELECT idempotency.claim_guard('after-crash', 'k')});
is(counters('sum(claimed_new)', 'true'), 1, 'a crash resets the counters');
ok(counters("since > '$since'", "kind = 'scope'") eq 't', 'with a new since');
like(slurp_file($node->logfile, $offset), qr/idempotency: counters start from zero/,
	'and the log says so');

$node->stop;
done_testing();
