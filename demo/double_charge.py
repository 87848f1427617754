#!/usr/bin/python3
"""Double charge simulator: a payment service behind a network that loses responses.

Each customer pays $100 once. The payment service charges the card at a
payment provider (the demo.provider_charges ledger) and answers, but half of
the answers are lost: the client times out and retries, and from the second
try on it sends from two threads at once (the app's automatic retry and the
customer clicking Pay again). The client's timeout is shorter than the
provider's latency, so retries arrive while the first charge is still in
flight.

The same network (same random seed) runs twice: once with a service that just
charges, once with a service that guards each charge with
idempotency.claim_or_lookup. In the guarded run the service's own link to the
database is lossy too: some claims commit but their answer never arrives. The
service made an attempt id before its first claim and claims again with it,
so it gets its own claim back instead of waiting on a key that only it holds.
Exits 1 if the guarded run charges any customer other than exactly once.

Connects with the libpq environment (PGHOST, PGPORT, PGUSER) to database
postgres, which must have the idempotency extension.
"""
import hashlib
import json
import random
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
from psycopg.types.json import Jsonb

CUSTOMERS = ["ann", "bob", "cal", "dan", "eve", "fay", "gil", "hal"]
STARTING_BALANCE = 1000
PAYMENT_AMOUNT = 100
RESPONSE_LOSS_RATE = 0.5
SEND_ROUNDS = 3  # the first send, then up to two rounds of two concurrent retries
MAX_ATTEMPTS = 1 + 2 * (SEND_ROUNDS - 1)
PROVIDER_LATENCY = 0.2  # seconds
CLIENT_TIMEOUT = 0.05  # shorter than PROVIDER_LATENCY: retries race the charge in flight
PENDING_POLL_INTERVAL = 0.02
PENDING_WAIT_LIMIT = 10.0
SEED = 1
GUARD_SCOPE = "payments"
# The service's link to the database loses this share of first claims'
# answers (after the claim committed): the service retries the claim.
CLAIM_ANSWER_LOSS_RATE = 0.3
claim_link = random.Random(SEED)
claim_link_lock = threading.Lock()


@dataclass
class Response:
    charge: dict  # {"charge_id": ..., "amount": ...}
    replayed: bool  # answered from the recorded outcome, without charging
    claim_answers_lost: int = 0  # claims retried by attempt after a lost answer


@dataclass
class Payment:
    customer: str
    attempts: list = field(default_factory=list)  # a future per attempt sent
    lost: int = 0


@dataclass
class ScenarioResult:
    payments: list
    charge_ids: dict  # customer -> ids of the charges the provider made
    balances: dict  # customer -> final balance


def connect():
    return psycopg.connect("dbname=postgres", autocommit=True)


def create_schema():
    with connect() as conn:
        conn.execute("DROP SCHEMA IF EXISTS demo CASCADE")
        conn.execute("CREATE SCHEMA demo")
        conn.execute(
            "CREATE TABLE demo.accounts (customer text PRIMARY KEY, balance integer NOT NULL)"
        )
        conn.execute(
            """CREATE TABLE demo.provider_charges (
                   charge_id serial PRIMARY KEY,
                   customer text NOT NULL REFERENCES demo.accounts,
                   amount integer NOT NULL,
                   idempotency_key text NOT NULL,
                   charged_at timestamptz NOT NULL DEFAULT now())"""
        )


def reset_accounts():
    with connect() as conn, conn.transaction():
        conn.execute("TRUNCATE demo.provider_charges, demo.accounts RESTART IDENTITY")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO demo.accounts VALUES (%s, %s)",
                [(customer, STARTING_BALANCE) for customer in CUSTOMERS],
            )


