// Upgrades: pages of a newer build replace an older running engine, and an older page never
// replaces a newer engine. Two builds are simulated by serving static/version.json with different
// versions from one origin; the engine is the real one (no relay needed: nobody logs in).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, serveFiles, requireEngineBuild, countSharedWorkers } from './harness.mjs';

const OLD = '20260101T000000Z-0000000000a0';
const V1 = '20260201T000000Z-0000000000a1';
const V2 = '20260301T000000Z-0000000000a2';

// A page that connects at once, as a page with elements does; window.client is connect()'s promise.
const PAGE = `<!doctype html><title>upgrade</title>
<script type="module">
import { connect } from '/webcomponents/sparkweb.js';
window.navigations = Number(sessionStorage.getItem('loads') || 0) + 1;
sessionStorage.setItem('loads', String(window.navigations));
window.upgrades = [];
window.client = connect();
window.client.then((c) => c.on('upgrade', (d) => window.upgrades.push(d.version)), () => {});
</script>`;

let browser;
let server;
/** What static/version.json answers next; a function may answer differently per request. */
let version = () => V1;
before(async () => {
  requireEngineBuild();
  browser = await launchBrowser();
  server = await serveFiles({
    '/static/version.json': () => ({ body: JSON.stringify({ version: version() }) }),
    '/page.html': { type: 'text/html', body: PAGE },
  });
});
after(async () => {
  await server?.stop();
  await browser?.close();
});

/** The page's client as seen from the page: version, mode, session state, load count. */
function clientInfo(page) {
  return page.evaluate(async () => {
    const c = await window.client;
    return { version: c.version, mode: c.mode, session: c.state.session.state, navigations: window.navigations };
  });
}

/** Waits until fn() resolves truthy (polling), or fails with what it last saw. */
async function eventually(fn, what, ms = 15_000) {
  let last;
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    try {
      last = await fn();
      if (last?.ok ?? last) return last;
    } catch (err) {
      last = err.message; // the page may be navigating
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}; last seen: ${JSON.stringify(last)}`);
}

/** The Web Locks of the origin, as a page sees them. */
function engineLocks(page) {
  return page.evaluate(async () => {
    const { held, pending } = await navigator.locks.query();
    const count = (list) => list.filter((l) => l.name === 'sparkweb-engine').length;
    return { held: count(held), pending: count(pending) };
  });
}

test('a newer build replaces the running engine and old tabs reload into it', { timeout: 90_000 }, async () => {
  const context = await browser.newContext();
  try {
    version = () => V1;
    const oldTab = await context.newPage();
    await oldTab.goto(server.url + '/page.html');
    assert.deepEqual(await clientInfo(oldTab), { version: V1, mode: 'shared', session: 'offline', navigations: 1 });

    // The new build is deployed; a new tab opens it.
    version = () => V2;
    const reloaded = oldTab.waitForEvent('load', { timeout: 30_000 });
    const newTab = await context.newPage();
    await newTab.goto(server.url + '/page.html');
    assert.equal((await clientInfo(newTab)).version, V2);

    await reloaded;
    await eventually(async () => {
      const info = await clientInfo(oldTab);
      return { ok: info.version === V2 && info.navigations === 2, info };
    }, 'the old tab reloads once and runs the new build');
    await eventually(
      async () => (await countSharedWorkers(browser, newTab)) === 1,
      'the old worker exits: one SharedWorker is left',
    );
    assert.deepEqual(await engineLocks(newTab), { held: 1, pending: 0 }, 'exactly one engine runs');
    assert.equal((await clientInfo(newTab)).navigations, 1, 'the new tab was not reloaded');
    const same = await oldTab.evaluate(async () => (await window.client).request('roster.list').then(() => 'answered', (e) => e.code));
    assert.equal(same, 'answered', 'the reloaded tab talks to the new engine');
  } finally {
    await context.close();
  }
});

test('a page of an older build does not replace a newer engine', { timeout: 90_000 }, async () => {
  const context = await browser.newContext();
  try {
    version = () => V2;
    const current = await context.newPage();
    await current.goto(server.url + '/page.html');
    assert.equal((await clientInfo(current)).version, V2);

    // One response of the old build (a stale cache, an old server behind the same name), then V2.
    let served = 0;
    version = () => (served++ === 0 ? OLD : V2);
    const stale = await context.newPage();
    await stale.goto(server.url + '/page.html');
    await eventually(async () => {
      const info = await clientInfo(stale);
      return { ok: info.version === V2 && info.navigations === 2, info };
    }, 'the stale page is told to upgrade and reloads into the current build');
    await eventually(async () => (await countSharedWorkers(browser, current)) === 1, 'the old build worker exits');
    const info = await clientInfo(current);
    assert.equal(info.version, V2);
    assert.equal(info.navigations, 1, 'the current tab was left alone');
    assert.deepEqual(await current.evaluate(() => window.upgrades), [], 'and saw no upgrade');
    assert.deepEqual(await engineLocks(current), { held: 1, pending: 0 });
  } finally {
    await context.close();
  }
});
