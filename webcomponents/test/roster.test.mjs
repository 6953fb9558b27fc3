// <sparkweb-roster> against the real engine, relay and Prosody: a 5,000-contact roster stays a
// small window of rows that scrolls and keyboard-navigates to its end; contact requests are
// approved from the list; "Add contact" asks for a subscription; unread counts follow incoming
// messages and clear when the chat shows them, across a reload; a contact's new avatar (XEP-0084)
// replaces the initials. A scripted engine covers what a server cannot be made to do on demand:
// avatars fetched once per hash, SVG refused, and the ops of Deny, Rename and Remove.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startStack,
  routeTestPage,
  openPage,
  request,
  login,
  signedInJID,
  addUser,
  addRosterContacts,
  clientState,
} from './harness.mjs';
import { startFake, fakePage } from './fake-engine.mjs';

let stack;
/** dora has 5,000 contacts besides nobody else. */
let dora;
let contacts;
let carol;
before(async () => {
  stack = await startStack();
  dora = await addUser(stack.prosody, 'dora');
  contacts = await addRosterContacts(stack.prosody, 'dora', 5000);
  carol = await addUser(stack.prosody, 'carol');
});
after(async () => {
  await stack?.close();
});

const PAGE = '/roster-test.html';

/** A signed-in page of a fresh browser context with the roster and a chat it opens. */
async function openAs(user, context) {
  context ??= await stack.browser.newContext();
  await routeTestPage(context, stack.url + PAGE, {
    modules: ['/webcomponents/sparkweb-login.js', '/webcomponents/sparkweb-roster.js', '/webcomponents/sparkweb-chat.js'],
    body: `<style>sparkweb-roster { display: flex; height: 400px; }</style>
<sparkweb-login></sparkweb-login><sparkweb-roster></sparkweb-roster><sparkweb-chat></sparkweb-chat>`,
    script: `document.addEventListener('sparkweb-select', (e) => document.querySelector('sparkweb-chat').setAttribute('with', e.detail.jid));`,
  });
  const { page, errors } = await openPage(context, stack.url + PAGE);
  if (user) {
    await login(page, user);
    await signedInJID(page);
  }
  return { page, context, errors };
}

const row = (page, jid) => page.locator(`sparkweb-roster [role="treeitem"][data-jid="${jid}"]`);
const activeRow = (page) =>
  page.evaluate(() => {
    const root = document.querySelector('sparkweb-roster').shadowRoot;
    const tree = root.querySelector('[role="tree"]');
    const el = root.getElementById(tree.getAttribute('aria-activedescendant'));
    if (!el) return null;
    const v = root.querySelector('.viewport').getBoundingClientRect();
    const r = el.getBoundingClientRect();
    return { jid: el.dataset.jid ?? null, inView: r.top >= v.top - 1 && r.bottom <= v.bottom + 1, focused: root.activeElement === tree };
  });

