// SparkWeb SharedWorker bootstrap (a classic worker script).
//
// It loads the Go→Wasm engine once for every tab of the origin and does the tab bookkeeping the
// engine leaves to JavaScript: which MessagePort belongs to which tab, and when a tab is gone.
// The JSON protocol itself is described in docs/protocol.md.
//
// Go ↔ JS contract:
//   - sparkwebEmit(tab, json)   defined here, called by Go: post the message to that tab's port,
//                               or to every port when tab is "".
//   - sparkwebReady()           defined here, called by Go once sparkwebEngine exists.
//   - sparkwebEngine.request(tab, json)  defined by Go; never blocks, answers via sparkwebEmit.
'use strict';

importScripts('wasm_exec.js');

/** @type {Map<string, MessagePort>} attached tabs by tab id */
const ports = new Map();
/** Requests that arrived before the engine was ready: [tab, request] pairs, in arrival order. */
let queue = [];
/** Set once the engine can take requests. */
let ready = false;
/** Set when the engine failed to load or stopped; every request is then answered with it. */
let failure = null;
/** Ids for requests the worker sends on its own behalf (tab.detach); their answers go nowhere. */
let ownId = 0;

globalThis.sparkwebEmit = (tab, json) => {
  let msg;
  try {
    msg = JSON.parse(json);
  } catch (err) {
    console.error('sparkweb: engine emitted invalid JSON', err, json);
    return;
  }
  if (tab === '') {
    for (const port of ports.values()) port.postMessage(msg);
    return;
  }
  // A tab that is already gone has no port: its answer is dropped on purpose.
  ports.get(tab)?.postMessage(msg);
};

globalThis.sparkwebReady = () => {
  ready = true;
  const pending = queue;
  queue = [];
  for (const [tab, req] of pending) forward(tab, req);
};

/** Passes one request to the engine, or answers it with the load failure. */
function forward(tab, req) {
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
  ports.get(tab)?.postMessage({ id: req.id, ok: false, error: { code, message } });
}

/** Marks the engine as unusable, answers everything queued and tells every tab. */
function fail(message) {
  if (failure) return;
  failure = message;
  console.error('sparkweb:', message);
  const pending = queue;
  queue = [];
  for (const [tab, req] of pending) answerError(tab, req, 'internal-server-error', message);
  for (const port of ports.values()) {
    port.postMessage({ event: 'error', data: { code: 'internal-server-error', message } });
  }
}

/** Called when the tab's Web Lock is granted to us, i.e. the tab has released it by dying. */
function detach(tab) {
  ports.delete(tab);
  forward(tab, { id: ++ownId, op: 'tab.detach', args: { tab } });
}

self.onconnect = (event) => {
  const port = event.ports[0];
  /** The tab id this port attached as; null until its tab.attach. */
  let tab = null;
  port.onmessage = ({ data: req }) => {
    if (req === null || typeof req !== 'object' || typeof req.op !== 'string') {
      port.postMessage({
        id: req?.id ?? null,
        ok: false,
        error: { code: 'bad-request', message: 'a request is an object {id, op, args}' },
      });
      return;
    }
    if (req.op === 'tab.attach') {
      const id = req.args?.tab;
      if (typeof id !== 'string' || id === '' || tab !== null) {
        port.postMessage({
          id: req.id,
          ok: false,
          error: { code: 'bad-request', message: 'tab.attach needs a non-empty args.tab, once per port' },
        });
        return;
      }
      tab = id;
      ports.set(tab, port);
      // The tab holds this lock for its whole life, so it is granted to us only once the tab is gone.
      navigator.locks.request('sparkweb-tab:' + tab, () => detach(id));
    } else if (tab === null) {
      port.postMessage({
        id: req.id,
        ok: false,
        error: { code: 'bad-request', message: 'send tab.attach first' },
      });
      return;
    }
    forward(tab, req);
  };
  port.start();
};

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
    ({ instance } = await instantiate(go));
  } catch (err) {
    fail(`engine failed to load: ${err.message || err}`);
    return;
  }
  try {
    await go.run(instance);
    fail('engine stopped');
  } catch (err) {
    fail(`engine stopped: ${err.message || err}`);
  }
})();
