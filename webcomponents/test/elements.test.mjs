// The elements' own behaviour that the other real-stack tests do not reach: the roster's groups,
// presence in words, tree keyboard (collapse, expand, type-ahead), selection event and filter;
// the chat's escaping of a body with markup, Enter and Shift+Enter, a message emitted pending and
// then sent shown once, a refused send keeping the text, other conversations, the signed-out hint.
// Real engine, relay and Prosody; contacts are native clients (native-client.mjs) sending exactly
// the presence and messages named here. Login errors are in errors.test.mjs and login.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startStack, openSignedIn, addUser, request, nonce, ROOT } from './harness.mjs';
import { nativeClient, xmlEscape } from './native-client.mjs';

let stack;
/** rita sees bob and dave (mutual friends); carol and dave are nobody else's contacts. */
let rita;
let carol;
let dave;
before(async () => {
  stack = await startStack();
  rita = await addUser(stack.prosody, 'rita');
  carol = await addUser(stack.prosody, 'carol');
  dave = await addUser(stack.prosody, 'dave');
  // Before anyone's first login: Prosody reads rosters at login.
  const befriend = (a, b) => promisify(execFile)(join(ROOT, 'testenv', 'prosody.sh'), ['befriend', stack.prosody.dir, a, b]);
  await befriend('rita', 'bob');
  await befriend('rita', 'dave');
});
after(() => stack?.close());

const PAGE = {
  path: '/elements.html',
  modules: ['/webcomponents/sparkweb-roster.js', '/webcomponents/sparkweb-chat.js'],
  body: '<sparkweb-roster></sparkweb-roster><sparkweb-chat></sparkweb-chat>',
  // treeRows(level): the roster's rows of that level top to bottom (the roster recycles row
  // elements, so their DOM order is not the order shown).
  script: `window.selected = [];
document.addEventListener('sparkweb-select', (e) => window.selected.push(e.detail.jid));
window.treeRows = (level) =>
  [...document.querySelector('sparkweb-roster').shadowRoot.querySelectorAll(\`[role="treeitem"][aria-level="\${level}"]\`)]
    .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)
    .map((e) => ({
      group: e.querySelector('[part="group-name"]')?.textContent,
      name: e.querySelector('[part="name"]')?.textContent,
      show: e.querySelector('[part="show"]')?.textContent,
      pos: e.getAttribute('aria-posinset') + '/' + e.getAttribute('aria-setsize'),
    }));`,
};

/** The active row of the roster tree (aria-activedescendant) as "group jid" or "group". */
const focusedContact = (p) =>
  p.evaluate(() => {
    const root = document.querySelector('sparkweb-roster').shadowRoot;
    const tree = root.querySelector('[role="tree"]');
    if (root.activeElement !== tree) return null;
    const row = root.getElementById(tree.getAttribute('aria-activedescendant'));
    return row ? row.dataset.key.split('\n').slice(1).join(' ') : null;
  });

