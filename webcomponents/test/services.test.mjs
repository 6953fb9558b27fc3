// Session services in the browser against the real engine, relay and Prosody: HTTP file upload
// (XEP-0363) from a tab with progress and cancellation, and client state indication (XEP-0352)
// following the visibility of the tabs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, openSignedIn } from './harness.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.close();
});

const PAGE = '/services-test.html';

function open(context) {
  return openSignedIn(stack, stack.users.alice, { path: PAGE, modules: [], body: '', ...context });
}

test('upload: progress to the end and the same bytes back; a cancelled upload rejects', { timeout: 120_000 }, async () => {
  const { page, context, errors } = await open();
  // The test page is fulfilled by Playwright, not loaded from 127.0.0.1, so Chromium counts it
  // as public and asks before it reaches Prosody's loopback port; a relay-served page would not.
  await context.grantPermissions(['local-network-access'], { origin: stack.url });
  try {
    const done = await page.evaluate(async () => {
      const { upload } = await import('/webcomponents/sparkweb.js');
      const bytes = new Uint8Array(300 * 1024);
      for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
      const progress = [];
      const url = await upload(new File([bytes], 'small.bin', { type: 'application/octet-stream' }), {
        onProgress: (sent, total) => progress.push([sent, total]),
      });
      const back = new Uint8Array(await (await fetch(url)).arrayBuffer());
      return { url, progress, size: bytes.length, same: back.length === bytes.length && back.every((b, i) => b === bytes[i]) };
    });
    assert.match(done.url, /^http:\/\/127\.0\.0\.1:\d+\//);
    assert.ok(done.progress.length >= 1, 'progress was reported');
    assert.deepEqual(done.progress.at(-1), [done.size, done.size], 'the last progress event is the whole file');
    assert.ok(done.same, 'the file downloads with the bytes uploaded');

    // Throttled, so that the upload is still under way when its first progress event arrives.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 512 * 1024 });
    const cancelled = await page.evaluate(async () => {
      const { upload } = await import('/webcomponents/sparkweb.js');
      const size = 8 * 1024 * 1024;
      const ctl = new AbortController();
      const progress = [];
      try {
        const url = await upload(new File([new Uint8Array(size)], 'big.bin'), {
          signal: ctl.signal,
          onProgress: (sent) => {
            progress.push(sent);
            ctl.abort();
          },
        });
        return { url, progress, size };
      } catch (err) {
        return { name: err.name, progress, size };
      }
    });
    assert.equal(cancelled.name, 'AbortError', `the cancelled upload rejects with an AbortError: ${JSON.stringify(cancelled)}`);
    assert.ok(cancelled.progress.length >= 1 && cancelled.progress[0] < cancelled.size, 'it was cancelled part way');
    await cdp.detach();

    const refused = await page.evaluate(async () => {
      const { upload } = await import('/webcomponents/sparkweb.js');
      try {
        await upload({ name: 'huge.bin', size: 11 * 1024 * 1024, type: '' });
        return null;
      } catch (err) {
        return { code: err.code, message: err.message };
      }
    });
    assert.equal(refused?.code, 'not-acceptable', `a file over the limit is refused: ${JSON.stringify(refused)}`);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

/** Makes page report itself hidden or visible, as the browser does when a tab is put away. */
function setVisible(page, visible) {
  return page.evaluate((v) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (v ? 'visible' : 'hidden') });
    document.dispatchEvent(new Event('visibilitychange'));
  }, visible);
}

test('client state: inactive once no tab is visible, active again when one is', { timeout: 120_000 }, async () => {
  const { page: tab1, context } = await open();
  try {
    const tab2 = await context.newPage();
    await tab2.goto(stack.url + PAGE);
    await tab2.locator('body[data-ready="yes"]').waitFor({ timeout: 10_000 });
    // Both tabs attached and reported themselves visible; tab 1 records the engine's csi events.
    for (const tab of [tab1, tab2]) await tab.evaluate(async () => (await import('/webcomponents/sparkweb.js')).connect());
    await tab1.evaluate(async () => {
      const client = await (await import('/webcomponents/sparkweb.js')).connect();
      window.csiEvents = [];
      client.on('csi', (data) => window.csiEvents.push(data));
    });
    const events = () => tab1.evaluate(() => window.csiEvents);

    await setVisible(tab1, false); // tab 2 still shows the app
    await setVisible(tab2, false); // now none does
    await tab1.waitForFunction(() => window.csiEvents.length > 0, null, { timeout: 10_000 });
    assert.deepEqual(await events(), [{ active: false, sent: true }], 'inactive only once both tabs are hidden, and sent to Prosody');

    await setVisible(tab1, true);
    await tab1.waitForFunction(() => window.csiEvents.length > 1, null, { timeout: 10_000 });
    assert.deepEqual((await events())[1], { active: true, sent: true });

    // A visible tab that closes counts too: with only hidden tabs left the user is inactive.
    await setVisible(tab2, true);
    await setVisible(tab1, false);
    await tab2.close();
    await tab1.waitForFunction(() => window.csiEvents.length > 2, null, { timeout: 10_000 });
    assert.deepEqual((await events())[2], { active: false, sent: true });
  } finally {
    await context.close();
  }
});
