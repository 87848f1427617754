"""Charge a card at most once per idempotency key, with psycopg 3 and the idempotency extension.

The flow of every example in examples/ (see examples/README.md):

1. claim_or_lookup(scope, key, fingerprint => sha256 of the canonical request,
   attempt => a UUID made for this attempt), in its own committed transaction,
   BEFORE calling the payment provider; if the connection breaks before the
   answer arrives, claim again with the same attempt: a claim that committed
   is recognised as this attempt's own;
2. claimed: call the provider; it may time out AFTER charging, so on a timeout
   ask it whether the charge went through (by the reference we passed);
3. record_outcome(scope, key, status, outcome, claim_token) so every retry can
   be answered with the first result;
4. not claimed: 'pending' -> the first attempt is in flight, wait and ask again;
   'succeeded'/'failed' -> replay the stored outcome.

SQLSTATEs (README.md, "Errors"): IK001 -> reject, the key was reused for a
different request; IK004 -> stop, another claim owns the key now; 40001, 40P01
and 55P03 -> retry the statement.

Connects with the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
"""
import contextlib
import hashlib
import json
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Optional

import psycopg
from psycopg.types.json import Jsonb

# What to do about an error, by SQLSTATE.
REJECT = "reject"  # IK001: the key was used before for a different request
STOP = "stop"  # IK004: another claim took the key over; do not overwrite its result
RETRY = "retry"  # transient: run the statement again
FAIL = "fail"  # anything else is a bug or an outage: let it propagate

RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}


def classify(sqlstate: Optional[str]) -> str:
    if sqlstate == "IK001":
        return REJECT
    if sqlstate == "IK004":
        return STOP
    if sqlstate in RETRYABLE_SQLSTATES:
        return RETRY
    return FAIL


def fingerprint(request: dict) -> str:
    """sha256 of the canonical request: sorted keys, no white space."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


# ---------------------------------------------------------------------------
# The payment provider: a stub that charges into examples.ledger and is flaky.


class ProviderRefused(Exception):
    """The provider could not be reached: nothing was charged."""


class ProviderTimeout(Exception):
    """No answer in time: the charge may or may not have happened."""


class CardDeclined(Exception):
    """The provider answered: the card was declined (nothing charged)."""


class FlakyProvider:
    """Charges every call it gets (it does not deduplicate), and is unreliable:
    it may refuse the connection before charging, time out after charging, or
    lose the request and time out without charging. Customers whose name
    starts with 'declined' are always declined."""

    def __init__(self, connect, seed=0, latency=(0.04, 0.08), refuse=0.1,
                 timeout_after_charge=0.3, timeout_before_charge=0.05):
        self._connect = connect
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.latency = latency
        self.refuse = refuse
        self.timeout_after_charge = timeout_after_charge
        self.timeout_before_charge = timeout_before_charge

    def _draw(self):
        with self._lock:
            return self._rng.random(), self._rng.uniform(*self.latency)

    def charge(self, reference: str, customer: str, amount: int) -> dict:
        draw, latency = self._draw()
        if draw < self.refuse:
            raise ProviderRefused("connection refused")
        time.sleep(latency)
        if customer.startswith("declined"):
            raise CardDeclined(customer)
        if draw < self.refuse + self.timeout_before_charge:
            raise ProviderTimeout("request lost before the provider saw it")
        with self._connect() as conn:
            charge_id = conn.execute(
                "INSERT INTO examples.ledger (reference, customer, amount)"
                " VALUES (%s, %s, %s) RETURNING charge_id",
                (reference, customer, amount),
            ).fetchone()[0]
        if draw < self.refuse + self.timeout_before_charge + self.timeout_after_charge:
            raise ProviderTimeout("charged, but the answer was lost")
        return {"charge_id": charge_id, "customer": customer, "amount": amount}

    def find_charge(self, reference: str) -> Optional[dict]:
        """What the provider charged for a reference (the reconciliation call)."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT charge_id, customer, amount FROM examples.ledger"
                " WHERE reference = %s ORDER BY charge_id LIMIT 1",
                (reference,),
            ).fetchone()
        if row is None:
            return None
        return {"charge_id": row[0], "customer": row[1], "amount": row[2]}


