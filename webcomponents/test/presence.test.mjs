// <sparkweb-presence>: reflects the account's presence, changes it by keyboard, reports a refusal;
// and the translatable strings of the elements of this file's neighbours (<sparkweb-login>,
// <sparkweb-notifications>), replaced page-wide with setStrings() and per element.
// Real Prosody, relay and engine; other clients of the account and a contact are native clients
// of the same server (native-client.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, routeTestPage, openPage, CLIENT_SCRIPT, request, pollUntil, login as fillLogin, signedInJID } from './harness.mjs';
import { nativeClient } from './native-client.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(() => stack?.close());

const PAGES = {
  '/presence.html': { modules: ['/webcomponents/sparkweb-presence.js'], body: '<sparkweb-presence></sparkweb-presence>', script: CLIENT_SCRIPT },
  '/strings.html': {
    modules: ['/webcomponents/sparkweb-login.js', '/webcomponents/sparkweb-notifications.js', '/webcomponents/sparkweb-presence.js'],
    body: '<sparkweb-login></sparkweb-login><sparkweb-notifications></sparkweb-notifications><sparkweb-presence></sparkweb-presence>',
    script: CLIENT_SCRIPT,
  },
  '/blank.html': { modules: [], body: '', script: CLIENT_SCRIPT },
};

/** A fresh browser context (one engine) with the test pages; open() opens one of them in it. */
async function browserContext() {
  const context = await stack.browser.newContext();
  for (const [path, page] of Object.entries(PAGES)) await routeTestPage(context, stack.url + path, page);
  const errors = [];
  return {
    context,
    errors,
    async open(path) {
      return (await openPage(context, stack.url + path, { errors })).page;
    },
  };
}

/** The requests the page sent since the last reset, optionally of one op. */
const calls = (page, op) => page.evaluate((op) => window.calls.filter((c) => !op || c.op === op), op);

/** Signs alice in from the page and sets her presence to away, "at lunch", as another tab might have. */
async function aliceAway(page) {
  await request(page, 'session.login', stack.users.alice);
  await request(page, 'presence.set', { show: 'away', status: 'at lunch' });
  await page.evaluate(() => (window.calls.length = 0));
}

/** The picker as shown: select value, message, dot, disabled, error text. */
function shown(page) {
  return page.evaluate(() => {
    const root = document.querySelector('sparkweb-presence').shadowRoot;
    return {
      show: root.querySelector('select').value,
      message: root.querySelector('input').value,
      dot: root.querySelector('[part="dot"]').dataset.show,
      disabled: root.querySelector('select').disabled,
      error: root.querySelector('[role="alert"]').textContent,
    };
  });
}

/** Waits until the picker shows want (a subset of shown()). */
const until = (page, want, ms) => pollUntil(() => shown(page), want, ms);

test('presence: shows our presence, changes it by keyboard, Escape undoes an edit', { timeout: 90_000 }, async () => {
  const { context, errors, open } = await browserContext();
  try {
    const page = await open('/presence.html');
    await aliceAway(page);
    const el = page.locator('sparkweb-presence');
    await until(page, { show: 'away', message: 'at lunch', dot: 'away', disabled: false });
    const select = el.getByLabel('Status', { exact: true });
    const message = el.getByLabel('Status message');
    assert.deepEqual(await select.locator('option').allTextContents(), ['Available', 'Free to chat', 'Away', 'Extended away', 'Do not disturb']);

    // The select is operable with the arrow keys; each change is sent at once.
    await select.focus();
    await page.keyboard.press('ArrowDown');
    await until(page, { show: 'xa' });
    await page.waitForFunction(() => window.calls.some((r) => r.op === 'presence.set'));
    assert.deepEqual(await calls(page, 'presence.set'), [{ op: 'presence.set', args: { show: 'xa', status: 'at lunch' } }]);
    // The server echoes it to our own resource: the account's presence really changed.
    await page.waitForFunction(() => {
      const s = window.client.state;
      return s.presence.some((p) => p.jid === s.session.jid && p.show === 'xa');
    });

    // Tab to the message, type, Enter applies it.
    await page.keyboard.press('Tab');
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('in a meeting');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => window.calls.length === 2);
    assert.deepEqual((await calls(page, 'presence.set'))[1].args, { show: 'xa', status: 'in a meeting' });

    // Escape puts back the current text without sending anything.
    await message.fill('half typed');
    await message.press('Escape');
    assert.equal(await message.inputValue(), 'in a meeting');
    await message.blur();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await calls(page)).length, 2, `nothing sent for an undone edit: ${JSON.stringify(await calls(page))}`);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('presence: another client of the account changes it; a refusal is shown; offline disables', { timeout: 90_000 }, async () => {
  const { alice, bob } = stack.users;
  const { context, errors, open } = await browserContext();
  const natives = [];
  try {
    const page = await open('/presence.html');
    await aliceAway(page);
    await until(page, { show: 'away' });
    const changes = page.evaluate(
      () =>
        new Promise((resolve) =>
          document.addEventListener('sparkweb-presence-change', (e) => resolve(e.detail), { once: true }),
        ),
    );
    changes.catch(() => {}); // awaited below; must not be an unhandled rejection if the test fails first
    // Another tab of the same session changes it: the server echoes our own full JID's presence.
    const other = await open('/blank.html');
    await request(other, 'presence.set', { show: 'dnd', status: 'focus' });
    await until(page, { show: 'dnd', message: 'focus', dot: 'dnd' });
    // Another resource of ours (alice's phone) and a contact do not move the picker.
    const phone = await nativeClient(stack.prosody, alice, { resource: 'phone' });
    natives.push(phone);
    phone.send('<presence><show>chat</show></presence>');
    const bobPhone = await nativeClient(stack.prosody, bob, { resource: 'phone' });
    natives.push(bobPhone);
    bobPhone.send('<presence><show>xa</show></presence>');
    await page.waitForFunction(
      ([phone, bob]) => {
        const p = window.client.state.presence;
        return p.some((x) => x.jid === phone && x.show === 'chat') && p.some((x) => x.jid === bob && x.show === 'xa');
      },
      [phone.jid, bobPhone.jid],
      { timeout: 15_000 },
    );
    assert.equal((await shown(page)).show, 'dnd');

    // More than the engine takes (1 KiB; 400 characters of 3 bytes each fit the field's 500).
    const long = '漢'.repeat(400);
    const message = page.locator('sparkweb-presence').getByLabel('Status message');
    await message.fill(long);
    await message.press('Enter');
    // The typed text stays for another try, as a composer keeps an unsent message.
    await page.waitForFunction(() => document.querySelector('sparkweb-presence').shadowRoot.querySelector('[role="alert"]').textContent !== '');
    const refused = await shown(page);
    assert.match(refused.error, /^Status not changed: .*1024 bytes/, 'the engine\'s refusal is shown');
    assert.equal(refused.message, long);
    assert.equal(await page.evaluate(() => document.querySelector('sparkweb-presence').status), 'focus', 'the current status is unchanged');

    await message.fill('back soon');
    await message.press('Enter');
    assert.deepEqual(await changes, { show: 'dnd', status: 'back soon' }, 'sparkweb-presence-change once accepted');
    await until(page, { message: 'back soon', error: '' });

    await request(other, 'session.logout');
    await until(page, { disabled: true, dot: 'unavailable', show: 'available', message: '' });
    assert.deepEqual(errors, []);
  } finally {
    for (const n of natives) await n.close().catch(() => {});
    await context.close();
  }
});

