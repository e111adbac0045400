// Real, unmodified reference GraphQL clients against the real `pubgate` binary:
//   graphql-ws                  (graphql-transport-ws subprotocol)
//   subscriptions-transport-ws  (legacy graphql-ws subprotocol)
//   graphql-sse                 (distinct connections mode)
//   Apollo Client               (HttpLink, GraphQLWsLink, persisted queries)
//   urql                        (fetchExchange, subscriptionExchange, persistedExchange)
// and graphql-http's GraphQL-over-HTTP audit of `/graphql`.
//
// Run with `bash run.sh` (or `node --test clients.test.mjs` after `npm ci`).
// PUBGATE_BIN overrides the binary (default: ../../target/debug/pubgate).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import WebSocket from 'ws';
import { createClient as createWsClient } from 'graphql-ws';
import { SubscriptionClient } from 'subscriptions-transport-ws';
import { createClient as createSseClient } from 'graphql-sse';
import { buildSchema, parse, validate } from 'graphql';
import { serverAudits } from 'graphql-http';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client/core';
import { loadDevMessages, loadErrorMessages } from '@apollo/client/dev';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { Client as UrqlClient, fetchExchange, subscriptionExchange } from '@urql/core';
import { persistedExchange } from '@urql/exchange-persisted';

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

/** Every server started, so that none outlives the test process. */
const servers = new Set();
process.on('exit', () => {
  for (const server of servers) server.kill();
});

/**
 * Starts `pubgate serve` on a free loopback port with a fresh SQLite database, plus `extraArgs`.
 * Each server counts the deliveries posted to it, for the assertions that read counts back.
 */
async function startServer(extraArgs = []) {
  const dir = mkdtempSync(join(tmpdir(), 'pubgate-clients-'));
  // The server reads PUBGATE_* from the environment; keep the caller's out of it.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('PUBGATE_')),
  );
  const child = spawn(
    BIN,
    [
      'serve',
      '--listen', '127.0.0.1:0',
      '--database-url', `sqlite://${dir}/t.db?mode=rwc`,
      '--webhook-secret', SECRET,
      ...extraArgs,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderrTail = '';
  const running = () => child.exitCode === null && child.signalCode === null;
  const server = {
    addr: undefined,
    stored: 0,
    lastStoredId: 0,
    kill: () => running() && child.kill('SIGKILL'),
    async stop() {
      if (running()) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        try {
          await withTimeout(exited, WAIT_MS, 'pubgate to exit after SIGTERM');
        } catch {
          child.kill('SIGKILL');
          await withTimeout(exited, WAIT_MS, 'pubgate to exit after SIGKILL');
        }
      }
      servers.delete(server);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  servers.add(server);
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderrTail = (stderrTail + chunk).slice(-8_000);
  });
  const lines = createInterface({ input: child.stdout });
  try {
    server.addr = await withTimeout(
      new Promise((resolve, reject) => {
        lines.on('line', (line) => {
          const m = /^pubgate listening on http:\/\/(\S+?) \(GraphiQL at http:\/\/\S+\/graphql, dashboard at http:\/\/\S+\/\)$/.exec(line);
          if (m) resolve(m[1]);
        });
        child.on('error', reject);
        // The stderr pipe may still hold the reason when `exit` fires; `close` comes after it.
        child.on('close', (code, signal) =>
          reject(new Error(`pubgate ${extraArgs.join(' ')} exited (${code ?? signal}) before listening:\n${stderrTail}`)),
        );
      }),
      STARTUP_MS,
      'pubgate to print its listening line',
    );
  } catch (e) {
    await server.stop();
    throw e;
  }
  return server;
}

/** The server most tests share. */
let main;
let addr;

before(async () => {
  assert.ok(existsSync(BIN), `pubgate binary not found at ${BIN} (run \`cargo build\` or set PUBGATE_BIN)`);
  main = await startServer();
  addr = main.addr;
});

after(async () => {
  await main?.stop();
});

// ---------------------------------------------------------------------------------------------
// Webhooks in

let sequence = 0;

const pubId = (label, key) => `pub_${label}_${key}`;
const codeOf = (label, key) => `NODE-${label.toUpperCase()}-${key}`;

/**
 * Posts one signed publication delivery and checks it was stored. `customerId` and `createdAt`
 * let a test own a slice of the data (a filter) in a known order.
 */
