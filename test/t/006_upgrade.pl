# ALTER EXTENSION idempotency UPDATE from 1.0 through 1.1 and 1.2 to 1.3, and
# from 1.0 and 1.1 straight to 1.3: guards, policies and grants are kept, the
# result is what a new installation has, and a dump of the upgraded database
# restores with its grants. The library runs each older version before it is
# updated.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'idempotency'");
$node->start;

$node->safe_psql('postgres', q{
  CREATE ROLE app LOGIN;
  CREATE ROLE reporting LOGIN;
  CREATE ROLE dba LOGIN;
  CREATE ROLE auditor LOGIN;
  CREATE DATABASE upgraded;
  CREATE DATABASE fresh;
  CREATE DATABASE from_10;
  CREATE DATABASE from_11;
});
$node->safe_psql('fresh', 'CREATE EXTENSION idempotency');
is($node->safe_psql('fresh', q{SELECT extversion FROM pg_extension WHERE extname = 'idempotency'}),
   '1.3', 'a new installation is 1.3');

$node->safe_psql('upgraded', q{
  CREATE EXTENSION idempotency VERSION '1.0';
  SELECT idempotency.grant_client('app');
  SELECT idempotency.grant_admin('dba');
  -- a DBA's own grant of one function, beside grant_client
  GRANT USAGE ON SCHEMA idempotency TO reporting;
  GRANT EXECUTE ON FUNCTION idempotency.lookup(text, text) TO reporting WITH GRANT OPTION;
  GRANT USAGE ON SCHEMA idempotency TO auditor;
  GRANT EXECUTE ON FUNCTION idempotency.claim_or_lookup(text, text, interval, text, interval)
    TO auditor WITH GRANT OPTION;
  GRANT EXECUTE ON FUNCTION idempotency.record_outcome(text, text, text, jsonb, bigint)
    TO auditor WITH GRANT OPTION;
  SELECT idempotency.claim_guard('payments', 'k-' || i) FROM generate_series(1, 20) AS i;
  SELECT idempotency.record_outcome('payments', 'k-' || i, 'succeeded', jsonb_build_object('n', i))
    FROM generate_series(1, 10) AS i;
  SELECT idempotency.set_retention('payments', '2 days');
});
my $guards_query = q{SELECT md5(string_agg(format('%s|%s|%s|%s|%s|%s', scope, key, status,
  outcome, claim_token, expires_at), ',' ORDER BY scope, key)) FROM idempotency.guards};
my $guards_before = $node->safe_psql('upgraded', $guards_query);
is($node->safe_psql('upgraded',
     q{SELECT pg_get_function_result('idempotency.lookup(text, text)'::regprocedure)}),
   'TABLE(scope text, key text, status text, fingerprint text, outcome jsonb, '
   . 'claimed_at timestamp with time zone, completed_at timestamp with time zone, '
   . 'expires_at timestamp with time zone)', '1.0 returns TABLE(...)');

$node->safe_psql('upgraded', q{ALTER EXTENSION idempotency UPDATE TO '1.1'});
is($node->safe_psql('upgraded',
     q{SELECT extversion FROM pg_extension WHERE extname = 'idempotency'}), '1.1', 'updated to 1.1');
# The 1.2 library runs a 1.1 table (no attempt_digest column yet), directly and through SQL.
is($node->safe_psql('upgraded', q{
  SELECT string_agg(claimed::text, ',') FROM (
    SELECT claimed FROM idempotency.claim_or_lookup('payments', 'k-30')
    UNION ALL SELECT claimed FROM idempotency.claim_or_lookup('payments', 'k-30')) AS c}),
   'true,false', '1.1 table: claims on the direct path');
is($node->safe_psql('upgraded', q{SET idempotency.direct_access = off;
  SELECT string_agg(claimed::text, ',') FROM (
    SELECT claimed FROM idempotency.claim_or_lookup('payments', 'k-31')
    UNION ALL SELECT claimed FROM idempotency.claim_or_lookup('payments', 'k-31')) AS c}),
   'true,false', '1.1 table: claims through SQL');
$node->safe_psql('upgraded',
  q{DELETE FROM idempotency.guards WHERE key IN ('k-30', 'k-31')});
