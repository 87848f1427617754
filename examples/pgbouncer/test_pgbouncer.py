#!/usr/bin/python3
"""The idempotency flow behind pgbouncer in transaction pooling mode.

Starts Debian's pgbouncer (as the `postgres` OS user when run as root:
pgbouncer refuses to run as root) in a temporary directory, listening on
127.0.0.1, in front of the cluster of the libpq environment (PGHOST, PGPORT,
PGUSER, PGDATABASE): pool_mode = transaction, default_pool_size = 4,
auth_type = trust. Then 40 client connections share those 4 server
connections while payments are claimed, charged, recorded and replayed, with
concurrent retries; and every client function is checked through the pooler.

Behind a transaction pooler each transaction may run on a different server
connection, so nothing may rely on session state: no session SET, no
server-side prepared statements of the client's own (psycopg's automatic
preparation is turned off with prepare_threshold=None; the extension's own
statements are prepared per server connection inside the server and need
nothing from the client). Claim tokens are plain values: one server
connection hands one out, another accepts it.

Prints TAP and exits non-zero if any check failed.
"""
import os
import pwd
import queue
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import psycopg
from psycopg.types.json import Jsonb

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import payments  # noqa: E402

CLIENTS = 40
POOL_SIZE = 4
KEYS = 20
ROUNDS = (1, 2, 2)  # up to 5 attempts per key, concurrent from the second round on
RESPONSE_LOSS = 0.5
CLIENT_TIMEOUT = 0.03


class Tap:
    def __init__(self):
        self.number = 0
        self.failed = 0

    def check(self, name, body):
        self.number += 1
        try:
            body()
        except Exception as error:
            self.failed += 1
            print(f"not ok {self.number} - {name}")
            for line in traceback.format_exception(error):
                for part in line.rstrip().splitlines():
                    print(f"# {part}")
        else:
            print(f"ok {self.number} - {name}")
        sys.stdout.flush()

    def finish(self):
        print(f"1..{self.number}")
        return 1 if self.failed or self.number == 0 else 0


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Bouncer:
    """A throwaway pgbouncer in front of the libpq environment's server."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="idempotency-pgbouncer-")
        self.port = free_port()
        self.user = os.environ.get("PGUSER", "postgres")
        self.database = os.environ.get("PGDATABASE", self.user)
        server_host = os.environ.get("PGHOST", "/var/run/postgresql")
        server_port = os.environ.get("PGPORT", "5432")
        with open(os.path.join(self.dir, "pgbouncer.ini"), "w") as ini:
            ini.write(f"""[databases]
{self.database} = host={server_host} port={server_port} dbname={self.database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.dir}/userlist.txt
admin_users = {self.user}
pool_mode = transaction
default_pool_size = {POOL_SIZE}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 200
max_db_connections = {POOL_SIZE}
server_round_robin = 1
logfile = {self.dir}/pgbouncer.log
pidfile = {self.dir}/pgbouncer.pid
""")
        # With auth_type = trust the user must still be listed in auth_file.
        with open(os.path.join(self.dir, "userlist.txt"), "w") as users:
            users.write(f'"{self.user}" ""\n')
        kwargs = {}
        if os.geteuid() == 0:  # pgbouncer refuses to run as root
            account = pwd.getpwnam("postgres")
            for name in os.listdir(self.dir):
                os.chown(os.path.join(self.dir, name), account.pw_uid, account.pw_gid)
            os.chown(self.dir, account.pw_uid, account.pw_gid)
            kwargs = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        self.process = subprocess.Popen(
            [shutil.which("pgbouncer") or "/usr/sbin/pgbouncer", os.path.join(self.dir, "pgbouncer.ini")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.connect().close()
                break
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("pgbouncer did not start:\n" + self.log())
                time.sleep(0.05)

    def connect(self, **kwargs):
        return psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, dbname=self.database,
                               autocommit=True, prepare_threshold=None, **kwargs)

    def admin(self):
        return psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="pgbouncer",
                               autocommit=True, prepare_threshold=None)

    def pool_row(self, admin=None):
        if admin is None:
            with self.admin() as admin:
                return self.pool_row(admin)
        cursor = admin.execute("SHOW POOLS")
        columns = [column.name for column in cursor.description]
        for row in cursor.fetchall():
            row = dict(zip(columns, row))
            if row["database"] == self.database and row["user"] == self.user:
                return row
        return None

    def log(self):
        try:
            with open(os.path.join(self.dir, "pgbouncer.log")) as log:
                return log.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class ClientConnections:
    """CLIENTS connections to pgbouncer, all open for the whole run; attempts
    borrow one each (a client app's own connection pool)."""

    def __init__(self, bouncer, count):
        self.idle = queue.Queue()
        self.all = [bouncer.connect() for _ in range(count)]
        for connection in self.all:
            self.idle.put(connection)

    @contextmanager
    def borrow(self):
        connection = self.idle.get()
        try:
            yield connection
        finally:
            self.idle.put(connection)

    def close(self):
        for connection in self.all:
            connection.close()


def server_backends(direct):
    """The server's connections for this role and database, but the caller's:
    while a test runs, every other one was opened by pgbouncer."""
    return direct.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = current_user"
        " AND datname = current_database() AND backend_type = 'client backend'"
        " AND pid <> pg_backend_pid()"
    ).fetchone()[0]


