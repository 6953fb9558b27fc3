// SparkWeb façade: the one object through which elements talk to the engine.
//
// The engine (Go→Wasm) runs in one worker shared by every tab of the origin. This module finds or
// starts that worker, attaches the tab, and mirrors the engine's state so that an element added at
// any time can render at once. The JSON protocol is described in docs/protocol.md.
//
//   import { connect } from './webcomponents/sparkweb.js';
//   const client = await connect();
//   client.on('message', (msg) => console.log(msg.body));
//   await client.request('chat.send', { to: 'bob@example.org', body: 'hi' });
//
// Where the engine runs (client.mode), hidden from callers:
//   'shared'   a SharedWorker named "sparkweb:<build version>" (static/worker.js);
//   'leader'   no SharedWorker in this browser: this tab won the Web Lock
//              "sparkweb-leader:<version>", runs static/worker.js as a dedicated Worker and serves
//              the other tabs over BroadcastChannel("sparkweb");
//   'follower' another tab is the leader; requests and answers travel over BroadcastChannel.
// When the leader tab goes, the next tab in the lock's queue becomes leader, and every follower
// attaches again to the new engine and takes its snapshot (the "snapshot" event).
//
// Upgrades: the build version comes from static/version.json. An engine of an older build that
// meets a newer one sends the "upgrade" event and stops; by default the page then reloads, so it
// runs the new build's code against the new engine (connect({reloadOnUpgrade: false}) leaves that
// to the page).
//
// Performance marks for DevTools and tests: sparkweb:worker (worker opened), sparkweb:ready
// (snapshot applied, connect() resolves), sparkweb:online (the session became online in this tab).

/**
 * @typedef {{code: string, message: string}} ErrorValue
 * @typedef {{state: 'offline'|'connecting'|'online'|'reconnecting'|'auth-failed', jid: string, error?: ErrorValue}} Session
 * @typedef {{jid: string, name: string, subscription: string, ask: boolean, groups: string[]}} RosterItem
 * @typedef {{jid: string, bare: string, show: string, status: string, priority: number}} Presence
 * @typedef {{id: string, from: string, to: string, with: string, body: string, timestamp: string, outgoing: boolean, state?: 'pending'|'sent'|'delivered'|'read'|'error', type?: string, nick?: string, mentioned?: boolean}} Message
 * @typedef {{jid: string, name: string, nick: string, subject: string, state: 'joining'|'joined'|'left'|'error', role: string, affiliation: string, error?: ErrorValue}} Room
 * @typedef {{nick: string, jid?: string, role: string, affiliation: string, show: string, status: string}} Occupant
 * @typedef {{jid: string, name: string, nick: string, autojoin: boolean, password?: string}} Bookmark
 * @typedef {{session: Session, roster: RosterItem[], presence: Presence[], conversations: Object<string, Message[]>,
 *   rooms: Room[], occupants: Object<string, Occupant[]>, bookmarks: Bookmark[], avatars: Object<string, string>,
 *   requests: Subscription[], chatstates: Object<string, string>, displayed: Object<string, string>, blocked: string[]}} State
 * @typedef {{jid: string, type: string, status?: string}} Subscription
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
/** The build version, read once per page. */
let versionPromise = null;

/**
 * Resolves to the page's one client, attached to the shared engine and initialised from its
 * snapshot. Every call on a page returns the same client; options are read by the first call only.
 *
 * @param {{workerURL?: string|URL, versionURL?: string|URL, reloadOnUpgrade?: boolean}} [options]
 *   workerURL: where static/worker.js is served (default: ../static/worker.js next to this module);
 *   versionURL: the build's version.json (default: ../static/version.json);
 *   reloadOnUpgrade: reload the page when a newer build replaces the engine (default true).
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

/**
 * Resolves to this build's version: the "version" of static/version.json, which `make` writes
 * as <UTC build time>-<content hash> so that versions sort in build order. A tree built without
 * it (404) is "dev".
 * @param {string|URL} [url]
 * @returns {Promise<string>}
 */
export function buildVersion(url = new URL('../static/version.json', import.meta.url)) {
  versionPromise ??= readVersion(url).catch((err) => {
    versionPromise = null;
    throw err;
  });
  return versionPromise;
}

