'use strict';
// The double-charge simulator in a real browser: Debian's chromium driven by
// playwright-core (no browser download: PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1).
// Clicks "Pay" without and with the Idempotency-Key header through a network
// that loses the first two responses, and checks the balances; saves
// a screenshot (see SCREENSHOT below).
//   node --test test/browser.test.js   (CHROMIUM: the browser, /usr/bin/chromium)
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Pool } = require('pg');
const { chromium } = require('playwright-core');
const { createServer, STARTING_BALANCE } = require('../server');

const AMOUNT = 25;
const LOST = 2; // responses lost per payment: 3 requests in all
// Written to SCREENSHOT_PATH (the test runner passes a temporary file), so a
// test run leaves the committed screenshot alone; without it, the committed
// examples/http/screenshot.png is refreshed.
const SCREENSHOT = process.env.SCREENSHOT_PATH || path.join(__dirname, '..', 'screenshot.png');

let pool;
let server;
let base;
let context;
let userDataDir;
const pageErrors = [];

before(async () => {
  pool = new Pool({ max: 10 });
  server = createServer({ pool, providerLatencyMs: 600 });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'idempotency-chromium-'));
  // Playwright takes the user data directory as an argument of
  // launchPersistentContext (it refuses --user-data-dir among the args).
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1200, height: 700 },
    timeout: 60000,
  });
});

after(async () => {
  if (context) await context.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  if (server) await new Promise((resolve) => server.close(resolve));
  if (pool) await pool.end();
});

async function chargesInLedger(customer) {
  const { rows } = await pool.query('SELECT count(*)::int AS n FROM examples.ledger WHERE customer = $1', [customer]);
  return rows[0].n;
}

async function payOnce(page, panelId) {
  const panel = page.locator(`#${panelId}`);
  await panel.locator('.pay').click();
  await page.waitForSelector(`#${panelId}[data-state="done"]`, { timeout: 30000 });
  return {
    customer: await panel.locator('.customer-name').textContent(),
    charges: Number(await panel.getAttribute('data-charges')),
    balance: Number(await panel.getAttribute('data-balance')),
    final: await panel.getAttribute('data-final'),
    replayed: await panel.getAttribute('data-replayed'),
    attempts: await panel.locator('.attempts li').allTextContents(),
    verdict: await panel.locator('.verdict').textContent(),
  };
}

test('double-charge simulator: charged 3 times without the header, once with it', async () => {
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('console', (message) => {
    // The expected 409s are logged as failed loads: only script errors count.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      pageErrors.push(message.text());
    }
  });
  await page.goto(base);
  await page.waitForSelector('#without[data-state="ready"]');
  await page.waitForSelector('#with[data-state="ready"]');
  await page.fill('#amount', String(AMOUNT));
  await page.fill('#lost', String(LOST));

  const without = await payOnce(page, 'without');
  console.log(`without: ${JSON.stringify(without)}`);
  assert.equal(without.final, '201');
  assert.equal(without.charges, LOST + 1, 'every request charged');
  assert.equal(without.balance, STARTING_BALANCE - (LOST + 1) * AMOUNT);
  assert.equal(await chargesInLedger(without.customer), LOST + 1);

  const withKey = await payOnce(page, 'with');
  console.log(`with: ${JSON.stringify(withKey)}`);
  assert.equal(withKey.final, '201');
  assert.equal(withKey.replayed, 'true', 'the answer that got through was the replayed first response');
  assert.equal(withKey.charges, 1, 'charged once');
  assert.equal(withKey.balance, STARTING_BALANCE - AMOUNT);
  assert.equal(await chargesInLedger(withKey.customer), 1);
  assert.match(withKey.verdict, /charged 1 time\./);
  assert.ok(withKey.attempts.length > LOST, withKey.attempts.join('\n'));

  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  assert.ok(fs.statSync(SCREENSHOT).size > 10000, 'the screenshot was written');
  assert.deepEqual(pageErrors, []);
});
