# A server that never preloaded the library: after CREATE EXTENSION alone,
# on PostgreSQL 17 and later, claim_or_lookup's wait is woken by a commit,
# a scope limit refuses a claim past it, the counters count, and the purge
# worker (started by the first use of the extension in each database, as a
# dynamic background worker) purges expired guards; after a restart, still
# without preloading, all of it comes back. On 15 and 16 it asserts the
# documented refusals (55000) and an empty counters view instead.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('no_preload');
$node->init;
$node->append_conf('postgresql.conf', q{
idempotency.purge_interval = '200ms'
});
$node->start;
my ($major) = ("" . $node->pg_version) =~ /^(\d+)/;
is($node->safe_psql('postgres', 'SHOW shared_preload_libraries'), '', 'the library is not preloaded');
$node->safe_psql('postgres', 'CREATE EXTENSION idempotency');

sub try_sql {
  my ($database, $sql) = @_;
  my ($stdout, $stderr);
  $node->psql($database, $sql, stdout => \$stdout, stderr => \$stderr,
    extra_params => ['-v', 'VERBOSITY=verbose']);
  return ($stdout, $stderr);
}

if ($major < 17) {
  # --- 15 and 16: no shared memory without preloading ---------------------------
  $node->safe_psql('postgres', q{SELECT idempotency.claim_guard('w', 'k')});
  my (undef, $stderr) =
    try_sql('postgres', q{SELECT * FROM idempotency.claim_or_lookup('w', 'k', wait => '1 second')});
  like($stderr, qr/55000: claim_or_lookup cannot wait: idempotency is not preloaded/,
    'a wait is refused with 55000');
  (undef, $stderr) = try_sql('postgres', q{SELECT idempotency.set_limits('l', max_live => 2)});
  like($stderr, qr/55000:.*shared_preload_libraries/s, 'set_limits is refused with 55000');
  is($node->safe_psql('postgres', 'SELECT count(*) FROM idempotency.counters'), '0',
    'nothing is counted');
  like($node->safe_psql('postgres', q{SELECT string_agg(state, ',') FROM idempotency.worker_status()}),
    qr/not loaded: add idempotency to shared_preload_libraries/,
    'worker_status() says to preload the library');
  is($node->safe_psql('postgres',
    q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'idempotency launcher'}), '0',
    'and no launcher runs');
  $node->stop;
  done_testing();
  exit;
}

# --- 17 and later: every feature after CREATE EXTENSION alone -----------------
sub launcher_count {
  return $node->safe_psql('postgres',
    q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'idempotency launcher'});
}

sub check_features {
  my ($round) = @_;

  # A wait, woken by the commit that records the outcome.
  $node->safe_psql('postgres', qq{SELECT idempotency.claim_guard('w', 'k$round')});
  my $waiter = $node->background_psql('postgres', on_error_stop => 0);
  my $pid = $waiter->query_safe('SELECT pg_backend_pid()');
  $waiter->query_until(qr/sent/, qq{\\echo sent
SELECT claimed || '/' || status || '/' || coalesce(outcome->>'n', '-')
  FROM idempotency.claim_or_lookup('w', 'k$round', wait => '3 minutes');
});
  ok($node->poll_query_until('postgres',
      qq{SELECT wait_event_type = 'Extension' FROM pg_stat_activity WHERE pid = $pid}),
    "$round: the waiter sleeps on its wake-up slot");
  $node->safe_psql('postgres',
    qq{SELECT idempotency.record_outcome('w', 'k$round', 'succeeded', '{"n": 7}')});
  my ($answer) = $waiter->query('');
  $waiter->quit;
  chomp $answer;
  is($answer, 'false/succeeded/7', "$round: the commit wakes the waiter, which replays the outcome");

  # A limit that refuses the claim past it.
  $node->safe_psql('postgres', q{SELECT idempotency.set_limits('lim', max_live => 2)})
    if $round eq 'first';
  $node->safe_psql('postgres', qq{
    SELECT idempotency.claim_guard('lim', '$round-1');
    SELECT idempotency.claim_guard('lim', '$round-2');
  }) if $round eq 'first';
  my (undef, $stderr) = try_sql('postgres', qq{SELECT idempotency.claim_guard('lim', '$round-3')});
  like($stderr, qr/has reached its limit of guards/, "$round: the limit refuses a claim past it");

  # Counters that count.
  $node->safe_psql('postgres', qq{
    SELECT idempotency.claim_guard('counted', '$round-' || k) FROM generate_series(1, 3) AS k});
  is($node->safe_psql('postgres',
      q{SELECT claimed_new FROM idempotency.counters WHERE kind = 'scope' AND scope = 'counted'}),
    '3', "$round: the counters count each claim");

  # The purge worker purges an expired guard.
  $node->safe_psql('postgres',
    qq{SELECT idempotency.claim_guard('short', '$round', ttl => '1 millisecond')});
  ok($node->poll_query_until('postgres',
      qq{SELECT count(*) = 0 FROM idempotency.guards WHERE scope = 'short' AND key = '$round'}),
    "$round: the purge worker deletes the expired guard");
  ok($node->poll_query_until('postgres', q{
      SELECT running AND pid IS NOT NULL AND total_deleted >= 1
        FROM idempotency.worker_status() WHERE database = 'postgres'}),
    "$round: worker_status() shows the running worker and what it purged");
  is($node->safe_psql('postgres', q{
      SELECT purged_by_worker >= 1 FROM idempotency.counters WHERE kind = 'unscoped'}), 't',
    "$round: and the counters count the purge");
  is(launcher_count(), '1', "$round: one launcher runs");
}

check_features('first');

# Many backends loading the library at once start one launcher between them.
my @sessions = map { $node->background_psql('postgres') } 1 .. 6;
$_->query_safe(q{SELECT idempotency.claim_guard('load', 'x') IS NOT NULL}) for @sessions;
$_->quit for @sessions;
is(launcher_count(), '1', 'still one launcher after more backends use the extension');

# A second database gets its own worker on its first use.
$node->safe_psql('postgres', 'CREATE DATABASE appdb');
$node->safe_psql('appdb', q{
  CREATE EXTENSION idempotency;
  SELECT idempotency.claim_guard('short', 'app', ttl => '1 millisecond');
});
ok($node->poll_query_until('appdb', q{SELECT count(*) = 0 FROM idempotency.guards}),
  'the purge worker of the second database purges it');
is($node->safe_psql('postgres', q{
    SELECT string_agg(database || ':' || running, ',' ORDER BY database)
      FROM idempotency.worker_status()}), 'appdb:true,postgres:true',
  'worker_status() lists both databases, each with a running worker');

# A launcher that is terminated is replaced (the postmaster restarts it).
my $launcher = $node->safe_psql('postgres',
  q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'idempotency launcher'});
$node->safe_psql('postgres', "SELECT pg_terminate_backend($launcher)");
ok($node->poll_query_until('postgres', qq{
    SELECT count(*) = 1 FROM pg_stat_activity
     WHERE backend_type = 'idempotency launcher' AND pid <> $launcher}),
  'a terminated launcher is replaced');

# A restart, still without preloading: the first use starts everything again.
$node->restart;
is(launcher_count(), '0', 'after a restart nothing runs before the extension is used');
check_features('second');

$node->stop;
done_testing();
