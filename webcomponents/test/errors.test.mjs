// Login failures the user must see plainly: a wrong password and an unreachable server.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startProsody,
  startRelay,
  launchBrowser,
  freePort,
  inspectSharedWorker,
  login,
  signedInJID,
} from './harness.mjs';

const cleanups = [];
after(async () => {
  for (const fn of cleanups.reverse()) await fn().catch((err) => console.error('cleanup:', err));
});

async function browser() {
  const b = await launchBrowser();
  cleanups.push(() => b.close());
  return b;
}

test('wrong password: token endpoint says invalid_grant, the form says so', { timeout: 120_000 }, async (t) => {
  const prosody = await startProsody();
  cleanups.push(prosody.stop);
  const relay = await startRelay({ upstream: prosody.wsURL, domain: prosody.domain });
  cleanups.push(relay.stop);
  const b = await browser();
  const page = await b.newPage();
  await page.goto(relay.url + '/');
  // The engine fetches from the SharedWorker, which page.waitForResponse cannot see: watch it over CDP.
  const inspector = await inspectSharedWorker(b);
  try {
    const { alice } = prosody.users;
    const token = inspector.waitForResponse((u) => new URL(u).pathname === '/api/token');
    await login(page, { jid: alice.jid, password: alice.password + 'x' });
    const res = await token;
    assert.equal(res.status, 400);
    // Chromium keeps no body for the engine's streamed read: replay the very request it sent.
    const { method, headers, postData } = res.request;
    const replay = await fetch(res.url, { method, headers: { 'content-type': headers['Content-Type'] ?? headers['content-type'] }, body: postData });
    assert.equal(replay.status, 400);
    assert.equal((await replay.json()).error, 'invalid_grant');
    const alert = page.locator('sparkweb-login [role="alert"]');
    await alert.filter({ hasText: 'Wrong username or password.' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('sparkweb-login button[type="submit"]').isEnabled(), true, 'the form can be used again');

    // The failure is not sticky: the right password then works.
    await login(page, alice);
    assert.match(await signedInJID(page), new RegExp(`^${alice.jid}/`));
    assert.equal((await alert.textContent()).trim(), '', 'the old error is gone once online');
  } catch (err) {
    console.log(`SharedWorker console:\n${inspector.console.join('\n')}`);
    console.log(`relay output:\n${relay.output()}`);
    throw err;
  } finally {
    await inspector.detach();
  }
});

test('upstream unreachable: the form says "Server unreachable."', { timeout: 120_000 }, async (t) => {
  // A port nothing listens on stands in for a dead XMPP server.
  const relay = await startRelay({ upstream: `ws://127.0.0.1:${await freePort()}/xmpp-websocket`, domain: 'localhost' });
  cleanups.push(relay.stop);
  const b = await browser();
  const page = await b.newPage();
  await page.goto(relay.url + '/');
  const started = Date.now();
  try {
    await login(page, { jid: 'alice@localhost', password: 'whatever' });
    await page
      .locator('sparkweb-login [role="alert"]', { hasText: 'Server unreachable.' })
      .waitFor({ timeout: 30_000 });
    t.diagnostic(`unreachable server reported after ${Date.now() - started} ms`);
    assert.equal(await page.locator('sparkweb-login button[type="submit"]').isEnabled(), true, 'not stuck signing in');
  } catch (err) {
    console.log(`relay output:\n${relay.output()}`);
    throw err;
  }
});