test('roster: groups, presence as text, keyboard and selection', { timeout: 90_000 }, async () => {
  const bob = stack.users.bob;
  // bob is away on his phone before rita signs in: her engine hears it from the server's probe.
  const bobPhone = await nativeClient(stack.prosody, bob, { resource: 'phone' });
  bobPhone.send('<presence><show>away</show><status>lunch</status></presence>');
  const { page: p, context, errors } = await openSignedIn(stack, rita, PAGE);
  let davesDesk;
  try {
    const roster = p.locator('sparkweb-roster');
    // carol: asked, no name, no group; dave: a name with markup, in two groups.
    await request(p, 'presence.subscribe', { jid: carol.jid });
    await request(p, 'roster.update', { jid: dave.jid, name: 'Dave <the boss>', groups: ['Friends', 'Work'] });
    const rows = roster.locator('[role="treeitem"][aria-level="2"]');
    const want = [`${carol.jid} Offline (request pending)`, 'Bob Away', 'Dave <the boss> Offline', 'Dave <the boss> Offline'];
    await p.waitForFunction(
      ([want]) => JSON.stringify(window.treeRows(2).map((e) => `${e.name} ${e.show}`)) === JSON.stringify(want),
      [want],
      { timeout: 15_000 },
    ).catch(async () => assert.deepEqual((await p.evaluate(() => window.treeRows(2))).map((e) => `${e.name} ${e.show}`), want));
    assert.deepEqual((await p.evaluate(() => window.treeRows(1))).map((g) => g.group), ['Contacts', 'Friends', 'Work']);
    assert.equal(await roster.locator('b, [part="name"] *').count(), 0, 'names are not parsed as HTML');
    assert.equal(await roster.locator('[tabindex]').count(), 1, 'the tree is one tab stop, rows are not');
    assert.equal(await roster.locator('[role="tree"][tabindex="0"]').count(), 1);
    assert.deepEqual(
      (await p.evaluate(() => window.treeRows(2))).map((e) => e.pos),
      ['1/1', '1/2', '2/2', '1/1'],
      'each contact says where it is in its group',
    );

    await roster.locator('[role="tree"]').focus();
    assert.equal(await focusedContact(p), 'Contacts', 'the first row is active');
    await p.keyboard.press('ArrowDown');
    assert.equal(await focusedContact(p), `Contacts ${carol.jid}`);
    await p.keyboard.press('ArrowDown');
    await p.keyboard.press('ArrowDown');
    assert.equal(await focusedContact(p), `Friends ${bob.jid}`);
    await p.keyboard.press('End');
    assert.equal(await focusedContact(p), `Work ${dave.jid}`);
    await p.keyboard.press('ArrowDown');
    assert.equal(await focusedContact(p), `Work ${dave.jid}`, 'stops at the end');
    await p.keyboard.press('Home');
    assert.equal(await focusedContact(p), 'Contacts');
    await p.keyboard.press('ArrowLeft'); // collapses the group
    assert.equal(await roster.locator(`[data-jid="${carol.jid}"]`).count(), 0, 'a collapsed group hides its contacts');
    assert.equal(await roster.locator('[aria-level="1"][aria-expanded="false"]').count(), 1);
    await p.keyboard.press('ArrowRight'); // expands it again
    await roster.locator(`[data-jid="${carol.jid}"]`).waitFor({ timeout: 5_000 });
    await p.keyboard.press('b'); // type-ahead: the next contact named b…
    assert.equal(await focusedContact(p), `Friends ${bob.jid}`);
    await p.keyboard.press('Enter');
    assert.deepEqual(await p.evaluate(() => window.selected), [bob.jid]);
    assert.equal(await roster.getAttribute('selected'), bob.jid);
    assert.equal(await roster.locator('[aria-selected="true"]').getAttribute('data-jid'), bob.jid);

    // dave comes online busy: both of his rows re-render, keyboard focus stays.
    davesDesk = await nativeClient(stack.prosody, dave, { resource: 'desk' });
    davesDesk.send('<presence><show>dnd</show><priority>1</priority></presence>');
    await roster.locator(`[data-jid="${dave.jid}"]`, { hasText: 'Do not disturb' }).nth(1).waitFor({ timeout: 15_000 });
    assert.equal(await focusedContact(p), `Friends ${bob.jid}`, 'focus kept across re-render');
    // The filter keeps the matching contacts.
    await roster.getByRole('searchbox', { name: 'Filter contacts' }).fill('boss');
    await roster.locator(`[data-jid="${bob.jid}"]`).waitFor({ state: 'detached', timeout: 5_000 });
    assert.equal(await rows.count(), 2, 'Dave in both groups');
    await roster.getByRole('searchbox').fill('nobody');
    await roster.getByText('No contact matches “nobody”.').waitFor({ timeout: 5_000 });
    await roster.getByRole('searchbox').fill('');
    // A removed contact disappears.
    await request(p, 'roster.remove', { jid: carol.jid });
    await roster.locator(`[data-jid="${carol.jid}"]`).waitFor({ state: 'detached', timeout: 15_000 });
    assert.deepEqual(errors, []);
  } finally {
    await davesDesk?.close();
    await bobPhone.close();
    await context.close();
  }
});

