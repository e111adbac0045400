// Assignments per voucher type and per campaign in the last hour and day (by `createdAt`), and
// the series the chart draws: counted by the server (`assignmentStats`) on load and every
// minute, counted up live from the feed in between, and re-counted a few seconds after live
// rows so the numbers settle on the server's.

import { query } from './api.js';
import { STATS } from './documents.js';
import { TYPES, campaignTitle, clockTime, formatCount, typeLabel } from './format.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const REFRESH_MS = 60_000;
const SETTLE_MS = 5_000;
/** Live rows are drawn at most this often. */
const RENDER_MS = 150;
const NO_CAMPAIGN = '';

/** One window's counts per bucket, in all and per voucher type: the server's answer, plus
 * live rows since. A live row past the last bucket moves the window on. */
export class Series {
  /** Live rows counted since the server's answer. */
  live = 0;

  constructor(answer, { bucket, width, from, to }) {
    Object.assign(this, { bucket, width, from, to });
    this.total = answer.total;
    /** Bucket starts, as the server wrote them. */
    this.starts = answer.buckets.map((b) => b.start);
    this.counts = answer.buckets.map((b) => b.count);
    /** voucher type → counts, aligned with `starts`. */
    this.byType = new Map(answer.groups.map((g) => [g.voucherType, g.buckets.map((b) => b.count)]));
  }

  /** One assignment made at `time` (ms) of voucher type `type`. */
  add(time, type) {
    if (!(time >= Date.parse(this.from)) || this.starts.length === 0) return;
    const start = Math.floor(time / this.width) * this.width;
    const last = Date.parse(this.starts.at(-1));
    if (start > last) this.#advance(start);
    const i = this.starts.length - 1 - (Date.parse(this.starts.at(-1)) - start) / this.width;
    if (i < 0) return;
    this.counts[i] += 1;
    this.total += 1;
    if (type) {
      if (!this.byType.has(type)) this.byType.set(type, this.counts.map(() => 0));
      this.byType.get(type)[i] += 1;
    }
    this.live += 1;
  }

  /** Moves the window on so that its last bucket starts at `start`, keeping its length. */
  #advance(start) {
    const n = this.starts.length;
    const shift = Math.min(n, (start - Date.parse(this.starts.at(-1))) / this.width);
    const move = (list) => list.slice(shift).concat(Array(shift).fill(0));
    this.counts = move(this.counts);
    for (const [type, counts] of this.byType) this.byType.set(type, move(counts));
    this.starts = Array.from({ length: n }, (_, k) => new Date(start - (n - 1 - k) * this.width).toISOString());
    this.from = this.starts[0];
    this.to = new Date(start + this.width).toISOString();
    this.total = this.counts.reduce((a, b) => a + b, 0);
  }
}

export class Stats {
  /** key → { label, hour, day }; key is `all` or a voucher type. */
  #types = new Map();
  /** campaign id (or NO_CAMPAIGN) → { label, hour, day } */
  #campaigns = new Map();
  /** { hour, day }: the series the chart draws. */
  #series = null;
  /** Live rows received while a count runs (null when none runs). */
  #sinceCount = null;
  #timer = 0;
  #due = Infinity;
  #running = null;
  #dirty = false;
  #renderTimer = 0;

  constructor({ types, campaigns, meta, chart, onError }) {
    Object.assign(this, { typesBody: types, campaignsBody: campaigns, meta, chart, onError });
  }

  /** Counts again on the server now (and then every minute). */
  refresh() {
    this.#schedule(0);
  }

