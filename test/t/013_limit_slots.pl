# Limit slots (README, "Limits of what a client can make the server do"):
# the server's idempotency.max_limits slots are given back when a limit is
# dropped or its database is, set_limits refuses (53400) a limit it cannot
# give a slot instead of leaving it unenforced, one database cannot take
# every slot, a recount whose backend is terminated does not freeze its
# limit, and a refused claim that recounts does not count its own pending
# guard twice.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('limit_slots');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'idempotency'
idempotency.max_limits = 4
idempotency.max_limits_per_database = 2
idempotency.purge_interval = '1h'
});
$node->start;
for my $database (qw(one two three))
{
	$node->safe_psql('postgres', "CREATE DATABASE $database");
	$node->safe_psql($database, 'CREATE EXTENSION idempotency');
}

# An error's SQLSTATE, message and hint, as psql prints them verbosely.
sub error_of
{
	my ($database, $sql) = @_;
	my ($status, $out, $err) = $node->psql($database, "\\set VERBOSITY verbose\n$sql");
	return $status == 0 ? "no error: $out" : $err;
}

sub claim
{
	my ($database, $scope, $key) = @_;
	my ($status, $out, $err) =
	  $node->psql($database, "SELECT idempotency.claim_guard('$scope', '$key')");
	return $status == 0 ? $out : $err;
}

# First, with every slot free: a recount whose backend is terminated does
# not freeze its limit. The
# limit 'slow' is full by its counts; its guards are then deleted behind its
# back, so only a recount sees the room. A session that has used the
# extension (its caches loaded) claims in 'slow' once the recount is due;
# the recount's statement, planned for the first time in that backend,
# reads pg_statistic, which another session holds locked: the recount
# blocks, and is terminated there.
$node->safe_psql('one', q{SELECT idempotency.set_limits('slow', max_live => 2)});
is(claim('one', 'slow', 's-1') . claim('one', 'slow', 's-2'), 'tt', 'the limit fills');
like(claim('one', 'slow', 's-3'), qr/has reached its limit of guards/, 'and refuses past it');
$node->safe_psql('one', q{DELETE FROM idempotency.guards WHERE scope = 'slow'});

my $base = $node->basedir;
my $recounter = IPC::Run::start(
	[ 'psql', '-X', '-At', '-d', $node->connstr('one'), '-c',
	  q{SELECT idempotency.claim_guard('warm-up', 'w')}, '-c', 'SELECT pg_sleep(5)', '-c',
	  q{SELECT idempotency.claim_guard('slow', 's-4')} ],
	'>', "$base/recounter.out", '2>', "$base/recounter.err");
$node->poll_query_until('one', q{SELECT count(*) = 1 FROM idempotency.guards WHERE scope = 'warm-up'})
  or die 'the recounting session did not start';
my $locker = IPC::Run::start(
	[ 'psql', '-X', '-At', '-d', $node->connstr('one'), '-c',
	  'BEGIN; LOCK TABLE pg_catalog.pg_statistic IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120); COMMIT;' ],
	'>', "$base/locker.out", '2>', "$base/locker.err");
# pg_statistic is OID 2619; these queries plan without reading it.
my $waiting = q{SELECT pid FROM pg_catalog.pg_locks WHERE relation = 2619 AND NOT granted};
$node->poll_query_until('one', "SELECT count(*) = 1 FROM ($waiting) AS w")
  or die 'the recount did not block on pg_statistic';
$node->safe_psql('one', "SELECT pg_catalog.pg_terminate_backend(pid) FROM ($waiting) AS w");
$recounter->finish;
like(slurp_file("$base/recounter.err"), qr/terminating connection/, 'the recounting backend was terminated');
$node->safe_psql('one', q{
  SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_locks
  WHERE relation = 2619 AND mode = 'AccessExclusiveLock' AND granted});
$locker->finish;
is(claim('one', 'slow', 's-5'), 't', 'after the terminated recount, the room freed is seen');

