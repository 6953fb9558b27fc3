// Web Push in the browser: static/sw.js turns pushes into notifications (one per conversation,
// none for a chat on screen) and opens the chat on a click; <sparkweb-notifications> turns push on
// and off. Real Chromium with a real profile (Playwright's default contexts are incognito, where
// Chromium has no Push API), the real service worker and engine; pushes come through CDP
// ServiceWorker.deliverPushMessage, as no push service is reachable from here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, serveFiles, requireEngineBuild, startProsody, startRelay, login, signedInJID } from './harness.mjs';

/** A VAPID public key as the relay serves it: an uncompressed P-256 point, base64url. */
const VAPID_KEY = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .publicKey.export({ format: 'jwk' });
const VAPID_PUBLIC = Buffer.concat([Buffer.from([4]), Buffer.from(VAPID_KEY.x, 'base64url'), Buffer.from(VAPID_KEY.y, 'base64url')]).toString('base64url');

/** What GET /api/push/vapid answers; tests replace it. */
let vapid = { body: JSON.stringify({ publicKey: VAPID_PUBLIC }) };

let server;
let ctx;
let profile;
before(async () => {
  requireEngineBuild();
  server = await serveFiles({
    '/api/push/vapid': () => vapid,
    // A page of the app's origin and scope that never answers the service worker.
    '/silent.html': { type: 'text/html', body: '<!doctype html><title>silent</title>' },
    // A page showing bob's chat whoever is signed in (the demo shows chats only when signed in).
    '/bob.html': {
      type: 'text/html',
      body: `<!doctype html><title>bob</title>
<script type="module">
  import { registerServiceWorker } from '/webcomponents/sparkweb.js';
  import '/webcomponents/sparkweb-chat.js';
  registerServiceWorker();
</script>
<sparkweb-chat with="bob@localhost"></sparkweb-chat>`,
    },
  });
  profile = await mkdtemp(join(tmpdir(), 'sparkweb-push-profile-'));
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    headless: true,
  });
  await ctx.grantPermissions(['notifications'], { origin: server.url });
});
after(async () => {
  await ctx?.close().catch(() => {});
  await server?.stop();
  if (profile) await rm(profile, { recursive: true, force: true });
});

/** Opens the demo at path and waits until the service worker controls it. */
async function openApp(path = '/') {
  const page = await ctx.newPage();
  await page.goto(server.url + path);
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    for (let i = 0; i < 100 && !navigator.serviceWorker.controller; i++) await new Promise((r) => setTimeout(r, 50));
    if (!navigator.serviceWorker.controller) throw new Error('the service worker did not take control');
  });
  return page;
}

/** The app's running service worker, as a Playwright Worker (evaluate runs in its global scope). */
async function serviceWorker() {
  const sw = ctx.serviceWorkers().find((w) => w.url().startsWith(server.url + '/static/sw.js'));
  return sw ?? ctx.waitForEvent('serviceworker', { predicate: (w) => w.url().startsWith(server.url), timeout: 10_000 });
}

/** A CDP session of page that can deliver pushes to the app's service worker registration. */
async function pusher(page) {
  const cdp = await ctx.newCDPSession(page);
  const scope = server.url + '/';
  let registrationId;
  const seen = new Promise((resolve) =>
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      const r = registrations.find((x) => x.scopeURL === scope && !x.isDeleted);
      if (r) resolve((registrationId = r.registrationId));
    }),
  );
  await cdp.send('ServiceWorker.enable');
  await Promise.race([seen, new Promise((_, reject) => setTimeout(() => reject(new Error('no service worker registration reported')), 10_000))]);
  return {
    /** Delivers one push with this payload (an object is sent as JSON, a string as it is). */
    push: (data) =>
      cdp.send('ServiceWorker.deliverPushMessage', {
        origin: server.url,
        registrationId,
        data: typeof data === 'string' ? data : JSON.stringify(data),
      }),
    detach: () => cdp.detach().catch(() => {}),
  };
}

/** The registration's notifications, as plain objects. */
function notifications(page) {
  return page.evaluate(async () =>
    (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data })),
  );
}

async function closeNotifications(page) {
  await page.evaluate(async () => {
    for (const n of await (await navigator.serviceWorker.ready).getNotifications()) n.close();
  });
}

