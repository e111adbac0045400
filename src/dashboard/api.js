// The public GraphQL API, over HTTP and over graphql-transport-ws, with the session's token.

const TOKEN_KEY = 'pubgate.token';
const PING_MS = 15_000;

/** The GraphQL endpoint, next to the page (works behind a path prefix too). */
const HTTP_URL = new URL('../graphql', import.meta.url);
const WS_URL = (() => {
  const url = new URL('../graphql/ws', import.meta.url);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url;
})();

/** The token for this tab only (sessionStorage: gone when the tab closes). */
export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) || '',
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** The server refused the token (HTTP 401, WebSocket 4403/4401). */
export class AuthError extends Error {}

/** Runs one query over HTTP; resolves to `data`, rejects with the GraphQL or HTTP error. */
export async function query(document, variables = {}) {
  const headers = {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json, application/json',
  };
  const bearer = token.get();
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const response = await fetch(HTTP_URL, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query: document, variables }),
    cache: 'no-store',
  });
  if (response.status === 401) throw new AuthError('the API token was refused');
  let body;
  try {
    body = await response.json();
  } catch {
    throw new Error(`the GraphQL endpoint answered ${response.status}`);
  }
  if (body.errors?.length) {
    const error = new Error(body.errors.map((e) => e.message).join('; '));
    error.codes = body.errors.map((e) => e.extensions?.code);
    throw error;
  }
  if (!response.ok) throw new Error(`the GraphQL endpoint answered ${response.status}`);
  return body.data;
}

/**
 * One subscription over graphql-transport-ws that survives disconnects: it reconnects with
 * backoff and resubscribes from `cursor()`, the last position the caller has seen.
 *
 * Callbacks: `onEdge(edge)`, `onState(state)` with state one of connecting / live /
 * reconnecting / offline, `onAuth()` when the token is refused, `onRestart(reason, cursor)`
 * before subscribing again on the same connection (`slow`: resume from `cursor`;
 * `bad-cursor`: the position is not usable, start over; `complete`: the server ended the
 * stream), `onOpen()` after each (re)subscription,
 * `beforeResume()` (async) before resubscribing on a new connection.
 */
export class LiveSubscription {
  #socket = null;
  #attempt = 0;
  #timer = 0;
  #watchdog = 0;
  #operation = 0;
  #stopped = false;
  #restarts = 0;
  #pinger = 0;
  #connected = false;

  constructor({ document, cursor, onEdge, onState, onAuth, onRestart, onOpen, beforeResume, field }) {
    Object.assign(this, { document, cursor, onEdge, onState, onAuth, onRestart, onOpen, beforeResume, field });
  }

  /** Connects (again, from scratch, if it was connected). */
  start() {
    this.stop();
    this.#stopped = false;
    this.#attempt = 0;
    this.#connect();
  }

  stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#watchdog);
    clearInterval(this.#pinger);
    const socket = this.#socket;
    this.#socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, 'bye');
  }

  /** Reconnects now (e.g. the network came back), resetting the backoff. */
  reconnectNow() {
    if (this.#stopped || this.#socket) return;
    clearTimeout(this.#timer);
    this.#attempt = 0;
    this.#connect();
  }

  #connect() {
    if (this.#attempt === 0) this.onState('connecting');
    let socket;
    try {
      socket = new WebSocket(WS_URL, 'graphql-transport-ws');
    } catch {
      this.#retry();
      return;
    }
    this.#socket = socket;
    socket.onopen = () => {
      const bearer = token.get();
      this.#send({ type: 'connection_init', payload: bearer ? { Authorization: `Bearer ${bearer}` } : {} });
      this.#alive();
    };
    socket.onmessage = (event) => this.#onMessage(socket, event.data);
    socket.onclose = (event) => this.#onClose(socket, event);
  }

  #send(message) {
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(JSON.stringify(message));
  }

  /** We ping every PING_MS and the server answers, so a longer silence means the connection
   * is dead even when no close reached us (a sleeping laptop, a dropped route). */
  #alive() {
    clearTimeout(this.#watchdog);
    this.#watchdog = setTimeout(() => this.#drop('no answer from the server'), 2 * PING_MS + 5_000);
  }

  /** Gives up on the current connection at once (a dead one may never confirm its close). */
  #drop(reason) {
    const socket = this.#socket;
    if (!socket) return;
    socket.onclose = null;
    socket.onmessage = null;
    socket.close(4000, reason);
    this.#onClose(socket, { code: 4000 });
  }