async function readVersion(url) {
  let response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new SparkWebError('server-unreachable', `cannot read the SparkWeb build version: ${err.message}`);
  }
  if (response.status === 404) return 'dev';
  if (!response.ok) {
    throw new SparkWebError('server-unreachable', `cannot read the SparkWeb build version: HTTP ${response.status}`);
  }
  const body = await response.json().catch(() => null);
  const version = body?.version;
  if (typeof version !== 'string' || !/^[\w.+-]{1,80}$/.test(version)) {
    throw new SparkWebError('internal-server-error', `${url} holds no valid "version"`);
  }
  return version;
}

/**
 * Registers the app's service worker (static/sw.js), which keeps the app shell cached so the page
 * loads offline. Optional: the elements work without it. Resolves to the registration, or null
 * where service workers are unavailable (plain http on another host than localhost, some WebViews).
 * Its scope is the app root, which the relay allows with a Service-Worker-Allowed header.
 * It also shows Web Push notifications; from this call on the page tells it which chats are on
 * screen, so it shows none for those.
 * @param {{scriptURL?: string|URL, scope?: string|URL}} [options]
 * @returns {Promise<ServiceWorkerRegistration|null>}
 */
export async function registerServiceWorker({
  scriptURL = new URL('../static/sw.js', import.meta.url),
  scope = new URL('../', import.meta.url),
} = {}) {
  if (!('serviceWorker' in navigator)) return null;
  answerServiceWorker();
  const url = new URL(scriptURL, location.href);
  // The version in the URL makes every build a new service worker with its own cache.
  url.searchParams.set('v', await buildVersion());
  return navigator.serviceWorker.register(url.href, { scope: new URL(scope, location.href).href, updateViaCache: 'none' });
}

/** Set once this page answers the service worker's questions. */
let answering = false;

/**
 * Lets the service worker ask this page which chats it shows, so that a push for a chat already on
 * screen shows no notification (static/sw.js). The answer lists the contacts of the visible
 * <sparkweb-chat> elements; a page that shows chats some other way can answer the same question
 * ({type: "sparkweb:shown-chats"} with a port, answer {chats: [bare JIDs]}) itself.
 */
function answerServiceWorker() {
  if (answering) return;
  answering = true;
  navigator.serviceWorker.addEventListener('message', (event) => {
    if (event.data?.type !== 'sparkweb:shown-chats' || !event.ports[0]) return;
    const chats =
      document.visibilityState !== 'visible'
        ? []
        : [...document.querySelectorAll('sparkweb-chat[with]')]
            .filter((el) => el.checkVisibility?.() ?? true)
            .map((el) => bareJID(el.getAttribute('with')))
            .filter(Boolean);
    event.ports[0].postMessage({ chats });
  });
  // Messages from the service worker wait in a queue until this (or setting onmessage).
  navigator.serviceWorker.startMessages();
}

async function open({
  workerURL = new URL('../static/worker.js', import.meta.url),
  versionURL,
  reloadOnUpgrade = true,
} = {}) {
  if (!navigator.locks) {
    throw new SparkWebError('feature-not-implemented', 'SparkWeb needs Web Locks: serve the page over https or from localhost');
  }
  const shared = typeof SharedWorker === 'function';
  if (!shared && (typeof Worker !== 'function' || typeof BroadcastChannel !== 'function')) {
    throw new SparkWebError('feature-not-implemented', 'SparkWeb needs SharedWorker, or Worker and BroadcastChannel');
  }
  const tab = randomId();
  // The engine learns that this tab is gone when it gets this lock, so hold it for the page's
  // whole life, and attach only once it is held (otherwise the engine could get it first).
  const [version] = await Promise.all([buildVersion(versionURL), holdLock('sparkweb-tab:' + tab)]);
  performance.mark('sparkweb:worker');
  const client = new Client(tab, version, { reloadOnUpgrade });
  const name = 'sparkweb:' + version;
  if (shared) {
    const worker = new SharedWorker(workerURL, { name });
    worker.addEventListener('error', () => client._broken('the SparkWeb worker failed to start'));
    const port = worker.port;
    port.onmessage = ({ data }) => client._receive(data);
    port.start();
    client._use('shared', (msg) => port.postMessage(msg));
  } else {
    elect(client, workerURL, name);
  }
  await client._attach();
  // Client state indication (XEP-0352): the worker counts the visible tabs.
  document.addEventListener('visibilitychange', () => client._reportVisibility());
  performance.mark('sparkweb:ready');
  return client;
}

