// Customer search (by id, source id or e-mail) and the customer's vouchers, a page at a time.

import { query } from './api.js';
import { CUSTOMER, FIND, VOUCHER_PAGE as PAGE } from './documents.js';
import { campaignTitle, cell, customerLabel, formatCount, timeElement, typeLabel, valueOf } from './format.js';

export class Search {
  #customer = null;
  /** The `after` cursor of each page seen so far (page 0 starts at the beginning). */
  #starts = [null];
  #page = 0;
  #request = 0;

  constructor(elements) {
    Object.assign(this, elements);
  }

  bind() {
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      const q = this.input.value.trim();
      if (q) this.find(q).catch((error) => this.#failed(error));
    });
    this.prev.addEventListener('click', () => this.#step(-1));
    this.next.addEventListener('click', () => this.#step(1));
  }

  async find(q) {
    this.results.textContent = 'Searching…';
    const data = await query(FIND, { q, id: q });
    const found = new Map();
    for (const customer of [data.byId, data.bySource, ...data.byEmail.nodes]) {
      if (customer && !found.has(customer.id)) found.set(customer.id, customer);
    }
    const matches = [...found.values()];
    if (matches.length === 0) {
      this.panel.hidden = true;
      this.results.textContent = `No customer has the id, source id or e-mail “${q}”.`;
      return;
    }
    if (matches.length === 1) {
      this.results.textContent = '';
      await this.open(matches[0]);
      return;
    }
    this.#choose(matches);
  }

  /** Several customers share the e-mail: one button each. */
  #choose(matches) {
    this.panel.hidden = true;
    const intro = document.createElement('p');
    intro.textContent = `${matches.length} customers match:`;
    const list = document.createElement('ul');
    list.className = 'choices';
    for (const customer of matches) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'link';
      const label = customerLabel(customer);
      button.textContent = `${label.text} (${customer.id})`;
      button.addEventListener('click', () => this.open(customer).catch((error) => this.#failed(error)));
      const item = document.createElement('li');
      item.append(button);
      list.append(item);
    }
    this.results.replaceChildren(intro, list);
  }

  async open(customer) {
    this.#customer = customer;
    this.#starts = [null];
    const label = customerLabel(customer);
    this.title.textContent = label.text;
    this.meta.textContent = [customer.email, customer.sourceId && `source id ${customer.sourceId}`, customer.id]
      .filter(Boolean)
      .join(' · ');
    this.panel.hidden = false;
    await this.#show(0);
    this.title.focus();
  }

  #step(delta) {
    const button = delta < 0 ? this.prev : this.next;
    if (button.getAttribute('aria-disabled') === 'true') return;
    this.#show(this.#page + delta).catch((error) => this.#failed(error));
  }

  async #show(page) {
    const after = this.#starts[page];
    if (after === undefined || !this.#customer) return;
    const request = ++this.#request;
    this.body.setAttribute('aria-busy', 'true');
    const withLatest = page === 0;
    const data = await query(CUSTOMER, { id: this.#customer.id, first: PAGE, after, withLatest });
    if (request !== this.#request) return; // a newer request won
    this.body.removeAttribute('aria-busy');
    const connection = data.customer?.vouchers;
    if (!connection) {
      this.results.textContent = 'This customer is no longer known.';
      this.panel.hidden = true;
      return;
    }
    this.#page = page;
    if (withLatest) this.#renderLatest(data.customer.publications.nodes);
    if (connection.pageInfo.hasNextPage) this.#starts[page + 1] = connection.pageInfo.endCursor;
    this.#render(connection);
  }

  #render({ nodes, totalCount, pageInfo }) {
    const rows = nodes.map((voucher) => {
      const tr = document.createElement('tr');
      tr.dataset.code = voucher.code;
      // The value says the type too ("gift 50.00", "120 points"), which leaves room for the
      // code and the campaign; the type is in the value's tooltip.
      tr.append(
        cell(voucher.code, { className: 'code', title: codeTitle(voucher) }),
        cell(valueOf(voucher), { title: `${typeLabel(voucher.type)} · ${valueOf(voucher)}` }),
        cell(voucher.campaign?.name ?? '—', { className: 'campaign', title: campaignTitle(voucher.campaign) }),
      );
      return tr;
    });
    // Blank rows keep the pager where it was on a short last page.
    while (rows.length < PAGE && totalCount > PAGE) {
      const tr = document.createElement('tr');
      tr.className = 'blank';
      tr.setAttribute('aria-hidden', 'true');
      tr.append(cell(''), cell(''), cell(''));
      rows.push(tr);
    }
    if (nodes.length === 0) rows.push(blankMessage('This customer holds no vouchers.'));
    this.body.replaceChildren(...rows);
    const pages = Math.max(1, Math.ceil(totalCount / PAGE));
    const from = this.#page * PAGE + (nodes.length ? 1 : 0);
    const to = this.#page * PAGE + nodes.length;
    this.label.textContent = `Page ${this.#page + 1} of ${pages} · ${formatCount(from)}–${formatCount(to)} of ${formatCount(totalCount)}`;
    this.prev.setAttribute('aria-disabled', String(this.#page === 0));
    this.next.setAttribute('aria-disabled', String(!pageInfo.hasNextPage));
  }

  /** The customer's latest assignments, newest first (read with the first voucher page). */
  #renderLatest(nodes) {
    const items = nodes.map((publication) => {
      const item = document.createElement('li');
      const code = document.createElement('span');
      code.className = 'code';
      code.textContent = publication.voucher.code;
      item.append(timeElement(publication.createdAt), ' ', code);
      return item;
    });
    if (items.length === 0) {
      const item = document.createElement('li');
      item.className = 'empty';
      item.textContent = 'No assignments yet.';
      items.push(item);
    }
    this.latest.replaceChildren(...items);
  }

  #failed(error) {
    this.body.removeAttribute('aria-busy');
    this.onError(error);
    this.results.textContent = `The search failed: ${error.message}`;
  }
}

/** The code, and the voucher's categories when it has any, for the code cell's tooltip. */
function codeTitle(voucher) {
  const categories = voucher.categories.map((c) => c.name).join(', ');
  return categories ? `${voucher.code} · ${categories}` : voucher.code;
}

function blankMessage(text) {
  const tr = document.createElement('tr');
  const td = cell(text, { className: 'empty-cell' });
  td.colSpan = 3;
  tr.append(td);
  return tr;
}