/** Waits until the notifications pass test, or fails with what was last seen. */
async function waitForNotifications(page, test, what, ms = 10_000) {
  let last;
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    last = await notifications(page);
    if (test(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${what}; notifications: ${JSON.stringify(last)}`);
}

test('a push shows a notification: sender, body, one tag per conversation', { timeout: 60_000 }, async (t) => {
  const page = await openApp('/');
  const { push, detach } = await pusher(page);
  t.after(async () => {
    await detach();
    await page.close();
  });
  const cases = [
    {
      name: 'sender and body; the resource is dropped',
      data: { type: 'message', from: 'bob@localhost/phone', body: 'hello there', count: 1 },
      want: { title: 'bob@localhost', body: 'hello there', tag: 'sparkweb:bob@localhost', data: { from: 'bob@localhost' } },
    },
    {
      name: 'no sender, no body: generic',
      data: { type: 'message', count: 1 },
      want: { title: 'SparkWeb', body: 'New message', tag: 'sparkweb:', data: { from: '' } },
    },
    {
      name: 'no body, a count',
      data: { type: 'message', from: 'carol@localhost', count: 3 },
      want: { title: 'carol@localhost', body: '3 new messages', tag: 'sparkweb:carol@localhost', data: { from: 'carol@localhost' } },
    },
    {
      name: 'body and a count',
      data: { type: 'message', from: 'carol@localhost', body: 'and another', count: 2 },
      want: { title: 'carol@localhost', body: 'and another\n(2 new messages)', tag: 'sparkweb:carol@localhost', data: { from: 'carol@localhost' } },
    },
    {
      name: 'not JSON: still a notification',
      data: 'this is not json',
      want: { title: 'SparkWeb', body: 'New message', tag: 'sparkweb:', data: { from: '' } },
    },
    {
      name: 'wrong types: still a notification',
      data: { type: 'message', from: 42, body: ['x'], count: -1 },
      want: { title: 'SparkWeb', body: 'New message', tag: 'sparkweb:', data: { from: '' } },
    },
  ];
  for (const c of cases) {
    await closeNotifications(page);
    await push(c.data);
    const [got] = await waitForNotifications(page, (list) => list.length === 1, `${c.name}: one notification`);
    assert.deepEqual(got, c.want, c.name);
  }
});

test('pushes of one conversation collapse into one notification', { timeout: 60_000 }, async (t) => {
  const page = await openApp('/');
  const { push, detach } = await pusher(page);
  t.after(async () => {
    await detach();
    await page.close();
  });
  await closeNotifications(page);
  await push({ type: 'message', from: 'bob@localhost', body: 'one', count: 1 });
  await waitForNotifications(page, (list) => list.some((n) => n.body === 'one'), 'the first push shows');
  await push({ type: 'message', from: 'bob@localhost', body: 'two', count: 2 });
  await push({ type: 'message', from: 'carol@localhost', body: 'other chat', count: 1 });
  const list = await waitForNotifications(
    page,
    (l) => l.some((n) => n.body.startsWith('two')) && l.some((n) => n.body === 'other chat'),
    'the second push of bob and the push of carol show',
  );
  assert.deepEqual(list.map((n) => n.tag).sort(), ['sparkweb:bob@localhost', 'sparkweb:carol@localhost'], 'one notification per conversation');
  assert.equal(list.find((n) => n.tag === 'sparkweb:bob@localhost').body, 'two\n(2 new messages)', "bob's newest push replaced his first");
});

test('no notification for the chat a focused tab shows', { timeout: 60_000 }, async (t) => {
  const page = await openApp('/bob.html');
  const { push, detach } = await pusher(page);
  t.after(async () => {
    await detach();
    await page.close();
  });
  // Preconditions: the page shows bob's chat and the tab counts as focused.
  assert.equal(await page.locator('sparkweb-chat').getAttribute('with'), 'bob@localhost');
  const sw = await serviceWorker();
  const windows = await sw.evaluate(async () =>
    (await self.clients.matchAll({ type: 'window', includeUncontrolled: true })).map((c) => ({ url: c.url, focused: c.focused, visible: c.visibilityState })),
  );
  assert.ok(
    windows.some((w) => w.url.endsWith('/bob.html') && w.focused && w.visible === 'visible'),
    `the tab is focused and visible: ${JSON.stringify(windows)}`,
  );
  await closeNotifications(page);
  // Count the service worker's questions, to know when it has decided about bob's push.
  await page.evaluate(() => {
    window.asked = 0;
    navigator.serviceWorker.addEventListener('message', (e) => {
      if (e.data?.type === 'sparkweb:shown-chats') window.asked++;
    });
  });
  await push({ type: 'message', from: 'bob@localhost/laptop', body: 'you see this already', count: 1 });
  await page.waitForFunction(() => window.asked >= 1, null, { timeout: 10_000 });
  // Another conversation is not on screen: it shows. By then bob's push was long decided.
  await push({ type: 'message', from: 'carol@localhost', body: 'not on screen', count: 1 });
  const list = await waitForNotifications(page, (l) => l.some((n) => n.body === 'not on screen'), "carol's push shows");
  assert.deepEqual(list.map((n) => n.tag), ['sparkweb:carol@localhost'], 'no notification for the chat on screen');
});

test('a tab that does not answer does not hold a notification back', { timeout: 60_000 }, async (t) => {
  await (await openApp('/')).close(); // the service worker is registered; only the silent page stays
  const page = await ctx.newPage();
  await page.goto(server.url + '/silent.html');
  const { push, detach } = await pusher(page);
  t.after(async () => {
    await detach();
    await page.close();
  });
  await closeNotifications(page);
  await push({ type: 'message', from: 'frank@localhost', body: 'still shown', count: 1 });
  const list = await waitForNotifications(page, (l) => l.length > 0, 'the push shows after the unanswered question');
  assert.deepEqual(list.map((n) => n.body), ['still shown']);
});

test('a click on a notification opens that chat in the open tab', { timeout: 60_000 }, async (t) => {
  const page = await openApp('/');
  const { push, detach } = await pusher(page);
  t.after(async () => {
    await detach();
    await page.close();
  });
  await closeNotifications(page);
  await push({ type: 'message', from: 'dave@localhost', body: 'look', count: 1 });
  await waitForNotifications(page, (l) => l.some((n) => n.tag === 'sparkweb:dave@localhost'), 'the push shows');
  // CDP cannot click a notification: dispatch the event the browser would, in the worker itself.
  // (Without a real click Chromium refuses focus() and openWindow(); the handler copes with that.)
  const sw = await serviceWorker();
  await sw.evaluate(async () => {
    const [n] = await self.registration.getNotifications({ tag: 'sparkweb:dave@localhost' });
    self.dispatchEvent(new NotificationEvent('notificationclick', { notification: n }));
  });
  await page.waitForFunction(() => document.querySelector('sparkweb-chat')?.getAttribute('with') === 'dave@localhost', null, { timeout: 10_000 });
  assert.equal(new URL(page.url()).hash, '#chat=dave@localhost', 'the address names the open chat');
  await waitForNotifications(page, (l) => !l.some((n) => n.tag === 'sparkweb:dave@localhost'), 'the clicked notification is closed');
});

test('with no tab open, a click opens the app at that chat', { timeout: 60_000 }, async () => {
  const page = await openApp('/');
  const { push, detach } = await pusher(page);
  await closeNotifications(page);
  await push({ type: 'message', from: 'erin@localhost', body: 'come back', count: 1 });
  await waitForNotifications(page, (l) => l.some((n) => n.tag === 'sparkweb:erin@localhost'), 'the push shows');
  await detach();
  const sw = await serviceWorker();
  const lines = [];
  sw.on('console', (m) => lines.push(m.text()));
  await page.close();
  const want = `${server.url}/#chat=erin@localhost`;
  // Without a real click Chromium refuses openWindow() (it needs the click's user activation):
  // then the worker says which address it tried; with one, the tab opens.
  const opened = ctx.waitForEvent('page', { predicate: (p) => p.url() === want, timeout: 10_000 }).then(
    (p) => `opened ${p.url()}`,
    () => null,
  );
  await sw.evaluate(async () => {
    const [n] = await self.registration.getNotifications({ tag: 'sparkweb:erin@localhost' });
    self.dispatchEvent(new NotificationEvent('notificationclick', { notification: n }));
  });
  const tried = async () => {
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
      const line = lines.find((l) => l.includes('cannot open'));
      if (line) return line;
      await new Promise((r) => setTimeout(r, 50));
    }
    return null;
  };
  const outcome = await Promise.race([opened, tried()]);
  assert.ok(outcome?.includes(want), `the worker opens ${want}; saw: ${outcome} / ${lines.join(' | ')}`);
  // The address it opens shows that chat.
  const again = await openApp('/#chat=erin@localhost');
  try {
    assert.equal(await again.locator('sparkweb-chat').getAttribute('with'), 'erin@localhost');
  } finally {
    await again.close();
  }
});

