// GraphiQL in headless Chromium against the real `pubgate` binary, with every request to
// another host refused: the page and everything it loads come from the binary, a typed query
// runs over HTTP, a subscription streams over the WebSocket, nothing breaks the page's
// Content-Security-Policy, and with an API token both carry the one typed into the Headers
// editor.
//
// Run with `bash run.sh` (or `node --test graphiql.test.mjs` after `npm ci`).
// PUBGATE_BIN overrides the binary (default: ../../target/debug/pubgate).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Server, WAIT_MS, assignment, deliverAll, gql, launchBrowser, stopServers } from './support.mjs';

const TOKEN = 'e2e-graphiql-token';

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopServers();
});

// ---------------------------------------------------------------------------------------------
// The page

const QUERY_EDITOR = '.graphiql-query-editor .CodeMirror';
const HEADERS_EDITOR = 'section.graphiql-editor-tool[aria-label="Headers"] .graphiql-editor:not(.hidden) .CodeMirror';
const RESULT = 'section.result-window .CodeMirror';

/** GraphiQL on `server` in a fresh context that lets nothing reach another host. `page.seen`
 * holds what the page asked for (`foreign`: requests and sockets to another host, refused;
 * `local`: requests to the gateway; `sockets`: WebSocket URLs; `frames`: frames received) and
 * `page.problems` its script errors, console errors and CSP violations, except console lines
 * matching `tolerated`. */
async function openIde(server, { tolerated = null } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const seen = { foreign: [], local: [], sockets: [], frames: [] };
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname !== '127.0.0.1') {
      seen.foreign.push(url.href);
      return route.abort('blockedbyclient');
    }
    seen.local.push(`${route.request().method()} ${url.pathname}`);
    return route.continue();
  });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    const text = message.text();
    if (text.startsWith('csp-violation')) problems.push(text);
    else if (message.type() === 'error' && !tolerated?.test(text)) problems.push(`console error: ${text}`);
  });
  // Chromium also logs violations as console errors; the event names the directive.
  await page.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) =>
      console.log(`csp-violation: ${e.effectiveDirective} blocked ${e.blockedURI || 'inline'}`),
    ),
  );
  // Route handlers do not see WebSockets: they are recorded here, and any to another host fails
  // the test.
  page.on('websocket', (socket) => {
    const url = new URL(socket.url());
    if (url.hostname !== '127.0.0.1') seen.foreign.push(url.href);
    seen.sockets.push(socket.url());
    socket.on('framereceived', (frame) => seen.frames.push(String(frame.payload)));
  });
  page.seen = seen;
  page.problems = problems;
  const response = await page.goto(`${server.url}/graphql`);
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-security-policy'], /script-src 'self';/);
  await page.locator(QUERY_EDITOR).waitFor({ timeout: WAIT_MS });
  return page;
}

/** Replaces what the CodeMirror editor at `selector` holds by typing `text`. */
async function typeInto(page, selector, text) {
  await page.locator(selector).click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Backspace');
  await page.keyboard.type(text);
  const typed = await page.$eval(selector, (el) => el.CodeMirror.getValue());
  // The editor closes brackets and quotes as they are opened; typing the closing one steps over.
  assert.equal(typed, text, 'the editor holds what was typed');
}

/** Types `text` into the query editor and waits for GraphiQL to parse it (a debounced step):
 * the parsed document is what sends a subscription to the WebSocket rather than over HTTP. */
async function typeQuery(page, text) {
  await typeInto(page, QUERY_EDITOR, text);
  await page.waitForFunction(
    ([selector, want]) => document.querySelector(selector).CodeMirror.documentAST?.loc?.source.body === want,
    [QUERY_EDITOR, text],
    { timeout: WAIT_MS, polling: 20 },
  );
}

/** Waits until the result pane's JSON holds `marker`, and returns it parsed. */
async function waitResult(page, marker) {
  const shown = () => page.$eval(RESULT, (el) => el.CodeMirror.getValue());
  await page
    .waitForFunction(
      ([selector, want]) => document.querySelector(selector)?.CodeMirror.getValue().includes(want),
      [RESULT, marker],
      { timeout: WAIT_MS, polling: 50 },
    )
    .catch(async (error) => {
      throw new Error(`the result pane shows ${JSON.stringify(await shown())}, not ${marker}: ${error.message}`);
    });
  return JSON.parse(await shown());
}

