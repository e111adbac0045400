// The live feed: rows from the first page and from the subscription, newest first, each shown
// once, at most MAX_ROWS in the page. The last cursor is kept (also in sessionStorage) so a
// reconnect or a reload resumes with `after`.

import { query } from './api.js';
import { FIRST_PAGE, KNOWN, LATEST, RESUME } from './documents.js';
import { campaignTitle, cell, customerLabel, timeElement, typeLabel, valueOf, formatCount } from './format.js';

const MAX_ROWS = 200;
/** Ids remembered to tell a repeat from a new row (far more than are shown). */
const REMEMBERED = 20_000;
const SAVED_KEY = 'pubgate.feed';

/** A Set that forgets its oldest entries past `limit`. */
class RecentSet {
  #set = new Set();
  constructor(limit) {
    this.limit = limit;
  }
  has(id) {
    return this.#set.has(id);
  }
  add(id) {
    this.#set.add(id);
    if (this.#set.size > this.limit) this.#set.delete(this.#set.values().next().value);
  }
}

export class Feed {
  /** The position to resume from: the cursor of the last edge handled. */
  cursor = null;
  /** The publication `cursor` points at. */
  #lastId = null;
  #fromStream = new RecentSet(REMEMBERED);
  #fromPage = new RecentSet(REMEMBERED);
  #counts = { received: 0, duplicates: 0, overlaps: 0 };
  #pendingAnnouncement = 0;
  #announceTimer = 0;

  constructor({ table, rows, empty, meta, announce, onRow }) {
    Object.assign(this, { table, rows, empty, meta, announce, onRow });
  }

  /** Shows the newest page (or, after a reload, the page around the saved position) and
   * sets `cursor`. */
  async load() {
    const saved = readSaved();
    if (saved) {
      try {
        const data = await query(RESUME, { id: saved.id, after: saved.cursor, first: FIRST_PAGE - 1 });
        if (data.anchor) {
          this.cursor = saved.cursor;
          this.#lastId = saved.id;
          this.addPage([data.anchor, ...data.older.nodes]);
          return;
        }
      } catch (error) {
        if (!error.codes?.includes('BAD_USER_INPUT')) throw error;
      }
      // The saved position is not in this database (it was replaced): start from now.
      sessionStorage.removeItem(SAVED_KEY);
    }
    await this.catchUp();
  }

  /** Reads the newest page and shows what is missing; sets `cursor` if there was none. */
  async catchUp() {
    const data = await query(LATEST, { first: FIRST_PAGE });
    const edges = data.publications.edges;
    this.addPage(edges.map((e) => e.node));
    if (this.cursor === null && edges.length) this.#remember(edges[0]);
  }

  /** Before resuming on a new connection: if the server no longer has the last row (its
   * database was replaced), a cursor from the old one would skip rows; start over instead. */
  async checkPosition() {
    if (!this.#lastId) return;
    const data = await query(KNOWN, { id: this.#lastId });
    if (!data.publication) await this.restart();
  }

  /** Forgets the position (the server no longer knows it) and starts from the newest page. */
  async restart() {
    this.cursor = null;
    this.#lastId = null;
    sessionStorage.removeItem(SAVED_KEY);
    await this.catchUp();
  }

  /** Rows read by a query: shown in receivedAt order below newer ones, unless already shown. */
  addPage(nodes) {
    for (const node of nodes) {
      if (this.#fromStream.has(node.id) || this.#fromPage.has(node.id)) continue;
      this.#fromPage.add(node.id);
      this.#insertByTime(this.#row(node, false));
    }
    this.#trim();
    this.#update();
  }

  /** One edge of the subscription. The server promises each publication exactly once; a
   * repeat is counted (and shown in `data-duplicates`), never silently dropped. */
  addEdge(edge) {
    const { node } = edge;
    this.#counts.received += 1;
    this.#remember(edge);
    if (this.#fromStream.has(node.id)) {
      this.#counts.duplicates += 1;
      console.error('the subscription delivered a publication twice', node.id);
    } else {
      this.#fromStream.add(node.id);
      if (this.#fromPage.has(node.id)) {
        // Already read with the first page: the page and the subscription met (expected).
        this.#counts.overlaps += 1;
      } else {
        this.rows.prepend(this.#row(node, true));
        this.#trim();
        this.onRow?.(node);
        this.#announce();
      }
    }
    this.#update();
  }

  #remember(edge) {
    this.cursor = edge.cursor;
    this.#lastId = edge.node.id;
    try {
      sessionStorage.setItem(SAVED_KEY, JSON.stringify({ cursor: edge.cursor, id: edge.node.id }));
    } catch {
      // storage full or disabled: the in-memory cursor still covers reconnects
    }
  }

  #row(node, fresh) {
    const tr = document.createElement('tr');
    tr.dataset.id = node.id;
    tr.dataset.received = String(Date.parse(node.receivedAt) || 0);
    if (fresh) tr.className = 'fresh';
    const customer = customerLabel(node.customer);
    const code = node.voucher?.code ?? '—';
    tr.append(
      cell(timeElement(node.createdAt)),
      cell(customer.text, { title: customer.title }),
      cell(code, { className: 'code', title: code }),
      cell(typeLabel(node.voucher?.type)),
      cell(valueOf(node.voucher), { title: valueOf(node.voucher) }),
      cell(node.campaign?.name ?? '—', { title: campaignTitle(node.campaign) }),
    );
    return tr;
  }

  /** Older rows go below newer ones; most page rows belong at the bottom. */
  #insertByTime(tr) {
    let after = this.rows.lastElementChild;
    const time = Number(tr.dataset.received);
    while (after && Number(after.dataset.received) < time) after = after.previousElementSibling;
    if (after) after.after(tr);
    else this.rows.prepend(tr);
  }

  #trim() {
    while (this.rows.childElementCount > MAX_ROWS) this.rows.lastElementChild.remove();
  }

  #update() {
    const shown = this.rows.childElementCount;
    this.empty.hidden = shown > 0;
    this.table.dataset.received = String(this.#counts.received);
    this.table.dataset.duplicates = String(this.#counts.duplicates);
    this.table.dataset.overlaps = String(this.#counts.overlaps);
    const repeats = this.#counts.duplicates ? ` · ${formatCount(this.#counts.duplicates)} repeated by the server` : '';
    this.meta.textContent = `${formatCount(shown)} shown, newest first · ${formatCount(this.#counts.received)} received live${repeats}`;
  }

  /** At most one announcement every few seconds, however fast rows come. */
  #announce() {
    this.#pendingAnnouncement += 1;
    if (this.#announceTimer) return;
    this.#announceTimer = setTimeout(() => {
      const n = this.#pendingAnnouncement;
      this.announce.textContent = `${formatCount(n)} new voucher assignment${n === 1 ? '' : 's'}`;
      this.#pendingAnnouncement = 0;
      this.#announceTimer = 0;
    }, 5_000);
  }
}

function readSaved() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SAVED_KEY) ?? 'null');
    return typeof saved?.cursor === 'string' && typeof saved?.id === 'string' ? saved : null;
  } catch {
    return null;
  }
}