  /** One live row: counted at once, re-counted on the server shortly. */
  add(node) {
    this.#sinceCount?.push(node);
    this.#count(node);
    this.#dirty = true;
    if (!this.#renderTimer) this.#renderTimer = setTimeout(() => this.#render(), RENDER_MS);
    this.#schedule(SETTLE_MS);
  }

  #count(node) {
    const time = Date.parse(node.createdAt);
    const age = Date.now() - time;
    if (!(age <= DAY)) return;
    const bump = (entry) => {
      entry.day += 1;
      if (age <= HOUR) entry.hour += 1;
    };
    const type = node.voucher?.type;
    bump(this.#entry(this.#types, 'all', 'All types'));
    if (type) bump(this.#entry(this.#types, type, typeLabel(type)));
    bump(this.#entry(this.#campaigns, node.campaign?.id ?? NO_CAMPAIGN, node.campaign?.name ?? 'No campaign'));
    this.#series?.hour.add(time, type);
    this.#series?.day.add(time, type);
  }

  #entry(map, key, label) {
    if (!map.has(key)) map.set(key, { label, hour: 0, day: 0 });
    return map.get(key);
  }

  #schedule(ms) {
    const due = Date.now() + ms;
    if (due >= this.#due) return;
    clearTimeout(this.#timer);
    this.#due = due;
    this.#timer = setTimeout(() => this.#run(), ms);
  }

  async #run() {
    this.#due = Infinity;
    if (this.#running) {
      // One count at a time; the one running may miss rows counted since, so count again.
      this.#schedule(SETTLE_MS);
      return;
    }
    this.#dirty = false;
    this.#running = this.#load()
      .catch((error) => this.onError?.(error))
      .finally(() => {
        this.#running = null;
        this.#schedule(this.#dirty ? SETTLE_MS : REFRESH_MS);
      });
  }

  async #load() {
    const now = Date.now();
    const iso = (ms) => new Date(ms).toISOString();
    const window = { hour: iso(now - HOUR), day: iso(now - DAY), now: iso(now) };
    this.#sinceCount = [];
    let data;
    let live;
    try {
      data = await query(STATS, window);
    } finally {
      live = this.#sinceCount;
      this.#sinceCount = null;
    }
    this.#types = typeCounts(data);
    this.#campaigns = campaignCounts(data);
    this.#series = {
      hour: new Series(data.lastHour, { bucket: 'MINUTE', width: MINUTE, from: window.hour, to: window.now }),
      day: new Series(data.lastDay, { bucket: 'HOUR', width: HOUR, from: window.day, to: window.now }),
    };
    // Rows that arrived during the count and were made after its end are not in it. (A row
    // made before its end may or may not be: the count that follows live rows settles it.)
    for (const node of live) if (Date.parse(node.createdAt) >= now) this.#count(node);
    this.meta.textContent = `as of ${clockTime(new Date(now))}`;
    this.meta.title = 'Counted by assignment time (createdAt)';
    this.#render();
  }

  #render() {
    clearTimeout(this.#renderTimer);
    this.#renderTimer = 0;
    this.typesBody.replaceChildren(...[...this.#types].map(([key, entry]) => row(key, entry, 'type')));
    const active = [...this.#campaigns]
      .filter(([, entry]) => entry.day > 0)
      .sort(([, a], [, b]) => b.day - a.day || b.hour - a.hour || a.label.localeCompare(b.label));
    this.campaignsBody.replaceChildren(
      ...(active.length ? active.map(([id, entry]) => row(id, entry, 'campaign')) : [emptyRow('No assignments in the last day')]),
    );
    if (this.#series) this.chart?.show(this.#series);
  }
}

/** In all and per voucher type (every type listed, zeros included). */
function typeCounts({ lastHour, lastDay }) {
  const total = (answer, type) => answer.groups.find((g) => g.voucherType === type)?.total ?? 0;
  const types = new Map([['all', { label: 'All types', hour: lastHour.total, day: lastDay.total }]]);
  for (const [type, label] of TYPES) types.set(type, { label, hour: total(lastHour, type), day: total(lastDay, type) });
  return types;
}

/** Per campaign with assignments in the last day. */
function campaignCounts({ hourByCampaign, dayByCampaign }) {
  const campaigns = new Map();
  for (const group of dayByCampaign.groups) {
    const key = group.campaign?.id ?? NO_CAMPAIGN;
    campaigns.set(key, { label: group.campaign?.name ?? 'No campaign', hour: 0, day: group.total });
  }
  for (const group of hourByCampaign.groups) {
    const key = group.campaign?.id ?? NO_CAMPAIGN;
    const entry = campaigns.get(key) ?? { label: group.campaign?.name ?? 'No campaign', day: group.total };
    campaigns.set(key, { ...entry, hour: group.total });
  }
  return campaigns;
}

function row(key, entry, kind) {
  const tr = document.createElement('tr');
  tr.dataset[kind] = key;
  tr.dataset.hour = String(entry.hour);
  tr.dataset.day = String(entry.day);
  const th = document.createElement('th');
  th.scope = 'row';
  th.textContent = entry.label;
  th.title = kind === 'campaign' && key !== NO_CAMPAIGN ? campaignTitle({ name: entry.label, id: key }) : entry.label;
  const hour = document.createElement('td');
  hour.className = 'num';
  hour.textContent = formatCount(entry.hour);
  const day = document.createElement('td');
  day.className = 'num';
  day.textContent = formatCount(entry.day);
  tr.append(th, hour, day);
  return tr;
}

function emptyRow(text) {
  const tr = document.createElement('tr');
  const td = document.createElement('td');
  td.colSpan = 3;
  td.className = 'empty-cell';
  td.textContent = text;
  tr.append(td);
  return tr;
}