$node->safe_psql('upgraded', q{ALTER EXTENSION idempotency UPDATE TO '1.2'});
is($node->safe_psql('upgraded',
     q{SELECT extversion FROM pg_extension WHERE extname = 'idempotency'}), '1.2', 'updated to 1.2');

# The 1.3 library runs 1.2's declarations, which name the symbols 1.0 and 1.1
# named too (told apart by their argument count: glue/schema_versions.hpp).
my $claim_symbols = q{SELECT string_agg(proname || ':' || prosrc, ',' ORDER BY proname)
  FROM pg_proc WHERE pronamespace = 'idempotency'::regnamespace
   AND proname IN ('claim_guard', 'claim_or_lookup')};
is($node->safe_psql('upgraded', $claim_symbols),
   'claim_guard:idempotency_claim_guard,claim_or_lookup:idempotency_claim_or_lookup',
   '1.2 declarations name the legacy symbols');
my $attempt_12 = q{'4c2e9f1a-attempt-at-1.2-000001'};
my $first_12 = $node->safe_psql('upgraded', qq{
  SELECT claimed::text || '/' || claim_token FROM idempotency.claim_or_lookup('payments', 'k-32',
    attempt => $attempt_12)});
like($first_12, qr{^true/\d+$}, '1.2 declaration: claim_or_lookup with an attempt claims');
is($node->safe_psql('upgraded', qq{
  SELECT claimed::text || '/' || claim_token FROM idempotency.claim_or_lookup('payments', 'k-32',
    attempt => $attempt_12)}), $first_12,
   '1.2 declaration: the attempt argument is read (the retry gets its claim back)');
is($node->safe_psql('upgraded', qq{SELECT idempotency.claim_guard('payments', 'k-32',
    attempt => $attempt_12)}), 't', '1.2 declaration: claim_guard reads its attempt too');
my ($stdout_12, $stderr_12);
$node->psql('upgraded', q{SELECT * FROM idempotency.claim_or_lookup('payments', 'k-32',
    wait => '-1 second')}, stdout => \$stdout_12, stderr => \$stderr_12);
like($stderr_12, qr/wait must not be negative/,
   '1.2 declaration: the wait argument is read');
is($node->safe_psql('upgraded', q{SELECT claimed::text || '/' || status
    FROM idempotency.claim_or_lookup('payments', 'k-32', wait => '10 ms')}), 'false/pending',
   '1.2 declaration: claim_or_lookup waits, then answers');
$node->safe_psql('upgraded', q{DELETE FROM idempotency.guards WHERE key = 'k-32'});

$node->safe_psql('upgraded', q{ALTER EXTENSION idempotency UPDATE});
is($node->safe_psql('upgraded',
     q{SELECT extversion FROM pg_extension WHERE extname = 'idempotency'}), '1.3', 'updated to 1.3');
is($node->safe_psql('upgraded', $claim_symbols),
   'claim_guard:idempotency_claim_guard_1_3,claim_or_lookup:idempotency_claim_or_lookup_1_3',
   '1.3 binds the claim functions to symbols of their own');
is($node->safe_psql('upgraded', $guards_query), $guards_before, 'guards unchanged');
is($node->safe_psql('upgraded', q{SELECT ttl FROM idempotency.retention_policies}), '2 days',
   'retention policy kept');

# The upgraded schema is the new installation's: same functions, results,
# types and extension members, same privileges recorded as the extension's.
my $members = q{SELECT string_agg(pg_describe_object(classid, objid, 0), E'\n'
  ORDER BY pg_describe_object(classid, objid, 0)) FROM pg_depend
  WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
    AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'idempotency')};
is($node->safe_psql('upgraded', $members), $node->safe_psql('fresh', $members),
   'same extension members as a new installation');
my $functions = q{SELECT string_agg(p.oid::regprocedure || ' -> ' || pg_get_function_result(p.oid),
  E'\n' ORDER BY p.oid::regprocedure::text) FROM pg_proc p
  WHERE p.pronamespace = 'idempotency'::regnamespace};
is($node->safe_psql('upgraded', $functions), $node->safe_psql('fresh', $functions),
   'same function signatures and results as a new installation');