/** The toggle's visible state: {state, pressed, status}. */
async function toggleState(page) {
  const el = page.locator('sparkweb-notifications');
  return {
    state: await el.getAttribute('state'),
    pressed: await el.getByRole('button').getAttribute('aria-pressed'),
    status: (await el.getByRole('status').textContent()).trim(),
  };
}

/** Waits until the toggle leaves the state "asking" and returns what it shows. */
async function settled(page, ms = 25_000) {
  await page.waitForFunction(() => {
    const s = document.querySelector('sparkweb-notifications')?.getAttribute('state');
    return s && s !== 'asking';
  }, null, { timeout: ms });
  return toggleState(page);
}

test('turning on without a reachable push service ends in a clear error, not a hang', { timeout: 60_000 }, async (t) => {
  vapid = { body: JSON.stringify({ publicKey: VAPID_PUBLIC }) };
  const page = await openApp('/');
  t.after(() => page.close());
  assert.deepEqual(await toggleState(page), { state: 'off', pressed: 'false', status: 'Off' });
  // From the keyboard: the toggle is a real button.
  await page.locator('sparkweb-notifications').getByRole('button', { name: 'Notifications' }).focus();
  await page.keyboard.press('Enter');
  assert.equal((await toggleState(page)).state, 'asking', 'it shows that it is working');
  // pushManager.subscribe() never settles here; the element gives up after its 10 s timeout.
  const started = Date.now();
  const shown = await settled(page);
  assert.deepEqual(shown, { state: 'error', pressed: 'false', status: 'Push service unreachable.' });
  const subscription = await page.evaluate(async () => !!(await (await navigator.serviceWorker.ready).pushManager.getSubscription()));
  assert.equal(subscription, false, 'no subscription is left behind');
  t.diagnostic(`error shown ${Date.now() - started} ms after the permission`);
});

