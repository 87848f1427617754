'use strict';
// A payments service with the semantics of the IETF Idempotency-Key header
// (draft-ietf-httpapi-idempotency-key-header) on the idempotency extension,
// using only node's http module and pg.
//
//   POST /payments         {"amount": 25, "customer": "ann"}, header Idempotency-Key
//     no Idempotency-Key                        -> 400
//     the key's first request still in flight   -> waits up to RETRY_WAIT_MS for its
//                                                  answer and replays it; 409
//                                                  (Retry-After) if it takes longer
//     the key used before for another payload   -> 422 (IK001: the fingerprint differs)
//     the key completed                         -> the first response again, with
//                                                  Idempotent-Replayed: true
//   POST /legacy/payments  the same charge without Idempotency-Key support: every
//                          request charges (what the simulator shows the header prevents)
//   GET  /balance?customer=ann                  -> {customer, balance, charges}
//   GET  /                                      -> the double-charge simulator page
//
//   node server.js   (PORT, default 8080; HOST, default 127.0.0.1; the libpq
//                     environment for the database; PROVIDER_LATENCY_MS, 600;
//                     RETRY_WAIT_MS, 1000)
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');
const { Pool } = require('pg');

const SCOPE = 'http-payments'; // with authenticated clients: one scope per client
const STARTING_BALANCE = 1000;
const MAX_BODY_BYTES = 16 * 1024;
const RETRYABLE = new Set(['40001', '40P01', '55P03']);

// JSON with sorted keys and no white space: equal payloads, equal fingerprints
// (the same canonical form as the other examples).
function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function fingerprint(payload) {
  return crypto.createHash('sha256').update(canonicalJson(payload)).digest('hex');
}

// The Idempotency-Key value: a structured-field string ("..."), or for
// leniency a bare token. null when absent or unusable.
function parseIdempotencyKey(header) {
  if (typeof header !== 'string') return null;
  let key = header.trim();
  if (key.length >= 2 && key.startsWith('"') && key.endsWith('"')) key = key.slice(1, -1);
  if (key.length === 0 || Buffer.byteLength(key) > 255) return null;
  return key;
}

class HttpError extends Error {
  constructor(statusCode, message, headers = {}) {
    super(message);
    Object.assign(this, { statusCode, headers });
  }
}

function validatePayment(payload) {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new HttpError(400, 'the body must be a JSON object {"amount": ..., "customer": ...}');
  }
  if (!Number.isInteger(payload.amount) || payload.amount <= 0 || payload.amount > 1000000) {
    throw new HttpError(400, 'amount must be a positive integer');
  }
  if (typeof payload.customer !== 'string' || payload.customer.length === 0 ||
      payload.customer.length > 100) {
    throw new HttpError(400, 'customer must be a non-empty string');
  }
}

async function readJson(request) {
  const chunks = [];
  let size = 0;
  for await (const chunk of request) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'body too large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
}