function assertClean(page) {
  assert.deepEqual(page.seen.foreign, [], 'the page asked another host for something');
  assert.deepEqual(page.problems, [], 'the page logged errors or CSP violations');
}

const NEWEST = '{ publications(first: 1) { totalCount edges { cursor node { id } } } }';

/** Subscribes from just after `cursor`, so the first frame is the next assignment stored
 * whenever the subscription reaches the server. */
const subscription = (cursor) => `subscription { voucherAssigned(after: "${cursor}") { cursor node { id } } }`;

// ---------------------------------------------------------------------------------------------
// Scenarios

test('offline: GraphiQL loads from the binary, runs a typed query and streams a subscription', { timeout: 60_000 }, async () => {
  const server = new Server('graphiql');
  await server.start();
  const stored = await deliverAll(server, [assignment('ide', 0), assignment('ide', 1)]);
  const page = await openIde(server);
  assert.ok(
    page.seen.local.some((r) => /^GET \/graphql\/ide\/[0-9a-f]+\/graphiql\.min\.js$/.test(r)),
    `GraphiQL itself came from the gateway: ${page.seen.local.join(', ')}`,
  );

  // A query, with the run button.
  await typeQuery(page, NEWEST);
  await page.locator('.graphiql-execute-button').click();
  const { data } = await waitResult(page, '"totalCount"');
  assert.equal(data.publications.totalCount, stored.length);
  const [newest] = data.publications.edges;
  assert.equal(newest.node.id, stored.at(-1), 'newest first');
  assert.ok(page.seen.local.includes('POST /graphql'), 'the query went to this gateway');

  // A subscription, with Ctrl-Enter: a signed webhook posted while it runs arrives as a frame.
  await typeQuery(page, subscription(newest.cursor));
  await page.keyboard.press('Control+Enter');
  const [live] = await deliverAll(server, [assignment('ide', 2)]);
  const frame = await waitResult(page, live);
  assert.equal(frame.data.voucherAssigned.node.id, live);
  assert.deepEqual(page.seen.sockets, [`ws://${server.addr}/graphql/ws`]);
  assert.ok(
    page.seen.frames.some((f) => f.includes('"type":"next"') && f.includes(live)),
    `a graphql-transport-ws "next" frame carried ${live}: ${page.seen.frames.join(' ')}`,
  );
  const { publications } = await gql(server, NEWEST);
  assert.equal(publications.totalCount, stored.length + 1);
  assertClean(page);
  await page.context().close();
  await server.kill('SIGTERM');
});

test('with an API token: the page needs none; queries and subscriptions carry the Headers editor’s', { timeout: 60_000 }, async () => {
  const server = new Server('graphiql-token', ['--api-token', TOKEN]);
  await server.start();
  const stored = await deliverAll(server, [assignment('idetoken', 0)]);
  // Without the token, GraphiQL's schema request and the first query are refused (401).
  const page = await openIde(server, { tolerated: /status of 401/ });

  await typeQuery(page, NEWEST);
  await page.keyboard.press('Control+Enter');
  const refused = await waitResult(page, '"errors"');
  assert.equal(refused.errors[0].extensions?.code, 'UNAUTHENTICATED', JSON.stringify(refused));

  await page.getByRole('button', { name: 'Headers' }).click();
  await typeInto(page, HEADERS_EDITOR, `{"Authorization": "Bearer ${TOKEN}"}`);
  await page.locator(QUERY_EDITOR).click();
  await page.keyboard.press('Control+Enter');
  const { data } = await waitResult(page, '"totalCount"');
  assert.equal(data.publications.totalCount, stored.length);

  await typeQuery(page, subscription(data.publications.edges[0].cursor));
  await page.keyboard.press('Control+Enter');
  const [live] = await deliverAll(server, [assignment('idetoken', 1)]);
  const frame = await waitResult(page, live);
  assert.equal(frame.data.voucherAssigned.node.id, live);
  assert.ok(
    page.seen.frames.some((f) => f.includes('"type":"connection_ack"')),
    'the WebSocket accepted the token from the Headers editor',
  );
  assertClean(page);
  await page.context().close();
  await server.kill('SIGTERM');
});
