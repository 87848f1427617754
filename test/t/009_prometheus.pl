# The real prometheus-postgres-exporter with monitoring/postgres_exporter_queries.yaml
# against a throwaway cluster: after known traffic, /metrics (fetched over
# loopback) shows each counter, the gauges from idempotency.stats and the
# purge worker's state with the values the traffic must give, and the
# exporter reports no query error.
use strict;
use warnings;
use File::Basename qw(dirname);
use HTTP::Tiny;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $exporter = '/usr/bin/prometheus-postgres-exporter';
# Without the exporter this test is skipped, saying why; `make test` installs
# it (scripts/install-deps.sh, the chroots' packages) and sets
# IDEMPOTENCY_REQUIRE_EXPORTER=1, so there its absence is a failure.
if (!-x $exporter)
{
	my $missing = "$exporter is missing (Debian package prometheus-postgres-exporter)";
	die $missing if $ENV{IDEMPOTENCY_REQUIRE_EXPORTER};
	plan skip_all => $missing;
}
my $queries = dirname(__FILE__) . '/../../monitoring/postgres_exporter_queries.yaml';

my $node = PostgreSQL::Test::Cluster->new('prometheus');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'idempotency'
idempotency.databases = 'postgres'
idempotency.purge_interval = '1h'
});
$node->start;
# The exporter's role reads the counters, stats and worker_status(), nothing more.
$node->safe_psql('postgres', q{
  CREATE EXTENSION idempotency;
  CREATE ROLE exporter LOGIN;
  GRANT pg_monitor TO exporter;
  GRANT USAGE ON SCHEMA idempotency TO exporter;
  GRANT EXECUTE ON FUNCTION idempotency.counters_rows(), idempotency.worker_status() TO exporter;
  GRANT SELECT ON idempotency.stats TO exporter;
});

# Traffic with known counts in scope 'shop'.
$node->safe_psql('postgres', q{
  SELECT idempotency.claim_guard('shop', k::text) FROM generate_series(1, 5) AS k;  -- 5 won
  SELECT idempotency.claim_guard('shop', '1');                                 -- refused, pending
  SELECT idempotency.record_outcome('shop', '2', 'succeeded', '{"id": 2}');
  SELECT idempotency.record_outcome('shop', '3', 'failed');
  SELECT claimed FROM idempotency.claim_or_lookup('shop', '2');              -- replayed
  SELECT idempotency.claim_guard('shop', '2');                               -- refused, completed
  SELECT idempotency.release_guard('shop', '4');
  SELECT idempotency.claim_guard('shop', 'old', ttl => '1 millisecond');     -- 6th won, expires
  SELECT idempotency.claim_guard('shop', 'fp', fingerprint => 'a');          -- 7th won
});
$node->psql('postgres', q{SELECT idempotency.claim_guard('shop', 'fp', fingerprint => 'b')});  # IK001
$node->psql('postgres', q{SELECT idempotency.record_outcome('shop', 'none', 'succeeded')});  # IK002
$node->safe_psql('postgres', q{SELECT pg_sleep(0.01)});

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $dsn = sprintf('host=%s port=%d user=exporter dbname=postgres sslmode=disable',
	$node->host, $node->port);
# Its log goes to a file: a pipe nobody reads would fill and stall it.
my $exporter_log = "${PostgreSQL::Test::Utils::tmp_check}/exporter.log";
my $handle = IPC::Run::start(
	[ $exporter, "--web.listen-address=127.0.0.1:$port", "--extend.query-path=$queries",
	  '--disable-default-metrics', '--disable-settings-metrics' ],
	'>', $exporter_log, '2>&1',
	init => sub { $ENV{DATA_SOURCE_NAME} = $dsn });

# The text format as { 'name{labels}' => value }, labels sorted, without
# the exporter's own server="..." label.
sub parse_metrics
{
	my ($content) = @_;
	my %metrics;
	for my $line (split /\n/, $content)
	{
		next unless $line =~ /^(\w+)(?:\{(.*)\})? (\S+)$/;
		my ($name, $labels, $value) = ($1, $2 // '', $3);
		my @labels = sort grep { !/^server=/ } $labels =~ /(\w+="[^"]*")/g;
		$metrics{ @labels ? "$name\{" . join(',', @labels) . '}' : $name } = $value;
	}
	return \%metrics;
}

# /metrics, once the exporter answers with idempotency's metrics.
my $metrics;
my $http = HTTP::Tiny->new(timeout => 5);
for (1 .. 100)
{
	my $response = $http->get("http://127.0.0.1:$port/metrics");
	if ($response->{success} && $response->{content} =~ /^idempotency_claims_total/m)
	{
		$metrics = parse_metrics($response->{content});
		last;
	}
	select(undef, undef, undef, 0.2);
}
ok($metrics, 'the exporter serves idempotency metrics') or diag(slurp_file($exporter_log));

sub metric
{
	my ($name, %labels) = @_;
	my $key = $name;
	$key .= '{' . join(',', map { qq{$_="$labels{$_}"} } sort keys %labels) . '}' if %labels;
	return $metrics->{$key};
}

my %shop = (kind => 'scope', scope => 'shop');
is(metric('idempotency_claims_total', %shop, result => 'won_new'), 7, 'claims won');
is(metric('idempotency_claims_total', %shop, result => 'refused_pending'), 1, 'claims refused as in progress');
is(metric('idempotency_claims_total', %shop, result => 'refused_completed'), 2, 'retries absorbed');
is(metric('idempotency_replays_total', %shop), 1, 'replays');
is(metric('idempotency_errors_total', %shop, sqlstate => 'IK001'), 1, 'IK001 key reuse');
is(metric('idempotency_errors_total', %shop, sqlstate => 'IK002'), 1, 'IK002');
is(metric('idempotency_outcomes_total', %shop, status => 'succeeded'), 1, 'outcomes succeeded');
is(metric('idempotency_outcomes_total', %shop, status => 'failed'), 1, 'outcomes failed');
is(metric('idempotency_releases_total', %shop), 1, 'releases');
is(metric('idempotency_guards_live', scope => 'shop', status => 'pending'), 3, 'pending guards (gauge)');
is(metric('idempotency_guards_live', scope => 'shop', status => 'succeeded'), 1, 'succeeded guards (gauge)');
ok(metric('idempotency_pending_oldest_age_seconds', scope => 'shop') > 0, 'oldest pending age');
is(metric('idempotency_purge_backlog'), 1, 'the purge backlog: the expired guard');
is(metric('idempotency_worker_running', database => 'postgres'), 1, 'the purge worker runs');
is(metric('idempotency_purged_total', by => 'hand'), 0, 'nothing purged by hand yet');
is(metric('pg_exporter_last_scrape_error'), 0, 'no scrape error');
ok(!grep({ /^pg_exporter_user_queries_load_error\{/ && $metrics->{$_} != 0 } keys %$metrics),
	'the queries file loads');

# After a purge by hand, the next scrape shows it (counters are not cached).
$node->safe_psql('postgres', 'SELECT idempotency.purge_expired()');
$metrics = parse_metrics($http->get("http://127.0.0.1:$port/metrics")->{content});
is(metric('idempotency_purged_total', by => 'hand'), 1, 'purged by hand, scraped again');

$handle->kill_kill;
$node->stop;
done_testing();
