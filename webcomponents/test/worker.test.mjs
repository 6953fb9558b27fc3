// static/worker.js and the façade with the real engine but no relay: attaching, error values, and
// what the page sees when the engine cannot load.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, serveFiles, requireEngineBuild } from './harness.mjs';

let browser;
const cleanups = [];
before(async () => {
  requireEngineBuild();
  browser = await launchBrowser();
  cleanups.push(() => browser.close());
});
after(async () => {
  for (const fn of cleanups.reverse()) await fn().catch((err) => console.error('cleanup:', err));
});

/** Runs connect() in the page and reports what it resolved or rejected with. */
function tryConnect(page) {
  return page.evaluate(async () => {
    const { connect } = await import('/webcomponents/sparkweb.js');
    try {
      const client = await connect();
      let sendError = null;
      await client.request('chat.send', { to: 'bob@localhost', body: 'hi' }).catch((err) => {
        sendError = { name: err.name, code: err.code, message: err.message };
      });
      return { state: client.state, sendError, same: client === (await connect()) };
    } catch (err) {
      return { error: { name: err.name, code: err.code, message: err.message } };
    }
  });
}

test('the engine attaches tabs and answers with error values', { timeout: 60_000 }, async () => {
  const server = await serveFiles();
  cleanups.push(server.stop);
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(server.url + '/');
    const got = await tryConnect(page);
    assert.equal(got.error, undefined, `connect() failed: ${JSON.stringify(got.error)}`);
    assert.equal(got.same, true, 'connect() returns one client per page');
    assert.equal(got.state.session.state, 'offline');
    assert.deepEqual(got.state.roster, []);
    assert.equal(got.sendError?.name, 'SparkWebError');
    assert.equal(got.sendError?.code, 'not-connected', 'chat.send without a session is refused by code');

    // The login form is usable, and an address without a domain is refused before any request.
    const form = page.locator('sparkweb-login');
    await form.getByLabel('Address').fill('alice');
    await form.getByLabel('Password').fill('secret');
    await form.getByRole('button', { name: 'Sign in' }).click();
    await form.locator('[role="alert"]', { hasText: 'Enter your address as name@server.' }).waitFor({ timeout: 5_000 });
  } finally {
    await context.close();
  }
});

test('an engine that fails to load is reported, not awaited forever', { timeout: 60_000 }, async () => {
  const server = await serveFiles({ '/static/engine.wasm': { status: 404, body: 'gone' } });
  cleanups.push(server.stop);
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(server.url + '/');
    const got = await tryConnect(page);
    assert.deepEqual(got.error, {
      name: 'SparkWebError',
      code: 'internal-server-error',
      message: 'engine failed to load: GET engine.wasm: HTTP 404',
    });
    await page
      .locator('sparkweb-login [role="alert"]', { hasText: 'engine failed to load' })
      .waitFor({ timeout: 5_000 });
  } finally {
    await context.close();
  }
});
