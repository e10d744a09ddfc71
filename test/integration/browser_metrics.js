'use strict';
// Browser metrics: headless Chromium (playwright-core) loads fanhubd's demo
// page, whose Hub pane samples GET /metrics once a second. With the page's
// own WebSocket and EventSource subscribed, subscribers reads >= 2; N
// messages published with curl (POST /publish) over ~2 s reach both logs,
// and messages/s and deliveries/s rise above 0 with their charts drawn.
// A screenshot (PNG) goes to the suite's log directory (FANHUB_TEST_LOGS,
// set by run.sh; the system's temporary directory otherwise). No page
// error or console error allowed. Then, in a second browser, /metrics
// answering 401 and failing outright (both faked with page.route) must
// show as such with the figures hidden, and the figures come back once
// /metrics does.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startFanhubd, curlPublish, log, run } = require('./fhtest.js');
const { withChromium } = require('../lib/chromium.js');

const N = 20;
const LOGS = process.env.FANHUB_TEST_LOGS || os.tmpdir();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The page's state for a failure message.
function pageState(page) {
  return page.evaluate(() => JSON.stringify({
    metrics: document.querySelector('#metrics-state').textContent,
    hidden: document.querySelector('#figures').hidden,
    clients: document.querySelector('#clients').textContent,
    msgs: document.querySelector('#msgs').textContent,
    dels: document.querySelector('#dels').textContent,
    ws: document.querySelector('#ws-state').textContent,
    sse: document.querySelector('#sse-state').textContent,
  })).catch((e) => `? (${e.message})`);
}

async function waitFor(page, fn, arg, what, timeout = 10000) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 50 });
  } catch (e) {
    throw new Error(`${what}: not within ${timeout} ms; page ${await pageState(page)}`);
  }
}

const figure = (id) => Number(document.getElementById(id).textContent);

// The points of a chart's polyline as [[x, y], ...].
async function chartPoints(page, id) {
  const attr = await page.$eval(`#${id}-chart`, (el) => el.getAttribute('points') || '');
  return attr.trim() ? attr.trim().split(/\s+/).map((p) => p.split(',').map(Number)) : [];
}

function checkPng(file) {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st || st.size === 0) throw new Error(`screenshot ${file} is missing or empty`);
  const b = fs.readFileSync(file);
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (b.length < 24 || !b.subarray(0, 8).equals(sig) || b.toString('latin1', 12, 16) !== 'IHDR') {
    throw new Error(`screenshot ${file} (${b.length} bytes) is not a PNG`);
  }
  const w = b.readUInt32BE(16);
  const h = b.readUInt32BE(20);
  if (!w || !h) throw new Error(`screenshot ${file} is ${w}x${h}`);
  return `${b.length} bytes, ${w}x${h}`;
}

