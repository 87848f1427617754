# The error boundary's two guarantees at the edges of the extension's C++:
# - an error thrown from C++ reports where it was thrown (LOCATION: under
#   VERBOSITY verbose), not the boundary that raised it (error_boundary.cpp);
# - a setting changed while the extension runs as the owner of
#   idempotency.guards (here by a trigger the owner's INSERT fires) does not
#   outlive the call (open_guard_store/close_guard_store, as amcheck does).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('boundary');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'idempotency'");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION idempotency');

# The verbose report of one failing statement.
sub verbose_error
{
	my ($sql) = @_;
	my ($out, $err);
	$node->psql('postgres', "\\set VERBOSITY verbose\n$sql", stdout => \$out, stderr => \$err);
	return $err;
}

# Thrown in the pure core (core/claim_wait.cpp, require_wait).
my $core = verbose_error(q{SELECT * FROM idempotency.claim_or_lookup('loc', 'k', wait => '-1 second')});
like($core, qr/ERROR:  22023: wait must not be negative/, 'the core error is raised');
like($core, qr/LOCATION:  require_wait, claim_wait\.cpp:\d+/,
	'its LOCATION is the core function and file that threw it');
unlike($core, qr/error_boundary\.cpp/, 'not the error boundary');

# Thrown in the glue (sql_functions/claim.cpp, wait_argument).
my $glue = verbose_error(q{BEGIN ISOLATION LEVEL REPEATABLE READ;
  SELECT * FROM idempotency.claim_or_lookup('loc', 'k', wait => '1 second');});
like($glue, qr/ERROR:  55000: claim_or_lookup cannot wait under REPEATABLE READ/,
	'the glue error is raised');
like($glue, qr/LOCATION:  wait_argument, claim\.cpp:\d+/,
	'its LOCATION is the glue function and file that threw it');

# A trigger on the guards table runs as its owner inside the claim's INSERT
# (a trigger sends claims through SQL). What it SETs for the session is
# undone when the claim switches back: the caller's work_mem is unchanged.
$node->safe_psql('postgres', q{
  CREATE FUNCTION public.set_work_mem() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_catalog.set_config('work_mem', '1234kB', false);
    RETURN NEW;
  END $$;
  CREATE TRIGGER set_work_mem BEFORE INSERT ON idempotency.guards
    FOR EACH ROW EXECUTE FUNCTION public.set_work_mem();
});
is($node->safe_psql('postgres', q{SET work_mem = '2MB';
  SELECT idempotency.claim_guard('owner-guc', 'k1')::text || ' ' || current_setting('work_mem')}),
   'true 2MB', 'a setting changed by the owner\'s trigger does not outlive the claim');
is($node->safe_psql('postgres', q{SELECT count(*) FROM idempotency.guards WHERE scope = 'owner-guc'}),
   '1', 'the trigger ran and the claim was stored');
# The trigger does run as the owner and does set work_mem: visible inside it.
$node->safe_psql('postgres', q{
  CREATE TABLE public.seen (work_mem text);
  CREATE OR REPLACE FUNCTION public.set_work_mem() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_catalog.set_config('work_mem', '1234kB', false);
    INSERT INTO public.seen VALUES (pg_catalog.current_setting('work_mem'));
    RETURN NEW;
  END $$;
});
is($node->safe_psql('postgres', q{SET work_mem = '2MB';
  SELECT idempotency.claim_guard('owner-guc', 'k2')::text || ' ' || current_setting('work_mem')}),
   'true 2MB', 'after the claim the caller\'s setting holds');
is($node->safe_psql('postgres', q{SELECT string_agg(work_mem, ',') FROM public.seen}), '1234kB',
   'inside the trigger, as the owner, the setting was changed');

# A PostgreSQL error passing through C++ (call_pg, then re-thrown) keeps
# PostgreSQL's own location: here PL/pgSQL's RAISE in the owner's trigger.
$node->safe_psql('postgres', q{
  CREATE OR REPLACE FUNCTION public.set_work_mem() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    RAISE EXCEPTION 'trigger refuses' USING ERRCODE = 'P0001';
  END $$;
});
my $passed = verbose_error(q{SELECT idempotency.claim_guard('owner-guc', 'k3')});
like($passed, qr/ERROR:  P0001: trigger refuses/, 'the trigger\'s error reaches the caller');
like($passed, qr/LOCATION:  exec_stmt_raise, pl_exec\.c:\d+/,
	'with the location PL/pgSQL raised it at');

$node->stop;
done_testing();
