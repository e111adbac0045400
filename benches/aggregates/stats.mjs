// The dashboard's counters (pubgate's STATS document, src/dashboard/documents.js) as PostGraphile
// 4.14 + @graphile/pg-aggregates 0.1.x answers them, and both answers in one comparable shape.
//
// One request, like STATS: for [$hour, $now) and [$day, $now) (by createdAt), counts per minute
// and per hour, in all and per voucher type, and per campaign with the campaigns' names.
//   - counts are `distinctCount { id }` of groupedAggregates (0.1.x has no plain count in a group;
//     the id is the primary key, so it is the number of rows);
//   - minutes are CREATED_AT_TRUNCATED_TO_MINUTE, from ./minute.js (0.1.x has only _TO_HOUR and
//     _TO_DAY); the database's time zone is UTC, so date_trunc's minutes and hours are pubgate's
//     UTC-aligned buckets;
//   - the voucher type comes from the view pubgate_aggregates.publication_voucher_types
//     (./schema.sql), grouped by [VOUCHER_TYPE, minute or hour], counting distinct publications;
//   - per campaign: publications grouped by CAMPAIGN_ID (null: no campaign), and the campaigns'
//     names from the campaigns connection in the same request;
//   - no separate totals: each total (the window's, each type's) is the sum of its buckets, as
//     every publication falls in exactly one bucket; asking for them as well (totalCount, a
//     groupBy: [VOUCHER_TYPE]) would only add work to the peer. pubgate's buckets include the
//     empty ones; grouped aggregates list only the non-empty ones (an absent bucket is 0).

export const AGGREGATES_STATS = `query AggregatesStats($hour: Datetime!, $day: Datetime!, $now: Datetime!) {
  hourPerMinute: publications(filter: { createdAt: { greaterThanOrEqualTo: $hour, lessThan: $now } }) {
    groupedAggregates(groupBy: [CREATED_AT_TRUNCATED_TO_MINUTE]) { keys distinctCount { id } }
  }
  hourPerTypeMinute: publicationVoucherTypes(filter: { createdAt: { greaterThanOrEqualTo: $hour, lessThan: $now } }) {
    groupedAggregates(groupBy: [VOUCHER_TYPE, CREATED_AT_TRUNCATED_TO_MINUTE]) { keys distinctCount { publicationId } }
  }
  dayPerHour: publications(filter: { createdAt: { greaterThanOrEqualTo: $day, lessThan: $now } }) {
    groupedAggregates(groupBy: [CREATED_AT_TRUNCATED_TO_HOUR]) { keys distinctCount { id } }
  }
  dayPerTypeHour: publicationVoucherTypes(filter: { createdAt: { greaterThanOrEqualTo: $day, lessThan: $now } }) {
    groupedAggregates(groupBy: [VOUCHER_TYPE, CREATED_AT_TRUNCATED_TO_HOUR]) { keys distinctCount { publicationId } }
  }
  hourByCampaign: publications(filter: { createdAt: { greaterThanOrEqualTo: $hour, lessThan: $now } }) {
    groupedAggregates(groupBy: [CAMPAIGN_ID]) { keys distinctCount { id } }
  }
  dayByCampaign: publications(filter: { createdAt: { greaterThanOrEqualTo: $day, lessThan: $now } }) {
    groupedAggregates(groupBy: [CAMPAIGN_ID]) { keys distinctCount { id } }
  }
  campaigns { nodes { id name } }
}`;

// PostgreSQL's text for a timestamptz ("2026-12-07 00:03:00+00") or an ISO instant, as ISO.
const instant = (s) => new Date(String(s).replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00')).toISOString();
const n = (v) => Number(v);
const add = (map, key, count) => map.set(key, (map.get(key) ?? 0) + count);
const sorted = (map) => Object.fromEntries([...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** A series as { total, buckets: {start: count} (non-zero only), groups: {type: {total, buckets}} }. */
function series(perBucket, perTypeBucket, count) {
  const buckets = new Map();
  const groups = new Map();
  for (const g of perBucket) add(buckets, instant(g.keys[0]), n(g.distinctCount[count]));
  for (const g of perTypeBucket) {
    const [type, start] = g.keys;
    if (!groups.has(type)) groups.set(type, new Map());
    add(groups.get(type), instant(start), n(g.distinctCount.publicationId));
  }
  const total = (m) => [...m.values()].reduce((a, b) => a + b, 0);
  return {
    total: total(buckets),
    buckets: sorted(buckets),
    groups: sorted(new Map([...groups].map(([t, m]) => [t, { total: total(m), buckets: sorted(m) }]))),
  };
}

/** Per campaign as { "<id>|<name>" or "none": total }. */
function perCampaign(groups, names) {
  const out = new Map();
  for (const g of groups) {
    const id = g.keys[0];
    const key = id == null ? 'none' : `${id}|${names.get(id) ?? null}`;
    add(out, key, n(g.distinctCount.id));
  }
  return sorted(out);
}

/** The peer's answer (`data` of AGGREGATES_STATS) in the comparable shape. */
export function fromAggregates(data) {
  const names = new Map(data.campaigns.nodes.map((c) => [c.id, c.name]));
  return {
    lastHour: series(data.hourPerMinute.groupedAggregates, data.hourPerTypeMinute.groupedAggregates, 'id'),
    lastDay: series(data.dayPerHour.groupedAggregates, data.dayPerTypeHour.groupedAggregates, 'id'),
    hourByCampaign: perCampaign(data.hourByCampaign.groupedAggregates, names),
    dayByCampaign: perCampaign(data.dayByCampaign.groupedAggregates, names),
  };
}

/** pubgate's answer (`data` of STATS) in the comparable shape (empty buckets left out). */
export function fromPubgate(data) {
  const buckets = (list) => sorted(new Map(list.filter((b) => b.count !== 0).map((b) => [instant(b.start), b.count])));
  const s = (x) => ({
    total: x.total,
    buckets: buckets(x.buckets),
    groups: sorted(
      new Map(
        x.groups.map((g, i) => {
          // Stored types other than GIFT_VOUCHER and LOYALTY_CARD all read as DISCOUNT_VOUCHER.
          if (x.groups.findIndex((h) => h.voucherType === g.voucherType) !== i)
            throw new Error(`pubgate answered two groups of voucher type ${g.voucherType}`);
          return [g.voucherType, { total: g.total, buckets: buckets(g.buckets) }];
        }),
      ),
    ),
  });
  const c = (x) =>
    sorted(new Map(x.groups.map((g) => [g.campaign == null ? 'none' : `${g.campaign.id}|${g.campaign.name}`, g.total])));
  return {
    lastHour: s(data.lastHour),
    lastDay: s(data.lastDay),
    hourByCampaign: c(data.hourByCampaign),
    dayByCampaign: c(data.dayByCampaign),
  };
}
