// SparkWeb façade: the one object through which elements talk to the engine.
//
// The engine (Go→Wasm) runs in a SharedWorker shared by every tab of the origin. This module opens
// that worker, attaches the tab, and mirrors the engine's state so that an element added at any time
// can render at once. The JSON protocol is described in docs/protocol.md.
//
//   import { connect } from './webcomponents/sparkweb.js';
//   const client = await connect();
//   client.on('message', (msg) => console.log(msg.body));
//   await client.request('chat.send', { to: 'bob@example.org', body: 'hi' });
//
// Performance marks for DevTools and tests: sparkweb:worker (worker opened), sparkweb:ready
// (snapshot applied, connect() resolves), sparkweb:online (the session became online in this tab).

/**
 * @typedef {{code: string, message: string}} ErrorValue
 * @typedef {{state: 'offline'|'connecting'|'online'|'auth-failed', jid: string, error?: ErrorValue}} Session
 * @typedef {{jid: string, name: string, subscription: string, ask: boolean, groups: string[]}} RosterItem
 * @typedef {{jid: string, bare: string, show: string, status: string, priority: number}} Presence
 * @typedef {{id: string, from: string, to: string, with: string, body: string, timestamp: string, outgoing: boolean}} Message
 * @typedef {{session: Session, roster: RosterItem[], presence: Presence[], conversations: Object<string, Message[]>}} State
 */

/** An error answered by the engine; `code` is one of the stable codes of docs/protocol.md. */
export class SparkWebError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message || code);
    this.name = 'SparkWebError';
    this.code = code;
  }
}

/** The page's client, shared by every caller of connect(). */
let clientPromise = null;

/**
 * Resolves to the page's one client, attached to the shared engine and initialised from its
 * snapshot. Every call on a page returns the same client; options are read by the first call only.
 *
 * @param {{workerURL?: string|URL}} [options] workerURL: where static/worker.js is served
 *   (default: ../static/worker.js next to this module).
 * @returns {Promise<Client>}
 */
export function connect(options = {}) {
  if (!clientPromise) {
    clientPromise = open(options).catch((err) => {
      clientPromise = null; // let a later call try again
      throw err;
    });
  }
  return clientPromise;
}

async function open({ workerURL = new URL('../static/worker.js', import.meta.url) } = {}) {
  if (typeof SharedWorker !== 'function') {
    throw new SparkWebError('feature-not-implemented', 'SparkWeb needs SharedWorker, which this browser lacks');
  }
  if (!navigator.locks) {
    throw new SparkWebError('feature-not-implemented', 'SparkWeb needs Web Locks: serve the page over https or from localhost');
  }
  const tab = randomId();
  // The worker learns that this tab is gone when it gets this lock, so hold it for the page's
  // whole life, and attach only once it is held (otherwise the worker could get it first).
  await new Promise((resolve, reject) => {
    navigator.locks
      .request('sparkweb-tab:' + tab, () => {
        resolve();
        return new Promise(() => {});
      })
      .catch(reject);
  });
  performance.mark('sparkweb:worker');
  const worker = new SharedWorker(workerURL, { name: 'sparkweb' });
  const client = new Client(worker.port);
  worker.addEventListener('error', () => client._broken('the SparkWeb worker failed to start'));
  await client._attach(tab);
  performance.mark('sparkweb:ready');
  return client;
}

function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A tab's connection to the engine. Get it with connect(); do not construct it. */
class Client {
  #port;
  #nextId = 1;
  /** @type {Map<number, {resolve: Function, reject: Function}>} */
  #pending = new Map();
  /** @type {Map<string, Set<Function>>} */
  #handlers = new Map();
  /** Events that arrived before the snapshot; replayed on top of it. */
  #early = [];
  #attached = false;
  #broken = null;
  #wasOnline = false;

  /**
   * Live mirror of the engine's state, updated before event handlers run. Treat it as read-only.
   * @type {State}
   */
  state = { session: { state: 'offline', jid: '' }, roster: [], presence: [], conversations: {} };

