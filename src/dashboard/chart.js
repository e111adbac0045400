// Assignments over time, drawn here as inline SVG: one bar per bucket of a series (stats.js),
// stacked by voucher type, exactly the counts the series holds. Each bar and segment carries
// its start, type and count as data attributes; the bars are one tab stop (arrow keys, Home and
// End move between them); a legend and a table say the same in words.

import { TYPES, formatCount, typeLabel } from './format.js';

const RANGES = {
  hour: { title: 'Assignments in the last hour, per minute', label: (d) => d.getMinutes() % 15 === 0 },
  day: { title: 'Assignments in the last day, per hour', label: (d) => d.getHours() % 6 === 0 },
};
const PAD = { top: 8, right: 4, bottom: 20, left: 32 };
/** Bars moved by PageUp and PageDown. */
const PAGE = 10;

const clock = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
const hhmm = new Intl.DateTimeFormat(undefined, clock);
/** How a bucket's start reads: with the weekday when the series spans a day; with seconds
 * when it is the start of the range, inside the first bucket. */
const STARTS = {
  MINUTE: [hhmm, new Intl.DateTimeFormat(undefined, { ...clock, second: '2-digit' })],
  HOUR: [
    new Intl.DateTimeFormat(undefined, { ...clock, weekday: 'short' }),
    new Intl.DateTimeFormat(undefined, { ...clock, second: '2-digit', weekday: 'short' }),
  ],
};

export class Chart {
  /** { hour, day } series, as Stats shows them. */
  #series = null;
  #range = 'hour';
  /** The start of the bar that holds the tab stop (the newest when it is gone). */
  #focus = null;
  /** The start of the bar last pointed at or focused, told in words under the chart. */
  #shown = null;
  #width = 0;

  constructor({ svg, title, desc, legend, readout, choices, details, table }) {
    Object.assign(this, { svg, title, desc, legend, readout, choices, details, table });
    // The page's own <svg> gives the namespace, so no URL needs writing here.
    this.ns = svg.namespaceURI;
    this.grid = this.#el('g', { class: 'grid', 'aria-hidden': 'true' });
    this.bars = this.#el('g', { class: 'bars' });
    this.axis = this.#el('g', { class: 'axis', 'aria-hidden': 'true' });
    svg.append(this.grid, this.bars, this.axis);
  }

