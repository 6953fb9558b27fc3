// Shared harness for SparkWeb's browser tests: a throwaway Prosody (testenv/prosody.sh), the real
// relay binary (bin/sparkweb, built by `make`) and Debian's Chromium driven by playwright-core.
// Everything started here is stopped by the returned close functions, also after a failure.
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHTTPServer } from 'node:http';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname, extname, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const run = promisify(execFile);

/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PROSODY_SH = join(ROOT, 'testenv', 'prosody.sh');
const EJABBERD_SH = join(ROOT, 'testenv', 'ejabberd.sh');
const RELAY_BIN = join(ROOT, 'bin', 'sparkweb');

/** Chromium flags that keep a headless run quiet and offline apart from loopback. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve, reject) => server.listen(0, '127.0.0.1', resolve).on('error', reject));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts Prosody in a temp dir with users alice and bob (random passwords), mutual friends.
 * @param {{env?: Object<string,string>, users?: boolean}} [options] extra environment for
 *   testenv/prosody.sh; users: false for a server that knows no passwords (oauthbearer)
 * @returns {Promise<{dir: string, env: Object<string,string>, domain: string, wsURL: string,
 *   users: {alice: {jid: string, password: string}, bob: {jid: string, password: string}},
 *   log: () => Promise<string>, stop: () => Promise<void>}>}
 */
export function startProsody(options = {}) {
  return startServer(PROSODY_SH, 'PROSODY', 'prosody.log', options);
}

/** Starts ejabberd the same way (testenv/ejabberd.sh); env has EJABBERD_JWT_SECRET. */
export function startEjabberd(options = {}) {
  return startServer(EJABBERD_SH, 'EJABBERD', 'log/ejabberd.log', options);
}