function send(response, statusCode, body, headers = {}) {
  const text = JSON.stringify(body);
  response.writeHead(statusCode, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  response.end(text);
}

// retryWaitMs: how long a retry that arrives while the key's first request is
// in flight waits for that request's answer (claim_or_lookup's `wait`: the
// database wakes it when the outcome commits, no polling) before answering
// 409. It holds a pool connection while it waits. 0 answers 409 at once.
function createService({ pool, providerLatencyMs = 600, retryWaitMs = 1000 }) {
  // The payment provider: slow, and it charges every call it gets (it debits
  // the customer's balance and writes the charge to the ledger).
  async function chargeAtProvider(reference, { customer, amount }) {
    await sleep(providerLatencyMs);
    await ensureAccount(customer);
    const { rows } = await pool.query(
      `WITH debited AS (
         UPDATE examples.accounts SET balance = balance - $2
          WHERE customer = $1 AND balance >= $2 RETURNING balance)
       INSERT INTO examples.ledger (reference, customer, amount)
       SELECT $3, $1, $2 FROM debited
       RETURNING charge_id, (SELECT balance FROM debited) AS balance`,
      [customer, amount, reference]);
    if (rows.length === 0) return { statusCode: 402, body: { error: 'insufficient funds', customer, amount } };
    return {
      statusCode: 201,
      body: { payment_id: Number(rows[0].charge_id), customer, amount, balance_after: rows[0].balance },
    };
  }

  async function ensureAccount(customer) {
    await pool.query(
      'INSERT INTO examples.accounts (customer, balance) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [customer, STARTING_BALANCE]);
  }

  // One statement, run again on 40001/40P01/55P03 (then 503).
  async function query(sql, params) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await pool.query(sql, params);
      } catch (error) {
        if (!RETRYABLE.has(error.code)) throw error;
        if (attempt >= 5) throw new HttpError(503, 'busy, try again', { 'Retry-After': '1' });
        await sleep(Math.min(10 * 2 ** attempt, 200) * Math.random());
      }
    }
  }

  async function postPayment(request, response) {
    const key = parseIdempotencyKey(request.headers['idempotency-key']);
    if (key === null) {
      throw new HttpError(400, 'this operation requires an Idempotency-Key header (1 to 255 bytes)');
    }
    const payload = await readJson(request);
    validatePayment(payload);

    let claim;
    try {
      ({ rows: [claim] } = await query(
        'SELECT claimed, claim_token, status, outcome' +
          ' FROM idempotency.claim_or_lookup($1, $2, fingerprint => $3,' +
          " wait => $4::int * interval '1 millisecond')",
        [SCOPE, key, fingerprint(payload), retryWaitMs]));
    } catch (error) {
      if (error.code === 'IK001') {
        throw new HttpError(422, 'this Idempotency-Key was already used for a different request');
      }
      throw error;
    }
    if (!claim.claimed) {
      if (claim.status === 'pending') {
        throw new HttpError(409, 'a request with this Idempotency-Key is being processed',
          { 'Retry-After': '1' });
      }
      // Completed: the first response again.
      send(response, claim.outcome.status_code, claim.outcome.body, { 'Idempotent-Replayed': 'true' });
      return;
    }

    let result;
    try {
      result = await chargeAtProvider(`${SCOPE}/${key}`, payload);
    } catch (error) {
      // The provider call failed before it could charge (in this stub, only a
      // database error can do that): give the key back so a retry can claim it.
      // (claim_token is an int8, which pg returns as a string: pass it back as is.)
      await query('SELECT idempotency.release_guard($1, $2, $3)', [SCOPE, key, claim.claim_token]);
      throw error;
    }
    const status = result.statusCode < 400 ? 'succeeded' : 'failed';
    try {
      await query('SELECT idempotency.record_outcome($1, $2, $3, $4, $5)',
        [SCOPE, key, status, JSON.stringify({ status_code: result.statusCode, body: result.body }),
          claim.claim_token]);
    } catch (error) {
      if (error.code === 'IK004') throw new HttpError(409, 'this Idempotency-Key was taken over by another request');
      throw error;
    }
    send(response, result.statusCode, result.body);
  }

  async function postLegacyPayment(request, response) {
    const payload = await readJson(request);
    validatePayment(payload);
    const result = await chargeAtProvider(`legacy/${crypto.randomUUID()}`, payload);
    send(response, result.statusCode, result.body);
  }

  async function getBalance(url, response) {
    const customer = url.searchParams.get('customer');
    if (!customer) throw new HttpError(400, 'customer is required');
    await ensureAccount(customer);
    const { rows: [account] } = await pool.query(
      'SELECT balance FROM examples.accounts WHERE customer = $1', [customer]);
    const { rows: charges } = await pool.query(
      "SELECT charge_id, amount, split_part(reference, '/', 1) AS via, charged_at" +
        ' FROM examples.ledger WHERE customer = $1 ORDER BY charge_id', [customer]);
    send(response, 200, {
      customer,
      starting_balance: STARTING_BALANCE,
      balance: account.balance,
      charges: charges.map((charge) => ({ ...charge, charge_id: Number(charge.charge_id) })),
    });
  }

  const staticFiles = {
    '/': ['index.html', 'text/html; charset=utf-8'],
    '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
    '/style.css': ['style.css', 'text/css; charset=utf-8'],
  };

  function serveStatic(pathname, response) {
    const [file, type] = staticFiles[pathname];
    const body = fs.readFileSync(path.join(__dirname, 'public', file));
    response.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length });
    response.end(body);
  }

  return async function handle(request, response) {
    const url = new URL(request.url, 'http://localhost');
    try {
      if (request.method === 'POST' && url.pathname === '/payments') {
        await postPayment(request, response);
      } else if (request.method === 'POST' && url.pathname === '/legacy/payments') {
        await postLegacyPayment(request, response);
      } else if (request.method === 'GET' && url.pathname === '/balance') {
        await getBalance(url, response);
      } else if (request.method === 'GET' && url.pathname === '/favicon.ico') {
        response.writeHead(204).end();
      } else if (request.method === 'GET' && staticFiles[url.pathname]) {
        serveStatic(url.pathname, response);
      } else {
        throw new HttpError(404, 'not found');
      }
    } catch (error) {
      if (error instanceof HttpError) {
        send(response, error.statusCode, { error: error.message }, error.headers);
      } else if (error.code === '25006') {
        send(response, 503, { error: 'read-only database, try again' }, { 'Retry-After': '1' });
      } else {
        console.error(error);
        send(response, 500, { error: 'internal error' });
      }
    }
  };
}

function createServer(options) {
  return http.createServer(createService(options));
}

module.exports = { createServer, canonicalJson, fingerprint, parseIdempotencyKey, SCOPE, STARTING_BALANCE };

if (require.main === module) {
  const pool = new Pool({ max: 10 });
  const server = createServer({
    pool,
    providerLatencyMs: Number(process.env.PROVIDER_LATENCY_MS || 600),
    retryWaitMs: Number(process.env.RETRY_WAIT_MS ?? 1000),
  });
  const port = Number(process.env.PORT || 8080);
  const host = process.env.HOST || '127.0.0.1';
  server.listen(port, host, () => console.log(`payments service on http://${host}:${port}/`));
  const stop = () => server.close(() => pool.end());
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
