// What the end-to-end tests share: the real `pubgate` binary on a free port (PUBGATE_BIN
// overrides the default ../../target/debug/pubgate), signed Voucherify deliveries posted to it,
// headless Chromium, and waiting that is always bounded.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const BIN =
  process.env.PUBGATE_BIN || fileURLToPath(new URL('../../target/debug/pubgate', import.meta.url));
const SECRET = 'test-webhook-secret';

/** Longest wait for any one thing to show on the page or on the wire. */
export const WAIT_MS = 15_000;
export const STARTUP_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// Bounded waiting

export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// The server

const servers = new Set();
/** The databases' directory, made for the first server. */
let tmp;

/** One `pubgate serve` process; `start()` again after `kill()` reuses its address and database. */
export class Server {
  constructor(name, extraArgs = []) {
    tmp ??= mkdtempSync(join(tmpdir(), 'pubgate-e2e-'));
    this.db = `sqlite://${join(tmp, `${name}.db`)}?mode=rwc`;
    this.extraArgs = extraArgs;
    this.listen = '127.0.0.1:0';
    this.child = null;
    this.stderr = '';
    servers.add(this);
  }

  get url() {
    return `http://${this.addr}`;
  }

  /** Starts the process and waits for its listening line (retrying a bind that races the old
   * process's socket, bounded). */
  async start() {
    const deadline = Date.now() + STARTUP_MS;
    for (;;) {
      try {
        this.addr = await this.#spawn();
        this.listen = this.addr;
        return;
      } catch (error) {
        if (!/in use/i.test(error.message) || Date.now() > deadline) throw error;
        await pause(200);
      }
    }
  }

  #spawn() {
    // The server reads PUBGATE_* from the environment; keep the caller's out of it.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PUBGATE_')));
    const args = ['serve', '--listen', this.listen, '--database-url', this.db, '--webhook-secret', SECRET, ...this.extraArgs];
    const child = spawn(BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      this.stderr = (this.stderr + chunk).slice(-8_000);
    });
    const lines = createInterface({ input: child.stdout });
    return withTimeout(
      new Promise((resolve, reject) => {
        lines.on('line', (line) => {
          const m = /^pubgate listening on http:\/\/(\S+?) /.exec(line);
          if (m) resolve(m[1]);
        });
        child.on('error', reject);
        child.on('exit', (code, signal) =>
          reject(new Error(`pubgate exited (${code ?? signal}) before listening:\n${this.stderr}`)),
        );
      }),
      STARTUP_MS,
      'pubgate to print its listening line',
    );
  }

  get running() {
    return this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends `signal` and waits (bounded) for the process to end. */
  async kill(signal = 'SIGKILL') {
    if (!this.running) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill(signal);
    await withTimeout(exited, WAIT_MS, `pubgate to exit after ${signal}`);
  }
}

process.on('exit', () => {
  for (const server of servers) if (server.running) server.child.kill('SIGKILL');
});

// ---------------------------------------------------------------------------------------------
// Webhooks in

let sequence = 0;

/** A signed-ready `customer.publication.succeeded` delivery, shaped like Voucherify's, of an
 * assignment made at `createdAt` (default: now). */
function delivery({ pub, customer, voucher, campaign, createdAt }) {
  const n = ++sequence;
  const now = createdAt ?? new Date().toISOString();
  return JSON.stringify({
    id: `whs_e2e_${n}`,
    project_id: 'proj_e2e',
    created_at: now,
    type: 'Voucher-published-to-customer',
    source: { id: 'distr_e2e', object: 'distribution', target_url: 'http://127.0.0.1/webhooks/voucherify' },
    event: {
      id: `evcus_e2e_${n}`,
      type: 'customer.publication.succeeded',
      created_at: now,
      entity_id: customer.id,
      group_id: `g_e2e_${n}`,
      event_source: { channel: 'API' },
    },
    data: {
      customer: { object: 'customer', ...customer },
      campaign: { id: campaign.id, name: campaign.name, object: 'campaign' },
      publication: {
        id: pub,
        object: 'publication',
        result: 'SUCCESS',
        customer_id: customer.id,
        created_at: now,
        channel: 'API',
        vouchers_id: [voucher.id],
      },
      voucher: { object: 'voucher', campaign_id: campaign.id, campaign: campaign.name, holder_id: customer.id, ...voucher },
    },
  });
}

