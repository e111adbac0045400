// The dashboard in headless Chromium against the real `pubgate` binary: live rows, a kill -9
// and restart with every row exactly once, a reload, customer search with paging, the chart
// against `assignmentStats` and from the keyboard, a 420 px wide window, dark mode and API
// tokens. Screenshots go to ./screenshots/; the README's (readme.png, committed) is
// rewritten only with UPDATE_README_SCREENSHOT=1, so a test run leaves the checkout clean.
//
// Run with `bash run.sh` (or `node --test dashboard.test.mjs` after `npm ci`).
// PUBGATE_BIN overrides the binary (default: ../../target/debug/pubgate).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  STARTUP_MS,
  Server,
  WAIT_MS,
  assignment,
  deliverAll,
  gql,
  launchBrowser,
  stopServers,
  withTimeout,
} from './support.mjs';

const SCREENSHOTS = fileURLToPath(new URL('./screenshots/', import.meta.url));
const TOKEN = 'e2e-dashboard-token';

const VIEWPORT = { width: 1280, height: 800 };

// ---------------------------------------------------------------------------------------------
// The page

let browser;

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopServers();
});

/** A fresh tab on `server`'s dashboard that fails the test on any script error. */
async function openPage(server, options = {}) {
  const context = await browser.newContext({ viewport: VIEWPORT, colorScheme: 'light', ...options });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/ERR_CONNECTION_REFUSED|WebSocket connection|Failed to load resource/.test(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.problems = problems;
  await page.goto(`${server.url}/`);
  return page;
}

async function waitState(page, states) {
  await page.waitForFunction(
    (want) => want.includes(document.getElementById('status').dataset.state),
    states,
    { timeout: WAIT_MS, polling: 50 },
  ).catch(async (error) => {
    const now = await page.locator('#status').getAttribute('data-state');
    throw new Error(`the indicator stayed "${now}", not ${states.join('/')}: ${error.message}`);
  });
}

const feedIds = (page) => page.$$eval('#feed-rows tr', (rows) => rows.map((r) => r.dataset.id));

/** Waits until every id in `ids` is a row of the feed. */
async function waitRows(page, ids) {
  await page.waitForFunction(
    (want) => {
      const shown = new Set([...document.querySelectorAll('#feed-rows tr')].map((r) => r.dataset.id));
      return want.every((id) => shown.has(id));
    },
    ids,
    { timeout: WAIT_MS, polling: 50 },
  ).catch(async (error) => {
    const shown = new Set(await feedIds(page));
    throw new Error(`missing rows ${ids.filter((id) => !shown.has(id)).join(', ')}: ${error.message}`);
  });
}

/** The feed shows exactly `ids`, each once, and the page saw no repeat from the server. */
async function assertExactlyOnce(page, ids) {
  const shown = await feedIds(page);
  const counts = new Map();
  for (const id of shown) counts.set(id, (counts.get(id) ?? 0) + 1);
  const repeated = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
  assert.deepEqual(repeated, [], 'rows shown more than once');
  assert.deepEqual([...shown].sort(), [...ids].sort(), 'the feed shows exactly the acknowledged assignments');
  assert.equal(await page.locator('#feed').getAttribute('data-duplicates'), '0', 'the subscription repeated a row');
}

const shot = (page, name, options = {}) => page.screenshot({ path: join(SCREENSHOTS, name), ...options });

function assertNoProblems(page) {
  assert.deepEqual(page.problems, [], 'the page logged errors');
}

// ---------------------------------------------------------------------------------------------
// Scenarios

test('live rows; kill -9, restart on the same port, reload: every row exactly once', { timeout: 120_000 }, async () => {
  const server = new Server('live');
  await server.start();
  const page = await openPage(server);
  await waitState(page, ['live']);
  assert.equal(await page.locator('#feed-empty').isVisible(), true, 'an empty database shows the empty note');

  // Live.
  const posted = Array.from({ length: 12 }, (_, k) => assignment('live', k));
  const acknowledged = await deliverAll(server, posted);
  await waitRows(page, acknowledged);
  await assertExactlyOnce(page, acknowledged);
  // Newest first.
  assert.deepEqual((await feedIds(page)).slice(0, 3), acknowledged.slice(-3).reverse());
  await shot(page, 'live.png');

  // The server dies; the page says so.
  await server.kill('SIGKILL');
  await waitState(page, ['reconnecting', 'offline']);
  assert.match(await page.locator('#status').innerText(), /Reconnecting|Offline/);
  await shot(page, 'reconnecting.png');

  // Deliveries start while it is down (refused, retried) and go through once it is back.
  let failed;
  const firstFailure = new Promise((resolve) => (failed = resolve));
  const down = Array.from({ length: 10 }, (_, k) => assignment('down', k));
  posted.push(...down);
  const retried = deliverAll(server, down, { onFailure: failed });
  await withTimeout(firstFailure, WAIT_MS, 'a delivery to fail while the server is down');
  await server.start();
  acknowledged.push(...(await withTimeout(retried, 2 * STARTUP_MS, 'the retried deliveries')));
  await waitState(page, ['live']);
  const more = Array.from({ length: 5 }, (_, k) => assignment('up', k));
  posted.push(...more);
  acknowledged.push(...(await deliverAll(server, more)));
  await waitRows(page, acknowledged);
  await assertExactlyOnce(page, acknowledged);

  // The counters settle on the server's numbers (all assignments are from the last minutes).
  const expected = { all: posted.length, DISCOUNT_VOUCHER: 0, GIFT_VOUCHER: 0, LOYALTY_CARD: 0 };
  for (const item of posted) expected[item.type] += 1;
  const perType = () =>
    page.$$eval('#types tr[data-type]', (rows) =>
      Object.fromEntries(rows.map((r) => [r.dataset.type, [Number(r.dataset.hour), Number(r.dataset.day)]])),
    );
  const both = Object.fromEntries(Object.entries(expected).map(([type, n]) => [type, [n, n]]));
  // Waits for the whole table: one count may run while the last rows commit.
  await page
    .waitForFunction(
      (want) =>
        [...document.querySelectorAll('#types tr[data-type]')].every(
          (r) => want[r.dataset.type] && r.dataset.hour === String(want[r.dataset.type][0]) && r.dataset.day === String(want[r.dataset.type][1]),
        ),
      both,
      { timeout: WAIT_MS, polling: 100 },
    )
    .catch(() => {});
  assert.deepEqual(await perType(), both, 'last hour and last day per type');

  // A reload resumes from the remembered cursor: nothing lost, nothing twice.
  await page.reload();
  await waitState(page, ['live']);
  const afterReload = await deliverAll(server, Array.from({ length: 3 }, (_, k) => assignment('reload', k)));
  acknowledged.push(...afterReload);
  await waitRows(page, acknowledged);
  await assertExactlyOnce(page, acknowledged);
  assertNoProblems(page);
  await page.context().close();
  await server.kill('SIGTERM');
});

test('customer search: by e-mail, source id and id; 30 vouchers, 10 a page, keyboard only', { timeout: 60_000 }, async () => {
  const server = new Server('search');
  await server.start();
  const many = { id: 'cust_e2e_mia', source_id: 'src-mia', name: 'Mia Many', email: 'mia@example.com' };
  const mine = Array.from({ length: 30 }, (_, k) => assignment('mia', k + 1, many));
  await deliverAll(server, mine);
  const page = await openPage(server);
  await waitState(page, ['live']);
  await waitRows(page, mine.map((m) => m.pub));
  const others = await deliverAll(server, Array.from({ length: 6 }, (_, k) => assignment('other', k)));
  await waitRows(page, others);

  const search = async (text) => {
    await page.locator('#search-q').focus();
    await page.keyboard.press('Control+A');
    await page.keyboard.type(text);
    await page.keyboard.press('Enter');
  };
  const pageOf = async (n) => {
    await page.waitForFunction(
      (label) => document.getElementById('page-label').textContent.startsWith(label) &&
        !document.querySelector('#vouchers tbody').hasAttribute('aria-busy'),
      `Page ${n} of 3`,
      { timeout: WAIT_MS, polling: 50 },
    );
    return page.$$eval('#vouchers tbody tr[data-code]', (rows) => rows.map((r) => r.dataset.code));
  };
  const press = async (id) => {
    await page.locator(id).focus();
    await page.keyboard.press('Enter');
  };

  await search('mia@example.com');
  await page.locator('#customer-title').filter({ hasText: 'Mia Many' }).waitFor({ timeout: WAIT_MS });
  const pages = [await pageOf(1)];
  assert.equal(await page.locator('#prev').getAttribute('aria-disabled'), 'true');
  await press('#next');
  pages.push(await pageOf(2));
  await shot(page, 'dashboard.png', { fullPage: true });
  if (process.env.UPDATE_README_SCREENSHOT === '1') await shot(page, 'readme.png', { fullPage: true });
  await press('#next');
  pages.push(await pageOf(3));
  assert.equal(await page.locator('#next').getAttribute('aria-disabled'), 'true');
  for (const codes of pages) assert.equal(codes.length, 10, `a page shows 10 vouchers: ${codes}`);
  const all = pages.flat();
  assert.equal(new Set(all).size, 30, 'no voucher on two pages');
  assert.deepEqual([...all].sort(), mine.map((m) => m.code).sort(), 'the pages hold exactly the 30 vouchers');
  await press('#prev');
  assert.deepEqual(await pageOf(2), pages[1], 'Previous shows page 2 again');
  await shot(page, 'search.png');

  // Each search starts at page 1 again (so leaving page 2 shows it ran).
  for (const key of ['src-mia', 'cust_e2e_mia']) {
    await search(key);
    assert.deepEqual(await pageOf(1), pages[0], `search by ${key}`);
    assert.equal(await page.locator('#customer-title').innerText(), 'Mia Many');
    await press('#next');
    await pageOf(2);
  }
  await search('nobody@example.com');
  await page.locator('#search-results').filter({ hasText: 'No customer' }).waitFor({ timeout: WAIT_MS });
  assertNoProblems(page);
  await page.context().close();
  await server.kill('SIGTERM');
});

// ---------------------------------------------------------------------------------------------
// The chart and the counters

const SERIES = `query($from: DateTime!, $to: DateTime!, $bucket: StatsBucket!) {
  assignmentStats(from: $from, to: $to, bucket: $bucket, groupBy: [VOUCHER_TYPE]) {
    total buckets { start count } groups { voucherType total buckets { start count } }
  }
}`;

/** Waits until the chart shows the server's own count (no live row since) of `total`. */
async function waitChart(page, range, total) {
  await page
    .waitForFunction(
      ([range, total]) => {
        const d = document.getElementById('chart').dataset;
        return d.range === range && d.live === '0' && d.total === String(total);
      },
      [range, total],
      { timeout: WAIT_MS, polling: 50 },
    )
    .catch(async (error) => {
      const shown = await page.evaluate(() => ({ ...document.getElementById('chart').dataset }));
      throw new Error(`the chart shows ${JSON.stringify(shown)}, not ${range} with ${total}: ${error.message}`);
    });
}

/** What the SVG draws: its range, each bar and each segment, from their data attributes and
 * their drawn heights. */
const drawn = (page) =>
  page.evaluate(() => {
    const svg = document.getElementById('chart');
    const bars = [...svg.querySelectorAll('.bucket')].map((g) => ({ start: g.dataset.start, count: Number(g.dataset.count) }));
    const segments = [...svg.querySelectorAll('.seg')].map((r) => ({
      start: r.dataset.start,
      type: r.dataset.type,
      count: Number(r.dataset.count),
      height: Number(r.getAttribute('height')),
    }));
    const legend = Object.fromEntries([...document.querySelectorAll('#chart-legend li')].map((li) => [li.dataset.type, Number(li.dataset.total)]));
    return { ...svg.dataset, bars, segments, legend };
  });

/** The lowest contrast of the chart's bars, and of its text, against the panel (WCAG ratio). */
const chartContrast = (page) =>
  page.evaluate(() => {
    const rgb = (colour) => colour.match(/[\d.]+/g).slice(0, 3).map(Number);
    const luminance = (colour) => {
      const [r, g, b] = rgb(colour).map((v) => {
        const c = v / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const ratio = (a, b) => {
      const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
      return (hi + 0.05) / (lo + 0.05);
    };
    const panel = getComputedStyle(document.getElementById('chart').closest('.panel')).backgroundColor;
    const fills = [...document.querySelectorAll('#chart .seg')].map((el) => getComputedStyle(el).fill);
    const texts = [...document.querySelectorAll('#chart text')].map((el) => getComputedStyle(el).fill);
    return {
      types: new Set([...document.querySelectorAll('#chart .seg')].map((el) => el.dataset.type)).size,
      bars: Math.min(...fills.map((f) => ratio(f, panel))),
      text: Math.min(...texts.map((f) => ratio(f, panel))),
    };
  });

/** The chart draws exactly what `assignmentStats` answers for its own range. */
async function assertChartIsTheApi(page, server) {
  const chart = await drawn(page);
  const { assignmentStats: api } = await gql(server, SERIES, { from: chart.from, to: chart.to, bucket: chart.bucket });
  assert.equal(Number(chart.total), api.total, 'the chart total');
  assert.deepEqual(chart.bars, api.buckets, `the ${chart.bucket} bars are the API's buckets`);
  const want = api.groups.flatMap((g) => g.buckets.filter((b) => b.count > 0).map((b) => `${b.start} ${g.voucherType} ${b.count}`));
  const got = chart.segments.map((s) => `${s.start} ${s.type} ${s.count}`);
  assert.deepEqual(got.sort(), want.sort(), 'one segment per type and bucket the API counts, of its count');
  // Drawn to scale: the same height for each assignment.
  const unit = chart.segments.map((s) => s.height / s.count);
  assert.ok(unit.every((u) => Math.abs(u - unit[0]) < 1e-6 && u > 0), `heights proportional to counts: ${unit}`);
  for (const group of api.groups) assert.equal(chart.legend[group.voucherType], group.total, `legend for ${group.voucherType}`);
  return { chart, api };
}

test('the chart draws the counts assignmentStats returns, per minute and per hour; keyboard', { timeout: 90_000 }, async () => {
  const server = new Server('chart');
  await server.start();
  const ago = (minutes) => new Date(Date.now() - minutes * 60_000).toISOString();
  // Spread over the last day, a few in the same minutes, of every type.
  const minutes = [2, 2, 3, 7, 7, 7, 18, 33, 34, 58, 75, 75, 190, 600, 1300, 1300, 1439 - 5];
  const earlier = minutes.map((m, k) => assignment('chart', k, undefined, { createdAt: ago(m) }));
  await deliverAll(server, earlier);
  const page = await openPage(server);
  await waitState(page, ['live']);
  const inHour = minutes.filter((m) => m < 60).length;
  await waitChart(page, 'hour', inHour);
  await assertChartIsTheApi(page, server);

  // Named and described for assistive technology.
  const names = await page.evaluate(() => {
    const svg = document.getElementById('chart');
    const text = (id) => document.getElementById(id)?.textContent ?? '';
    return {
      title: svg.getAttribute('aria-labelledby').split(' ').map(text).join(' '),
      desc: svg.getAttribute('aria-describedby').split(' ').map(text).join(' '),
    };
  });
  assert.match(names.title, /last hour, per minute/i);
  assert.match(names.desc, new RegExp(`${inHour} assignments`));
  const light = await chartContrast(page);
  assert.equal(light.types, 3);
  assert.ok(light.bars >= 3 && light.text >= 4.5, `readable in the light theme: ${JSON.stringify(light)}`);

  // Live rows are counted into the bars at once, then the server's count takes over.
  const live = await deliverAll(server, Array.from({ length: 3 }, (_, k) => assignment('chartlive', k)));
  await waitRows(page, live);
  await page.waitForFunction(
    (n) => {
      const d = document.getElementById('chart').dataset;
      return d.total === String(n) && Number(d.live) > 0;
    },
    inHour + 3,
    { timeout: WAIT_MS, polling: 20 },
  ); // counted live, before the server counts again (a few seconds after the last live row)
  await waitChart(page, 'hour', inHour + 3);
  await assertChartIsTheApi(page, server);

  // The keyboard: the range by arrow keys, then one tab stop into the bars.
  await page.locator('#chart-range input[value="hour"]').focus();
  await page.keyboard.press('ArrowRight');
  await waitChart(page, 'day', earlier.length + 3);
  const { api } = await assertChartIsTheApi(page, server);
  assert.equal(api.buckets.length, 25, 'a day of hours, the first one partial');
  await page.keyboard.press('Tab');
  const focused = () =>
    page.evaluate(() => {
      const el = document.activeElement;
      return { bar: el.classList.contains('bucket'), start: el.dataset.start, label: el.getAttribute('aria-label'), readout: document.getElementById('chart-readout').textContent };
    });
  const newest = await focused();
  assert.ok(newest.bar, 'Tab from the range reaches the bars');
  assert.equal(newest.start, api.buckets.at(-1).start, 'the newest bar holds the tab stop');
  await page.keyboard.press('Home');
  const first = await focused();
  assert.equal(first.start, api.buckets[0].start);
  // A bucket with none says "no assignments" (at an hour's turn the newest one can be empty).
  const said = (n) => new RegExp(n === 0 ? ': no assignments' : `: ${n} assignments?`);
  assert.match(first.label, said(api.buckets[0].count), first.label);
  await page.keyboard.press('ArrowRight');
  assert.equal((await focused()).start, api.buckets[1].start);
  await page.keyboard.press('End');
  const last = await focused();
  assert.equal(last.start, api.buckets.at(-1).start);
  assert.equal(last.readout, last.label, 'the focused bar is also shown in words');
  assert.match(last.label, said(api.buckets.at(-1).count), last.label);
  await shot(page, 'chart.png');

  // New counts do not take the focus away from the bar it is on.
  const another = await deliverAll(server, [assignment('chartfocus', 0)]);
  await waitRows(page, another);
  await page.waitForFunction((n) => document.getElementById('chart').dataset.total === String(n), earlier.length + 4, {
    timeout: WAIT_MS,
    polling: 20,
  });
  const still = await focused();
  assert.ok(still.bar && still.start === last.start, `the focus stays on the bar: ${JSON.stringify(still)}`);
  await waitChart(page, 'day', earlier.length + 4);
  const { api: settled } = await assertChartIsTheApi(page, server);
  assert.ok((await focused()).bar, 'and stays in the bars when the server counts again');

  // Leaving the bars, the next stop is the table, which lists every bar.
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.locator('#chart-table tbody tr').first().waitFor({ timeout: WAIT_MS });
  const rows = await page.$$eval('#chart-table tbody tr', (trs) => trs.map((tr) => [tr.dataset.start, Number(tr.lastElementChild.textContent.replace(/\D/g, ''))]));
  assert.deepEqual(rows.reverse(), settled.buckets.map((b) => [b.start, b.count]), 'the table, newest first');
  assertNoProblems(page);
  await page.context().close();
  await server.kill('SIGTERM');
});

test('narrow 420 px: the Customer column stays; campaign names and codes are whole or in a tooltip', { timeout: 60_000 }, async () => {
  const server = new Server('narrow');
  await server.start();
  const campaigns = [
    { id: 'camp_e2e_a1', name: 'amount campaign 1' },
    { id: 'camp_e2e_a12', name: 'amount campaign 12' },
    { id: 'camp_e2e_long', name: 'amount campaign for the whole of the autumn season, in every shop' },
  ];
  const holder = { id: 'cust_e2e_nora', source_id: 'src-nora', name: 'Nora Narrow', email: 'nora@example.com' };
  const items = campaigns.flatMap((campaign, c) =>
    [0, 1].map((k) => assignment(`narrow${c}`, 3 * k + c, holder, { campaign, code: `AMOUNT-${c}${k}-2026-0X7F3A9C` })),
  );
  const shown = await deliverAll(server, items);
  const page = await openPage(server);
  await waitState(page, ['live']);
  await waitRows(page, shown);
  await page.locator('#campaigns tr[data-campaign]').nth(2).waitFor({ timeout: WAIT_MS });

  // Each campaign row names its campaign in full in a tooltip; short names are not cut.
  const rows = await page.$$eval('#campaigns tr[data-campaign] th', (ths) =>
    ths.map((th) => ({ id: th.parentElement.dataset.campaign, text: th.textContent, title: th.title, cut: th.scrollWidth > th.clientWidth })),
  );
  for (const campaign of campaigns) {
    const row = rows.find((r) => r.id === campaign.id);
    assert.ok(row, `a row for ${campaign.id}`);
    assert.equal(row.title, `${campaign.name} · ${campaign.id}`, 'the full name in the tooltip');
    if (campaign.id !== 'camp_e2e_long') assert.equal(row.cut, false, `${campaign.name} fits`);
  }
  const feedTitles = await page.$$eval('#feed-rows td:nth-child(6)', (tds) => tds.map((td) => td.title));
  for (const campaign of campaigns) assert.ok(feedTitles.includes(`${campaign.name} · ${campaign.id}`), `the feed's tooltip for ${campaign.name}`);

  // The customer panel shows every code whole.
  await page.locator('#search-q').fill('nora@example.com');
  await page.keyboard.press('Enter');
  await page.locator('#vouchers tbody tr[data-code]').nth(items.length - 1).waitFor({ timeout: WAIT_MS });
  const cells = () =>
    page.$$eval('#vouchers tr[data-code] td', (tds) => tds.map((td) => ({ text: td.textContent, code: td.classList.contains('code'), cut: td.scrollWidth > td.clientWidth })));
  const shownCells = await cells();
  assert.deepEqual(shownCells.filter((c) => c.code).map((c) => c.text).sort(), items.map((i) => i.code).sort());
  assert.deepEqual(shownCells.filter((c) => c.cut), [], 'no code, value or campaign name is cut short');

  // 420 px wide: the feed keeps its Customer column (scrolling sideways for the rest).
  await page.setViewportSize({ width: 420, height: 800 });
  await page.waitForFunction(() => document.documentElement.clientWidth === 420, null, { timeout: WAIT_MS });
  const narrow = await page.evaluate(() => {
    const box = (el) => el.getBoundingClientRect();
    const head = box(document.querySelector('#feed thead th:nth-child(2)'));
    const cell = document.querySelector('#feed-rows td:nth-child(2)');
    return {
      page: document.documentElement.scrollWidth,
      head: { left: head.left, right: head.right, width: head.width },
      text: cell.textContent,
      visible: cell.checkVisibility() && box(cell).width > 0,
    };
  });
  assert.ok(narrow.page <= 420, `nothing is wider than the window: ${narrow.page}`);
  assert.ok(narrow.head.width >= 90, `the Customer column is ${narrow.head.width} px wide`);
  assert.ok(narrow.head.left >= 0 && narrow.head.right <= 420, `the Customer column is in view: ${JSON.stringify(narrow.head)}`);
  assert.equal(narrow.text, holder.name);
  assert.ok(narrow.visible);
  assert.deepEqual((await cells()).filter((c) => c.cut), [], 'nothing in the customer panel is cut short at 420 px');
  await shot(page, 'narrow.png', { fullPage: true });
  assertNoProblems(page);
  await page.context().close();
  await server.kill('SIGTERM');
});

test('dark mode follows prefers-color-scheme', { timeout: 60_000 }, async () => {
  const server = new Server('dark');
  await server.start();
  const shown = await deliverAll(server, Array.from({ length: 9 }, (_, k) => assignment('dark', k)));
  const page = await openPage(server, { colorScheme: 'dark' });
  await waitState(page, ['live']);
  await waitRows(page, shown);
  const luminance = (rgb) => {
    const [r, g, b] = rgb.match(/\d+/g).map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  };
  const colours = await page.evaluate(() => {
    const style = getComputedStyle(document.body);
    return { background: style.backgroundColor, text: style.color };
  });
  assert.ok(luminance(colours.background) < 0.2, `dark background, got ${colours.background}`);
  assert.ok(luminance(colours.text) > 0.8, `light text, got ${colours.text}`);
  await waitChart(page, 'hour', shown.length);
  const dark = await chartContrast(page);
  assert.equal(dark.types, 3);
  assert.ok(dark.bars >= 3 && dark.text >= 4.5, `the chart is readable in the dark theme: ${JSON.stringify(dark)}`);
  await shot(page, 'dashboard-dark.png');
  assertNoProblems(page);
  await page.context().close();
  await server.kill('SIGTERM');
});

test('with an API token: the page loads, asks for the token, keeps it for the tab only', { timeout: 60_000 }, async () => {
  const server = new Server('token', ['--api-token', TOKEN]);
  await server.start();
  const refused = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ publications { totalCount } }' }),
  });
  assert.equal(refused.status, 401, 'GraphQL needs the token');
  const shown = await deliverAll(server, Array.from({ length: 3 }, (_, k) => assignment('token', k)));

  const page = await openPage(server);
  const dialog = page.locator('#token-dialog');
  await dialog.waitFor({ state: 'visible', timeout: WAIT_MS });
  await waitState(page, ['locked']);
  await shot(page, 'token.png');

  // A wrong token is refused and asked for again.
  await page.locator('#token-input').fill('wrong-token');
  await page.keyboard.press('Enter');
  await page.locator('#token-error').filter({ hasText: 'refused' }).waitFor({ timeout: WAIT_MS });
  assert.equal(await dialog.isVisible(), true);

  await page.locator('#token-input').fill(TOKEN);
  await page.keyboard.press('Enter');
  await dialog.waitFor({ state: 'hidden', timeout: WAIT_MS });
  await waitState(page, ['live']);
  await waitRows(page, shown);
  const later = await deliverAll(server, [assignment('token', 9)]);
  await waitRows(page, [...shown, ...later]);
  await assertExactlyOnce(page, [...shown, ...later]);

  const storage = await page.evaluate(() => ({
    session: sessionStorage.getItem('pubgate.token'),
    local: Object.keys(localStorage),
  }));
  assert.deepEqual(storage, { session: TOKEN, local: [] }, 'the token lives in sessionStorage only');

  // A reload in the same tab keeps the token; a new tab asks again.
  await page.reload();
  await waitState(page, ['live']);
  assert.equal(await dialog.isVisible(), false);
  const other = await openPage(server);
  await other.locator('#token-dialog').waitFor({ state: 'visible', timeout: WAIT_MS });
  assertNoProblems(page);
  await page.context().close();
  await other.context().close();
  await server.kill('SIGTERM');
});
