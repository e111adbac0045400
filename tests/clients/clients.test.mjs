// Real, unmodified reference GraphQL clients against the real `pubgate` binary:
//   graphql-ws                  (graphql-transport-ws subprotocol)
//   subscriptions-transport-ws  (legacy graphql-ws subprotocol)
//   graphql-sse                 (distinct connections mode)
//
// Run with `bash run.sh` (or `node --test clients.test.mjs` after `npm ci`).
// PUBGATE_BIN overrides the binary (default: ../../target/debug/pubgate).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import WebSocket from 'ws';
import { createClient as createWsClient } from 'graphql-ws';
import { SubscriptionClient } from 'subscriptions-transport-ws';
import { createClient as createSseClient } from 'graphql-sse';
import { buildSchema, parse, validate } from 'graphql';

import { documents as dashboardDocuments } from '../fixtures/dashboard-documents.mjs';

const BIN =
  process.env.PUBGATE_BIN || fileURLToPath(new URL('../../target/debug/pubgate', import.meta.url));
const SECRET = 'test-webhook-secret';

/** Longest wait for any single thing (a message, a response, the server to start). */
const WAIT_MS = 5_000;
const STARTUP_MS = 30_000;

const SUBSCRIPTION = `subscription($after: String) {
  voucherAssigned(after: $after) { cursor node { id voucher { code type } customer { id } } }
}`;

// ---------------------------------------------------------------------------------------------
// Bounded waiting

/** Rejects with a message naming `what` if `promise` has not settled within `ms`. */
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A queue of things a client reported (`next`, `error`, `complete`), read with bounded waits. */
class Inbox {
  #items = [];
  #waiters = [];

  push(item) {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(item);
    else this.#items.push(item);
  }

  /** The next item; rejects after `ms`. */
  take(ms, what) {
    return this.#wait(ms, () => {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    });
  }

  /** The next item, or `undefined` after `ms`. */
  tryTake(ms) {
    return this.#wait(ms, () => undefined);
  }

  #wait(ms, onTimeout) {
    if (this.#items.length) return Promise.resolve(this.#items.shift());
    return new Promise((resolve, reject) => {
      const waiter = (item) => {
        clearTimeout(timer);
        resolve(item);
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        try {
          resolve(onTimeout());
        } catch (e) {
          reject(e);
        }
      }, ms);
      this.#waiters.push(waiter);
    });
  }
}

/** A sink (graphql-ws / graphql-sse / observable style) that feeds an inbox. */
function sinkInto(inbox) {
  return {
    next: (value) => inbox.push({ kind: 'next', value }),
    error: (value) => inbox.push({ kind: 'error', value }),
    complete: () => inbox.push({ kind: 'complete' }),
  };
}

function describe(item) {
  if (!item) return String(item);
  const value = item.value instanceof Error ? item.value.stack : item.value;
  let text;
  try {
    text = JSON.stringify(value);
  } catch {
    text = String(value);
  }
  if ((text === undefined || text === '{}') && value && typeof value === 'object') {
    // e.g. a CloseEvent: show its code and reason
    text = `${value.constructor?.name} type=${value.type} code=${value.code} reason=${value.reason} message=${value.message}`;
  }
  return `${item.kind}: ${text}`;
}

/** The next result of a subscription; fails on anything but a clean `next` with data. */
async function nextEdge(sub, what) {
  const item = await sub.inbox.take(WAIT_MS, what);
  assert.equal(item.kind, 'next', `expected a result (${what}), got ${describe(item)}`);
  assert.equal(item.value.errors, undefined, `result has errors: ${describe(item)}`);
  const edge = item.value.data?.voucherAssigned;
  assert.ok(edge, `result has no voucherAssigned: ${describe(item)}`);
  return edge;
}

// ---------------------------------------------------------------------------------------------
// The server

let child;
let addr;
let tmp;
let stderrTail = '';

