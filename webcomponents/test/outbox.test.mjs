// Offline send: alice's browser loses the network (a TCP proxy between it and the relay is cut,
// which also drops the engine's WebSocket, and the context goes offline), she sends, the network
// comes back: bob gets the message exactly once, and alice sees it "Sending…" until the server
// acknowledged it. Needs the engine's part of issue 3 (reconnect, outbox, pending state).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, startProxy, login, signedInJID, clientState, openChat, sendChat, waitForMessage, nonce } from './harness.mjs';

let stack;
let proxy;
before(async () => {
  stack = await startStack();
  proxy = await startProxy(new URL(stack.url).host);
});
after(async () => {
  await proxy?.stop();
  await stack?.close();
});

test('a message sent offline is pending, then delivered exactly once', { timeout: 180_000 }, async () => {
  const { browser, users, url } = stack;
  const { alice, bob } = users;
  const aliceCtx = await browser.newContext();
  const bobCtx = await browser.newContext();
  try {
    const a = await aliceCtx.newPage();
    await a.goto(proxy.url + '/');
    await login(a, alice);
    await signedInJID(a);
    const b = await bobCtx.newPage();
    await b.goto(url + '/');
    await login(b, bob);
    await signedInJID(b);
    await openChat(a, bob.jid);
    await openChat(b, alice.jid);

    await proxy.cut();
    await aliceCtx.setOffline(true);
    await a.locator('sparkweb-login [part~="progress"]', { hasText: 'Reconnecting…' }).waitFor({ timeout: 30_000 });

    const body = `typed offline ${nonce()}`;
    await sendChat(a, body);
    const pending = a.locator('sparkweb-chat li[data-state="pending"]', { hasText: body });
    await pending.waitFor({ timeout: 10_000 });
    assert.match(await pending.locator('[part~="state"]').textContent(), /Sending…/, 'the pending mark is text, not only style');
    const stored = (await clientState(a)).conversations[bob.jid].filter((m) => m.body === body);
    assert.deepEqual(stored.map((m) => m.state), ['pending']);

    await proxy.restore();
    await aliceCtx.setOffline(false);
    await signedInJID(a, 60_000);
    await waitForMessage(b, body, 30_000);
    // Past pending: sent once the server has it, delivered as soon as bob's receipt is back, read
    // once bob's open chat shows it.
    await a
      .locator('sparkweb-chat li:is([data-state="sent"], [data-state="delivered"], [data-state="read"])', { hasText: body })
      .waitFor({ timeout: 30_000 });
    // Give a duplicate every chance to arrive before counting.
    await new Promise((r) => setTimeout(r, 2_000));
    const atBob = (await clientState(b)).conversations[alice.jid].filter((m) => m.body === body);
    assert.equal(atBob.length, 1, 'bob got it exactly once');
    assert.equal(await b.locator('sparkweb-chat [part~="body"]', { hasText: body }).count(), 1, 'and sees it once');
    const atAlice = (await clientState(a)).conversations[bob.jid].filter((m) => m.body === body);
    assert.equal(atAlice.length, 1, 'alice has it once');
    assert.match(atAlice[0].state, /^(sent|delivered|read)$/, 'no longer pending');
  } finally {
    await aliceCtx.close();
    await bobCtx.close();
  }
});
