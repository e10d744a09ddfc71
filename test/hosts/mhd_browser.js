'use strict';
// The Chromium client of mhd_host.py (not a test of its own):
//
//   node mhd_browser.js BASE_URL TOKEN
//
// Debian's Chromium, driven by playwright-core (from
// test/integration/node_modules: NODE_PATH), loads BASE_URL/ and from
// that page opens a WebSocket to /ws?topic=items and an EventSource on
// /sse?topic=items, both with ?token=TOKEN (a browser sets no header on
// either). Prints "ready" once the WebSocket has its hello and the
// EventSource is open; then reads a count N from stdin, waits until both
// hold N "items" messages and 300 ms more, and prints them as one JSON
// line {"ws":[{seq,data}], "sse":[{id,data}]}. Exits 0 after closing the
// browser, 1 on any failure or page error. Every wait is bounded.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function fail(e) {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
}

async function main() {
  const [base, token] = process.argv.slice(2);
  if (!base || !token) throw new Error('usage: mhd_browser.js BASE_URL TOKEN');
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no ${CHROMIUM} (scripts/deps.sh installs chromium)`);
  const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'fanhub-chromium-'));
  let context = null;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--no-proxy-server'],
    });
    const page = context.pages()[0] || await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      const url = (m.location() && m.location().url) || '';
      if (m.type() === 'error' && !url.endsWith('/favicon.ico')) problems.push(`console error: ${m.text()}`);
    });
    const resp = await page.goto(`${base}/`, { timeout: 10000 });
    if (!resp || resp.status() !== 200) throw new Error(`GET / answered ${resp && resp.status()}`);
    await page.evaluate((tok) => {
      const got = { ws: [], sse: [], hello: false, open: false, other: [] };
      window.got = got;
      const q = `topic=items&token=${encodeURIComponent(tok)}`;
      const ws = new WebSocket(`ws://${location.host}/ws?${q}`);
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        if (m.type === 'hello') got.hello = true;
        else if (m.type === 'message' && m.topic === 'items') got.ws.push({ seq: m.seq, data: m.data });
        else got.other.push(m);
      };
      const es = new EventSource(`/sse?${q}`);
      es.onopen = () => { got.open = true; };
      es.addEventListener('items', (e) => got.sse.push({ id: e.lastEventId, data: JSON.parse(e.data) }));
      es.onmessage = (e) => got.other.push(e.data);
    }, token);
    await page.waitForFunction(() => window.got.hello && window.got.open, null,
      { timeout: 10000, polling: 50 });
    console.log('ready');

    const { value } = await lines.next();
    const n = Number(value);
    await page.waitForFunction((k) => window.got.ws.length >= k && window.got.sse.length >= k, n,
      { timeout: 10000, polling: 50 }).catch(async () => {
      throw new Error(`want ${n} messages each, have ${JSON.stringify(await page.evaluate(() => window.got))}`);
    });
    await new Promise((r) => setTimeout(r, 300));
    const got = await page.evaluate(() => window.got);
    if (got.other.length) problems.push(`unexpected: ${JSON.stringify(got.other)}`);
    if (problems.length) throw new Error(problems.join('; '));
    console.log(JSON.stringify({ ws: got.ws, sse: got.sse }));
    await context.close();
    context = null;
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), fail);
