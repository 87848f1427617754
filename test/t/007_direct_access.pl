# idempotency.direct_access = off: every claim, read and purge runs an SQL
# statement, which executor hooks see (pgaudit, auto_explain,
# pg_stat_statements with track = all). With auto_explain logging nested
# statements, the extension's statements reach the log only when it is off;
# the answers are the same either way. Clients cannot turn it back on.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('direct_access');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'idempotency, auto_explain'
auto_explain.log_min_duration = 0
auto_explain.log_nested_statements = on
});
$node->start;
$node->safe_psql('postgres', q{
  CREATE EXTENSION idempotency;
  CREATE ROLE app LOGIN;
  SELECT idempotency.grant_client('app');
});

# Runs $sql, returns its output and the extension's statements (by their
# first words) that auto_explain logged for that session (by its PID: the
# purge worker's own statements are not this test's).
sub run_and_audit
{
	my ($sql) = @_;
	my $offset = -s $node->logfile;
	my ($pid, @output) = split /\n/, $node->safe_psql('postgres', "SELECT pg_backend_pid();$sql");
	my $log = slurp_file($node->logfile, $offset);
	my @statements;
	# A log entry starts with the timestamp and [pid] (from PostgreSQL 19 on,
	# PostgreSQL::Test::Cluster's log_line_prefix puts the backend type
	# before it: "client backend[pid]"); auto_explain's plan continues on the
	# lines after it.
	for my $entry (split /\n(?=\d{4}-\d\d-\d\d )/, $log)
	{
		next unless $entry =~ /^\S+ \S+ \S+ (?:[a-z ]*)\[$pid\]/;
		push @statements, $entry =~
		  /Query Text: (?:WITH deleted AS \(\s*)?((?:INSERT INTO|UPDATE|DELETE FROM) idempotency\.guards|SELECT g\.scope, g\.key)/g;
	}
	return (join("\n", @output), \@statements);
}

my $claims = q{
  SELECT idempotency.claim_guard('audit', '%1$s', ttl => '%2$s');
  SELECT idempotency.claim_guard('audit', '%1$s');
  SELECT status FROM idempotency.lookup('audit', '%1$s');
};

my ($direct, $direct_logged) = run_and_audit(sprintf($claims, 'k-direct', '1 hour'));
is($direct, "t\nf\npending", 'direct paths: claim, retry and lookup answer');
is(scalar @$direct_logged, 0, 'direct paths: no statement of the extension reaches executor hooks')
  or diag(join("\n", @$direct_logged));

my ($audited, $audited_logged) = run_and_audit(
	"SET idempotency.direct_access = off;" . sprintf($claims, 'k-audited', '1 hour'));
is($audited, "t\nf\npending", 'direct_access = off: the same answers');
ok((grep { $_ eq 'INSERT INTO idempotency.guards' } @$audited_logged) >= 2,
	'direct_access = off: every claim runs the INSERT, seen by auto_explain');
ok((grep { $_ eq 'SELECT g.scope, g.key' } @$audited_logged) >= 1,
	'direct_access = off: reads run the SELECT, seen by auto_explain');

# The purge, by hand, of an expired guard.
$node->safe_psql('postgres',
	q{SELECT idempotency.claim_guard('audit', 'k-expiring', ttl => '1 millisecond'); SELECT pg_sleep(0.01)});
my ($purged, $purge_logged) = run_and_audit(
	q{SET idempotency.direct_access = off; SELECT idempotency.purge_expired()});
is($purged, '1', 'direct_access = off: purge_expired deletes the expired guard');
ok((grep { $_ eq 'DELETE FROM idempotency.guards' } @$purge_logged) >= 1,
	'direct_access = off: the purge runs the DELETE, seen by auto_explain');

# A client cannot set it: an audited role could otherwise hide its claims.
my ($stdout, $stderr);
$node->psql('postgres', q{SET idempotency.direct_access = on},
	stdout => \$stdout, stderr => \$stderr, extra_params => [ '-U', 'app' ]);
like($stderr, qr/permission denied to set parameter "idempotency.direct_access"/,
	'clients cannot change idempotency.direct_access');

$node->stop;
done_testing();
