// The examples against the real stack (Prosody, the relay, Chromium): the README's embedding
// snippet served exactly as written in a blank page, static/examples/app.html, and the two-page
// example (contacts in one window, the conversation in another, one session).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ROOT, startStack, login, signedInJID, openChat, sendChat, waitForMessage, nonce, countSharedWorkers,
} from './harness.mjs';

/** The first ```html block of the README's "Embedding" section. */
async function readmeSnippet() {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Embedding'));
  const match = section.match(/```html\n([\s\S]*?)```/);
  assert.ok(match, 'README.md has an html block under "## Embedding"');
  return match[1];
}

let stack;
before(async () => {
  stack = await startStack();
});
after(() => stack?.close());

/** Bob, signed in with the app example, in a context of his own. */
async function bobOnAppExample() {
  const context = await stack.browser.newContext({ viewport: { width: 1100, height: 750 } });
  const page = await context.newPage();
  await page.goto(stack.url + '/static/examples/app.html');
  await login(page, stack.users.bob);
  await signedInJID(page);
  return { context, page };
}

test('the README embedding snippet in a blank page is a working client', { timeout: 120_000 }, async () => {
  const snippet = await readmeSnippet();
  assert.match(snippet, /<sparkweb-app>/, 'the first snippet is the whole client');
  const alice = await stack.browser.newContext({ viewport: { width: 1100, height: 750 } });
  const bob = await bobOnAppExample();
  try {
    // A page of the relay's origin holding exactly the snippet, as a newcomer would save it.
    const url = stack.url + '/my-page.html';
    await alice.route(url, (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: snippet }));
    const page = await alice.newPage();
    const errors = [];
    page.on('pageerror', (err) => errors.push(err));
    await page.goto(url);
    await login(page, stack.users.alice);
    assert.match(await signedInJID(page), new RegExp(`^${stack.users.alice.jid}/`));
    await openChat(page, stack.users.bob.jid);
    assert.equal(new URL(page.url()).hash, `#chat=${stack.users.bob.jid}`, 'the open chat is in the address');

    const hello = `hello from the README page ${nonce()}`;
    await sendChat(page, hello);
    await waitForMessage(page, hello);
    await openChat(bob.page, stack.users.alice.jid);
    await waitForMessage(bob.page, hello);
    const answer = `hello from app.html ${nonce()}`;
    await sendChat(bob.page, answer);
    await waitForMessage(page, answer);

    // A reload keeps the session and the open chat.
    await page.reload();
    await signedInJID(page);
    await page.locator(`sparkweb-chat[with="${stack.users.bob.jid}"]`).waitFor({ timeout: 15_000 });
    await waitForMessage(page, answer);
    assert.deepEqual(errors, []);
  } finally {
    await alice.close();
    await bob.context.close();
  }
});

test('two-page example: contacts in one window, the chat in another, one session', { timeout: 120_000 }, async () => {
  const alice = await stack.browser.newContext({ viewport: { width: 900, height: 800 } });
  const bob = await bobOnAppExample();
  try {
    const contacts = await alice.newPage();
    const errors = [];
    contacts.on('pageerror', (err) => errors.push(err));
    await contacts.goto(stack.url + '/static/examples/roster.html');
    await login(contacts, stack.users.alice);
    const jid = await signedInJID(contacts);
    const bobRow = contacts.locator(`sparkweb-roster [role="treeitem"][data-jid="${stack.users.bob.jid}"]`);
    await bobRow.waitFor({ timeout: 15_000 });

    // Picking bob opens the chat page in another window, bound to the same session.
    const [chatPage] = await Promise.all([alice.waitForEvent('page'), bobRow.click()]);
    chatPage.on('pageerror', (err) => errors.push(err));
    await chatPage.waitForLoadState();
    assert.equal(new URL(chatPage.url()).pathname, '/static/examples/chat.html');
    await chatPage.locator(`sparkweb-chat[with="${stack.users.bob.jid}"] textarea:enabled`).waitFor({ timeout: 15_000 });
    assert.equal(await countSharedWorkers(stack.browser, chatPage), 1, 'one SharedWorker for both windows');
    const state = await chatPage.evaluate(async () => (await (await import('/webcomponents/sparkweb.js')).connect()).state.session);
    assert.deepEqual(state, { state: 'online', jid }, 'the chat page is online as the same resource without signing in');

    // Sent from page 2: it shows there and reaches bob, while page 1 still lists bob.
    const hello = `from the chat page ${nonce()}`;
    await sendChat(chatPage, hello);
    await waitForMessage(chatPage, hello);
    await openChat(bob.page, stack.users.alice.jid);
    await waitForMessage(bob.page, hello);
    assert.equal(await bobRow.isVisible(), true, 'the contacts page still shows the contact');
    const answer = `answer to the chat page ${nonce()}`;
    await sendChat(bob.page, answer);
    await waitForMessage(chatPage, answer);

    // Picking the contact again reuses the chat window.
    await contacts.bringToFront();
    await bobRow.click();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(alice.pages().length, 2, 'the chat window is reused, not opened again');
    assert.deepEqual(errors, []);
  } finally {
    await alice.close();
    await bob.context.close();
  }
});