def charge_at_provider(conn, key, request):
    """The external payment provider: slow, and it charges every call it gets."""
    time.sleep(PROVIDER_LATENCY)
    with conn.transaction():
        charge_id = conn.execute(
            "INSERT INTO demo.provider_charges (customer, amount, idempotency_key)"
            " VALUES (%s, %s, %s) RETURNING charge_id",
            (request["customer"], request["amount"], key),
        ).fetchone()[0]
        conn.execute(
            "UPDATE demo.accounts SET balance = balance - %s WHERE customer = %s",
            (request["amount"], request["customer"]),
        )
    return {"charge_id": charge_id, "amount": request["amount"]}


def pay_without_guard(key, request):
    with connect() as conn:
        return Response(charge_at_provider(conn, key, request), replayed=False)


def claim_answer_lost():
    with claim_link_lock:
        return claim_link.random() < CLAIM_ANSWER_LOSS_RATE


def claim(key, fingerprint, attempt, lose_answer):
    """claim_or_lookup on a connection of its own: (claimed, claim_token,
    status, outcome), or None when the answer was lost after the claim committed."""
    with connect() as conn:
        answer = conn.execute(
            "SELECT claimed, claim_token, status, outcome"
            " FROM idempotency.claim_or_lookup(%s, %s, fingerprint => %s, attempt => %s)",
            (GUARD_SCOPE, key, fingerprint, attempt),
        ).fetchone()
    return None if lose_answer else answer


def pay_with_guard(key, request):
    # The fingerprint makes the guard refuse (IK001) a key reused for another request.
    fingerprint = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
    # One id per attempt, made before its first claim, sent again only to retry
    # a claim whose answer was lost.
    attempt = str(uuid.uuid4())
    lost = 0
    deadline = time.monotonic() + PENDING_WAIT_LIMIT
    with connect() as conn:
        while True:
            answer = claim(key, fingerprint, attempt, lose_answer=lost == 0 and claim_answer_lost())
            if answer is None:
                lost += 1  # the claim may have committed: claim again, same attempt
                continue
            claimed, claim_token, status, outcome = answer
            if claimed:
                try:
                    charge = charge_at_provider(conn, key, request)
                except Exception:
                    # The charge's transaction rolled back: let a retry claim the key.
                    conn.execute(
                        "SELECT idempotency.release_guard(%s, %s, %s)",
                        (GUARD_SCOPE, key, claim_token),
                    )
                    raise
                conn.execute(
                    "SELECT idempotency.record_outcome(%s, %s, 'succeeded', %s, %s)",
                    (GUARD_SCOPE, key, Jsonb(charge), claim_token),
                )
                return Response(charge, replayed=False, claim_answers_lost=lost)
            if status != "pending":
                return Response(outcome, replayed=True, claim_answers_lost=lost)
            # Another attempt holds the key and is charging: wait for its outcome.
            if time.monotonic() > deadline:
                raise TimeoutError(f"payment {key} still pending after {PENDING_WAIT_LIMIT}s")
            time.sleep(PENDING_POLL_INTERVAL)


def make_payment(customer, pay, network):
    """One customer's payment, retried until an answer arrives or the rounds run out."""
    rng = random.Random(f"{SEED}:{customer}")
    key = str(uuid.uuid4())  # one key per payment, shared by all its retries
    request = {"customer": customer, "amount": PAYMENT_AMOUNT, "currency": "USD"}
    payment = Payment(customer)
    for round_number in range(SEND_ROUNDS):
        senders = 1 if round_number == 0 else 2
        sent = [
            (network.submit(pay, key, request), rng.random() < RESPONSE_LOSS_RATE)
            for _ in range(senders)
        ]
        payment.attempts += [attempt for attempt, _ in sent]
        payment.lost += sum(lost for _, lost in sent)
        answered = [attempt for attempt, lost in sent if not lost]
        if answered:
            answered[0].result()
            break
        time.sleep(CLIENT_TIMEOUT)
    return payment


