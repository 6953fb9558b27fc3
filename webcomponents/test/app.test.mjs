// <sparkweb-app>: composition, signed-in and signed-out views, the open conversation kept in the
// address, the one-pane layout of narrow screens with its keyboard way back. Real Prosody, relay
// and engine (alice, with bob in her roster); a TCP proxy between the relay and Prosody cuts the
// connection for the reconnecting view. Room and rooms events that need a room the test does not
// create are dispatched as those elements dispatch them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, routeTestPage, openPage, pollUntil, login } from './harness.mjs';

let stack;
before(async () => {
  stack = await startStack({ upstreamProxy: true });
});
after(() => stack?.close());

const PAGE = '/app.html';

/** A fresh context (one engine) showing the app, signed in as alice, both panes there. */
async function open(contextOptions) {
  const context = await stack.browser.newContext(contextOptions);
  await routeTestPage(context, stack.url + PAGE, {
    modules: ['/webcomponents/sparkweb-app.js'],
    body: '<sparkweb-app no-service-worker></sparkweb-app>',
  });
  const { page, errors } = await openPage(context, stack.url + PAGE);
  await login(page, stack.users.alice);
  await until(page, { signin: false, loginSlot: 'account' }, 30_000);
  return { page, context, errors };
}

/** Which parts of the app are visible, and where the pieces are. */
function layout(page) {
  return page.evaluate(() => {
    const app = document.querySelector('sparkweb-app');
    const root = app.shadowRoot;
    const visible = (el) => !!el && el.checkVisibility();
    const child = (tag) => app.querySelector(`:scope > ${tag}`);
    return {
      hash: location.hash,
      signin: visible(root.querySelector('[part="signin"]')),
      panes: visible(root.querySelector('[part="panes"]')),
      sidebar: visible(root.querySelector('[part="sidebar"]')),
      main: visible(root.querySelector('[part="main"]')),
      back: visible(root.querySelector('[part="back"]')),
      placeholder: visible(root.querySelector('[part="placeholder"]')),
      loginSlot: child('sparkweb-login')?.slot,
      chat: visible(child('sparkweb-chat')) ? child('sparkweb-chat').getAttribute('with') : null,
      room: visible(child('sparkweb-room')) ? child('sparkweb-room').getAttribute('room') : null,
      profile: visible(child('sparkweb-profile')),
      view: app.view,
    };
  });
}

/** Waits until layout() shows want (a subset). */
const until = (page, want, ms) => pollUntil(() => layout(page), want, ms);

/** Selects a contact in the roster, as a user does. */
const select = (page, jid) => page.locator(`sparkweb-roster [role="treeitem"][data-jid="${jid}"]`).first().click();

