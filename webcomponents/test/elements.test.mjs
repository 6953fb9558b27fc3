// The elements' own behaviour (rendering, keyboard, escaping, dedupe, error display), driven by a
// scripted stand-in for the engine so every case is reachable on demand. The real engine, relay and
// Prosody are exercised end to end by session.test.mjs and errors.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFake, fakePage, emit } from './fake-engine.mjs';

const snapshot = {
  session: { state: 'online', jid: 'alice@localhost/web' },
  roster: [
    { jid: 'bob@localhost', name: 'Bob', subscription: 'both', ask: false, groups: ['Friends'] },
    { jid: 'carol@localhost', name: '', subscription: 'none', ask: true, groups: [] },
    { jid: 'dave@localhost', name: 'Dave <the boss>', subscription: 'both', ask: false, groups: ['Friends', 'Work'] },
  ],
  presence: [{ jid: 'bob@localhost/phone', bare: 'bob@localhost', show: 'away', status: 'lunch', priority: 0 }],
  conversations: {
    'bob@localhost': [{ id: 'm1', from: 'bob@localhost/phone', to: 'alice@localhost/web', with: 'bob@localhost',
      body: '<img src=x onerror="self.pwned=1">', timestamp: '2026-01-01T10:00:00Z', outgoing: false }],
  },
};

// chat.send echoes the message twice on purpose (the chat must show it once); "refuse" fails.
const ops = `case 'chat.send': {
        if (req.args.body.includes('refuse')) return fail('forbidden', 'blocked by test');
        const msg = { id: 's' + requests.length, from: 'alice@localhost/web', to: req.args.to, with: req.args.to,
          body: req.args.body, timestamp: new Date().toISOString(), outgoing: true };
        broadcast('message', msg);
        broadcast('message', msg);
        return ok({ id: msg.id });
      }`;

const page = fakePage(
  ['sparkweb-login.js', 'sparkweb-roster.js', 'sparkweb-chat.js'],
  '<sparkweb-login></sparkweb-login><sparkweb-roster></sparkweb-roster><sparkweb-chat with="bob@localhost"></sparkweb-chat>',
  `window.selected = [];
  document.addEventListener('sparkweb-select', (e) => window.selected.push(e.detail.jid));`,
);

let fake;
before(async () => {
  fake = await startFake(snapshot, { '/elements.html': page }, { ops });
});
after(() => fake?.close());

async function open() {
  const { page: p, context, errors } = await fake.open('/elements.html');
  return { p, context, errors };
}

/** The active row of the roster tree (aria-activedescendant) as "group jid" or "group". */
const focusedContact = (p) =>
  p.evaluate(() => {
    const root = document.querySelector('sparkweb-roster').shadowRoot;
    const tree = root.querySelector('[role="tree"]');
    if (root.activeElement !== tree) return null;
    const row = root.getElementById(tree.getAttribute('aria-activedescendant'));
    return row ? row.dataset.key.split('\n').slice(1).join(' ') : null;
  });

