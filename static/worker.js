// SparkWeb engine worker bootstrap (a classic worker script).
//
// It loads the Go→Wasm engine once for every tab of the origin and does the tab bookkeeping the
// engine leaves to JavaScript: which connection belongs to which tab, and when a tab is gone.
// The JSON protocol itself is described in docs/protocol.md.
//
// It runs in one of two ways, chosen by the façade (webcomponents/sparkweb.js):
//   - as a SharedWorker (the normal case): every tab connects with its own MessagePort;
//   - as a dedicated Worker of the leader tab, where SharedWorker does not exist: the leader
//     posts {tab, msg} envelopes for itself and for the tabs it serves over BroadcastChannel,
//     and gets {tab, msg} back; tab "*" means every tab.
// Either way the worker's name is "sparkweb:<build version>".
//
// Upgrades: on start the worker announces its version on BroadcastChannel("sparkweb-control").
// A worker of an older version (versions sort in build order) that hears it hands over: it tells
// its tabs {event: "upgrade"}, stops its session without forgetting it (op session.handover) and
// exits. A worker of a newer version answers with its own announcement, so an older worker that
// starts late steps down instead of taking over. The engine only runs
// while the worker holds the Web Lock "sparkweb-engine", so the new engine starts once the old
// one has stopped and never shares the stored state with it.
//
// Go ↔ JS contract:
//   - sparkwebEmit(tab, json)   defined here, called by Go: deliver to that tab, or to every tab
//                               when tab is "".
//   - sparkwebReady()           defined here, called by Go once sparkwebEngine exists.
//   - sparkwebStorage           defined by storage.js (IndexedDB), used by Go.
//   - sparkwebEngine.request(tab, json)  defined by Go; never blocks, answers via sparkwebEmit.
'use strict';

importScripts('wasm_exec.js', 'storage.js');

/** The build this worker belongs to, from its name ("sparkweb:<version>"). */
const VERSION = self.name.startsWith('sparkweb:') ? self.name.slice('sparkweb:'.length) : 'dev';
/** True in a SharedWorker, false in the leader tab's dedicated Worker. */
const SHARED = typeof SharedWorkerGlobalScope !== 'undefined' && self instanceof SharedWorkerGlobalScope;
/** The tab id the worker uses for its own requests; a tab id is never empty, so this one is free. */
const SELF_TAB = '';

/** @type {Map<string, {postMessage(msg: any): void}>} attached tabs by tab id */
const tabs = new Map();
/** Requests that arrived before the engine was ready: [tab, request] pairs, in arrival order. */
let queue = [];
/** Set once the engine can take requests. */
let ready = false;
/** Set when the engine failed to load or stopped; every request is then answered with it. */
let failure = null;
/** Set while handing over to a newer build; every request is then refused. */
let replacedBy = null;
/** Ids for requests the worker sends on its own behalf. */
let ownId = 0;
/** Answers to the worker's own requests, by id. */
const own = new Map();
/** Tabs whose page is visible (tab.visible), for client state indication (XEP-0352). */
const visibleTabs = new Set();
/** Whether the engine was last told the user is active; an engine starts active. */
let activeTold = true;
/** session.active requests, one after the other so the engine hears them in order. */
let activeChain = Promise.resolve();

globalThis.sparkwebEmit = (tab, json) => {
  let msg;
  try {
    msg = JSON.parse(json);
  } catch (err) {
    console.error('sparkweb: engine emitted invalid JSON', err, json);
    return;
  }
  if (tab === '') {
    if (msg && typeof msg.event === 'string') {
      broadcast(msg);
      return;
    }
    own.get(msg?.id)?.(msg);
    own.delete(msg?.id);
    return;
  }
  // A tab that is already gone has no entry: its answer is dropped on purpose.
  tabs.get(tab)?.postMessage(msg);
};

globalThis.sparkwebReady = () => {
  ready = true;
  const pending = queue;
  queue = [];
  for (const [tab, req] of pending) forward(tab, req);
};

/** Sends an event to every attached tab. */
function broadcast(msg) {
  if (SHARED) {
    for (const sink of tabs.values()) sink.postMessage(msg);
  } else {
    self.postMessage({ tab: '*', msg }); // the leader fans it out: one message, not one per tab
  }
}