test('a missing or broken VAPID key is reported before subscribing', { timeout: 60_000 }, async (t) => {
  const page = await openApp('/');
  t.after(() => page.close());
  const cases = [
    { name: 'relay without push', vapid: { status: 404, body: 'not found' }, status: 'This server does not offer notifications.' },
    { name: 'not a key', vapid: { body: JSON.stringify({ publicKey: 'abc' }) }, status: 'The server sent an invalid push key.' },
    { name: 'not JSON', vapid: { body: '<html>' }, status: 'The server sent an invalid push key.' },
    { name: 'server error', vapid: { status: 500, body: 'boom' }, status: 'Could not turn on notifications: /api/push/vapid: HTTP 500' },
  ];
  for (const c of cases) {
    vapid = c.vapid;
    await page.locator('sparkweb-notifications').getByRole('button').click();
    // Well under the 10 s subscribe timeout: the key is checked first.
    assert.deepEqual(await settled(page, 5_000), { state: 'error', pressed: 'false', status: c.status }, c.name);
  }
  vapid = { body: JSON.stringify({ publicKey: VAPID_PUBLIC }) };
});

test('the engine gets the subscription; its refusal undoes the subscription', { timeout: 60_000 }, async (t) => {
  // No push service is reachable, so the browser's subscribe() is replaced in this page by one that
  // returns a subscription-shaped object; everything after it (façade, engine) is real.
  const page = await ctx.newPage();
  t.after(() => page.close());
  await page.addInitScript(() => {
    window.unsubscribed = 0;
    PushManager.prototype.subscribe = async function (options) {
      window.subscribeOptions = { userVisibleOnly: options.userVisibleOnly, keyLength: new Uint8Array(options.applicationServerKey).length };
      const json = { endpoint: 'https://push.example/abc', expirationTime: null, keys: { p256dh: 'BPk', auth: 'c2VjcmV0' } };
      return { endpoint: json.endpoint, options, toJSON: () => json, unsubscribe: async () => ++window.unsubscribed > 0 };
    };
  });
  await page.goto(server.url + '/');
  await page.evaluate(async () => {
    const { connect } = await import('/webcomponents/sparkweb.js');
    const client = await connect();
    window.requests = [];
    const request = client.request.bind(client);
    client.request = (op, args) => {
      window.requests.push({ op, args });
      return request(op, args);
    };
  });
  await page.locator('sparkweb-notifications').getByRole('button').click();
  const shown = await settled(page);
  const { requests, subscribeOptions, unsubscribed } = await page.evaluate(() => ({
    requests: window.requests,
    subscribeOptions: window.subscribeOptions,
    unsubscribed: window.unsubscribed,
  }));
  assert.deepEqual(subscribeOptions, { userVisibleOnly: true, keyLength: 65 });
  assert.deepEqual(requests, [
    { op: 'push.register', args: { subscription: { endpoint: 'https://push.example/abc', expirationTime: null, keys: { p256dh: 'BPk', auth: 'c2VjcmV0' } } } },
  ]);
  // Nobody is signed in: the engine refuses with not-connected; the element says so and unsubscribes.
  assert.deepEqual(shown, { state: 'error', pressed: 'false', status: 'Sign in first.' });
  assert.equal(unsubscribed, 1, 'the subscription the engine refused is undone');
});

