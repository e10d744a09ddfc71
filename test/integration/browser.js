'use strict';
// Browser: Debian's Chromium, driven by playwright-core, loads fanhubd's
// demo page; its WebSocket reaches "subscribed" and its EventSource
// "open"; a curl publish then shows up in both #ws-log and #sse-log; the
// page's own Publish button works too. No page errors allowed. A
// screenshot goes to /tmp/fanhub-browser.png.
const { startFanhubd, curlPublish, log, run } = require('./fhtest.js');
const { withChromium } = require('../lib/chromium.js');

const SCREENSHOT = process.env.FANHUB_SCREENSHOT || '/tmp/fanhub-browser.png';

async function waitText(page, selector, predicate, what, timeout = 10000) {
  try {
    await page.waitForFunction(
      ([sel, src]) => {
        const el = document.querySelector(sel);
        // eslint-disable-next-line no-new-func
        return el && new Function('t', `return ${src}`)(el.textContent);
      },
      [selector, predicate],
      { timeout, polling: 50 },
    );
  } catch (e) {
    const text = await page.$eval(selector, (el) => el.textContent).catch(() => '?');
    throw new Error(`${what}: ${selector} is ${JSON.stringify(text)} after ${timeout} ms`);
  }
}

async function main() {
  const fh = await startFanhubd();
  try {
    await withChromium(async (page) => {
      const resp = await page.goto(`${fh.base}/`, { timeout: 10000 });
      if (!resp || resp.status() !== 200) throw new Error(`GET / answered ${resp && resp.status()}`);

      await waitText(page, '#ws-state', "t === 'subscribed'", 'WebSocket state');
      await waitText(page, '#sse-state', "t === 'open'", 'EventSource state');

      const text = `from curl ${Date.now()} \u00e9\u20ac`;
      const seq = await curlPublish(fh.port, 'demo', text);
      const want = JSON.stringify(`#${seq} ${text}`);
      await waitText(page, '#ws-log', `t.includes(${want})`, 'curl message in the WebSocket log');
      await waitText(page, '#sse-log', `t.includes(${want})`, 'curl message in the SSE log');

      // The page's own publish form (fetch POST /publish).
      const mine = `from the page ${Date.now()}`;
      await page.fill('#message', mine);
      await page.click('#publish');
      await waitText(page, '#publish-result', "t.startsWith('sent, seq ')", 'publish result');
      const seq2 = Number((await page.textContent('#publish-result')).replace('sent, seq ', ''));
      if (!(seq2 > seq)) throw new Error(`page publish seq ${seq2} not after ${seq}`);
      const want2 = JSON.stringify(`#${seq2} ${mine}`);
      await waitText(page, '#ws-log', `t.includes(${want2})`, 'page message in the WebSocket log');
      await waitText(page, '#sse-log', `t.includes(${want2})`, 'page message in the SSE log');

      // Each message exactly once in each log.
      for (const id of ['#ws-log', '#sse-log']) {
        const items = await page.$$eval(`${id} li`, (lis) => lis.map((li) => li.textContent));
        const expect = [`#${seq} ${text}`, `#${seq2} ${mine}`];
        if (JSON.stringify(items) !== JSON.stringify(expect)) {
          throw new Error(`${id} holds ${JSON.stringify(items)}, want ${JSON.stringify(expect)}`);
        }
      }
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      log(`screenshot: ${SCREENSHOT}`);
    });
    await fh.stop();
  } finally {
    fh.kill();
  }
}

run(main);
