// <sparkweb-chat> against the real engine, relay and Prosody, alice and bob in two browser
// contexts: styling and links, message states up to "read" (the displayed marker the chat sends),
// typing notifications, corrections, reactions, replies, retraction, Escape; history scroll-back
// through the archive with the scroll position kept; a file uploaded to Prosody's upload service
// shown as an image to the peer; progress, cancel and drag and drop of real uploads; OOB links,
// unsafe ones too, and an error reply sent by bob's native client (native-client.mjs). The
// "Sending…" state of a pending message is shown in outbox.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, routeTestPage, openPage, request, login, signedInJID, nonce } from './harness.mjs';
import { nativeClient, xmlEscape } from './native-client.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.close();
});

const PAGE = '/chat-test.html';

/** A signed-in page of a fresh browser context with a chat open with `peer`. */
async function openAs(user, peer) {
  const context = await stack.browser.newContext();
  await routeTestPage(context, stack.url + PAGE, {
    modules: ['/webcomponents/sparkweb-login.js', '/webcomponents/sparkweb-chat.js'],
    body: `<sparkweb-login></sparkweb-login><sparkweb-chat with="${peer.jid}" style="height: 480px"></sparkweb-chat>`,
  });
  // The test page is fulfilled by Playwright, so Chromium counts it as public and asks before it
  // reaches Prosody's loopback upload service; a page served by the relay would not need this.
  await context.grantPermissions(['local-network-access'], { origin: stack.url });
  const { page, errors } = await openPage(context, stack.url + PAGE);
  page.on('dialog', (d) => d.accept());
  await login(page, user);
  await signedInJID(page);
  await page.locator('sparkweb-chat textarea:enabled').waitFor({ timeout: 15_000 });
  return { page, context, errors, chat: page.locator('sparkweb-chat') };
}

const message = (chat, text) => chat.locator('[part~="message"]', { hasText: text });

