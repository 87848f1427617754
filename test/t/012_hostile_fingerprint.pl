# fingerprint() (open to PUBLIC) against a hostile client (issue 21, item 1):
# (a) a payload of huge numbers no longer expands them: the backend's peak
# memory grows by a bounded multiple of the argument; (b) a call that walks
# tens of megabytes of canonical text is stopped within about a second by
# statement_timeout (57014) and by pg_cancel_backend; (c) a payload whose
# canonical text would pass 64 MiB gets 54000, one just under it a digest;
# (d) a database not in UTF-8 digests the same text.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('hostile_fingerprint');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION idempotency');

# The backend's peak resident memory (VmHWM), in bytes.
sub peak_bytes {
  my ($pid) = @_;
  open my $status, '<', "/proc/$pid/status" or die "cannot read /proc/$pid/status: $!";
  while (<$status>) { return $1 * 1024 if /^VmHWM:\s+(\d+) kB/ }
  die "no VmHWM in /proc/$pid/status";
}

# --- (a) Memory: the issue's 5,000 copies of 1e131071 -------------------------
# Before, each was expanded to its 131,072 digits and kept for the whole call
# (530 MB resident for 1,000 of them; out of memory at 3 GB for 5,000). Now
# the statement's peak, building the argument included, stays within 64 times
# the argument's size (80 KB, so 5 MB).
my $session = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $session->query_safe('SELECT pg_backend_pid()');
# The library, the catalogs and the aggregate's code paths loaded first.
$session->query_safe(q{SELECT idempotency.fingerprint(jsonb_agg('1e131071'::numeric))
  FROM generate_series(1, 10)});
my $before = peak_bytes($pid);
my $answer = $session->query_safe(q{SELECT pg_column_size(j) || ' ' || idempotency.fingerprint(j)
  FROM (SELECT jsonb_agg('1e131071'::numeric) AS j FROM generate_series(1, 5000)) d});
my $growth = peak_bytes($pid) - $before;
my ($argument_size, $digest) = split / /, $answer;
like($digest, qr/^[0-9a-f]{64}$/, '5,000 copies of 1e131071 get a digest');
is($digest, $node->safe_psql('postgres',
  q{SELECT encode(sha256(convert_to('[' || repeat('1e131071,', 4999) || '1e131071]', 'UTF8')), 'hex')}),
  'the digest of their canonical text, each number 8 characters');
cmp_ok($growth, '<=', 64 * $argument_size,
  "peak memory grew by $growth bytes, within 64 times the $argument_size-byte argument");
$session->quit;

# --- (b) Time: statement_timeout and pg_cancel_backend --------------------------
# 1,000 pointers ("", "/0", "/0/0", ...) into 1,000 nested arrays, each
# selecting the innermost 19,000 empty arrays again: 19 million containers,
# 59 MB of canonical text (under the 64 MiB cap). Without interrupt checks it
# ran to its end whatever the timeout.
my $slow_call = q{SELECT length(idempotency.fingerprint(
    (repeat('[', 1000) || repeat('[],', 18999) || '[]' || repeat(']', 1000))::jsonb,
    (SELECT array_agg(repeat('/0', i)) FROM generate_series(0, 999) i)))};
my $started = time;
is($node->safe_psql('postgres', $slow_call), '64', 'the slow call ends with a digest when let run');
my $full = time - $started;
note sprintf('the slow call takes %.1f s uninterrupted', $full);

my ($stderr, $elapsed);
$started = time;
$node->psql('postgres', "SET statement_timeout = '1s'; $slow_call",
  stderr => \$stderr, extra_params => ['-v', 'VERBOSITY=verbose']);
$elapsed = time - $started;
like($stderr, qr/57014: canceling statement due to statement timeout/,
  'statement_timeout cancels it with 57014');
cmp_ok($elapsed, '<', 3, sprintf('within 3 s of its start (%.1f s; 1 s timeout)', $elapsed));
cmp_ok($elapsed, '<', $full / 2 + 1, 'well before it would have ended');