before(async () => {
  assert.ok(existsSync(BIN), `pubgate binary not found at ${BIN} (run \`cargo build\` or set PUBGATE_BIN)`);
  tmp = mkdtempSync(join(tmpdir(), 'pubgate-clients-'));
  // The server reads PUBGATE_* from the environment; keep the caller's out of it.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('PUBGATE_')),
  );
  child = spawn(
    BIN,
    [
      'serve',
      '--listen', '127.0.0.1:0',
      '--database-url', `sqlite://${tmp}/t.db?mode=rwc`,
      '--webhook-secret', SECRET,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  process.on('exit', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderrTail = (stderrTail + chunk).slice(-8_000);
  });
  const lines = createInterface({ input: child.stdout });
  addr = await withTimeout(
    new Promise((resolve, reject) => {
      lines.on('line', (line) => {
        const m = /^pubgate listening on http:\/\/(\S+?) \(GraphiQL at http:\/\/\S+\/graphql, dashboard at http:\/\/\S+\/\)$/.exec(line);
        if (m) resolve(m[1]);
      });
      child.on('error', reject);
      child.on('exit', (code, signal) =>
        reject(new Error(`pubgate exited (${code ?? signal}) before listening:\n${stderrTail}`)),
      );
    }),
    STARTUP_MS,
    'pubgate to print its listening line',
  );
});

