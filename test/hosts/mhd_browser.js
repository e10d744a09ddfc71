'use strict';
// The Chromium client of mhd_host.py (not a test of its own):
//
//   node mhd_browser.js BASE_URL TOKEN
//
// Debian's Chromium (test/lib/chromium.js) loads BASE_URL/ and from
// that page opens a WebSocket to /ws?topic=items and an EventSource on
// /sse?topic=items, both with ?token=TOKEN (a browser sets no header on
// either). Prints "ready" once the WebSocket has its hello and the
// EventSource is open; then reads a count N from stdin, waits until both
// hold N "items" messages and 300 ms more, and prints them as one JSON
// line {"ws":[{seq,data}], "sse":[{id,data}]}. Exits 0 after closing the
// browser, 1 on any failure or page error. Every wait is bounded.
const readline = require('node:readline');
const { withChromium } = require('../lib/chromium.js');

function fail(e) {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
}

async function main() {
  const [base, token] = process.argv.slice(2);
  if (!base || !token) throw new Error('usage: mhd_browser.js BASE_URL TOKEN');
  const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const got = await withChromium(async (page, problems) => {
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
    return got;
  });
  console.log(JSON.stringify({ ws: got.ws, sse: got.sse }));
}

main().then(() => process.exit(0), fail);