const CAMPAIGNS = {
  spring: { id: 'camp_e2e_spring', name: 'Spring sale' },
  gifts: { id: 'camp_e2e_gifts', name: 'Gift cards' },
  club: { id: 'camp_e2e_club', name: 'Members club' },
};

const PEOPLE = [
  { id: 'cust_e2e_ada', source_id: 'src-ada', name: 'Ada Lovelace', email: 'ada@example.com' },
  { id: 'cust_e2e_grace', source_id: 'src-grace', name: 'Grace Hopper', email: 'grace@example.com' },
  { id: 'cust_e2e_alan', source_id: 'src-alan', name: 'Alan Turing', email: null },
];

/** The k-th assignment of a scenario step: discount, gift card or loyalty card in turn;
 * `options` may set its `createdAt`, `campaign` and `code`. */
export function assignment(label, k, customer = PEOPLE[k % PEOPLE.length], options = {}) {
  const key = `${label}_${String(k).padStart(2, '0')}`;
  const code = options.code ?? `E2E-${label.toUpperCase()}-${String(k).padStart(2, '0')}`;
  const kinds = [
    [CAMPAIGNS.spring, { type: 'DISCOUNT_VOUCHER', discount: { type: 'PERCENT', percent_off: 10 + k, amount_limit: 2500 } }],
    [CAMPAIGNS.gifts, { type: 'GIFT_VOUCHER', gift: { amount: 5000, balance: 5000 } }],
    [CAMPAIGNS.club, { type: 'LOYALTY_CARD', loyalty_card: { points: 100 * k, balance: 100 * k } }],
  ];
  const [kindCampaign, shape] = kinds[k % kinds.length];
  const campaign = options.campaign ?? kindCampaign;
  const pub = `pub_e2e_${key}`;
  const voucher = { id: `v_e2e_${key}`, code, ...shape };
  const body = delivery({ pub, customer, campaign, voucher, createdAt: options.createdAt });
  return { pub, code, body, type: shape.type, campaign };
}

/** Posts one delivery once; resolves to the HTTP status and JSON (throws on network errors). */
async function post(server, body) {
  const signature = createHmac('sha256', SECRET).update(body).digest('hex');
  const res = await fetch(`${server.url}/webhooks/voucherify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-voucherify-signature': signature },
    body,
    signal: AbortSignal.timeout(WAIT_MS),
  });
  return { status: res.status, json: await res.json().catch(() => null) };
}

/** Posts like Voucherify retries: until the gateway acknowledges (bounded). */
async function deliver(server, item, { onFailure } = {}) {
  const deadline = Date.now() + 2 * STARTUP_MS;
  for (let attempt = 0; ; attempt++) {
    let outcome;
    try {
      outcome = await post(server, item.body);
      if (outcome.status === 200 && ['stored', 'duplicate'].includes(outcome.json?.status)) return item.pub;
    } catch (error) {
      outcome = error;
    }
    onFailure?.(outcome);
    if (Date.now() > deadline) throw new Error(`${item.pub} was never acknowledged: ${outcome?.message ?? JSON.stringify(outcome)}`);
    await pause(Math.min(1_000, 100 * 2 ** attempt));
  }
}

/** Asks `server` a GraphQL query directly (as any client would), failing on errors. */
export async function gql(server, query, variables = {}) {
  const res = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(WAIT_MS),
  });
  const body = await res.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

export async function deliverAll(server, items, options) {
  const acknowledged = [];
  for (const item of items) acknowledged.push(await deliver(server, item, options));
  return acknowledged;
}

// ---------------------------------------------------------------------------------------------
// The browser and the end

/** Headless Chromium (Debian's /usr/bin/chromium), once the binary is known to be there.
 * Playwright gives every launch a fresh temporary profile (--user-data-dir) of its own. */
export function launchBrowser() {
  assert.ok(existsSync(BIN), `pubgate binary not found at ${BIN} (run \`cargo build\` or set PUBGATE_BIN)`);
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Kills every server still running and removes their databases. */
export async function stopServers() {
  for (const server of servers) await server.kill('SIGKILL').catch(() => {});
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
}
