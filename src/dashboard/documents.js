// Every GraphQL document the dashboard sends, in one module with no DOM dependency, so that the
// benchmarks (benches/documents.mjs) and the tests run exactly these texts.

import { VOUCHER_FIELDS } from './format.js';

/** The newest rows shown at first, and the page size of the customer's vouchers. */
export const FIRST_PAGE = 50;
export const VOUCHER_PAGE = 10;
/** How many of a customer's latest assignments the customer panel lists. */
export const LATEST_ASSIGNMENTS = 10;

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

const SERIES = `fragment Series on AssignmentStats {
  total
  buckets { start count }
  groups { voucherType total buckets { start count } }
}`;

const PER_CAMPAIGN = `fragment PerCampaign on AssignmentStats { groups { campaign { id name } total } }`;

/** The counters and the chart, in [$hour, $now) and [$day, $now) (by `createdAt`): in all
 * and per voucher type, per minute over the hour and per hour over the day; and per campaign
 * (`campaign` is null for assignments of no campaign). */
export const STATS = `query Stats($hour: DateTime!, $day: DateTime!, $now: DateTime!) {
  lastHour: assignmentStats(from: $hour, to: $now, bucket: MINUTE, groupBy: [VOUCHER_TYPE]) { ...Series }
  lastDay: assignmentStats(from: $day, to: $now, bucket: HOUR, groupBy: [VOUCHER_TYPE]) { ...Series }
  hourByCampaign: assignmentStats(from: $hour, to: $now, bucket: DAY, groupBy: [CAMPAIGN]) { ...PerCampaign }
  dayByCampaign: assignmentStats(from: $day, to: $now, bucket: DAY, groupBy: [CAMPAIGN]) { ...PerCampaign }
}
${SERIES}
${PER_CAMPAIGN}`;
