#!/usr/bin/python3
"""Tests of payments.py against a running cluster (libpq environment).

Prints TAP (`ok N - name` / `not ok N - name`, diagnostics as `# ...`) and
exits non-zero if any check failed. Every run uses fresh scopes, so it can run
again on the same database.
"""
import os
import random
import sys
import threading
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
from psycopg.types.json import Jsonb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import payments  # noqa: E402

KEYS = 20
ROUNDS = (1, 2, 2)  # the first send, then two rounds of two concurrent retries: 5 attempts
RESPONSE_LOSS = 0.5
CLIENT_TIMEOUT = 0.03  # shorter than the provider's latency: retries race the first attempt
NETWORK_THREADS = 32  # attempts in flight at once (each holds a connection)
# How long an attempt waits for a pending first attempt: generous, so that a
# loaded machine does not turn a slow first attempt into a failed test.
PENDING_WAIT = 60


class Tap:
    def __init__(self):
        self.number = 0
        self.failed = 0

    def check(self, name, body):
        self.number += 1
        try:
            body()
        except Exception as error:  # an assertion or anything unexpected
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


def connect(**kwargs):
    return psycopg.connect("", autocommit=True, **kwargs)


def new_scope(name):
    return f"py-{name}-{uuid.uuid4().hex[:8]}"


def charges_by_reference(scope):
    with connect() as conn:
        rows = conn.execute(
            "SELECT reference, array_agg(charge_id ORDER BY charge_id) FROM examples.ledger"
            " WHERE reference LIKE %s GROUP BY reference",
            (scope + "/%",),
        ).fetchall()
    return {reference.split("/", 1)[1]: ids for reference, ids in rows}


def requests_for(count, seed):
    rng = random.Random(seed)
    result = {}
    for number in range(count):
        customer = "declined-eve" if number % 7 == 3 else f"customer-{number}"
        result[f"order-{number}-{uuid.uuid4()}"] = {
            "customer": customer, "amount": rng.randrange(100, 10000), "currency": "EUR"}
    return result


def send(pay, key, request, rng, network):
    """A client behind a network that loses responses: it retries, concurrently
    from the second round on, until an answer arrives or the rounds run out.
    Returns the futures of every attempt sent (all of them run to the end)."""
    attempts = []
    for senders in ROUNDS:
        sent = [(network.submit(pay, key, request), rng.random() < RESPONSE_LOSS)
                for _ in range(senders)]
        attempts += [future for future, _ in sent]
        answered = [future for future, lost in sent if not lost]
        if answered:
            answered[0].result()
            break
        time.sleep(CLIENT_TIMEOUT)
    return attempts


def run_clients(pay, requests, seed):
    """Every payment from its own client, all at once. {key: [replies]}."""
    with ThreadPoolExecutor(NETWORK_THREADS) as network, ThreadPoolExecutor(len(requests)) as clients:
        sent = {key: clients.submit(send, pay, key, request, random.Random(f"{seed}:{key}"), network)
                for key, request in requests.items()}
        attempts = {key: future.result() for key, future in sent.items()}
    return {key: [future.result() for future in futures] for key, futures in attempts.items()}


def test_unguarded_run_double_charges():
    """The control: the same clients against a service without the guard, which
    retries a timed-out charge blindly. The check must see double charges, or
    it could not catch them in the guarded run either."""
    scope = new_scope("unguarded")
    provider = payments.FlakyProvider(connect, seed=1)

    def pay_blindly(key, request):
        for _ in range(20):
            try:
                return provider.charge(f"{scope}/{key}", request["customer"], request["amount"])
            except (payments.ProviderRefused, payments.ProviderTimeout):
                continue
            except payments.CardDeclined:
                return {"error": "card_declined"}
        raise RuntimeError("provider unreachable")

    run_clients(pay_blindly, requests_for(KEYS, 1), seed=1)
    charged = charges_by_reference(scope)
    twice = {key: ids for key, ids in charged.items() if len(ids) > 1}
    print(f"# unguarded: {sum(map(len, charged.values()))} charges for {len(charged)} keys,"
          f" {len(twice)} keys charged more than once")
    assert twice, "no key was charged twice without the guard: the scenario proves nothing"