# A refused claim that recounts counts its own pending guard once: the
# limit admits one guard; its only guard has an outcome (none pending).
$node->safe_psql('one', q{SELECT idempotency.drop_limits('slow')});
$node->safe_psql('one', q{
  SELECT idempotency.set_limits('double', max_live => 1, max_pending => 5);
  SELECT idempotency.claim_guard('double', 'd-1');
  SELECT idempotency.record_outcome('double', 'd-1', 'succeeded');
});
sleep(2);    # past the one-second recount interval
like(claim('one', 'double', 'd-2'), qr/has reached its limit of guards/, 'a claim past the limit is refused');
is($node->safe_psql('one', q{SELECT live || '/' || pending FROM idempotency.limits WHERE pattern = 'double'}),
	'1/0', 'its recount left one guard and none pending');
$node->safe_psql('one', q{SELECT idempotency.drop_limits('double')});

# The issue's churn: a hundred limits set and dropped in one statement take
# no slot for good, so another database's limit is enforced afterwards.
$node->safe_psql('one', q{
  SELECT count(*) FROM (SELECT idempotency.set_limits('junk' || i, 1),
                               idempotency.drop_limits('junk' || i)
                        FROM generate_series(1, 100) AS i) AS churn;
});
$node->safe_psql('two', q{SELECT idempotency.set_limits('orders', max_live => 1000)});
is(claim('two', 'orders', 'o-1'), 't', 'after the churn, a limit set elsewhere is enforced');

# One database holds at most its share (2) of the server's 4 slots.
$node->safe_psql('one', q{
  SELECT idempotency.set_limits('a', max_live => 10), idempotency.set_limits('b', max_live => 10);
});
my $refusal = error_of('one', q{SELECT idempotency.set_limits('c', max_live => 10)});
like($refusal, qr/ERROR:  53400: scope limit "c" cannot get a slot/,
	'a third limit in one database is refused with 53400');
like($refusal, qr/HINT:.*idempotency\.max_limits_per_database/,
	'and the hint names idempotency.max_limits_per_database');
is($node->safe_psql('one', q{SELECT count(*) FROM idempotency.scope_limits WHERE pattern = 'c'}),
	0, 'the refused limit was not stored');
$node->safe_psql('two', q{SELECT idempotency.set_limits('x', max_live => 10)});
is(claim('two', 'x', 'x-1'), 't', 'another database still got its share meanwhile');

# Now all four slots are held: a third database is refused, server-wide.
$refusal = error_of('three', q{SELECT idempotency.set_limits('z', max_live => 1)});
like($refusal, qr/ERROR:  53400: .*cannot get a slot/, 'with every slot taken, set_limits is refused');
like($refusal, qr/HINT:.*idempotency\.max_limits /, 'and the hint names idempotency.max_limits');

# A dropped limit's slot is reused by another database.
$node->safe_psql('one', q{SELECT idempotency.drop_limits('a')});
$node->safe_psql('three', q{SELECT idempotency.set_limits('z', max_live => 1)});
is(claim('three', 'z', 'z-1'), 't', 'the slot of a dropped limit serves another database');
like(claim('three', 'z', 'z-2'), qr/has reached its limit of guards/, 'and enforces its limit');

# A dropped database's slots too.
$node->safe_psql('postgres', 'DROP DATABASE two');
$node->safe_psql('three', q{SELECT idempotency.set_limits('w', max_live => 1)});
is(claim('three', 'w', 'w-1'), 't', 'the slots of a dropped database serve another');
like(claim('three', 'w', 'w-2'), qr/has reached its limit of guards/, 'and enforce its limit');

# A limit dropped in a transaction that rolls back keeps its slot, and a
# slot taken in one is given back.
$node->safe_psql('three', q{
  BEGIN;
  SELECT idempotency.drop_limits('z');
  ROLLBACK;
});
like(claim('three', 'z', 'z-3'), qr/has reached its limit of guards/,
	'a drop rolled back leaves the limit enforced');

# After a restart with fewer slots than limits, the limits take slots at
# their first claim, and one left without fails safe (55000), never unlimited.
$node->append_conf('postgresql.conf', 'idempotency.max_limits = 2');
$node->restart;
is(claim('one', 'b', 'b-1'), 't', 'after a restart, a limit takes a slot again at its first claim');
like(claim('three', 'z', 'z-4'), qr/has reached its limit of guards/, 'another is enforced again');
like(claim('three', 'w', 'w-3'), qr/scope limit "w" cannot be enforced/,
	'and a limit left without one fails safe');

$node->stop;
done_testing();
