# Hostile input the extension withstands, kept that way (issue 21, "the
# cases that already hold"): SQL injection through every text argument and
# through role names; 300 MB arguments; 1M-element arrays; deeply nested
# JSON; NULL in every argument position of every function (the calls are
# generated from pg_proc, so a new function or argument without an
# expectation fails the test); cancel and statement_timeout during
# claim_or_lookup(..., wait). Every answer must be a documented SQLSTATE or a
# documented value, and the server must never restart. Bounded: about 40 s on
# a loaded 2-core machine, one backend peaking near 1.3 GB (asserted under 2 GB).
use strict;
use warnings;
use Encode qw(encode);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('hostile');
# UTF-8 whatever the environment's locale: the hostile strings include
# combining marks, an emoji and U+2028.
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
# Small shared tables, as a hostile client would meet them on a small server.
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'idempotency'
idempotency.max_tracked_scopes = 50
idempotency.max_limits = 8
idempotency.wait_slots = 64
max_connections = 20
});
$node->start;
my $started_at = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
my $postmaster_pid = (split /\n/, slurp_file($node->data_dir . '/postmaster.pid'))[0];

# outcome_of(call, keep): runs `call` in a subtransaction and answers its
# SQLSTATE ('00000' on success), its first column as text, the size of its
# error message and how long it took. Unless `keep`, the call's writes are
# rolled back, so every call of a series meets the same state. Errors are
# caught in the server: a 300 MB argument never travels back to this script.
$node->safe_psql('postgres', q{
CREATE EXTENSION idempotency;
CREATE ROLE client LOGIN;
SELECT idempotency.grant_client('client');
CREATE ROLE dba LOGIN;
SELECT idempotency.grant_admin('dba');
CREATE ROLE boxed LOGIN;
SELECT idempotency.grant_client('boxed');
CREATE TABLE public.hostile (id int PRIMARY KEY, s text NOT NULL);
GRANT SELECT ON public.hostile TO PUBLIC;
CREATE FUNCTION public.outcome_of(call text, keep boolean DEFAULT false,
    OUT state text, OUT result text, OUT message_bytes int, OUT ms int)
LANGUAGE plpgsql AS $body$
DECLARE
  started timestamptz := clock_timestamp();
BEGIN
  BEGIN
    EXECUTE call INTO result;
    state := '00000';
    IF NOT keep THEN
      RAISE SQLSTATE 'HH000';
    END IF;
  EXCEPTION
    WHEN SQLSTATE 'HH000' THEN NULL;
    WHEN OTHERS THEN
      state := SQLSTATE;
      message_bytes := octet_length(SQLERRM);
  END;
  ms := round(extract(epoch FROM clock_timestamp() - started) * 1000);
END
$body$;
-- huge(mb): a text of mb MiB, built with 1 MiB copies (repeat('x', n) copies
-- byte by byte: seconds for 300 MB).
CREATE FUNCTION public.huge(mb int) RETURNS text LANGUAGE sql
  AS $$ SELECT pg_catalog.repeat(pg_catalog.repeat('x', 1048576), mb) $$;
});

sub sql
{
	my ($sql, $role) = @_;
	$sql = "SET ROLE $role;\n$sql" if $role;
	return $node->safe_psql('postgres', $sql);
}

# The SQLSTATE of one call (rolled back unless $keep), as $role.
sub state_of
{
	my ($call, $role, $keep) = @_;
	my $quoted = $call =~ s/'/''/gr;
	return sql("SELECT state FROM public.outcome_of('$quoted', "
		  . ($keep ? 'true' : 'false') . ')', $role);
}