def test_guarded_run_charges_once():
    scope = new_scope("guarded")
    provider = payments.FlakyProvider(connect, seed=2)
    service = payments.PaymentService(payments.connector(), provider, scope=scope,
                                      pending_wait=PENDING_WAIT)
    requests = requests_for(KEYS, 2)
    replies = run_clients(service.pay, requests, seed=2)
    charged = charges_by_reference(scope)
    attempts = sum(map(len, replies.values()))
    print(f"# guarded: {attempts} attempts for {KEYS} keys; events {dict(sorted(service.counts.items()))}")
    assert attempts > KEYS, "no retries were sent"
    with connect() as conn:
        for key, request in requests.items():
            declined = request["customer"].startswith("declined")
            ids = charged.get(key, [])
            assert len(ids) == (0 if declined else 1), f"{key}: charged {len(ids)} times {ids}"
            kinds = [reply.kind for reply in replies[key]]
            assert kinds.count("charged") == 1, f"{key}: replies {kinds}"
            assert set(kinds) <= {"charged", "replayed"}, f"{key}: replies {kinds}"
            first = next(reply for reply in replies[key] if reply.kind == "charged")
            for reply in replies[key]:
                assert (reply.status, reply.outcome) == (first.status, first.outcome), \
                    f"{key}: {reply} differs from the first reply {first}"
            if declined:
                assert first.status == "failed" and first.outcome["error"] == "card_declined", first
            else:
                assert first.status == "succeeded" and first.outcome["charge_id"] == ids[0], first
            stored = conn.execute("SELECT status, outcome FROM idempotency.lookup(%s, %s)",
                                  (scope, key)).fetchone()
            assert stored == (first.status, first.outcome), f"{key}: stored {stored}"
    # The scenario exercised what it is about.
    for event in ("pending", "timeout", "reconciled", "recorded"):
        assert service.counts[event] > 0, f"no {event!r} event: {service.counts}"


def test_key_reused_for_another_request():
    scope = new_scope("reuse")
    provider = payments.FlakyProvider(connect, refuse=0, timeout_after_charge=0,
                                      timeout_before_charge=0)
    service = payments.PaymentService(payments.connector(), provider, scope=scope)
    key = str(uuid.uuid4())
    first = service.pay(key, {"customer": "ann", "amount": 500, "currency": "EUR"})
    assert first.kind == "charged", first
    # Same request, fields in another order: the canonical fingerprint matches.
    again = service.pay(key, {"currency": "EUR", "amount": 500, "customer": "ann"})
    assert again.kind == "replayed" and again.outcome == first.outcome, again
    other = service.pay(key, {"customer": "ann", "amount": 5000, "currency": "EUR"})
    assert other.kind == "rejected" and "different request" in other.error, other
    assert service.counts["IK001"] == 1, service.counts
    assert len(charges_by_reference(scope)[key]) == 1


def test_stale_owner_stops_on_ik004():
    """With a lease, a claim pending past it may be taken over. The old owner
    (charged, then stalled before recording) gets IK004 and stops; the new
    owner asked the provider first and recorded the same charge."""
    scope = new_scope("stale")
    provider = payments.FlakyProvider(connect, refuse=0, timeout_after_charge=0,
                                      timeout_before_charge=0)
    stalled = threading.Event()

    def stall(_key):
        stalled.set()
        time.sleep(3.0)  # a long pause between the charge and record_outcome

    old_owner = payments.PaymentService(payments.connector(), provider, scope=scope,
                                        lease="300 milliseconds", after_charge=stall)
    new_owner = payments.PaymentService(payments.connector(), provider, scope=scope,
                                        lease="300 milliseconds")
    key = str(uuid.uuid4())
    request = {"customer": "bob", "amount": 700, "currency": "EUR"}
    with ThreadPoolExecutor(1) as pool:
        old_reply = pool.submit(old_owner.pay, key, request)
        assert stalled.wait(5), "the first owner never charged"
        time.sleep(0.5)  # past the lease
        new_reply = new_owner.pay(key, request)
        old_reply = old_reply.result()
    assert new_reply.kind == "charged" and new_owner.counts["reconciled"] == 1, \
        (new_reply, new_owner.counts)
    assert old_reply.kind == "superseded" and old_owner.counts["IK004"] == 1, \
        (old_reply, old_owner.counts)
    assert old_reply.outcome == new_reply.outcome, (old_reply, new_reply)
    assert len(charges_by_reference(scope)[key]) == 1