async function startServer(script, prefix, logFile, { env: extra = {}, users: withUsers = true } = {}) {
  const dir = await mkdtemp(join(tmpdir(), `sparkweb-${prefix.toLowerCase()}-`));
  let started = false;
  const stop = async () => {
    if (started) await run(script, ['stop', dir]).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  try {
    started = true;
    const { stdout } = await run(script, ['start', dir], { env: { ...process.env, ...extra } });
    const env = Object.fromEntries(
      stdout
        .split('\n')
        .map((line) => line.split(/=(.*)/s))
        .filter(([k, v]) => k && v !== undefined),
    );
    const domain = env[`${prefix}_DOMAIN`];
    const users = {};
    for (const name of ['alice', 'bob']) {
      const password = randomBytes(12).toString('hex');
      if (withUsers) await run(script, ['adduser', dir, name, password]);
      users[name] = { jid: `${name}@${domain}`, password };
    }
    if (withUsers) await run(script, ['befriend', dir, 'alice', 'bob']);
    const log = () => readFile(join(dir, logFile), 'utf8').catch((err) => `(no log: ${err.message})`);
    return { dir, env, domain, wsURL: env[`${prefix}_WS_URL`], users, log, stop };
  } catch (err) {
    await stop();
    throw new Error(`start ${script}: ${err.stderr || err.message}`);
  }
}

/**
 * Starts bin/sparkweb on a free loopback port and waits until GET /healthz answers 200.
 * @param {{upstream: string, domain?: string, args?: string[], env?: Object<string,string>}} options
 *   args: more flags; env: more environment (e.g. SPARKWEB_* secrets)
 * @returns {Promise<{url: string, output: () => string, stop: () => Promise<void>}>}
 */
export async function startRelay({ upstream, domain = 'localhost', args = [], env = {} }) {
  if (!existsSync(RELAY_BIN)) {
    throw new Error(`${RELAY_BIN} is missing: run \`make\` first (it builds the engine and the relay)`);
  }
  // Run in a temp dir so whatever the relay stores by default (keys, database) is thrown away.
  const cwd = await mkdtemp(join(tmpdir(), 'sparkweb-relay-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(RELAY_BIN, ['--listen', `127.0.0.1:${port}`, '--upstream', upstream, '--domain', domain, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const collect = (chunk) => {
    out += chunk;
    if (out.length > 1_000_000) out = out.slice(-500_000); // a chatty relay must not eat the memory
  };
  proc.stdout.on('data', collect);
  proc.stderr.on('data', collect);
  let exited = null;
  const exit = new Promise((resolve) =>
    proc.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    }),
  );
  const stop = async () => {
    if (!exited) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(timer);
    }
    await rm(cwd, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`bin/sparkweb exited (${JSON.stringify(exited)}) before it was healthy:\n${out}`);
    }
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`bin/sparkweb did not answer GET /healthz within 15 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, output: () => out, stop };
}

/**
 * Adds a user with a random password to a server started by startProsody.
 * @param {{dir: string, domain: string}} server
 * @param {string} name the local part
 * @returns {Promise<{jid: string, password: string}>}
 */
export async function addUser(server, name) {
  const password = randomBytes(12).toString('hex');
  await run(PROSODY_SH, ['adduser', server.dir, name, password]);
  return { jid: `${name}@${server.domain}`, password };
}

/**
 * Gives user n more contacts (contact00000@domain …, named "Contact Number i", in 40 groups) by
 * writing Prosody's roster file, before the user's first login (Prosody reads rosters at login).
 * Subscription "none": no presence probes, so only the roster's own size is measured.
 * @param {{dir: string, domain: string}} server from startProsody
 * @param {string} user the local part, e.g. "alice"
 * @param {number} n
 * @returns {{jid: string, name: string, group: string}[]} the contacts, in roster order
 */
export async function addRosterContacts(server, user, n) {
  const file = join(server.dir, 'data', server.domain.replace(/\./g, '%2e'), 'roster', `${user}.dat`);
  const old = await readFile(file, 'utf8').catch(() => 'return {\n\t[false] = { version = 1; pending = {} };\n};\n');
  const contacts = Array.from({ length: n }, (_, i) => ({
    jid: `contact${String(i).padStart(5, '0')}@${server.domain}`,
    name: `Contact Number ${i}`,
    group: `Group ${String(i % 40).padStart(2, '0')}`,
  }));
  const lines = contacts.map((c) => `\t["${c.jid}"] = { subscription = "none"; groups = { ["${c.group}"] = true }; name = "${c.name}" };`);
  if (!old.startsWith('return {\n')) throw new Error(`unexpected roster file ${file}`);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, old.replace('return {\n', `return {\n${lines.join('\n')}\n`));
  return contacts;
}

/** Launches Debian's Chromium headless ($CHROMIUM overrides the path). */
export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`no Chromium at ${executablePath}: apt-get install chromium, or set CHROMIUM`);
  }
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS });
}

/**
 * Prosody with alice and bob, the relay in front of it, and a browser. close() stops all three.
 * Options: `prosodyEnv` for testenv/prosody.sh (e.g. PROSODY_ALLOW_REGISTRATION), `relayArgs`
 * (more relay flags), `upstreamProxy: true` to put a TCP proxy (startProxy) between the relay and
 * Prosody, returned as `upstream`: cutting or holding it drops or stalls every XMPP stream and the
 * relay's password checks, while the pages and the relay stay reachable.
 * @param {{prosodyEnv?: Object<string,string>, relayArgs?: string[], upstreamProxy?: boolean}} [options]
 */
export async function startStack({ prosodyEnv = {}, relayArgs = [], upstreamProxy = false } = {}) {
  const cleanups = [];
  const close = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((err) => console.error('cleanup:', err));
    cleanups.length = 0;
  };
  try {
    const prosody = await startProsody({ env: prosodyEnv });
    cleanups.push(prosody.stop);
    let upstream = null;
    let wsURL = prosody.wsURL;
    if (upstreamProxy) {
      const ws = new URL(prosody.wsURL);
      upstream = await startProxy(ws.host);
      cleanups.push(upstream.stop);
      ws.host = new URL(upstream.url).host;
      wsURL = ws.href;
    }
    const relay = await startRelay({ upstream: wsURL, domain: prosody.domain, args: relayArgs });
    cleanups.push(relay.stop);
    const browser = await launchBrowser();
    cleanups.push(() => browser.close());
    return { prosody, relay, upstream, browser, users: prosody.users, url: relay.url, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Counts SharedWorkers (Playwright's API does not list them; CDP does): those of page's browser
 * context when a page is given (each context has its own workers), otherwise all of the browser's.
 */
export async function countSharedWorkers(browser, page) {
  let contextId;
  if (page) {
    const pageCDP = await page.context().newCDPSession(page);
    try {
      contextId = (await pageCDP.send('Target.getTargetInfo')).targetInfo.browserContextId;
    } finally {
      await pageCDP.detach().catch(() => {});
    }
  }
  const cdp = await browser.newBrowserCDPSession();
  try {
    await cdp.send('Target.setDiscoverTargets', { discover: true });
    const { targetInfos } = await cdp.send('Target.getTargets');
    return targetInfos.filter((t) => t.type === 'shared_worker' && (!contextId || t.browserContextId === contextId)).length;
  } finally {
    await cdp.detach().catch(() => {});
  }
}

/**
 * Attaches to the browser's SparkWeb SharedWorker over CDP to see its console (where Go's stdout
 * goes) and its network: the engine fetches from the worker, which page.waitForResponse cannot see.
 * Chromium neither pauses a shared worker's fetches (Fetch domain) nor keeps bodies the engine reads
 * as a stream, so a response is recorded as {url, status, request: {method, headers, postData}}:
 * a test can replay the request to look at the body.
 * Uses non-flattened target sessions because Playwright's CDPSession cannot address child sessions.
 * Call detach() before the worker dies.
 * @param {import('playwright-core').Browser} browser
 * @param {{timeout?: number}} [options]
 */
export async function inspectSharedWorker(browser, { timeout = 10_000 } = {}) {
  const cdp = await browser.newBrowserCDPSession();
  await cdp.send('Target.setDiscoverTargets', { discover: true });
  let target;
  for (const deadline = Date.now() + timeout; !target; ) {
    const { targetInfos } = await cdp.send('Target.getTargets');
    target = targetInfos.find((t) => t.type === 'shared_worker');
    if (target) break;
    if (Date.now() > deadline) throw new Error('no SharedWorker appeared');
    await new Promise((r) => setTimeout(r, 50));
  }
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId: target.targetId, flatten: false });
  let nextId = 1;
  const calls = new Map();
  const consoleLines = [];
  const responses = [];
  const waiters = new Set();
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      calls.set(id, { resolve, reject });
      cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) }).catch(reject);
    });
  const requests = new Map(); // by CDP requestId, until loading finished
  const finish = async (requestId) => {
    const r = requests.get(requestId);
    if (!r?.status) return;
    requests.delete(requestId);
    if (r.hasPostData && r.request.postData === undefined) {
      r.request.postData = (await send('Network.getRequestPostData', { requestId }).catch(() => ({}))).postData;
    }
    const done = { url: r.url, status: r.status, request: r.request };
    responses.push(done);
    for (const w of waiters) w(done);
  };
  cdp.on('Target.receivedMessageFromTarget', (e) => {
    if (e.sessionId !== sessionId) return;
    const msg = JSON.parse(e.message);
    if (msg.id && calls.has(msg.id)) {
      const { resolve, reject } = calls.get(msg.id);
      calls.delete(msg.id);
      if (msg.error) reject(new Error(`CDP: ${msg.error.message}`));
      else resolve(msg.result);
      return;
    }
    if (msg.method === 'Runtime.consoleAPICalled') {
      consoleLines.push(msg.params.args.map((a) => a.value ?? a.description ?? a.type).join(' '));
    } else if (msg.method === 'Runtime.exceptionThrown') {
      const d = msg.params.exceptionDetails;
      consoleLines.push(`exception: ${d.exception?.description ?? d.text}`);
    } else if (msg.method === 'Network.requestWillBeSent') {
      const { requestId, request } = msg.params;
      requests.set(requestId, {
        url: request.url,
        hasPostData: request.hasPostData,
        request: { method: request.method, headers: request.headers, postData: request.postData },
      });
    } else if (msg.method === 'Network.responseReceived') {
      const r = requests.get(msg.params.requestId);
      if (r) r.status = msg.params.response.status;
    } else if (msg.method === 'Network.loadingFinished' || msg.method === 'Network.loadingFailed') {
      finish(msg.params.requestId).catch((err) => consoleLines.push(`(network capture failed: ${err.message})`));
    }
  });
  await send('Runtime.enable');
  await send('Network.enable');
  return {
    /** Console lines of the worker since attaching. */
    console: consoleLines,
    /** Resolves with the first finished response {url, status, request} whose URL passes the test. */
    waitForResponse(test, ms = 30_000) {
      const seen = responses.find((r) => test(r.url));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error('no matching response from the SharedWorker'));
        }, ms);
        const w = (r) => {
          if (!test(r.url)) return;
          clearTimeout(timer);
          waiters.delete(w);
          resolve(r);
        };
        waiters.add(w);
      });
    },
    async detach() {
      await cdp.send('Target.detachFromTarget', { sessionId }).catch(() => {});
      await cdp.detach().catch(() => {});
    },
  };
}

/**
 * A new room's local part (prefix and a nonce) and bare JID on the MUC service of stack's Prosody.
 * @returns {{name: string, jid: string}}
 */
export function newRoom(stack, prefix) {
  const name = `${prefix}${nonce()}`;
  return { name, jid: `${name}@conference.${stack.prosody.domain}` };
}

/**
 * Creates a room with the create form of the page's <sparkweb-rooms>: by name (the element finds
 * the server's MUC service), with a title and a password if given.
 * @param {import('playwright-core').Page} page
 * @param {string} name
 * @param {{title?: string, password?: string}} [options]
 */
export async function createRoom(page, name, { title, password } = {}) {
  const rooms = page.locator('sparkweb-rooms');
  await rooms.getByText('Create a room').click();
  const form = rooms.locator('.create-form');
  await form.getByLabel('Room address').fill(name);
  if (title) await form.getByLabel('Name', { exact: true }).fill(title);
  if (password) await form.getByLabel('Password (optional)').fill(password);
  await rooms.getByRole('button', { name: 'Create' }).click();
}

/** Fills <sparkweb-login> and submits it. */
export async function login(page, { jid, password }) {
  const form = page.locator('sparkweb-login');
  await form.getByLabel('Address').fill(jid);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
}

/** Waits until <sparkweb-login> shows the signed-in account and returns the full JID it shows. */
export async function signedInJID(page, timeout = 30_000) {
  const who = page.locator('sparkweb-login [part~="jid"]');
  await who.waitFor({ state: 'visible', timeout });
  return (await who.textContent()).trim();
}

/** The page's client state (through the façade the elements use), as JSON. */
export function clientState(page) {
  return page.evaluate(async () => {
    const { connect } = await import('/webcomponents/sparkweb.js');
    return (await connect()).state;
  });
}

/** Opens the conversation with jid by clicking its roster entry. */
export async function openChat(page, jid) {
  await page.locator(`sparkweb-roster [role="treeitem"][data-jid="${jid}"]`).first().click();
  await page.locator(`sparkweb-chat[with="${jid}"] textarea:enabled`).waitFor({ timeout: 15_000 });
}

/** Types body into the open chat and sends it with Enter. */
export async function sendChat(page, body) {
  const input = page.locator('sparkweb-chat textarea');
  await input.fill(body);
  await input.press('Enter');
}

/** Waits until the open chat's log shows a message with exactly this body. */
export function waitForMessage(page, body, timeout = 15_000) {
  return page.locator('sparkweb-chat [part~="body"]', { hasText: body }).first().waitFor({ timeout });
}

/**
 * Serves a test page at `url` (a path on the relay's origin, so its tabs share the relay's
 * SharedWorker) to every page of `context`: it loads `modules` (paths such as
 * "/webcomponents/sparkweb-room.js"), holds the `body` markup, and marks `body[data-ready]` once
 * the modules ran. The page comes from the test, not the relay, so the relay's CSP does not apply.
 * @param {import('playwright-core').BrowserContext} context
 * @param {string} url absolute, without query
 * @param {{modules: string[], body: string, script?: string}} page script: more module code to run
 */
export async function routeTestPage(context, url, { modules, body, script = '' }) {
  const html = `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>test</title>
<script type="module">
${modules.map((m) => `import ${JSON.stringify(m)};`).join('\n')}
${script}
document.body.dataset.ready = 'yes';
</script>
<body>${body}</body></html>`;
  // Matched without query and fragment, so a test can pass parameters to its page.
  const page = (u) => u.origin + u.pathname === url;
  await context.route(page, (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html }));
}

/**
 * A fresh browser context of stack showing a test page (see routeTestPage) with <sparkweb-login>
 * first in its body, signed in as user. `query` is appended to the page's address.
 * @param {{browser: import('playwright-core').Browser, url: string}} stack from startStack()
 * @param {{jid: string, password: string}} user
 * @param {{path: string, modules: string[], body: string, script?: string, query?: string}} page
 * @returns {Promise<{page: import('playwright-core').Page, context: import('playwright-core').BrowserContext, errors: Error[]}>}
 *   errors collects the page's uncaught errors
 */
export async function openSignedIn(stack, user, { path, query = '', ...page }) {
  const context = await stack.browser.newContext();
  await routeTestPage(context, stack.url + path, {
    ...page,
    modules: ['/webcomponents/sparkweb-login.js', ...page.modules],
    body: '<sparkweb-login></sparkweb-login>' + page.body,
  });
  const { page: tab, errors } = await openPage(context, stack.url + path + query);
  await login(tab, user);
  await signedInJID(tab);
  return { page: tab, context, errors };
}

/**
 * Opens url in a new page of context and waits until its body has data-ready (see routeTestPage).
 * @param {import('playwright-core').BrowserContext} context
 * @param {string} url
 * @param {{errors?: Error[]}} [options] errors: where to collect the page's uncaught errors
 *   (default: a new array)
 * @returns {Promise<{page: import('playwright-core').Page, errors: Error[]}>}
 */
export async function openPage(context, url, { errors = [] } = {}) {
  const page = await context.newPage();
  page.on('pageerror', (err) => errors.push(err));
  await page.goto(url);
  await page.locator('body[data-ready="yes"]').waitFor({ state: 'attached', timeout: 10_000 });
  return { page, errors };
}

/**
 * Module code for a test page (routeTestPage's script): the page's client on window.client,
 * i18n.js on window.i18n, and the ops the page sends (not the façade's tab.* bookkeeping) on
 * window.calls as {op, args}, to see what the elements asked.
 */
export const CLIENT_SCRIPT = `
const { connect } = await import('/webcomponents/sparkweb.js');
window.client = await connect();
window.i18n = await import('/webcomponents/i18n.js');
window.calls = [];
const request = window.client.request.bind(window.client);
window.client.request = (op, args = {}) => {
  if (!op.startsWith('tab.')) window.calls.push({ op, args });
  return request(op, args);
};`;

/** Sends a request through the page's façade; resolves to the engine's result. */
export function request(page, op, args) {
  return page.evaluate(([op, args]) => import('/webcomponents/sparkweb.js').then((m) => m.connect()).then((c) => c.request(op, args)), [op, args]);
}

/**
 * Polls read() every 50 ms until its result has want's values (compared as JSON), and returns
 * it; after ms, fails with the last result against want.
 * @param {() => Promise<object>} read
 * @param {object} want
 */
export async function pollUntil(read, want, ms = 15_000) {
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  let last;
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    last = await read();
    if (Object.entries(want).every(([k, v]) => same(last[k], v))) return last;
  }
  assert.deepEqual(last, { ...last, ...want });
  return last;
}

/**
 * For a test that failed: logs what helps to see why: each page's view (show(page), if given), the
 * SharedWorker's console (inspectSharedWorker) and the end of the relay's output.
 * @param {{relay: {output: () => string}}} stack
 * @param {{pages?: ({page: import('playwright-core').Page}|undefined)[], show?: (page: import('playwright-core').Page) => Promise<string>,
 *   inspector?: {console: string[]}}} what
 */
export async function logFailure(stack, { pages = [], show, inspector } = {}) {
  if (show) for (const p of pages) if (p) console.log(`page:\n${await show(p.page).catch((err) => `(page gone: ${err.message})`)}`);
  if (inspector) console.log(`SharedWorker console:\n${inspector.console.join('\n')}`);
  console.log(`relay output:\n${stack.relay.output().slice(-5000)}`);
}

/**
 * Ends what a test opened, in the order given: detaches a SharedWorker inspector, closes a page's
 * browser context. Any of them may be undefined (the test failed before opening it).
 * @param {...({detach: () => Promise<void>}|{context: import('playwright-core').BrowserContext}|undefined)} opened
 */
export async function closeAll(...opened) {
  for (const x of opened) {
    if (x && 'detach' in x) await x.detach();
    else await x?.context.close();
  }
}

/** A random suffix that keeps message bodies of different runs apart. */
export function nonce() {
  return randomBytes(4).toString('hex');
}

const contentTypes = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
};

/**
 * Serves the repository's files on a free loopback port, for tests of the browser side without the
 * relay. `routes` maps a URL path to {status?, type?, body} and wins over files; the test may change
 * the object while the server runs, or give a function that returns the route for each request.
 * Like the relay, it allows static/sw.js the scope "/".
 * @param {Object<string, {status?: number, type?: string, body: string}|(() => {status?: number, type?: string, body: string})>} [routes]
 * @returns {Promise<{url: string, stop: () => Promise<void>}>}
 */
export async function serveFiles(routes = {}) {
  const server = createHTTPServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const route = typeof routes[path] === 'function' ? routes[path]() : routes[path];
    if (route) {
      res.writeHead(route.status ?? 200, {
        'content-type': route.type ?? contentTypes[extname(path)] ?? 'text/plain',
        'cache-control': 'no-store',
      });
      res.end(route.body);
      return;
    }
    const file = normalize(join(ROOT, path === '/' ? 'index.html' : path));
    if (!file.startsWith(ROOT + '/') || file.includes('node_modules')) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      const headers = { 'content-type': contentTypes[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' };
      if (path === '/static/sw.js') headers['service-worker-allowed'] = '/';
      res.writeHead(200, headers);
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  await new Promise((resolve, reject) => server.listen(0, '127.0.0.1', resolve).on('error', reject));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stop: () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections(); // the browser keeps connections alive
      }),
  };
}

/** Fails clearly when `make` has not produced the engine files a test serves. */
export function requireEngineBuild() {
  for (const f of ['static/engine.wasm', 'static/wasm_exec.js']) {
    if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: run \`make\` first`);
  }
}

