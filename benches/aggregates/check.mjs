// Asks pubgate (STATS) and PostGraphile + pg-aggregates (AGGREGATES_STATS) the dashboard's
// counters for the same instant and fails on any difference in the numbers: each window's total
// and non-empty buckets, each voucher type's total and buckets, each campaign's total (with its
// name). Prints a one-line summary when they agree.
// Usage: node benches/aggregates/check.mjs <pubgate graphql url> <peer graphql url> [now ISO]
// (now defaults to the current instant; the windows are [now - 1 h, now) and [now - 1 d, now)).
import { isDeepStrictEqual } from 'node:util';
import { STATS } from '../../src/dashboard/documents.js';
import { AGGREGATES_STATS, fromAggregates, fromPubgate } from './stats.mjs';

const [pubgateUrl, peerUrl, nowArg] = process.argv.slice(2);
if (!pubgateUrl || !peerUrl) {
  console.error('usage: node benches/aggregates/check.mjs <pubgate graphql url> <peer graphql url> [now]');
  process.exit(2);
}
const end = nowArg ? Date.parse(nowArg) : Date.now();
const stamp = (ms) => new Date(ms).toISOString();
const variables = { now: stamp(end), hour: stamp(end - 3_600_000), day: stamp(end - 86_400_000) };

async function ask(url, query) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (!response.ok || body.errors) throw new Error(`${url}: ${response.status} ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

const [ours, theirs] = await Promise.all([ask(pubgateUrl, STATS), ask(peerUrl, AGGREGATES_STATS)]);
const a = fromPubgate(ours);
const b = fromAggregates(theirs);

const differences = [];
function compare(path, x, y) {
  if (isDeepStrictEqual(x, y)) return;
  if (x && y && typeof x === 'object' && typeof y === 'object') {
    for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) compare(`${path}.${k}`, x[k], y[k]);
  } else {
    differences.push(`${path}: pubgate ${JSON.stringify(x)}, aggregates ${JSON.stringify(y)}`);
  }
}
compare('stats', a, b);
if (differences.length > 0) {
  console.error(`pubgate and pg-aggregates differ at now=${variables.now} (${differences.length}):`);
  for (const d of differences.slice(0, 40)) console.error(`  ${d}`);
  process.exit(1);
}
const count = (s) => Object.keys(s.buckets).length + Object.values(s.groups).reduce((n, g) => n + Object.keys(g.buckets).length, 0);
console.log(
  `check: same numbers at now=${variables.now}: hour ${a.lastHour.total} (${count(a.lastHour)} non-empty buckets), ` +
    `day ${a.lastDay.total} (${count(a.lastDay)}), types ${Object.keys(a.lastDay.groups).length}, ` +
    `campaigns ${Object.keys(a.dayByCampaign).length} (hour ${Object.keys(a.hourByCampaign).length})`,
);
