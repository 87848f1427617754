# On a hot standby the worker does nothing, lookups work and claims fail
# clearly; once the standby is promoted, its worker purges.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', q{
shared_preload_libraries = 'idempotency'
idempotency.purge_interval = '1s'
});
$primary->start;
$primary->safe_psql('postgres', q{
  CREATE EXTENSION idempotency;
  SELECT idempotency.claim_guard('payments', 'kept', ttl => '1 hour');
  SELECT idempotency.record_outcome('payments', 'kept', 'succeeded', '{"charge": 1}');
});
$primary->backup('backup');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;

# Pause the primary's purge so expired guards reach the standby and stay.
$primary->safe_psql('postgres', "ALTER SYSTEM SET idempotency.purge_interval = 0");
$primary->reload;
$primary->poll_query_until('postgres', q{SELECT state LIKE 'paused%'
  FROM idempotency.worker_status() WHERE database = 'postgres'});
$primary->safe_psql('postgres', q{
  SELECT idempotency.claim_guard('payments', 'old-' || i, ttl => '0.5 seconds')
    FROM generate_series(1, 40) AS i});
$primary->wait_for_catchup($standby);
sleep 1;

is($standby->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity
  WHERE backend_type LIKE 'idempotency%'}), '0', 'no idempotency workers run on a standby');
is($standby->safe_psql('postgres', q{SELECT running, state FROM idempotency.worker_status()
  WHERE database = 'postgres'}), 'f|server is in recovery: purging starts after promotion',
  'worker_status says why');
is($standby->safe_psql('postgres', q{SELECT status || ' ' || (outcome->>'charge')
  FROM idempotency.lookup('payments', 'kept')}), 'succeeded 1', 'lookup works on the standby');
my ($result, $stdout, $stderr) =
  $standby->psql('postgres', q{SELECT idempotency.claim_guard('payments', 'new')});
isnt($result, 0, 'claim_guard fails on the standby');
like($stderr, qr/cannot claim a guard on a standby server/, 'with a clear message');
($result, $stdout, $stderr) = $standby->psql('postgres',
  q{\set VERBOSITY sqlstate
    SELECT idempotency.record_outcome('payments', 'kept', 'failed')});
like($stderr, qr/25006/, 'writes on the standby fail with 25006');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM idempotency.guards
  WHERE expires_at <= now()}), '40', 'expired guards wait on the standby');

$standby->promote;
ok($standby->poll_query_until('postgres',
  q{SELECT count(*) = 0 FROM idempotency.guards WHERE expires_at <= now()}),
  'after promotion the worker purges');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM idempotency.guards}), '1',
  'and keeps the live guard');
is($standby->safe_psql('postgres', q{SELECT idempotency.claim_guard('payments', 'new')}), 't',
  'claims work on the promoted server');

$standby->stop;
$primary->stop;
done_testing();