test('5,000 contacts: a window of rows, scrolled and keyboard-navigated to the end', { timeout: 120_000 }, async () => {
  const { page, context, errors } = await openAs(dora);
  try {
    const roster = page.locator('sparkweb-roster');
    const first = contacts[0];
    // The last row: the last group ("Group 39") sorted by name with numbers in order.
    const last = contacts.filter((c) => c.group === 'Group 39').at(-1);
    await row(page, first.jid).waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => performance.getEntriesByName('sparkweb-roster:complete').length > 0, null, { timeout: 30_000 });
    assert.equal((await clientState(page)).roster.length, 5000);
    const rows = roster.locator('[role="treeitem"]');
    const inDOM = await rows.count();
    assert.ok(inDOM > 5 && inDOM < 60, `only a window of rows is in the DOM (${inDOM})`);
    assert.equal(await row(page, first.jid).getAttribute('aria-setsize'), '125', 'a contact knows the size of its group');
    assert.equal(await roster.locator('[aria-level="1"]').first().getAttribute('aria-setsize'), '40');

    // Scrolling to the end shows the last contact, still with a window of rows.
    await roster.locator('.viewport').evaluate((v) => {
      v.scrollTop = v.scrollHeight;
    });
    await row(page, last.jid).waitFor({ state: 'visible', timeout: 5_000 });
    assert.equal(await row(page, last.jid).locator('[part="name"]').textContent(), last.name);
    assert.ok((await rows.count()) < 60, 'still a window after scrolling');
    assert.equal(await row(page, first.jid).count(), 0, 'the first rows left the DOM');

    // Keyboard: Home goes to the top, End to the last contact, which is brought into view.
    await roster.locator('[role="tree"]').focus();
    await page.keyboard.press('Home');
    await row(page, first.jid).waitFor({ timeout: 5_000 });
    await page.keyboard.press('End');
    assert.deepEqual(await activeRow(page), { jid: last.jid, inView: true, focused: true });
    await page.keyboard.press('PageUp');
    await page.keyboard.press('Enter');
    const selected = await roster.getAttribute('selected');
    assert.ok(selected && selected !== last.jid, 'PageUp moved up and Enter selected that contact');

    // The filter finds one contact among 5,000.
    await roster.getByRole('searchbox').fill('Number 4321');
    await row(page, 'contact04321@' + stack.prosody.domain).waitFor({ timeout: 5_000 });
    assert.equal(await roster.locator('[aria-level="2"]').count(), 1);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('requests approved from the list, add contact, unread counts', { timeout: 180_000 }, async () => {
  const { alice, bob } = stack.users;
  const a = await openAs(alice);
  const c = await openAs(carol);
  const b = await openAs(bob);
  try {
    // Carol adds alice with the form: roster.add, then a subscription request.
    const cr = c.page.locator('sparkweb-roster');
    await cr.getByRole('button', { name: 'Add contact' }).click();
    await cr.getByLabel('Address').fill('not an address');
    await cr.getByRole('button', { name: 'Add', exact: true }).click();
    await cr.getByText('Enter an address like name@example.org.').waitFor({ timeout: 5_000 });
    await cr.getByLabel('Address').fill(alice.jid);
    await cr.getByLabel('Name (optional)').fill('Alice <A>');
    await cr.getByRole('button', { name: 'Add', exact: true }).click();
    await row(c.page, alice.jid).filter({ hasText: '(request pending)' }).waitFor({ timeout: 15_000 });
    assert.equal(await row(c.page, alice.jid).locator('[part="name"]').textContent(), 'Alice <A>');

    // Alice sees the request and approves it; the element asks back, so both see each other.
    const ar = a.page.locator('sparkweb-roster');
    const pending = ar.locator('[part="request"]', { hasText: carol.jid });
    await pending.waitFor({ timeout: 15_000 });
    await pending.getByRole('button', { name: `Approve ${carol.jid}` }).click();
    await pending.waitFor({ state: 'detached', timeout: 15_000 });
    // Carol approves alice's request in turn.
    const back = cr.locator('[part="request"]', { hasText: alice.jid });
    await back.getByRole('button', { name: `Approve ${alice.jid}` }).click();
    await row(a.page, carol.jid).filter({ hasText: 'Available' }).waitFor({ timeout: 15_000 });
    await row(c.page, alice.jid).filter({ hasText: 'Available' }).waitFor({ timeout: 15_000 });
    const aliceOfCarol = (await clientState(c.page)).roster.find((r) => r.jid === alice.jid);
    assert.equal(aliceOfCarol.subscription, 'both');

    // Unread: bob writes twice while alice has no chat open.
    for (const body of ['unread one', 'unread two']) {
      await request(b.page, 'chat.send', { to: alice.jid, body });
    }
    const badge = row(a.page, bob.jid).locator('[part="unread"]');
    await badge.filter({ hasText: '2 unread' }).waitFor({ timeout: 15_000 });
    assert.equal(await badge.locator('[aria-hidden="true"]').textContent(), '2');
    // Opening the chat shows them: the chat marks them displayed and the count goes.
    await row(a.page, bob.jid).click();
    await a.page.locator('sparkweb-chat [part~="body"]', { hasText: 'unread two' }).waitFor({ timeout: 15_000 });
    await badge.waitFor({ state: 'hidden', timeout: 15_000 });
    // Bob's client gets the marker: his messages are read.
    await b.page.waitForFunction(
      ([jid]) => import('/webcomponents/sparkweb.js').then(async (m) => (await m.connect()).state.conversations[jid]?.filter((x) => x.body.startsWith('unread')).every((x) => x.state === 'read')),
      [alice.jid],
      { timeout: 15_000 },
    );

    // Alice replying also counts as reading; after a reload the count stays cleared.
    await a.page.evaluate(() => document.querySelector('sparkweb-chat').removeAttribute('with'));
    await request(b.page, 'chat.send', { to: alice.jid, body: 'unread three' });
    await badge.filter({ hasText: '1 unread' }).waitFor({ timeout: 15_000 });
    await request(a.page, 'chat.send', { to: bob.jid, body: 'answer' });
    await badge.waitFor({ state: 'hidden', timeout: 15_000 });
    await a.page.reload();
    await row(a.page, bob.jid).waitFor({ timeout: 30_000 });
    await a.page.waitForFunction(
      ([jid]) => import('/webcomponents/sparkweb.js').then(async (m) => ((await m.connect()).state.conversations[jid] ?? []).some((x) => x.body === 'answer')),
      [bob.jid],
      { timeout: 30_000 },
    );
    await a.page.waitForTimeout(300); // a render frame
    assert.equal(await badge.isVisible(), false, 'no unread after the reload');
    for (const s of [a, b, c]) assert.deepEqual(s.errors, []);
  } finally {
    for (const s of [a, b, c]) await s.context.close();
  }
});

test('avatars through the real engine: a contact\'s new picture shows in the roster', { timeout: 120_000 }, async () => {
  const { alice, bob } = stack.users;
  const a = await openAs(alice);
  const b = await openAs(bob);
  try {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    await request(a.page, 'avatar.set', { type: 'image/png', data: png });
    const img = row(b.page, alice.jid).locator('[part="avatar"] img:not([hidden])');
    await img.waitFor({ timeout: 30_000 });
    assert.match(await img.getAttribute('src'), /^blob:/);
    assert.equal(await img.evaluate((i) => i.naturalWidth), 1);
    // Removed: initials again.
    await request(a.page, 'avatar.set', {});
    await row(b.page, alice.jid).locator('[part="avatar"]', { hasText: 'A' }).waitFor({ timeout: 30_000 });
    for (const s of [a, b]) assert.deepEqual(s.errors, []);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

// Avatars through a scripted engine: fetched once per hash, types other than raster images refused.
test('avatars: picture by hash from avatar.get, once per hash; initials otherwise', { timeout: 60_000 }, async () => {
  // A 1×1 PNG.
  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
  const snapshot = {
    session: { state: 'online', jid: 'alice@localhost/web' },
    roster: [
      { jid: 'bob@localhost', name: 'Bob Builder', subscription: 'both', ask: false, groups: [] },
      { jid: 'carol@localhost', name: 'carol', subscription: 'both', ask: false, groups: [] },
      { jid: 'eve@localhost', name: 'Eve', subscription: 'both', ask: false, groups: [] },
    ],
    presence: [],
    conversations: {},
    requests: [],
    avatars: { 'bob@localhost': 'h1', 'eve@localhost': 'h-svg' },
  };
  const fake = await startFake(
    snapshot,
    { '/avatars.html': fakePage(['sparkweb-roster.js'], '<sparkweb-roster></sparkweb-roster>') },
    {
      ops: `case 'avatar.get':
        if (req.args.hash === 'h1' || req.args.hash === 'h2') return ok({ jid: req.args.jid, hash: req.args.hash, type: 'image/png', data: ${JSON.stringify(png)} });
        if (req.args.hash === 'h-svg') return ok({ jid: req.args.jid, hash: 'h-svg', type: 'image/svg+xml', data: btoa('<svg xmlns="http://www.w3.org/2000/svg"/>') });
        return fail('item-not-found', 'no avatar');`,
    },
  );
  try {
    const { page, errors } = await fake.open('/avatars.html');
    const roster = page.locator('sparkweb-roster');
    const img = roster.locator('[data-jid="bob@localhost"] [part="avatar"] img:not([hidden])');
    await img.waitFor({ timeout: 10_000 });
    assert.match(await img.getAttribute('src'), /^blob:/);
    assert.equal(await img.evaluate((i) => i.complete && i.naturalWidth), 1, 'the picture decodes');
    assert.equal(await roster.locator('[data-jid="carol@localhost"] [part="avatar"]').innerText(), 'C', 'initials without an avatar');
    assert.equal(await roster.locator('[data-jid="eve@localhost"] [part="avatar"] img:not([hidden])').count(), 0, 'SVG is not shown');
    assert.equal(await roster.locator('[data-jid="eve@localhost"] [part="avatar"]').innerText(), 'E');
    // A new hash for carol arrives as an event; re-renders do not fetch a hash again.
    await page.evaluate(() => window.client.request('test.emit', { event: 'avatar', data: { jid: 'carol@localhost', hash: 'h2' } }));
    await roster.locator('[data-jid="carol@localhost"] [part="avatar"] img:not([hidden])').waitFor({ timeout: 5_000 });
    await page.evaluate(() => window.client.request('test.emit', { event: 'presence', data: { jid: 'bob@localhost/x', bare: 'bob@localhost', show: 'away', status: '', priority: 0 } }));
    await roster.locator('[data-jid="bob@localhost"]', { hasText: 'Away' }).waitFor({ timeout: 5_000 });
    const gets = (await page.evaluate(() => window.client.request('test.requests'))).filter((r) => r.op === 'avatar.get');
    assert.deepEqual(gets.map((r) => r.args.hash).sort(), ['h-svg', 'h1', 'h2']);
    // Removed ("" hash): initials again.
    await page.evaluate(() => window.client.request('test.emit', { event: 'avatar', data: { jid: 'bob@localhost', hash: '' } }));
    await roster.locator('[data-jid="bob@localhost"] [part="avatar"]', { hasText: 'BB' }).waitFor({ timeout: 5_000 });
    assert.deepEqual(errors, []);
  } finally {
    await fake.close();
  }
});

test('deny, rename, remove, strings: the ops the element sends', { timeout: 60_000 }, async () => {
  const snapshot = {
    session: { state: 'online', jid: 'alice@localhost/web' },
    roster: [{ jid: 'bob@localhost', name: 'Bob', subscription: 'both', ask: false, groups: ['Friends'] }],
    presence: [],
    conversations: {},
    requests: [{ jid: 'mallory@localhost', type: 'subscribe', status: '<b>let me in</b>' }],
  };
  const fake = await startFake(
    snapshot,
    { '/actions.html': fakePage(['sparkweb-roster.js'], '<sparkweb-roster></sparkweb-roster>') },
    { ops: "case 'presence.deny': case 'roster.update': case 'roster.remove': return ok(null);" },
  );
  try {
    const { page, errors } = await fake.open('/actions.html');
    const answers = ['Bobby', true]; // the rename prompt, then the remove confirmation
    page.on('dialog', (d) => (d.type() === 'prompt' ? d.accept(String(answers.shift())) : d.accept()));
    const roster = page.locator('sparkweb-roster');
    const sent = async (op) => (await page.evaluate(() => window.client.request('test.requests'))).filter((r) => r.op === op).map((r) => r.args);

    // A request's note is text.
    const req = roster.locator('[part="request"]');
    assert.match(await req.textContent(), /“<b>let me in<\/b>”/);
    assert.equal(await roster.locator('b').count(), 0);
    await req.getByRole('button', { name: 'Deny mallory@localhost' }).click();
    await page.waitForFunction(async () => (await window.client.request('test.requests')).some((r) => r.op === 'presence.deny'));
    assert.deepEqual(await sent('presence.deny'), [{ jid: 'mallory@localhost' }]);

    // Rename and remove act on the selected contact.
    await roster.locator('[data-jid="bob@localhost"]').click();
    await roster.getByRole('button', { name: 'Rename' }).click();
    await page.waitForFunction(async () => (await window.client.request('test.requests')).some((r) => r.op === 'roster.update'));
    assert.deepEqual(await sent('roster.update'), [{ jid: 'bob@localhost', name: 'Bobby' }]);
    await roster.getByRole('button', { name: 'Remove' }).click();
    await page.waitForFunction(async () => (await window.client.request('test.requests')).some((r) => r.op === 'roster.remove'));
    assert.deepEqual(await sent('roster.remove'), [{ jid: 'bob@localhost' }]);

    // Strings replaced page-wide re-render the element.
    await page.evaluate(() => window.i18n.setStrings({ 'roster.filter': 'Kontakte filtern', 'roster.show.unavailable': 'Abwesend' }));
    await roster.getByRole('searchbox', { name: 'Kontakte filtern' }).waitFor({ timeout: 5_000 });
    await roster.locator('[data-jid="bob@localhost"] [part="show"]', { hasText: 'Abwesend' }).waitFor({ timeout: 5_000 });
    assert.deepEqual(errors, []);
  } finally {
    await fake.close();
  }
});
