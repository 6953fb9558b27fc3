// <sparkweb-status>: what the banner says in each session state, the pending count, the retry
// button, and its live regions. Real Prosody, relay and engine; a TCP proxy between the relay and
// Prosody stalls the network (hold: streams stay open, nothing is acknowledged) or cuts it, and
// the account's password is changed on the server for a refused silent re-login.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startStack, routeTestPage, openPage, CLIENT_SCRIPT, request, pollUntil, addUser, ROOT } from './harness.mjs';

let stack;
before(async () => {
  stack = await startStack({ upstreamProxy: true });
});
after(() => stack?.close());

const PAGE = '/status.html';
/** How long a message may stay pending while online before the banner counts it (the attribute). */
const DELAY = 1500;

/**
 * A fresh browser context with the status page: the banner alone, the page's client on
 * window.client, the ops the page sent (tab.* bookkeeping aside) on window.calls, and every text
 * the status region and the retry button showed on window.seen.
 */
async function open() {
  const context = await stack.browser.newContext();
  await routeTestPage(context, stack.url + PAGE, {
    modules: ['/webcomponents/sparkweb-status.js'],
    body: `<sparkweb-status delay="${DELAY}"></sparkweb-status>`,
    script: `${CLIENT_SCRIPT}
const el = document.querySelector('sparkweb-status');
window.seen = [];
const record = () => {
  const root = el.shadowRoot;
  const retry = root.querySelector('[part="retry"]');
  window.seen.push({ active: el.hasAttribute('active'), status: root.querySelector('[role="status"].message').textContent,
    retryDisabled: retry.getAttribute('aria-disabled') });
};
new MutationObserver(record).observe(el, { attributes: true });
new MutationObserver(record).observe(el.shadowRoot, { subtree: true, childList: true, characterData: true, attributes: true });`,
  });
  return { ...(await openPage(context, stack.url + PAGE)), context };
}

/** The state of our message with this id, as the page's client mirrors it. */
const messageState = (page, id) =>
  page.evaluate((id) => Object.values(window.client.state.conversations).flat().find((m) => m.id === id)?.state, id);

async function signIn(page, user) {
  await request(page, 'session.login', user);
  await until(page, { state: 'online' }, 30_000);
}

/** What the banner shows: visible text of each region, the retry button, the host's attributes. */
function shown(page) {
  return page.evaluate(() => {
    const el = document.querySelector('sparkweb-status');
    const root = el.shadowRoot;
    const text = (sel) => root.querySelector(sel).textContent;
    return {
      active: el.hasAttribute('active'),
      state: el.getAttribute('state'),
      visible: root.querySelector('[part="banner"]').checkVisibility(),
      status: text('[role="status"].message'),
      alert: text('[role="alert"]'),
      pending: text('[part="pending"]'),
      retry: root.querySelector('[part="retry"]').hidden ? null : root.querySelector('[part="retry"]').textContent,
    };
  });
}

/** Polls shown() until it matches want (a subset), or fails with the last value. */
const until = (page, want, ms) => pollUntil(() => shown(page), want, ms);

