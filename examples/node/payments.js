'use strict';
// Charge a card at most once per idempotency key, with node-postgres (pg) and
// the idempotency extension. The flow of every example in examples/ (see
// examples/README.md):
//
// 1. claim_or_lookup(scope, key, fingerprint => sha256 of the canonical
//    request, attempt => a UUID made for this attempt), in its own committed
//    transaction, BEFORE calling the provider; if the connection breaks before
//    the answer arrives, claim again with the same attempt: a claim that
//    committed is recognised as this attempt's own;
// 2. claimed: call the provider; it may time out AFTER charging, so on a
//    timeout ask it whether the charge went through (by our reference);
// 3. record_outcome(scope, key, status, outcome, claim_token), so that every
//    retry can be answered with the first result;
// 4. not claimed: 'pending' -> the first attempt is in flight, wait and ask
//    again; 'succeeded'/'failed' -> replay the stored outcome.
//
// SQLSTATEs: IK001 -> reject (key reused for a different request); IK004 ->
// stop (another claim owns the key now); 40001, 40P01, 55P03 -> retry.
//
// Connects with the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
//
// Note: pg returns int8 as a string. Keep claim_token a string and pass it
// back as it came; Number() would round large tokens and record_outcome would
// then fail with IK004.
const crypto = require('node:crypto');
const { setTimeout: sleep } = require('node:timers/promises');

// How often one attempt reconnects after losing a claim's answer.
const MAX_LOST_ANSWERS = 5;

// The connection broke (no SQLSTATE: a socket error or an unusable client;
// class 08; or the server ending the session, 57P01).
function connectionLost(error) {
  return !error.code || error.code.startsWith('08') || error.code === '57P01';
}

// The failed query reports what broke; the client's 'error' event adds nothing.
function ignoreClientError() {}

const REJECT = 'reject'; // IK001
const STOP = 'stop'; // IK004
const RETRY = 'retry'; // 40001, 40P01, 55P03
const FAIL = 'fail'; // anything else: a bug or an outage, let it propagate

const RETRYABLE = new Set(['40001', '40P01', '55P03']);

function classify(sqlstate) {
  if (sqlstate === 'IK001') return REJECT;
  if (sqlstate === 'IK004') return STOP;
  if (RETRYABLE.has(sqlstate)) return RETRY;
  return FAIL;
}

// JSON with sorted keys and no white space: equal requests, equal text.
function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

function fingerprint(request) {
  return crypto.createHash('sha256').update(canonicalJson(request)).digest('hex');
}

// A small seeded generator (mulberry32), so that runs are repeatable.
function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class ProviderRefused extends Error {} // not reached: nothing was charged
class ProviderTimeout extends Error {} // no answer: it may or may not have charged
class CardDeclined extends Error {} // answered: declined, nothing charged

// The payment provider: a stub that charges into examples.ledger (every call
// charges, it does not deduplicate) and is flaky. Customers whose name starts
// with 'declined' are always declined.
class FlakyProvider {
  constructor(pool, { seed = 0, latency = [40, 80], refuse = 0.1, timeoutAfterCharge = 0.3,
    timeoutBeforeCharge = 0.05 } = {}) {
    this.pool = pool;
    this.random = seededRandom(seed);
    Object.assign(this, { latency, refuse, timeoutAfterCharge, timeoutBeforeCharge });
  }

  async charge(reference, customer, amount) {
    const draw = this.random();
    const latency = this.latency[0] + this.random() * (this.latency[1] - this.latency[0]);
    if (draw < this.refuse) throw new ProviderRefused('connection refused');
    await sleep(latency);
    if (customer.startsWith('declined')) throw new CardDeclined(customer);
    if (draw < this.refuse + this.timeoutBeforeCharge) {
      throw new ProviderTimeout('request lost before the provider saw it');
    }
    const { rows } = await this.pool.query(
      'INSERT INTO examples.ledger (reference, customer, amount) VALUES ($1, $2, $3)' +
        ' RETURNING charge_id',
      [reference, customer, amount]);
    if (draw < this.refuse + this.timeoutBeforeCharge + this.timeoutAfterCharge) {
      throw new ProviderTimeout('charged, but the answer was lost');
    }
    return { charge_id: Number(rows[0].charge_id), customer, amount };
  }

  // The reconciliation call: what did the provider charge for this reference?
  async findCharge(reference) {
    const { rows } = await this.pool.query(
      'SELECT charge_id, customer, amount FROM examples.ledger WHERE reference = $1' +
        ' ORDER BY charge_id LIMIT 1',
      [reference]);
    if (rows.length === 0) return null;
    return { charge_id: Number(rows[0].charge_id), customer: rows[0].customer, amount: rows[0].amount };
  }
}

// pay() charges a request at most once per idempotency key. Replies:
// { kind: 'charged' | 'replayed' | 'in_progress' | 'rejected' | 'superseded',
//   status, outcome, error }.
//
// lease: null (the default) is strict at-most-once. With a lease (an interval
// such as '300 milliseconds') a claim pending longer than that may be taken
// over; the new owner asks the provider first whether the old owner charged,
// and the old owner, if it was only slow, gets IK004 when it records.
class PaymentService {
  // retrySafeClaims: claim with an attempt id, so that a claim whose answer
  // was lost can be retried (false only for the tests' control run).
  constructor(pool, provider, { scope = 'payments', lease = null, pendingWaitMs = 10000,
    pollMs = 20, afterCharge = null, retrySafeClaims = true } = {}) {
    Object.assign(this, {
      pool, provider, scope, lease, pendingWaitMs, pollMs, afterCharge, retrySafeClaims,
    });
    this.counts = {};
  }

  count(event) {
    this.counts[event] = (this.counts[event] || 0) + 1;
  }