def slow_owner_and_competitor(heartbeat):
    """An owner whose provider call takes 1.5 s, with a 300 ms lease; a
    competitor asks for the same key 0.6 s in. Returns both replies, both
    services and the charges."""
    scope = new_scope("heartbeat" if heartbeat else "no_heartbeat")
    provider = payments.FlakyProvider(connect, refuse=0, timeout_after_charge=0,
                                      timeout_before_charge=0, latency=(1.5, 1.5))
    owner = payments.PaymentService(payments.connector(), provider, scope=scope,
                                    lease="300 milliseconds", heartbeat=heartbeat,
                                    pending_wait=PENDING_WAIT)
    competitor = payments.PaymentService(payments.connector(), provider, scope=scope,
                                         lease="300 milliseconds", heartbeat=heartbeat,
                                         pending_wait=PENDING_WAIT)
    key = str(uuid.uuid4())
    request = {"customer": "carol", "amount": 900, "currency": "EUR"}
    with ThreadPoolExecutor(1) as pool:
        owner_reply = pool.submit(owner.pay, key, request)
        time.sleep(0.6)  # twice the lease: without heartbeats it has run out
        competitor_reply = competitor.pay(key, request)
        owner_reply = owner_reply.result()
    return owner_reply, competitor_reply, owner, competitor, charges_by_reference(scope)[key]


def test_heartbeat_keeps_a_slow_owner():
    """With a heartbeat every 100 ms, the slow owner keeps its claim: the
    competitor waits for and replays its outcome, and the card is charged once."""
    owner_reply, competitor_reply, owner, competitor, charges = slow_owner_and_competitor(0.1)
    assert owner_reply.kind == "charged" and owner.counts["heartbeats"] >= 5, \
        (owner_reply, owner.counts)
    assert competitor_reply.kind == "replayed" and competitor.counts["claimed"] == 0, \
        (competitor_reply, competitor.counts)
    assert competitor_reply.outcome == owner_reply.outcome
    assert len(charges) == 1, charges


def test_short_lease_without_heartbeat_charges_twice():
    """The control: the same short lease without heartbeats lets the
    competitor take the live owner's claim over while its charge is in
    flight, and the card is charged twice. This is what heartbeats are for."""
    owner_reply, competitor_reply, owner, competitor, charges = slow_owner_and_competitor(None)
    assert competitor.counts["claimed"] == 1, competitor.counts
    assert len(charges) == 2, charges


