// A scripted stand-in for the engine, for tests of the elements' own behaviour (rendering,
// keyboard, strings, layout) where every state must be reachable on demand. It is a classic
// SharedWorker speaking the protocol of docs/protocol.md from a given snapshot; the real engine,
// relay and servers are exercised end to end by the other browser tests.
//
// Ops it answers: tab.attach (the snapshot), tab.visible, presence.set (echoes our presence as the server
// does; a status containing "refuse" fails with forbidden), session.reconnect, and the test ops
// test.emit {event, data} (broadcasts an event) and test.requests (every request seen so far).
// A test adds ops of its own as switch cases (fakeWorker's `ops`). Any other op fails with
// feature-not-implemented, as an engine without it would.
import { launchBrowser, serveFiles, openPage } from './harness.mjs';

/**
 * The worker's source for a snapshot.
 * @param {object} snapshot
 * @param {string} [ops] more switch cases, e.g. "case 'chat.send': return ok({id: 'x'});", with
 *   req, ok(result), fail(code, message), broadcast(event, data) and requests in scope
 */
export function fakeWorker(snapshot, ops = '') {
  return `
const ports = [];
const snapshot = ${JSON.stringify(snapshot)};
const requests = [];
const broadcast = (event, data) => { for (const p of ports) p.postMessage({ event, data }); };
onconnect = (e) => {
  const port = e.ports[0];
  ports.push(port);
  port.onmessage = ({ data: req }) => {
    const ok = (result) => port.postMessage({ id: req.id, ok: true, result });
    const fail = (code, message) => port.postMessage({ id: req.id, ok: false, error: { code, message } });
    // What the elements asked; the façade's own tab.* bookkeeping is not theirs.
    if (!req.op.startsWith('test.') && !req.op.startsWith('tab.')) requests.push({ op: req.op, args: req.args });
    switch (req.op) {
      case 'tab.attach': return ok(snapshot);
      case 'tab.visible': return ok(null);
      case 'presence.set': {
        if ((req.args.status || '').includes('refuse')) return fail('forbidden', 'refused by the test');
        const jid = snapshot.session.jid;
        broadcast('presence', { jid, bare: jid.split('/')[0], show: req.args.show || 'available', status: req.args.status || '', priority: 0 });
        return ok(null);
      }
      case 'session.reconnect': return ok(null);
      ${ops}
      case 'test.emit': broadcast(req.args.event, req.args.data); return ok(null);
      case 'test.requests': return ok(requests);
      default: return fail('feature-not-implemented', req.op);
    }
  };
};
`;
}

/** An online snapshot of alice with contacts bob and carol. */
export function aliceSnapshot() {
  return {
    session: { state: 'online', jid: 'alice@localhost/web' },
    roster: [
      { jid: 'bob@localhost', name: 'Bob', subscription: 'both', ask: false, groups: ['Friends'] },
      { jid: 'carol@localhost', name: 'Carol', subscription: 'both', ask: false, groups: [] },
    ],
    presence: [
      { jid: 'alice@localhost/web', bare: 'alice@localhost', show: 'away', status: 'at lunch', priority: 0 },
      { jid: 'bob@localhost/phone', bare: 'bob@localhost', show: 'available', status: '', priority: 0 },
    ],
    conversations: {},
    requests: [],
  };
}

/**
 * A page that connects to the fake engine, runs script, then imports the modules and puts the body
 * in place.
 * @param {string[]} modules paths under /webcomponents/
 * @param {string} body HTML of the body
 * @param {string} [script] module code run once window.client and window.i18n are there
 */
export function fakePage(modules, body, script = '') {
  return `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>fake engine</title>
<script type="module">
  import { connect } from '/webcomponents/sparkweb.js';
  window.client = await connect({ workerURL: '/fake-worker.js' });
  window.i18n = await import('/webcomponents/i18n.js');
  ${script}
  for (const m of ${JSON.stringify(modules)}) await import('/webcomponents/' + m);
  document.body.insertAdjacentHTML('beforeend', ${JSON.stringify(body)});
  document.body.dataset.ready = 'yes';
</script>
<body></body>
</html>`;
}

/**
 * Serves the fake worker (one snapshot) and pages, and launches a browser.
 * @param {object} snapshot
 * @param {Object<string, string>} pages URL path → HTML
 * @param {{ops?: string}} [options] ops: more ops of the worker (see fakeWorker)
 */
export async function startFake(snapshot, pages, { ops = '' } = {}) {
  const routes = { '/fake-worker.js': { body: fakeWorker(snapshot, ops) } };
  for (const [path, body] of Object.entries(pages)) routes[path] = { body };
  const server = await serveFiles(routes);
  const browser = await launchBrowser();
  return {
    url: server.url,
    browser,
    async open(path, contextOptions = {}) {
      const context = await browser.newContext(contextOptions);
      return { ...(await openPage(context, server.url + path)), context };
    },
    async close() {
      await browser.close().catch(() => {});
      await server.stop();
    },
  };
}

/** Broadcasts an event from the fake engine to every tab. */
export function emit(page, event, data) {
  return page.evaluate(([event, data]) => window.client.request('test.emit', { event, data }), [event, data]);
}

/** The requests the fake engine has seen ({op, args}), optionally of one op. */
export async function requests(page, op) {
  const all = await page.evaluate(() => window.client.request('test.requests'));
  return op ? all.filter((r) => r.op === op) : all;
}