$session = $node->background_psql('postgres', on_error_stop => 0);
$pid = $session->query_safe('SELECT pg_backend_pid()');
$session->query_safe('\set VERBOSITY verbose');
$session->query_until(qr/sent/, "\\echo sent\n$slow_call;\n");
# Wait (up to 10 s, generous under load) until the call is running.
my $running = 0;
for (1 .. 100) {
  $running = $node->safe_psql('postgres',
    "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid AND state = 'active'
        AND query LIKE '%idempotency.fingerprint%'");
  last if $running;
  Time::HiRes::sleep(0.1);
}
is($running, '1', 'the call is running in another session');
Time::HiRes::sleep(0.3);
$started = time;
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$session->query('');
$elapsed = time - $started;
like($session->{stderr}, qr/57014: canceling statement due to user request/,
  'pg_cancel_backend cancels it with 57014');
cmp_ok($elapsed, '<', 2, sprintf('within 2 s of the cancel (%.1f s)', $elapsed));
$session->{stderr} = '';
is($session->query('SELECT 1'), '1', 'and the session carries on');
$session->quit;

# --- (c) The 64 MiB cap on the canonical text ----------------------------------
# A control character is one byte of payload and six of canonical text
# (\u0001): 11,184,811 of them in an array need 67,108,870 bytes.
$node->psql('postgres',
  q{SELECT idempotency.fingerprint(jsonb_build_array(repeat(chr(1), 11184811)))},
  stderr => \$stderr, extra_params => ['-v', 'VERBOSITY=verbose']);
like($stderr, qr/54000: the canonical text to fingerprint is larger than 67108864 bytes/,
  'a canonical text past 64 MiB is refused with 54000');
is($node->safe_psql('postgres',
  q{SELECT idempotency.fingerprint(jsonb_build_array(repeat(chr(1), 11184810)))}),
  $node->safe_psql('postgres',
  q{SELECT encode(sha256(convert_to('["' || repeat('\u0001', 11184810) || '"]', 'UTF8')), 'hex')}),
  'one of 67,108,864 bytes exactly gets its digest');

# --- (d) A database not in UTF-8 ------------------------------------------------
# Keys and strings are digested in UTF-8 and keys sorted by their UTF-8 bytes,
# whatever the database encoding: in WIN1252 "€" (0x80) sorts before "é"
# (0xE9), in UTF-8 after it (E2 82 AC, C3 A9).
$node->safe_psql('postgres',
  q{CREATE DATABASE win ENCODING 'WIN1252' LOCALE 'C' TEMPLATE template0});
$node->safe_psql('win', 'CREATE EXTENSION idempotency');
my $payload = q{'{"€": 1, "é": "ü€\u0001", "a": {"€x": [1.50, 1e131071]}}'};
my $paths = q{'{/€,/é,/a/€x,/é,/missing}'};
my $expected = $node->safe_psql('postgres', q{SELECT encode(sha256(convert_to(
  '{"a":{"€x":[1.5,1e131071]},"é":"ü€\u0001","€":1}', 'UTF8')), 'hex')});
my $expected_parts = $node->safe_psql('postgres', q{SELECT encode(sha256(convert_to(
  '{"/a/€x":[1.5,1e131071],"/é":"ü€\u0001","/€":1}', 'UTF8')), 'hex')});
is($node->safe_psql('win', "SET client_encoding = 'UTF8';
  SELECT idempotency.fingerprint($payload)"), $expected,
  'a WIN1252 database digests the UTF-8 text, keys in UTF-8 order');
is($node->safe_psql('win', "SET client_encoding = 'UTF8';
  SELECT idempotency.fingerprint($payload, $paths)"), $expected_parts,
  'and its paths, sorted in UTF-8 order, a duplicate once');
is($node->safe_psql('postgres', "SELECT idempotency.fingerprint($payload)"), $expected,
  'the same digest as a UTF-8 database');

$node->stop;
done_testing();