class Sampler:
    """Watches, while a test runs, how many server connections pgbouncer uses
    and how many clients it serves."""

    def __init__(self, bouncer):
        self.bouncer = bouncer
        self.max_server_backends = 0
        self.max_clients = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self):
        with psycopg.connect("", autocommit=True) as direct, self.bouncer.admin() as admin:
            while not self._stop.is_set():
                self.max_server_backends = max(self.max_server_backends, server_backends(direct))
                row = self.bouncer.pool_row(admin)
                if row is not None:
                    self.max_clients = max(self.max_clients, row["cl_active"] + row["cl_waiting"])
                self.samples += 1
                time.sleep(0.01)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class CountingService(payments.PaymentService):
    """Counts the successful claims of each key."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.claims = Counter()
        self.backends = defaultdict(set)  # key -> server backends its statements ran on
        self._lock = threading.Lock()

    def claim(self, conn, key, request_fingerprint, attempt):
        row = super().claim(conn, key, request_fingerprint, attempt)
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        with self._lock:
            self.backends[key].add(backend)
            if row[0]:
                self.claims[key] += 1
        return row


def test_pooler_is_in_transaction_mode(bouncer):
    row = bouncer.pool_row()
    assert row is not None and row["pool_mode"] == "transaction", row
    with bouncer.admin() as admin:
        config = dict((name, value) for name, value, *_ in admin.execute("SHOW CONFIG").fetchall())
    assert config["default_pool_size"] == str(POOL_SIZE), config["default_pool_size"]


def test_payments_through_the_pooler(bouncer):
    scope = f"pgb-{uuid.uuid4().hex[:8]}"
    clients = ClientConnections(bouncer, CLIENTS)
    # The provider never refuses or loses a request here, so each key is
    # claimed exactly once; it does time out after charging (30%).
    provider = payments.FlakyProvider(bouncer.connect, seed=3, refuse=0, timeout_before_charge=0)
    service = CountingService(clients.borrow, provider, scope=scope, pending_wait=60)
    rng = random.Random(3)
    requests = {f"order-{n}-{uuid.uuid4()}": {"customer": f"customer-{n}", "amount": rng.randrange(100, 9999),
                                             "currency": "EUR"} for n in range(KEYS)}

    def send(key, request, seed, network):
        client_rng = random.Random(seed)
        attempts = []
        for senders in ROUNDS:
            sent = [(network.submit(service.pay, key, request), client_rng.random() < RESPONSE_LOSS)
                    for _ in range(senders)]
            attempts += [future for future, _ in sent]
            answered = [future for future, lost in sent if not lost]
            if answered:
                answered[0].result()
                break
            time.sleep(CLIENT_TIMEOUT)
        return attempts

    try:
        with Sampler(bouncer) as sampler:
            with ThreadPoolExecutor(CLIENTS) as network, ThreadPoolExecutor(KEYS) as senders:
                futures = {key: senders.submit(send, key, request, index, network)
                           for index, (key, request) in enumerate(requests.items())}
                attempts = {key: future.result() for key, future in futures.items()}
            replies = {key: [future.result() for future in futures] for key, futures in attempts.items()}
    finally:
        clients.close()

    total = sum(map(len, replies.values()))
    spread = sum(len(backends) for backends in service.backends.values()) / KEYS
    print(f"# {total} attempts for {KEYS} keys from {CLIENTS} client connections;"
          f" at most {sampler.max_server_backends} server connections and {sampler.max_clients}"
          f" clients at pgbouncer ({sampler.samples} samples); claims of one key ran on"
          f" {spread:.1f} server connections on average; events {dict(sorted(service.counts.items()))}")
    with psycopg.connect("", autocommit=True) as direct:
        charged = dict(direct.execute(
            "SELECT split_part(reference, '/', 2), count(*) FROM examples.ledger"
            " WHERE reference LIKE %s GROUP BY 1", (scope + "/%",)).fetchall())
        for key in requests:
            assert service.claims[key] == 1, f"{key}: claimed {service.claims[key]} times"
            assert charged.get(key) == 1, f"{key}: charged {charged.get(key)} times"
            kinds = [reply.kind for reply in replies[key]]
            assert kinds.count("charged") == 1 and set(kinds) <= {"charged", "replayed"}, f"{key}: {kinds}"
            first = next(reply for reply in replies[key] if reply.kind == "charged")
            for reply in replies[key]:
                assert reply.outcome == first.outcome and reply.status == "succeeded", (key, reply, first)
            stored = direct.execute("SELECT status, outcome FROM idempotency.lookup(%s, %s)",
                                    (scope, key)).fetchone()
            assert stored == ("succeeded", first.outcome), (key, stored)
    assert total > KEYS, "no retries were sent"
    assert service.counts["pending"] > 0, "no retry ever met a pending claim"
    assert 0 < sampler.max_server_backends <= POOL_SIZE, sampler.max_server_backends
    assert sampler.max_clients > 2 * POOL_SIZE, f"only {sampler.max_clients} clients at once"


def test_every_function_through_the_pooler(bouncer):
    """Each call on a different client connection, so that consecutive calls
    of one key run on different server connections."""
    scope = f"pgb-fn-{uuid.uuid4().hex[:8]}"
    connections = [bouncer.connect() for _ in range(8)]
    turn = iter(range(10 ** 6))

    def call(sql, params=()):
        return connections[next(turn) % len(connections)].execute(sql, params).fetchall()

    def sqlstate_of(sql, params=()):
        try:
            call(sql, params)
        except psycopg.Error as error:
            return error.sqlstate
        return None

    try:
        # Open all the server connections (4 transactions at once), then let
        # pgbouncer rotate over them (server_round_robin = 1): a claim and its
        # record, release or lookup then run on different server connections.
        for connection in connections[:POOL_SIZE]:
            connection.execute("BEGIN")
            connection.execute("SELECT pg_backend_pid()")
        for connection in connections[:POOL_SIZE]:
            connection.execute("COMMIT")
        backends = set()
        for _ in range(12):
            backends.add(call("SELECT pg_backend_pid()")[0][0])
        assert len(backends) > 1, f"all calls ran on one server connection: {backends}"

        assert call("SELECT idempotency.claim_guard(%s, 'a', fingerprint => 'f1')", (scope,)) == [(True,)]
        assert call("SELECT idempotency.claim_guard(%s, 'a', fingerprint => 'f1')", (scope,)) == [(False,)]
        assert sqlstate_of("SELECT idempotency.claim_guard(%s, 'a', fingerprint => 'f2')", (scope,)) == "IK001"
        assert call("SELECT idempotency.record_outcome(%s, 'a', 'succeeded', '{\"n\": 1}')", (scope,)) == [(True,)]
        assert call("SELECT idempotency.record_outcome(%s, 'a', 'succeeded', '{\"n\":1}')", (scope,)) == [(False,)]
        assert sqlstate_of("SELECT idempotency.record_outcome(%s, 'a', 'failed', '{}')", (scope,)) == "IK003"
        assert call("SELECT status, outcome FROM idempotency.lookup(%s, 'a')", (scope,)) == \
            [("succeeded", {"n": 1})]

        ((claimed, token, status, outcome),) = call(
            "SELECT claimed, claim_token, status, outcome FROM idempotency.claim_or_lookup(%s, 'b')", (scope,))
        assert claimed and token > 0 and status == "pending" and outcome is None
        assert call("SELECT claimed, status FROM idempotency.claim_or_lookup(%s, 'b')", (scope,)) == \
            [(False, "pending")]
        assert sqlstate_of("SELECT idempotency.record_outcome(%s, 'b', 'succeeded', NULL, %s)",
                           (scope, token + 1 if token < 2 ** 62 else token - 1)) == "IK004"
        assert sqlstate_of("SELECT idempotency.release_guard(%s, 'b', %s)", (scope, token ^ 1)) == "IK004"
        assert call("SELECT idempotency.release_guard(%s, 'b', %s)", (scope, token)) == [(True,)]
        assert call("SELECT * FROM idempotency.lookup(%s, 'b')", (scope,)) == []
        assert sqlstate_of("SELECT idempotency.record_outcome(%s, 'b', 'succeeded')", (scope,)) == "IK002"
        ((claimed, token2),) = call("SELECT claimed, claim_token FROM idempotency.claim_or_lookup(%s, 'b')", (scope,))
        assert claimed and token2 != token
        assert call("SELECT idempotency.record_outcome(%s, 'b', 'failed', %s, %s)",
                    (scope, Jsonb({"error": "declined"}), token2)) == [(True,)]
        assert call("SELECT claimed, status, outcome FROM idempotency.claim_or_lookup(%s, 'b')", (scope,)) == \
            [(False, "failed", {"error": "declined"})]

        # Exactly once for a local effect: claim and write in one transaction,
        # which pgbouncer keeps on one server connection until it ends.
        connection = connections[0]
        for attempt in range(3):
            with connection.transaction():
                if connection.execute("SELECT idempotency.claim_guard(%s, 'c')", (scope,)).fetchone()[0]:
                    connection.execute("SELECT idempotency.record_outcome(%s, 'c', 'succeeded', %s)",
                                       (scope, Jsonb({"attempt": attempt})))
        assert call("SELECT outcome FROM idempotency.lookup(%s, 'c')", (scope,)) == [({"attempt": 0},)]
        # A rolled back claim leaves nothing behind.
        try:
            with connection.transaction():
                connection.execute("SELECT idempotency.claim_guard(%s, 'd')", (scope,))
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        assert call("SELECT * FROM idempotency.lookup(%s, 'd')", (scope,)) == []
        # An explicit ttl instead of a session SET of idempotency.default_ttl
        # (a session SET would stay on whichever server connection ran it).
        ((expires_in,),) = call(
            "SELECT expires_at - claimed_at FROM idempotency.claim_or_lookup(%s, 'e', ttl => '2 hours')", (scope,))
        assert expires_in.total_seconds() == 7200, expires_in
        # SET LOCAL lasts for its transaction, which stays on one server connection.
        with connection.transaction():
            connection.execute("SET LOCAL idempotency.default_ttl = '3h'")
            ((expires_in,),) = connection.execute(
                "SELECT expires_at - claimed_at FROM idempotency.claim_or_lookup(%s, 'f')", (scope,)).fetchall()
        assert expires_in.total_seconds() == 3 * 3600, expires_in
    finally:
        for connection in connections:
            connection.close()


def test_stale_owner_through_the_pooler(bouncer):
    scope = f"pgb-stale-{uuid.uuid4().hex[:8]}"
    provider = payments.FlakyProvider(bouncer.connect, refuse=0, timeout_after_charge=0, timeout_before_charge=0)
    stalled = threading.Event()

    def stall(_key):
        stalled.set()
        time.sleep(3.0)

    old_owner = payments.PaymentService(bouncer.connect, provider, scope=scope, lease="300 milliseconds",
                                        after_charge=stall)
    new_owner = payments.PaymentService(bouncer.connect, provider, scope=scope, lease="300 milliseconds")
    key = str(uuid.uuid4())
    request = {"customer": "bob", "amount": 700, "currency": "EUR"}
    with ThreadPoolExecutor(1) as pool:
        old_reply = pool.submit(old_owner.pay, key, request)
        assert stalled.wait(5)
        time.sleep(0.5)
        new_reply = new_owner.pay(key, request)
        old_reply = old_reply.result()
    assert new_reply.kind == "charged" and old_reply.kind == "superseded", (new_reply, old_reply)
    assert old_reply.outcome == new_reply.outcome
    with psycopg.connect("", autocommit=True) as direct:
        assert direct.execute("SELECT count(*) FROM examples.ledger WHERE reference = %s",
                              (f"{scope}/{key}",)).fetchone()[0] == 1


def main():
    tap = Tap()
    try:
        bouncer = Bouncer()
    except Exception as error:
        tap.check("pgbouncer starts", lambda: (_ for _ in ()).throw(error))
        return tap.finish()
    try:
        tap.check(f"pgbouncer: pool_mode = transaction, default_pool_size = {POOL_SIZE}",
                  lambda: test_pooler_is_in_transaction_mode(bouncer))
        tap.check(f"{CLIENTS} clients over {POOL_SIZE} server connections, {KEYS} keys x up to 5 attempts:"
                  " one claim and one charge per key, correct replays",
                  lambda: test_payments_through_the_pooler(bouncer))
        tap.check("every client function through the pooler (claim_guard, claim_or_lookup, record_outcome,"
                  " lookup, release_guard, transactions)", lambda: test_every_function_through_the_pooler(bouncer))
        tap.check("IK004 through the pooler: a stale owner stops, one charge",
                  lambda: test_stale_owner_through_the_pooler(bouncer))
    finally:
        bouncer.stop()
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
