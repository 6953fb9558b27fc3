// Accessibility: axe-core (npm devDependency, injected into the page) checks every example page,
// signed out and signed in, in light and dark, and the test fails on any serious or critical
// violation. axe descends into open shadow roots, where the elements keep their markup.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, startStack, login, signedInJID } from './harness.mjs';
import { PAGES, settle } from './pages.mjs';

let stack;
let axeSource;
before(async () => {
  axeSource = await readFile(join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  stack = await startStack();
});
after(() => stack?.close());

/** Runs axe on the page; returns the serious and critical violations, one line per node. */
async function violations(page) {
  await page.addScriptTag({ content: axeSource });
  const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const lines = [];
  for (const v of results.violations) {
    if (v.impact !== 'serious' && v.impact !== 'critical') continue;
    for (const node of v.nodes) lines.push(`${v.impact} ${v.id}: ${v.help} — ${JSON.stringify(node.target)} ${node.failureSummary?.split('\n')[1] ?? ''}`);
  }
  return lines;
}

for (const colorScheme of ['light', 'dark']) {
  test(`no serious or critical axe violation on any example page (${colorScheme})`, { timeout: 180_000 }, async () => {
    const url = (p) => stack.url + p.replace('{bob}', stack.users.bob.jid);
    // bypassCSP: the relay's policy (rightly) refuses the inline script that carries axe.
    const context = await stack.browser.newContext({ bypassCSP: true, colorScheme, viewport: { width: 1100, height: 800 } });
    const found = [];
    try {
      const page = await context.newPage();
      for (const p of PAGES) {
        await page.goto(url(p.path));
        await settle(page);
        for (const line of await violations(page)) found.push(`${p.name} signed out: ${line}`);
      }
      // The check can fail, inside shadow roots too: a nameless button in an element is caught.
      await page.evaluate(() => document.querySelector('sparkweb-chat').shadowRoot.append(document.createElement('button')));
      const caught = await violations(page);
      assert.ok(caught.some((l) => l.includes('button-name')), `axe misses a nameless button in a shadow root: ${caught}`);

      await page.goto(url('/'));
      await login(page, stack.users.alice);
      await signedInJID(page);
      for (const p of PAGES) {
        await page.goto(url(p.signedIn));
        await settle(page);
        await page.locator('sparkweb-login [part~="jid"], sparkweb-chat textarea:enabled').first().waitFor({ timeout: 15_000 });
        for (const line of await violations(page)) found.push(`${p.name} signed in: ${line}`);
      }
      // The app's other views: a room (joined or not, whatever the server allows) and the profile.
      for (const view of ['#room=lobby@conference.localhost', '#profile']) {
        await page.goto(url('/' + view));
        await settle(page);
        for (const line of await violations(page)) found.push(`index ${view} signed in: ${line}`);
      }
      // Narrow: the one-pane layout of the app.
      await page.setViewportSize({ width: 400, height: 800 });
      await page.goto(url(PAGES[1].signedIn));
      await settle(page);
      for (const line of await violations(page)) found.push(`app narrow signed in: ${line}`);
    } finally {
      await context.close();
    }
    assert.deepEqual(found, [], found.join('\n'));
  });
}
