'use strict';
// Browser resume: headless Chromium (playwright-core) loads fanhubd's demo
// page through a small TCP proxy in this test, so the page and every
// EventSource go through it (same origin). The proxy then cuts the
// connections from the server side while messages are published straight
// to fanhubd:
//   1. a FIN on every connection, new ones refused for 0.4 s;
//   2. a RST on every connection, new ones reset for 3 s, longer than
//      the retry time, so the browser's first reconnect fails too.
// Each time the EventSources reconnect on their own, after the 2000 ms
// that fanhubd's "retry:" asks for (Chromium's default is 3000 ms), send
// Last-Event-ID, and show every message they missed, exactly once and in
// order: our own EventSource (events collected in window.got) and the demo
// page's (#sse-log, "#<seq> <data>"). No hub.reset is ever seen.
const net = require('node:net');
const { startFanhubd, curlPublish, log, run, HOST } = require('./fhtest.js');
const { withChromium } = require('../lib/chromium.js');
const TOPIC = 'resume';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A TCP proxy on a free loopback port. Records the request head of each
// connection it lets through; cut() ends every connection (FIN, or RST
// with rst=true) and refuses new ones until restore().
function startProxy(targetPort) {
  const pairs = new Set();
  const requests = [];
  let refusing = null; // null, 'fin' or 'rst'
  let refused = 0;
  const server = net.createServer((client) => {
    if (refusing) {
      refused++;
      if (refusing === 'rst') client.resetAndDestroy();
      else client.destroy();
      return;
    }
    const up = net.connect(targetPort, HOST);
    // Every request head on the connection, not only its first: fanhubd
    // keeps a connection open after the requests it answers (the page, its
    // /metrics polls), and the browser may send an EventSource's request
    // on one of those. Logging stops once the connection is a stream (an
    // SSE request or a WebSocket upgrade).
    const pair = { client, up, buf: '', skip: 0, streaming: false };
    pairs.add(pair);
    client.on('data', (d) => {
      if (pair.streaming) return;
      pair.buf += d.toString('latin1');
      for (;;) {
        if (pair.skip) {
          const k = Math.min(pair.skip, pair.buf.length);
          pair.buf = pair.buf.slice(k);
          pair.skip -= k;
          if (pair.skip) return;
        }
        const end = pair.buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (pair.buf.length > 16384) pair.streaming = true;
          return;
        }
        const head = pair.buf.slice(0, end);
        pair.buf = pair.buf.slice(end + 4);
        requests.push({ t: Date.now(), head });
        const len = /\r\ncontent-length: *(\d+)/i.exec(head);
        pair.skip = len ? Number(len[1]) : 0;
        if (/^GET \/sse/.test(head) || /\r\nupgrade:/i.test(head)) {
          pair.streaming = true;
          return;
        }
      }
    });
    client.pipe(up);
    up.pipe(client);
    const done = () => {
      client.destroy();
      up.destroy();
      pairs.delete(pair);
    };
    client.on('error', done);
    up.on('error', done);
    client.on('close', done);
    up.on('close', done);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => {
      resolve({
        port: server.address().port,
        requests,
        refused: () => refused,
        cut(how) {
          refusing = how;
          for (const p of pairs) {
            if (how === 'rst') p.client.resetAndDestroy();
            else p.client.destroy();
            p.up.destroy();
          }
          pairs.clear();
        },
        restore() {
          refusing = null;
        },
        close() {
          for (const p of pairs) {
            p.client.destroy();
            p.up.destroy();
          }
          return new Promise((r) => server.close(r));
        },
      });
    });
  });
}

async function waitFor(page, fn, arg, what, timeout = 10000) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 50 });
  } catch (e) {
    const state = await page.evaluate(() => JSON.stringify({
      got: window.got, opens: window.opens, errors: window.errors,
      sse: [...document.querySelectorAll('#sse-log li')].map((li) => li.textContent),
    })).catch(() => '?');
    throw new Error(`${what}: not within ${timeout} ms; page state ${state}`);
  }
}

function sseRequests(proxy, topic) {
  return proxy.requests.filter((r) => r.head.startsWith(`GET /sse?topic=${topic} `));
}

function lastEventId(head) {
  const m = /\r\nLast-Event-ID: *([^\r]*)/i.exec(head);
  return m ? m[1] : null;
}