/** Passes one request to the engine, or answers it with the reason it cannot run. */
function forward(tab, req) {
  if (replacedBy !== null && tab !== SELF_TAB) {
    answerError(tab, req, 'not-connected', `this SparkWeb engine is being replaced by build ${replacedBy}: reload the page`);
    return;
  }
  if (failure) {
    answerError(tab, req, 'internal-server-error', failure);
    return;
  }
  if (!ready) {
    queue.push([tab, req]);
    return;
  }
  try {
    globalThis.sparkwebEngine.request(tab, JSON.stringify(req));
  } catch (err) {
    // The Go side has exited (it panicked): calling into it throws.
    fail(`engine stopped: ${err.message || err}`);
    answerError(tab, req, 'internal-server-error', failure);
  }
}

function answerError(tab, req, code, message) {
  if (tab === SELF_TAB) {
    own.get(req.id)?.({ id: req.id, ok: false, error: { code, message } });
    own.delete(req.id);
    return;
  }
  tabs.get(tab)?.postMessage({ id: req.id, ok: false, error: { code, message } });
}

/** Sends a request of the worker's own; resolves with the response, or null after ms. */
function ownRequest(op, args, ms) {
  const id = ++ownId;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      own.delete(id);
      resolve(null);
    }, ms);
    own.set(id, (msg) => {
      clearTimeout(timer);
      resolve(msg);
    });
    forward(SELF_TAB, { id, op, args });
  });
}

/** Marks the engine as unusable, answers everything queued and tells every tab. */
function fail(message) {
  if (failure) return;
  failure = message;
  console.error('sparkweb:', message);
  const pending = queue;
  queue = [];
  for (const [tab, req] of pending) answerError(tab, req, 'internal-server-error', message);
  broadcast({ event: 'error', data: { code: 'internal-server-error', message } });
}

/** Called when the tab's Web Lock is granted to us, i.e. the tab has released it by dying. */
function detach(tab) {
  tabs.delete(tab);
  visibleTabs.delete(tab);
  updateActive();
  forward(SELF_TAB, { id: ++ownId, op: 'tab.detach', args: { tab } });
}

/**
 * Handles one message of a connection (a SharedWorker port, or one tab of the leader).
 * conn.tab is null until the connection's tab.attach.
 */
function receive(conn, req) {
  if (replacedBy !== null) {
    // A tab that reached us after the handover (or had not attached yet) must learn it too.
    conn.sink.postMessage({ event: 'upgrade', data: { version: replacedBy } });
  }
  if (req === null || typeof req !== 'object' || typeof req.op !== 'string') {
    conn.sink.postMessage({
      id: req?.id ?? null,
      ok: false,
      error: { code: 'bad-request', message: 'a request is an object {id, op, args}' },
    });
    return;
  }
  if (req.op === 'tab.attach') {
    const id = req.args?.tab;
    if (typeof id !== 'string' || id === '' || conn.tab !== null) {
      conn.sink.postMessage({
        id: req.id,
        ok: false,
        error: { code: 'bad-request', message: 'tab.attach needs a non-empty args.tab, once per connection' },
      });
      return;
    }
    conn.tab = id;
    tabs.set(id, conn.sink);
    // The tab holds this lock for its whole life, so it is granted to us only once the tab is gone.
    navigator.locks.request('sparkweb-tab:' + id, () => detach(id));
  } else if (conn.tab === null) {
    conn.sink.postMessage({ id: req.id, ok: false, error: { code: 'bad-request', message: 'send tab.attach first' } });
    return;
  }
  if (req.op === 'tab.visible') {
    // Answered here: the engine only hears when the count of visible tabs crosses zero.
    if (typeof req.args?.visible !== 'boolean') {
      conn.sink.postMessage({ id: req.id, ok: false, error: { code: 'bad-request', message: 'tab.visible needs args.visible: true or false' } });
      return;
    }
    if (req.args.visible) visibleTabs.add(conn.tab);
    else visibleTabs.delete(conn.tab);
    conn.sink.postMessage({ id: req.id, ok: true, result: null });
    updateActive();
    return;
  }
  forward(conn.tab, req);
}