test('strings are replaceable and state is styleable', { timeout: 30_000 }, async (t) => {
  const page = await openApp('/');
  t.after(() => page.close());
  await page.evaluate(() => {
    document.querySelector('sparkweb-notifications').strings = { button: 'Benachrichtigungen', off: 'Aus' };
  });
  const el = page.locator('sparkweb-notifications');
  assert.equal((await el.getByRole('button').textContent()).trim(), 'Benachrichtigungen');
  assert.equal((await el.getByRole('status').textContent()).trim(), 'Aus');
  const parts = await page.evaluate(() =>
    [...document.querySelector('sparkweb-notifications').shadowRoot.querySelectorAll('[part]')].map((e) => e.getAttribute('part')),
  );
  assert.deepEqual(parts, ['button', 'status']);
});

test('denied permission is shown as blocked', { timeout: 30_000 }, async (t) => {
  // Another origin, without the grant: headless Chromium denies the request.
  const other = await serveFiles({ '/api/push/vapid': { body: JSON.stringify({ publicKey: VAPID_PUBLIC }) } });
  const page = await ctx.newPage();
  t.after(async () => {
    await page.close();
    await other.stop();
  });
  await page.goto(other.url + '/');
  await page.locator('sparkweb-notifications').getByRole('button').click();
  assert.deepEqual(await settled(page, 10_000), {
    state: 'denied',
    pressed: 'false',
    status: 'Blocked: allow notifications for this site in the browser settings.',
  });
});

test('signing out turns notifications off in this browser', { timeout: 120_000 }, async (t) => {
  // Real Prosody and relay for a real login and logout. The browser's subscription is a stand-in
  // (no push service is reachable), present from the start, so the toggle starts "on".
  const prosody = await startProsody();
  t.after(() => prosody.stop());
  const relay = await startRelay({ upstream: prosody.wsURL, domain: prosody.domain });
  t.after(() => relay.stop());
  await ctx.grantPermissions(['notifications'], { origin: relay.url });
  const page = await ctx.newPage();
  t.after(() => page.close());
  await page.addInitScript(() => {
    window.unsubscribed = 0;
    const subscription = {
      endpoint: 'https://push.example/alice',
      unsubscribe: async () => {
        window.unsubscribed++;
        current = null;
        return true;
      },
    };
    let current = subscription;
    PushManager.prototype.getSubscription = async () => current;
  });
  await page.goto(relay.url + '/');
  // A subscription implies a registered service worker: the first visit registers it.
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.reload();
  await page.locator('sparkweb-notifications[state="on"]').waitFor({ timeout: 10_000 });
  await login(page, prosody.users.alice);
  await signedInJID(page);
  assert.equal((await toggleState(page)).state, 'on', 'signing in changes nothing');
  await page.locator('sparkweb-login').getByRole('button', { name: 'Sign out' }).click();
  await page.locator('sparkweb-notifications[state="off"]').waitFor({ timeout: 10_000 });
  assert.deepEqual(await toggleState(page), { state: 'off', pressed: 'false', status: 'Off' });
  assert.equal(await page.evaluate(() => window.unsubscribed), 1, "the browser's subscription is gone");
});