# ---------------------------------------------------------------------------
# The payment service.


@dataclass
class Reply:
    """What the service answers one attempt."""

    kind: str  # 'charged' (this attempt did it), 'replayed', 'in_progress', 'rejected', 'superseded'
    status: Optional[str] = None  # 'succeeded' or 'failed' (the recorded outcome's status)
    outcome: Optional[dict] = None  # the recorded outcome, identical for every retry
    error: Optional[str] = None


class Heartbeat:
    """Keeps a claim's lease running while its owner works: extend_lease()
    every `every` seconds, from a connection of its own. `lost` is set when
    the guard is no longer this owner's (IK004: taken over; IK002: gone)."""

    def __init__(self, connect, scope, key, claim_token, lease, every):
        self._connect = connect
        self._beat = (scope, key, claim_token, lease)
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.beats = 0
        self.lost = False

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        with self._connect() as conn:
            while not self._stop.wait(self._every):
                try:
                    conn.execute("SELECT idempotency.extend_lease(%s, %s, %s, %s)", self._beat)
                    self.beats += 1
                except psycopg.Error as error:
                    if error.sqlstate in ("IK002", "IK004"):
                        self.lost = True
                        return
                    # Anything else (a lost connection, a timeout): the next
                    # beat tries again while the lease still runs.


