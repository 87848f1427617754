# claim_or_lookup(..., wait): waiters that share a wake-up slot (here all of
# them: idempotency.wait_slots = 1) still get correct answers; many waiters on
# one key are all woken by one commit, the waiters of a record_outcomes batch
# by its commit; subtransactions hand their wake-ups to their parent or drop
# them; a wait is interrupted cleanly by a cancel, by
# statement_timeout and by a fast shutdown; without preloading, on 15 and 16,
# wait is refused (on 17 and later it works: 017_no_preload.pl).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('wait');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'idempotency'
idempotency.wait_slots = 1
max_connections = 60
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION idempotency');
is($node->safe_psql('postgres', 'SHOW idempotency.wait_slots'), '1', 'one slot for every key');

# A waiter in the background: its psql session, sent the claim with `wait`.
sub start_waiter {
  my ($key, $wait) = @_;
  my $session = $node->background_psql('postgres', on_error_stop => 0);
  my $pid = $session->query_safe('SELECT pg_backend_pid()');
  $session->query_until(qr/sent/, qq{\\echo sent
SELECT claimed || '/' || status || '/' || coalesce(outcome->>'n', '-')
  FROM idempotency.claim_or_lookup('w', '$key', wait => '$wait');
});
  return { session => $session, pid => $pid };
}

# How many of these backends sleep on a wake-up slot (wait event "Extension").
sub sleeping {
  my @pids = map { $_->{pid} } @_;
  return $node->safe_psql('postgres', 'SELECT count(*) FROM pg_stat_activity WHERE pid IN ('
    . join(', ', @pids) . q{) AND wait_event_type = 'Extension'});
}

sub wait_until_sleeping {
  my @waiters = @_;
  my $count = scalar @waiters;
  my @pids = map { $_->{pid} } @waiters;
  return $node->poll_query_until('postgres', 'SELECT count(*) = ' . $count
    . ' FROM pg_stat_activity WHERE pid IN (' . join(', ', @pids)
    . q{) AND wait_event_type = 'Extension'});
}

# The waiter's answer (blocks until it has one), and its error output.
sub answer_of {
  my ($waiter) = @_;
  my ($out) = $waiter->{session}->query('');
  my $err = $waiter->{session}->{stderr};
  $waiter->{session}->quit;
  chomp $out;
  return ($out, $err);
}

sub claim {
  my ($key, %options) = @_;
  my $lease = $options{lease} ? ", lease => '$options{lease}'" : '';
  return $node->safe_psql('postgres',
    "SELECT claimed FROM idempotency.claim_or_lookup('w', '$key'$lease)");
}

# --- Keys that share a slot --------------------------------------------------
claim('a');
claim('b');
my $waiter_a = start_waiter('a', '60 seconds');
my $waiter_b = start_waiter('b', '60 seconds');
ok(wait_until_sleeping($waiter_a, $waiter_b), 'two waiters on two keys sleep on the one slot');
$node->safe_psql('postgres',
  q{SELECT idempotency.record_outcome('w', 'a', 'succeeded', '{"n": 1}')});
my ($answer) = answer_of($waiter_a);
is($answer, 'false/succeeded/1', 'the waiter on the recorded key replays its outcome');
# b's waiter was woken too (same slot), re-checked, and sleeps again.
ok(wait_until_sleeping($waiter_b), 'the waiter on the other key goes back to sleep');
$node->safe_psql('postgres', q{SELECT idempotency.release_guard('w', 'b')});
($answer) = answer_of($waiter_b);
is($answer, 'true/pending/-', 'and claims its key once that key is released');

# --- Many waiters on one key -------------------------------------------------
my $waiter_count = 40;
claim('many');
my @many = map { start_waiter('many', '60 seconds') } 1 .. $waiter_count;
ok(wait_until_sleeping(@many), "$waiter_count waiters sleep on one key");
$node->safe_psql('postgres',
  q{SELECT idempotency.record_outcome('w', 'many', 'succeeded', '{"n": 2}')});
my @answers = map { (answer_of($_))[0] } @many;
is(scalar(grep { $_ eq 'false/succeeded/2' } @answers), $waiter_count,
  'one commit wakes them all, and all replay the outcome');

# --- A batch of outcomes -----------------------------------------------------
claim($_) for ('batch-1', 'batch-2', 'batch-3');
my @batch_waiters = map { start_waiter($_, '60 seconds') } ('batch-1', 'batch-2');
ok(wait_until_sleeping(@batch_waiters), 'waiters on two keys of a batch sleep');
# A batch that fails on one key records nothing: no answer for them yet.
$node->psql('postgres',
  q{SELECT idempotency.record_outcomes('w', ARRAY['batch-1', 'batch-none'], 'succeeded')});
ok(wait_until_sleeping(@batch_waiters), 'a failed batch leaves them waiting');
my $batch_started = time;
$node->safe_psql('postgres', q{SELECT count(*) FROM idempotency.record_outcomes('w',
  ARRAY['batch-2', 'batch-1', 'batch-3'], 'succeeded', ARRAY['{"n": 12}', '{"n": 11}', NULL]::jsonb[])});