test('roster: groups, presence as text, keyboard and selection', { timeout: 60_000 }, async () => {
  const { p, context, errors } = await open();
  try {
    const roster = p.locator('sparkweb-roster');
    assert.deepEqual(await roster.locator('[aria-level="1"] [part="group-name"]').allTextContents(), ['Contacts', 'Friends', 'Work']);
    const rows = roster.locator('[role="treeitem"][aria-level="2"]');
    assert.deepEqual(
      await rows.evaluateAll((els) => els.map((e) => `${e.querySelector('[part="name"]').textContent} ${e.querySelector('[part="show"]').textContent}`)),
      ['carol@localhost Offline (request pending)', 'Bob Away', 'Dave <the boss> Offline', 'Dave <the boss> Offline'],
      'names (or JIDs) as text, presence in words',
    );
    assert.equal(await roster.locator('b, [part="name"] *').count(), 0, 'names are not parsed as HTML');
    assert.equal(await roster.locator('[tabindex]').count(), 1, 'the tree is one tab stop, rows are not');
    assert.equal(await roster.locator('[role="tree"][tabindex="0"]').count(), 1);
    assert.deepEqual(
      await rows.evaluateAll((els) => els.map((e) => [e.getAttribute('aria-posinset'), e.getAttribute('aria-setsize')].join('/'))),
      ['1/1', '1/2', '2/2', '1/1'],
      'each contact says where it is in its group',
    );

    await roster.locator('[role="tree"]').focus();
    assert.equal(await focusedContact(p), 'Contacts', 'the first row is active');
    await p.keyboard.press('ArrowDown');
    assert.equal(await focusedContact(p), 'Contacts carol@localhost');
    await p.keyboard.press('ArrowDown');
    await p.keyboard.press('ArrowDown');
    assert.equal(await focusedContact(p), 'Friends bob@localhost');
    await p.keyboard.press('End');
    assert.equal(await focusedContact(p), 'Work dave@localhost');
    await p.keyboard.press('ArrowDown');
    assert.equal(await focusedContact(p), 'Work dave@localhost', 'stops at the end');
    await p.keyboard.press('Home');
    assert.equal(await focusedContact(p), 'Contacts');
    await p.keyboard.press('ArrowLeft'); // collapses the group
    assert.equal(await roster.locator('[data-jid="carol@localhost"]').count(), 0, 'a collapsed group hides its contacts');
    assert.equal(await roster.locator('[aria-level="1"][aria-expanded="false"]').count(), 1);
    await p.keyboard.press('ArrowRight'); // expands it again
    await roster.locator('[data-jid="carol@localhost"]').waitFor({ timeout: 5_000 });
    await p.keyboard.press('b'); // type-ahead: the next contact named b…
    assert.equal(await focusedContact(p), 'Friends bob@localhost');
    await p.keyboard.press('Enter');
    assert.deepEqual(await p.evaluate(() => window.selected), ['bob@localhost']);
    assert.equal(await roster.getAttribute('selected'), 'bob@localhost');
    assert.equal(await roster.locator('[aria-selected="true"]').getAttribute('data-jid'), 'bob@localhost');

    // Presence changes re-render without losing keyboard focus.
    await emit(p, 'presence', { jid: 'dave@localhost/desk', bare: 'dave@localhost', show: 'dnd', status: '', priority: 1 });
    await roster.locator('[data-jid="dave@localhost"]', { hasText: 'Do not disturb' }).first().waitFor({ timeout: 5_000 });
    assert.equal(await focusedContact(p), 'Friends bob@localhost', 'focus kept across re-render');
    // The filter keeps the matching contacts.
    await roster.getByRole('searchbox', { name: 'Filter contacts' }).fill('boss');
    await roster.locator('[data-jid="bob@localhost"]').waitFor({ state: 'detached', timeout: 5_000 });
    assert.equal(await rows.count(), 2, 'Dave in both groups');
    await roster.getByRole('searchbox').fill('nobody');
    await roster.getByText('No contact matches “nobody”.').waitFor({ timeout: 5_000 });
    await roster.getByRole('searchbox').fill('');
    // A removed contact disappears.
    await emit(p, 'roster', { full: false, items: [{ jid: 'carol@localhost', subscription: 'remove', groups: [] }] });
    await roster.locator('[data-jid="carol@localhost"]').waitFor({ state: 'detached', timeout: 5_000 });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('chat: history as text, Enter sends once, Shift+Enter, errors, other conversations', { timeout: 60_000 }, async () => {
  const { p, context, errors } = await open();
  try {
    const chat = p.locator('sparkweb-chat');
    assert.equal(await chat.locator('h2').textContent(), 'Bob');
    assert.equal(await chat.locator('[part="presence"]').innerText(), 'Away');
    assert.equal(await chat.locator('[part~="body"]').first().textContent(), '<img src=x onerror="self.pwned=1">');
    assert.equal(await chat.locator('img').count(), 0, 'message bodies are text, never HTML');
    assert.equal(await p.evaluate(() => self.pwned), undefined);
    assert.equal(await chat.locator('[aria-live="polite"]').count(), 1, 'a live region for incoming messages');

    const input = chat.getByLabel('Message to Bob');
    await input.fill('first line');
    await input.press('Shift+Enter');
    await input.pressSequentially('second line');
    assert.equal(await input.inputValue(), 'first line\nsecond line', 'Shift+Enter adds a line, does not send');
    await input.press('Enter');
    await chat.locator('[part~="message-out"]', { hasText: 'second line' }).waitFor({ timeout: 5_000 });
    assert.equal(await chat.locator('[part~="message-out"]').count(), 1, 'a message delivered twice shows once');
    assert.equal(await input.inputValue(), '', 'the composer is cleared after sending');

    await input.fill('please refuse this');
    await input.press('Enter');
    await chat.locator('[role="alert"]', { hasText: 'Not sent: blocked by test' }).waitFor({ timeout: 5_000 });
    assert.equal(await input.inputValue(), 'please refuse this', 'an unsent message is kept');

    const incoming = (withJID, body) => ({
      id: 'in-' + body, from: withJID + '/x', to: 'alice@localhost/web', with: withJID, body,
      timestamp: new Date().toISOString(), outgoing: false,
    });
    await emit(p, 'message', incoming('dave@localhost', 'for another chat'));
    await emit(p, 'message', incoming('bob@localhost', 'for this chat'));
    await chat.locator('[part~="message-in"]', { hasText: 'for this chat' }).waitFor({ timeout: 5_000 });
    assert.equal(await chat.locator('[part~="body"]', { hasText: 'for another chat' }).count(), 0);

    // Switching conversation renders the other one from the façade's state.
    await chat.evaluate((el) => el.setAttribute('with', 'dave@localhost'));
    await chat.locator('[part~="body"]', { hasText: 'for another chat' }).waitFor({ timeout: 5_000 });
    assert.equal(await chat.locator('h2').textContent(), 'Dave <the boss>');

    // Offline: the composer is disabled with a hint.
    await emit(p, 'session', { state: 'offline', jid: '' });
    await chat.locator('textarea:disabled').waitFor({ timeout: 5_000 });
    assert.equal(await chat.locator('[part="hint"]').textContent(), 'Sign in to send messages.');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('login: session events from any tab, errors by code', { timeout: 60_000 }, async () => {
  const { p, context, errors } = await open();
  try {
    const login = p.locator('sparkweb-login');
    await login.getByText('Signed in as').waitFor({ timeout: 5_000 });
    assert.equal(await login.locator('[part="jid"]').textContent(), 'alice@localhost/web');
    assert.equal(await login.getByLabel('Status').inputValue(), 'available');

    const cases = [
      [{ code: 'not-authorized', message: 'x' }, 'Wrong username or password.'],
      [{ code: 'server-unreachable', message: 'x' }, 'Server unreachable.'],
      [{ code: 'policy-violation', message: 'Account locked <b>now</b>' }, 'Account locked <b>now</b>'],
    ];
    for (const [error, text] of cases) {
      await emit(p, 'session', { state: 'offline', jid: '', error });
      await login.locator('[role="alert"]', { hasText: text }).waitFor({ timeout: 5_000 });
      assert.equal(await login.locator('[role="alert"]').textContent(), text);
      assert.equal(await login.getByRole('button', { name: 'Sign in' }).isEnabled(), true);
    }
    assert.equal(await login.locator('b').count(), 0, 'error messages are text');

    await emit(p, 'session', { state: 'connecting', jid: '' });
    await login.locator('button[type="submit"]:disabled').waitFor({ timeout: 5_000 });
    await emit(p, 'session', { state: 'online', jid: 'alice@localhost/other' });
    await login.getByText('alice@localhost/other').waitFor({ timeout: 5_000 });
    assert.equal(await login.locator('[role="alert"]').textContent(), '', 'going online clears the error');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