class LosesFirstClaimAnswer(payments.PaymentService):
    """A service whose first claim commits but whose answer never arrives:
    the server ends the connection right after it (pg_terminate_backend), and
    the client only sees the connection break."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.answers_lost = 0

    def claim(self, conn, key, request_fingerprint, attempt):
        answer = super().claim(conn, key, request_fingerprint, attempt)
        if self.answers_lost == 0:
            self.answers_lost += 1
            with connect() as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
            conn.execute("SELECT 1")  # raises: the connection is gone, and the answer with it
        return answer


def lost_claim_answer(retry_safe_claims):
    scope = new_scope("lost-answer")
    provider = payments.FlakyProvider(connect, refuse=0, timeout_after_charge=0,
                                      timeout_before_charge=0)
    service = LosesFirstClaimAnswer(payments.connector(), provider, scope=scope,
                                    retry_safe_claims=retry_safe_claims, pending_wait=0.5)
    key = str(uuid.uuid4())
    reply = service.pay(key, {"customer": "fay", "amount": 300, "currency": "EUR"})
    with connect() as conn:
        stored = conn.execute("SELECT status FROM idempotency.lookup(%s, %s)", (scope, key)).fetchone()
    return reply, service, charges_by_reference(scope).get(key, []), stored


def test_lost_claim_answer_is_retried_by_attempt():
    """The claim commits, its answer is lost with the connection: the retry,
    with the same attempt id, gets the claim back and charges once."""
    reply, service, charges, stored = lost_claim_answer(retry_safe_claims=True)
    assert service.answers_lost == 1 and service.counts["claim_answer_lost"] == 1, service.counts
    assert reply.kind == "charged", reply
    assert len(charges) == 1, charges
    assert stored == ("succeeded",), stored


def test_lost_claim_answer_without_attempt_is_stuck():
    """The control: without an attempt id the retry finds its own claim
    pending, as if another attempt held it; nothing is charged and the key
    stays pending (the check above can fail)."""
    reply, service, charges, stored = lost_claim_answer(retry_safe_claims=False)
    assert service.counts["claim_answer_lost"] == 1, service.counts
    assert reply.kind == "in_progress" and service.counts["claimed"] == 0, (reply, service.counts)
    assert charges == [], charges
    assert stored == ("pending",), stored


def blocking_claim(scope, key, request, hold, outcome=None, commit=False):
    """Another session claims the key in an open transaction for `hold`
    seconds (recording `outcome` in it), then commits or rolls back."""
    claimed = threading.Event()

    def run():
        with psycopg.connect("") as conn:  # not autocommit: one open transaction
            conn.execute("SELECT claim_token FROM idempotency.claim_or_lookup(%s, %s, fingerprint => %s)",
                         (scope, key, payments.fingerprint(request)))
            if outcome is not None:
                conn.execute("SELECT idempotency.record_outcome(%s, %s, 'succeeded', %s)",
                             (scope, key, Jsonb(outcome)))
            claimed.set()
            time.sleep(hold)
            conn.commit() if commit else conn.rollback()

    thread = threading.Thread(target=run)
    thread.start()
    assert claimed.wait(5), "the blocking claim did not happen"
    return thread


def test_lock_timeout_is_retried():
    scope = new_scope("locked")
    provider = payments.FlakyProvider(connect, refuse=0, timeout_after_charge=0,
                                      timeout_before_charge=0)
    service = payments.PaymentService(payments.connector(options="-c lock_timeout=100ms"),
                                      provider, scope=scope)
    key = str(uuid.uuid4())
    request = {"customer": "cal", "amount": 900, "currency": "EUR"}
    blocker = blocking_claim(scope, key, request, hold=2.0, commit=False)
    reply = service.pay(key, request)
    blocker.join()
    assert service.counts["55P03"] >= 1, service.counts
    assert reply.kind == "charged", reply
    assert len(charges_by_reference(scope)[key]) == 1


def test_serialization_failure_is_retried():
    scope = new_scope("serial")
    provider = payments.FlakyProvider(connect, refuse=0, timeout_after_charge=0,
                                      timeout_before_charge=0)
    service = payments.PaymentService(
        payments.connector(options=r"-c default_transaction_isolation=repeatable\ read"),
        provider, scope=scope)
    key = str(uuid.uuid4())
    request = {"customer": "dan", "amount": 1100, "currency": "EUR"}
    outcome = {"charge_id": -1, "note": "charged by the other session"}
    blocker = blocking_claim(scope, key, request, hold=2.0, outcome=outcome, commit=True)
    reply = service.pay(key, request)
    blocker.join()
    assert service.counts["40001"] >= 1, service.counts
    assert reply.kind == "replayed" and reply.outcome == outcome, reply
    assert key not in charges_by_reference(scope)


def test_classify():
    assert payments.classify("IK001") == payments.REJECT
    assert payments.classify("IK004") == payments.STOP
    for code in ("40001", "40P01", "55P03"):
        assert payments.classify(code) == payments.RETRY
    for code in ("IK002", "IK003", "22023", "25006", "42501", None):
        assert payments.classify(code) == payments.FAIL


# The same request gives the same fingerprint in every example (python, node,
# cpp, psql, http): sha256 of the JSON with sorted keys, no white space, UTF-8.
SHARED_FINGERPRINT = "fee932217ae4fd82a30094ed5970309d51b0aa22f09f13d9a8ad03007f242730"


def test_fingerprint():
    request = {"customer": 'Zo\u00eb "Z" \u00dcnal\n\x01', "amount": 1250, "currency": "EUR"}
    assert payments.fingerprint(request) == SHARED_FINGERPRINT, payments.fingerprint(request)
    reordered = {"currency": "EUR", "amount": 1250, "customer": request["customer"]}
    assert payments.fingerprint(reordered) == SHARED_FINGERPRINT


def main():
    tap = Tap()
    tap.check("classify: SQLSTATE to behaviour", test_classify)
    tap.check("fingerprint: sha256 of the canonical request, as in the other examples", test_fingerprint)
    tap.check("control: without the guard, retries charge twice (the check can fail)",
              test_unguarded_run_double_charges)
    tap.check(f"{KEYS} keys x up to 5 concurrent attempts: one charge per key, every reply the first",
              test_guarded_run_charges_once)
    tap.check("IK001: a key reused for a different request is rejected, nothing charged",
              test_key_reused_for_another_request)
    tap.check("IK004: a stale owner stops, the new owner's outcome stands, one charge",
              test_stale_owner_stops_on_ik004)
    tap.check("extend_lease: a heartbeating slow owner keeps its claim, one charge",
              test_heartbeat_keeps_a_slow_owner)
    tap.check("control: the same short lease without heartbeats charges twice",
              test_short_lease_without_heartbeat_charges_twice)
    tap.check("attempt: a claim whose answer was lost is retried by its attempt, one charge",
              test_lost_claim_answer_is_retried_by_attempt)
    tap.check("control: without an attempt, the lost claim leaves the key pending, no charge",
              test_lost_claim_answer_without_attempt_is_stuck)
    tap.check("55P03: a claim blocked past lock_timeout is retried, then charges once",
              test_lock_timeout_is_retried)
    tap.check("40001: a REPEATABLE READ claim that lost the race is retried and replays",
              test_serialization_failure_is_retried)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
