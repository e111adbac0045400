// Every GraphQL document the dashboard sends, in one module with no DOM dependency, so that the
// benchmarks (benches/documents.mjs) and the tests run exactly these texts.

import { TYPES, VOUCHER_FIELDS } from './format.js';

/** The newest rows shown at first, and the page size of the customer's vouchers. */
export const FIRST_PAGE = 50;
export const VOUCHER_PAGE = 10;
/** How many of a customer's latest assignments the customer panel lists. */
export const LATEST_ASSIGNMENTS = 10;
/** At most this many campaigns are counted. */
export const MAX_CAMPAIGNS = 100;

const ROW = `fragment Row on Publication {
  id createdAt receivedAt
  customer { id name email sourceId }
  voucher { ${VOUCHER_FIELDS} }
  campaign { id name }
}`;

/** The live feed, resumed with `after` (the cursor of the last edge handled). */
export const SUBSCRIPTION = `subscription Feed($after: String) {
  voucherAssigned(after: $after) { cursor node { ...Row } }
}
${ROW}`;

/** The newest assignments, by when pubgate received them. */
export const LATEST = `query Latest($first: Int!) {
  publications(first: $first, orderBy: { field: RECEIVED_AT, direction: DESC }) {
    edges { cursor node { ...Row } }
  }
}
${ROW}`;

/** After a reload: the row the saved cursor points at, and the page before it. */
export const RESUME = `query Resume($id: ID!, $after: String!, $first: Int!) {
  anchor: publication(id: $id) { ...Row }
  older: publications(first: $first, after: $after, orderBy: { field: RECEIVED_AT, direction: DESC }) {
    nodes { ...Row }
  }
}
${ROW}`;

/** Whether the server still has a publication (it does not after its database was replaced). */
export const KNOWN = `query Known($id: ID!) { publication(id: $id) { id } }`;

/** A customer by id, source id or e-mail. */
export const FIND = `query Find($q: String!, $id: ID!) {
  byId: customer(id: $id) { ...Who }
  bySource: customer(sourceId: $q) { ...Who }
  byEmail: customers(first: 20, filter: { email: $q }) { nodes { ...Who } }
}
fragment Who on Customer { id sourceId name email }`;

/** The customer panel: a page of the customer's vouchers and, with the first page, their
 * latest assignments. */
export const CUSTOMER = `query Customer($id: ID!, $first: Int!, $after: String, $withLatest: Boolean!) {
  customer(id: $id) {
    id sourceId name email
    vouchers(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id ${VOUCHER_FIELDS} categories { name } campaign { id name } }
    }
    publications(first: ${LATEST_ASSIGNMENTS}) @include(if: $withLatest) {
      nodes { id createdAt voucher { code } }
    }
  }
}`;

const count = (alias, filter) => `${alias}: publications(first: 1, filter: { ${filter} }) { totalCount }`;

/** Assignments in the last hour and day, in all and per voucher type, and the campaigns. */
export const TOTALS = `query Totals($hour: DateTime!, $day: DateTime!) {
  ${count('allH', 'createdAfter: $hour')}
  ${count('allD', 'createdAfter: $day')}
  ${TYPES.map(([type], i) => `${count(`t${i}H`, `voucherType: ${type}, createdAfter: $hour`)}
  ${count(`t${i}D`, `voucherType: ${type}, createdAfter: $day`)}`).join('\n  ')}
  campaigns(first: ${MAX_CAMPAIGNS}) { nodes { id name } }
}`;

/** One query counting the hour and the day of `n` campaigns (`$c0`…), by alias. */
export function campaignCounts(n) {
  const ids = Array.from({ length: n }, (_, i) => `$c${i}: ID!`).join(', ');
  const fields = Array.from({ length: n }, (_, i) =>
    `${count(`c${i}H`, `campaignId: $c${i}, createdAfter: $hour`)} ${count(`c${i}D`, `campaignId: $c${i}, createdAfter: $day`)}`,
  );
  return `query CampaignCounts($hour: DateTime!, $day: DateTime!, ${ids}) {\n  ${fields.join('\n  ')}\n}`;
}
