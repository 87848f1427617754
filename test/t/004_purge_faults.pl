# Faults inside a purge: a statement timeout in a batch, and the worker killed
# in the middle of a batch. Nothing live is lost and purging carries on.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('purge_faults');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'idempotency'
idempotency.purge_interval = '1s'
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', q{
  CREATE EXTENSION idempotency;
  SELECT idempotency.claim_guard('live', 'k' || i, ttl => '1 hour') FROM generate_series(1, 100) i;
});

# Expired guards written straight into the table (as the superuser), so that
# a large backlog costs no time to make.
sub add_expired_backlog {
  my ($scope, $count) = @_;
  $node->safe_psql('postgres', qq{
    INSERT INTO idempotency.guards (scope, key, status, claim_token, claimed_at, expires_at)
    SELECT '$scope', 'k' || i, 'pending', i, now() - interval '2 hours', now() - interval '1 hour'
      FROM generate_series(1, $count) AS i});
}

sub count_scope {
  my ($scope) = @_;
  return $node->safe_psql('postgres',
    "SELECT count(*) FROM idempotency.guards WHERE scope = '$scope'");
}

# A statement timeout inside a batch: logged, backed off, recovered.
$node->safe_psql('postgres', q{
  ALTER SYSTEM SET idempotency.purge_interval = 0;
  ALTER SYSTEM SET idempotency.purge_batch_size = 50000;
  ALTER SYSTEM SET idempotency.purge_statement_timeout = '1ms';
});
$node->reload;
$node->poll_query_until('postgres', q{SELECT state LIKE 'paused%' FROM idempotency.worker_status()});
add_expired_backlog('timeout', 50000);
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', "ALTER SYSTEM SET idempotency.purge_interval = '1s'");
$node->reload;
ok($node->poll_query_until('postgres', q{SELECT state = 'backing off after an error'
  AND last_error LIKE '%statement timeout%' FROM idempotency.worker_status()}),
  'a batch over purge_statement_timeout fails and the worker backs off');
is(count_scope('timeout'), '50000', 'the failed batch deleted nothing (rolled back)');
like(slurp_file($node->logfile, $log_offset),
  qr/WARNING:  idempotency: purge in database "postgres" failed: canceling statement due to statement timeout.*\n.*HINT:  Retrying in \d+ s/,
  'the failure and the retry delay are logged');
$node->safe_psql('postgres', q{
  ALTER SYSTEM SET idempotency.purge_statement_timeout = '1min';
  ALTER SYSTEM SET idempotency.purge_batch_size = 500;
});
$node->reload;
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM idempotency.guards
  WHERE scope = 'timeout'}), 'after the timeout is raised the backlog is purged');
is($node->safe_psql('postgres', q{SELECT last_error IS NOT NULL AND state <> 'backing off after an error'
  FROM idempotency.worker_status()}), 't', 'the worker recovered (the last error stays visible)');

# kill -9 in the middle of a batch.
$node->safe_psql('postgres', "ALTER SYSTEM SET idempotency.purge_interval = 0");
$node->reload;
$node->poll_query_until('postgres', q{SELECT state LIKE 'paused%' FROM idempotency.worker_status()});
add_expired_backlog('killed', 200000);
# Batches of 10 make the run last seconds (20,000 transactions): the purge
# deletes about a million guards a second, so with large batches it would be
# over before the kill.
$node->safe_psql('postgres', q{
  ALTER SYSTEM SET idempotency.purge_interval = '1s';
  ALTER SYSTEM SET idempotency.purge_batch_size = 10;
});
$node->reload;
ok($node->poll_query_until('postgres', q{SELECT state = 'purging' AND last_run_deleted > 0
  FROM idempotency.worker_status()}), 'the worker is in the middle of purging');
my $pid = $node->safe_psql('postgres', 'SELECT pid FROM idempotency.worker_status()');
kill 'KILL', $pid;
ok($node->poll_query_until('postgres', qq{SELECT coalesce(pid, 0) NOT IN (0, $pid)
  FROM idempotency.worker_status()}), 'the worker is back after kill -9');
cmp_ok(count_scope('killed'), '>', 0, 'some of the backlog was still there after the kill');
$node->safe_psql('postgres', 'ALTER SYSTEM SET idempotency.purge_batch_size = 20000');
$node->reload;
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM idempotency.guards
  WHERE scope = 'killed'}), 'and purging resumes to the end');
is(count_scope('live'), '100', 'no live guard was lost');
is($node->safe_psql('postgres', q{SELECT count(*) FROM idempotency.guards
  WHERE expires_at > now() AND scope <> 'live'}), '0', 'nothing else appeared');

$node->stop;
done_testing();
