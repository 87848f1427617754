'use strict';
// Tests of payments.js against a running cluster (libpq environment):
//   node --test test/
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { setTimeout: sleep } = require('node:timers/promises');
const { Pool, Client } = require('pg');
const payments = require('../payments');

const KEYS = 20;
const ROUNDS = [1, 2, 2]; // the first send, then two rounds of two concurrent retries: 5 attempts
const RESPONSE_LOSS = 0.5;
const CLIENT_TIMEOUT_MS = 30; // shorter than the provider's latency
// How long an attempt waits for a pending first attempt: generous, so that a
// loaded machine does not turn a slow first attempt into a failed test.
const PENDING_WAIT_MS = 60000;

const pools = [];
function newPool(options = {}) {
  const pool = new Pool({ max: 30, ...options });
  pools.push(pool);
  return pool;
}
after(() => Promise.all(pools.map((pool) => pool.end())));

const admin = newPool({ max: 5 });
const reliable = { refuse: 0, timeoutAfterCharge: 0, timeoutBeforeCharge: 0 };

function newScope(name) {
  return `node-${name}-${crypto.randomBytes(4).toString('hex')}`;
}

async function chargesByReference(scope) {
  const { rows } = await admin.query(
    'SELECT reference, array_agg(charge_id ORDER BY charge_id) AS ids FROM examples.ledger' +
      " WHERE reference LIKE $1 || '/%' GROUP BY reference",
    [scope]);
  return new Map(rows.map((row) => [row.reference.split('/').slice(1).join('/'), row.ids.map(Number)]));
}

function requestsFor(count, seed) {
  const random = payments.seededRandom(seed);
  const requests = new Map();
  for (let number = 0; number < count; number += 1) {
    const customer = number % 7 === 3 ? 'declined-eve' : `customer-${number}`;
    requests.set(`order-${number}-${crypto.randomUUID()}`,
      { customer, amount: 100 + Math.floor(random() * 9900), currency: 'EUR' });
  }
  return requests;
}

// A client behind a network that loses responses: it retries, concurrently from
// the second round on, until an answer arrives. Every attempt runs to the end;
// returns all their replies.
async function send(pay, key, request, random) {
  const attempts = [];
  for (const senders of ROUNDS) {
    const sent = Array.from({ length: senders }, () => ({
      reply: pay(key, request), lost: random() < RESPONSE_LOSS,
    }));
    attempts.push(...sent.map((attempt) => attempt.reply));
    const answered = sent.find((attempt) => !attempt.lost);
    if (answered) {
      await answered.reply;
      break;
    }
    await sleep(CLIENT_TIMEOUT_MS);
  }
  return Promise.all(attempts);
}

async function runClients(pay, requests, seed) {
  const keys = [...requests.keys()];
  const replies = await Promise.all(keys.map((key, index) =>
    send(pay, key, requests.get(key), payments.seededRandom(seed * 1000 + index))));
  return new Map(keys.map((key, index) => [key, replies[index]]));
}

test('classify: SQLSTATE to behaviour', () => {
  assert.equal(payments.classify('IK001'), payments.REJECT);
  assert.equal(payments.classify('IK004'), payments.STOP);
  for (const code of ['40001', '40P01', '55P03']) assert.equal(payments.classify(code), payments.RETRY);
  for (const code of ['IK002', 'IK003', '22023', '25006', '42501', undefined]) {
    assert.equal(payments.classify(code), payments.FAIL);
  }
  assert.equal(payments.canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] }), '{"a":[2,{"c":4,"d":3}],"b":1}');
});

// The same request gives the same fingerprint in every example (python, node,
// cpp, psql, http): sha256 of the JSON with sorted keys, no white space, UTF-8.
const SHARED_FINGERPRINT = 'fee932217ae4fd82a30094ed5970309d51b0aa22f09f13d9a8ad03007f242730';

test('fingerprint: sha256 of the canonical request, as in the other examples', () => {
  const customer = 'Zo\u00eb "Z" \u00dcnal\n\u0001';
  assert.equal(payments.fingerprint({ customer, amount: 1250, currency: 'EUR' }), SHARED_FINGERPRINT);
  assert.equal(payments.fingerprint({ currency: 'EUR', amount: 1250, customer }), SHARED_FINGERPRINT);
});

test('control: without the guard, retries charge twice (the check can fail)', async () => {
  const scope = newScope('unguarded');
  const provider = new payments.FlakyProvider(newPool({ max: 10 }), { seed: 1 });
  async function payBlindly(key, request) {
    for (let attempt = 0; attempt < 20; attempt += 1) {
      try {
        return await provider.charge(`${scope}/${key}`, request.customer, request.amount);
      } catch (error) {
        if (error instanceof payments.CardDeclined) return { error: 'card_declined' };
        if (!(error instanceof payments.ProviderRefused || error instanceof payments.ProviderTimeout)) {
          throw error;
        }
      }
    }
    throw new Error('provider unreachable');
  }
  await runClients(payBlindly, requestsFor(KEYS, 1), 1);
  const charged = await chargesByReference(scope);
  const twice = [...charged.values()].filter((ids) => ids.length > 1);
  assert.ok(twice.length > 0, 'no key was charged twice without the guard: the scenario proves nothing');
});