after(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    try {
      await withTimeout(exited, WAIT_MS, 'pubgate to exit after SIGTERM');
    } catch {
      child.kill('SIGKILL');
      await withTimeout(exited, WAIT_MS, 'pubgate to exit after SIGKILL');
    }
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Webhooks in

let sequence = 0;
let stored = 0;
let lastStoredId = 0;

const pubId = (label, key) => `pub_${label}_${key}`;
const codeOf = (label, key) => `NODE-${label.toUpperCase()}-${key}`;

/** Posts one signed publication delivery and checks it was stored. */
async function postDelivery(label, key) {
  const n = ++sequence;
  const body = JSON.stringify({
    id: `whs_${n}`,
    project_id: 'proj_test',
    created_at: '2024-03-13T13:45:59.600Z',
    type: 'Test-webhook',
    source: { id: 'distr_test', object: 'distribution', target_url: 'http://127.0.0.1/' },
    event: {
      id: `ev_${n}`,
      type: 'customer.publication.succeeded',
      created_at: '2024-03-13T13:45:59.492Z',
      entity_id: 'x',
      group_id: 'g',
      event_source: { channel: 'API' },
    },
    data: {
      customer: { id: 'cust_1', name: 'Node Client' },
      campaign: { id: 'camp_node', name: 'Node' },
      publication: { id: pubId(label, key), customer_id: 'cust_1', created_at: '2024-05-01T10:00:00Z' },
      voucher: {
        id: `v_${label}_${key}`,
        code: codeOf(label, key),
        type: 'DISCOUNT_VOUCHER',
        campaign_id: 'camp_node',
        discount: { type: 'AMOUNT', amount_off: 500 },
      },
    },
  });
  const signature = createHmac('sha256', SECRET).update(body).digest('hex');
  const res = await withTimeout(
    fetch(`http://${addr}/webhooks/voucherify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-voucherify-signature': signature },
      body,
      signal: AbortSignal.timeout(WAIT_MS),
    }),
    WAIT_MS,
    `the webhook response for ${pubId(label, key)}`,
  );
  const text = await withTimeout(res.text(), WAIT_MS, 'the webhook response body');
  assert.equal(res.status, 200, `webhook answered ${res.status}: ${text}`);
  const json = JSON.parse(text);
  assert.equal(json.status, 'stored', text);
  assert.match(json.id, /^[0-9]+$/, text);
  assert.deepEqual(Object.keys(json).sort(), ['id', 'status'], text);
  assert.ok(Number(json.id) > lastStoredId, `stored ids must increase: ${text} after ${lastStoredId}`);
  lastStoredId = Number(json.id);
  stored++;
  return pubId(label, key);
}

function assertEdge(edge, label, key) {
  assert.equal(edge.node.id, pubId(label, key));
  assert.deepEqual(edge.node.voucher, { code: codeOf(label, key), type: 'DISCOUNT_VOUCHER' });
  assert.deepEqual(edge.node.customer, { id: 'cust_1' });
  assert.equal(typeof edge.cursor, 'string');
  assert.ok(edge.cursor.length > 0);
}

/**
 * Makes sure a live subscription (started without `after`) is following the feed: posts probe
 * deliveries until one arrives, then waits for the last probe posted, so nothing queued ahead
 * of the deliveries a test counts is left. Returns the probe edges.
 */
async function syncLive(sub, label) {
  const posted = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    posted.push(await postDelivery(label, `probe${attempt}`));
    const first = await sub.inbox.tryTake(500);
    if (first === undefined) continue;
    const probes = [];
    let item = first;
    for (;;) {
      assert.equal(item.kind, 'next', `expected a probe, got ${describe(item)}`);
      const edge = item.value.data?.voucherAssigned;
      assert.ok(edge && posted.includes(edge.node.id), `expected a probe, got ${describe(item)}`);
      probes.push(edge);
      if (edge.node.id === posted.at(-1)) return probes;
      item = await sub.inbox.take(WAIT_MS, `probe ${posted.at(-1)}`);
    }
  }
  throw new Error(`no probe delivery arrived on the live ${label} subscription`);
}

/**
 * The shared scenario. `open(variables)` starts a subscription and returns `{ inbox, close }`
 * and optionally `verify(edges)`, called with every edge received before the subscription is
 * closed.
 */
async function liveThenResume(label, open) {
  // Live, no `after`.
  const live = open({});
  let edges;
  let probes;
  try {
    probes = await syncLive(live, label);
    for (const key of [1, 2, 3]) await postDelivery(label, key);
    edges = [];
    for (const key of [1, 2, 3]) {
      const edge = await nextEdge(live, `${label} live delivery ${key}`);
      assertEdge(edge, label, key);
      edges.push(edge);
    }
    await live.verify?.([...probes, ...edges]);
  } finally {
    await live.close();
  }

  // Resume after the 2nd edge: exactly 3, 4, 5, then live (a sentinel is the very next result).
  const cursor = edges[1].cursor;
  for (const key of [4, 5]) await postDelivery(label, key);
  const resumed = open({ after: cursor });
  const replayed = [];
  try {
    for (const key of [3, 4, 5]) {
      const edge = await nextEdge(resumed, `${label} resumed delivery ${key}`);
      assertEdge(edge, label, key);
      replayed.push(edge);
    }
    assert.equal(replayed[0].cursor, edges[2].cursor, 'a replayed edge keeps its cursor');
    await postDelivery(label, 6);
    const sentinel = await nextEdge(resumed, `${label} sentinel delivery 6`);
    assertEdge(sentinel, label, 6);
    replayed.push(sentinel);
    await resumed.verify?.(replayed);
  } finally {
    await resumed.close();
  }
  return { probes, edges, replayed };
}

// ---------------------------------------------------------------------------------------------
// graphql-ws (graphql-transport-ws)

test("the dashboard's documents are valid against schema.graphql", () => {
  const schema = buildSchema(readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'));
  const documents = dashboardDocuments();
  assert.ok(Object.keys(documents).length >= 7, `found ${Object.keys(documents).length} documents`);
  for (const [name, text] of Object.entries(documents)) {
    const errors = validate(schema, parse(text));
    assert.deepEqual(errors.map((e) => e.message), [], `${name} is valid`);
  }
  // The Rust tests execute the same texts, from this snapshot.
  const snapshot = JSON.parse(readFileSync(new URL('../fixtures/dashboard-documents.json', import.meta.url), 'utf8'));
  assert.deepEqual(
    snapshot,
    documents,
    'tests/fixtures/dashboard-documents.json is out of date: node tests/fixtures/dashboard-documents.mjs > tests/fixtures/dashboard-documents.json',
  );
});

test('graphql-ws: live, resume, query over the socket, validation error', async () => {
  const closes = [];
  const client = createWsClient({
    url: `ws://${addr}/graphql`,
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 0, // a server-side close must fail the test, not be papered over
    on: { closed: (event) => closes.push(event) },
  });
  try {
    const open = (variables) => {
      const inbox = new Inbox();
      const dispose = client.subscribe({ query: SUBSCRIPTION, variables }, sinkInto(inbox));
      return { inbox, close: () => dispose() };
    };
    await liveThenResume('gws', open);

    // A query over the socket: one `next`, then `complete`.
    const inbox = new Inbox();
    client.subscribe({ query: '{ webhookEvents { totalCount } }' }, sinkInto(inbox));
    const result = await inbox.take(WAIT_MS, 'the webhookEvents query result');
    assert.equal(result.kind, 'next', describe(result));
    assert.deepEqual(result.value, { data: { webhookEvents: { totalCount: stored } } });
    const done = await inbox.take(WAIT_MS, 'the query to complete');
    assert.equal(done.kind, 'complete', describe(done));

    // An invalid subscription: rejected with GraphQL errors (one `error` message).
    const bad = new Inbox();
    client.subscribe({ query: 'subscription { voucherAssigned { nope } }' }, sinkInto(bad));
    const error = await bad.take(WAIT_MS, 'the validation error');
    assert.equal(error.kind, 'error', describe(error));
    assert.ok(Array.isArray(error.value) && error.value.length > 0, `expected GraphQL errors, got ${describe(error)}`);
    for (const e of error.value) {
      assert.equal(typeof e.message, 'string', describe(error));
      assert.equal(e.extensions?.code, 'BAD_USER_INPUT', describe(error));
    }
    assert.match(error.value[0].message, /nope/, describe(error));

    // Every socket the client opened was closed by the client (1000), never by the server.
    for (const event of closes) {
      assert.equal(event.code, 1000, `socket closed with ${event.code} ${event.reason}`);
    }
  } finally {
    await withTimeout(Promise.resolve(client.dispose()), WAIT_MS, 'the graphql-ws client to dispose');
  }
});

