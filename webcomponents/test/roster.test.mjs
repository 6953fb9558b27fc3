// <sparkweb-roster> against the real engine, relay and Prosody: a 5,000-contact roster stays a
// small window of rows that scrolls and keyboard-navigates to its end; contact requests are
// approved from the list; "Add contact" asks for a subscription; unread counts follow incoming
// messages and clear when the chat shows them, across a reload; a contact's new avatar (XEP-0084)
// replaces the initials and is fetched once per hash; an SVG avatar published by a native client
// (native-client.mjs) is not shown; Deny, Rename and Remove act on the server's roster.
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
  ROOT,
  CLIENT_SCRIPT,
} from './harness.mjs';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { nativeClient, xmlEscape } from './native-client.mjs';

let stack;
/** dora has 5,000 contacts besides nobody else. */
let dora;
let contacts;
let carol;
/** eve is bob's contact (both ways); mallory and frank nobody's. */
let eve;
let mallory;
let frank;
before(async () => {
  stack = await startStack();
  dora = await addUser(stack.prosody, 'dora');
  contacts = await addRosterContacts(stack.prosody, 'dora', 5000);
  carol = await addUser(stack.prosody, 'carol');
  eve = await addUser(stack.prosody, 'eve');
  mallory = await addUser(stack.prosody, 'mallory');
  frank = await addUser(stack.prosody, 'frank');
  // Before bob's first login: Prosody reads rosters at login.
  await promisify(execFile)(join(ROOT, 'testenv', 'prosody.sh'), ['befriend', stack.prosody.dir, 'bob', 'eve']);
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
    script: `document.addEventListener('sparkweb-select', (e) => document.querySelector('sparkweb-chat').setAttribute('with', e.detail.jid));
${CLIENT_SCRIPT}`,
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

test('avatars through the real engine: a new picture shows, fetched once per hash; SVG is not shown', { timeout: 120_000 }, async () => {
  const { alice, bob } = stack.users;
  const a = await openAs(alice);
  const b = await openAs(bob);
  const phone = await nativeClient(stack.prosody, eve, { resource: 'phone' });
  try {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    const { hash } = await request(a.page, 'avatar.set', { type: 'image/png', data: png });
    const img = row(b.page, alice.jid).locator('[part="avatar"] img:not([hidden])');
    await img.waitFor({ timeout: 30_000 });
    assert.match(await img.getAttribute('src'), /^blob:/);
    assert.equal(await img.evaluate((i) => i.naturalWidth), 1);
    // Re-renders (filtering down to alice and back) do not fetch the picture again.
    const filter = b.page.locator('sparkweb-roster').getByRole('searchbox');
    await filter.fill('alice');
    await b.page.locator('sparkweb-roster [aria-level="2"]').nth(1).waitFor({ state: 'detached', timeout: 5_000 });
    await filter.fill('');
    await row(b.page, eve.jid).waitFor({ timeout: 5_000 });
    await img.waitFor({ timeout: 5_000 });
    const gets = await b.page.evaluate(() => window.calls.filter((c) => c.op === 'avatar.get').map((c) => c.args.hash));
    assert.deepEqual(gets.filter((h) => h === hash), [hash], 'one avatar.get for the hash');

    // eve's phone publishes an SVG as her avatar (XEP-0084): bob's engine learns its hash, the
    // roster asks for it and keeps showing her initials.
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="self.pwned=1"><rect width="9" height="9"/></svg>');
    const svgHash = createHash('sha1').update(svg).digest('hex');
    phone.send('<presence/>');
    phone.send(
      `<iq type='set' id='avatar-data'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:xmpp:avatar:data'>` +
        `<item id='${svgHash}'><data xmlns='urn:xmpp:avatar:data'>${svg.toString('base64')}</data></item></publish></pubsub></iq>`,
    );
    await phone.waitFor(/<iq [^>]*id=['"]avatar-data['"][^>]*type=['"]result['"]|<iq [^>]*type=['"]result['"][^>]*id=['"]avatar-data['"]/);
    phone.send(
      `<iq type='set' id='avatar-meta'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:xmpp:avatar:metadata'>` +
        `<item id='${svgHash}'><metadata xmlns='urn:xmpp:avatar:metadata'><info id='${svgHash}' bytes='${svg.length}' type='image/svg+xml' width='9' height='9'/></metadata></item>` +
        `</publish></pubsub></iq>`,
    );
    await b.page.waitForFunction(
      ([jid, h]) => window.calls.some((c) => c.op === 'avatar.get' && c.args.jid === jid && c.args.hash === h),
      [eve.jid, svgHash],
      { timeout: 30_000 },
    );
    assert.equal((await clientState(b.page)).avatars[eve.jid], svgHash, "the engine knows eve's avatar");
    // The same question again, answered after the element's: it refuses, as the element was told.
    await assert.rejects(request(b.page, 'avatar.get', { jid: eve.jid, hash: svgHash }));
    await b.page.waitForTimeout(200); // a render frame
    assert.equal(await row(b.page, eve.jid).locator('[part="avatar"] img:not([hidden])').count(), 0, 'SVG is not shown');
    assert.equal(await row(b.page, eve.jid).locator('[part="avatar"]').innerText(), 'E');
    assert.equal(await b.page.evaluate(() => self.pwned), undefined);

    // Removed: initials again.
    await request(a.page, 'avatar.set', {});
    await row(b.page, alice.jid).locator('[part="avatar"]', { hasText: 'A' }).waitFor({ timeout: 30_000 });
    for (const s of [a, b]) assert.deepEqual(s.errors, []);
  } finally {
    await phone.close();
    await a.context.close();
    await b.context.close();
  }
});

test('deny, rename, remove on the server; strings', { timeout: 120_000 }, async () => {
  const { alice } = stack.users;
  const a = await openAs(alice);
  const asker = await nativeClient(stack.prosody, mallory, { resource: 'phone' });
  try {
    const { page } = a;
    const answers = ['Frankie', true]; // the rename prompt, then the remove confirmation
    page.on('dialog', (d) => (d.type() === 'prompt' ? d.accept(String(answers.shift())) : d.accept()));
    const roster = page.locator('sparkweb-roster');

    // mallory asks with a note that looks like markup: it shows as text; Deny tells mallory.
    // (Prosody tells only resources that asked for the roster.)
    asker.send("<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>");
    await asker.waitFor(/<iq [^>]*id=['"]roster['"]/);
    asker.send(`<presence type='subscribe' to='${xmlEscape(alice.jid)}'><status>${xmlEscape('<b>let me in</b>')}</status></presence>`);
    const req = roster.locator('[part="request"]', { hasText: mallory.jid });
    await req.waitFor({ timeout: 15_000 });
    assert.match(await req.textContent(), /“<b>let me in<\/b>”/);
    assert.equal(await roster.locator('b').count(), 0);
    await req.getByRole('button', { name: `Deny ${mallory.jid}` }).click();
    await asker.waitFor(/<presence [^>]*type=['"]unsubscribed['"]/, 15_000);
    await req.waitFor({ state: 'detached', timeout: 15_000 });

    // Rename and remove act on the selected contact, through the server's roster.
    await request(page, 'roster.add', { jid: frank.jid, name: 'Frank' });
    await row(page, frank.jid).click();
    await roster.getByRole('button', { name: 'Rename' }).click();
    await row(page, frank.jid).locator('[part="name"]', { hasText: 'Frankie' }).waitFor({ timeout: 15_000 });
    assert.equal((await clientState(page)).roster.find((r) => r.jid === frank.jid)?.name, 'Frankie');
    await roster.getByRole('button', { name: 'Remove' }).click();
    await row(page, frank.jid).waitFor({ state: 'detached', timeout: 15_000 });
    assert.equal((await clientState(page)).roster.some((r) => r.jid === frank.jid), false);

    // Strings replaced page-wide re-render the element.
    // (Whether bob shows as available depends on earlier tests: both words are replaced.)
    await page.evaluate(() =>
      window.i18n.setStrings({ 'roster.filter': 'Kontakte filtern', 'roster.show.unavailable': 'Abwesend', 'roster.show.available': 'Da' }),
    );
    await roster.getByRole('searchbox', { name: 'Kontakte filtern' }).waitFor({ timeout: 5_000 });
    await row(page, stack.users.bob.jid).locator('[part="show"]').filter({ hasText: /^(Abwesend|Da)$/ }).waitFor({ timeout: 5_000 });
    assert.deepEqual(a.errors, []);
  } finally {
    await asker.close();
    await a.context.close();
  }
});
