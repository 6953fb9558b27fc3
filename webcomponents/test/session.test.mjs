// One XMPP session shared by every tab: alice in two tabs of one browser context, bob in another.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startStack,
  countSharedWorkers,
  inspectSharedWorker,
  login,
  signedInJID,
  clientState,
  openChat,
  sendChat,
  waitForMessage,
  nonce,
} from './harness.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.close();
});

test('two tabs share one session, one worker and one resource', { timeout: 180_000 }, async (t) => {
  const { browser, url, users } = stack;
  const { alice, bob } = users;
  const aliceCtx = await browser.newContext();
  const bobCtx = await browser.newContext();
  let inspector;
  try {
    // Tab 1: alice signs in.
    const tab1 = await aliceCtx.newPage();
    await tab1.goto(url + '/');
    inspector = await inspectSharedWorker(browser);
    const clicked = Date.now();
    await login(tab1, alice);
    const jid1 = await signedInJID(tab1);
    const loginMs = Date.now() - clicked;
    assert.match(jid1, new RegExp(`^${alice.jid}/.+`), 'tab 1 shows a full JID');
    const marks1 = await tab1.evaluate(() =>
      Object.fromEntries(['worker', 'ready', 'online'].map((m) => [m, performance.getEntriesByName('sparkweb:' + m)[0]?.startTime])),
    );
    t.diagnostic(`worker start → engine ready: ${(marks1.ready - marks1.worker).toFixed(0)} ms`);
    t.diagnostic(`worker start → online (includes typing the form): ${(marks1.online - marks1.worker).toFixed(0)} ms`);
    t.diagnostic(`sign-in click → online shown: ${loginMs} ms`);

    // Tab 2: same context, attaches to the running session.
    const tab2 = await aliceCtx.newPage();
    await tab2.goto(url + '/');
    const ready2 = await tab2.evaluate(async () => {
      const { connect } = await import('/webcomponents/sparkweb.js');
      const client = await connect();
      return { state: client.state.session.state, ms: performance.getEntriesByName('sparkweb:ready')[0].startTime };
    });
    assert.equal(ready2.state, 'online', 'the second tab is online as soon as connect() resolves');
    t.diagnostic(`second tab: navigation start → connect() resolved online: ${ready2.ms.toFixed(0)} ms`);
    const jid2 = await signedInJID(tab2, 5_000);
    assert.equal(jid2, jid1, 'both tabs show the same full JID');
    assert.equal(await countSharedWorkers(browser), 1, 'exactly one SharedWorker for both tabs');
    assert.equal(await countSharedWorkers(browser, tab2), 1, 'and it is in their browser context');

    // Bob signs in elsewhere and sees exactly one available resource of alice.
    const bobPage = await bobCtx.newPage();
    await bobPage.goto(url + '/');
    await login(bobPage, bob);
    await signedInJID(bobPage);
    await bobPage
      .locator(`sparkweb-roster [role="treeitem"][data-jid="${alice.jid}"]`, { hasText: 'Available' })
      .waitFor({ timeout: 15_000 });
    const alicePresences = (await clientState(bobPage)).presence.filter((p) => p.bare === alice.jid);
    assert.deepEqual(
      alicePresences.map((p) => [p.jid, p.show]),
      [[jid1, 'available']],
      'the server sees exactly one resource for alice',
    );

    // Bob → alice: both of alice's tabs show it.
    for (const tab of [tab1, tab2]) await openChat(tab, bob.jid);
    await openChat(bobPage, alice.jid);
    const hello = `hello alice ${nonce()}`;
    await sendChat(bobPage, hello);
    await waitForMessage(tab1, hello);
    await waitForMessage(tab2, hello);

    // Alice answers from tab 2: bob gets it, and tab 1 shows what tab 2 sent.
    const answer = `hi bob, from tab 2 ${nonce()}`;
    await sendChat(tab2, answer);
    await waitForMessage(bobPage, answer);
    await waitForMessage(tab1, answer);
    const outgoing = tab1.locator('sparkweb-chat [part~="message-out"]', { hasText: answer });
    assert.equal(await outgoing.count(), 1, 'tab 1 shows the message once, as outgoing');

    // Closing tab 1 keeps the session for tab 2.
    await tab1.close();
    const again = `still there? ${nonce()}`;
    await sendChat(bobPage, again);
    await waitForMessage(tab2, again);
    const reply = `yes, from tab 2 ${nonce()}`;
    await sendChat(tab2, reply);
    await waitForMessage(bobPage, reply);
    assert.equal(await signedInJID(tab2, 1_000), jid1, 'tab 2 still signed in');
    assert.equal(await countSharedWorkers(browser, tab2), 1, "alice's worker outlives tab 1");
    assert.equal(await countSharedWorkers(browser), 2, "alice's and bob's, nothing more");
    const stillOne = (await clientState(bobPage)).presence.filter((p) => p.bare === alice.jid);
    assert.deepEqual(stillOne.map((p) => p.jid), [jid1], 'alice still has her one resource');
  } catch (err) {
    if (inspector) console.log(`SharedWorker console:\n${inspector.console.join('\n')}`);
    console.log(`relay output:\n${stack.relay.output()}`);
    throw err;
  } finally {
    await inspector?.detach();
    await bobCtx.close();
    await aliceCtx.close();
  }
});
