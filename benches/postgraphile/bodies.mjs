// Writes the request bodies of pubgate's dashboard workloads for PostGraphile: the idiomatic
// equivalents, in that version's schema, of the dashboard's documents (src/dashboard/documents.js),
// asking for the same data of the same customers and positions, one JSON body per line.
// Usage: node benches/postgraphile/bodies.mjs v4|v5 <graphql-url> <positions.tsv> <out-dir>
//   positions.tsv  lines `customer\t<customer id>` and `position\t<publication id>\t<cursor>`
//                  (as benches/documents.mjs writes; pubgate's cursor is not used here)
// Writes, in <out-dir>:
//   customer.bodies  one per customer: the profile, its first 20 vouchers by id (with type,
//                    discount, gift, loyalty card, categories, campaign, count and page info)
//                    and its latest 10 publications by creation
//   latest.bodies    the newest 50 publications by reception, once
//   older.bodies     one per position: the anchor publication and the 49 received before it,
//                    after the cursor that PostGraphile itself gives the anchor
// Each kind of body is sent once first; errors or missing data fail the script.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [version, url, positionsFile, out] = process.argv.slice(2);
if (!['v4', 'v5'].includes(version) || !url || !positionsFile || !out) {
  console.error('usage: node bodies.mjs v4|v5 <graphql-url> <positions.tsv> <out-dir>');
  process.exit(2);
}

// The names each version's schema gives the same things.
const SCHEMAS = {
  // pg-simplify-inflector; JSON columns are JSON scalars (returned whole).
  v4: {
    cursor: 'Cursor',
    publicationId: 'String!',
    customerId: 'String!',
    customer: (id) => `customer(id: ${id})`,
    publication: (id) => `publication(id: ${id})`,
    id: 'id',
    receivedOrder: '[RECEIVED_AT_DESC, ID_DESC]',
    createdOrder: '[CREATED_AT_DESC, ID_DESC]',
    idOrder: '[ID_ASC]',
    heldVouchers: 'vouchersByHolderId',
    categories: 'voucherCategories { nodes { category { name } } }',
    voucherFields: 'code voucherType discount gift loyaltyCard',
  },
  // @graphile/simplify-inflection on the Amber preset: `id` is the global Node id, so the
  // primary-key columns are `rowId`; JSON columns are JSON scalars (returned whole).
  v5: {
    cursor: 'Cursor',
    publicationId: 'String!',
    customerId: 'String!',
    customer: (id) => `customer(rowId: ${id})`,
    publication: (id) => `publication(rowId: ${id})`,
    id: 'rowId',
    receivedOrder: '[RECEIVED_AT_DESC, ROW_ID_DESC]',
    createdOrder: '[CREATED_AT_DESC, ROW_ID_DESC]',
    idOrder: '[ROW_ID_ASC]',
    heldVouchers: 'vouchersByHolderId',
    categories: 'voucherCategories { nodes { category { name } } }',
    voucherFields: 'code voucherType discount gift loyaltyCard',
  },
};
const s = SCHEMAS[version];

const ROW = `fragment Row on Publication {
  ${s.id} createdAt receivedAt
  customer { ${s.id} name email sourceId }
  voucher { ${s.voucherFields} }
  campaign { ${s.id} name }
}`;

const LATEST = `query Latest($first: Int!) {
  publications(first: $first, orderBy: ${s.receivedOrder}) {
    edges { cursor node { ...Row } }
  }
}
${ROW}`;

const RESUME = `query Resume($id: ${s.publicationId}, $after: ${s.cursor}!, $first: Int!) {
  anchor: ${s.publication('$id')} { ...Row }
  older: publications(first: $first, after: $after, orderBy: ${s.receivedOrder}) {
    nodes { ...Row }
  }
}
${ROW}`;

const CUSTOMER = `query Customer($id: ${s.customerId}, $first: Int!) {
  customer: ${s.customer('$id')} {
    ${s.id} sourceId name email
    vouchers: ${s.heldVouchers}(first: $first, orderBy: ${s.idOrder}) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { ${s.id} ${s.voucherFields} ${s.categories} campaign { ${s.id} name } }
    }
    publications(first: 10, orderBy: ${s.createdOrder}) {
      nodes { ${s.id} createdAt voucher { code } }
    }
  }
}`;

const WALK = `query Walk($after: ${s.cursor}) {
  publications(first: 500, after: $after, orderBy: ${s.receivedOrder}) {
    edges { cursor node { ${s.id} } }
    pageInfo { hasNextPage endCursor }
  }
}`;

async function post(query, variables) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  if (!response.ok || !body || body.errors || !body.data || Object.values(body.data).some((v) => v == null)) {
    console.error(`PostGraphile ${version} answered ${response.status}: ${text.slice(0, 2000)}`);
    console.error(`to: ${JSON.stringify({ query, variables })}`);
    process.exit(1);
  }
  return body.data;
}

const customers = [];
const positions = [];
for (const line of readFileSync(positionsFile, 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const [kind, id] = line.split('\t');
  if (kind === 'customer') customers.push(id);
  else if (kind === 'position') positions.push(id);
  else throw new Error(`${positionsFile}: unexpected line ${JSON.stringify(line)}`);
}
if (customers.length === 0 || positions.length === 0) {
  console.error(`${positionsFile} has ${customers.length} customers and ${positions.length} positions; both are needed`);
  process.exit(1);
}

// PostGraphile's own cursor for each position: walk the connection in the same order.
const cursors = new Map();
const wanted = new Set(positions);
let after = null;
while (cursors.size < wanted.size) {
  const { publications: page } = await post(WALK, { after });
  for (const edge of page.edges) {
    if (wanted.has(edge.node[s.id])) cursors.set(edge.node[s.id], edge.cursor);
  }
  if (!page.pageInfo.hasNextPage) break;
  after = page.pageInfo.endCursor;
}
const missing = positions.filter((id) => !cursors.has(id));
if (missing.length > 0) {
  console.error(`${missing.length} positions are not publications PostGraphile lists, e.g. ${missing.slice(0, 5).join(', ')}`);
  process.exit(1);
}

const bodies = {
  customer: customers.map((id) => ({ query: CUSTOMER, variables: { id, first: 20 } })),
  latest: [{ query: LATEST, variables: { first: 50 } }],
  older: positions.map((id) => ({ query: RESUME, variables: { id, after: cursors.get(id), first: 49 } })),
};

// One of each kind must be answered, with data, before anything is written.
for (const [kind, list] of Object.entries(bodies)) {
  const data = await post(list[0].query, list[0].variables);
  const rows = kind === 'customer' ? [data.customer] : kind === 'latest' ? data.publications.edges : data.older.nodes;
  if (rows.length === 0) {
    console.error(`${kind}: the sample found no rows: ${JSON.stringify(data).slice(0, 2000)}`);
    process.exit(1);
  }
}

for (const [kind, list] of Object.entries(bodies)) {
  writeFileSync(join(out, `${kind}.bodies`), list.map((b) => JSON.stringify(b)).join('\n') + '\n');
}
console.log(`postgraphile ${version}: wrote ${customers.length} customer, 1 latest and ${positions.length} older bodies to ${out}`);
