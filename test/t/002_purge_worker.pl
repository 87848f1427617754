# The purge worker as a DBA runs it: purging on its own, reloads, pauses,
# crashes, restarts, failures, and databases that lack the extension or do
# not exist yet.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('purge_worker');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'idempotency'
idempotency.databases = 'postgres, appdb, notyet'
idempotency.purge_interval = '1s'
idempotency.purge_batch_size = 100
# a real server restarts after a crash; the test framework turns that off
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION idempotency');
$node->safe_psql('postgres', 'CREATE DATABASE appdb');

sub worker_pid {
  my ($database) = @_;
  return $node->safe_psql('postgres',
    "SELECT coalesce(pid, 0) FROM idempotency.worker_status() WHERE database = '$database'");
}

sub worker_state {
  my ($database) = @_;
  return $node->safe_psql('postgres',
    "SELECT state FROM idempotency.worker_status() WHERE database = '$database'");
}

sub add_expired_guards {
  my ($database, $scope, $count) = @_;
  $node->safe_psql($database, qq{
    SELECT idempotency.claim_guard('$scope', 'k' || i, ttl => '0.5 seconds')
      FROM generate_series(1, $count) AS i});
}

sub stored_guards {
  my ($database, $scope) = @_;
  return $node->safe_psql($database,
    "SELECT count(*) FROM idempotency.guards WHERE scope = '$scope'");
}

# One worker per listed database, visible in pg_stat_activity.
ok($node->poll_query_until('postgres', q{
  SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'idempotency purge worker'}),
  'a purge worker runs in each existing database');
is($node->safe_psql('postgres', q{
  SELECT string_agg(DISTINCT application_name, ',') FROM pg_stat_activity
   WHERE backend_type IN ('idempotency purge worker', 'idempotency launcher')}),
  'idempotency launcher,idempotency purge worker', 'named in pg_stat_activity');

# The workers run at a lower CPU priority than the server (purge_nice = 10).
sub nice_of {
  my ($pid) = @_;
  my $stat = slurp_file("/proc/$pid/stat");
  $stat =~ s/^.*\) //s;    # the command name may contain spaces
  return (split / /, $stat)[16];    # field 19 of stat(5)
}
ok($node->poll_query_until('postgres', q{
  SELECT pid IS NOT NULL FROM idempotency.worker_status() WHERE database = 'postgres'}),
  'the worker has registered its pid');
# Capped at 19, the lowest priority, for a server that already runs under nice.
my $server_nice = nice_of($node->safe_psql('postgres',
  "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'"));
is(nice_of(worker_pid('postgres')), $server_nice + 10 > 19 ? 19 : $server_nice + 10,
  'the purge worker runs 10 nice levels below the server (at most 19)');

# Expired guards disappear within a couple of intervals; live ones stay.
$node->safe_psql('postgres', q{
  SELECT idempotency.claim_guard('live', 'k' || i, ttl => '1 hour') FROM generate_series(1, 50) i});
add_expired_guards('postgres', 'first', 450);
ok($node->poll_query_until('postgres',
  q{SELECT count(*) = 0 FROM idempotency.guards WHERE scope = 'first'}),
  'expired guards are purged (in batches of 100)');
is(stored_guards('postgres', 'live'), '50', 'live guards are kept');
is($node->safe_psql('postgres', q{SELECT total_deleted >= 450 AND last_error IS NULL
  FROM idempotency.worker_status() WHERE database = 'postgres'}), 't',
  'worker_status counts what was deleted');

# A database without the extension: the worker idles there, without crashing.
my $appdb_pid = worker_pid('appdb');
ok($appdb_pid > 0, 'the worker of a database without the extension is running');
ok($node->poll_query_until('postgres', q{SELECT state = 'waiting for CREATE EXTENSION idempotency'
  FROM idempotency.worker_status() WHERE database = 'appdb'}), 'and says what it waits for');
# A database that does not exist: no worker, no crash loop.
is(worker_state('notyet'), 'database does not exist', 'a missing database is reported');
sleep 3;
is(worker_pid('appdb'), $appdb_pid, 'no restarts while waiting for the extension');
$node->safe_psql('appdb', 'CREATE EXTENSION idempotency');
add_expired_guards('appdb', 'late', 30);
ok($node->poll_query_until('appdb',
  q{SELECT count(*) = 0 FROM idempotency.guards WHERE scope = 'late'}),
  'purging starts once the extension is created');
