// Screenshots of every example page, signed out and signed in, light and dark, wide and narrow,
// written to test-artifacts/screenshots/ (gitignored; CI may keep the folder). Not compared
// pixel by pixel: they are for people to look at. The test checks that each was written.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, startStack, login, signedInJID, sendChat, openChat, waitForMessage } from './harness.mjs';
import { PAGES, settle } from './pages.mjs';

const DIR = join(ROOT, 'test-artifacts', 'screenshots');
/** The app's other views, signed in. */
const VIEWS = [['room', '#room=lobby@conference.localhost'], ['profile', '#profile']];

let stack;
before(async () => {
  await mkdir(DIR, { recursive: true });
  stack = await startStack();
});
after(() => stack?.close());

test('screenshots of the example pages in light and dark', { timeout: 240_000 }, async (t) => {
  const url = (p) => stack.url + p.replace('{bob}', stack.users.bob.jid);
  // Something to show: a short conversation between alice and bob.
  const bobContext = await stack.browser.newContext();
  const bob = await bobContext.newPage();
  await bob.goto(url('/'));
  await login(bob, stack.users.bob);
  await signedInJID(bob);
  const written = [];
  try {
    for (const colorScheme of ['light', 'dark']) {
      for (const [size, viewport] of [['wide', { width: 1200, height: 800 }], ['narrow', { width: 390, height: 800 }]]) {
        const context = await stack.browser.newContext({ colorScheme, viewport });
        try {
          const page = await context.newPage();
          const shot = async (name) => {
            const path = join(DIR, `${name}-${colorScheme}-${size}.png`);
            await page.screenshot({ path, fullPage: true });
            written.push(path);
          };
          for (const p of PAGES) {
            await page.goto(url(p.path));
            await settle(page);
            await shot(`${p.name}-signed-out`);
          }
          await page.goto(url('/'));
          await login(page, stack.users.alice);
          await signedInJID(page);
          if (written.length <= PAGES.length) {
            // Once: a conversation for every later screenshot of a chat.
            await openChat(page, stack.users.bob.jid);
            await sendChat(page, 'Hello Bob! Is the *release* still on for today?');
            await openChat(bob, stack.users.alice.jid);
            await sendChat(bob, 'Yes — at 5 pm. I will send the notes.');
            await waitForMessage(page, 'Yes — at 5 pm');
          }
          for (const p of PAGES) {
            await page.goto(url(p.signedIn));
            await settle(page);
            await shot(`${p.name}-signed-in`);
          }
          for (const [name, view] of VIEWS) {
            await page.goto(url('/' + view));
            await settle(page);
            await shot(`index-${name}`);
          }
        } finally {
          await context.close();
        }
      }
    }
  } finally {
    await bobContext.close();
  }
  for (const path of written) assert.ok((await stat(path)).size > 1000, `${path} written`);
  assert.equal(written.length, (PAGES.length * 2 + VIEWS.length) * 2 * 2);
  t.diagnostic(`${written.length} screenshots in ${DIR}`);
});