/** Resolves once the named Web Lock is held; it stays held until the page goes. */
function holdLock(name) {
  return new Promise((resolve, reject) => {
    navigator.locks
      .request(name, () => {
        resolve();
        return new Promise(() => {});
      })
      .catch(reject);
  });
}

/**
 * Fallback without SharedWorker: the tab holding the leader lock runs the engine, the others
 * follow it over BroadcastChannel. Channel messages, all tagged with the build version `v` (tabs
 * of other builds are ignored; their leader lock is another one):
 *   {type: 'hello', from}              a follower asks who leads
 *   {type: 'leader', from}             the sender leads (on election and in answer to hello)
 *   {type: 'req', from, msg}           follower → leader: a request of tab `from`
 *   {type: 'msg', to, msg}             leader → tab `to` ('*': every tab): a response or event
 */
function elect(client, workerURL, name) {
  const channel = new BroadcastChannel('sparkweb');
  const v = client.version;
  const me = client.tab;
  const post = (m) => channel.postMessage({ v, ...m });
  /** The leader's dedicated worker, once this tab leads. */
  let worker = null;
  /** The tab id of the leader this tab follows. */
  let leader = null;

  const lead = () => {
    worker = new Worker(workerURL, { name });
    worker.onerror = () => client._broken('the SparkWeb worker failed to start');
    worker.onmessage = ({ data }) => {
      const { tab, msg } = data ?? {};
      if (tab === me || tab === '*') client._receive(msg);
      if (tab !== me) post({ type: 'msg', to: tab, msg });
    };
    leader = me;
    client._use('leader', (msg) => worker.postMessage({ tab: me, msg }));
    post({ type: 'leader', from: me });
    // Held until the tab goes: then the next tab in the queue takes over.
    return new Promise(() => {});
  };

  channel.onmessage = ({ data }) => {
    if (data?.v !== v) return;
    switch (data.type) {
      case 'hello':
        if (worker) post({ type: 'leader', from: me });
        break;
      case 'leader':
        if (!worker && data.from !== leader) {
          leader = data.from;
          client._use('follower', (msg) => post({ type: 'req', from: me, msg }));
        }
        break;
      case 'req':
        if (worker && typeof data.from === 'string' && data.from !== '') worker.postMessage({ tab: data.from, msg: data.msg });
        break;
      case 'msg':
        if (!worker && (data.to === me || data.to === '*')) client._receive(data.msg);
        break;
    }
  };

  const lockName = 'sparkweb-leader:' + v;
  navigator.locks
    .request(lockName, { ifAvailable: true }, (lock) => {
      if (lock) return lead();
      // Someone leads: follow, and queue for the lock to take over when the leader goes.
      post({ type: 'hello', from: me });
      navigator.locks.request(lockName, lead).catch((err) => client._broken(`leader election failed: ${err.message}`));
      return null;
    })
    .catch((err) => client._broken(`leader election failed: ${err.message}`));
}

function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A tab's connection to the engine. Get it with connect(); do not construct it. */
class Client {
  /** @type {((msg: object) => void)|null} sends to the current engine; null while there is none */
  #send = null;
  /** Requests waiting for an engine. */
  #queue = [];
  #nextId = 1;
  /** @type {Map<number, {resolve: Function, reject: Function, msg: object}>} */
  #pending = new Map();
  /** @type {Map<string, Set<Function>>} */
  #handlers = new Map();
  /** Events that arrived before the snapshot; replayed on top of it. */
  #early = [];
  #attached = false;
  /** How many engines this tab has been attached to. */
  #engines = 0;
  #broken = null;
  #wasOnline = false;
  #reloadOnUpgrade;

  /** The tab's id in the protocol. */
  tab;
  /** The build version this page runs. */
  version;
  /**
   * Where the engine runs: 'shared' (SharedWorker), 'leader' (a dedicated Worker of this tab) or
   * 'follower' (another tab's); set once connect() resolves, and may change from 'follower' to
   * 'leader' when the leader tab goes.
   * @type {'shared'|'leader'|'follower'|null}
   */
  mode = null;