test(`${KEYS} keys x up to 5 concurrent attempts: one charge per key, every reply the first`, async () => {
  const scope = newScope('guarded');
  const provider = new payments.FlakyProvider(newPool({ max: 10 }), { seed: 2 });
  const service = new payments.PaymentService(newPool(), provider, { scope, pendingWaitMs: PENDING_WAIT_MS });
  const requests = requestsFor(KEYS, 2);
  const replies = await runClients((key, request) => service.pay(key, request), requests, 2);
  const charged = await chargesByReference(scope);
  const attempts = [...replies.values()].reduce((sum, list) => sum + list.length, 0);
  console.log(`guarded: ${attempts} attempts for ${KEYS} keys; events ${JSON.stringify(service.counts)}`);
  assert.ok(attempts > KEYS, 'no retries were sent');
  for (const [key, request] of requests) {
    const declined = request.customer.startsWith('declined');
    const ids = charged.get(key) || [];
    assert.equal(ids.length, declined ? 0 : 1, `${key}: charged ${ids.length} times`);
    const kinds = replies.get(key).map((reply) => reply.kind);
    assert.equal(kinds.filter((kind) => kind === 'charged').length, 1, `${key}: ${kinds}`);
    assert.ok(kinds.every((kind) => kind === 'charged' || kind === 'replayed'), `${key}: ${kinds}`);
    const first = replies.get(key).find((reply) => reply.kind === 'charged');
    for (const reply of replies.get(key)) {
      assert.deepEqual([reply.status, reply.outcome], [first.status, first.outcome], key);
    }
    if (declined) {
      assert.equal(first.status, 'failed');
      assert.equal(first.outcome.error, 'card_declined');
    } else {
      assert.equal(first.status, 'succeeded');
      assert.equal(first.outcome.charge_id, ids[0]);
    }
    const { rows } = await admin.query('SELECT status, outcome FROM idempotency.lookup($1, $2)', [scope, key]);
    assert.deepEqual([rows[0].status, rows[0].outcome], [first.status, first.outcome], `${key}: stored`);
  }
  for (const event of ['pending', 'timeout', 'reconciled', 'recorded']) {
    assert.ok(service.counts[event] > 0, `no ${event} event: ${JSON.stringify(service.counts)}`);
  }
});

test('IK001: a key reused for a different request is rejected, nothing charged', async () => {
  const scope = newScope('reuse');
  const provider = new payments.FlakyProvider(newPool({ max: 2 }), reliable);
  const service = new payments.PaymentService(newPool({ max: 2 }), provider, { scope });
  const key = crypto.randomUUID();
  const first = await service.pay(key, { customer: 'ann', amount: 500, currency: 'EUR' });
  assert.equal(first.kind, 'charged');
  // The same request with its fields in another order: the canonical fingerprint matches.
  const again = await service.pay(key, { currency: 'EUR', amount: 500, customer: 'ann' });
  assert.equal(again.kind, 'replayed');
  assert.deepEqual(again.outcome, first.outcome);
  const other = await service.pay(key, { customer: 'ann', amount: 5000, currency: 'EUR' });
  assert.equal(other.kind, 'rejected');
  assert.match(other.error, /different request/);
  assert.equal(service.counts.IK001, 1);
  assert.equal((await chargesByReference(scope)).get(key).length, 1);
});

test('IK004: a stale owner stops, the new owner\'s outcome stands, one charge', async () => {
  const scope = newScope('stale');
  const provider = new payments.FlakyProvider(newPool({ max: 2 }), reliable);
  let charged;
  const stalled = new Promise((resolve) => { charged = resolve; });
  const oldOwner = new payments.PaymentService(newPool({ max: 2 }), provider, {
    scope, lease: '300 milliseconds',
    afterCharge: async () => { charged(); await sleep(3000); }, // a long pause before recording
  });
  const newOwner = new payments.PaymentService(newPool({ max: 2 }), provider,
    { scope, lease: '300 milliseconds' });
  const key = crypto.randomUUID();
  const request = { customer: 'bob', amount: 700, currency: 'EUR' };
  const oldReplyPromise = oldOwner.pay(key, request);
  await stalled;
  await sleep(500); // past the lease
  const newReply = await newOwner.pay(key, request);
  const oldReply = await oldReplyPromise;
  assert.equal(newReply.kind, 'charged');
  assert.equal(newOwner.counts.reconciled, 1);
  assert.equal(oldReply.kind, 'superseded');
  assert.equal(oldOwner.counts.IK004, 1);
  assert.deepEqual(oldReply.outcome, newReply.outcome);
  assert.equal((await chargesByReference(scope)).get(key).length, 1);
});

