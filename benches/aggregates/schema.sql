-- What PostGraphile + @graphile/pg-aggregates needs beyond pubgate's own tables, in a schema of
-- its own (pubgate's migrations never see it; benches/stats.sh creates it before the peer starts).
--
-- A publication counts once for each distinct voucher type among its vouchers (pubgate's
-- counters join publications -> publication_vouchers -> vouchers the same way). pg-aggregates
-- 0.1.x groups only by a table's (or view's) own columns, so the type is brought next to the
-- publication's creation time by a view, one row per (publication, voucher); the peer counts
-- distinct publication ids per group, so two vouchers of one type count once, as in pubgate.
DROP SCHEMA IF EXISTS pubgate_aggregates CASCADE;
CREATE SCHEMA pubgate_aggregates;
CREATE VIEW pubgate_aggregates.publication_voucher_types AS
  SELECT p.id AS publication_id, p.created_at, v.voucher_type
  FROM public.publications p
  JOIN public.publication_vouchers pv ON pv.publication_id = p.id
  JOIN public.vouchers v ON v.id = pv.voucher_id;
