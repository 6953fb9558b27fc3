// <sparkweb-status>: what the banner says in each session state, the pending count, the retry
// button, and its live regions; driven by the scripted engine of fake-engine.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { aliceSnapshot, emit, fakePage, requests, startFake } from './fake-engine.mjs';

let fake;
before(async () => {
  fake = await startFake(aliceSnapshot(), {
    '/status.html': fakePage(['sparkweb-status.js'], '<sparkweb-status delay="300"></sparkweb-status>'),
  });
});
after(() => fake?.close());

const outgoing = (id, state) => ({
  id, from: 'alice@localhost/web', to: 'bob@localhost', with: 'bob@localhost', body: 'hi ' + id,
  timestamp: new Date().toISOString(), outgoing: true, state,
});

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
async function until(page, want, ms = 5_000) {
  let last;
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    last = await shown(page);
    if (Object.entries(want).every(([k, v]) => last[k] === v)) return last;
  }
  assert.deepEqual(last, { ...last, ...want });
  return last;
}

test('online with nothing pending shows nothing; a pending message shows only once it lasts', { timeout: 60_000 }, async () => {
  const { page, context, errors } = await fake.open('/status.html');
  try {
    assert.deepEqual(await shown(page), {
      active: false, state: 'online', visible: false, status: '', alert: '', pending: '', retry: null,
    });
    // Sent and acknowledged within the delay: never shown.
    await emit(page, 'message', outgoing('m1', 'pending'));
    await emit(page, 'message', outgoing('m1', 'sent'));
    await new Promise((r) => setTimeout(r, 600));
    assert.equal((await shown(page)).active, false, 'a message acknowledged at once does not flash the banner');

    await emit(page, 'message', outgoing('m2', 'pending'));
    assert.equal((await shown(page)).pending, '', 'not at once while online');
    await until(page, { active: true, visible: true, pending: '1 message waiting to be sent.' });
    await emit(page, 'message', outgoing('m3', 'pending'));
    await until(page, { pending: '2 messages waiting to be sent.' });
    await emit(page, 'message', outgoing('m2', 'sent'));
    await emit(page, 'message', outgoing('m3', 'delivered'));
    await until(page, { active: false, visible: false, pending: '' });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('connecting, reconnecting with retry, auth-failed, no network', { timeout: 60_000 }, async () => {
  const { page, context, errors } = await fake.open('/status.html');
  try {
    await emit(page, 'session', { state: 'connecting', jid: 'alice@localhost' });
    await until(page, { state: 'connecting', status: 'Connecting…', retry: null, active: true, visible: true });

    // Reconnecting: the count shows at once, and the button asks the engine to retry now.
    await emit(page, 'message', outgoing('p1', 'pending'));
    await emit(page, 'session', { state: 'reconnecting', jid: 'alice@localhost/web', error: { code: 'server-unreachable', message: 'connection lost' } });
    await until(page, {
      state: 'reconnecting', status: 'Connection lost. Reconnecting…', pending: '1 message waiting to be sent.', retry: 'Retry now',
    });
    const retry = page.locator('sparkweb-status').getByRole('button', { name: 'Retry now' });
    await retry.focus();
    await page.keyboard.press('Enter');
    await until(page, { status: 'Trying to reconnect…' });
    assert.deepEqual(await requests(page, 'session.reconnect'), [{ op: 'session.reconnect', args: {} }]);
    assert.equal(await retry.getAttribute('aria-disabled'), 'true');
    // The next session event ends the retry.
    await emit(page, 'session', { state: 'reconnecting', jid: 'alice@localhost/web' });
    await until(page, { status: 'Connection lost. Reconnecting…' });

    // Refused credentials are an alert, not a status.
    await emit(page, 'session', { state: 'auth-failed', jid: 'alice@localhost', error: { code: 'not-authorized', message: 'x' } });
    await until(page, { state: 'auth-failed', status: '', alert: 'The server no longer accepts the saved sign-in. Sign in again.', retry: null });

    // The browser's network goes away while not online.
    await emit(page, 'session', { state: 'reconnecting', jid: 'alice@localhost/web' });
    await context.setOffline(true);
    await until(page, { state: 'no-network', status: 'No network connection.' });
    await context.setOffline(false);
    await until(page, { state: 'reconnecting' });

    // Online again, the message sent: nothing to show.
    await emit(page, 'message', outgoing('p1', 'sent'));
    await emit(page, 'session', { state: 'online', jid: 'alice@localhost/web' });
    await until(page, { active: false, visible: false, status: '', alert: '', pending: '' });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('strings: page-wide and per element', { timeout: 60_000 }, async () => {
  const { page, context, errors } = await fake.open('/status.html');
  try {
    await emit(page, 'session', { state: 'reconnecting', jid: 'alice@localhost/web' });
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
    await context.close();
  }
});