# ---------------------------------------------------------------------------
# 1. SQL injection: every text argument, and role names, are data.
# ---------------------------------------------------------------------------
my @hostile = (
	q{x'); DROP TABLE idempotency.guards; --},
	q{'; DELETE FROM idempotency.guards; SELECT '},
	q{$$; DROP TABLE idempotency.guards; $$},
	q{$q$;TRUNCATE idempotency.scope_access;$q$},
	q{\'; DROP TABLE idempotency.guards; --},
	q{\\\\'\\},
	q{" OR "1"="1"; --},
	q{%s %I %L %1$s %%},
	q{a_b%c},
	q{*/ /* -- },
	"ctl\x01\x02\x1b[31m\x7f",
	"caf\x{e9} cafe\x{301} \x{1F600} \x{2028}",
	q{~0~1/x},
	q{);SELECT pg_sleep(30);--},);
my $count = scalar @hostile;
# Inserted as hex, so that this script's own quoting cannot be what holds.
sql('INSERT INTO public.hostile VALUES '
	  . join(', ',
		map { "($_, convert_from(decode('" . unpack('H*', encode('UTF-8', $hostile[$_])) . "', 'hex'), 'UTF8'))" }
		  0 .. $#hostile));
is(sql(q{SELECT count(DISTINCT s) FROM public.hostile}), $count, "$count hostile strings stored");
my $objects_before = sql(q{SELECT count(*) FROM pg_class
  WHERE relnamespace IN ('idempotency'::regnamespace, 'public'::regnamespace)});

# Scope and key, through claim_guard and lookup.
my $claim_each = q{SELECT count(*) FILTER (WHERE idempotency.claim_guard(s, s, attempt => rpad(s, 16, '.')))
  FROM public.hostile};
is(sql($claim_each, 'client'), $count, 'each string claims as scope, key and attempt');
is(sql($claim_each, 'client'), $count, 'and the same attempt gets each claim back');
is(sql(q{SELECT count(*) FROM public.hostile AS h, idempotency.lookup(h.s, h.s) AS g
  WHERE g.scope = h.s AND g.key = h.s AND g.status = 'pending'}, 'client'),
	$count, 'and lookup finds each guard under exactly that scope and key');
is(sql(q{SELECT count(*) FROM idempotency.guards AS g JOIN public.hostile AS h ON g.scope = h.s}),
	$count, 'one stored guard per hostile scope, nothing else');

# Fingerprint and attempt, through claim_or_lookup.
my $claim_all = q{SELECT count(*) FROM public.hostile AS h,
  idempotency.claim_or_lookup('inj', h.s, fingerprint => h.s, attempt => rpad(h.s, 16, '.')) AS c
  WHERE };
is(sql($claim_all . q{c.claimed AND c.status = 'pending'}, 'client'),
	$count, 'claim_or_lookup claims with hostile fingerprints and attempts');
is(sql($claim_all . q{c.claimed}, 'client'),
	$count, 'and the same attempt gets each claim back (attempt compared as data)');
is(sql(q{SELECT count(*) FROM public.hostile AS h,
  idempotency.claim_or_lookup('inj', h.s, fingerprint => h.s, attempt => rpad(h.s, 17, '.')) AS c
  WHERE NOT c.claimed AND c.status = 'pending'}, 'client'),
	$count, 'another attempt finds each guard taken');
is(sql(q{SELECT string_agg(DISTINCT o.state, ',') FROM public.hostile AS h,
  public.outcome_of(format('SELECT idempotency.claim_guard(''inj'', s, fingerprint => s || ''!'')
    FROM public.hostile WHERE id = %s', h.id)) AS o}, 'client'),
	'IK001', 'a different fingerprint is IK001 for every key (fingerprints compared as data)');

# Status and outcome, through record_outcome.
is(sql(q{SELECT string_agg(DISTINCT o.state, ',') FROM public.hostile AS h,
  public.outcome_of(format('SELECT idempotency.record_outcome(''inj'', s, s)
    FROM public.hostile WHERE id = %s', h.id)) AS o}, 'client'),
	'22023', 'a hostile status is 22023');
is(sql(q{SELECT count(*) FILTER (WHERE idempotency.record_outcome('inj', s, 'succeeded',
  jsonb_build_object('echo', s, s, s))) FROM public.hostile}, 'client'),
	$count, 'outcomes holding the strings as keys and values are recorded');
is(sql(q{SELECT count(*) FROM public.hostile AS h,
  idempotency.claim_or_lookup('inj', h.s, fingerprint => h.s) AS c
  WHERE NOT c.claimed AND c.status = 'succeeded' AND c.outcome ->> 'echo' = h.s
    AND c.outcome ->> h.s = h.s}, 'client'),
	$count, 'and replayed intact');
is(sql(q{SELECT count(*) FILTER (WHERE NOT idempotency.record_outcome('inj', s, 'succeeded',
  jsonb_build_object(s, s, 'echo', s))) FROM public.hostile}, 'client'),
	$count, 'the identical outcome again is a harmless retry');

# Batches: keys, fingerprints and outcomes as arrays.
is(sql(q{SELECT count(*) FROM (SELECT array_agg(s ORDER BY id) AS keys FROM public.hostile) AS a,
  idempotency.claim_guards('batch', a.keys, fingerprints => a.keys) AS c
  WHERE c.claimed AND c.key = a.keys[c.ord]}, 'client'),
	$count, 'claim_guards claims every hostile key, in input order');
is(sql(q{SELECT count(*) FROM (SELECT array_agg(s ORDER BY id) AS keys,
    array_agg(to_jsonb(s) ORDER BY id) AS outcomes FROM public.hostile) AS a,
  idempotency.record_outcomes('batch', a.keys, 'failed', a.outcomes) AS r
  WHERE r.recorded AND r.key = a.keys[r.ord]}, 'client'),
	$count, 'record_outcomes records them all');
is(sql(q{SELECT count(*) FROM public.hostile AS h, idempotency.lookup('batch', h.s) AS g
  WHERE g.status = 'failed' AND g.outcome = to_jsonb(h.s) AND g.fingerprint = h.s}, 'client'),
	$count, 'each with its own outcome and fingerprint');

# Leases, extend_lease and release_guard.
is(sql(q{CREATE TEMP TABLE leased AS SELECT h.s, c.claim_token FROM public.hostile AS h
    CROSS JOIN LATERAL idempotency.claim_or_lookup(h.s, h.s || ':lease', lease => '1 minute') AS c
    WHERE c.claimed;
  SELECT count(*) FROM leased
  WHERE idempotency.extend_lease(s, s || ':lease', claim_token, '2 minutes') > now() + '1 minute';
  SELECT count(*) FILTER (WHERE idempotency.release_guard(s, s || ':lease', claim_token)) FROM leased},
		'client'),
	"$count\n$count", 'extend_lease and release_guard find each hostile key');
is(sql(q{SELECT count(*) FROM public.hostile AS h, idempotency.lookup(h.s, h.s || ':lease')}, 'client'),
	0, 'and the released guards are gone');

# JSON Pointers: a member named by the string, escaped per RFC 6901, is
# found; its canonical object is what fingerprint() digests.
is(sql(q{SELECT count(*) FROM public.hostile AS h,
  LATERAL (SELECT '/' || replace(replace(h.s, '~', '~0'), '/', '~1') AS p) AS q
  WHERE idempotency.fingerprint(jsonb_build_object(h.s, h.s, 'other', 1), ARRAY[q.p])
      = idempotency.fingerprint(jsonb_build_object(q.p, h.s))}, 'client'),
	$count, 'fingerprint paths select hostile member names as data');
is(sql(q{SELECT string_agg(DISTINCT o.state, ',') FROM public.hostile AS h,
  public.outcome_of(format('SELECT idempotency.fingerprint(''{}'', ARRAY[s])
    FROM public.hostile WHERE id = %s', h.id)) AS o}, 'client'),
	'22023', 'a hostile path that is not a JSON Pointer is 22023');

# Retention policies (a DBA function) with hostile scopes.
is(sql(q{SELECT count(*) FROM (SELECT idempotency.set_retention(s, '1 hour') FROM public.hostile) AS r},
		'dba'),
	$count, 'set_retention takes hostile scopes');
is(sql(q{SELECT count(*) FROM public.hostile AS h JOIN idempotency.retention_policies AS p
  ON p.scope = h.s AND p.ttl = '1 hour'}, 'dba'),
	$count, 'and stores each as its policy\'s scope');
is(sql(q{SELECT count(*) FROM public.hostile AS h
  CROSS JOIN LATERAL idempotency.claim_or_lookup(h.s, 'ttl') AS c
  WHERE c.claimed AND c.expires_at - c.claimed_at = '1 hour'}, 'client'),
	$count, 'claims in those scopes get their policy\'s ttl');
is(sql(q{SELECT count(*) FILTER (WHERE idempotency.drop_retention(s)) FROM public.hostile}, 'dba'),
	$count, 'drop_retention finds each policy');

# Limits with hostile patterns: two of them (limit slots are few). Each scope
# now stores 2 guards (the claims above); a limit of 3 admits one more.
for my $id (0, 1)
{
	is(sql("SELECT idempotency.set_limits(s, max_live => 3) FROM public.hostile WHERE id = $id;
      SELECT count(*) FROM idempotency.scope_limits AS l JOIN public.hostile AS h
        ON l.pattern = h.s WHERE h.id = $id", 'dba'),
		"\n1", "set_limits stores hostile pattern $id as data");
	is(state_of("SELECT idempotency.claim_guard(s, 'limited-1') FROM public.hostile WHERE id = $id",
			'client', 1),
		'00000', "the limit of hostile pattern $id admits its third guard");
	is(state_of("SELECT idempotency.claim_guard(s, 'limited-2') FROM public.hostile WHERE id = $id",
			'client'),
		'IK005', "and refuses the fourth: it counts exactly that scope");
	is(sql("SELECT idempotency.drop_limits(s) FROM public.hostile WHERE id = $id", 'dba'),
		't', "drop_limits finds hostile pattern $id");
}

# LIKE wildcards in a prefix pattern are literal characters, for limits and
# for scope restrictions.
sql(q{SELECT idempotency.set_limits('w_%*', max_live => 2)}, 'dba');
is(sql(q{SELECT count(*) FILTER (WHERE idempotency.claim_guard('wxy', 'k' || i))
  FROM generate_series(1, 5) AS i}, 'client'),
	5, 'a limit on w_%* does not cover scope wxy');
is(sql(q{SELECT count(*) FILTER (WHERE idempotency.claim_guard('w_%:1', 'k' || i))
  FROM generate_series(1, 2) AS i}, 'client'),
	2, 'it covers w_%:1');
is(state_of(q{SELECT idempotency.claim_guard('w_%:2', 'k3')}, 'client'),
	'IK005', 'and holds w_%:1 and w_%:2 together at 2');
sql(q{SELECT idempotency.drop_limits('w_%*')}, 'dba');
sql(q{SELECT idempotency.restrict_scopes('boxed', ARRAY['w_%*'])}, 'dba');
is(state_of(q{SELECT idempotency.claim_guard('wxy', 'boxed')}, 'boxed'),
	'42501', 'a role restricted to w_%* may not use scope wxy');
is(state_of(q{SELECT idempotency.claim_guard('w_%:b', 'boxed')}, 'boxed'),
	'00000', 'and may use w_%:b');

# The batch functions, record_outcome and release_guard with hostile scopes
# (each scope holds its pending key and 'ttl' from above).
is(sql(q{SELECT count(*) FROM public.hostile AS h,
  idempotency.claim_guards(h.s, ARRAY[h.s, 'second'], attempt => rpad(h.s, 18, '.')) AS c
  WHERE c.claimed = (c.ord = 2)}, 'client'),
	2 * $count, 'claim_guards in hostile scopes finds each stored key and claims each new one');
is(sql(q{SELECT count(*) FILTER (WHERE idempotency.record_outcome(s, 'second', 'succeeded', to_jsonb(s)))
  FROM public.hostile}, 'client'),
	$count, 'record_outcome in hostile scopes');
is(sql(q{SELECT count(*) FROM public.hostile AS h,
  idempotency.record_outcomes(h.s, ARRAY[h.s], 'failed') AS r WHERE r.recorded}, 'client'),
	$count, 'record_outcomes in hostile scopes');
is(sql(q{SELECT count(*) FILTER (WHERE idempotency.release_guard(s, 'ttl')) FROM public.hostile}, 'client'),
	$count, 'release_guard in hostile scopes');
is(sql(q{SELECT count(*) FROM public.hostile AS h
  WHERE (SELECT status FROM idempotency.lookup(h.s, h.s)) = 'failed'
    AND (SELECT outcome FROM idempotency.lookup(h.s, 'second')) = to_jsonb(h.s)
    AND NOT EXISTS (SELECT FROM idempotency.lookup(h.s, 'ttl'))}, 'client'),
	$count, 'each hostile scope holds exactly what was done in it');

# Scope restrictions with hostile patterns: a '*' anywhere but at the end is
# a bad pattern (22023); any other string is an exact scope, as data.
for my $id (0 .. $#hostile)
{
	my $bad = $hostile[$id] =~ /\*./s;
	my $set = state_of("SELECT idempotency.restrict_scopes('boxed', ARRAY[s])
      FROM public.hostile WHERE id = $id", 'dba', 1);
	if ($bad)
	{
		is($set, '22023', "hostile pattern $id with a misplaced '*' is 22023");
		next;
	}
	is($set, '00000', "restrict_scopes takes hostile pattern $id");
	is( sql(
			"SELECT string_agg(o.state, ',' ORDER BY o.n) FROM (
         SELECT 1, * FROM public.outcome_of('SELECT idempotency.claim_guard(s, ''boxed'')
           FROM public.hostile WHERE id = $id')
         UNION ALL SELECT 2, * FROM public.outcome_of('SELECT idempotency.claim_guard(s || ''x'', ''boxed'')
           FROM public.hostile WHERE id = $id')
         UNION ALL SELECT 3, * FROM public.outcome_of('SELECT idempotency.claim_guard(''w_%:b'', ''boxed'')')
       ) AS o(n)", 'boxed'),
		'00000,42501,42501',
		"restricted to hostile pattern $id: that scope only, nothing longer, nothing else");
}
sql(q{SELECT idempotency.unrestrict_scopes('boxed')}, 'dba');

# Role names: a role named by each string is granted, restricted and revoked
# by the functions that build GRANT statements from role names.
my $claim_guard = 'idempotency.claim_guard(text, text, interval, text, interval, text)';
my $set_retention = 'idempotency.set_retention(text, interval, boolean)';
for my $id (0 .. $#hostile)
{
	my $role = "(SELECT r.oid::regrole FROM pg_roles AS r JOIN public.hostile AS h
      ON r.rolname = h.s WHERE h.id = $id)";
	my $as_role = "DO \$\$ BEGIN EXECUTE format('SET ROLE %I', (SELECT s FROM public.hostile WHERE id = $id)); END \$\$;";
	sql("DO \$\$ BEGIN EXECUTE format('CREATE ROLE %I', (SELECT s FROM public.hostile WHERE id = $id)); END \$\$");
	my $answers = sql(
		"SELECT idempotency.grant_client($role), idempotency.grant_admin($role);
     SELECT has_function_privilege($role, '$claim_guard', 'EXECUTE'),
            has_function_privilege($role, '$set_retention', 'EXECUTE');
     SELECT idempotency.restrict_scopes($role, ARRAY['mine']);
     $as_role
     SELECT string_agg(o.state, ',' ORDER BY o.n) FROM (
       SELECT 1, * FROM public.outcome_of('SELECT idempotency.claim_guard(''mine'', ''role-$id'')')
       UNION ALL SELECT 2, * FROM public.outcome_of('SELECT idempotency.claim_guard(''theirs'', ''role-$id'')')
     ) AS o(n);
     RESET ROLE;
     SELECT idempotency.unrestrict_scopes($role);
     SELECT idempotency.revoke_admin($role), idempotency.revoke_client($role);
     SELECT has_function_privilege($role, '$claim_guard', 'EXECUTE'),
            has_function_privilege($role, '$set_retention', 'EXECUTE');
     $as_role
     SELECT state FROM public.outcome_of('SELECT idempotency.claim_guard(''mine'', ''role-$id-again'')');");
	is($answers, "|\nt|t\n\n00000,42501\nt\n|\nf|f\n42501",
		"role $id: granted, restricted, unrestricted and revoked by name");
}
# A hostile string given as a role name is parsed by regrole's input, never
# run: each grant function answers exactly what a cast to regrole does (the
# role of that name, or 42704 no such role, or 42602 not a name).
is(sql(q{SELECT string_agg(DISTINCT g.state || '=' || c.state, ',' ORDER BY g.state || '=' || c.state)
  FROM public.hostile AS h,
  LATERAL (VALUES (h.s), ('"' || replace(h.s || 'x', '"', '""') || '"')) AS n(name),
  LATERAL (VALUES ('grant_client'), ('grant_admin'), ('revoke_client'), ('revoke_admin'),
    ('unrestrict_scopes')) AS f(function),
  public.outcome_of(format('SELECT idempotency.%s(%L)', f.function, n.name)) AS g,
  public.outcome_of(format('SELECT %L::regrole', n.name)) AS c}),
	'00000=00000,42602=42602,42704=42704',
	'a hostile role name is parsed as regrole parses it: a role, 42704 or 42602');

# distribute() (superuser): by is checked before anything else.
is(sql(q{SELECT string_agg(DISTINCT o.state, ',') FROM public.hostile AS h,
  public.outcome_of(format('SELECT idempotency.distribute(s) FROM public.hostile WHERE id = %s', h.id)) AS o}),
	'22023', 'distribute() refuses a hostile by with 22023');

# reset_counters with hostile scopes: true exactly for the scopes that have
# a counters row, which it zeroes.
cmp_ok(sql(q{SELECT count(*) FROM idempotency.counters AS c JOIN public.hostile AS h ON c.scope = h.s
  WHERE c.kind = 'scope' AND c.claimed_new > 0}, 'dba'),
	'>', 0, 'hostile scopes have counters rows to reset');
is(sql(q{SELECT count(*) FROM public.hostile AS h
  WHERE idempotency.reset_counters(h.s) IS DISTINCT FROM
        EXISTS (SELECT FROM idempotency.counters AS c WHERE c.kind = 'scope' AND c.scope = h.s)}, 'dba'),
	0, 'reset_counters finds exactly the hostile scopes that have counters');
is(sql(q{SELECT count(*) FROM idempotency.counters AS c JOIN public.hostile AS h ON c.scope = h.s
  WHERE c.kind = 'scope' AND c.claimed_new <> 0}, 'dba'),
	0, 'and zeroes them');

is(sql(q{SELECT count(*) FROM pg_class
  WHERE relnamespace IN ('idempotency'::regnamespace, 'public'::regnamespace)}),
	$objects_before, 'no relation was dropped or created by any of it');
is(sql(q{SELECT count(*) FROM idempotency.scope_access}), 0, 'scope_access holds no stray rows');

# ---------------------------------------------------------------------------
# 2. NULL in every argument position of every function.
# ---------------------------------------------------------------------------
sql(q{CREATE ROLE nul_role;
  SELECT claimed FROM idempotency.claim_or_lookup('nul', 'pending', lease => '10 minutes');
  SELECT idempotency.set_limits('nul-limit', max_live => 100);});
my $token = q{(SELECT claim_token FROM idempotency.guards WHERE scope = 'nul' AND key = 'pending')};

# A valid value for each argument (by name; some per function), so that the
# one NULL is the only thing wrong with a call.
my %valid = (
	scope => q{'nul'},
	key => q{'pending'},
	keys => q{ARRAY['pending']},
	ttl => q{'1 hour'},
	fingerprint => q{'fp'},
	fingerprints => q{ARRAY['fp']},
	lease => q{'1 minute'},
	attempt => q{'attempt-0123456789'},
	wait => q{'0'},
	status => q{'succeeded'},
	outcome => q{'{"ok": true}'},
	outcomes => q{ARRAY['{"ok": true}']::jsonb[]},
	claim_token => $token,
	claim_tokens => "ARRAY[$token]",
	payload => q{'{"a": 1}'},
	paths => q{ARRAY['/a']},
	batch_size => '100',
	max_rows => '10',
	role => q{'nul_role'},
	patterns => q{ARRAY['nul']},
	apply_to_existing => 'false',
	max_live => '10',
	max_pending => '5',
	by => q{'scope'},
	colocate_with => q{'public.hostile'},
	command => q{'SELECT 1'},);
my %valid_for = (
	'claim_guard.key' => q{'fresh'},
	'claim_or_lookup.key' => q{'fresh'},
	'claim_guards.keys' => q{ARRAY['fresh']},
	'set_limits.scope' => q{'nul-limit'},
	'drop_limits.scope' => q{'nul-limit'},);

# What the README documents for a NULL in each position: 22004 for a NULL
# scope, key, keys or status (and the arguments the Errors table names),
# 22023 for distribute's by; '00000' where NULL is the default or "none".
# For functions without citus, distribute() is 55000 whatever else.
my %expected = (
	'claim_guard' => [ '00000', qw(22004 22004 00000 00000 00000 00000) ],
	'claim_or_lookup' => [ '00000', qw(22004 22004 00000 00000 00000 00000 00000) ],
	'claim_guards' => [ '00000', qw(22004 22004 00000 00000 00000 00000) ],
	'record_outcome' => [ '00000', qw(22004 22004 22004 00000 00000) ],
	'record_outcomes' => [ '00000', qw(22004 22004 22004 00000 00000) ],
	'lookup' => [ '00000', qw(22004 22004) ],
	'release_guard' => [ '00000', qw(22004 22004 00000) ],
	'extend_lease' => [ '00000', qw(22004 22004 22004 22004) ],
	'fingerprint' => [ '00000', qw(00000 00000) ],
	'set_retention' => [ '00000', qw(22004 22004 22004) ],
	'drop_retention' => [ '00000', qw(22004) ],
	'purge_expired' => [ '00000', qw(00000 00000) ],
	'restrict_scopes' => [ '00000', qw(22004 22004) ],
	'unrestrict_scopes' => [ '00000', qw(22004) ],
	'set_limits' => [ '00000', qw(22004 00000 00000) ],
	'drop_limits' => [ '00000', qw(22004) ],
	'reset_counters' => [ '00000', qw(00000) ],
	'distribute' => [ '55000', qw(22023 55000) ],
	'on_workers' => [ '00000', qw(00000) ],
	# 1.3: a NULL role is 22004 (42601, a syntax error, before).
	'grant_client' => [ '00000', qw(22004) ],
	'revoke_client' => [ '00000', qw(22004) ],
	'grant_admin' => [ '00000', qw(22004) ],
	'revoke_admin' => [ '00000', qw(22004) ],);
# Left out: redate_shards is a Citus-only helper that without Citus fails
# with 42883 for any arguments.
my %not_held = map { $_ => 1 } qw(redate_shards);

my @functions = split /\n/, sql(q{
  SELECT p.proname || ' ' || array_to_string(p.proargnames[1:p.pronargs], ',') || ' '
         || (SELECT string_agg(format_type(t, NULL), ',' ORDER BY o)
               FROM unnest(p.proargtypes) WITH ORDINALITY AS u(t, o))
    FROM pg_proc AS p
   WHERE p.pronamespace = 'idempotency'::regnamespace AND p.pronargs > 0
   ORDER BY p.proname});
cmp_ok(scalar @functions, '>=', 24, 'pg_proc lists the functions that take arguments');
for my $function (@functions)
{
	my ($name, $argument_list, $type_list) = split / /, $function, 3;
	next if $not_held{$name};
	my @arguments = split /,/, $argument_list;
	my @types = split /,/, $type_list;
	my $expectation = $expected{$name};
	if (!$expectation || @$expectation != @arguments + 1)
	{
		fail("$name($argument_list): this test has no expectation for its NULL arguments");
		next;
	}
	my @values = map { $valid_for{"$name.$_"} // $valid{$_} // 'NULL' } @arguments;
	my @calls = ('all valid');
	my @sql = ("SELECT idempotency.$name(" . join(', ', @values) . ')::text');
	for my $position (0 .. $#arguments)
	{
		my @with_null = @values;
		$with_null[$position] = "NULL::$types[$position]";
		push @calls, "$arguments[$position] NULL";
		push @sql, "SELECT idempotency.$name(" . join(', ', @with_null) . ')::text';
	}
	my $union = join("\n UNION ALL ",
		map { my $quoted = $sql[$_] =~ s/'/''/gr; "SELECT $_ AS n, * FROM public.outcome_of('$quoted')" }
		  0 .. $#sql);
	my @got = split /,/, sql("SELECT string_agg(state, ',' ORDER BY n) FROM ($union) AS o");
	for my $i (0 .. $#calls)
	{
		is($got[$i], $expectation->[$i], "$name, $calls[$i]: $expectation->[$i]");
	}
}
# 1.3's message for a NULL role names the function and the argument.
{
	my ($out, $err);
	$node->psql('postgres', q{SELECT idempotency.revoke_admin(NULL)}, stdout => \$out, stderr => \$err);
	like($err, qr/idempotency\.revoke_admin: role must not be NULL/,
		'revoke_admin(NULL): the error names the function and its NULL role');
}

# The documented values behind some of those '00000's, and NULL entries
# inside arrays.
is(sql(q{SELECT idempotency.fingerprint(NULL, ARRAY['/a']) IS NULL}), 't',
	'fingerprint of a NULL payload is NULL');
is(sql(q{SELECT idempotency.fingerprint('{"a": 1}', NULL) = idempotency.fingerprint('{"a": 1}')}), 't',
	'NULL paths digest the whole payload');
is(sql(q{SELECT state || '/' || coalesce(result, '-') FROM public.outcome_of(
  'SELECT idempotency.record_outcome(''nul'', ''none'', ''succeeded'', NULL, NULL)')}, 'client'),
	'IK002/-', 'record_outcome with NULL outcome and token still needs a guard (IK002)');
is(sql(q{SELECT string_agg(o.state, ',' ORDER BY o.n) FROM (
  SELECT 1, * FROM public.outcome_of('SELECT idempotency.claim_guards(''nul'', ARRAY[''a'', NULL])')
  UNION ALL SELECT 2, * FROM public.outcome_of('SELECT idempotency.record_outcomes(''nul'', ARRAY[NULL, ''a''], ''failed'')')
  UNION ALL SELECT 3, * FROM public.outcome_of('SELECT idempotency.claim_guards(''nul'', ARRAY[''a'', ''b''], fingerprints => ARRAY[NULL, ''fp''])')
  UNION ALL SELECT 4, * FROM public.outcome_of('SELECT idempotency.record_outcomes(''nul'', ARRAY[''pending''], ''failed'', ARRAY[NULL]::jsonb[], ARRAY[NULL]::int8[])')
  UNION ALL SELECT 5, * FROM public.outcome_of('SELECT idempotency.fingerprint(''{}'', ARRAY[NULL])')
  UNION ALL SELECT 6, * FROM public.outcome_of('SELECT idempotency.fingerprint(''{}'', ARRAY[]::text[])')
) AS o(n)}, 'client'),
	'22004,22004,00000,00000,22004,22023',
	'NULL entries: a key 22004, a fingerprint/outcome/token none, a path 22004; an empty paths array 22023');
is(sql(q{SELECT state FROM public.outcome_of(
  'SELECT idempotency.restrict_scopes(''nul_role'', ARRAY[''a'', NULL])')}),
	'22004', 'a NULL pattern is 22004');
is(sql(q{SELECT idempotency.release_guard('nul', 'pending', NULL)}, 'client'), 't',
	'release_guard with a NULL claim_token releases without a token check');
# The functions without arguments answer (config_changed is a trigger).
is(sql(q{SELECT string_agg(o.state, ',' ORDER BY o.n) FROM (
  SELECT 1, * FROM public.outcome_of('SELECT count(*) FROM idempotency.worker_status()')
  UNION ALL SELECT 2, * FROM public.outcome_of('SELECT count(*) FROM idempotency.counters_rows()')
  UNION ALL SELECT 3, * FROM public.outcome_of('SELECT count(*) FROM idempotency.limit_usage()')
  UNION ALL SELECT 4, * FROM public.outcome_of('SELECT idempotency.client_functions()')
  UNION ALL SELECT 5, * FROM public.outcome_of('SELECT idempotency.admin_functions()')
  UNION ALL SELECT 6, * FROM public.outcome_of('SELECT idempotency.admin_relations()')
  UNION ALL SELECT 7, * FROM public.outcome_of('SELECT idempotency.config_changed()')
) AS o(n)}),
	'00000,00000,00000,00000,00000,00000,55000',
	'the functions without arguments answer; config_changed() outside a trigger is 55000');

# ---------------------------------------------------------------------------
# 3. Huge inputs, in one backend whose memory is measured after.
# ---------------------------------------------------------------------------
# 300 MiB text arguments (outcomes: 200 MiB, jsonb strings stop at 256 MiB);
# 1M-element arrays; each must be refused with its documented SQLSTATE,
# within 20 s (most of it is building the argument), with an error message
# clipped to 2 KiB.
my @huge = (
	[ 'a 300 MiB key', q{SELECT idempotency.claim_guard('huge', public.huge(300))}, '22023' ],
	[ 'a 300 MiB scope', q{SELECT idempotency.lookup(public.huge(300), 'k')::text}, '22023' ],
	[ 'a 300 MiB fingerprint', q{SELECT idempotency.claim_guard('huge', 'k', fingerprint => public.huge(300))}, '22023' ],
	[ 'a 300 MiB attempt', q{SELECT idempotency.claim_guard('huge', 'k', attempt => public.huge(300))}, '22023' ],
	[ 'a 300 MiB status', q{SELECT idempotency.record_outcome('huge', 'k', public.huge(300))}, '22023' ],
	[ 'a 200 MiB outcome', q{SELECT idempotency.record_outcome('huge', 'k', 'succeeded', to_jsonb(public.huge(200)))}, '54000' ],
	[ 'a 300 MiB key in claim_guards', q{SELECT idempotency.claim_guards('huge', ARRAY[public.huge(300)])::text}, '22023' ],
	[ 'a 300 MiB key in record_outcomes', q{SELECT idempotency.record_outcomes('huge', ARRAY[public.huge(300)], 'failed')::text}, '22023' ],
	[ 'a 300 MiB key to extend_lease', q{SELECT idempotency.extend_lease('huge', public.huge(300), 1, '1 minute')}, '22023' ],
	[ 'a 300 MiB key to release_guard', q{SELECT idempotency.release_guard('huge', public.huge(300))}, '22023' ],
	[ 'a 300 MiB path to fingerprint', q{SELECT idempotency.fingerprint('{}', ARRAY[public.huge(300)])}, '22023' ],
	[ '1M keys to claim_guards', q{SELECT idempotency.claim_guards('huge', (SELECT array_agg('k' || i) FROM generate_series(1, 1000000) AS i))::text}, '54000' ],
	[ '1M keys to record_outcomes', q{SELECT idempotency.record_outcomes('huge', (SELECT array_agg('k' || i) FROM generate_series(1, 1000000) AS i), 'failed')::text}, '54000' ],
	[ '1M NULL keys to claim_guards', q{SELECT idempotency.claim_guards('huge', (SELECT array_agg(NULL::text) FROM generate_series(1, 1000000) AS i))::text}, '54000' ],
	[ '1M fingerprints for one key', q{SELECT idempotency.claim_guards('huge', ARRAY['k'], fingerprints => (SELECT array_agg('f' || i) FROM generate_series(1, 1000000) AS i))::text}, '22023' ],
	[ '1M outcomes for one key', q{SELECT idempotency.record_outcomes('huge', ARRAY['k'], 'failed', (SELECT array_agg('{}'::jsonb) FROM generate_series(1, 1000000) AS i))::text}, '22023' ],
	[ '1M claim tokens for one key', q{SELECT idempotency.record_outcomes('huge', ARRAY['k'], 'failed', claim_tokens => (SELECT array_agg(i::int8) FROM generate_series(1, 1000000) AS i))::text}, '22023' ],
	[ '1001 keys to claim_guards', q{SELECT idempotency.claim_guards('huge', (SELECT array_agg('k' || i) FROM generate_series(1, 1001) AS i))::text}, '54000' ],
	[ '1000 keys to claim_guards', q{SELECT count(*) FROM idempotency.claim_guards('huge', (SELECT array_agg('k' || i) FROM generate_series(1, 1000) AS i)) WHERE claimed}, '00000', '1000' ],
);
my $memory = q{SELECT substring(s FROM 'RssAnon:\s*(\d+) kB') || '|' || substring(s FROM 'VmHWM:\s*(\d+) kB')
    FROM pg_read_file('/proc/self/status') AS s;
  SELECT sum(total_bytes) FROM pg_backend_memory_contexts;};
my $script = "$memory\nSET ROLE client;\n";
for my $case (@huge)
{
	my $quoted = $case->[1] =~ s/'/''/gr;
	$script .= "SELECT format('%s|%s|%s|%s', state, result, coalesce(message_bytes, 0), ms)
      FROM public.outcome_of('$quoted');\n";
}
$script .= "RESET ROLE;\n$memory";
my @lines = split /\n/, sql($script);
my ($rss_before, $peak_before) = split /\|/, shift @lines;
my $contexts_before = shift @lines;
for my $case (@huge)
{
	my ($what, undef, $state, $result) = @$case;
	my ($got_state, $got_result, $message_bytes, $ms) = split /\|/, shift(@lines), -1;
	is($got_state, $state, "$what: $state");
	is($got_result, $result, "$what: answers $result") if defined $result;
	cmp_ok($message_bytes, '<', 2048, "$what: the error message is clipped") if $state ne '00000';
	cmp_ok($ms, '<', 20000, "$what: answered in ${ms} ms");
}
my ($rss_after, $peak_after) = split /\|/, shift @lines;
my $contexts_after = shift @lines;
note("backend: anonymous memory ${rss_before} kB before, ${rss_after} kB after, peak ${peak_after} kB;"
	  . " memory contexts $contexts_before bytes before, $contexts_after after");
cmp_ok($peak_after, '<', 2 * 1024 * 1024, 'the backend never held 2 GiB');
cmp_ok($rss_after - $rss_before, '<', 64 * 1024, 'and gave the memory back (anonymous memory within 64 MiB of before)');
cmp_ok($contexts_after, '<', $contexts_before + 16 * 1024 * 1024, 'its memory contexts are back to their size');

# ---------------------------------------------------------------------------
# 4. Deeply nested JSON: errors, never a crash.
# ---------------------------------------------------------------------------
my $deep = sub { my ($depth, $inner) = @_;
	"(repeat('[', $depth) || '$inner' || repeat(']', $depth))::jsonb" };
is(state_of('SELECT idempotency.fingerprint(' . $deep->(100000, '') . ')', 'client'),
	'54001', 'a 100k-deep payload to fingerprint(): 54001 (from the JSON parser)');
sql(q{SELECT idempotency.claim_guard('deep', 'd')}, 'client');
is(state_of("SELECT idempotency.record_outcome('deep', 'd', 'succeeded', " . $deep->(100000, '') . ')',
		'client'),
	'54001', 'a 100k-deep outcome: 54001');
is(state_of("SELECT idempotency.record_outcomes('deep', ARRAY['d'], 'succeeded', ARRAY["
		  . $deep->(100000, '') . '])::text', 'client'),
	'54001', 'a 100k-deep outcome in record_outcomes: 54001');
# 8000 levels: the server accepts it; fingerprint() walks it within the
# stack (then its digest is that of the text itself, which is canonical) or
# refuses with 54001 as the README documents.
is(sql(q{SELECT CASE WHEN o.state = '54001' THEN o.state
            WHEN o.result = encode(sha256(convert_to(repeat('[', 8000) || repeat(']', 8000), 'UTF8')), 'hex')
            THEN 'digest' ELSE o.state || '/' || coalesce(o.result, '-') END
  FROM public.outcome_of('SELECT idempotency.fingerprint((repeat(''['', 8000) || repeat('']'', 8000))::jsonb)') AS o},
		'client') =~ /^(54001|digest)$/ ? 'held' : 'broken',
	'held', 'an 8000-deep payload: 54001 or its exact digest');
is(sql("SELECT idempotency.record_outcome('deep', 'd', 'succeeded', " . $deep->(8000, '1') . ')', 'client'),
	't', 'an 8000-deep outcome is recorded');
is(sql("SELECT outcome = " . $deep->(8000, '1') . " FROM idempotency.claim_or_lookup('deep', 'd')", 'client'),
	't', 'and replayed intact');
is(sql("SELECT idempotency.record_outcome('deep', 'd', 'succeeded', " . $deep->(8000, '1') . ')', 'client'),
	'f', 'the same deep outcome again is a harmless retry');
is(state_of("SELECT idempotency.record_outcome('deep', 'd', 'succeeded', " . $deep->(8000, '2') . ')',
		'client'),
	'IK003', 'a different deep outcome is IK003');

# ---------------------------------------------------------------------------
# 5. Cancel and statement_timeout during claim_or_lookup(..., wait).
# ---------------------------------------------------------------------------
sql(q{SELECT idempotency.claim_guard('w', 'held')}, 'client');

# A waiter in its own session: sent, not answered yet.
sub start_waiter
{
	my ($key, $settings) = @_;
	my $session = $node->background_psql('postgres', on_error_stop => 0);
	$session->query_safe('\set VERBOSITY verbose');
	$session->query_safe('SET ROLE client');
	$session->query_safe($settings) if $settings;
	my $pid = $session->query_safe('SELECT pg_backend_pid()');
	$session->query_until(qr/sent/, "\\echo sent
SELECT claimed || '/' || status FROM idempotency.claim_or_lookup('w', '$key', wait => '60 seconds');
");
	return { session => $session, pid => $pid };
}

sub wait_for_event
{
	my ($waiter, $event_type) = @_;
	return $node->poll_query_until('postgres', "SELECT wait_event_type = '$event_type'
    FROM pg_stat_activity WHERE pid = $waiter->{pid}");
}

# The answer and error output of the waiter's statement; the session stays.
sub answer_of
{
	my ($waiter) = @_;
	my ($out) = $waiter->{session}->query('');
	my $err = $waiter->{session}->{stderr};
	$waiter->{session}->{stderr} = '';
	chomp $out;
	return ($out, $err);
}

my $sleeping = q{SELECT count(*) FROM pg_stat_activity
  WHERE backend_type = 'client backend' AND wait_event_type = 'Extension'};

my $waiter = start_waiter('held');
ok(wait_for_event($waiter, 'Extension'), 'a waiter sleeps on a pending guard');
my $cancelled_at = time;
sql("SELECT pg_cancel_backend($waiter->{pid})");
my ($answer, $error) = answer_of($waiter);
my $elapsed = time - $cancelled_at;
like($error, qr/ERROR:  57014: canceling statement due to user request/, 'pg_cancel_backend ends the wait with 57014');
cmp_ok($elapsed, '<', 10, sprintf('within %.2f s', $elapsed));
is($waiter->{session}->query('SELECT 1'), '1', 'the session carries on');
$waiter->{session}->quit;
is(sql($sleeping), 0, 'no backend is left sleeping');

$waiter = start_waiter('held', q{SET statement_timeout = '500ms'});
my $sent_at = time;
($answer, $error) = answer_of($waiter);
$elapsed = time - $sent_at;
like($error, qr/ERROR:  57014: canceling statement due to statement timeout/,
	'statement_timeout ends the wait with 57014');
cmp_ok($elapsed, '<', 10, sprintf('after %.2f s (timeout 0.5 s)', $elapsed));
$waiter->{session}->quit;
is(sql($sleeping), 0, 'no backend is left sleeping');

# Waiting on another transaction's uncommitted claim is a lock wait, which a
# cancel ends too.
my $owner = $node->background_psql('postgres');
$owner->query_safe(q{BEGIN; SELECT idempotency.claim_guard('w', 'uncommitted')});
$waiter = start_waiter('uncommitted');
ok(wait_for_event($waiter, 'Lock'), 'a waiter blocks on an uncommitted claim');
$cancelled_at = time;
sql("SELECT pg_cancel_backend($waiter->{pid})");
($answer, $error) = answer_of($waiter);
$elapsed = time - $cancelled_at;
like($error, qr/ERROR:  57014: canceling statement due to user request/, 'a cancel ends that wait with 57014');
cmp_ok($elapsed, '<', 10, sprintf('within %.2f s', $elapsed));
$waiter->{session}->quit;
$owner->query_safe('ROLLBACK');
$owner->quit;

# After all that, a wait still works: woken by the commit of an outcome.
$waiter = start_waiter('held');
ok(wait_for_event($waiter, 'Extension'), 'a new waiter sleeps');
my $recorded_at = time;
sql(q{SELECT idempotency.record_outcome('w', 'held', 'succeeded')}, 'client');
($answer, $error) = answer_of($waiter);
$elapsed = time - $recorded_at;
is($answer, 'false/succeeded', 'and is answered with the outcome');
cmp_ok($elapsed, '<', 30, sprintf('at its commit (%.2f s), not after its 60 s wait', $elapsed));
$waiter->{session}->quit;

# ---------------------------------------------------------------------------
# The server survived everything.
# ---------------------------------------------------------------------------
is(sql('SELECT pg_postmaster_start_time()'), $started_at, 'the server never restarted');
is((split /\n/, slurp_file($node->data_dir . '/postmaster.pid'))[0], $postmaster_pid,
	'same postmaster');
unlike(slurp_file($node->logfile), qr/terminated by signal|was terminated by exception|PANIC/,
	'no backend crashed');
is(sql(q{SELECT count(*) FROM pg_class WHERE relnamespace = 'idempotency'::regnamespace AND relname = 'guards'}),
	1, 'idempotency.guards is still there');

$node->stop;
done_testing();