is(worker_pid('appdb'), $appdb_pid, 'by the same worker process');
$node->safe_psql('postgres', 'CREATE DATABASE notyet');
$node->safe_psql('notyet', 'CREATE EXTENSION idempotency');
add_expired_guards('notyet', 'created', 10);
ok($node->poll_query_until('notyet',
  q{SELECT count(*) = 0 FROM idempotency.guards WHERE scope = 'created'}),
  'a database created later gets its worker');

# set_retention(..., apply_to_existing): with a worker running, the re-dating
# is done by the worker in batches of their own transactions.
$node->safe_psql('postgres', q{
  SELECT idempotency.claim_guard('redate', 'k' || i, ttl => '1 hour') FROM generate_series(1, 250) i});
# A claim made right after the policy, before the worker gets to it, is not
# re-dated: it already follows the policy or, here, its own explicit ttl.
$node->safe_psql('postgres', q{
  SELECT idempotency.set_retention('redate', '2 hours', true);
  SELECT idempotency.claim_guard('redate', 'explicit', ttl => '5 hours')});
ok($node->poll_query_until('postgres', q{SELECT NOT redate_pending
  FROM idempotency.retention_policies WHERE scope = 'redate'}), 'the worker re-dates the scope');
is($node->safe_psql('postgres', q{SELECT count(*) FROM idempotency.guards
  WHERE scope = 'redate' AND expires_at - claimed_at = interval '2 hours'}), '250',
  'every live guard of the scope has the new ttl');
is($node->safe_psql('postgres', q{SELECT expires_at - claimed_at FROM idempotency.guards
  WHERE scope = 'redate' AND key = 'explicit'}), '05:00:00',
  'a guard claimed after the policy was set keeps its explicit ttl');

# A reload changes the interval: 1 hour, then pause, then back to 1 second.
$node->safe_psql('postgres', "ALTER SYSTEM SET idempotency.purge_interval = '1h'");
$node->reload;
sleep 2;  # let the worker finish the run it may be in and pick up the setting
add_expired_guards('postgres', 'slow', 20);
sleep 3;
is(stored_guards('postgres', 'slow'), '20', 'after a reload to 1h, nothing is purged for now');
ok($node->safe_psql('postgres', q{SELECT next_run > now() + interval '50 minutes'
  FROM idempotency.worker_status() WHERE database = 'postgres'}) eq 't',
  'worker_status shows the next run an hour away');
$node->safe_psql('postgres', "ALTER SYSTEM SET idempotency.purge_interval = 0");
$node->reload;
ok($node->poll_query_until('postgres', q{SELECT state LIKE 'paused%'
  FROM idempotency.worker_status() WHERE database = 'postgres'}), 'purge_interval = 0 pauses');
$node->safe_psql('postgres', "ALTER SYSTEM SET idempotency.purge_interval = '1s'");
$node->reload;
ok($node->poll_query_until('postgres',
  q{SELECT count(*) = 0 FROM idempotency.guards WHERE scope = 'slow'}),
  'after a reload back to 1s, purging resumes');

# A batch that cannot get its lock fails, is logged, backs off, and recovers.
$node->safe_psql('postgres', "ALTER SYSTEM SET idempotency.purge_lock_timeout = '100ms'");
$node->reload;
add_expired_guards('postgres', 'blocked', 10);
my $log_offset = -s $node->logfile;
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE idempotency.guards IN ACCESS EXCLUSIVE MODE');
ok($node->poll_query_until('postgres', q{SELECT state = 'backing off after an error'
  AND last_error LIKE '%lock timeout%' FROM idempotency.worker_status()
  WHERE database = 'postgres'}), 'a lock timeout is reported in worker_status');
$locker->query_safe('COMMIT');
$locker->quit;
ok($node->poll_query_until('postgres',
  q{SELECT count(*) = 0 FROM idempotency.guards WHERE scope = 'blocked'}),
  'and purging carries on once the lock is gone');
like(slurp_file($node->logfile, $log_offset),
  qr/WARNING:  idempotency: purge in database "postgres" failed: canceling statement due to lock timeout/,
  'the failure is logged as a warning');

# The purge's deletes reach the statistics autovacuum works from.
ok($node->poll_query_until('postgres', q{SELECT n_tup_del >= 450
  FROM pg_stat_user_tables WHERE relid = 'idempotency.guards'::regclass}),
  'pg_stat_user_tables counts the purged rows');

# Server defaults do not leak into the worker's transactions.
$node->safe_psql('postgres', "ALTER SYSTEM SET default_transaction_read_only = on");
$node->reload;
$node->safe_psql('postgres', q{SET default_transaction_read_only = off;
  SELECT idempotency.claim_guard('read_only_default', 'k' || i, ttl => '0.5 seconds')
    FROM generate_series(1, 10) AS i});