async function main() {
  const fh = await startFanhubd();
  const proxy = await startProxy(fh.port);
  try {
    // Console errors are expected here: the proxy cuts the stream.
    await withChromium(async (page) => {
      const resp = await page.goto(`http://${HOST}:${proxy.port}/`, { timeout: 10000 });
      if (!resp || resp.status() !== 200) throw new Error(`GET / answered ${resp && resp.status()}`);
      await waitFor(page, () => document.querySelector('#sse-state').textContent === 'open',
        null, 'demo page EventSource open');

      // Our own EventSource, same origin (through the proxy).
      await page.evaluate((topic) => {
        window.got = [];
        window.opens = 0;
        window.errors = 0;
        window.resets = [];
        const es = new EventSource(`/sse?topic=${topic}`);
        es.onopen = () => { window.opens++; };
        es.onerror = () => { window.errors++; };
        es.addEventListener(topic, (e) => window.got.push([e.lastEventId, e.data]));
        es.addEventListener('hub.reset', (e) => window.resets.push(e.data));
        window.es = es;
      }, TOPIC);
      await waitFor(page, () => window.opens === 1, null, 'our EventSource open');

      const want = []; // [seq, data] for TOPIC
      const wantDemo = [];
      const pub = async (tag, n) => {
        for (let i = 0; i < n; i++) {
          const d = `${tag} ${i} \u00e9`;
          want.push([await curlPublish(fh.port, TOPIC, d), d]);
          const dd = `demo ${tag} ${i}`;
          wantDemo.push([await curlPublish(fh.port, 'demo', dd), dd]);
        }
      };
      const caughtUp = async (what, timeout) => {
        await waitFor(page, (n) => window.got.length >= n, want.length, `${what}: ${TOPIC}`, timeout);
        await waitFor(page, (n) => document.querySelectorAll('#sse-log li').length >= n,
          wantDemo.length, `${what}: demo page #sse-log`, timeout);
      };

      await pub('live', 3);
      await caughtUp('live before any cut', 5000);
      const epoch = (await page.evaluate(() => window.got[0][0])).split('-')[0];

      const cuts = [{ how: 'fin', down: 400 }, { how: 'rst', down: 3000 }];
      for (const [k, cut] of cuts.entries()) {
        const before = sseRequests(proxy, TOPIC).length;
        const lastSeen = `${epoch}-${want[want.length - 1][0]}`;
        const refusedBefore = proxy.refused();
        const t0 = Date.now();
        proxy.cut(cut.how);
        await pub(`missed-${cut.how}`, 4); // straight to fanhubd, while cut
        const left = cut.down - (Date.now() - t0);
        if (left > 0) await sleep(left);
        proxy.restore();
        await caughtUp(`after cut ${k + 1} (${cut.how})`, 12000);
        await waitFor(page, (n) => window.opens === n, k + 2, `reopen ${k + 1}`, 3000);
        const reqs = sseRequests(proxy, TOPIC);
        if (reqs.length !== before + 1) {
          throw new Error(`cut ${k + 1}: ${reqs.length - before} new SSE requests through the proxy, want 1`);
        }
        const r = reqs[reqs.length - 1];
        const delay = r.t - t0;
        const id = lastEventId(r.head);
        log(`cut ${k + 1} (${cut.how}, down ${cut.down} ms): reconnected after ${delay} ms ` +
          `with Last-Event-ID ${id}; ${proxy.refused() - refusedBefore} attempts refused`);
        if (id !== lastSeen) throw new Error(`cut ${k + 1}: Last-Event-ID ${id}, want ${lastSeen}`);
        // retry: 2000 honoured (Chromium's own default is 3000 ms). After a
        // refused attempt, the next one comes another retry later.
        const lo = cut.down < 2000 ? 1800 : 3800;
        const hi = cut.down < 2000 ? 2900 : 5500;
        if (delay < lo || delay > hi) {
          throw new Error(`cut ${k + 1}: reconnected after ${delay} ms, want ${lo}..${hi} (retry: 2000)`);
        }
        if (cut.down > 2000 && proxy.refused() === refusedBefore) {
          throw new Error(`cut ${k + 1}: the browser made no attempt while the proxy refused`);
        }
      }

      await pub('live-after', 2);
      await caughtUp('live after the cuts', 5000);
      await sleep(300); // anything extra would show up by now

      const got = await page.evaluate(() => window.got);
      const expect = want.map(([s, d]) => [`${epoch}-${s}`, d]);
      if (JSON.stringify(got) !== JSON.stringify(expect)) {
        throw new Error(`our EventSource got ${JSON.stringify(got)}, want ${JSON.stringify(expect)}`);
      }
      const items = await page.$$eval('#sse-log li', (lis) => lis.map((li) => li.textContent));
      const expectDemo = wantDemo.map(([s, d]) => `#${s} ${d}`);
      if (JSON.stringify(items) !== JSON.stringify(expectDemo)) {
        throw new Error(`demo #sse-log holds ${JSON.stringify(items)}, want ${JSON.stringify(expectDemo)}`);
      }
      const resets = await page.evaluate(() => window.resets);
      if (resets.length) throw new Error(`hub.reset events: ${JSON.stringify(resets)}`);
      log(`${got.length} messages on ${TOPIC} and ${items.length} on demo, each once, in order, ` +
        `${want.length - 5} of them published while cut off`);
    }, { consoleErrors: false });
    await proxy.close();
    await fh.stop();
  } finally {
    await proxy.close().catch(() => {});
    fh.kill();
  }
}

run(main);