test('online with nothing pending shows nothing; a pending message shows only once it lasts', { timeout: 90_000 }, async () => {
  const { alice, bob } = stack.users;
  const { page, context, errors } = await open();
  try {
    await signIn(page, alice);
    assert.deepEqual(await shown(page), {
      active: false, state: 'online', visible: false, status: '', alert: '', pending: '', retry: null,
    });
    // Sent and acknowledged by the server within the delay: never shown.
    await page.evaluate(() => (window.seen.length = 0));
    const { id: m1 } = await request(page, 'chat.send', { to: bob.jid, body: 'm1' });
    await page.waitForFunction((id) => Object.values(window.client.state.conversations).flat().some((m) => m.id === id && m.state === 'sent'), m1);
    await new Promise((r) => setTimeout(r, DELAY + 300));
    assert.equal((await shown(page)).active, false);
    assert.ok(!(await page.evaluate(() => window.seen.some((s) => s.active))), 'a message acknowledged at once does not flash the banner');

    // The network stalls: what is sent now stays pending while the session is still online.
    stack.upstream.hold();
    try {
      const { id: m2 } = await request(page, 'chat.send', { to: bob.jid, body: 'm2' });
      assert.equal(await messageState(page, m2), 'pending');
      assert.equal((await shown(page)).pending, '', 'not at once while online');
      await until(page, { state: 'online', active: true, visible: true, pending: '1 message waiting to be sent.' });
      await request(page, 'chat.send', { to: bob.jid, body: 'm3' });
      await until(page, { pending: '2 messages waiting to be sent.' });
    } finally {
      stack.upstream.release();
    }
    await until(page, { active: false, visible: false, pending: '' });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('connecting, reconnecting with retry, no network, auth-failed, online again', { timeout: 120_000 }, async () => {
  // An account of its own: its password changes.
  const dave = await addUser(stack.prosody, 'dave');
  const { bob } = stack.users;
  const { page, context, errors } = await open();
  try {
    // Signing in while the network stalls: connecting lasts.
    stack.upstream.hold();
    let login;
    try {
      login = request(page, 'session.login', dave);
      login.catch(() => {}); // awaited below
      await until(page, { state: 'connecting', status: 'Connecting…', retry: null, active: true, visible: true });
    } finally {
      stack.upstream.release();
    }
    await login;
    await until(page, { state: 'online', active: false });

    // The connection drops: reconnecting, and a message sent now is counted at once.
    await stack.upstream.cut();
    await until(page, { state: 'reconnecting', status: 'Connection lost. Reconnecting…', retry: 'Retry now' });
    const { id: p1 } = await request(page, 'chat.send', { to: bob.jid, body: 'p1' });
    await until(page, { pending: '1 message waiting to be sent.' });

    // The button asks the engine to retry now; the next session event (that attempt failing) ends it.
    await page.evaluate(() => {
      window.calls.length = 0;
      window.seen.length = 0;
    });
    const retry = page.locator('sparkweb-status').getByRole('button', { name: 'Retry now' });
    await retry.focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => window.seen.some((s) => s.status === 'Trying to reconnect…' && s.retryDisabled === 'true'));
    assert.deepEqual(await page.evaluate(() => window.calls), [{ op: 'session.reconnect', args: {} }]);
    await until(page, { status: 'Connection lost. Reconnecting…' });
    assert.equal(await retry.getAttribute('aria-disabled'), 'false');

    // The browser's network goes away while not online.
    await context.setOffline(true);
    await until(page, { state: 'no-network', status: 'No network connection.' });
    await context.setOffline(false);
    await until(page, { state: 'reconnecting' });

    // The password changed on the server: the silent re-login is refused, which is an alert.
    const password = randomBytes(12).toString('hex');
    await promisify(execFile)(join(ROOT, 'testenv', 'prosody.sh'), ['passwd', stack.prosody.dir, 'dave', password]);
    await stack.upstream.restore();
    await request(page, 'session.reconnect');
    await until(page, {
      state: 'auth-failed', status: '', alert: 'The server no longer accepts the saved sign-in. Sign in again.', retry: null,
    }, 60_000);

    // Signed in again: online, the message sent, nothing to show.
    await request(page, 'session.login', { jid: dave.jid, password });
    await until(page, { state: 'online', active: false, visible: false, status: '', alert: '', pending: '' }, 30_000);
    assert.equal(await messageState(page, p1), 'sent', 'the waiting message went out');
    assert.deepEqual(errors, []);
  } finally {
    stack.upstream.release();
    await stack.upstream.restore().catch(() => {}); // already listening unless the test failed before
    await context.close();
  }
});

test('strings: page-wide and per element', { timeout: 90_000 }, async () => {
  const { page, context, errors } = await open();
  try {
    await signIn(page, stack.users.alice);
    await stack.upstream.cut();
    await until(page, { status: 'Connection lost. Reconnecting…' });
    await page.evaluate(() =>
      window.i18n.setStrings({ 'status.reconnecting': 'Verbindung verloren…', 'status.retry': 'Jetzt versuchen' }),
    );
    await until(page, { status: 'Verbindung verloren…', retry: 'Jetzt versuchen' });
    await page.evaluate(() => {
      document.querySelector('sparkweb-status').strings = { 'status.retry': 'Nochmal' };
    });
    await until(page, { retry: 'Nochmal' });
    await page.evaluate(() => window.i18n.setStrings({ 'status.reconnecting': null }));
    await until(page, { status: 'Connection lost. Reconnecting…' });
    assert.deepEqual(errors, []);
  } finally {
    await stack.upstream.restore().catch(() => {});
    await context.close();
  }
});