// The same validation error seen on the wire by a plain `ws` socket: exactly one `error` frame
// for the operation (no `next`, no `complete`), and the connection stays open.
test('graphql-transport-ws wire: a validation error is one `error` frame', async () => {
  const socket = new WebSocket(`ws://${addr}/graphql`, 'graphql-transport-ws');
  const frames = new Inbox();
  socket.on('message', (data) => frames.push(JSON.parse(String(data))));
  socket.on('close', (code, reason) => frames.push({ type: '<close>', code, reason: String(reason) }));
  try {
    await withTimeout(
      new Promise((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      }),
      WAIT_MS,
      'the socket to open',
    );
    assert.equal(socket.protocol, 'graphql-transport-ws');
    socket.send(JSON.stringify({ type: 'connection_init' }));
    assert.deepEqual(await frames.take(WAIT_MS, 'connection_ack'), { type: 'connection_ack' });
    socket.send(
      JSON.stringify({ id: 'bad', type: 'subscribe', payload: { query: 'subscription { voucherAssigned { nope } }' } }),
    );
    const error = await frames.take(WAIT_MS, 'the error frame');
    assert.equal(error.type, 'error', JSON.stringify(error));
    assert.equal(error.id, 'bad', JSON.stringify(error));
    assert.ok(Array.isArray(error.payload) && error.payload.length > 0, JSON.stringify(error));
    assert.equal(error.payload[0].extensions?.code, 'BAD_USER_INPUT', JSON.stringify(error));
    // The server answers frames in order: the next frame after a ping must be its pong.
    socket.send(JSON.stringify({ type: 'ping' }));
    assert.deepEqual(await frames.take(WAIT_MS, 'pong'), { type: 'pong' });
  } finally {
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.close(1000);
    await withTimeout(closed, WAIT_MS, 'the socket to close');
  }
});

