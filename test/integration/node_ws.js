'use strict';
// node `ws` clients: two of them (one subscribed by ?topic=, one by the
// control protocol) get each of 50 curl publishes exactly once, in seq
// order; payloads sent with Content-Type: application/json arrive as JSON
// values embedded verbatim in "data", the others as JSON strings.
const assert = require('node:assert/strict');
const { startFanhubd, curlPublish, Client, run } = require('./fhtest.js');

const TOPIC = 'demo';
const N = 50;

const JSON_PAYLOADS = [
  (i) => `{"n":${i},"nested":{"a":[1,2,{"b":null}]},"s":"\\u00e9\\"q\\\\"}`,
  (i) => `[${i},"two",3.5,-1e3,false]`,
  (i) => `"a json string ${i}"`,
  (i) => `${i}`,
  () => 'true',
  () => 'null',
  (i) => ` { "spaced" : ${i} } `,
];

// Even i: a JSON value (two Content-Type spellings); odd i: plain text
// that looks like JSON but must arrive as a string.
function message(i) {
  if (i % 2 === 0) {
    return {
      body: JSON_PAYLOADS[(i / 2) % JSON_PAYLOADS.length](i),
      contentType: i % 4 === 0 ? 'application/json' : 'application/json; charset=utf-8',
      json: true,
    };
  }
  return { body: i % 3 === 0 ? `{"not":"json ${i}"}` : `text \u00fc ${i}\n"q"`, contentType: null, json: false };
}

async function main() {
  const fh = await startFanhubd();
  try {
    const a = await Client.open(fh.port, `/ws?topic=${TOPIC}`);
    const b = await Client.open(fh.port, '/ws');
    for (const c of [a, b]) {
      const { msg } = await c.nextJson(5000, 'hello');
      assert.equal(msg.type, 'hello');
      assert.match(msg.epoch, /^[0-9a-f]{16}$/);
    }
    b.ws.send(JSON.stringify({ op: 'subscribe', topic: TOPIC }));
    const { msg: sub } = await b.nextJson(5000, 'subscribed');
    assert.equal(sub.type, 'subscribed');
    assert.equal(sub.topic, TOPIC);

    const seqs = [];
    for (let i = 0; i < N; i++) {
      const m = message(i);
      seqs.push(await curlPublish(fh.port, TOPIC, m.body, { contentType: m.contentType }));
    }
    for (let i = 1; i < N; i++) assert.ok(seqs[i] > seqs[i - 1], `seqs increase: ${seqs}`);

    for (const [k, c] of [a, b].entries()) {
      for (let i = 0; i < N; i++) {
        const m = message(i);
        const { raw, msg } = await c.nextJson(5000, `message ${i} on client ${k}`);
        assert.equal(msg.type, 'message', raw);
        assert.equal(msg.topic, TOPIC, raw);
        assert.equal(msg.seq, seqs[i], `client ${k} message ${i} seq: ${raw}`);
        if (m.json) {
          assert.deepEqual(msg.data, JSON.parse(m.body), raw);
          // Embedded as is, not re-encoded and not as a string.
          assert.ok(raw.includes(`"data":${m.body}`), `raw JSON not embedded verbatim: ${raw}`);
        } else {
          assert.equal(typeof msg.data, 'string', raw);
          assert.equal(msg.data, m.body, raw);
        }
      }
    }
    await Promise.all([a.silence(), b.silence()]);
    a.close();
    b.close();
    await fh.stop();
  } finally {
    fh.kill();
  }
}

run(main);