// A service whose first claim commits but whose answer never arrives: the
// server ends the connection right after it (pg_terminate_backend), and the
// client only sees the connection break.
class LosesFirstClaimAnswer extends payments.PaymentService {
  constructor(...args) {
    super(...args);
    this.answersLost = 0;
  }

  async claim(client, key, requestFingerprint, attempt) {
    const answer = await super.claim(client, key, requestFingerprint, attempt);
    if (this.answersLost === 0) {
      this.answersLost += 1;
      await admin.query('SELECT pg_terminate_backend($1)', [client.processID]);
      await client.query('SELECT 1'); // rejects: the connection is gone, and the answer with it
    }
    return answer;
  }
}

async function lostClaimAnswer(retrySafeClaims) {
  const scope = newScope('lost-answer');
  const provider = new payments.FlakyProvider(newPool({ max: 2 }), reliable);
  const pool = newPool({ max: 2 });
  pool.on('error', () => {}); // the broken connection's own error event
  const service = new LosesFirstClaimAnswer(pool, provider,
    { scope, retrySafeClaims, pendingWaitMs: 500 });
  const key = crypto.randomUUID();
  const reply = await service.pay(key, { customer: 'fay', amount: 300, currency: 'EUR' });
  const { rows } = await admin.query('SELECT status FROM idempotency.lookup($1, $2)', [scope, key]);
  const charges = (await chargesByReference(scope)).get(key) || [];
  return { reply, service, charges, stored: rows.map((row) => row.status) };
}

test('attempt: a claim whose answer was lost is retried by its attempt, one charge', async () => {
  const { reply, service, charges, stored } = await lostClaimAnswer(true);
  assert.equal(service.answersLost, 1);
  assert.equal(service.counts.claim_answer_lost, 1, JSON.stringify(service.counts));
  assert.equal(reply.kind, 'charged');
  assert.equal(charges.length, 1);
  assert.deepEqual(stored, ['succeeded']);
});

test('control: without an attempt, the lost claim leaves the key pending, no charge', async () => {
  const { reply, service, charges, stored } = await lostClaimAnswer(false);
  assert.equal(service.counts.claim_answer_lost, 1, JSON.stringify(service.counts));
  assert.equal(reply.kind, 'in_progress');
  assert.equal(service.counts.claimed, undefined, JSON.stringify(service.counts));
  assert.deepEqual(charges, []);
  assert.deepEqual(stored, ['pending']);
});

// Another session claims the key in an open transaction (recording `outcome`
// in it), holds it, then commits or rolls back.
async function blockingClaim(scope, key, request, { holdMs, outcome = null, commit }) {
  const client = new Client();
  await client.connect();
  await client.query('BEGIN');
  await client.query('SELECT claim_token FROM idempotency.claim_or_lookup($1, $2, fingerprint => $3)',
    [scope, key, payments.fingerprint(request)]);
  if (outcome !== null) {
    await client.query("SELECT idempotency.record_outcome($1, $2, 'succeeded', $3)",
      [scope, key, JSON.stringify(outcome)]);
  }
  // Wrapped: an async function returning a promise would make the caller wait for it.
  const done = (async () => {
    await sleep(holdMs);
    await client.query(commit ? 'COMMIT' : 'ROLLBACK');
    await client.end();
  })();
  return { done };
}

test('55P03: a claim blocked past lock_timeout is retried, then charges once', async () => {
  const scope = newScope('locked');
  const provider = new payments.FlakyProvider(newPool({ max: 2 }), reliable);
  const service = new payments.PaymentService(newPool({ max: 2, options: '-c lock_timeout=100ms' }),
    provider, { scope });
  const key = crypto.randomUUID();
  const request = { customer: 'cal', amount: 900, currency: 'EUR' };
  const blocker = await blockingClaim(scope, key, request, { holdMs: 2000, commit: false });
  const reply = await service.pay(key, request);
  await blocker.done;
  assert.ok(service.counts['55P03'] >= 1, JSON.stringify(service.counts));
  assert.equal(reply.kind, 'charged');
  assert.equal((await chargesByReference(scope)).get(key).length, 1);
});

test('40001: a REPEATABLE READ claim that lost the race is retried and replays', async () => {
  const scope = newScope('serial');
  const provider = new payments.FlakyProvider(newPool({ max: 2 }), reliable);
  const service = new payments.PaymentService(
    newPool({ max: 2, options: '-c default_transaction_isolation=repeatable\\ read' }), provider, { scope });
  const key = crypto.randomUUID();
  const request = { customer: 'dan', amount: 1100, currency: 'EUR' };
  const outcome = { charge_id: -1, note: 'charged by the other session' };
  const blocker = await blockingClaim(scope, key, request, { holdMs: 2000, outcome, commit: true });
  const reply = await service.pay(key, request);
  await blocker.done;
  assert.ok(service.counts['40001'] >= 1, JSON.stringify(service.counts));
  assert.equal(reply.kind, 'replayed');
  assert.deepEqual(reply.outcome, outcome);
  assert.equal((await chargesByReference(scope)).has(key), false);
});