my @batch_answers = map { (answer_of($_))[0] } @batch_waiters;
is_deeply(\@batch_answers, ['false/succeeded/11', 'false/succeeded/12'],
  'one record_outcomes commit wakes the waiters of its keys, and they replay their outcomes');
cmp_ok(time - $batch_started, '<', 30, 'woken at the commit, not at the end of their wait');

# --- Subtransactions ---------------------------------------------------------
claim('sub');
my $waiter = start_waiter('sub', '60 seconds');
ok(wait_until_sleeping($waiter), 'a waiter sleeps');
# An outcome recorded in a subtransaction that is rolled back: the commit of
# the top transaction has nothing to wake the waiter for.
$node->safe_psql('postgres', q{BEGIN; SAVEPOINT s;
  SELECT idempotency.record_outcome('w', 'sub', 'succeeded', '{"n": 3}');
  ROLLBACK TO SAVEPOINT s; COMMIT;});
is($node->safe_psql('postgres', q{SELECT status FROM idempotency.guards WHERE key = 'sub'}),
  'pending', 'the rolled back subtransaction recorded nothing');
ok(wait_until_sleeping($waiter), 'and the waiter still sleeps');
# Recorded in a subtransaction that is released: the top commit wakes it.
$node->safe_psql('postgres', q{BEGIN; SAVEPOINT s;
  SELECT idempotency.record_outcome('w', 'sub', 'succeeded', '{"n": 4}');
  RELEASE SAVEPOINT s; COMMIT;});
($answer) = answer_of($waiter);
is($answer, 'false/succeeded/4', 'a released subtransaction\'s outcome wakes the waiter');

# --- Interrupts ------------------------------------------------------------
claim('stuck');
$waiter = start_waiter('stuck', '60 seconds');
ok(wait_until_sleeping($waiter), 'a waiter on a guard nobody answers sleeps');
$node->safe_psql('postgres', "SELECT pg_cancel_backend($waiter->{pid})");
my $error;
($answer, $error) = answer_of_keep($waiter);
like($error, qr/canceling statement due to user request/, 'pg_cancel_backend ends the wait');
is($waiter->{session}->query('SELECT 1'), '1', 'and the session carries on');
is(sleeping($waiter), '0', 'no longer sleeping');
$waiter->{session}->quit;

my $timed = $node->background_psql('postgres', on_error_stop => 0);
my (undef, $failed) = $timed->query(q{SET statement_timeout = '300ms';
  SELECT * FROM idempotency.claim_or_lookup('w', 'stuck', wait => '60 seconds')});
ok($failed, 'statement_timeout ends the wait with an error');
like($timed->{stderr}, qr/canceling statement due to statement timeout/,
  'the error is the statement timeout');
$timed->quit;

# A fast shutdown (SIGTERM to every backend) does not wait for the sleepers.
$waiter = start_waiter('stuck', '5 minutes');
ok(wait_until_sleeping($waiter), 'a waiter sleeps before the shutdown');
$node->stop('fast');
ok(1, 'a fast shutdown ends a sleeping waiter');
$waiter->{session}->{run}->kill_kill;

# --- Not preloaded on 15 and 16: no shared memory, no waiting -----------------
my $plain = PostgreSQL::Test::Cluster->new('plain');
if (("" . $plain->pg_version) =~ /^(\d+)/ && $1 >= 17) {
  done_testing();
  exit;
}
$plain->init;
$plain->start;
$plain->safe_psql('postgres', 'CREATE EXTENSION idempotency');
$plain->safe_psql('postgres', q{SELECT idempotency.claim_guard('w', 'k')});
my ($stdout, $stderr);
$plain->psql('postgres', q{SELECT * FROM idempotency.claim_or_lookup('w', 'k', wait => '1 second')},
  stdout => \$stdout, stderr => \$stderr, extra_params => ['-v', 'VERBOSITY=verbose']);
like($stderr, qr/55000: claim_or_lookup cannot wait: idempotency is not preloaded/,
  'without preloading, a wait is refused with 55000');
is($plain->safe_psql('postgres',
  q{SELECT status FROM idempotency.claim_or_lookup('w', 'k', wait => NULL)}), 'pending',
  'and a call without one works');
like($plain->safe_psql('postgres', q{SELECT string_agg(state, ',') FROM idempotency.worker_status()}),
  qr/add idempotency to shared_preload_libraries/, 'worker_status() says to preload the library');
$plain->stop;

done_testing();

# The waiter's answer and error output, keeping its session open.
sub answer_of_keep {
  my ($waiter) = @_;
  my ($out) = $waiter->{session}->query('');
  my $err = $waiter->{session}->{stderr};
  $waiter->{session}->{stderr} = '';
  chomp $out;
  return ($out, $err);
}
