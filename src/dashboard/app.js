// The dashboard: wires the feed, the counters and their chart, the search, the connection
// indicator and the token prompt together. Everything it shows comes from the public GraphQL API.

import { AuthError, LiveSubscription, token } from './api.js';
import { Chart } from './chart.js';
import { SUBSCRIPTION } from './documents.js';
import { Feed } from './feed.js';
import { Search } from './search.js';
import { Stats } from './stats.js';

const $ = (id) => document.getElementById(id);

const STATES = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline, retrying',
  locked: 'API token needed',
};

const status = $('status');
function setState(state) {
  if (status.dataset.state === state) return;
  status.dataset.state = state;
  status.querySelector('.label').textContent = STATES[state];
}

/** A request that failed: a refused token is asked for again; anything else (the server is
 * restarting, the network is down) is retried by whoever made the request. */
function failed(error) {
  if (error instanceof AuthError) askToken('That token was refused.');
  else console.warn('pubgate:', error.message);
}

const chart = new Chart({
  svg: $('chart'),
  title: $('chart-svg-title'),
  desc: $('chart-svg-desc'),
  legend: $('chart-legend'),
  readout: $('chart-readout'),
  choices: $('chart-range'),
  details: $('chart-details'),
  table: $('chart-table'),
});
chart.bind();

const stats = new Stats({
  types: $('types').tBodies[0],
  campaigns: $('campaigns').tBodies[0],
  meta: $('stats-meta'),
  chart,
  onError: failed,
});

const feed = new Feed({
  table: $('feed'),
  rows: $('feed-rows'),
  empty: $('feed-empty'),
  meta: $('feed-meta'),
  announce: $('feed-announce'),
  onRow: (node) => stats.add(node),
});

const search = new Search({
  form: $('search'),
  input: $('search-q'),
  results: $('search-results'),
  panel: $('customer'),
  title: $('customer-title'),
  meta: $('customer-meta'),
  body: $('vouchers').tBodies[0],
  prev: $('prev'),
  next: $('next'),
  label: $('page-label'),
  latest: $('customer-latest'),
  onError: failed,
});
search.bind();

// Without any position (an empty database), the subscription starts "from now", and rows
// stored just before it started would be missed: read the newest page until a position is
// known, and once more when the first live row arrives.
let gapTimer = 0;
let lookBehind = false;
function watchForGap() {
  clearTimeout(gapTimer);
  if (feed.cursor !== null) return;
  lookBehind = true;
  const tick = async () => {
    await feed.catchUp().catch(failed);
    if (feed.cursor === null) gapTimer = setTimeout(tick, 2_000);
  };
  gapTimer = setTimeout(tick, 1_000);
}

const live = new LiveSubscription({
  document: SUBSCRIPTION,
  field: 'voucherAssigned',
  cursor: () => feed.cursor,
  onEdge(edge) {
    feed.addEdge(edge);
    if (lookBehind) {
      lookBehind = false;
      clearTimeout(gapTimer);
      feed.catchUp().catch(failed);
    }
  },
  onState(state) {
    setState(state);
    if (state === 'live') stats.refresh();
  },
  onAuth: () => askToken('That token was refused.'),
  async onRestart(reason, cursor) {
    if (reason === 'slow' && cursor) feed.cursor = cursor;
    if (reason === 'bad-cursor') await feed.restart().catch(failed);
  },
  onOpen: watchForGap,
  beforeResume: () => feed.checkPosition(),
});

let retry = 0;
async function start() {
  clearTimeout(retry);
  setState('connecting');
  try {
    await feed.load();
  } catch (error) {
    if (error instanceof AuthError) {
      askToken(token.get() ? 'That token was refused.' : '');
      return;
    }
    console.warn('pubgate:', error.message);
    setState('offline');
    retry = setTimeout(start, 3_000);
    return;
  }
  stats.refresh();
  live.start();
}

// The token prompt: shown when the server asks for a token (HTTP 401, WebSocket 4403), and
// on demand to change it (the page keeps going with the old one until a new one is given).
const dialog = $('token-dialog');
const changeToken = $('token-change');
function promptToken(message) {
  $('token-error').textContent = message;
  $('token-input').value = '';
  if (!dialog.open) dialog.showModal();
}

function askToken(message) {
  live.stop();
  setState('locked');
  changeToken.hidden = false;
  promptToken(message ?? '');
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = $('token-input').value.trim();
  if (!value) return;
  token.set(value);
  dialog.close();
  changeToken.hidden = false;
  start();
});
changeToken.addEventListener('click', () => promptToken(''));
window.addEventListener('online', () => live.reconnectNow());

start();