class PaymentService:
    """pay() charges a request at most once per idempotency key.

    lease: None (the default) is strict at-most-once: a pending claim is never
    taken over. With a lease, a claim pending longer than that is presumed dead
    and may be taken over; the new owner then asks the provider first whether
    the old owner's charge went through, and the old owner, if it was only
    slow, gets IK004 when it records and stops.

    heartbeat: with a lease, seconds between extend_lease() calls while the
    provider is called, so a slow but live owner keeps its claim and the lease
    can be short (a dead owner's key is free again a lease later).
    """

    def __init__(self, connect, provider, scope="payments", lease=None, heartbeat=None,
                 pending_wait=10.0, poll_interval=0.02, after_charge=None,
                 retry_safe_claims=True):
        self.connect = connect
        self.provider = provider
        self.scope = scope
        self.lease = lease
        self.heartbeat = heartbeat
        self.pending_wait = pending_wait
        self.poll_interval = poll_interval
        self.after_charge = after_charge  # test hook: called after the provider answered
        # Claim with an attempt id, so a claim whose answer was lost can be
        # retried (False only for the tests' control run).
        self.retry_safe_claims = retry_safe_claims
        self.counts = Counter()  # events, for the tests and the curious
        self._counts_lock = threading.Lock()

    def _count(self, event, times=1):
        with self._counts_lock:
            self.counts[event] += times

    def _retrying(self, conn, sql, params):
        """One statement in its own transaction, run again on 40001/40P01/55P03."""
        for attempt in range(50):
            try:
                return conn.execute(sql, params).fetchone()
            except psycopg.Error as error:
                if classify(error.sqlstate) != RETRY:
                    raise
                self._count(error.sqlstate)
                time.sleep(min(0.01 * 2 ** attempt, 0.2) * random.random())
        raise RuntimeError(f"still failing after 50 attempts: {sql}")

    def claim(self, conn, key, request_fingerprint, attempt):
        """claim_or_lookup: (claimed, claim_token, status, outcome)."""
        return conn.execute(
            "SELECT claimed, claim_token, status, outcome FROM idempotency.claim_or_lookup("
            "%s, %s, fingerprint => %s, lease => %s, attempt => %s)",
            (self.scope, key, request_fingerprint, self.lease, attempt),
        ).fetchone()

    def pay(self, key: str, request: dict) -> Reply:
        request_fingerprint = fingerprint(request)
        # One id for this attempt, made before its first claim: sent again
        # only to retry a claim whose answer was lost, never for another pay().
        attempt = str(uuid.uuid4()) if self.retry_safe_claims else None
        deadline = time.monotonic() + self.pending_wait
        backoff = 0
        # connect() gives a context manager (a connection, or one borrowed from
        # a pool); a connection that broke is replaced, and all are left here.
        with contextlib.ExitStack() as connections:
            conn = connections.enter_context(self.connect())
            while True:
                try:
                    claimed, claim_token, status, outcome = self.claim(
                        conn, key, request_fingerprint, attempt)
                except psycopg.Error as error:
                    if conn.broken:
                        # The claim may have committed with its answer lost:
                        # claim again, same attempt, on a new connection.
                        self._count("claim_answer_lost")
                        conn = connections.enter_context(self.connect())
                        continue
                    action = classify(error.sqlstate)
                    if action == REJECT:
                        self._count("IK001")
                        return Reply("rejected", error="key reused for a different request")
                    if action != RETRY:
                        raise
                    self._count(error.sqlstate)
                    backoff += 1
                    time.sleep(min(0.01 * 2 ** backoff, 0.2) * random.random())
                    continue
                if not claimed:
                    if status != "pending":
                        return Reply("replayed", status, outcome)
                    # The first attempt is still in flight: wait for its outcome.
                    self._count("pending")
                    if time.monotonic() > deadline:
                        return Reply("in_progress", "pending")
                    time.sleep(self.poll_interval)
                    continue
                self._count("claimed")
                result = self._charge_alive(key, request, claim_token)
                if result is None:
                    # Known not charged: give the key back so this or a later
                    # attempt can claim it again.
                    if not self._release(conn, key, claim_token):
                        return self._superseded(conn, key)
                    continue
                status, outcome = result
                return self._record(conn, key, status, outcome, claim_token)

    def _charge_alive(self, key, request, claim_token):
        """_charge, heartbeating the claim's lease meanwhile if asked to."""
        if self.lease is None or self.heartbeat is None:
            return self._charge(key, request)
        with Heartbeat(self.connect, self.scope, key, claim_token, self.lease,
                       self.heartbeat) as heartbeat:
            result = self._charge(key, request)
        self._count("heartbeats", heartbeat.beats)
        return result

    def _charge(self, key, request):
        """(status, outcome), or None when the provider surely did not charge."""
        reference = f"{self.scope}/{key}"
        if self.lease is not None:
            # This claim may have taken over from an owner presumed dead that
            # did charge: ask before charging again.
            earlier = self.provider.find_charge(reference)
            if earlier is not None:
                self._count("reconciled")
                return "succeeded", earlier
        try:
            charge = self.provider.charge(reference, request["customer"], request["amount"])
        except CardDeclined:
            return "failed", {"error": "card_declined", "customer": request["customer"]}
        except ProviderRefused:
            self._count("refused")
            return None
        except ProviderTimeout:
            # The charge may have gone through: ask, never charge blindly again.
            self._count("timeout")
            charge = self.provider.find_charge(reference)
            if charge is None:
                return None
            self._count("reconciled")
        if self.after_charge is not None:
            self.after_charge(key)
        return "succeeded", charge

    def _record(self, conn, key, status, outcome, claim_token):
        try:
            self._retrying(
                conn,
                "SELECT idempotency.record_outcome(%s, %s, %s, %s, %s)",
                (self.scope, key, status, Jsonb(outcome), claim_token),
            )
        except psycopg.Error as error:
            if classify(error.sqlstate) != STOP:
                raise
            return self._superseded(conn, key)
        self._count("recorded")
        return Reply("charged", status, outcome)

    def _release(self, conn, key, claim_token):
        try:
            self._retrying(conn, "SELECT idempotency.release_guard(%s, %s, %s)",
                           (self.scope, key, claim_token))
        except psycopg.Error as error:
            if classify(error.sqlstate) != STOP:
                raise
            return False
        return True

    def _superseded(self, conn, key):
        """IK004: a later claim owns the key. Stop, and answer with what it recorded."""
        self._count("IK004")
        row = conn.execute(
            "SELECT status, outcome FROM idempotency.lookup(%s, %s)", (self.scope, key)
        ).fetchone()
        if row is None or row[0] == "pending":
            return Reply("in_progress", "pending")
        return Reply("superseded", row[0], row[1])


def connector(**kwargs):
    """A connect() for the libpq environment; kwargs go to psycopg.connect
    (behind a transaction-pooling pgbouncer, pass prepare_threshold=None)."""

    def connect():
        return psycopg.connect("", autocommit=True, **kwargs)

    return connect
