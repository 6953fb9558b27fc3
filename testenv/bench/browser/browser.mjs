// Startup and tab→tab figures in headless Chromium, SparkWeb against Converse.js, in one run
// against one Prosody. Usage: node testenv/bench/browser/browser.mjs OUT.json [REPEATS]
//
// For each client and each link (loopback, and a slow link through delayproxy.mjs):
//   cold        new browser context (empty HTTP cache and storage): navigation → login form
//               usable, and navigation → online with the roster shown (the form is filled by
//               the script as soon as it is usable, so typing time is not counted);
//   warm        the same context after every tab was closed (HTTP cache and storage kept; the
//               SparkWeb SharedWorker has ended): navigation → online with the roster shown,
//               through the login form if the client shows one;
//   second tab  a second tab while the first is online: navigation → online with the roster shown.
// Over the slow link, the bytes a cold start downloads (everything the proxy delivered) are counted.
// Medians of REPEATS runs (new contexts each time). Nothing here asserts a time.
import { writeFile } from 'node:fs/promises';
import {
  ROOT,
  startProsody,
  startRelay,
  launchBrowser,
  login as sparkwebLogin,
  countSharedWorkers,
} from '../../../webcomponents/test/harness.mjs';
import { startConverseServer } from './conversesrv.mjs';
import { startDelayProxy } from './delayproxy.mjs';

const out = process.argv[2] ?? 'browser.json';
const repeats = Number(process.argv[3] ?? 5);
/** The slow link: 100 ms round trip, 10 Mbit/s each way (a fair mobile or DSL line). */
const SLOW = { oneWayMs: 50, bitsPerSecond: 10e6 };
const STEP_TIMEOUT = 60_000;

/** How long a login form must stay usable before a page that might sign in by itself counts as
 * signed out (warm start, second tab); only paid when the form is really needed. */
const SETTLE_MS = 1000;

/**
 * How the benchmark drives each client's UI and tells when it is online: the session is up (bound,
 * roster fetched, initial presence sent) and the roster shows the contact. A stored roster can be
 * on screen before that, so the roster alone is not enough.
 */
const clients = {
  SparkWeb: {
    form: (page) => page.locator('sparkweb-login').getByLabel('Address'),
    roster: (page, contact) => page.locator(`sparkweb-roster [role="treeitem"][data-jid="${contact.jid}"]`).first(),
    login: (page, user) => sparkwebLogin(page, user),
    /** Called before navigation; the promise resolves once the engine reports "online". */
    watchOnline: (page) => ({
      online: () =>
        page.evaluate(async () => {
          const { connect } = await import('/webcomponents/sparkweb.js');
          const client = await connect();
          if (client.state.session.state === 'online') return;
          await new Promise((resolve) => client.on('session', (s) => s.state === 'online' && resolve()));
        }),
    }),
  },
  'Converse.js': {
    form: (page) => page.locator('input[name="jid"]').first(),
    roster: (page) => page.locator('converse-roster').getByText('Bob', { exact: true }).first(),
    login: async (page, user) => {
      await page.locator('input[name="jid"]').first().fill(user.jid);
      const pw = page.locator('input[name="password"]').first();
      await pw.fill(user.password);
      await pw.press('Enter');
    },
    // Converse.js has no public state to ask; its WebSocket is the page's own, so watch it: the
    // server's echo of our initial presence comes after bind and roster.
    watchOnline: (page) => {
      const seen = new Promise((resolve) =>
        page.on('websocket', (ws) => ws.on('framereceived', (f) => /^<presence\b/.test(String(f.payload)) && resolve())),
      );
      return { online: () => seen };
    },
  },
};

/**
 * Navigates page to url and brings the client online. Returns milliseconds from navigation start
 * to the usable login form (null if none was needed) and to online with the roster shown, and
 * whether the client signed in without the form. fresh: the context has no stored session.
 */
async function open(client, page, url, user, contact, { fresh }) {
  const watch = client.watchOnline(page);
  const t0 = performance.now();
  await page.goto(url, { timeout: STEP_TIMEOUT });
  const online = watch.online();
  online.catch(() => {}); // awaited below; a page closed early must not crash the run
  const form = client.form(page);
  let formMs = null;
  if (fresh) {
    await form.waitFor({ timeout: STEP_TIMEOUT });
    formMs = performance.now() - t0;
  } else {
    const needsLogin = (async () => {
      for (;;) {
        await form.waitFor({ timeout: STEP_TIMEOUT });
        const seen = performance.now();
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        if ((await form.isVisible()) && (await form.isEnabled())) return seen;
      }
    })();
    needsLogin.catch(() => {});
    const first = await Promise.race([online.then(() => null), needsLogin]);
    if (first !== null) formMs = first - t0;
  }
  if (formMs !== null) await client.login(page, user);
  await online;
  await client.roster(page, contact).waitFor({ timeout: STEP_TIMEOUT });
  return { formMs, onlineMs: performance.now() - t0, auto: formMs === null };
}