  /** Subscribes; on a reconnect, lets the caller check its position first. */
  async #resume(socket) {
    const reconnect = this.#connected;
    this.#connected = true;
    if (reconnect && this.beforeResume) await this.beforeResume().catch(() => {});
    if (socket === this.#socket) this.#subscribe();
  }

  #subscribe() {
    this.#operation += 1;
    const after = this.cursor();
    this.#send({
      id: String(this.#operation),
      type: 'subscribe',
      payload: { query: this.document, variables: after ? { after } : {} },
    });
    this.onOpen?.();
  }

  #onMessage(socket, data) {
    if (socket !== this.#socket) return;
    this.#alive();
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    const current = message.id === String(this.#operation);
    switch (message.type) {
      case 'connection_ack':
        this.#attempt = 0;
        this.onState('live');
        clearInterval(this.#pinger);
        this.#pinger = setInterval(() => this.#send({ type: 'ping' }), PING_MS);
        this.#resume(socket);
        break;
      case 'ping':
        this.#send({ type: 'pong' });
        break;
      case 'next':
        if (current) this.#onNext(message.payload);
        break;
      case 'error':
        if (current) this.#onError(message.payload);
        break;
      case 'complete':
        // The server ended the stream (it is shutting down, say): pick up where it stopped.
        if (current) this.#restart('complete');
        break;
      default:
        break;
    }
  }

  #onNext(payload) {
    const edge = payload?.data?.[this.field];
    if (edge) {
      this.#restarts = 0;
      this.onEdge(edge);
    } else if (payload?.errors?.length) {
      this.#onError(payload.errors);
    }
  }

  #onError(errors) {
    const list = Array.isArray(errors) ? errors : [errors];
    const slow = list.find((e) => e?.extensions?.code === 'SLOW_CONSUMER');
    if (slow) {
      // Everything up to `lastCursor` was handled; resume from there.
      this.#restart('slow', slow.extensions.lastCursor);
      return;
    }
    if (list.some((e) => e?.extensions?.code === 'UNAUTHENTICATED')) {
      this.#stopForAuth();
      return;
    }
    const unknown = ['BAD_USER_INPUT', 'DATABASE_CHANGED'];
    if (list.some((e) => unknown.includes(e?.extensions?.code))) {
      // A position this server does not know (its database was replaced or restored): start
      // over from a fresh page.
      this.#restart('bad-cursor');
      return;
    }
    console.error('subscription failed', list);
    this.#drop('subscription failed');
  }

  /** Lets the caller fix its position, then subscribes again; twice in a row without a
   * result in between means something else is wrong, so the connection is dropped instead. */
  async #restart(reason, cursor) {
    this.#restarts += 1;
    if (this.#restarts > 2) {
      console.error('the subscription keeps failing', reason);
      this.#drop('subscription keeps failing');
      return;
    }
    const socket = this.#socket;
    await this.onRestart?.(reason, cursor);
    if (socket === this.#socket) this.#subscribe();
  }

  #stopForAuth() {
    this.stop();
    this.onState('offline');
    this.onAuth();
  }

  #onClose(socket, event) {
    if (socket !== this.#socket) return;
    this.#socket = null;
    clearTimeout(this.#watchdog);
    clearInterval(this.#pinger);
    if (this.#stopped) return;
    if (event.code === 4403 || event.code === 4401) {
      this.#stopForAuth();
      return;
    }
    this.#retry();
  }

  /** Backoff 0.5 s, 1 s, 2 s … up to 5 s, with jitter; "offline" after a few failures. */
  #retry() {
    this.#attempt += 1;
    const offline = this.#attempt > 3 || navigator.onLine === false;
    this.onState(offline ? 'offline' : 'reconnecting');
    const base = Math.min(5_000, 500 * 2 ** (this.#attempt - 1));
    const delay = base / 2 + Math.random() * (base / 2);
    this.#timer = setTimeout(() => this.#connect(), delay);
  }
}