  /**
   * Live mirror of the engine's state, updated before event handlers run. Treat it as read-only.
   * @type {State}
   */
  state = { session: { state: 'offline', jid: '' }, roster: [], presence: [], conversations: {}, rooms: [], occupants: {}, bookmarks: [], avatars: {},
    requests: [], chatstates: {}, displayed: {}, blocked: [] };

  /**
   * @param {string} tab
   * @param {string} version
   * @param {{reloadOnUpgrade: boolean}} options
   */
  constructor(tab, version, { reloadOnUpgrade }) {
    this.tab = tab;
    this.version = version;
    this.#reloadOnUpgrade = reloadOnUpgrade;
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
      const msg = { id, op, args };
      this.#pending.set(id, { resolve, reject, msg });
      if (this.#send) this.#send(msg);
      else this.#queue.push(msg);
    });
  }

  /**
   * Subscribes to an engine event ("session", "roster", "presence", "message", "error",
   * "upgrade", ...) or to every event with "*". "snapshot" (data: state) means the tab attached
   * again to a new engine and `state` was replaced: render everything again. The handler gets
   * (data, eventName) after `state` has been updated.
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

  /**
   * Switches to a (new) engine. Requests still open with the previous one are failed: that engine
   * is gone and cannot answer; whether it acted on them is unknown, so they are not sent twice.
   * @param {'shared'|'leader'|'follower'} mode
   * @param {(msg: object) => void} send
   */
  _use(mode, send) {
    const again = this.#engines > 0;
    this.#engines++;
    this.mode = mode;
    const queued = this.#queue;
    this.#queue = [];
    if (again) {
      const err = new SparkWebError('not-connected', 'the tab running SparkWeb closed before it answered; try again');
      for (const [id, p] of this.#pending) {
        if (queued.includes(p.msg)) continue; // never sent: the new engine gets it below
        if (p.msg.op === 'tab.attach') {
          queued.push(p.msg); // attaching has no effect to repeat: ask the new engine
          continue;
        }
        this.#pending.delete(id);
        p.reject(err);
      }
    }
    this.#send = send;
    for (const msg of queued) send(msg);
    if (again && this.#attached) this.#reattach();
  }

  /** Attaches to the engine and applies its snapshot. */
  async _attach() {
    this.#applySnapshot(await this.request('tab.attach', { tab: this.tab }));
    this.#attached = true;
    this._reportVisibility(); // to this engine: a new one knows nothing of this tab
    const early = this.#early;
    this.#early = [];
    for (const msg of early) this.#event(msg);
  }

  /** Tells the worker whether this tab is visible; it tells the engine when none is. */
  _reportVisibility() {
    this.request('tab.visible', { visible: document.visibilityState === 'visible' }).catch(() => {});
  }

  async #reattach() {
    this.#attached = false;
    try {
      await this._attach();
    } catch (err) {
      console.error('sparkweb: attaching to the new engine failed', err);
      return;
    }
    this.#emit('snapshot', this.state);
  }

  #applySnapshot(snapshot) {
    const s = this.state;
    s.session = snapshot?.session ?? { state: 'offline', jid: '' };
    s.roster = snapshot?.roster ?? [];
    s.presence = snapshot?.presence ?? [];
    s.conversations = snapshot?.conversations ?? {};
    s.rooms = snapshot?.rooms ?? [];
    s.occupants = snapshot?.occupants ?? {};
    s.bookmarks = snapshot?.bookmarks ?? [];
    s.avatars = snapshot?.avatars ?? {};
    s.requests = snapshot?.requests ?? [];
    s.blocked = snapshot?.blocked ?? [];
    // Not in the snapshot: typing states are never stored; what this account has seen (displayed,
    // by conversation) is known from the events of this tab's lifetime only.
    s.chatstates = {};
    s.displayed = {};
    const online = s.session.state === 'online';
    if (online && !this.#wasOnline) performance.mark('sparkweb:online');
    this.#wasOnline = online;
  }

  /** Fails every open and future request; used when the engine cannot run. */
  _broken(message, code = 'internal-server-error') {
    this.#broken = new SparkWebError(code, message);
    for (const { reject } of this.#pending.values()) reject(this.#broken);
    this.#pending.clear();
    this.#queue = [];
  }

  /** Handles one message from the engine. */
  _receive(msg) {
    if (msg?.event === 'upgrade' && !this.#attached) {
      // The engine is going away before it answered our attach: act now, there is no snapshot to wait for.
      this.#emit('upgrade', msg.data);
      this.#upgrade(msg.data);
      return;
    }
    if (msg && typeof msg.event === 'string') {
      // Before the snapshot, an event may or may not be in it: replay it afterwards, where applying
      // it twice is harmless (replacements by key, messages updated by id).
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
    this.#emit(event, data);
    if (event === 'upgrade') this.#upgrade(data);
  }

  #emit(event, data) {
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

  /** The engine was replaced by a newer build: reload into it, at most once a minute per build. */
  #upgrade(data) {
    const version = String(data?.version ?? '');
    this._broken(`SparkWeb was updated to build ${version}: reload the page`, 'not-connected');
    if (!this.#reloadOnUpgrade) return;
    // A reload that still gets this build (a stale cache, servers of two builds behind one name)
    // would loop: reload for a given build only once a minute.
    const key = 'sparkweb-upgrade:' + version;
    let last = 0;
    try {
      last = Number(sessionStorage.getItem(key)) || 0;
      sessionStorage.setItem(key, String(Date.now()));
    } catch {
      // no sessionStorage (sandboxed frame): reload anyway
    }
    if (Date.now() - last > 60_000) location.reload();
  }

  #apply(event, data) {
    const s = this.state;
    switch (event) {
      case 'session':
        s.session = data;
        if (data.state === 'online' && !this.#wasOnline) performance.mark('sparkweb:online');
        this.#wasOnline = data.state === 'online';
        // Presence means nothing without a session. While reconnecting it stays: a resumed
        // stream (XEP-0198) does not send it again. The roster and history stay for display.
        if (data.state === 'offline' || data.state === 'auth-failed') {
          s.presence = [];
          s.chatstates = {};
        }
        // Signed out: the engine forgot the account's rooms and bookmarks, and sends them again
        // after the next sign-in.
        if (data.state === 'offline') {
          s.rooms = [];
          s.occupants = {};
          s.bookmarks = [];
        }
        break;
      case 'roster':
        if (data.full) {
          s.roster = data.items ?? [];
          break;
        }
        {
          // One pass per event, not per item: a 5,000-contact roster arrives as ten chunks.
          const changes = new Map((data.items ?? []).map((item) => [item.jid, item]));
          const kept = s.roster.filter((r) => !changes.has(r.jid));
          for (const item of changes.values()) if (item.subscription !== 'remove') kept.push(item);
          s.roster = kept;
        }
        break;
      case 'presence':
        s.presence = s.presence.filter((p) => p.jid !== data.jid);
        if (data.show !== 'unavailable') s.presence.push(data);
        break;
      case 'message': {
        const list = (s.conversations[data.with] ??= []);
        // The engine sends a whole message again when it changes (pending → sent, a correction):
        // replace it, so fields it no longer has (styled spans after an edit) go too.
        const i = data.id ? list.findIndex((m) => m.id === data.id) : -1;
        if (i < 0) list.push(data);
        else list[i] = data;
        break;
      }
      case 'room': {
        const i = s.rooms.findIndex((r) => r.jid === data.jid);
        if (i < 0) s.rooms.push(data);
        else s.rooms[i] = data;
        // The occupants of a room we are no longer in mean nothing.
        if (data.state === 'left' || data.state === 'error') delete s.occupants[data.jid];
        break;
      }
      case 'occupants': {
        // Chunked like "roster": the first chunk of a fresh list has full: true.
        const list = data.full ? [] : (s.occupants[data.room] ?? []);
        for (const o of data.items ?? []) {
          const i = list.findIndex((x) => x.nick === o.nick);
          if (i < 0) list.push(o);
          else list[i] = o;
        }
        s.occupants[data.room] = list;
        break;
      }
      case 'occupant': {
        const { room, left, newNick, ...occupant } = data;
        let list = (s.occupants[room] ?? []).filter((x) => x.nick !== occupant.nick);
        if (newNick) list = list.filter((x) => x.nick !== newNick).concat({ ...occupant, nick: newNick });
        else if (!left) list.push(occupant);
        s.occupants[room] = list;
        break;
      }
      case 'bookmarks':
        s.bookmarks = data.items ?? [];
        break;
      case 'avatar':
        if (data.hash) s.avatars[data.jid] = data.hash;
        else delete s.avatars[data.jid];
        break;
      case 'requests':
        s.requests = data.items ?? [];
        break;
      case 'receipt':
        advanceMessages(s.conversations[data.with], data.id, 'delivered', false);
        break;
      case 'displayed':
        // Ours (outgoing): the last message this account has seen, for unread counts. The peer's:
        // our messages up to it are read.
        if (data.outgoing) s.displayed[data.with] = data.id;
        else advanceMessages(s.conversations[data.with], data.id, 'read', true);
        break;
      case 'chatstate':
        if (data.state === 'active' || data.state === 'gone') delete s.chatstates[data.with];
        else s.chatstates[data.with] = data.state;
        break;
      case 'blocklist':
        s.blocked = data.items ?? [];
        break;
    }
  }
}

const messageStates = ['pending', 'sent', 'delivered', 'read'];

/**
 * Moves our message id (with `earlier`, also each of ours before it) forward to state. States only
 * move forward, as in the engine, and a message in error stays so.
 * @param {Message[]|undefined} list
 * @param {string} id
 * @param {'delivered'|'read'} state
 * @param {boolean} earlier
 */
function advanceMessages(list, id, state, earlier) {
  const i = list ? list.findIndex((m) => m.id === id) : -1;
  if (i < 0) return;
  for (let j = earlier ? 0 : i; j <= i; j++) {
    const m = list[j];
    if (!m.outgoing || m.state === 'error') continue;
    if (messageStates.indexOf(m.state ?? 'sent') < messageStates.indexOf(state)) list[j] = { ...m, state };
  }
}

/**
 * Uploads a file with HTTP File Upload (XEP-0363) and resolves to the URL to share, e.g. with
 * `client.request('chat.send', {to, body: url, oob: url})`. The engine asks the server for a
 * slot (`upload.slot`); the file goes from this tab straight to the upload service, never
 * through the worker. A file over the server's limit is refused before any byte is sent.
 * @param {Blob} file a File, or a Blob with `options.filename`
 * @param {{onProgress?: (sent: number, total: number) => void, signal?: AbortSignal, filename?: string}} [options]
 *   onProgress: called as bytes go out; signal: aborting it cancels the upload
 * @returns {Promise<string>} the file's download URL. Rejects with a SparkWebError (`not-acceptable`
 *   over the limit, `feature-not-implemented` without an upload service, `server-unreachable`
 *   on a network error, ...) or, when cancelled, a DOMException named "AbortError".
 */
export async function upload(file, { onProgress, signal, filename } = {}) {
  const cancelled = () => new DOMException('upload cancelled', 'AbortError');
  if (signal?.aborted) throw cancelled();
  const client = await connect();
  const contentType = file.type || 'application/octet-stream';
  const slot = await client.request('upload.slot', { filename: filename ?? file.name ?? 'file', size: file.size, contentType });
  if (signal?.aborted) throw cancelled();
  await new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest(); // fetch() reports no upload progress
    const abort = () => xhr.abort();
    xhr.open('PUT', slot.put);
    for (const [name, value] of Object.entries(slot.headers ?? {})) xhr.setRequestHeader(name, value);
    xhr.setRequestHeader('Content-Type', contentType);
    xhr.upload.onprogress = (e) => onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else reject(new SparkWebError(xhr.status === 413 ? 'not-acceptable' : 'internal-server-error', `upload refused: HTTP ${xhr.status}`));
    };
    xhr.onerror = () => reject(new SparkWebError('server-unreachable', 'upload failed: network error'));
    xhr.onabort = () => reject(cancelled());
    xhr.onloadend = () => signal?.removeEventListener('abort', abort);
    signal?.addEventListener('abort', abort, { once: true });
    xhr.send(file);
  });
  return slot.get;
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