/**
 * A TCP proxy on a free loopback port in front of `target` ("host:port"), for network faults the
 * browser cannot fake: cut() closes every connection and refuses new ones (the page and its
 * workers are offline; WebSockets drop), restore() listens again on the same port. hold() stops
 * forwarding in both directions without closing anything (a stalled network: bytes wait, nothing
 * is acknowledged), release() forwards what waited and goes on.
 * @param {string} target e.g. "127.0.0.1:8080"
 * @returns {Promise<{url: string, cut: () => Promise<void>, restore: () => Promise<void>,
 *   hold: () => void, release: () => void, stop: () => Promise<void>}>}
 */
export async function startProxy(target) {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const sockets = new Set();
  /** Each connection's two directions, as [from, to] pairs; unpiped while held. */
  const flows = new Set();
  let held = false;
  const server = createServer((client) => {
    const upstream = connect({ host, port });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {}); // a reset on one side just closes the pair
    }
    const pair = [
      [client, upstream],
      [upstream, client],
    ];
    for (const f of pair) {
      flows.add(f);
      if (!held) f[0].pipe(f[1]).on('error', () => {});
    }
    client.on('close', () => {
      upstream.destroy();
      for (const f of pair) flows.delete(f);
    });
    upstream.on('close', () => client.destroy());
  });
  const listenPort = await freePort();
  const listen = () =>
    new Promise((resolve, reject) => server.listen(listenPort, '127.0.0.1', resolve).once('error', reject));
  const close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  await listen();
  return {
    url: `http://127.0.0.1:${listenPort}`,
    cut: close,
    restore: listen,
    hold() {
      if (held) return;
      held = true;
      for (const [from, to] of flows) {
        from.unpipe(to);
        from.pause(); // unread bytes stay in the kernel: TCP pushes back on the sender
      }
    },
    release() {
      if (!held) return;
      held = false;
      for (const [from, to] of flows) from.pipe(to).on('error', () => {});
    },
    stop: () => (server.listening ? close() : Promise.resolve()),
  };
}
