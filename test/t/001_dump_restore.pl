# pg_dump / pg_restore of a database keeps its guards, retention policies and
# grants, and the restored database keeps working.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump_restore');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'idempotency'");
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE source');
$node->safe_psql('source', q{
  CREATE EXTENSION idempotency;
  CREATE ROLE app LOGIN;
  SELECT idempotency.grant_client('app');
  SELECT idempotency.claim_guard('payments', 'k-' || i, fingerprint => 'fp-' || i)
    FROM generate_series(1, 50) AS i;
  SELECT idempotency.record_outcome('payments', 'k-' || i, 'succeeded',
                                    jsonb_build_object('charge', i))
    FROM generate_series(1, 25) AS i;
  SELECT idempotency.set_retention('payments', '3 days');
  SELECT idempotency.restrict_scopes('app', ARRAY['payments']);
});

my $guards_query = q{SELECT md5(string_agg(format('%s|%s|%s|%s|%s|%s|%s|%s', scope, key, status,
  fingerprint, outcome, claim_token, claimed_at, expires_at), ',' ORDER BY scope, key))
  FROM idempotency.guards};
my $policies_query = q{SELECT string_agg(scope || '=' || ttl, ',' ORDER BY scope)
  FROM idempotency.retention_policies};
my $guards_before = $node->safe_psql('source', $guards_query);
my $policies_before = $node->safe_psql('source', $policies_query);

my $dump = $node->basedir . '/source.dump';
$node->command_ok(['pg_dump', '-Fc', '-d', $node->connstr('source'), '-f', $dump], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE target');
$node->command_ok(['pg_restore', '--exit-on-error', '-d', $node->connstr('target'), $dump],
                  'pg_restore');

is($node->safe_psql('target', 'SELECT count(*) FROM idempotency.guards'), '50',
   'every guard restored');
is($node->safe_psql('target', $guards_query), $guards_before,
   'guards restored identically (status, outcome, token, times)');
is($node->safe_psql('target', $policies_query), $policies_before, 'retention policies restored');

# The restored database works: old claims still block, outcomes replay, new claims work.
is($node->safe_psql('target', q{SELECT idempotency.claim_guard('payments', 'k-1')}), 'f',
   'a restored guard still blocks its key');
is($node->safe_psql('target',
     q{SELECT outcome->>'charge' FROM idempotency.claim_or_lookup('payments', 'k-7')}), '7',
   'a restored outcome replays');
is($node->safe_psql('target',
     q{SELECT idempotency.record_outcome('payments', 'k-40', 'failed')}), 't',
   'a restored pending guard takes its outcome');
is($node->safe_psql('target', q{SELECT idempotency.claim_guard('payments', 'new')}), 't',
   'new claims work after restore');
# The grant to the client role survived (it is an extension ACL change).
is($node->safe_psql('target',
     q{SET ROLE app; SELECT idempotency.claim_guard('payments', 'as-app')}), 't',
   'the client role keeps its grant');

# ...and so did its scope restriction, which is still enforced.
is($node->safe_psql('target', q{SELECT string_agg(role || ':' || pattern, ',')
  FROM idempotency.scope_access}), 'app:payments', 'scope restrictions restored');
my ($result, $stdout, $stderr) = $node->psql('target',
  q{SET ROLE app; SELECT idempotency.claim_guard('other', 'x')});
like($stderr, qr/role "app" may not use scope "other"/, 'and enforced after restore');

$node->stop;
done_testing();
