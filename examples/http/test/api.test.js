'use strict';
// HTTP-level tests of server.js against a running cluster (libpq environment):
//   node --test test/api.test.js
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { setTimeout: sleep } = require('node:timers/promises');
const { Pool } = require('pg');
const { createServer, fingerprint, SCOPE, STARTING_BALANCE } = require('../server');

const LATENCY_MS = 1000; // the provider's: long enough for a retry to arrive in flight
// How long a retry waits for the first request's answer: shorter than the
// provider takes, so a retry in flight still gets its 409.
const RETRY_WAIT_MS = 200;

let pool;
let server;
let base;

before(async () => {
  pool = new Pool({ max: 10 });
  server = createServer({ pool, providerLatencyMs: LATENCY_MS, retryWaitMs: RETRY_WAIT_MS });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await pool.end();
});

const newCustomer = () => `api-${crypto.randomBytes(4).toString('hex')}`;
const newKey = () => crypto.randomUUID();

async function post(path, body, headers = {}) {
  const response = await fetch(base + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    replayed: response.headers.get('idempotent-replayed'),
    retryAfter: response.headers.get('retry-after'),
    body: await response.json(),
  };
}

const pay = (key, body) => post('/payments', body, { 'Idempotency-Key': `"${key}"` });

// Waits until the key's first request has claimed it (and is now at the provider).
async function claimed(key) {
  for (let waited = 0; waited < 200; waited += 1) {
    const { rows } = await pool.query('SELECT status FROM idempotency.lookup($1, $2)', [SCOPE, key]);
    if (rows.length === 1) return rows[0].status;
    await sleep(10);
  }
  throw new Error(`${key} was never claimed`);
}

async function balance(customer) {
  const response = await fetch(`${base}/balance?customer=${encodeURIComponent(customer)}`);
  assert.equal(response.status, 200);
  return response.json();
}

test('the fingerprint is the one the other examples compute', () => {
  assert.equal(fingerprint({ customer: 'Zo\u00eb "Z" \u00dcnal\n\u0001', amount: 1250, currency: 'EUR' }),
    'fee932217ae4fd82a30094ed5970309d51b0aa22f09f13d9a8ad03007f242730');
});

test('400: no Idempotency-Key header, nothing charged', async () => {
  const customer = newCustomer();
  const response = await post('/payments', { amount: 10, customer });
  assert.equal(response.status, 400);
  assert.match(response.body.error, /Idempotency-Key/);
  const empty = await post('/payments', { amount: 10, customer }, { 'Idempotency-Key': '""' });
  assert.equal(empty.status, 400);
  const long = await post('/payments', { amount: 10, customer }, { 'Idempotency-Key': 'k'.repeat(256) });
  assert.equal(long.status, 400);
  assert.equal((await balance(customer)).charges.length, 0);
});

test('400: a malformed payment is refused before the key is claimed', async () => {
  const customer = newCustomer();
  const key = newKey();
  assert.equal((await pay(key, '{"amount": ')).status, 400);
  assert.equal((await pay(key, { amount: -5, customer })).status, 400);
  assert.equal((await pay(key, { amount: 10 })).status, 400);
  // The key was not used up: the well-formed request goes through.
  assert.equal((await pay(key, { amount: 10, customer })).status, 201);
});

test('201, then the first response replayed with Idempotent-Replayed: true', async () => {
  const customer = newCustomer();
  const key = newKey();
  const first = await pay(key, { amount: 30, customer });
  assert.equal(first.status, 201);
  assert.equal(first.replayed, null);
  assert.equal(first.body.balance_after, STARTING_BALANCE - 30);
  for (let retry = 0; retry < 3; retry += 1) {
    // The same payload in another key order, and the key as a bare token.
    const again = await post('/payments', { customer, amount: 30 }, { 'Idempotency-Key': key });
    assert.equal(again.status, 201);
    assert.equal(again.replayed, 'true');
    assert.deepEqual(again.body, first.body);
  }
  const account = await balance(customer);
  assert.equal(account.balance, STARTING_BALANCE - 30);
  assert.deepEqual(account.charges.map((charge) => charge.charge_id), [first.body.payment_id]);
});