/** Waits until the SharedWorker of a closed context has gone, so the next load starts it anew. */
async function noSharedWorkers(browser) {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
    if ((await countSharedWorkers(browser)) === 0) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function startup(browser, name, url, users, proxy) {
  const client = clients[name];
  const runs = { cold: [], coldForm: [], warm: [], second: [], coldBytes: [] };
  const notes = new Set();
  for (let i = 0; i < repeats; i++) {
    const ctx = await browser.newContext();
    try {
      const a = await ctx.newPage();
      const before = proxy?.bytesDown();
      const cold = await open(client, a, url, users.alice, users.bob, { fresh: true });
      if (proxy) runs.coldBytes.push(proxy.bytesDown() - before);
      runs.cold.push(cold.onlineMs);
      if (cold.formMs !== null) runs.coldForm.push(cold.formMs);

      const b = await ctx.newPage();
      const second = await open(client, b, url, users.alice, users.bob, { fresh: false });
      runs.second.push(second.onlineMs);
      notes.add(second.auto ? 'second tab: no login form' : `second tab: login form again (includes ${SETTLE_MS} ms to tell)`);

      await b.close();
      await a.close();
      if (!(await noSharedWorkers(browser))) notes.add('warm: a SharedWorker outlived its tabs by 10 s');
      const c = await ctx.newPage();
      const warm = await open(client, c, url, users.alice, users.bob, { fresh: false });
      runs.warm.push(warm.onlineMs);
      notes.add(warm.auto ? 'warm: signed in without the form' : `warm: through the login form (includes ${SETTLE_MS} ms to tell)`);
    } finally {
      await ctx.close();
    }
    await noSharedWorkers(browser);
  }
  return { ...Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)])), runs: repeats, notes: [...notes] };
}

/** alice's tab sends n messages to bob; bob's tab (another context) counts them. */
async function tabToTab(browser, url, users, n) {
  const ctxs = [await browser.newContext(), await browser.newContext()];
  try {
    const [a, b] = await Promise.all(ctxs.map((c) => c.newPage()));
    await open(clients.SparkWeb, a, url, users.alice, users.bob, { fresh: true });
    await open(clients.SparkWeb, b, url, users.bob, users.alice, { fresh: true });
    const tag = `t2t-${Date.now()}-`;
    const received = b.evaluate(
      ([tag, n]) =>
        new Promise(async (resolve) => {
          const { connect } = await import('/webcomponents/sparkweb.js');
          const client = await connect();
          const seen = new Set();
          client.on('message', (m) => {
            if (!m.outgoing && m.body.startsWith(tag)) seen.add(m.body);
            if (seen.size === n) resolve(performance.timeOrigin + performance.now());
          });
        }),
      [tag, n],
    );
    await new Promise((r) => setTimeout(r, 200)); // bob's handler is in place
    const sent = await a.evaluate(
      async ([tag, n, to]) => {
        const { connect } = await import('/webcomponents/sparkweb.js');
        const client = await connect();
        const start = performance.timeOrigin + performance.now();
        // As fast as the page can ask: every send in flight at once, as a burst of typing would not.
        await Promise.all(Array.from({ length: n }, (_, i) => client.request('chat.send', { to, body: tag + i })));
        return start;
      },
      [tag, n, users.bob.jid],
    );
    const done = await Promise.race([received, new Promise((_, rej) => setTimeout(() => rej(new Error(`bob did not get ${n} messages in 120 s`)), 120_000))]);
    return { messages: n, perS: n / ((done - sent) / 1000) };
  } finally {
    for (const c of ctxs) await c.close();
  }
}

function median(xs) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main() {
  const cleanups = [];
  try {
    const prosody = await startProsody();
    cleanups.push(prosody.stop);
    const relay = await startRelay({ upstream: prosody.wsURL, domain: prosody.domain });
    cleanups.push(relay.stop);
    const converse = await startConverseServer({ root: ROOT, prosodyWS: prosody.wsURL });
    cleanups.push(converse.stop);
    const browser = await launchBrowser();
    cleanups.push(() => browser.close());
    const version = browser.version();

    const origins = { SparkWeb: relay.url, 'Converse.js': converse.url };
    const slow = {};
    const proxies = {};
    for (const [name, origin] of Object.entries(origins)) {
      const u = new URL(origin);
      const proxy = await startDelayProxy({ host: u.hostname, port: Number(u.port), ...SLOW });
      cleanups.push(proxy.stop);
      proxies[name] = proxy;
      // localhost, not 127.0.0.1: another origin, so that nothing is shared with the fast row.
      slow[name] = `http://localhost:${proxy.port}/`;
    }

    const rows = [];
    for (const link of ['loopback', 'slow']) {
      for (const name of Object.keys(clients)) {
        const url = link === 'loopback' ? origins[name] + '/' : slow[name];
        console.error(`startup: ${name} over ${link}`);
        rows.push({ client: name, link, ...(await startup(browser, name, url, prosody.users, link === 'slow' ? proxies[name] : null)) });
      }
    }
    console.error('tab→tab throughput');
    const t2t = await tabToTab(browser, relay.url + '/', prosody.users, 500);
    const result = { chromium: version, slowLink: { rttMs: 2 * SLOW.oneWayMs, mbitPerS: SLOW.bitsPerSecond / 1e6 }, startup: rows, tabToTab: t2t };
    await writeFile(out, JSON.stringify(result, null, 2) + '\n');
  } finally {
    for (const fn of cleanups.reverse()) await fn().catch((err) => console.error('cleanup:', err));
  }
}

main().catch((err) => {
  console.error('browser bench failed:', err);
  process.exit(1);
});