  bind() {
    for (const input of this.choices.querySelectorAll('input[type="radio"]')) {
      input.addEventListener('change', () => {
        this.#range = input.value;
        this.#focus = this.#shown = null;
        this.#render();
      });
    }
    this.svg.addEventListener('keydown', (event) => this.#key(event));
    this.svg.addEventListener('focusin', (event) => {
      const bar = event.target.closest?.('.bucket');
      if (bar) this.#hold(bar);
    });
    this.svg.addEventListener('pointerover', (event) => {
      this.#shown = event.target.closest?.('.bucket')?.dataset.start ?? this.#shown;
      this.#summary();
    });
    this.svg.addEventListener('focusout', (event) => {
      if (this.svg.contains(event.relatedTarget)) return;
      this.#shown = null;
      this.#summary();
    });
    this.svg.addEventListener('pointerleave', () => {
      this.#shown = this.bars.contains(document.activeElement) ? this.#focus : null;
      this.#summary();
    });
    this.details.addEventListener('toggle', () => this.#renderTable());
    new ResizeObserver(() => {
      if (this.svg.clientWidth !== this.#width) this.#render();
    }).observe(this.svg);
  }

  show(series) {
    this.#series = series;
    this.#render();
  }

  get #current() {
    return this.#series?.[this.#range];
  }

  #render() {
    const series = this.#current;
    if (!series) return;
    const width = (this.#width = this.svg.clientWidth || 400);
    const height = this.svg.clientHeight || 176;
    this.svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    const { bucket, from, to, total, live } = series;
    Object.assign(this.svg.dataset, { range: this.#range, bucket, from, to, total: String(total), live: String(live) });
    const types = typesOf(series);
    const stacked = series.counts.map((count, i) => Math.max(count, types.reduce((sum, t) => sum + at(series, t, i), 0)));
    const top = niceTop(Math.max(0, ...stacked));
    const box = { x: PAD.left, y: PAD.top, w: width - PAD.left - PAD.right, h: height - PAD.top - PAD.bottom };
    const slot = box.w / Math.max(1, series.starts.length);
    this.grid.replaceChildren(...this.#grid(box, top));
    this.axis.replaceChildren(...this.#axis(series, box, slot, width));
    // The same bars with new counts are updated in place, so a focused bar keeps the focus.
    const kept = [...this.bars.children];
    const same = kept.length === series.starts.length && kept.every((g, i) => g.dataset.start === series.starts[i]);
    const hadFocus = this.svg.contains(document.activeElement);
    const bars = series.starts.map((_, i) => this.#bar(same ? kept[i] : null, series, types, i, { box, slot, top }));
    if (!same) {
      this.bars.replaceChildren(...bars);
      this.#restoreFocus(hadFocus);
    }
    this.title.textContent = RANGES[this.#range].title;
    this.desc.textContent = this.#describe(series);
    this.#renderLegend(series);
    this.#summary();
    this.#renderTable();
  }

  /** One bucket (`g`, or a new one): a full-height target for the pointer and the focus, and a
   * segment per type. */
  #bar(g, series, types, i, { box, slot, top }) {
    const start = series.starts[i];
    const x = box.x + i * slot;
    const gap = slot >= 4 ? Math.min(2, slot * 0.2) : 0;
    g ??= this.#el('g', { class: 'bucket', role: 'img', tabindex: '-1', 'data-start': start });
    g.dataset.count = String(series.counts[i]);
    g.setAttribute('aria-label', this.#label(series, types, i));
    g.replaceChildren(this.#el('rect', { class: 'hit', x, y: box.y, width: slot, height: box.h }));
    let base = 0;
    for (const type of types) {
      const count = at(series, type, i);
      if (count === 0) continue;
      const y = box.y + box.h * (1 - (base + count) / top);
      const h = (box.h * count) / top;
      g.append(this.#el('rect', {
        class: `seg ${typeClass(type)}`, 'data-start': start, 'data-type': type, 'data-count': count,
        x: x + gap / 2, y, width: Math.max(1, slot - gap), height: h,
      }));
      base += count;
    }
    return g;
  }

  /** "14:03–14:04: 5 assignments (Discount 3, Gift card 2)". */
  #label(series, types, i) {
    const count = series.counts[i];
    const parts = types.filter((t) => at(series, t, i) > 0).map((t) => `${typeLabel(t)} ${formatCount(at(series, t, i))}`);
    const what = count === 0 ? 'no assignments' : `${formatCount(count)} assignment${count === 1 ? '' : 's'}`;
    return `${this.#when(series, i)}: ${what}${parts.length ? ` (${parts.join(', ')})` : ''}`;
  }

  /** The bucket's span, from `from` for a first bucket that starts before it. */
  #when(series, i) {
    const start = Date.parse(series.starts[i]);
    const from = Date.parse(series.from);
    const end = new Date(start + series.width);
    const [whole, partial] = STARTS[series.bucket];
    const begin = start < from ? partial.format(new Date(from)) : whole.format(new Date(start));
    return `${begin}–${hhmm.format(end)}`;
  }

  #grid(box, top) {
    const grid = [];
    const ticks = top % 2 === 0 ? [0, top / 2, top] : [0, top];
    for (const tick of ticks) {
      const y = box.y + box.h * (1 - tick / top);
      const text = this.#el('text', { x: box.x - 4, y, 'text-anchor': 'end', 'dominant-baseline': 'middle' });
      text.textContent = formatCount(tick);
      grid.push(this.#el('line', { x1: box.x, x2: box.x + box.w, y1: y, y2: y }), text);
    }
    return grid;
  }

  #axis(series, box, slot, width) {
    const axis = [];
    const wanted = RANGES[this.#range].label;
    series.starts.forEach((start, i) => {
      const date = new Date(start);
      if (i === 0 || !wanted(date)) return;
      const x = box.x + i * slot;
      const anchor = x + 18 > width ? 'end' : 'middle';
      const text = this.#el('text', { x, y: box.y + box.h + 14, 'text-anchor': anchor });
      text.textContent = hhmm.format(date);
      axis.push(this.#el('line', { x1: x, x2: x, y1: box.y + box.h, y2: box.y + box.h + 4 }), text);
    });
    return axis;
  }

  #describe(series) {
    const n = series.starts.length;
    if (n === 0) return 'No data.';
    const unit = series.bucket === 'HOUR' ? 'hour' : 'minute';
    const busiest = series.counts.reduce((best, c, i) => (c > series.counts[best] ? i : best), 0);
    const peak = series.total ? `; the busiest ${unit}, ${this.#when(series, busiest)}, had ${formatCount(series.counts[busiest])}` : '';
    return `${n} bars, one per ${unit}, from ${this.#when(series, 0)} to ${this.#when(series, n - 1)}, ` +
      `stacked by voucher type: ${formatCount(series.total)} assignments${peak}. ` +
      'The bars are one tab stop: the arrow keys, Home and End move between them.';
  }

  #renderLegend(series) {
    const items = typesOf(series).map((type) => {
      const total = (series.byType.get(type) ?? []).reduce((a, b) => a + b, 0);
      const item = document.createElement('li');
      item.dataset.type = type;
      item.dataset.total = String(total);
      const swatch = document.createElement('span');
      swatch.className = `swatch ${typeClass(type)}`;
      swatch.setAttribute('aria-hidden', 'true');
      item.append(swatch, `${typeLabel(type)} ${formatCount(total)}`);
      return item;
    });
    this.legend.replaceChildren(...items);
  }

  /** The table alternative, filled while it is open. */
  #renderTable() {
    const series = this.#current;
    if (!series || !this.details.open) return;
    const types = typesOf(series);
    const head = document.createElement('tr');
    head.append(heading('Time', 'col'), ...[...types.map(typeLabel), 'All'].map((text) => heading(text, 'col', 'num')));
    const rows = series.starts.map((start, i) => {
      const tr = document.createElement('tr');
      tr.dataset.start = start;
      tr.append(heading(this.#when(series, i), 'row'), ...[...types.map((t) => at(series, t, i)), series.counts[i]].map(numberCell));
      return tr;
    });
    this.table.caption.textContent = RANGES[this.#range].title;
    this.table.tHead.replaceChildren(head);
    this.table.tBodies[0].replaceChildren(...rows.reverse());
  }

  #restoreFocus(hadFocus) {
    const all = [...this.bars.children];
    const held = all.find((bar) => bar.dataset.start === this.#focus) ?? all.at(-1);
    if (!held) return;
    held.setAttribute('tabindex', '0');
    if (hadFocus) held.focus({ preventScroll: true });
  }

  /** `bar` holds the tab stop and its words are shown under the chart. */
  #hold(bar) {
    for (const other of this.bars.children) other.setAttribute('tabindex', other === bar ? '0' : '-1');
    this.#focus = this.#shown = bar.dataset.start;
    this.#summary();
  }

  /** Under the chart: the bar last pointed at or focused, else the whole. */
  #summary() {
    const bar = [...this.bars.children].find((g) => g.dataset.start === this.#shown);
    const series = this.#current;
    if (bar) this.readout.textContent = bar.getAttribute('aria-label');
    else if (series) this.readout.textContent = `${formatCount(series.total)} in all · point at or focus a bar for its counts`;
  }

  #key(event) {
    const bar = event.target.closest?.('.bucket');
    if (!bar) return;
    const all = [...bar.parentNode.children];
    const i = all.indexOf(bar);
    const steps = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1, PageUp: -PAGE, PageDown: PAGE };
    let next;
    if (event.key in steps) next = i + steps[event.key];
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = all.length - 1;
    else return;
    event.preventDefault();
    all[Math.max(0, Math.min(all.length - 1, next))].focus();
  }

  #el(name, attributes = {}) {
    const element = document.createElementNS(this.ns, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
    return element;
  }
}

/** The known types in their usual order, then any other the series has. */
function typesOf(series) {
  const known = TYPES.map(([type]) => type);
  return [...known, ...[...series.byType.keys()].filter((t) => !known.includes(t))];
}

const at = (series, type, i) => series.byType.get(type)?.[i] ?? 0;

const typeClass = (type) => (TYPES.some(([t]) => t === type) ? `t-${type}` : 't-other');

/** A round top for the axis: 4, 5, 8, 10, 20, 40, 50, 80, 100, … */
function niceTop(max) {
  if (max <= 4) return 4;
  const step = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 4, 5, 8, 10].map((m) => m * step).find((top) => top >= max);
}

function heading(text, scope, className = '') {
  const th = document.createElement('th');
  Object.assign(th, { scope, className, textContent: text });
  return th;
}

function numberCell(n) {
  const td = document.createElement('td');
  td.className = 'num';
  td.textContent = formatCount(n);
  return td;
}