my $init_privs = q{SELECT string_agg(p.oid::regprocedure || ' ' || i.initprivs::text, E'\n'
  ORDER BY p.oid::regprocedure::text) FROM pg_init_privs i JOIN pg_proc p ON p.oid = i.objoid
  WHERE i.classoid = 'pg_proc'::regclass AND p.pronamespace = 'idempotency'::regnamespace};
is($node->safe_psql('upgraded', $init_privs), $node->safe_psql('fresh', $init_privs),
   'the same privileges recorded as the extension\'s own (client grants are not among them)');

# Straight from 1.0 and from 1.1 to 1.3, in one ALTER EXTENSION each.
for my $from ('1.0', '1.1')
{
	my $database = 'from_' . ($from =~ s/\.//r);
	$node->safe_psql($database, qq{CREATE EXTENSION idempotency VERSION '$from';
	  SELECT idempotency.grant_client('app');
	  SELECT idempotency.claim_guard('payments', 'k-1');});
	$node->safe_psql($database, q{ALTER EXTENSION idempotency UPDATE});
	is($node->safe_psql($database,
		 q{SELECT extversion FROM pg_extension WHERE extname = 'idempotency'}), '1.3',
	   "$from updated to 1.3 in one step");
	is($node->safe_psql($database, $members), $node->safe_psql('fresh', $members),
	   "$from -> 1.3: same extension members as a new installation");
	is($node->safe_psql($database, $functions), $node->safe_psql('fresh', $functions),
	   "$from -> 1.3: same function signatures and results as a new installation");
	is($node->safe_psql($database, $claim_symbols), $node->safe_psql('fresh', $claim_symbols),
	   "$from -> 1.3: the claim functions name the 1.3 symbols");
	is($node->safe_psql($database, q{SET ROLE app;
	  SELECT claimed::text || '/' || status FROM idempotency.claim_or_lookup('payments', 'k-1')}),
	   'false/pending', "$from -> 1.3: the guard and the client grant are kept");
}

# The roles that could call the re-created functions still can.
my ($stdout, $stderr);
is($node->safe_psql('upgraded', q{SET ROLE app;
  SELECT outcome->>'n' FROM idempotency.lookup('payments', 'k-3')}), '3',
   'grant_client role: lookup works after the update');
is($node->safe_psql('upgraded', q{SET ROLE app;
  SELECT claimed::text || '/' || (outcome->>'n') FROM idempotency.claim_or_lookup('payments', 'k-4')}),
   'false/4', 'grant_client role: claim_or_lookup works after the update');
is($node->safe_psql('upgraded', q{SET ROLE reporting;
  SELECT status FROM idempotency.lookup('payments', 'k-15')}), 'pending',
   'a DBA\'s own grant of lookup is kept');
# 1.2: claim_guards() goes to whoever may call claim_or_lookup.
is($node->safe_psql('upgraded', q{SET ROLE app;
  SELECT string_agg(claimed::text || '/' || coalesce(outcome->>'n', '-'), ',' ORDER BY ord)
    FROM idempotency.claim_guards('payments', ARRAY['k-4', 'k-15', 'k-21'])}),
   'false/4,false/-,true/-', 'grant_client role: claim_guards works after the update');
$node->psql('upgraded', q{SET ROLE reporting;
  SELECT * FROM idempotency.claim_guards('payments', ARRAY['k-22'])},
  stdout => \$stdout, stderr => \$stderr);
like($stderr, qr/permission denied for function claim_guards/,
   'claim_guards is not granted to a role without claim_or_lookup');
$node->psql('upgraded', q{SET ROLE reporting;
  SELECT * FROM idempotency.claim_or_lookup('payments', 'k-5')},
  stdout => \$stdout, stderr => \$stderr);
like($stderr, qr/permission denied for function claim_or_lookup/,
   'and grants nothing it did not have');
is($node->safe_psql('upgraded', q{SELECT has_function_privilege('reporting',
     'idempotency.lookup(text, text)', 'EXECUTE WITH GRANT OPTION')}), 't',
   'the grant option is kept');

# 1.2 re-creates claim_or_lookup with `attempt` and `wait`: whoever could call it still can,
# with the same grant option, and nobody else.
is($node->safe_psql('upgraded', q{SET ROLE app;
  SELECT claimed::text || '/' || status FROM idempotency.claim_or_lookup('payments', 'k-15',
                                                                         wait => '10 ms')}),
   'false/pending', 'grant_client role: claim_or_lookup with wait works after the update');
is($node->safe_psql('upgraded', q{SELECT has_function_privilege('auditor',
     'idempotency.claim_or_lookup(text, text, interval, text, interval, text, interval)',
     'EXECUTE WITH GRANT OPTION')}), 't',
   'a DBA\'s own grant of claim_or_lookup is kept, with its grant option');
is($node->safe_psql('upgraded', q{SELECT has_function_privilege('reporting',
     'idempotency.claim_or_lookup(text, text, interval, text, interval, text, interval)', 'EXECUTE')}),
   'f', 'the new claim_or_lookup goes to nobody who could not call the old one');
# 1.2: claims take an attempt; the re-created claim functions keep their grants.
is($node->safe_psql('upgraded', q{SELECT count(*) FROM idempotency.guards
  WHERE attempt_digest IS NOT NULL}), '0', 'guards claimed before the update have no attempt');
my $attempt = q{'9a1d7c3e-upgrade-attempt-000001'};
my $first = $node->safe_psql('upgraded', qq{SET ROLE app;
  SELECT claimed::text || '/' || claim_token FROM idempotency.claim_or_lookup('payments', 'k-40',
    attempt => $attempt)});
like($first, qr{^true/\d+$}, 'grant_client role: claim_or_lookup with an attempt');
is($node->safe_psql('upgraded', qq{SET ROLE app;
  SELECT claimed::text || '/' || claim_token FROM idempotency.claim_or_lookup('payments', 'k-40',
    attempt => $attempt)}), $first, 'the retry by the same attempt gets the same claim');
is($node->safe_psql('upgraded', qq{SET ROLE app;
  SELECT idempotency.claim_guard('payments', 'k-15', attempt => $attempt)}), 'f',
   'an attempt does not get a guard claimed before the update');
$node->psql('upgraded', qq{SET ROLE reporting;
  SELECT idempotency.claim_guard('payments', 'k-41', attempt => $attempt)},
  stdout => \$stdout, stderr => \$stderr);
like($stderr, qr/permission denied for function claim_guard/,
   'claim_guard stays denied to a role that could not call it');
is($node->safe_psql('upgraded', q{SELECT string_agg(p.oid::regprocedure::text, ', '
    ORDER BY p.oid::regprocedure::text) FROM pg_proc AS p
  WHERE p.pronamespace = 'idempotency'::regnamespace
    AND p.proname IN ('claim_guard', 'claim_or_lookup', 'claim_guards')}),
   'idempotency.claim_guard(text,text,interval,text,interval,text), '
   . 'idempotency.claim_guards(text,text[],interval,text[],interval,text), '
   . 'idempotency.claim_or_lookup(text,text,interval,text,interval,text,interval)',
   'the claim functions take an attempt, and the old signatures are gone');

# 1.2's new client function goes to the roles that could claim, and only to them.
my $token = $node->safe_psql('upgraded',
  q{SELECT claim_token FROM idempotency.guards WHERE scope = 'payments' AND key = 'k-16'});
is($node->safe_psql('upgraded', qq{SET ROLE app;
  SELECT idempotency.extend_lease('payments', 'k-16', $token, '1 minute') IS NOT NULL}), 't',
   'grant_client role: extend_lease works after the update');
is($node->safe_psql('upgraded', q{SELECT has_function_privilege('reporting',
     'idempotency.extend_lease(text, text, bigint, interval)', 'EXECUTE')}), 'f',
   'a role that could only look up gets no extend_lease');

# 1.2's record_outcomes goes to whoever may call record_outcome, with its grant option.
is($node->safe_psql('upgraded', q{SET ROLE app;
  SELECT string_agg(key || '/' || recorded::text, ',' ORDER BY ord)
    FROM idempotency.record_outcomes('payments', ARRAY['k-19', 'k-18', 'k-3'], 'succeeded',
                                     ARRAY['{"n": 19}', '{"n": 18}', '{"n": 3}']::jsonb[])}),
   'k-19/true,k-18/true,k-3/false', 'grant_client role: record_outcomes works after the update');
is($node->safe_psql('upgraded', q{SELECT has_function_privilege('auditor',
     'idempotency.record_outcomes(text, text[], text, jsonb[], bigint[])',
     'EXECUTE WITH GRANT OPTION')}), 't',
   'a DBA\'s own grant of record_outcome brings record_outcomes, with its grant option');
is($node->safe_psql('upgraded', q{SELECT has_function_privilege('reporting',
     'idempotency.record_outcomes(text, text[], text, jsonb[], bigint[])', 'EXECUTE')}), 'f',
   'a role that could only look up gets no record_outcomes');

# 1.2's counters: clients read them, admins also reset them.
is($node->safe_psql('upgraded', q{SET ROLE app;
  SELECT claimed_new > 0 FROM idempotency.counters WHERE scope = 'payments'}), 't',
   'grant_client role: reads the counters after the update');
is($node->safe_psql('upgraded', q{SET ROLE dba;
  SELECT idempotency.reset_counters('payments')}), 't',
   'grant_admin role: resets the counters after the update');
is($node->safe_psql('upgraded', q{SET ROLE dba;
  SELECT 'set' FROM idempotency.set_limits('payments', max_live => 1000);
  SELECT idempotency.drop_limits('payments')}), "set\nt",
   'grant_admin role: sets and drops scope limits after the update');
is($node->safe_psql('upgraded', q{SELECT has_function_privilege('app',
     'idempotency.set_limits(text, bigint, bigint)', 'EXECUTE')}), 'f',
   'a client role gets no set_limits');
is($node->safe_psql('upgraded', q{SELECT has_function_privilege('reporting',
     'idempotency.counters_rows()', 'EXECUTE')}), 'f',
   'a role that could only look up cannot read the counters');

# A dump of the upgraded database restores with the client grants.
my $dump = $node->basedir . '/upgraded.dump';
$node->command_ok(['pg_dump', '-Fc', '-d', $node->connstr('upgraded'), '-f', $dump], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok(['pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump],
  'pg_restore');
is($node->safe_psql('restored', q{SET ROLE app;
  SELECT outcome->>'n' FROM idempotency.lookup('payments', 'k-3')}), '3',
   'restored: the grant_client role may still call lookup');
is($node->safe_psql('restored', q{SET ROLE reporting;
  SELECT status FROM idempotency.lookup('payments', 'k-15')}), 'pending',
   'restored: the DBA\'s own grant is kept');
is($node->safe_psql('restored', q{SELECT has_function_privilege('app',
     'idempotency.extend_lease(text, text, bigint, interval)', 'EXECUTE')}), 't',
   'restored: the grant of extend_lease made by the update is kept');
is($node->safe_psql('restored', q{SELECT has_function_privilege('dba',
     'idempotency.reset_counters(text)', 'EXECUTE')}), 't',
   'restored: the grant of reset_counters made by the update is kept');
is($node->safe_psql('restored', q{SELECT has_function_privilege('app',
     'idempotency.counters_rows()', 'EXECUTE')}), 't',
   'restored: the grant of counters_rows made by the update is kept');
is($node->safe_psql('restored', q{SET ROLE app;
  SELECT claimed FROM idempotency.claim_guards('payments', ARRAY['k-23'])}), 't',
   'restored: the grant_client role may still call claim_guards');
is($node->safe_psql('restored', q{SELECT has_function_privilege('app',
     'idempotency.record_outcomes(text, text[], text, jsonb[], bigint[])', 'EXECUTE')}), 't',
   'restored: the grant of record_outcomes made by the update is kept');
is($node->safe_psql('restored', qq{SET ROLE app;
  SELECT claimed::text || '/' || claim_token FROM idempotency.claim_or_lookup('payments', 'k-40',
    attempt => $attempt)}), $first, 'restored: the attempt still gets its claim back');

is($node->safe_psql('restored', q{SET ROLE auditor;
  SELECT status FROM idempotency.claim_or_lookup('payments', 'k-17', wait => '10 ms')}), 'pending',
   'restored: the DBA\'s own grant of claim_or_lookup is kept');

# regrant_execute() was the update script's own helper, and is gone.
is($node->safe_psql('upgraded',
     q{SELECT count(*) FROM pg_proc WHERE proname IN ('regrant_execute', 'execute_grantees')}),
   '0', 'the update script leaves no helpers behind');

$node->stop;
done_testing();
