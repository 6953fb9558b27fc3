// <sparkweb-presence>: reflects the account's presence, changes it by keyboard, reports a refusal;
// and the translatable strings of the elements of this file's neighbours (<sparkweb-login>,
// <sparkweb-notifications>), replaced page-wide with setStrings() and per element.
// Driven by the scripted engine of fake-engine.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { aliceSnapshot, emit, fakePage, requests, startFake } from './fake-engine.mjs';

let fake;
before(async () => {
  fake = await startFake(aliceSnapshot(), {
    '/presence.html': fakePage(['sparkweb-presence.js'], '<sparkweb-presence></sparkweb-presence>'),
    '/strings.html': fakePage(
      ['sparkweb-login.js', 'sparkweb-notifications.js', 'sparkweb-presence.js'],
      '<sparkweb-login></sparkweb-login><sparkweb-notifications></sparkweb-notifications><sparkweb-presence></sparkweb-presence>',
    ),
  });
});
after(() => fake?.close());

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

async function until(page, want, ms = 5_000) {
  let last;
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    last = await shown(page);
    if (Object.entries(want).every(([k, v]) => last[k] === v)) return last;
  }
  assert.deepEqual(last, { ...last, ...want });
  return last;
}

test('presence: shows our presence, changes it by keyboard, Escape undoes an edit', { timeout: 60_000 }, async () => {
  const { page, context, errors } = await fake.open('/presence.html');
  try {
    const el = page.locator('sparkweb-presence');
    await until(page, { show: 'away', message: 'at lunch', dot: 'away', disabled: false });
    const select = el.getByLabel('Status', { exact: true });
    const message = el.getByLabel('Status message');
    assert.deepEqual(await select.locator('option').allTextContents(), ['Available', 'Free to chat', 'Away', 'Extended away', 'Do not disturb']);

    // The select is operable with the arrow keys; each change is sent at once.
    await select.focus();
    await page.keyboard.press('ArrowDown');
    await until(page, { show: 'xa' });
    await page.waitForFunction(async () => (await window.client.request('test.requests')).some((r) => r.op === 'presence.set'));
    assert.deepEqual(await requests(page, 'presence.set'), [{ op: 'presence.set', args: { show: 'xa', status: 'at lunch' } }]);

    // Tab to the message, type, Enter applies it.
    await page.keyboard.press('Tab');
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('in a meeting');
    await page.keyboard.press('Enter');
    await page.waitForFunction(async () => (await window.client.request('test.requests')).length === 2);
    assert.deepEqual((await requests(page, 'presence.set'))[1].args, { show: 'xa', status: 'in a meeting' });

    // Escape puts back the current text without sending anything.
    await message.fill('half typed');
    await message.press('Escape');
    assert.equal(await message.inputValue(), 'in a meeting');
    await message.blur();
    assert.equal((await requests(page)).length, 2, `nothing sent for an undone edit: ${JSON.stringify(await requests(page))}`);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('presence: another client of the account changes it; a refusal is shown; offline disables', { timeout: 60_000 }, async () => {
  const { page, context, errors } = await fake.open('/presence.html');
  try {
    await until(page, { show: 'away' });
    const changes = page.evaluate(
      () =>
        new Promise((resolve) =>
          document.addEventListener('sparkweb-presence-change', (e) => resolve(e.detail), { once: true }),
        ),
    );
    changes.catch(() => {}); // awaited below; must not be an unhandled rejection if the test fails first
    // Our own full JID's presence, as the server echoes a change made elsewhere.
    await emit(page, 'presence', { jid: 'alice@localhost/web', bare: 'alice@localhost', show: 'dnd', status: 'focus', priority: 0 });
    await until(page, { show: 'dnd', message: 'focus', dot: 'dnd' });
    // Another resource of ours or a contact does not move the picker.
    await emit(page, 'presence', { jid: 'alice@localhost/phone', bare: 'alice@localhost', show: 'chat', status: '', priority: 0 });
    await emit(page, 'presence', { jid: 'bob@localhost/phone', bare: 'bob@localhost', show: 'xa', status: '', priority: 0 });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await shown(page)).show, 'dnd');

    const message = page.locator('sparkweb-presence').getByLabel('Status message');
    await message.fill('please refuse this');
    await message.press('Enter');
    // The typed text stays for another try, as a composer keeps an unsent message.
    await until(page, { error: 'Status not changed: refused by the test', message: 'please refuse this' });
    assert.equal(await page.evaluate(() => document.querySelector('sparkweb-presence').status), 'focus', 'the current status is unchanged');

    await message.fill('back soon');
    await message.press('Enter');
    assert.deepEqual(await changes, { show: 'dnd', status: 'back soon' }, 'sparkweb-presence-change once accepted');
    await until(page, { message: 'back soon', error: '' });

    await emit(page, 'session', { state: 'offline', jid: '' });
    await until(page, { disabled: true, dot: 'unavailable', show: 'available', message: '' });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('strings: setStrings() and the strings property change the visible text of login, notifications, presence', { timeout: 60_000 }, async () => {
  const { page, context, errors } = await fake.open('/strings.html');
  try {
    const login = page.locator('sparkweb-login');
    const notifications = page.locator('sparkweb-notifications');
    const presence = page.locator('sparkweb-presence');
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
      'Angemeldet als alice@localhost/web (Konto)',
      'placeholders filled, the JID still as text in its part',
    );
    assert.equal(await login.locator('[part="jid"]').textContent(), 'alice@localhost/web');
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

    // Signed out: the form's labels and button, and an error by code.
    await page.evaluate(() => window.i18n.setStrings({ 'login.address': 'Adresse', 'login.submit': 'Anmelden', 'login.error.notAuthorized': 'Falsches Passwort.' }));
    await emit(page, 'session', { state: 'auth-failed', jid: 'alice@localhost', error: { code: 'not-authorized', message: 'x' } });
    await login.getByRole('button', { name: 'Anmelden' }).waitFor({ timeout: 5_000 });
    assert.equal(await login.getByLabel('Adresse').count(), 1);
    assert.equal(await login.getByRole('alert').textContent(), 'Falsches Passwort.');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
