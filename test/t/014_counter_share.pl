# Counters shared by tenants (README, "Counters" and "Limits of what a
# client can make the server do"): a role restricted to 'a:*' flooding new
# scopes takes at most its database's share of the table, so another
# database's scopes still get their own rows; reset_counters(NULL) by a
# database's admin leaves what other databases count; entries reloaded after
# a clean restart age out like any other, so a saved flood does not hold the
# table for good.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('counter_share');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'idempotency'
idempotency.purge_interval = '1h'
idempotency.max_tracked_scopes = 50
idempotency.max_tracked_scopes_per_database = 20
idempotency.counters_evict_after = '1h'
});
$node->start;
for my $database (qw(tenants other))
{
	$node->safe_psql('postgres', "CREATE DATABASE $database");
	$node->safe_psql($database, 'CREATE EXTENSION idempotency');
}
$node->safe_psql('tenants', q{
  CREATE ROLE flood LOGIN;
  CREATE ROLE tenants_admin LOGIN;
  SELECT idempotency.grant_client('flood');
  SELECT idempotency.restrict_scopes('flood', ARRAY['a:*']);
  SELECT idempotency.grant_admin('tenants_admin');
});

sub counters
{
	my ($database, $columns, $where) = @_;
	return $node->safe_psql($database, "SELECT $columns FROM idempotency.counters WHERE $where");
}

# The flood: a thousand scopes of its own, from the restricted role.
$node->safe_psql('tenants',
	q{SELECT count(idempotency.claim_guard('a:' || i, 'k')) FROM generate_series(1, 1000) AS i},
	extra_params => [ '-U', 'flood' ]);
is(counters('tenants', 'count(*)', "kind <> 'overflow'"), 20,
	'the flooding database holds its share of rows, no more');
is(counters('tenants', 'sum(claimed_new)', 'true'), 1000, 'and no claim is lost from the totals');

# Another database still gets its own rows; past its share, the overflow.
$node->safe_psql('other',
	q{SELECT count(idempotency.claim_guard('s-' || i, 'k')) FROM generate_series(1, 30) AS i});
is(counters('other', 'count(*)', "kind = 'scope'"), 20,
	'another database gets its own rows (its share) despite the flood');
is(counters('other', 'sum(claimed_new)', "kind = 'scope'"), 20, 'each counting its scope');
my $overflow = counters('other', 'claimed_new', "kind = 'overflow'");
is($overflow, 980 + 10, 'the scopes past both shares count in the overflow row');

# An admin of one database resets its rows, not the overflow row that holds
# the other database's events too; a superuser resets it.
$node->safe_psql('tenants', 'SELECT idempotency.reset_counters(NULL)',
	extra_params => [ '-U', 'tenants_admin' ]);
is(counters('tenants', 'sum(claimed_new)', "kind <> 'overflow'"), 0, "reset_counters(NULL) zeroed its database's rows");
is(counters('other', 'sum(claimed_new)', "kind = 'scope'"), 20, "and left the other database's rows");
is(counters('other', 'claimed_new', "kind = 'overflow'"), $overflow, 'and the overflow row');
$node->safe_psql('tenants', q{SELECT count(idempotency.claim_guard('a:' || i, 'again')) FROM generate_series(1, 20) AS i});
$node->safe_psql('other', 'SELECT idempotency.reset_counters(NULL)');
is(counters('tenants', 'claimed_new', "kind = 'overflow'"), 0, "a superuser's reset_counters(NULL) zeroes the overflow row");

# Aging: after a clean restart the flood's rows are back, but a row counts
# as idle from the start, and a new scope takes the row idle longest once it
# has been idle for counters_evict_after.
$node->safe_psql('postgres', q{ALTER SYSTEM SET idempotency.counters_evict_after = '1s'});
$node->restart;
is(counters('tenants', 'count(*)', "kind = 'scope' AND scope LIKE 'a:%'"), 20,
	'the clean restart reloaded the flood\'s rows');
my $total = counters('tenants', 'sum(claimed_new)', 'true');
sleep(2);    # past counters_evict_after
$node->safe_psql('tenants', q{SELECT idempotency.claim_guard('b:1', 'k')});
is(counters('tenants', 'claimed_new', "scope = 'b:1'"), 1, 'a new scope takes the place of an idle reloaded row');
is(counters('tenants', 'count(*)', "kind = 'scope' AND scope LIKE 'a:%'"), 19, 'one row of the flood gave way');
is(counters('tenants', 'sum(claimed_new)', 'true'), $total + 1, 'its counts moved to the overflow row');
# A row with a recent event is not evicted: with the share full and every
# other row idle, 'b:1' stays while a new scope evicts an idle one.
$node->safe_psql('tenants', q{SELECT idempotency.claim_guard('b:2', 'k')});
is(counters('tenants', 'count(*)', "scope IN ('b:1', 'b:2')"), 2, 'the rows with recent events stay');

# With eviction off, a full share sends new scopes to the overflow row.
$node->safe_psql('postgres', q{ALTER SYSTEM SET idempotency.counters_evict_after = 0});
$node->reload;
sleep(2);
$node->safe_psql('tenants', q{SELECT idempotency.claim_guard('b:3', 'k')});
is(counters('tenants', 'count(*)', "scope = 'b:3'"), 0, 'with counters_evict_after = 0 nothing is evicted');

$node->stop;
done_testing();
