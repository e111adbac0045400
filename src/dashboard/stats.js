// Assignments per voucher type and per campaign in the last hour and day (by `createdAt`):
// counted by the server on load and every minute, counted up live from the feed in between,
// and re-counted a few seconds after live rows so the numbers settle on the server's.

import { query } from './api.js';
import { TOTALS, campaignCounts } from './documents.js';
import { TYPES, clockTime, formatCount, typeLabel } from './format.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const REFRESH_MS = 60_000;
const SETTLE_MS = 5_000;

export class Stats {
  /** key → { label, hour, day }; key is `all` or a voucher type. */
  #types = new Map();
  /** campaign id → { label, hour, day } */
  #campaigns = new Map();
  #timer = 0;
  #due = Infinity;
  #running = null;
  #dirty = false;

  constructor({ types, campaigns, meta, onError }) {
    Object.assign(this, { typesBody: types, campaignsBody: campaigns, meta, onError });
  }

  /** Counts again on the server now (and then every minute). */
  refresh() {
    this.#schedule(0);
  }

  /** One live row: counted at once, re-counted on the server shortly. */
  add(node) {
    const age = Date.now() - Date.parse(node.createdAt);
    if (!(age <= DAY)) return;
    const bump = (entry) => {
      entry.day += 1;
      if (age <= HOUR) entry.hour += 1;
    };
    bump(this.#entry(this.#types, 'all', 'All types'));
    if (node.voucher?.type) bump(this.#entry(this.#types, node.voucher.type, typeLabel(node.voucher.type)));
    if (node.campaign) bump(this.#entry(this.#campaigns, node.campaign.id, node.campaign.name));
    this.#dirty = true;
    this.#render();
    this.#schedule(SETTLE_MS);
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
    const window = { hour: new Date(now - HOUR).toISOString(), day: new Date(now - DAY).toISOString() };
    const totals = await query(TOTALS, window);
    const campaigns = totals.campaigns.nodes;
    const variables = { ...window };
    campaigns.forEach((c, i) => (variables[`c${i}`] = c.id));
    const perCampaign = campaigns.length ? await query(campaignCounts(campaigns.length), variables) : {};
    const types = new Map([['all', { label: 'All types', hour: totals.allH.totalCount, day: totals.allD.totalCount }]]);
    TYPES.forEach(([type, label], i) => {
      types.set(type, { label, hour: totals[`t${i}H`].totalCount, day: totals[`t${i}D`].totalCount });
    });
    this.#types = types;
    this.#campaigns = new Map(
      campaigns.map((c, i) => [c.id, { label: c.name, hour: perCampaign[`c${i}H`].totalCount, day: perCampaign[`c${i}D`].totalCount }]),
    );
    this.meta.textContent = `as of ${clockTime(new Date(now))}`;
    this.meta.title = 'Counted by assignment time (createdAt)';
    this.#render();
  }

  #render() {
    this.typesBody.replaceChildren(...[...this.#types].map(([key, entry]) => row(key, entry, 'type')));
    const active = [...this.#campaigns]
      .filter(([, entry]) => entry.day > 0)
      .sort(([, a], [, b]) => b.day - a.day || b.hour - a.hour || a.label.localeCompare(b.label));
    this.campaignsBody.replaceChildren(
      ...(active.length ? active.map(([id, entry]) => row(id, entry, 'campaign')) : [emptyRow('No assignments in the last day')]),
    );
  }
}

function row(key, entry, kind) {
  const tr = document.createElement('tr');
  tr.dataset[kind] = key;
  tr.dataset.hour = String(entry.hour);
  tr.dataset.day = String(entry.day);
  const th = document.createElement('th');
  th.scope = 'row';
  th.textContent = entry.label;
  th.title = entry.label;
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
