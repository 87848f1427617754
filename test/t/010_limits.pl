# Scope limits under load: a client flooding a limited scope with distinct
# keys is held at the limit (IK005) while another scope's claims all
# succeed; and concurrent claimers in one limited scope exceed its limit by
# at most the number of claims in flight (README, "Limits").
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('limits');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'idempotency'
max_connections = 40
});
$node->start;
$node->safe_psql('postgres', q{
  CREATE EXTENSION idempotency;
  SELECT idempotency.set_limits('flood', max_live => 500);
  SELECT idempotency.set_limits('race', max_live => 300);
});

# Starts psql on a script of one claim per line, each its own transaction;
# errors do not stop it. Output goes to files: a pipe nobody reads would
# stall the client.
sub start_claims
{
	my ($name, $scope, @keys) = @_;
	my $base = $node->basedir . "/$name";
	open(my $script, '>', "$base.sql") or die $!;
	print $script "SELECT idempotency.claim_guard('$scope', '$_');\n" for @keys;
	close $script;
	return IPC::Run::start(
		[ 'psql', '-X', '-At', '-d', $node->connstr('postgres'), '-f', "$base.sql" ],
		'>', "$base.out", '2>', "$base.err");
}

sub count_lines
{
	my ($file, $pattern) = @_;
	return scalar grep { /$pattern/ } split /\n/, slurp_file($file);
}

# The flood: 3000 distinct keys as fast as one client can; beside it, 400
# claims in another scope.
my $flood = start_claims('flood', 'flood', map { "k$_" } 1 .. 3000);
my $neighbour = start_claims('neighbour', 'neighbour', map { "k$_" } 1 .. 400);
$_->finish for $flood, $neighbour;
my $base = $node->basedir;
is(count_lines("$base/flood.out", '^t$'), 500, 'the flood won exactly its 500 guards');
is(count_lines("$base/flood.err", 'has reached its limit of guards'), 2500,
	'and was refused the other 2500 with IK005');
is($node->safe_psql('postgres', q{SELECT count(*) FROM idempotency.guards WHERE scope = 'flood'}),
	500, 'the refused claims wrote nothing');
is(count_lines("$base/neighbour.out", '^t$'), 400, 'another scope\'s claims all succeeded meanwhile');

# The race: six clients, 200 distinct keys each, in one scope limited to 300.
my $clients = 6;
my @race = map {
	my $client = $_;
	start_claims("race$client", 'race', map { "c$client-$_" } 1 .. 200)
} 1 .. $clients;
$_->finish for @race;
my $won = 0;
$won += count_lines("$base/race$_.out", '^t$') for 1 .. $clients;
my $stored = $node->safe_psql('postgres',
	q{SELECT count(*) FROM idempotency.guards WHERE scope = 'race'});
is($stored, $won, 'every won claim is stored');
cmp_ok($stored, '>=', 300, 'the claimers filled the limit');
cmp_ok($stored, '<=', 300 + $clients - 1,
	'and exceeded it by at most the other claimers in flight');
note("race: $stored guards stored for a limit of 300");

$node->stop;
done_testing();