  async pay(key, request) {
    // The connection, replaced if it breaks during a claim.
    const session = { client: await this.checkout() };
    try {
      return await this.payWith(session, key, request);
    } finally {
      session.client.off('error', ignoreClientError);
      session.client.release();
    }
  }

  // A pool client that may break while checked out: besides failing the query,
  // a broken connection emits 'error', which must not crash the process.
  async checkout() {
    const client = await this.pool.connect();
    client.on('error', ignoreClientError);
    return client;
  }

  async claim(client, key, requestFingerprint, attempt) {
    const { rows } = await client.query(
      'SELECT claimed, claim_token, status, outcome FROM idempotency.claim_or_lookup(' +
        '$1, $2, fingerprint => $3, lease => $4, attempt => $5)',
      [this.scope, key, requestFingerprint, this.lease, attempt]);
    return rows[0];
  }

  async payWith(session, key, request) {
    const requestFingerprint = fingerprint(request);
    // One id for this attempt, made before its first claim: sent again only
    // to retry a claim whose answer was lost, never for another pay().
    const attempt = this.retrySafeClaims ? crypto.randomUUID() : null;
    const deadline = Date.now() + this.pendingWaitMs;
    let backoff = 0;
    let answersLost = 0;
    for (;;) {
      const { client } = session;
      let row;
      try {
        row = await this.claim(client, key, requestFingerprint, attempt);
      } catch (error) {
        if (connectionLost(error) && answersLost < MAX_LOST_ANSWERS) {
          // The claim may have committed with its answer lost: claim again,
          // same attempt, on a new connection.
          answersLost += 1;
          this.count('claim_answer_lost');
          client.off('error', ignoreClientError);
          client.release(error); // destroyed, not returned to the pool
          session.client = await this.checkout();
          continue;
        }
        const action = classify(error.code);
        if (action === REJECT) {
          this.count('IK001');
          return { kind: 'rejected', error: 'key reused for a different request' };
        }
        if (action !== RETRY) throw error;
        this.count(error.code);
        backoff += 1;
        await sleep(Math.min(10 * 2 ** backoff, 200) * Math.random());
        continue;
      }
      if (!row.claimed) {
        if (row.status !== 'pending') {
          return { kind: 'replayed', status: row.status, outcome: row.outcome };
        }
        // The first attempt is still in flight: wait for its outcome.
        this.count('pending');
        if (Date.now() > deadline) return { kind: 'in_progress', status: 'pending' };
        await sleep(this.pollMs);
        continue;
      }
      this.count('claimed');
      const result = await this.charge(key, request);
      if (result === null) {
        // Known not charged: give the key back, then claim again.
        if (!(await this.release(client, key, row.claim_token))) {
          return this.superseded(client, key);
        }
        continue;
      }
      return this.record(client, key, result.status, result.outcome, row.claim_token);
    }
  }

  // { status, outcome }, or null when the provider surely did not charge.
  async charge(key, request) {
    const reference = `${this.scope}/${key}`;
    if (this.lease !== null) {
      // This claim may have taken over from an owner presumed dead that did
      // charge: ask before charging again.
      const earlier = await this.provider.findCharge(reference);
      if (earlier !== null) {
        this.count('reconciled');
        return { status: 'succeeded', outcome: earlier };
      }
    }
    let charge;
    try {
      charge = await this.provider.charge(reference, request.customer, request.amount);
    } catch (error) {
      if (error instanceof CardDeclined) {
        return { status: 'failed', outcome: { error: 'card_declined', customer: request.customer } };
      }
      if (error instanceof ProviderRefused) {
        this.count('refused');
        return null;
      }
      if (!(error instanceof ProviderTimeout)) throw error;
      // The charge may have gone through: ask, never charge blindly again.
      this.count('timeout');
      charge = await this.provider.findCharge(reference);
      if (charge === null) return null;
      this.count('reconciled');
    }
    if (this.afterCharge) await this.afterCharge(key);
    return { status: 'succeeded', outcome: charge };
  }

  // One statement, run again on 40001/40P01/55P03.
  async retrying(client, sql, params) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await client.query(sql, params);
      } catch (error) {
        if (classify(error.code) !== RETRY || attempt >= 50) throw error;
        this.count(error.code);
        await sleep(Math.min(10 * 2 ** attempt, 200) * Math.random());
      }
    }
  }

  async record(client, key, status, outcome, claimToken) {
    try {
      await this.retrying(client, 'SELECT idempotency.record_outcome($1, $2, $3, $4, $5)',
        [this.scope, key, status, JSON.stringify(outcome), claimToken]);
    } catch (error) {
      if (classify(error.code) !== STOP) throw error;
      return this.superseded(client, key);
    }
    this.count('recorded');
    return { kind: 'charged', status, outcome };
  }

  async release(client, key, claimToken) {
    try {
      await this.retrying(client, 'SELECT idempotency.release_guard($1, $2, $3)',
        [this.scope, key, claimToken]);
      return true;
    } catch (error) {
      if (classify(error.code) !== STOP) throw error;
      return false;
    }
  }

  // IK004: a later claim owns the key. Stop, and answer with what it recorded.
  async superseded(client, key) {
    this.count('IK004');
    const { rows } = await client.query(
      'SELECT status, outcome FROM idempotency.lookup($1, $2)', [this.scope, key]);
    if (rows.length === 0 || rows[0].status === 'pending') {
      return { kind: 'in_progress', status: 'pending' };
    }
    return { kind: 'superseded', status: rows[0].status, outcome: rows[0].outcome };
  }
}

module.exports = {
  classify, fingerprint, canonicalJson, seededRandom,
  FlakyProvider, PaymentService, ProviderRefused, ProviderTimeout, CardDeclined,
  REJECT, STOP, RETRY, FAIL,
};