// RFC 6455 5.5.1: an endpoint that receives a Close frame must send a Close frame in response.
// Without it `ws` (like browsers) reports 1006 (abnormal closure) for a client-initiated close,
// and graphql-ws treats the lazily closed socket as a failed connection.
for (const protocol of ['graphql-transport-ws', 'graphql-ws']) {
  test(`${protocol} wire: the server answers a client Close frame with a Close frame`, async () => {
    const socket = new WebSocket(`ws://${addr}/graphql`, protocol);
    const closed = new Promise((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
    const acked = new Promise((resolve) =>
      socket.on('message', (data) => JSON.parse(String(data)).type === 'connection_ack' && resolve()),
    );
    await withTimeout(
      new Promise((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      }),
      WAIT_MS,
      'the socket to open',
    );
    socket.send(JSON.stringify({ type: 'connection_init' }));
    await withTimeout(acked, WAIT_MS, 'connection_ack');
    socket.close(1000, 'Normal Closure');
    const { code, reason } = await withTimeout(closed, WAIT_MS, 'the socket to close');
    assert.equal(code, 1000, `expected the server to echo Close 1000, got ${code} ${JSON.stringify(reason)} (1006 = no Close frame received)`);
  });
}

// ---------------------------------------------------------------------------------------------
// subscriptions-transport-ws (legacy graphql-ws subprotocol)

test('subscriptions-transport-ws: live and resume', async () => {
  const client = new SubscriptionClient(`ws://${addr}/graphql`, { reconnect: false }, WebSocket);
  const active = new Set();
  let closing = false;
  client.onDisconnected(() => {
    if (closing) return;
    for (const inbox of active) inbox.push({ kind: 'error', value: new Error('the server disconnected') });
  });
  try {
    await withTimeout(
      new Promise((resolve) => client.onConnected(resolve)),
      WAIT_MS,
      'the legacy client to connect',
    );
    const open = (variables) => {
      const inbox = new Inbox();
      active.add(inbox);
      const subscription = client.request({ query: SUBSCRIPTION, variables }).subscribe(sinkInto(inbox));
      return {
        inbox,
        close: () => {
          active.delete(inbox);
          subscription.unsubscribe();
        },
      };
    };
    await liveThenResume('stws', open);
    assert.equal(client.status, WebSocket.OPEN, 'the legacy connection stayed open');
  } finally {
    closing = true;
    client.close();
  }
});

// ---------------------------------------------------------------------------------------------
// graphql-sse (distinct connections mode)

/** A fetch that hands the client the response and also parses the raw event stream. */
function recordingFetch(events) {
  return async (url, init) => {
    const res = await fetch(url, init);
    if (!res.body || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) return res;
    const [forClient, forRecord] = res.body.tee();
    (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of forRecord) {
          buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
          let end;
          while ((end = buffer.indexOf('\n\n')) !== -1) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = {};
            for (const line of block.split('\n')) {
              if (line === '' || line.startsWith(':')) continue;
              const colon = line.indexOf(':');
              const field = colon === -1 ? line : line.slice(0, colon);
              let value = colon === -1 ? '' : line.slice(colon + 1);
              if (value.startsWith(' ')) value = value.slice(1);
              event[field] = field in event ? `${event[field]}\n${value}` : value;
            }
            if (Object.keys(event).length) events.push(event);
          }
        }
      } catch {
        // aborted when the client disposes
      }
    })();
    return new Response(forClient, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

test('graphql-sse: live, resume via `after` and via Last-Event-ID, `id:` on every event', async () => {
  const clients = [];
  const open = (variables, headers = {}) => {
    const inbox = new Inbox();
    const raw = new Inbox();
    const client = createSseClient({
      url: `http://${addr}/graphql`,
      headers,
      retryAttempts: 0, // a dropped stream must fail the test, not be retried silently
      fetchFn: recordingFetch(raw),
    });
    clients.push(client);
    const dispose = client.subscribe({ query: SUBSCRIPTION, variables }, sinkInto(inbox));
    return {
      inbox,
      raw,
      close: () => {
        dispose();
        client.dispose();
      },
    };
  };
  /** Each `next` the client yielded came from an `event: next` whose `id:` is the edge cursor. */
  const assertIds = async (sub, edges) => {
    for (const edge of edges) {
      const event = await sub.raw.take(WAIT_MS, `the raw SSE event for ${edge.node.id}`);
      assert.equal(event.event, 'next', JSON.stringify(event));
      assert.equal(event.id, edge.cursor, `SSE id: must be the edge cursor: ${JSON.stringify(event)}`);
      assert.equal(JSON.parse(event.data).data.voucherAssigned.cursor, edge.cursor);
    }
  };

  try {
    // Live and resume via `after`; `verify` checks the wire before each stream is closed.
    const { edges } = await liveThenResume('sse', (variables) => {
      const sub = open(variables);
      sub.verify = (received) => assertIds(sub, received);
      return sub;
    });

    // Resume via Last-Event-ID (which wins over `after`): everything after the 2nd edge.
    const byHeader = open({ after: edges[0].cursor }, { 'last-event-id': edges[1].cursor });
    try {
      const got = [];
      for (const key of [3, 4, 5, 6]) {
        const edge = await nextEdge(byHeader, `sse Last-Event-ID delivery ${key}`);
        assertEdge(edge, 'sse', key);
        got.push(edge);
      }
      await postDelivery('sse', 7);
      const sentinel = await nextEdge(byHeader, 'sse Last-Event-ID sentinel delivery 7');
      assertEdge(sentinel, 'sse', 7);
      got.push(sentinel);
      await assertIds(byHeader, got);
    } finally {
      byHeader.close();
    }
  } finally {
    for (const client of clients) client.dispose();
  }
});
