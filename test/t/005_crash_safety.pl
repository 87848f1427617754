# Crash safety of claims: an immediate shutdown in the middle of a
# many-client claim load, and a failover to a synchronous standby. Every
# claim a client saw acknowledged as true is present afterwards, no key is
# granted twice, and no acknowledged outcome is lost.
use strict;
use warnings;
use IPC::Run;
use List::Util qw(shuffle);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $clients = 4;
my $keys = 3000;

# A psql script for one client: every key in its own order; each claim is
# its own transaction, and a won claim records the client's outcome in the
# next. Lines are printed only after the server acknowledged the statement.
sub client_script {
  my ($dir, $client) = @_;
  srand(1000 + $client);
  my $script = "\\set ON_ERROR_STOP 1\n";
  for my $key (shuffle(1 .. $keys)) {
    $script .= "SELECT idempotency.claim_guard('crash', 'k$key') AS claimed \\gset\n"
      . "\\echo claim k$key :claimed\n"
      . "\\if :claimed\n"
      . "SELECT idempotency.record_outcome('crash', 'k$key', 'succeeded', '{\"by\": $client}') AS recorded \\gset\n"
      . "\\echo record k$key :recorded\n"
      . "\\endif\n";
  }
  my $file = "$dir/client$client.sql";
  open(my $fh, '>', $file) or die $!;
  print $fh $script;
  close $fh;
  return $file;
}

# Starts the clients against $node; returns their handles and output refs.
sub start_load {
  my ($node) = @_;
  my @load;
  for my $client (1 .. $clients) {
    my $file = client_script($node->basedir, $client);
    my ($out, $err) = ('', '');
    my $handle = IPC::Run::start(
      [ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-f', $file ],
      '>', \$out, '2>', \$err);
    push @load, { handle => $handle, out => \$out, client => $client };
  }
  return @load;
}

# Waits for the clients (they fail once the server is gone) and collects what
# the server acknowledged: key => client for won claims, and recorded outcomes.
sub acknowledged {
  my (@load) = @_;
  my (%won, %recorded, $claims_seen);
  my $double_grants = 0;
  for my $client (@load) {
    $client->{handle}->finish;
    for my $line (split /\n/, ${ $client->{out} }) {
      if ($line =~ /^claim (k\d+) (t|f)$/) {
        $claims_seen++;
        next unless $2 eq 't';
        $double_grants++ if exists $won{$1};
        $won{$1} = $client->{client};
      }
      $recorded{$1} = $client->{client} if $line =~ /^record (k\d+) t$/;
    }
  }
  return (\%won, \%recorded, $claims_seen, $double_grants);
}

sub check_survivors {
  my ($node, $label, $won, $recorded, $claims_seen, $double_grants) = @_;
  cmp_ok($claims_seen, '>', 0, "$label: clients saw claims acknowledged");
  cmp_ok($claims_seen, '<', $clients * $keys, "$label: the load was cut off part-way");
  is($double_grants, 0, "$label: no key was granted to two clients");
  my %stored = map { split /\|/ } split /\n/, $node->safe_psql('postgres',
    q{SELECT key, coalesce(outcome->>'by', '-') FROM idempotency.guards WHERE scope = 'crash'});
  my @lost_claims = grep { !exists $stored{$_} } keys %$won;
  is(scalar(@lost_claims), 0,
    "$label: all " . scalar(keys %$won) . " acknowledged claims survived")
    or diag("lost: @lost_claims[0 .. 9]");
  my @lost_outcomes = grep { ($stored{$_} // '') ne $recorded->{$_} } keys %$recorded;
  is(scalar(@lost_outcomes), 0,
    "$label: all " . scalar(keys %$recorded) . " acknowledged outcomes survived")
    or diag("lost: @lost_outcomes[0 .. 9]");
  # Claiming every acknowledged key again grants none of them.
  my $regranted = $node->safe_psql('postgres', 'SELECT count(*) FILTER (WHERE '
      . 'idempotency.claim_guard(\'crash\', k)) FROM unnest(ARRAY['
      . join(',', map { "'$_'" } keys %$won) . ']) AS k');
  is($regranted, '0', "$label: no acknowledged key can be claimed again");
}

# 1. Immediate shutdown in the middle of the load.
my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'idempotency'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION idempotency');
my @load = start_load($node);
$node->poll_query_until('postgres',
  q{SELECT count(*) > 500 FROM idempotency.guards WHERE scope = 'crash'});
$node->stop('immediate');
my ($won, $recorded, $claims_seen, $double_grants) = acknowledged(@load);
$node->start;
check_survivors($node, 'immediate shutdown', $won, $recorded, $claims_seen, $double_grants);
$node->stop;

# 2. Failover to a synchronous standby in the middle of the load.
my $primary = PostgreSQL::Test::Cluster->new('sync_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'idempotency'");
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION idempotency');
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('sync_standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->append_conf('postgresql.conf', "primary_conninfo = '"
  . $primary->connstr . " application_name=sync_standby'");
$standby->start;
$primary->safe_psql('postgres', q{
  ALTER SYSTEM SET synchronous_standby_names = 'sync_standby';
  SELECT pg_reload_conf()});
ok($primary->poll_query_until('postgres', q{SELECT sync_state = 'sync'
  FROM pg_stat_replication WHERE application_name = 'sync_standby'}),
  'the standby is synchronous');
@load = start_load($primary);
$primary->poll_query_until('postgres',
  q{SELECT count(*) > 500 FROM idempotency.guards WHERE scope = 'crash'});
$primary->stop('immediate');
($won, $recorded, $claims_seen, $double_grants) = acknowledged(@load);
$standby->promote;
check_survivors($standby, 'failover', $won, $recorded, $claims_seen, $double_grants);
note(sprintf('figures: %d clients x %d keys per run', $clients, $keys));

$standby->stop;
done_testing();