/** Tells the engine the user is active while any tab is visible, inactive when none is. */
function updateActive() {
  const active = visibleTabs.size > 0;
  if (active === activeTold) return;
  activeTold = active;
  activeChain = activeChain.then(() => ownRequest('session.active', { active }, 5000));
}

if (SHARED) {
  self.onconnect = (event) => {
    const port = event.ports[0];
    const conn = { tab: null, sink: port };
    port.onmessage = ({ data }) => receive(conn, data);
    port.start();
  };
} else {
  /** The leader tab's connections, by the tab id of the envelope. */
  const conns = new Map();
  self.onmessage = ({ data }) => {
    if (data === null || typeof data !== 'object' || typeof data.tab !== 'string' || data.tab === '') {
      console.error('sparkweb: the leader sent a message that is not a {tab, msg} envelope', data);
      return;
    }
    let conn = conns.get(data.tab);
    if (!conn) {
      const tab = data.tab;
      conn = { tab: null, sink: { postMessage: (msg) => self.postMessage({ tab, msg }) } };
      conns.set(tab, conn);
    }
    receive(conn, data.msg);
  };
}

// The browser knows first when the network is back: retry a lost connection at once instead of
// waiting out the engine's backoff.
self.addEventListener('online', () => {
  if (ready && !failure && replacedBy === null) ownRequest('session.reconnect', {}, 5000);
});

/** How long a replaced worker keeps answering before it exits. */
const LINGER_MS = 3000;

/** Resolves the "sparkweb-engine" lock; held until the worker hands over or dies. */
let releaseEngine = () => {};
const engineLock = new Promise((resolve) => {
  navigator.locks.request(
    'sparkweb-engine',
    () =>
      new Promise((release) => {
        releaseEngine = release;
        resolve();
      }),
  );
});

/** Steps down for the newer build `version`: tabs reattach to it, the session stops, we exit. */
async function handOver(version) {
  if (replacedBy !== null) return;
  replacedBy = version;
  console.info(`sparkweb: build ${VERSION} hands over to build ${version}`);
  const pending = queue;
  queue = [];
  for (const [tab, req] of pending) forward(tab, req); // refused now: replacedBy is set
  broadcast({ event: 'upgrade', data: { version } });
  if (ready && !failure) {
    // Not session.logout: that forgets the account, and the new engine must carry on with it.
    // An engine without session.handover answers feature-not-implemented; exiting then drops the
    // connection as closing the browser would.
    await ownRequest('session.handover', {}, 5000);
  }
  releaseEngine();
  // Linger a moment to tell tabs that are connecting right now, then go: a page that asks for
  // this build later starts a fresh worker, which is told to hand over in turn.
  setTimeout(() => self.close(), LINGER_MS);
}

const control = new BroadcastChannel('sparkweb-control');
// Versions sort in build order (see buildVersion in sparkweb.js): only a newer build takes over.
// An older one that starts (a tab still on an old page) hears from us and steps down at once.
control.onmessage = ({ data }) => {
  if (data?.type !== 'upgrade' || typeof data.version !== 'string' || replacedBy !== null) return;
  if (data.version > VERSION) handOver(data.version);
  else if (data.version < VERSION) control.postMessage({ type: 'upgrade', version: VERSION });
};
control.postMessage({ type: 'upgrade', version: VERSION });

async function instantiate(go) {
  const response = await fetch('engine.wasm');
  if (!response.ok) throw new Error(`GET engine.wasm: HTTP ${response.status}`);
  // instantiateStreaming insists on application/wasm; fall back rather than fail on a plain server.
  if ((response.headers.get('content-type') || '').startsWith('application/wasm')) {
    return WebAssembly.instantiateStreaming(response, go.importObject);
  }
  return WebAssembly.instantiate(await response.arrayBuffer(), go.importObject);
}

(async () => {
  const go = new Go();
  go.env = { SPARKWEB_RELAY: self.location.origin };
  let instance;
  try {
    // Compile while an older engine may still be stopping; run only once it has.
    [{ instance }] = await Promise.all([instantiate(go), engineLock]);
  } catch (err) {
    fail(`engine failed to load: ${err.message || err}`);
    return;
  }
  if (replacedBy !== null) return;
  try {
    await go.run(instance);
    fail('engine stopped');
  } catch (err) {
    fail(`engine stopped: ${err.message || err}`);
  }
})();