def run_scenario(pay):
    reset_accounts()
    # Leaving the network's block waits for the attempts whose answers were lost.
    with ThreadPoolExecutor(len(CUSTOMERS) * MAX_ATTEMPTS) as network:
        with ThreadPoolExecutor(len(CUSTOMERS)) as clients:
            payments = list(
                clients.map(lambda customer: make_payment(customer, pay, network), CUSTOMERS)
            )
    with connect() as conn:
        charge_ids = {customer: [] for customer in CUSTOMERS}
        for customer, ids in conn.execute(
            "SELECT customer, array_agg(charge_id ORDER BY charge_id)"
            " FROM demo.provider_charges GROUP BY customer"
        ):
            charge_ids[customer] = ids
        balances = dict(conn.execute("SELECT customer, balance FROM demo.accounts").fetchall())
    return ScenarioResult(payments, charge_ids, balances)


def dollars(amount):
    return f"${amount:,}"


def print_scenario(title, result):
    attempts = [attempt for payment in result.payments for attempt in payment.attempts]
    responses = [attempt.result() for attempt in attempts]
    charges = sum(len(ids) for ids in result.charge_ids.values())
    balance = sum(result.balances.values())
    expected = len(CUSTOMERS) * (STARTING_BALANCE - PAYMENT_AMOUNT)
    print(title)
    print(f"  attempts sent        {len(attempts)} ({len(attempts) - len(CUSTOMERS)} retries)")
    print(f"  responses lost       {sum(payment.lost for payment in result.payments)}")
    print(f"  outcomes replayed    {sum(response.replayed for response in responses)}")
    lost_claims = sum(response.claim_answers_lost for response in responses)
    if lost_claims:
        print(f"  claim answers lost   {lost_claims} (each claimed again with its attempt id)")
    print(f"  provider charges     {charges}")
    print(
        "  times charged        "
        + ", ".join(f"{customer} {len(ids)}" for customer, ids in result.charge_ids.items())
    )
    print(f"  total balance        {dollars(balance)} (expected {dollars(expected)})")


def report_without_guard(result):
    overcharged = [ids for ids in result.charge_ids.values() if len(ids) > 1]
    if overcharged:
        extra = sum(len(ids) - 1 for ids in overcharged) * PAYMENT_AMOUNT
        print(
            f"  => without the guard: {len(overcharged)} of {len(CUSTOMERS)} customers"
            f" charged more than once ({dollars(extra)} over-charged)"
        )
    else:
        print("  => without the guard: by chance no retry charged twice this time")


def guarded_run_errors(result):
    errors = []
    for payment in result.payments:
        ids = result.charge_ids[payment.customer]
        if len(ids) != 1:
            errors.append(f"{payment.customer} charged {len(ids)} times")
            continue
        answers = {attempt.result().charge["charge_id"] for attempt in payment.attempts}
        if answers != set(ids):
            errors.append(f"{payment.customer} got answers naming charges {sorted(answers)}")
        if result.balances[payment.customer] != STARTING_BALANCE - PAYMENT_AMOUNT:
            errors.append(f"{payment.customer} has balance {result.balances[payment.customer]}")
    return errors


def main():
    print(
        f"Double charge simulator: {len(CUSTOMERS)} customers each pay {dollars(PAYMENT_AMOUNT)}"
        f" once, starting from {dollars(STARTING_BALANCE)}."
    )
    print(
        f"{RESPONSE_LOSS_RATE:.0%} of responses are lost; a timed-out payment is retried"
        " from two threads at once,"
    )
    print("while the first charge is still in flight. Both runs see the same network.")
    print()
    create_schema()

    unguarded = run_scenario(pay_without_guard)
    print_scenario("Without the guard: every attempt charges the card", unguarded)
    report_without_guard(unguarded)
    print()

    guarded = run_scenario(pay_with_guard)
    print_scenario("With the guard: idempotency.claim_or_lookup before each charge", guarded)
    errors = guarded_run_errors(guarded)
    if errors:
        print("  => with the guard: FAILED: " + "; ".join(errors))
        return 1
    print(
        f"  => with the guard: every customer charged exactly once"
        f" ({len(CUSTOMERS)} charges for {len(CUSTOMERS)} payments)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
