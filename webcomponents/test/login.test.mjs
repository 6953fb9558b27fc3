// <sparkweb-login> sign-up: offered when the relay allows registration (--allow-register, and
// Prosody with PROSODY_ALLOW_REGISTRATION=1), with a password confirmation; refusals (name taken,
// name refused, passwords that differ) shown as text; a new account is created on the real server
// and signed in. A second relay on the same Prosody without --allow-register offers nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, startRelay, routeTestPage } from './harness.mjs';

let stack;
let closedRelay;
before(async () => {
  stack = await startStack({ prosodyEnv: { PROSODY_ALLOW_REGISTRATION: '1' }, relayArgs: ['--allow-register'] });
  closedRelay = await startRelay({ upstream: stack.prosody.wsURL, domain: stack.prosody.domain });
});
after(async () => {
  await closedRelay?.stop();
  await stack?.close();
});

const PAGE = '/login.html';

/** A fresh context showing `body` on `base`'s origin, the page's client on window.client. */
async function open(base, body) {
  const context = await stack.browser.newContext();
  await routeTestPage(context, base + PAGE, {
    modules: ['/webcomponents/sparkweb-login.js'],
    body,
    script: `
const { connect } = await import('/webcomponents/sparkweb.js');
window.client = await connect();
window.created = [];
document.addEventListener('sparkweb-account-created', (e) => window.created.push(e.detail));`,
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err));
  await page.goto(base + PAGE);
  await page.locator('body[data-ready="yes"]').waitFor({ state: 'attached', timeout: 10_000 });
  return { page, context, errors };
}

/** Waits until the login element `form` shows a signed-in account and returns its full JID. */
async function signedIn(form) {
  const who = form.locator('[part~="jid"]');
  await who.waitFor({ state: 'visible', timeout: 30_000 });
  return (await who.textContent()).trim();
}

/** The text of the element's alert once it is not empty. */
async function alertText(page, form) {
  await page.waitForFunction(
    (el) => el.shadowRoot.querySelector('[role="alert"]').textContent !== '',
    await form.elementHandle(),
    { timeout: 30_000 },
  );
  return form.getByRole('alert').textContent();
}

test('sign-up where the relay allows it: refusals shown, then a new account signed in', { timeout: 90_000 }, async () => {
  const { domain } = stack.prosody;
  const { page, context, errors } = await open(stack.url, '<sparkweb-login id="a"></sparkweb-login><sparkweb-login id="b" no-register></sparkweb-login>');
  try {
    const form = page.locator('#a');
    const toggle = form.getByRole('button', { name: 'Create account' });
    await toggle.waitFor({ timeout: 15_000 });
    assert.equal(await page.locator('#b').getByRole('button', { name: 'Create account' }).count(), 0, 'no-register never offers it');
    assert.equal(await form.getByLabel('Confirm password').isVisible(), false, 'signing in needs no confirmation');

    await toggle.click();
    const confirm = form.getByLabel('Confirm password');
    await confirm.waitFor({ timeout: 5_000 });
    assert.equal(await page.evaluate(() => document.querySelector('#a').shadowRoot.activeElement?.id), 'jid', 'focus goes to the address');
    assert.equal(await form.getByLabel('Password', { exact: true }).getAttribute('autocomplete'), 'new-password');
    const submit = form.locator('button[type="submit"]');
    assert.equal((await submit.textContent()).trim(), 'Create account');
    assert.equal(await form.getByRole('button', { name: 'I have an account' }).count(), 1);

    const fill = async (jid, password, again = password) => {
      await form.getByLabel('Address').fill(jid);
      await form.getByLabel('Password', { exact: true }).fill(password);
      await confirm.fill(again);
      await submit.click();
    };
    await fill(`erin@${domain}`, 'erin-pw-1', 'erin-pw-2');
    assert.equal(await alertText(page, form), 'The passwords do not match.');

    // alice exists: the server says conflict.
    await fill(stack.users.alice.jid, 'whatever-pw');
    await form.getByRole('alert').filter({ hasText: 'That name is taken. Choose another one.' }).waitFor({ timeout: 30_000 });
    // An account on another domain than the relay's: refused by the relay.
    await fill('erin@elsewhere.example', 'erin-pw');
    await form.getByRole('alert').filter({ hasText: 'The server refused this name or password.' }).waitFor({ timeout: 30_000 });
    assert.equal(await page.evaluate(() => window.client.state.session.state), 'offline', 'nothing signed in on a refusal');

    await fill(`erin@${domain}`, 'erin-pw');
    const jid = await signedIn(form);
    assert.ok(jid.startsWith(`erin@${domain}/`), `signed in as the new account: ${jid}`);
    assert.deepEqual(await page.evaluate(() => window.created), [{ jid: `erin@${domain}` }]);

    // Signed out, the form is back in sign-in mode; the new password works there too.
    await form.getByRole('button', { name: 'Sign out' }).click();
    await form.getByRole('button', { name: 'Sign in' }).waitFor({ timeout: 10_000 });
    assert.equal(await confirm.isVisible(), false);
    await form.getByLabel('Address').fill(`erin@${domain}`);
    await form.getByLabel('Password', { exact: true }).fill('erin-pw');
    await form.getByRole('button', { name: 'Sign in' }).click();
    assert.ok((await signedIn(form)).startsWith(`erin@${domain}/`));

    // Its strings are replaceable like the others.
    await form.getByRole('button', { name: 'Sign out' }).click();
    await page.evaluate(() => {
      document.querySelector('#a').strings = { 'login.register': 'Konto anlegen' };
    });
    await form.getByRole('button', { name: 'Konto anlegen' }).waitFor({ timeout: 10_000 });
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('no sign-up where the relay does not allow it', { timeout: 60_000 }, async () => {
  const { page, context, errors } = await open(closedRelay.url, '<sparkweb-login></sparkweb-login>');
  try {
    const form = page.locator('sparkweb-login');
    await form.getByRole('button', { name: 'Sign in' }).waitFor({ timeout: 15_000 });
    // The element asked the same question when its form showed; once this answer is in, so is its own.
    const code = await page.evaluate(() => window.client.request('account.registerForm').then(() => 'ok', (err) => err.code));
    assert.equal(code, 'not-allowed');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await form.getByRole('button', { name: 'Create account' }).count(), 0);
    assert.equal(await form.locator('button[part="toggle"]').isHidden(), true);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