ok($node->poll_query_until('postgres',
  q{SELECT count(*) = 0 FROM idempotency.guards WHERE scope = 'read_only_default'}),
  'default_transaction_read_only = on does not stop the purge');
$node->safe_psql('postgres', "SET default_transaction_read_only = off; ALTER SYSTEM RESET default_transaction_read_only");
$node->reload;

# A cancel does not end a worker.
my $cancelled_pid = worker_pid('postgres');
$node->safe_psql('postgres', "SELECT pg_cancel_backend($cancelled_pid)");
sleep 2;
is(worker_pid('postgres'), $cancelled_pid, 'pg_cancel_backend leaves the worker running');

# A launcher that is terminated comes back without doubling the workers.
my $launcher = $node->safe_psql('postgres',
  q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'idempotency launcher'});
$node->safe_psql('postgres', "SELECT pg_terminate_backend($launcher)");
ok($node->poll_query_until('postgres', qq{SELECT count(*) = 1 FROM pg_stat_activity
  WHERE backend_type = 'idempotency launcher' AND pid <> $launcher}), 'the launcher is restarted');
sleep 3;
is($node->safe_psql('postgres', q{SELECT string_agg(datname || '=' || n, ',' ORDER BY datname)
  FROM (SELECT datname, count(*) AS n FROM pg_stat_activity
         WHERE backend_type = 'idempotency purge worker' GROUP BY datname) AS w}),
  'appdb=1,notyet=1,postgres=1', 'still exactly one purge worker per database');
add_expired_guards('postgres', 'after_launcher', 10);
ok($node->poll_query_until('postgres',
  q{SELECT count(*) = 0 FROM idempotency.guards WHERE scope = 'after_launcher'}),
  'and purging goes on');

# SIGTERM (pg_terminate_backend): the worker exits; the launcher restarts it.
my $old_pid = worker_pid('postgres');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($old_pid)");
ok($node->poll_query_until('postgres', qq{SELECT coalesce(pid, 0) NOT IN (0, $old_pid)
  FROM idempotency.worker_status() WHERE database = 'postgres'}),
  'a terminated worker is restarted by the launcher');

# kill -9: the postmaster restarts everything; purging resumes.
$old_pid = worker_pid('postgres');
kill 'KILL', $old_pid;
ok($node->poll_query_until('postgres', qq{SELECT coalesce(pid, 0) NOT IN (0, $old_pid)
  FROM idempotency.worker_status() WHERE database = 'postgres'}),
  'after kill -9 the worker is back');
add_expired_guards('postgres', 'after_crash', 20);
ok($node->poll_query_until('postgres',
  q{SELECT count(*) = 0 FROM idempotency.guards WHERE scope = 'after_crash'}),
  'and purging again');
is(stored_guards('postgres', 'live'), '50', 'live guards survived the crash');

# A server restart: purging resumes.
$node->restart;
add_expired_guards('postgres', 'after_restart', 20);
ok($node->poll_query_until('postgres',
  q{SELECT count(*) = 0 FROM idempotency.guards WHERE scope = 'after_restart'}),
  'purging resumes after a restart');

# DROP EXTENSION: the worker notices and goes back to waiting.
$node->safe_psql('appdb', 'DROP EXTENSION idempotency');
ok($node->poll_query_until('postgres', q{SELECT state = 'waiting for CREATE EXTENSION idempotency'
  FROM idempotency.worker_status() WHERE database = 'appdb'}),
  'after DROP EXTENSION the worker waits again');

# The whole run left no FATAL or ERROR from the workers in the log, apart
# from what the test caused: the lock timeout, the termination, the kill, and
# the test's own connections refused while the server recovered from it.
my $log = slurp_file($node->logfile);
my @caused_by_test = (
  qr/lock timeout/,
  qr/terminating background worker .* due to administrator command/,
  qr/terminating connection because of crash/,
  qr/the database system is (in recovery mode|not yet accepting connections|starting up|shutting down)/,
  qr/terminating background worker "idempotency launcher" due to administrator command/,
  qr/cannot execute .* in a read-only transaction/);
my @unexpected = grep {
  my $line = $_;
  $line =~ /(ERROR|FATAL|PANIC)/ && !grep { $line =~ $_ } @caused_by_test
} split /\n/, $log;
is(scalar(@unexpected), 0, 'no unexpected errors in the log') or diag(join("\n", @unexpected));

$node->stop;
done_testing();
