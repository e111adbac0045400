// Writes the request bodies of the dashboard workloads, one JSON body per line, using the
// dashboard's own documents (src/dashboard/documents.js) and a running pubgate to pick distinct
// customers and page positions. Usage:
//   node benches/documents.mjs <pubgate-url> <out-dir> [count]
// Writes, in <out-dir>:
//   customer.bodies  the customer panel (profile, 20 vouchers with categories and campaign,
//                    latest 10 assignments) for `count` distinct customers (default 500)
//   latest.bodies    the feed's first page (the newest 50), once
//   older.bodies     the feed after a reload (the anchor row and the 49 older rows) at `count`
//                    distinct positions among the newest rows
//   positions.tsv    customer ids and (publication id, cursor) positions, for peers to ask the
//                    same questions
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CUSTOMER, FIRST_PAGE, LATEST, RESUME } from '../src/dashboard/documents.js';

const [url, out, countArg] = process.argv.slice(2);
if (!url || !out) {
  console.error('usage: node benches/documents.mjs <pubgate-url> <out-dir> [count]');
  process.exit(2);
}
const count = Number(countArg ?? 500);

async function gql(query, variables = {}) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (!response.ok || body.errors) throw new Error(`${response.status}: ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

/** Every `step`-th item of a list read a page at a time, until `count` are taken. */
async function sample(read, step) {
  const taken = [];
  let after = null;
  while (taken.length < count) {
    const { items, next } = await read(after);
    for (let i = 0; i < items.length && taken.length < count; i += step) taken.push(items[i]);
    if (!next) break;
    after = next;
  }
  if (taken.length < count) throw new Error(`only ${taken.length} of ${count} found; load more data`);
  return taken;
}

// Customers spread over the directory (every 7th), so their rows are not neighbours.
const customers = await sample(async (after) => {
  const data = await gql(
    'query($after: String) { customers(first: 500, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } }',
    { after },
  );
  const c = data.customers;
  return { items: c.nodes.map((n) => n.id), next: c.pageInfo.hasNextPage && c.pageInfo.endCursor };
}, 7);

// Positions among the newest rows by receivedAt, every 5th: what tabs reloaded at different
// moments resume from.
const positions = await sample(async (after) => {
  const data = await gql(
    `query($after: String) { publications(first: 500, after: $after, orderBy: { field: RECEIVED_AT, direction: DESC }) {
      edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`,
    { after },
  );
  const p = data.publications;
  return { items: p.edges.map((e) => [e.node.id, e.cursor]), next: p.pageInfo.hasNextPage && p.pageInfo.endCursor };
}, 5);

const line = (query, variables) => JSON.stringify({ query, variables });
writeFileSync(
  join(out, 'customer.bodies'),
  customers.map((id) => line(CUSTOMER, { id, first: 20, after: null, withLatest: true })).join('\n') + '\n',
);
writeFileSync(join(out, 'latest.bodies'), line(LATEST, { first: FIRST_PAGE }) + '\n');
writeFileSync(
  join(out, 'older.bodies'),
  positions.map(([id, after]) => line(RESUME, { id, after, first: FIRST_PAGE - 1 })).join('\n') + '\n',
);
writeFileSync(
  join(out, 'positions.tsv'),
  customers.map((id) => `customer\t${id}`).concat(positions.map(([id, c]) => `position\t${id}\t${c}`)).join('\n') + '\n',
);
// Check that each kind of body is answered before anything is measured.
for (const [query, variables] of [
  [CUSTOMER, { id: customers[0], first: 20, after: null, withLatest: true }],
  [LATEST, { first: FIRST_PAGE }],
  [RESUME, { id: positions[0][0], after: positions[0][1], first: FIRST_PAGE - 1 }],
]) {
  const data = await gql(query, variables);
  if (Object.values(data).some((v) => v === null)) throw new Error(`a workload found nothing: ${JSON.stringify(data)}`);
}
console.log(`wrote ${customers.length} customers and ${positions.length} positions to ${out}`);
