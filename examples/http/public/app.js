'use strict';
// The simulator's client: one payment, sent through a network that loses the
// first `lost` responses. After `timeout` ms without an answer the client
// sends the payment again (the first copy keeps running on the server). The
// server holds such a retry until the first copy answers (up to a second) and
// replays that answer; a 409 ("still in progress") is retried after a short wait.
const MAX_ATTEMPTS = 8;
const RETRY_AFTER_409_MS = 400;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const setting = (id) => Number(document.getElementById(id).value);

function newCustomer(panel) {
  const name = `${panel.dataset.mode}-${Math.random().toString(36).slice(2, 8)}`;
  panel.querySelector('.customer-name').textContent = name;
  return name;
}

async function refreshBalance(panel) {
  const customer = panel.querySelector('.customer-name').textContent;
  const response = await fetch(`/balance?customer=${encodeURIComponent(customer)}`);
  const account = await response.json();
  panel.querySelector('.balance-value').textContent = `$${account.balance}`;
  const times = account.charges.length;
  panel.querySelector('.balance-note').textContent =
    `charged ${times} time${times === 1 ? '' : 's'} (started at $${account.starting_balance})`;
  panel.dataset.charges = String(times);
  panel.dataset.balance = String(account.balance);
  return account;
}

function logLine(panel, text, className = '') {
  const item = document.createElement('li');
  item.textContent = text;
  item.className = className;
  panel.querySelector('.attempts').append(item);
  return item;
}

function describe(result) {
  if (result.status === 409) return '409 in progress';
  const replayed = result.replayed ? ', Idempotent-Replayed: true' : '';
  const what = result.body.payment_id !== undefined ? `payment #${result.body.payment_id}` : result.body.error;
  return `${result.status}${replayed}: ${what}`;
}

async function pay(panel) {
  const withKey = panel.dataset.mode === 'with';
  const customer = panel.querySelector('.customer-name').textContent;
  const amount = setting('amount');
  const lost = setting('lost');
  const timeout = setting('timeout');
  const key = crypto.randomUUID(); // one key per payment, the same for every retry
  panel.dataset.state = 'running';
  panel.querySelector('.pay').disabled = true;
  panel.querySelector('.attempts').replaceChildren();
  panel.querySelector('.verdict').textContent = '';
  const before = Number(panel.dataset.balance);
  const sent = [];
  let final = null;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS && final === null; attempt += 1) {
    const headers = { 'Content-Type': 'application/json' };
    if (withKey) headers['Idempotency-Key'] = `"${key}"`;
    const response = fetch(withKey ? '/payments' : '/legacy/payments', {
      method: 'POST', headers, body: JSON.stringify({ amount, customer }),
    }).then(async (r) => ({ status: r.status, replayed: r.headers.get('Idempotent-Replayed') === 'true',
      body: await r.json() }));
    sent.push(response);
    const line = logLine(panel, `attempt ${attempt}: sent…`);
    if (attempt <= lost) {
      line.textContent = `attempt ${attempt}: response lost, gave up after ${timeout} ms`;
      line.className = 'lost';
      response.then((result) => logLine(panel, `↳ attempt ${attempt}'s answer came too late: ${describe(result)}`, 'late'));
      await sleep(timeout);
      continue;
    }
    const result = await response;
    if (result.status === 409) {
      line.textContent = `attempt ${attempt}: 409 in progress, retrying in ${RETRY_AFTER_409_MS} ms`;
      line.className = 'retry';
      await sleep(RETRY_AFTER_409_MS);
      continue;
    }
    line.textContent = `attempt ${attempt}: ${describe(result)}`;
    line.className = result.status < 300 ? 'ok' : 'retry';
    final = result;
  }
  await Promise.allSettled(sent); // the lost copies finish too: the balance is final
  const account = await refreshBalance(panel);
  const charged = (before - account.balance) / amount;
  const verdict = panel.querySelector('.verdict');
  verdict.textContent = `One payment, ${sent.length} request${sent.length === 1 ? '' : 's'}: ` +
    `charged ${charged} time${charged === 1 ? '' : 's'}.`;
  verdict.className = `verdict ${charged === 1 ? 'good' : 'bad'}`;
  panel.dataset.final = final ? String(final.status) : 'none';
  panel.dataset.replayed = final && final.replayed ? 'true' : 'false';
  panel.querySelector('.pay').disabled = false;
  panel.dataset.state = 'done';
}

for (const panel of document.querySelectorAll('.panel')) {
  newCustomer(panel);
  refreshBalance(panel).then(() => { panel.dataset.state = 'ready'; });
  panel.querySelector('.pay').addEventListener('click', () => pay(panel));
  const amount = () => panel.querySelector('.pay').textContent = `Pay $${setting('amount')}`;
  document.getElementById('amount').addEventListener('input', amount);
  amount();
}