test('two users: styling, links, states to read, typing, edit, react, reply, retract', { timeout: 180_000 }, async () => {
  const { alice, bob } = stack.users;
  const a = await openAs(alice, bob);
  const b = await openAs(bob, alice);
  try {
    const n = nonce();
    const body = `hi ${n} *bold* _em_ ~gone~ \`code\` see https://example.org/a?b=1. or xmpp:${bob.jid} not javascript:alert(1)`;
    const input = a.chat.locator('textarea');
    await input.fill(body);
    await input.press('Enter');

    // Bob sees it styled, with safe links only, and it is announced.
    const got = message(b.chat, n);
    await got.waitFor({ timeout: 15_000 });
    const bubble = got.locator('[part="body"]');
    assert.equal(await bubble.locator('strong').textContent(), 'bold');
    assert.equal(await bubble.locator('em').textContent(), 'em');
    assert.equal(await bubble.locator('s').textContent(), 'gone');
    assert.equal(await bubble.locator('code').textContent(), 'code');
    const links = await bubble.locator('a').evaluateAll((as) => as.map((x) => [x.getAttribute('href'), x.rel, x.target, x.textContent]));
    assert.deepEqual(links, [
      ['https://example.org/a?b=1', 'noopener noreferrer nofollow', '_blank', 'https://example.org/a?b=1'],
      [`xmpp:${bob.jid}`, 'noopener noreferrer nofollow', '_blank', `xmpp:${bob.jid}`],
    ]);
    assert.equal(await bubble.innerText(), body.replace(/[*_~`]/g, ''), 'the styling characters are hidden, the text is whole');
    assert.match(await b.chat.locator('[aria-live="polite"]').textContent(), new RegExp(`: hi ${n}`));

    // Bob's chat is visible, so it marks the message displayed: alice's copy goes to "read".
    const mine = message(a.chat, n);
    await mine.locator('[part="state"][data-state="read"]').waitFor({ timeout: 15_000 });
    assert.equal(await mine.locator('[part="state"] .visually-hidden').textContent(), ' Read');

    // Typing: bob sees alice composing, then not any more once she clears the composer.
    await input.pressSequentially('typing…');
    await b.chat.locator('[part="typing"]', { hasText: 'is typing…' }).waitFor({ timeout: 15_000 });
    await input.fill('');
    await input.dispatchEvent('input');
    await b.chat.locator('[part="typing"]:empty').waitFor({ state: 'attached', timeout: 15_000 });

    // Correction: ArrowUp in the empty composer edits the last own message; Escape cancels.
    await input.press('ArrowUp');
    assert.equal(await input.inputValue(), body);
    assert.equal(await a.chat.locator('[part="context"]').innerText().then((s) => s.includes('Editing your message')), true);
    await input.press('Escape');
    assert.equal(await input.inputValue(), '');
    assert.equal(await a.chat.locator('[part="context"]').isHidden(), true);
    await input.press('ArrowUp');
    await input.fill(`fixed ${n}`);
    await input.press('Enter');
    const fixed = message(b.chat, `fixed ${n}`);
    await fixed.locator('[part="edited"]').waitFor({ timeout: 15_000 });
    assert.equal(await message(b.chat, 'bold').count(), 0, 'the correction replaced the body');

    // Reaction: bob picks 👍; both see a count of one, pressed only for bob.
    await fixed.hover();
    await fixed.getByRole('button', { name: 'React' }).click();
    await fixed.locator('[part="picker"]').getByRole('button', { name: '👍' }).click();
    const bobsReaction = fixed.locator('[part="reaction"]', { hasText: '👍 1' });
    await bobsReaction.waitFor({ timeout: 15_000 });
    assert.equal(await bobsReaction.getAttribute('aria-pressed'), 'true');
    const alicesView = message(a.chat, `fixed ${n}`).locator('[part="reaction"]', { hasText: '👍 1' });
    await alicesView.waitFor({ timeout: 15_000 });
    assert.equal(await alicesView.getAttribute('aria-pressed'), 'false');

    // Reply: bob answers that message; alice sees the quote of her own message.
    await fixed.getByRole('button', { name: 'Reply' }).click();
    assert.match(await b.chat.locator('[part="context"]').innerText(), new RegExp(`Replying to Alice: fixed ${n}`));
    const bInput = b.chat.locator('textarea');
    await bInput.fill(`answer ${n}`);
    await bInput.press('Enter');
    const answer = message(a.chat, `answer ${n}`);
    await answer.waitFor({ timeout: 15_000 });
    assert.equal(await answer.locator('[part="reply-quote"]').textContent(), `↪ You: fixed ${n}`);
    assert.equal(await b.chat.locator('[part="context"]').isHidden(), true, 'sending ends the reply');

    // Quotes and code blocks render as blocks.
    await input.fill(`> quoted ${n}\nafter\n\`\`\`\nblock *not bold*\n\`\`\``);
    await input.press('Enter');
    const quoted = message(b.chat, `quoted ${n}`);
    await quoted.waitFor({ timeout: 15_000 });
    assert.equal(await quoted.locator('blockquote').textContent(), `> quoted ${n}\n`);
    assert.equal(await quoted.locator('pre').innerText().then((s) => s.trim()), 'block *not bold*');
    assert.equal(await quoted.locator('pre strong').count(), 0);

    // Retraction of alice's own message.
    const own = a.chat.locator('[part~="message-out"]', { hasText: `fixed ${n}` });
    await own.hover();
    await own.getByRole('button', { name: 'Delete' }).click();
    await b.chat.locator('[part~="message-retracted"]', { hasText: 'This message was deleted.' }).waitFor({ timeout: 15_000 });
    assert.equal(await message(b.chat, `fixed ${n}`).count(), 0);
    assert.equal(await b.chat.locator('img').count(), 0);
    for (const s of [a, b]) assert.deepEqual(s.errors, []);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('history: scrolling to the top pages back and keeps the position', { timeout: 240_000 }, async () => {
  const { alice, bob } = stack.users;
  const tag = `h${nonce()}`;
  // More than the engine fetches at login (a page of 100), so the rest needs scrolling back.
  const N = 260;
  // Bob is online while alice writes (otherwise Prosody would hand him all of it as offline
  // messages at his next login), then signs in again in a new context: a new engine that has
  // only what it fetches from the archive at login.
  const a = await openAs(alice, bob);
  const first = await openAs(bob, alice);
  try {
    for (let i = 0; i < N; i++) await request(a.page, 'chat.send', { to: bob.jid, body: `${tag} ${String(i).padStart(3, '0')}` });
    await message(first.chat, `${tag} ${N - 1}`).waitFor({ timeout: 60_000 });
  } finally {
    await a.context.close();
    await first.context.close();
  }
  const b = await openAs(bob, alice);
  try {
    await message(b.chat, `${tag} ${N - 1}`).waitFor({ timeout: 30_000 });
    await b.page.waitForTimeout(1000); // the login's archive page has landed
    assert.ok((await b.chat.locator('[part~="message"]').count()) < N, 'the start is not loaded yet');
    for (let round = 0; round < 20 && !(await message(b.chat, `${tag} 000`).count()); round++) {
      const countBefore = await b.chat.locator('[part~="message"]').count();
      // Scroll to the top and note where the top message is, before the page of older ones lands.
      const { id, topBefore } = await b.chat.evaluate((el) => {
        el.shadowRoot.querySelector('[part="scroller"]').scrollTop = 0;
        const first = el.shadowRoot.querySelector('[part~="message"]');
        return { id: first.dataset.id, topBefore: first.getBoundingClientRect().top };
      });
      await b.page.waitForFunction(
        ([n]) => document.querySelector('sparkweb-chat').shadowRoot.querySelectorAll('[part~="message"]').length > n,
        [countBefore],
        { timeout: 15_000 },
      );
      // The message that was at the top stays where it was: the older ones came in above it.
      const topAfter = await b.chat.evaluate((el, id) => el.shadowRoot.querySelector(`[data-id="${id}"]`).getBoundingClientRect().top, id);
      assert.ok(Math.abs(topAfter - topBefore) < 5, `scroll position kept (${topBefore} → ${topAfter})`);
    }
    await message(b.chat, `${tag} 000`).waitFor({ timeout: 5_000 });
    const bodies = await b.chat.locator('[part="body"]').allTextContents();
    const ours = bodies.filter((x) => x.startsWith(tag));
    assert.deepEqual(ours, Array.from({ length: N }, (_, i) => `${tag} ${String(i).padStart(3, '0')}`), 'all of them, once, in order');
    assert.deepEqual(b.errors, []);
  } finally {
    await b.context.close();
  }
});

test('upload through the real engine and Prosody: the peer sees the image', { timeout: 120_000 }, async () => {
  const { alice, bob } = stack.users;
  const a = await openAs(alice, bob);
  const b = await openAs(bob, alice);
  try {
    // A 1×1 PNG.
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
    const name = `pixel-${nonce()}.png`;
    const [chooser] = await Promise.all([a.page.waitForEvent('filechooser'), a.chat.getByRole('button', { name: 'Attach a file' }).click()]);
    await chooser.setFiles({ name, mimeType: 'image/png', buffer: png });
    const img = message(b.chat, name).locator('img[part="image"]');
    await img.waitFor({ state: 'attached', timeout: 30_000 });
    assert.match(await img.getAttribute('src'), new RegExp(`^https?://.*${name}$`));
    await b.page.waitForFunction((el) => el.complete, await img.elementHandle(), { timeout: 15_000 });
    assert.equal(await img.evaluate((i) => i.naturalWidth), 1, 'the image was downloaded from the upload service');
    assert.equal(await a.chat.locator('[part="progress"]').isHidden(), true);
    assert.equal(await a.chat.locator('[role="alert"]').textContent(), '');
    for (const s of [a, b]) assert.deepEqual(s.errors, []);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

// Out-of-band links and an error reply sent by bob's native client (exact stanzas, so an unsafe
// URL can be sent); the upload held half-way by throttling the page's network (CDP), cancelled
// with Escape; a dropped file uploaded to Prosody and sent with OOB.
test('upload: progress, cancel with Escape, drop; OOB images and unsafe URLs; errors on the message', { timeout: 120_000 }, async () => {
  const { alice, bob } = stack.users;
  const phone = await nativeClient(stack.prosody, bob, { resource: 'phone' });
  phone.send('<presence/>'); // messages to bob's bare JID reach the phone
  const a = await openAs(alice, bob);
  try {
    const { page: p, chat } = a;
    const n = nonce();
    // OOB: an https image shows as <img>; a javascript: URL shows neither image nor link.
    phone.send(
      `<message type='chat' to='${xmlEscape(alice.jid)}' id='img-${n}'><body>https://files.example/cat-${n}.png</body>` +
        `<x xmlns='jabber:x:oob'><url>https://files.example/cat-${n}.png</url></x></message>`,
    );
    phone.send(
      `<message type='chat' to='${xmlEscape(alice.jid)}' id='bad-${n}'><body>look ${n}</body>` +
        `<x xmlns='jabber:x:oob'><url>javascript:alert(1)//x.png</url></x></message>`,
    );
    const img = message(chat, `cat-${n}.png`).locator('img');
    await img.waitFor({ state: 'attached', timeout: 15_000 });
    assert.equal(await img.getAttribute('src'), `https://files.example/cat-${n}.png`);
    await message(chat, `look ${n}`).waitFor({ timeout: 15_000 });
    assert.equal(await message(chat, `look ${n}`).locator('img, a').count(), 0);

    // An error reply from bob's phone shows on the message it answers, in words.
    const input = chat.locator('textarea');
    await input.fill(`bounced ${n}`);
    await input.press('Enter');
    const got = await phone.waitFor(new RegExp(`<message [^>]*>(?:(?!</message>)[^])*bounced ${n}`));
    const id = /\bid=['"]([^'"]+)['"]/.exec(got)[1];
    const sender = /\bfrom=['"]([^'"]+)['"]/.exec(got)[1];
    phone.send(
      `<message type='error' to='${xmlEscape(sender)}' id='${xmlEscape(id)}'><error type='cancel'>` +
        `<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>bob cannot receive messages</text></error></message>`,
    );
    const errorText = message(chat, `bounced ${n}`).locator('[part="error-text"]');
    await errorText.waitFor({ timeout: 15_000 });
    assert.match(await errorText.textContent(), /^Not delivered: .*bob cannot receive messages/);
    assert.match(await message(chat, `bounced ${n}`).getAttribute('part'), /message-error/);

    // The attach button: the page's uploads are throttled, so the upload is under way when its
    // progress shows; Escape cancels it and nothing is sent.
    const cdp = await a.context.newCDPSession(p);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 256 * 1024 });
    const [chooser] = await Promise.all([p.waitForEvent('filechooser'), chat.getByRole('button', { name: 'Attach a file' }).click()]);
    await chooser.setFiles({ name: `notes-${n}.txt`, mimeType: 'text/plain', buffer: Buffer.alloc(6 * 1024 * 1024, 'x') });
    const progress = chat.locator('[part="progress"] progress');
    await p.waitForFunction(
      (el) => (el.shadowRoot.querySelector('[part="progress"] progress')?.value ?? 0) > 0,
      await chat.elementHandle(),
      { timeout: 30_000 },
    );
    assert.ok((await progress.evaluate((x) => x.value)) < 1, 'part way');
    await input.press('Escape');
    await chat.locator('[role="alert"]', { hasText: 'Upload cancelled.' }).waitFor({ timeout: 5_000 });
    assert.equal(await progress.isHidden(), true);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await cdp.detach();

    // Drag and drop: the file is uploaded to Prosody and its URL sent with OOB; bob's phone gets it.
    const name = `photo-${n}.png`;
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    await chat.evaluate((el, [name, png]) => {
      const dt = new DataTransfer();
      dt.items.add(new File([Uint8Array.from(atob(png), (c) => c.charCodeAt(0))], name, { type: 'image/png' }));
      el.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      el.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, [name, png]);
    const sent = await phone.waitFor(new RegExp(`<message [^>]*>(?:(?!</message>)[^])*${name}(?:(?!</message>)[^])*</message>`), 30_000);
    assert.match(sent, new RegExp(`<x xmlns=['"]jabber:x:oob['"]><url>https?://[^<]*${name}</url>`), 'sent with OOB');
    assert.doesNotMatch(sent, /notes-/, 'the cancelled file was never sent');
    await message(chat, name).locator('img[part="image"]').waitFor({ state: 'attached', timeout: 15_000 });
    assert.deepEqual(a.errors, []);
  } finally {
    await phone.close();
    await a.context.close();
  }
});