test('strings: setStrings() and the strings property change the visible text of login, notifications, presence', { timeout: 90_000 }, async () => {
  const { context, errors, open } = await browserContext();
  try {
    const page = await open('/strings.html');
    const login = page.locator('sparkweb-login');
    const notifications = page.locator('sparkweb-notifications');
    const presence = page.locator('sparkweb-presence');
    await fillLogin(page, stack.users.alice); // before setStrings: it finds the form by its English labels
    const jid = await signedInJID(page);
    await login.getByText('Signed in as').waitFor({ timeout: 5_000 });
    await page.evaluate(() =>
      window.i18n.setStrings({
        'login.signOut': 'Abmelden',
        'login.signedInAs': 'Angemeldet als {jid} (Konto)',
        'notifications.button': 'Benachrichtigungen',
        'presence.show.away': 'Abwesend',
        'presence.messageLabel': 'Statusnachricht',
      }),
    );
    await login.getByRole('button', { name: 'Abmelden' }).waitFor({ timeout: 5_000 });
    assert.equal(
      (await login.locator('.who').textContent()).trim(),
      `Angemeldet als ${jid} (Konto)`,
      'placeholders filled, the JID still as text in its part',
    );
    assert.equal(await login.locator('[part="jid"]').textContent(), jid);
    assert.equal((await notifications.getByRole('button').textContent()).trim(), 'Benachrichtigungen');
    assert.equal(await presence.locator('option[value="away"]').textContent(), 'Abwesend');
    assert.equal(await presence.getByLabel('Statusnachricht').count(), 1, 'labels are strings too');

    // One element's own strings win over the page's; short names still work for notifications.
    await page.evaluate(() => {
      document.querySelector('sparkweb-login').strings = { 'login.signOut': 'Ausloggen' };
      document.querySelector('sparkweb-notifications').strings = { button: 'Mitteilungen' };
    });
    await login.getByRole('button', { name: 'Ausloggen' }).waitFor({ timeout: 5_000 });
    assert.equal((await notifications.getByRole('button').textContent()).trim(), 'Mitteilungen');

    // Signed out: the form's labels and button, and an error by code (a wrong password).
    await page.evaluate(() => window.i18n.setStrings({ 'login.address': 'Adresse', 'login.password': 'Passwort', 'login.submit': 'Anmelden', 'login.error.notAuthorized': 'Falsches Passwort.' }));
    await login.getByRole('button', { name: 'Ausloggen' }).click();
    await login.getByRole('button', { name: 'Anmelden' }).waitFor({ timeout: 10_000 });
    assert.equal(await login.getByLabel('Adresse').count(), 1);
    await login.getByLabel('Adresse').fill(stack.users.alice.jid);
    await login.getByLabel('Passwort').fill('not the password');
    await login.getByRole('button', { name: 'Anmelden' }).click();
    await page.waitForFunction(() => document.querySelector('sparkweb-login').shadowRoot.querySelector('[role="alert"]').textContent !== '', null, { timeout: 30_000 });
    assert.equal(await login.getByRole('alert').textContent(), 'Falsches Passwort.');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