async function main() {
  const fh = await startFanhubd();
  try {
    await withChromium(async (page) => {
      const resp = await page.goto(`${fh.base}/`, { timeout: 10000 });
      if (!resp || resp.status() !== 200) throw new Error(`GET / answered ${resp && resp.status()}`);
      await waitFor(page, () => document.querySelector('#ws-state').textContent === 'subscribed',
        null, 'WebSocket subscribed');
      await waitFor(page, () => document.querySelector('#sse-state').textContent === 'open',
        null, 'EventSource open');
      await waitFor(page, () => document.querySelector('#metrics-state').textContent === 'live',
        null, 'metrics live');
      await waitFor(page, `(${figure})('clients') >= 2`, null,
        'subscribers >= 2 (the page\'s WebSocket and EventSource)');
      // Two samples at least, so the rates show (0 while nothing is published).
      await waitFor(page, `document.getElementById('msgs').textContent !== '-'`, null,
        'a first messages/s figure');

      // Waits that catch the rates while they are up (they fall back to 0
      // a second after the publishing stops).
      const msgsUp = waitFor(page, `(${figure})('msgs') > 0`, null, 'messages/s above 0', 15000);
      const delsUp = waitFor(page, `(${figure})('dels') > 0`, null, 'deliveries/s above 0', 15000);
      msgsUp.catch(() => {});
      delsUp.catch(() => {});
      const t0 = Date.now();
      for (let i = 0; i < N; i++) {
        await curlPublish(fh.port, 'demo', `metrics ${i}`);
        await sleep(100);
      }
      log(`published ${N} messages in ${Date.now() - t0} ms`);
      await msgsUp;
      await delsUp;
      const seen = JSON.parse(await pageState(page));
      log(`figures: subscribers ${seen.clients}, messages/s ${seen.msgs}, deliveries/s ${seen.dels}`);
      if (!(Number(seen.clients) >= 2)) throw new Error(`subscribers ${seen.clients}, want >= 2`);

      for (const id of ['#ws-log', '#sse-log']) {
        await waitFor(page, ([sel, n]) => document.querySelectorAll(`${sel} li`).length >= n,
          [id, N], `${N} messages in ${id}`, 5000);
      }
      for (const id of ['clients', 'msgs', 'dels']) {
        const pts = await chartPoints(page, id);
        const [w, h] = await page.$eval(`#${id}-chart`,
          (el) => [el.ownerSVGElement.viewBox.baseVal.width, el.ownerSVGElement.viewBox.baseVal.height]);
        const bad = pts.some(([x, y]) => !(x >= 0 && x <= w && y >= 0 && y <= h));
        if (pts.length < 2 || bad) {
          throw new Error(`${id} chart has points ${JSON.stringify(pts)}: want 2 or more inside 0,0..${w},${h}`);
        }
        // A value above 0 is drawn above the baseline (y 19 of 20).
        if (!pts.some(([, y]) => y < 19)) throw new Error(`${id} chart is flat at 0: ${JSON.stringify(pts)}`);
        const len = await page.$eval(`#${id}-chart`, (el) => el.getTotalLength());
        if (!(len > 0)) throw new Error(`${id} chart has length ${len}`);
      }
      log(`charts: msgs ${(await chartPoints(page, 'msgs')).length} points, ` +
        `dels ${(await chartPoints(page, 'dels')).length} points`);

      const shot = path.join(LOGS, 'browser_metrics.png');
      await page.screenshot({ path: shot, fullPage: true });
      log(`note: screenshot ${shot} (${checkPng(shot)})`);
    });

    // /metrics refused, then failing, then back; console errors are
    // expected here (the browser logs the 401 and the aborted fetch).
    await withChromium(async (page) => {
      await page.goto(`${fh.base}/`, { timeout: 10000 });
      await waitFor(page, () => document.querySelector('#metrics-state').textContent === 'live',
        null, 'metrics live');
      await page.route('**/metrics', (r) => r.fulfill({
        status: 401, contentType: 'text/plain', body: 'missing or wrong bearer token\n',
      }));
      await waitFor(page, () => /HTTP 401/.test(document.querySelector('#metrics-state').textContent)
        && document.querySelector('#figures').hidden, null, '401 from /metrics shown, figures hidden', 5000);
      const said401 = JSON.parse(await pageState(page)).metrics;
      const shot = path.join(LOGS, 'browser_metrics-401.png');
      await page.screenshot({ path: shot, fullPage: true });
      checkPng(shot);
      await page.unroute('**/metrics');
      await page.route('**/metrics', (r) => r.abort('connectionrefused'));
      await waitFor(page, () => /failed: (?!HTTP)/.test(document.querySelector('#metrics-state').textContent)
        && document.querySelector('#figures').hidden, null, 'failed fetch of /metrics shown', 5000);
      const saidAbort = JSON.parse(await pageState(page)).metrics;
      await page.unroute('**/metrics');
      await waitFor(page, () => document.querySelector('#metrics-state').textContent === 'live'
        && !document.querySelector('#figures').hidden, null, 'figures back with /metrics', 5000);
      await waitFor(page, `(${figure})('clients') >= 2 && document.getElementById('msgs').textContent === '0.0'`,
        null, 'subscribers and messages/s after /metrics came back', 5000);
      log(`note: shown ${JSON.stringify(said401)}, then ${JSON.stringify(saidAbort)}, then live again`);
    }, { consoleErrors: false });
    await fh.stop();
  } finally {
    fh.kill();
  }
}

run(main);