  /** @param {MessagePort} port */
  constructor(port) {
    this.#port = port;
    port.onmessage = ({ data }) => this.#receive(data);
    port.start();
  }

  /**
   * Sends one request to the engine.
   * @param {string} op e.g. "chat.send"
   * @param {object} [args]
   * @returns {Promise<any>} the result; rejects with a SparkWebError carrying `.code`.
   */
  request(op, args = {}) {
    if (this.#broken) return Promise.reject(this.#broken);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#port.postMessage({ id, op, args });
    });
  }

  /**
   * Subscribes to an engine event ("session", "roster", "presence", "message", "error", ...) or to
   * every event with "*". The handler gets (data, eventName) after `state` has been updated.
   * @param {string} event
   * @param {(data: any, event: string) => void} handler
   * @returns {() => void} unsubscribes
   */
  on(event, handler) {
    let set = this.#handlers.get(event);
    if (!set) this.#handlers.set(event, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  /** @param {string} tab */
  async _attach(tab) {
    const snapshot = await this.request('tab.attach', { tab });
    const s = this.state;
    s.session = snapshot?.session ?? s.session;
    s.roster = snapshot?.roster ?? [];
    s.presence = snapshot?.presence ?? [];
    s.conversations = snapshot?.conversations ?? {};
    this.#wasOnline = s.session.state === 'online';
    if (this.#wasOnline) performance.mark('sparkweb:online');
    this.#attached = true;
    const early = this.#early;
    this.#early = [];
    for (const msg of early) this.#event(msg);
  }

  /** Fails every open and future request; used when the worker cannot run. */
  _broken(message) {
    this.#broken = new SparkWebError('internal-server-error', message);
    for (const { reject } of this.#pending.values()) reject(this.#broken);
    this.#pending.clear();
  }

  #receive(msg) {
    if (msg && typeof msg.event === 'string') {
      // Before the snapshot, an event may or may not be in it: replay it afterwards, where applying
      // it twice is harmless (replacements by key, messages deduplicated by id).
      if (this.#attached) this.#event(msg);
      else this.#early.push(msg);
      return;
    }
    const pending = msg && this.#pending.get(msg.id);
    if (!pending) return;
    this.#pending.delete(msg.id);
    if (msg.ok) pending.resolve(msg.result ?? null);
    else pending.reject(new SparkWebError(msg.error?.code || 'internal-server-error', msg.error?.message || ''));
  }

  #event({ event, data }) {
    this.#apply(event, data);
    for (const key of [event, '*']) {
      for (const handler of this.#handlers.get(key) ?? []) {
        try {
          handler(data, event);
        } catch (err) {
          console.error('sparkweb: event handler failed', err); // one broken element must not stop the others
        }
      }
    }
  }

  #apply(event, data) {
    const s = this.state;
    switch (event) {
      case 'session':
        s.session = data;
        if (data.state === 'online' && !this.#wasOnline) performance.mark('sparkweb:online');
        this.#wasOnline = data.state === 'online';
        // Presence means nothing without a session; the roster and history stay for display.
        if (data.state !== 'online') s.presence = [];
        break;
      case 'roster':
        if (data.full) {
          s.roster = data.items ?? [];
          break;
        }
        for (const item of data.items ?? []) {
          const rest = s.roster.filter((r) => r.jid !== item.jid);
          s.roster = item.subscription === 'remove' ? rest : [...rest, item];
        }
        break;
      case 'presence':
        s.presence = s.presence.filter((p) => p.jid !== data.jid);
        if (data.show !== 'unavailable') s.presence.push(data);
        break;
      case 'message': {
        const list = (s.conversations[data.with] ??= []);
        if (!data.id || !list.some((m) => m.id === data.id)) list.push(data);
        break;
      }
    }
  }
}

/**
 * The bare JID of a JID string ("alice@example.org/phone" → "alice@example.org").
 * @param {string} jid
 */
export function bareJID(jid) {
  const slash = (jid || '').indexOf('/');
  return slash < 0 ? jid || '' : jid.slice(0, slash);
}

/**
 * The presence that best describes a contact: its most available resource, or null when offline.
 * @param {Presence[]} presences
 * @param {string} bare
 * @returns {Presence|null}
 */
export function bestPresence(presences, bare) {
  const rank = { chat: 5, available: 4, away: 3, xa: 2, dnd: 1 };
  let best = null;
  for (const p of presences) {
    if (p.bare !== bare || !(p.show in rank)) continue;
    if (!best || p.priority > best.priority || (p.priority === best.priority && rank[p.show] > rank[best.show])) best = p;
  }
  return best;
}

/** Human words for each presence `show` value, for text next to colour indicators. */
export const showLabels = Object.freeze({
  chat: 'Free to chat',
  available: 'Available',
  away: 'Away',
  xa: 'Extended away',
  dnd: 'Do not disturb',
  unavailable: 'Offline',
});

/**
 * Design tokens shared by the SparkWeb elements. Each `--sparkweb-*` custom property set by the page
 * overrides the light or dark default; the elements use the private `--_*` names.
 */
export const themeCSS = `
:host {
  --_font: var(--sparkweb-font, system-ui, sans-serif);
  --_radius: var(--sparkweb-radius, 8px);
  --_bg: var(--sparkweb-bg, #ffffff);
  --_fg: var(--sparkweb-fg, #1d2127);
  --_muted: var(--sparkweb-muted, #5b6470);
  --_border: var(--sparkweb-border, #d3d8de);
  --_accent: var(--sparkweb-accent, #1f62d1);
  --_accent-fg: var(--sparkweb-accent-fg, #ffffff);
  --_error: var(--sparkweb-error, #b3261e);
  --_focus: var(--sparkweb-focus, #1f62d1);
  --_hover: var(--sparkweb-hover, #eef2f7);
  --_available: var(--sparkweb-available, #1e8e3e);
  --_away: var(--sparkweb-away, #c77700);
  --_dnd: var(--sparkweb-dnd, #c5221f);
  --_offline: var(--sparkweb-offline, #8a929c);
  --_bubble-in: var(--sparkweb-bubble-in, #eef1f5);
  --_bubble-out: var(--sparkweb-bubble-out, #1f62d1);
  --_bubble-out-fg: var(--sparkweb-bubble-out-fg, #ffffff);
  font-family: var(--_font);
  color: var(--_fg);
  box-sizing: border-box;
}
@media (prefers-color-scheme: dark) {
  :host {
    --_bg: var(--sparkweb-bg, #1b1e23);
    --_fg: var(--sparkweb-fg, #e6e8eb);
    --_muted: var(--sparkweb-muted, #a0a8b3);
    --_border: var(--sparkweb-border, #3a4049);
    --_accent: var(--sparkweb-accent, #7aa7ff);
    --_accent-fg: var(--sparkweb-accent-fg, #0f1115);
    --_error: var(--sparkweb-error, #ff8a80);
    --_focus: var(--sparkweb-focus, #7aa7ff);
    --_hover: var(--sparkweb-hover, #262a31);
    --_available: var(--sparkweb-available, #5bd27a);
    --_away: var(--sparkweb-away, #f2b34b);
    --_dnd: var(--sparkweb-dnd, #ff7b72);
    --_offline: var(--sparkweb-offline, #7d8590);
    --_bubble-in: var(--sparkweb-bubble-in, #2a2f37);
    --_bubble-out: var(--sparkweb-bubble-out, #2f5cad);
    --_bubble-out-fg: var(--sparkweb-bubble-out-fg, #ffffff);
  }
}
*, *::before, *::after { box-sizing: inherit; }
[hidden] { display: none !important; }
button, input, select, textarea { font: inherit; color: inherit; }
:focus-visible { outline: 2px solid var(--_focus); outline-offset: 2px; }
.visually-hidden {
  position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}
.dot { display: inline-block; width: .6em; height: .6em; border-radius: 50%; flex: none; background: var(--_offline); }
.dot[data-show="available"], .dot[data-show="chat"] { background: var(--_available); }
.dot[data-show="away"], .dot[data-show="xa"] { background: var(--_away); }
.dot[data-show="dnd"] { background: var(--_dnd); }
`;