test('409: the same key while the first request is in flight', async () => {
  const customer = newCustomer();
  const key = newKey();
  const first = pay(key, { amount: 40, customer });
  assert.equal(await claimed(key), 'pending');
  const during = await pay(key, { amount: 40, customer });
  assert.equal(during.status, 409);
  assert.equal(during.retryAfter, '1');
  assert.equal((await first).status, 201);
  const later = await pay(key, { amount: 40, customer });
  assert.equal(later.status, 201);
  assert.equal(later.replayed, 'true');
  assert.equal((await balance(customer)).charges.length, 1);
});

test('a retry in flight waits for the first response and replays it instead of a 409', async () => {
  // A service whose retries wait up to 1 s, and a provider that answers in 300 ms.
  const waiting = createServer({ pool, providerLatencyMs: 300, retryWaitMs: 1000 });
  await new Promise((resolve) => waiting.listen(0, '127.0.0.1', resolve));
  const waitingBase = `http://127.0.0.1:${waiting.address().port}`;
  const payThere = async (key, body) => {
    const response = await fetch(`${waitingBase}/payments`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `"${key}"` },
      body: JSON.stringify(body),
    });
    return { status: response.status, replayed: response.headers.get('idempotent-replayed'),
      body: await response.json() };
  };
  try {
    const customer = newCustomer();
    const key = newKey();
    const first = payThere(key, { amount: 45, customer });
    assert.equal(await claimed(key), 'pending');
    const during = await payThere(key, { amount: 45, customer });
    assert.equal(during.status, 201);
    assert.equal(during.replayed, 'true');
    const original = await first;
    assert.equal(original.status, 201);
    assert.equal(original.replayed, null);
    assert.deepEqual(during.body, original.body);
    assert.equal((await balance(customer)).charges.length, 1);
  } finally {
    await new Promise((resolve) => waiting.close(resolve));
  }
});

test('422: the same key with a different payload, in flight and after', async () => {
  const customer = newCustomer();
  const key = newKey();
  const first = pay(key, { amount: 50, customer });
  assert.equal(await claimed(key), 'pending');
  const during = await pay(key, { amount: 51, customer });
  assert.equal(during.status, 422);
  assert.match(during.body.error, /different request/);
  assert.equal((await first).status, 201);
  const after = await pay(key, { amount: 50, customer: `${customer}-x` });
  assert.equal(after.status, 422);
  assert.equal((await balance(customer)).charges.length, 1);
});

test('concurrent retries: 12 requests with one key, one charge, one first response', async () => {
  const customer = newCustomer();
  const key = newKey();
  const responses = await Promise.all(Array.from({ length: 12 }, () => pay(key, { amount: 60, customer })));
  const firsts = responses.filter((response) => response.status === 201 && response.replayed === null);
  assert.equal(firsts.length, 1, JSON.stringify(responses.map((response) => response.status)));
  for (const response of responses) {
    if (response.status === 201) assert.deepEqual(response.body, firsts[0].body);
    else assert.equal(response.status, 409);
  }
  const replay = await pay(key, { amount: 60, customer });
  assert.equal(replay.replayed, 'true');
  assert.deepEqual(replay.body, firsts[0].body);
  assert.equal((await balance(customer)).charges.length, 1);
});

test('a declined payment (402) is recorded and replayed too', async () => {
  const customer = newCustomer();
  const key = newKey();
  const first = await pay(key, { amount: STARTING_BALANCE + 1, customer });
  assert.equal(first.status, 402);
  const again = await pay(key, { amount: STARTING_BALANCE + 1, customer });
  assert.equal(again.status, 402);
  assert.equal(again.replayed, 'true');
  assert.deepEqual(again.body, first.body);
  assert.equal((await balance(customer)).balance, STARTING_BALANCE);
});

test('control: the legacy endpoint charges every retry', async () => {
  const customer = newCustomer();
  assert.equal((await post('/legacy/payments', { amount: 70, customer })).status, 201);
  assert.equal((await post('/legacy/payments', { amount: 70, customer })).status, 201);
  const account = await balance(customer);
  assert.equal(account.charges.length, 2);
  assert.equal(account.balance, STARTING_BALANCE - 140);
});

test('the page and its assets are served; unknown paths are 404', async () => {
  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /Double-charge simulator/);
  assert.equal((await fetch(`${base}/app.js`)).status, 200);
  assert.equal((await fetch(`${base}/nope`)).status, 404);
});
