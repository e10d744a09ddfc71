'use strict';
// Shared helpers for the node integration tests: start and stop a real
// fanhubd, publish with curl, a WebSocket client with a receive queue.
// Every wait is bounded. FANHUBD names the binary (run.sh sets it).
const { spawn } = require('node:child_process');
const WebSocket = require('ws');

const FANHUBD = process.env.FANHUBD || 'build/fanhubd';
const HOST = '127.0.0.1';

function log(...args) {
  console.error(...args);
}

function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

const live = new Set();
// A test that throws or is killed by run.sh's timeout must not leave a
// server behind.
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

// Starts fanhubd on 127.0.0.1 and a free port; resolves to
// { port, base, proc, stderr(), stop(), kill() }.
async function startFanhubd(flags = [], { startTimeout = 5000, stopTimeout = 5000 } = {}) {
  const proc = spawn(FANHUBD, ['--listen', `${HOST}:0`, ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  let exited = null;
  const exit = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      exited = { code, signal };
      resolve(exited);
    });
  });
  const line = await withTimeout(new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    proc.on('error', reject);
    exit.then((e) => reject(new Error(`fanhubd exited at start ${JSON.stringify(e)}: ${err}`)));
  }), startTimeout, 'fanhubd listening line').catch((e) => {
    proc.kill('SIGKILL');
    throw e;
  });
  const m = /^fanhubd listening on http:\/\/127\.0\.0\.1:(\d+)\/$/.exec(line);
  if (!m) {
    proc.kill('SIGKILL');
    throw new Error(`unexpected first line ${JSON.stringify(line)}`);
  }
  const port = Number(m[1]);
  log(`fanhubd pid ${proc.pid} on port ${port} flags ${JSON.stringify(flags)}`);
  return {
    port,
    base: `http://${HOST}:${port}`,
    proc,
    stderr: () => err,
    // SIGTERM, then exit status 0 within stopTimeout is required.
    async stop() {
      if (exited) throw new Error(`fanhubd died during the test ${JSON.stringify(exited)}: ${err}`);
      const t0 = Date.now();
      proc.kill('SIGTERM');
      const e = await withTimeout(exit, stopTimeout, 'fanhubd exit after SIGTERM').catch((x) => {
        proc.kill('SIGKILL');
        throw x;
      });
      log(`fanhubd stopped in ${Date.now() - t0} ms: ${JSON.stringify(e)}`);
      if (e.code !== 0) throw new Error(`fanhubd exited ${JSON.stringify(e)} after SIGTERM: ${err}`);
    },
    kill() {
      if (!exited) proc.kill('SIGKILL');
    },
  };
}

// POST /publish with curl; resolves to the seq.
function curlPublish(port, topic, data, { contentType = null, timeout = 5 } = {}) {
  const args = ['--noproxy', '*', '-s', '-S', '--max-time', String(timeout),
    '-X', 'POST', '--data-binary', '@-'];
  if (contentType) args.push('-H', `Content-Type: ${contentType}`);
  args.push(`http://${HOST}:${port}/publish?topic=${encodeURIComponent(topic)}`);
  return withTimeout(new Promise((resolve, reject) => {
    const c = spawn('curl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { err += d; });
    c.on('error', reject);
    c.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`curl rc=${code}: ${err}`));
      try {
        resolve(JSON.parse(out).seq);
      } catch (e) {
        reject(new Error(`bad publish answer ${JSON.stringify(out)}`));
      }
    });
    c.stdin.end(data);
  }), (timeout + 2) * 1000, 'curl publish');
}

// A ws client whose frames wait in a queue for next().
class Client {
  static async open(port, path = '/ws', timeout = 5000) {
    const c = new Client(new WebSocket(`ws://${HOST}:${port}${path}`));
    await withTimeout(new Promise((resolve, reject) => {
      c.ws.once('open', resolve);
      c.ws.once('error', reject);
    }), timeout, `open ${path}`);
    return c;
  }

  constructor(ws) {
    this.ws = ws;
    this.queue = [];
    this.waiters = [];
    this.closed = null;
    ws.on('message', (data, isBinary) => this.push({ data: data.toString(), isBinary }));
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.push(null);
    });
    ws.on('error', () => {});
  }

  push(item) {
    const w = this.waiters.shift();
    if (w) w(item);
    else this.queue.push(item);
  }

  // The next frame as { data, isBinary }; null once closed.
  next(timeout = 5000, what = 'a frame') {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.closed) return Promise.resolve(null);
    let w;
    const p = new Promise((resolve) => { w = resolve; this.waiters.push(w); });
    return withTimeout(p, timeout, what).catch((e) => {
      this.waiters = this.waiters.filter((x) => x !== w);
      throw e;
    });
  }

  async nextJson(timeout = 5000, what = 'a frame') {
    const f = await this.next(timeout, what);
    if (!f) throw new Error(`closed ${JSON.stringify(this.closed)} while waiting for ${what}`);
    if (f.isBinary) throw new Error(`binary frame while waiting for ${what}`);
    return { raw: f.data, msg: JSON.parse(f.data) };
  }

  // Nothing more arrives within `ms`.
  async silence(ms = 300) {
    await new Promise((r) => setTimeout(r, ms));
    if (this.queue.length && this.queue[0] !== null) {
      throw new Error(`unexpected extra frame ${JSON.stringify(this.queue[0])}`);
    }
  }

  close() {
    this.ws.close();
  }
}

// Runs a test body; any failure is exit status 1 with the reason.
function run(main) {
  main().then(() => {
    log('passed');
    process.exit(0);
  }, (e) => {
    log(e && e.stack ? e.stack : e);
    log(`FAILED: ${e && e.message ? e.message : e}`);
    process.exit(1);
  });
}

module.exports = { FANHUBD, HOST, log, withTimeout, startFanhubd, curlPublish, Client, run };