test('app: composes the elements; a selected contact opens its chat and goes into the address', { timeout: 90_000 }, async () => {
  const { page, context, errors } = await open({ viewport: { width: 1100, height: 700 } });
  try {
    const first = await until(page, { signin: false, panes: true, sidebar: true, main: true, placeholder: true, loginSlot: 'account' });
    assert.equal(first.back, false, 'no back button when both panes fit');
    const tags = await page.evaluate(() => [...document.querySelector('sparkweb-app').children].map((c) => `${c.localName}@${c.slot}`));
    for (const want of ['sparkweb-status@status', 'sparkweb-presence@presence', 'sparkweb-notifications@notifications', 'sparkweb-login@account', 'sparkweb-roster@roster', 'sparkweb-chat@chat']) {
      assert.ok(tags.includes(want), `${want} in ${tags}`);
    }
    assert.equal(await page.locator('sparkweb-app').getByRole('heading', { name: 'SparkWeb', level: 1 }).count(), 1);
    const login = page.locator('sparkweb-login');
    assert.equal(await login.locator('select').isVisible(), false, 'the presence picker replaces the login status select');

    const opened = page.evaluate(() => new Promise((r) => document.addEventListener('sparkweb-open', (e) => r(e.detail), { once: true })));
    opened.catch(() => {});
    await select(page, 'bob@localhost');
    await until(page, { chat: 'bob@localhost', placeholder: false, hash: '#chat=bob@localhost', view: { type: 'chat', jid: 'bob@localhost' } });
    assert.deepEqual(await opened, { type: 'chat', jid: 'bob@localhost' });
    assert.equal(await page.locator('sparkweb-roster').getAttribute('selected'), 'bob@localhost');

    // The address drives it too: a room, the profile, back to a chat; nonsense is ignored.
    await page.evaluate(() => (location.hash = '#room=lobby@conference.localhost'));
    await until(page, { chat: null, room: 'lobby@conference.localhost', view: { type: 'room', jid: 'lobby@conference.localhost' } });
    assert.equal(await page.locator('sparkweb-roster').getAttribute('selected'), null);
    await page.evaluate(() => (location.hash = '#profile'));
    await until(page, { room: null, profile: true, view: { type: 'profile', jid: '' } });
    assert.equal(await page.locator('sparkweb-app').getByRole('button', { name: 'Profile', exact: true }).getAttribute('aria-pressed'), 'true');
    await page.evaluate(() => (location.hash = '#chat=<img src=x>'));
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual((await layout(page)).view, { type: 'profile', jid: '' }, 'an address that is not a JID opens nothing');
    await page.evaluate(() => (location.hash = '#chat=carol@localhost'));
    await until(page, { chat: 'carol@localhost', profile: false });
    assert.equal(await page.locator('sparkweb-chat').getAttribute('with'), 'carol@localhost');

    // A room picked in <sparkweb-rooms> opens in <sparkweb-room>.
    await page.waitForFunction(() => document.querySelector('sparkweb-app > sparkweb-rooms'), null, { timeout: 5_000 });
    await page.evaluate(() => {
      const rooms = document.querySelector('sparkweb-app > sparkweb-rooms');
      rooms.dispatchEvent(new CustomEvent('sparkweb-select', { bubbles: true, composed: true, detail: { jid: 'team@conference.localhost', kind: 'room' } }));
    });
    await until(page, { chat: null, room: 'team@conference.localhost', hash: '#room=team@conference.localhost' });
    // Leaving it there closes it.
    await page.evaluate(() => {
      const room = document.querySelector('sparkweb-app > sparkweb-room');
      room.dispatchEvent(new CustomEvent('sparkweb-leave', { bubbles: true, composed: true, detail: { jid: 'team@conference.localhost' } }));
    });
    await until(page, { room: null, placeholder: true, hash: '', view: { type: '', jid: '' } });
    // "Send private message" on an occupant (as <sparkweb-room> dispatches it) opens a chat with
    // the occupant's full JID; room.test.mjs has the real menu and messages.
    await page.evaluate(() => {
      const room = document.querySelector('sparkweb-app > sparkweb-room');
      room.dispatchEvent(new CustomEvent('sparkweb-select', { bubbles: true, composed: true, detail: { jid: 'team@conference.localhost/bob by', kind: 'chat' } }));
    });
    await until(page, { chat: 'team@conference.localhost/bob by', room: null, view: { type: 'chat', jid: 'team@conference.localhost/bob by' } });
    await page.evaluate(() => (location.hash = '#chat=carol@localhost'));
    await until(page, { chat: 'carol@localhost' });

    // A reload lands in the same chat.
    await page.reload();
    await page.locator('body[data-ready="yes"]').waitFor({ state: 'attached', timeout: 10_000 });
    await until(page, { chat: 'carol@localhost', hash: '#chat=carol@localhost' });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('app: signed out shows only the sign-in form; signing in brings the panes back', { timeout: 90_000 }, async () => {
  const { page, context, errors } = await open({ viewport: { width: 1100, height: 700 } });
  try {
    await until(page, { panes: true, loginSlot: 'account' });
    await page.locator('sparkweb-login').getByRole('button', { name: 'Sign out' }).click();
    await until(page, { signin: true, panes: false, loginSlot: 'signin' });
    const app = page.locator('sparkweb-app');
    assert.equal(await app.getByRole('heading', { name: 'Sign in', level: 2 }).isVisible(), true);
    assert.equal(await page.locator('sparkweb-login').getByLabel('Address', { exact: true }).isVisible(), true);
    assert.equal(await page.locator('sparkweb-presence').isVisible(), false, 'no status picker while signed out');
    assert.equal(await app.getByRole('button', { name: 'Profile', exact: true }).count(), 0, 'no profile while signed out');
    assert.equal(await page.locator('sparkweb-notifications').getByRole('button').isVisible(), true, 'notifications can be set up before signing in');
    await login(page, stack.users.alice);
    await until(page, { signin: false, panes: true, loginSlot: 'account' }, 30_000);
    // Reconnecting is still signed in: the engine gets the session back by itself.
    await stack.upstream.cut();
    await page.waitForFunction(() => document.querySelector('sparkweb-status')?.getAttribute('state') === 'reconnecting', null, { timeout: 15_000 });
    await until(page, { signin: false, panes: true, loginSlot: 'account' });
    assert.equal(await page.locator('sparkweb-status').getAttribute('active'), '', 'the banner says so');
    assert.deepEqual(errors, []);
  } finally {
    await stack.upstream.restore().catch(() => {}); // already listening unless the cut happened
    await context.close();
  }
});

test('app: on a narrow screen one pane at a time, Back and Escape return to the list', { timeout: 90_000 }, async () => {
  const { page, context, errors } = await open({ viewport: { width: 400, height: 700 } });
  try {
    await until(page, { sidebar: true, main: false });
    await select(page, 'bob@localhost');
    await until(page, { sidebar: false, main: true, back: true, chat: 'bob@localhost' });
    const focused = () => page.evaluate(() => document.querySelector('sparkweb-app').shadowRoot.activeElement?.getAttribute('part'));
    assert.equal(await focused(), 'main', 'focus moves to the conversation');
    await page.keyboard.press('Escape');
    await until(page, { sidebar: true, main: false, chat: null });
    assert.deepEqual((await layout(page)).view, { type: 'chat', jid: 'bob@localhost' }, 'the chat stays open for when there is room');

    await select(page, 'bob@localhost');
    await until(page, { sidebar: false, main: true });
    await page.locator('sparkweb-app').getByRole('button', { name: 'Back' }).click();
    await until(page, { sidebar: true, main: false });

    // Wider again: both panes, the chat still open.
    await page.setViewportSize({ width: 1100, height: 700 });
    await until(page, { sidebar: true, main: true, back: false, chat: 'bob@localhost' });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