async function postDelivery(
  label,
  key,
  { server = main, customerId = 'cust_1', createdAt = '2024-05-01T10:00:00Z' } = {},
) {
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
      customer: { id: customerId, name: 'Node Client' },
      campaign: { id: 'camp_node', name: 'Node' },
      publication: { id: pubId(label, key), customer_id: customerId, created_at: createdAt },
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
    fetch(`http://${server.addr}/webhooks/voucherify`, {
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
  assert.ok(Number(json.id) > server.lastStoredId, `stored ids must increase: ${text} after ${server.lastStoredId}`);
  server.lastStoredId = Number(json.id);
  server.stored++;
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
async function syncLive(sub, label, server = main) {
  const posted = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    posted.push(await postDelivery(label, `probe${attempt}`, { server }));
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
  // The binary (as trusted documents) and the Rust tests take the same texts from this snapshot.
  const snapshot = JSON.parse(readFileSync(new URL('../../src/dashboard/documents.json', import.meta.url), 'utf8'));
  assert.deepEqual(
    snapshot,
    documents,
    'src/dashboard/documents.json is out of date: node tests/fixtures/dashboard-documents.mjs > src/dashboard/documents.json',
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
    assert.deepEqual(result.value, { data: { webhookEvents: { totalCount: main.stored } } });
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

// ---------------------------------------------------------------------------------------------
// Plain HTTP helpers

/** fetch with a deadline, keeping the caller's own abort signal working. */
function boundedFetch(input, init = {}) {
  const deadline = AbortSignal.timeout(WAIT_MS);
  return fetch(input, { ...init, signal: init.signal ? AbortSignal.any([init.signal, deadline]) : deadline });
}

/** POSTs a GraphQL request as JSON; the status, the content type and the body (parsed if JSON). */
async function postGraphql(server, body, accept = 'application/graphql-response+json') {
  const res = await withTimeout(
    boundedFetch(`http://${server.addr}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept },
      body: JSON.stringify(body),
    }),
    WAIT_MS,
    `the answer to ${JSON.stringify(body)}`,
  );
  const text = await withTimeout(res.text(), WAIT_MS, 'the GraphQL response body');
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    // left undefined: the assertions show `text`
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, json };
}

/**
 * A fetch for one-shot requests that records, per request, the GraphQL parameters as sent (from
 * the URL for GET, the JSON body for POST), the Accept header, and the answer's status, content
 * type and JSON body: what a client put on the wire, not what it reports. `settled` says when
 * the client is done with the answer: a JSON body has been read, or the client aborted a stream.
 */
function countingFetch(calls) {
  return async (input, init = {}) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const method = (init.method ?? 'GET').toUpperCase();
    let params;
    if (method === 'GET') {
      params = Object.fromEntries(url.searchParams);
      for (const key of ['variables', 'extensions']) {
        if (key in params) params[key] = JSON.parse(params[key]);
      }
    } else {
      params = JSON.parse(init.body);
    }
    const res = await boundedFetch(input, init);
    const contentType = res.headers.get('content-type') ?? '';
    const call = { method, params, accept: new Headers(init.headers).get('accept'), status: res.status, contentType };
    calls.push(call);
    let settled = Promise.resolve();
    if (/json/.test(contentType)) {
      call.body = JSON.parse(await withTimeout(res.clone().text(), WAIT_MS, `the body of ${method} ${url}`));
    } else if (init.signal) {
      // A stream (an event stream or multipart answer): the client is done with it when it aborts.
      const { signal } = init;
      settled = new Promise((resolve) =>
        signal.aborted ? resolve() : signal.addEventListener('abort', resolve, { once: true }),
      );
    }
    // Not enumerable: calls are printed in failure messages.
    Object.defineProperty(call, 'settled', { value: settled });
    return res;
  };
}

const sha256Hex = (text) => createHash('sha256').update(text).digest('hex');

/** A result without the `__typename`s a client adds to every selection on its own. */
function withoutTypename(value) {
  if (Array.isArray(value)) return value.map(withoutTypename);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => key !== '__typename')
        .map(([key, v]) => [key, withoutTypename(v)]),
    );
  }
  return value;
}

/** An Apollo or urql result in the plain GraphQL shape `nextEdge` reads. */
function plainResult({ data, error }) {
  const result = { data: withoutTypename(data) };
  if (error) {
    const errors = error.errors ?? error.graphQLErrors ?? [];
    result.errors = errors.length ? errors : [{ message: error.message }];
  }
  return result;
}

/**
 * The answer to a hash the server does not know, sent without its text. It is a request error:
 * under application/graphql-response+json that means 4xx and no `data` key.
 */
function assertPersistedQueryNotFound(call) {
  const text = JSON.stringify(call);
  assert.ok(call.body, `expected a JSON answer: ${text}`);
  assert.equal(call.body.errors?.[0]?.message, 'PersistedQueryNotFound', text);
  assert.equal(call.body.errors[0].extensions?.code, 'PERSISTED_QUERY_NOT_FOUND', text);
  if (call.contentType.startsWith('application/graphql-response+json')) {
    assert.ok(!('data' in call.body), `a request error has no data key: ${text}`);
    assert.ok(call.status >= 400 && call.status < 500, `a request error is 4xx: ${text}`);
  }
}

/**
 * A persisted query's round trip, from the requests a client made: the hash alone (a miss),
 * the hash with its text (which registers it), then, after `run()` again, the hash alone (a
 * hit); each with the method given and the answer `expected`.
 */
async function assertPersistedRoundTrip(calls, methods, expected, run) {
  const [miss, register] = calls;
  const hash = miss.params.extensions?.persistedQuery?.sha256Hash;
  assert.match(hash ?? '', /^[0-9a-f]{64}$/, JSON.stringify(miss));
  assert.equal(miss.method, methods.miss);
  assert.equal(miss.params.query, undefined, 'the first request sends only the hash');
  assertPersistedQueryNotFound(miss);
  assert.equal(register.method, methods.register);
  assert.equal(register.params.extensions?.persistedQuery?.sha256Hash, hash, JSON.stringify(register));
  assert.equal(sha256Hex(register.params.query), hash, 'the hash is that of the text sent');
  assert.equal(register.status, 200, JSON.stringify(register));
  assert.deepEqual(withoutTypename(register.body), { data: expected }, JSON.stringify(register));

  assert.deepEqual(await run(), expected);
  assert.equal(calls.length, 3, JSON.stringify(calls));
  const hit = calls[2];
  assert.equal(hit.method, methods.hit);
  assert.equal(hit.params.query, undefined, 'a known hash is sent alone');
  assert.equal(hit.params.extensions?.persistedQuery?.sha256Hash, hash, JSON.stringify(hit));
  assert.equal(hit.status, 200, JSON.stringify(hit));
  assert.deepEqual(withoutTypename(hit.body), { data: expected }, JSON.stringify(hit));
}

const PAGE_QUERY = `query Page($customerId: ID!, $after: String) {
  publications(filter: { customerId: $customerId }, first: 2, after: $after) {
    totalCount
    edges { cursor node { id } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** Three assignments to a customer of the label's own, an hour apart; their ids, newest first. */
async function postPageData(label) {
  const ids = [];
  for (const key of [1, 2, 3]) {
    const id = await postDelivery(label, key, {
      customerId: `cust_${label}`,
      createdAt: `2024-06-01T1${key}:00:00Z`,
    });
    ids.unshift(id);
  }
  return ids;
}

/** Reads the two pages of `postPageData(label)` with `page(variables)`, which returns the connection. */
async function assertTwoPages(label, ids, page) {
  const first = await page({ customerId: `cust_${label}` });
  assert.deepEqual(first.edges.map((e) => e.node.id), ids.slice(0, 2), JSON.stringify(first));
  assert.equal(first.totalCount, 3, JSON.stringify(first));
  assert.equal(first.pageInfo.hasNextPage, true, JSON.stringify(first));
  assert.equal(first.pageInfo.endCursor, first.edges[1].cursor, JSON.stringify(first));
  const second = await page({ customerId: `cust_${label}`, after: first.pageInfo.endCursor });
  assert.deepEqual(second.edges.map((e) => e.node.id), ids.slice(2), JSON.stringify(second));
  assert.equal(second.totalCount, 3, JSON.stringify(second));
  assert.equal(second.pageInfo.hasNextPage, false, JSON.stringify(second));
}

// ---------------------------------------------------------------------------------------------
// GraphQL over HTTP: graphql-http's audit

/**
 * SHOULD-level audit findings that are deliberate, each with the words of the GraphQL-over-HTTP
 * draft (https://graphql.github.io/graphql-over-http/draft/) that allow it. Any other warning
 * fails the test, and so does a listed one that no longer occurs, so that the list stays true.
 */
const ALLOWED_AUDIT_WARNINGS = {
  // "SHOULD accept */* and use application/json for the content-type": `*/*` gives every type
  // the same priority, so pubgate answers in the type every server must speak (its default).
  '47DE': [
    'A server MUST support responses using the `application/graphql-response+json` media type.',
    'If an `Accept` header is provided, the server MUST respect the given `Accept` header and ' +
      'attempt to encode the response in the highest priority media type listed that is ' +
      'supported by the server.',
  ],
  // "SHOULD assume application/json content-type when accept is missing": with no Accept,
  // pubgate answers application/graphql-response+json, as the API documents.
  '80D8': [
    'Note: If a client does not supply the `Accept` header then the server may respond with an ' +
      'error, or with any content type it chooses (including serving a valid GraphQL response ' +
      'under a media type of its choosing).',
    'The client MUST include the media type `application/graphql-response+json` in the `Accept` header.',
  ],
};

test('GraphQL over HTTP: graphql-http server audits', async (t) => {
  const results = [];
  // One at a time, so that the server's log reads in the audits' order.
  for (const audit of serverAudits({ url: `http://${addr}/graphql`, fetchFn: boundedFetch })) {
    results.push(await withTimeout(audit.fn(), WAIT_MS, `audit ${audit.id} (${audit.name})`));
  }
  const described = new Map();
  for (const r of results.filter((r) => r.status !== 'ok')) {
    let body = '';
    if (!r.response.bodyUsed) {
      body = (await withTimeout(r.response.text(), WAIT_MS, `the body of audit ${r.id}`)).slice(0, 300);
    }
    const got = `${r.response.status} ${r.response.headers.get('content-type')} ${body}`;
    described.set(r, `${r.id} ${r.name}: ${r.reason} (got ${got})`);
  }
  const having = (status) => results.filter((r) => r.status === status);
  const [errors, warnings, notices] = [having('error'), having('warn'), having('notice')];
  t.diagnostic(
    `audit: ${having('ok').length} ok, ${warnings.length} warnings, ${errors.length} errors, ` +
      `${notices.length} notices (MAY)`,
  );
  for (const r of [...errors, ...warnings, ...notices]) {
    const allowed = r.status === 'warn' && ALLOWED_AUDIT_WARNINGS[r.id];
    t.diagnostic(`${r.status} ${described.get(r)}${allowed ? ` [allowed: "${allowed.join(' ')}"]` : ''}`);
  }

  assert.deepEqual(errors.map((r) => described.get(r)), [], 'MUST-level audits failed');
  assert.deepEqual(
    warnings.filter((r) => !Object.hasOwn(ALLOWED_AUDIT_WARNINGS, r.id)).map((r) => described.get(r)),
    [],
    'warnings that are not in ALLOWED_AUDIT_WARNINGS',
  );
  const warned = new Set(warnings.map((r) => r.id));
  assert.deepEqual(
    Object.keys(ALLOWED_AUDIT_WARNINGS).filter((id) => !warned.has(id)),
    [],
    'in ALLOWED_AUDIT_WARNINGS but no longer warned about: take them off the list',
  );
});

// ---------------------------------------------------------------------------------------------
// Apollo Client (core, no React)

// Apollo ships its message texts separately; without them a failure reads as a bare error code.
loadDevMessages();
loadErrorMessages();

test('Apollo Client: a page and the next over HttpLink, live and resume over GraphQLWsLink', async () => {
  const wsClient = createWsClient({
    url: `ws://${addr}/graphql`,
    webSocketImpl: WebSocket, // Node 20 has no global WebSocket
    lazy: true,
    retryAttempts: 0,
  });
  const client = new ApolloClient({
    cache: new InMemoryCache(),
    link: ApolloLink.split(
      ({ operationType }) => operationType === 'subscription',
      new GraphQLWsLink(wsClient),
      new HttpLink({ uri: `http://${addr}/graphql`, fetch: boundedFetch }),
    ),
  });
  try {
    const ids = await postPageData('apage');
    const pageQuery = gql(PAGE_QUERY);
    await assertTwoPages('apage', ids, async (variables) => {
      const { data } = await withTimeout(
        client.query({ query: pageQuery, variables, fetchPolicy: 'no-cache' }),
        WAIT_MS,
        'an Apollo page',
      );
      return withoutTypename(data).publications;
    });

    const subscription = gql(SUBSCRIPTION);
    await liveThenResume('apollo', (variables) => {
      const inbox = new Inbox();
      const observer = client
        .subscribe({ query: subscription, variables, fetchPolicy: 'no-cache' })
        .subscribe({
          next: (result) => inbox.push({ kind: 'next', value: plainResult(result) }),
          error: (value) => inbox.push({ kind: 'error', value }),
          complete: () => inbox.push({ kind: 'complete' }),
        });
      return { inbox, close: () => observer.unsubscribe() };
    });
  } finally {
    client.stop();
    await withTimeout(Promise.resolve(wsClient.dispose()), WAIT_MS, 'the graphql-ws client to dispose');
  }
});

for (const overGet of [false, true]) {
  test(`Apollo Client: automatic persisted queries${overGet ? ' with useGETForHashedQueries' : ' over POST'}`, async () => {
    const calls = [];
    const client = new ApolloClient({
      cache: new InMemoryCache(),
      link: ApolloLink.from([
        new PersistedQueryLink({ sha256: sha256Hex, useGETForHashedQueries: overGet }),
        new HttpLink({ uri: `http://${addr}/graphql`, fetch: countingFetch(calls) }),
      ]),
    });
    // A text of its own: the server remembers every hash registered before.
    const query = gql(`query ApolloPersisted${overGet ? 'Get' : 'Post'} { webhookEvents { totalCount } }`);
    const run = async () => {
      const { data } = await withTimeout(
        client.query({ query, fetchPolicy: 'no-cache' }),
        WAIT_MS,
        'the persisted query',
      );
      return withoutTypename(data);
    };
    const expected = { webhookEvents: { totalCount: main.stored } };
    try {
      assert.deepEqual(await run(), expected);
      assert.equal(calls.length, 2, `a miss, then the registration: ${JSON.stringify(calls)}`);
      // Apollo sends the text over POST whatever the first request used: it may be long.
      const method = overGet ? 'GET' : 'POST';
      await assertPersistedRoundTrip(calls, { miss: method, register: 'POST', hit: method }, expected, run);
    } finally {
      client.stop();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// urql

/** What urql asks for on a query unless told otherwise. A query must still get plain JSON. */
const URQL_DEFAULT_ACCEPT =
  'application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed';

/**
 * Runs `fn(calls)` and fails if any promise was rejected without a handler meanwhile: a client
 * that aborts its own fetch on teardown (urql does) must not leave an AbortError behind. `calls`
 * is for `countingFetch`, so that every answer's body is known to have ended before the verdict.
 */
async function noUnhandledRejections(fn) {
  const seen = [];
  const collect = (reason) => seen.push(reason);
  process.on('unhandledRejection', collect);
  const calls = [];
  try {
    await fn(calls);
  } finally {
    // An abort on teardown fails whatever was still reading the answer, and Node reports a
    // rejection as unhandled once the microtask queue has drained: one more turn of the event
    // loop after the clients are done with their answers lets it be reported here, also when
    // `fn` failed.
    await withTimeout(Promise.all(calls.map((c) => c.settled)), WAIT_MS, 'the clients to be done').catch(() => {});
    await new Promise((resolve) => setImmediate(resolve));
    process.off('unhandledRejection', collect);
  }
  assert.deepEqual(seen.map((e) => e?.stack ?? String(e)), [], 'unhandled rejections');
}

test('urql: with its default Accept, a page and the next come back as JSON', () =>
  noUnhandledRejections(async (calls) => {
    const client = new UrqlClient({
      url: `http://${addr}/graphql`,
      exchanges: [fetchExchange],
      fetch: countingFetch(calls),
    });
    const ids = await postPageData('upage');
    await assertTwoPages('upage', ids, async (variables) => {
      const result = await withTimeout(client.query(PAGE_QUERY, variables).toPromise(), WAIT_MS, 'a urql page');
      assert.equal(result.error, undefined, String(result.error));
      return withoutTypename(result.data).publications;
    });
    assert.equal(calls.length, 2, JSON.stringify(calls));
    for (const call of calls) {
      assert.equal(call.accept, URQL_DEFAULT_ACCEPT, "urql's own Accept header, as it sends it");
      assert.match(
        call.contentType,
        /^application\/(graphql-response\+)?json\b/,
        `a query gets a JSON answer, not a stream: ${JSON.stringify(call)}`,
      );
    }
  }),
);

for (const transport of ['graphql-ws', 'graphql-sse']) {
  test(`urql: subscriptionExchange over ${transport}, live and resume`, () =>
    noUnhandledRejections(async () => {
      const transportClient =
        transport === 'graphql-ws'
          ? createWsClient({ url: `ws://${addr}/graphql`, webSocketImpl: WebSocket, lazy: true, retryAttempts: 0 })
          : createSseClient({ url: `http://${addr}/graphql`, retryAttempts: 0 });
      const client = new UrqlClient({
        url: `http://${addr}/graphql`,
        exchanges: [
          subscriptionExchange({
            forwardSubscription: (request) => ({
              subscribe: (sink) => ({ unsubscribe: transportClient.subscribe(request, sink) }),
            }),
          }),
          fetchExchange,
        ],
      });
      try {
        await liveThenResume(transport === 'graphql-ws' ? 'urqlws' : 'urqlsse', (variables) => {
          const inbox = new Inbox();
          const { unsubscribe } = client
            .subscription(SUBSCRIPTION, variables)
            .subscribe((result) => inbox.push({ kind: 'next', value: plainResult(result) }));
          return { inbox, close: unsubscribe };
        });
      } finally {
        await withTimeout(Promise.resolve(transportClient.dispose()), WAIT_MS, `the ${transport} client to dispose`);
      }
    }),
  );
}

test('urql: persistedExchange over GET, the text once, then the hash alone', () =>
  noUnhandledRejections(async (calls) => {
    const client = new UrqlClient({
      url: `http://${addr}/graphql`,
      exchanges: [persistedExchange({ preferGetForPersistedQueries: true }), fetchExchange],
      fetch: countingFetch(calls),
    });
    const run = async () => {
      const result = await withTimeout(
        client.query('query UrqlPersisted { webhookEvents { totalCount } }', {}).toPromise(),
        WAIT_MS,
        'the persisted query',
      );
      assert.equal(result.error, undefined, String(result.error));
      return withoutTypename(result.data);
    };
    const expected = { webhookEvents: { totalCount: main.stored } };

    assert.deepEqual(await run(), expected);
    assert.equal(calls.length, 2, `a miss, then the registration: ${JSON.stringify(calls)}`);
    // urql retries with the same method, the text added and the hash marked as a miss.
    await assertPersistedRoundTrip(calls, { miss: 'GET', register: 'GET', hit: 'GET' }, expected, run);
  }),
);

// ---------------------------------------------------------------------------------------------
// Trusted documents

/** The GraphQL errors an SSE client reported: in a `next` result, or in a non-2xx JSON answer. */
async function sseErrors(item) {
  if (item.kind === 'next') return item.value.errors;
  if (item.kind === 'error' && item.value?.response) {
    const text = await withTimeout(item.value.response.text(), WAIT_MS, 'the refused stream body');
    try {
      return JSON.parse(text).errors;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

test('trusted documents: only the manifest runs, by documentId over HTTP, graphql-ws and graphql-sse', async () => {
  const COUNT = 'query TrustedCount { webhookEvents { totalCount } }';
  const OTHER_SUBSCRIPTION = 'subscription { webhookEventReceived { cursor } }';
  const dir = mkdtempSync(join(tmpdir(), 'pubgate-manifest-'));
  const manifest = join(dir, 'trusted-documents.json');
  writeFileSync(manifest, JSON.stringify({ [sha256Hex(COUNT)]: COUNT, [sha256Hex(SUBSCRIPTION)]: SUBSCRIPTION }));
  let server;
  const disposers = [];
  try {
    server = await startServer(['--trusted-documents', manifest, '--only-trusted-documents']);
    await postDelivery('trusted', 1, { server });
    const counted = { data: { webhookEvents: { totalCount: server.stored } } };

    // HTTP, without the text: by documentId, and by the APQ hash of a trusted document.
    const byId = await postGraphql(server, { documentId: `sha256:${sha256Hex(COUNT)}` });
    assert.equal(byId.status, 200, byId.text);
    assert.deepEqual(byId.json, counted, byId.text);
    const byHash = await postGraphql(server, {
      extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex(COUNT) } },
    });
    assert.equal(byHash.status, 200, byHash.text);
    assert.deepEqual(byHash.json, counted, byHash.text);

    // HTTP: any other text is refused, as a request error.
    const other = await postGraphql(server, { query: '{ webhookEvents { totalCount } }' });
    assert.equal(other.json?.errors?.[0]?.extensions?.code, 'FORBIDDEN', other.text);
    assert.ok(!('data' in other.json), `a refused document has no data key: ${other.text}`);
    assert.ok(other.status >= 400 && other.status < 500, `a refused document is 4xx: ${other.status} ${other.text}`);

    // graphql-ws: the client insists on a string `query`; an empty one stands for none.
    const ws = createWsClient({ url: `ws://${server.addr}/graphql`, webSocketImpl: WebSocket, lazy: true, retryAttempts: 0 });
    disposers.push(() => ws.dispose());
    const wsLive = { inbox: new Inbox() };
    const stopWs = ws.subscribe(
      { query: '', documentId: `sha256:${sha256Hex(SUBSCRIPTION)}`, variables: {} },
      sinkInto(wsLive.inbox),
    );
    try {
      await syncLive(wsLive, 'trustws', server);
    } finally {
      stopWs();
    }
    const wsRefused = new Inbox();
    ws.subscribe({ query: OTHER_SUBSCRIPTION }, sinkInto(wsRefused));
    const wsError = await wsRefused.take(WAIT_MS, 'the refusal over graphql-ws');
    assert.equal(wsError.kind, 'error', describe(wsError));
    assert.equal(wsError.value?.[0]?.extensions?.code, 'FORBIDDEN', describe(wsError));

    // graphql-sse: the client sends the request as given, so no `query` at all.
    const sse = createSseClient({ url: `http://${server.addr}/graphql`, retryAttempts: 0 });
    disposers.push(() => sse.dispose());
    const sseLive = { inbox: new Inbox() };
    const stopSse = sse.subscribe(
      { documentId: `sha256:${sha256Hex(SUBSCRIPTION)}`, variables: {} },
      sinkInto(sseLive.inbox),
    );
    try {
      await syncLive(sseLive, 'trustsse', server);
    } finally {
      stopSse();
    }
    const sseRefused = new Inbox();
    sse.subscribe({ query: OTHER_SUBSCRIPTION }, sinkInto(sseRefused));
    const sseItem = await sseRefused.take(WAIT_MS, 'the refusal over graphql-sse');
    const sseErrorList = await sseErrors(sseItem);
    assert.equal(sseErrorList?.[0]?.extensions?.code, 'FORBIDDEN', describe(sseItem));
  } finally {
    for (const dispose of disposers) await withTimeout(Promise.resolve(dispose()), WAIT_MS, 'a client to dispose');
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Relay object identification

test('Relay: node and nodes resolve Voucherify ids, null for unknown or malformed ones', async () => {
  const publication = await postDelivery('relay', 1);
  const res = await postGraphql(main, {
    query: `query Nodes($customer: ID!, $publication: ID!, $voucher: ID!, $campaign: ID!) {
      customer: node(id: $customer) { __typename id ... on Customer { name } }
      publication: node(id: $publication) { __typename id ... on Publication { voucher { code } customer { id } } }
      unknown: node(id: "cust_nobody") { __typename id }
      nodes(ids: [$customer, "pub_nobody", $publication, $voucher, "not an id", $campaign]) { __typename id }
    }`,
    variables: { customer: 'cust_1', publication, voucher: 'v_relay_1', campaign: 'camp_node' },
  });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(
    res.json,
    {
      data: {
        customer: { __typename: 'Customer', id: 'cust_1', name: 'Node Client' },
        publication: {
          __typename: 'Publication',
          id: publication,
          voucher: { code: codeOf('relay', 1) },
          customer: { id: 'cust_1' },
        },
        unknown: null,
        nodes: [
          { __typename: 'Customer', id: 'cust_1' },
          null,
          { __typename: 'Publication', id: publication },
          { __typename: 'Voucher', id: 'v_relay_1' },
          null,
          { __typename: 'Campaign', id: 'camp_node' },
        ],
      },
    },
    res.text,
  );
});