test('chat: bodies as text, Enter sends once, Shift+Enter, refused send, other conversations, signed out', { timeout: 90_000 }, async () => {
  const { alice, bob } = stack.users;
  const n = nonce();
  const bobPhone = await nativeClient(stack.prosody, bob, { resource: 'phone' });
  bobPhone.send('<presence><show>away</show></presence>');
  const davePhone = await nativeClient(stack.prosody, dave, { resource: 'phone' });
  const { page: p, context, errors } = await openSignedIn(stack, alice, PAGE);
  try {
    await request(p, 'roster.add', { jid: dave.jid, name: 'Dave <the boss>' });
    const chat = p.locator('sparkweb-chat');
    await chat.evaluate((el, jid) => el.setAttribute('with', jid), bob.jid);
    await chat.locator('textarea:enabled').waitFor({ timeout: 15_000 });
    const evil = `<img src=x onerror="self.pwned=1"> ${n}`;
    bobPhone.send(`<message type='chat' to='${xmlEscape(alice.jid)}' id='evil-${n}'><body>${xmlEscape(evil)}</body></message>`);
    await chat.locator('[part~="body"]', { hasText: n }).waitFor({ timeout: 15_000 });
    assert.equal(await chat.locator('[part~="body"]', { hasText: n }).textContent(), evil);
    assert.equal(await chat.locator('img').count(), 0, 'message bodies are text, never HTML');
    assert.equal(await p.evaluate(() => self.pwned), undefined);
    assert.equal(await chat.locator('h2').textContent(), 'Bob');
    assert.equal(await chat.locator('[part="presence"]').innerText(), 'Away');
    assert.equal(await chat.locator('[aria-live="polite"]').count(), 1, 'a live region for incoming messages');

    const input = chat.getByLabel('Message to Bob');
    await input.fill(`first line ${n}`);
    await input.press('Shift+Enter');
    await input.pressSequentially('second line');
    assert.equal(await input.inputValue(), `first line ${n}\nsecond line`, 'Shift+Enter adds a line, does not send');
    await input.press('Enter');
    await bobPhone.waitFor(new RegExp(`<body>first line ${n}\nsecond line</body>`), 15_000);
    // The engine emits the message pending, then sent (same id): shown once, in its final state.
    const out = chat.locator('[part~="message-out"]', { hasText: `first line ${n}` });
    await out.locator('[part="state"][data-state="sent"]').waitFor({ timeout: 15_000 });
    assert.equal(await out.count(), 1, 'a message emitted twice shows once');
    assert.equal(await input.inputValue(), '', 'the composer is cleared after sending');

    // The engine refuses a body over 64 KiB (bad-request): the error shows, the text stays.
    const tooLong = 'x'.repeat(70_000);
    await input.fill(tooLong);
    await input.press('Enter');
    await chat.locator('[role="alert"]', { hasText: /^Not sent: message too long/ }).waitFor({ timeout: 15_000 });
    assert.equal(await input.inputValue(), tooLong, 'an unsent message is kept');
    await input.fill('');

    davePhone.send(`<message type='chat' to='${xmlEscape(alice.jid)}' id='d-${n}'><body>for another chat ${n}</body></message>`);
    bobPhone.send(`<message type='chat' to='${xmlEscape(alice.jid)}' id='b-${n}'><body>for this chat ${n}</body></message>`);
    await chat.locator('[part~="message-in"]', { hasText: `for this chat ${n}` }).waitFor({ timeout: 15_000 });
    assert.equal(await chat.locator('[part~="body"]', { hasText: 'for another chat' }).count(), 0);

    // Switching conversation renders the other one from the façade's state.
    await chat.evaluate((el, jid) => el.setAttribute('with', jid), dave.jid);
    await chat.locator('[part~="body"]', { hasText: `for another chat ${n}` }).waitFor({ timeout: 5_000 });
    assert.equal(await chat.locator('h2').textContent(), 'Dave <the boss>');

    // Signed out: the composer is disabled with a hint.
    await request(p, 'session.logout', {});
    await chat.locator('textarea:disabled').waitFor({ timeout: 15_000 });
    assert.equal(await chat.locator('[part="hint"]').textContent(), 'Sign in to send messages.');
    assert.deepEqual(errors, []);
  } finally {
    await davePhone.close();
    await bobPhone.close();
    await context.close();
  }
});
