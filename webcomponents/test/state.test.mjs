// The façade's state mirror (client.state) for the events elements need without asking the
// engine: subscription requests, receipts and displayed markers moving our messages forward,
// chat states, what this account has seen, and the block list. Real Prosody, relay and engine:
// alice's engine runs in the browser; bob and carol are native clients of the same server
// (native-client.mjs) that send exactly the receipts, markers, chat states and errors the test
// names, so the order they arrive in is the test's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, routeTestPage, openPage, request, addUser } from './harness.mjs';
import { nativeClient, xmlEscape } from './native-client.mjs';

let stack;
const natives = [];
before(async () => {
  stack = await startStack({ upstreamProxy: true });
});
after(async () => {
  for (const n of natives) await n.close().catch(() => {});
  await stack?.close();
});

const PAGE = '/state.html';
const state = (page) => page.evaluate(() => JSON.parse(JSON.stringify(window.client.state)));

/** Polls client.state until check(state) is true; fails with the last state otherwise. */
async function until(page, what, check, ms = 15_000) {
  let last;
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    last = await state(page);
    if (check(last)) return last;
  }
  assert.fail(`${what}; state: ${JSON.stringify(last, null, 1).slice(0, 3000)}`);
}

test('client.state mirrors requests, receipts, displayed markers, chat states and the block list', { timeout: 120_000 }, async () => {
  const { alice, bob } = stack.users;
  const domain = stack.prosody.domain;
  const carolUser = await addUser(stack.prosody, 'carol');
  const spam = `spam@${domain}`;
  const troll = `troll@${domain}`;

  // carol asks to see alice's presence before alice signs in: the server hands the request over at login.
  const carol = await nativeClient(stack.prosody, carolUser, { resource: 'phone' });
  natives.push(carol);
  carol.send(`<presence type='subscribe' to='${xmlEscape(alice.jid)}'/>`);
  const bobPhone = await nativeClient(stack.prosody, bob, { resource: 'phone' });
  natives.push(bobPhone);
  bobPhone.send('<presence/>');

  const context = await stack.browser.newContext();
  try {
    await routeTestPage(context, stack.url + PAGE, {
      modules: [],
      body: '',
      script: "const { connect } = await import('/webcomponents/sparkweb.js'); window.client = await connect();",
    });
    const errors = [];
    const open = async () => (await openPage(context, stack.url + PAGE, { errors })).page;

    // Tab 1 makes the history the second tab will find in the engine's snapshot.
    const setup = await open();
    await request(setup, 'session.login', alice);
    await until(setup, 'carol asks', (s) => s.requests.some((r) => r.jid === carolUser.jid));
    await request(setup, 'block.add', { jids: [spam] });
    await until(setup, 'spam blocked', (s) => s.blocked.includes(spam));
    const ids = {};
    const send = async (name) => {
      ids[name] = (await request(setup, 'chat.send', { to: bob.jid, body: name })).id;
    };
    const states = (s) =>
      (s.conversations[bob.jid] ?? []).map((m) => `${Object.keys(ids).find((k) => ids[k] === m.id) ?? m.body}:${m.state ?? ''}`);
    await send('m1');
    await send('m2');
    await send('m3');
    await until(setup, 'm1 to m3 sent', (s) => states(s).join() === 'm1:sent,m2:sent,m3:sent');
    // bob's phone bounces m3, as a client that cannot take it does.
    // An error goes back to the sender's full JID: the server drops one sent to a bare JID.
    const got = await bobPhone.waitFor(new RegExp(`<message [^>]*id=['"]${ids.m3}['"][^>]*>`));
    const sender = /from=['"]([^'"]+)['"]/.exec(got)[1];
    bobPhone.send(
      `<message type='error' to='${xmlEscape(sender)}' id='${ids.m3}'><body>m3</body>` +
        `<error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`,
    );
    bobPhone.send(`<message type='chat' to='${xmlEscape(alice.jid)}' id='in1'><body>in1</body></message>`);
    await until(setup, 'm3 bounced, in1 in', (s) => states(s).join() === 'm1:sent,m2:sent,m3:error,in1:');
    // The network between the relay and the server stalls: m4 stays pending.
    stack.upstream.hold();
    try {
      await send('m4');
      await until(setup, 'm4 pending', (s) => states(s).includes('m4:pending'));

      // The tab under test attaches now: all of this comes from the engine's snapshot.
      const page = await open();
      let s = await state(page);
      assert.deepEqual(s.requests, [{ jid: carolUser.jid, type: 'subscribe' }], 'requests from the snapshot');
      assert.deepEqual(s.blocked, [spam], 'blocked from the snapshot');
      assert.deepEqual(s.chatstates, {});
      assert.deepEqual(s.displayed, {});
      assert.deepEqual(s.rooms, [], 'fields the snapshot lacks start empty');
      assert.deepEqual(states(s), ['m1:sent', 'm2:sent', 'm3:error', 'in1:', 'm4:pending']);
      stack.upstream.release();
      await until(page, 'm4 sent once the network is back', (s) => states(s).includes('m4:sent'));

      await request(page, 'presence.deny', { jid: carolUser.jid });
      await until(page, 'no request left', (s) => s.requests.length === 0);
      bobPhone.send(`<message to='${xmlEscape(alice.jid)}' id='r-m2'><received xmlns='urn:xmpp:receipts' id='${ids.m2}'/></message>`);
      s = await until(page, 'the receipt for m2', (s) => states(s).includes('m2:delivered'));
      assert.deepEqual(states(s), ['m1:sent', 'm2:delivered', 'm3:error', 'in1:', 'm4:sent'], 'a receipt moves only its message');

      // The peer saw m4: it and every earlier one of ours is read, except the one in error.
      bobPhone.send(`<message to='${xmlEscape(alice.jid)}' id='d-m4'><displayed xmlns='urn:xmpp:chat-markers:0' id='${ids.m4}'/></message>`);
      s = await until(page, 'the marker for m4', (s) => states(s).includes('m4:read'));
      assert.deepEqual(states(s), ['m1:read', 'm2:read', 'm3:error', 'in1:', 'm4:read']);
      // States never move back: a late receipt for m1 (then a marker after it, to know it was handled).
      bobPhone.send(`<message to='${xmlEscape(alice.jid)}' id='r-m1'><received xmlns='urn:xmpp:receipts' id='${ids.m1}'/></message>`);
      bobPhone.send(`<message type='chat' to='${xmlEscape(alice.jid)}'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`);
      s = await until(page, 'bob composing', (s) => s.chatstates[bob.jid] === 'composing');
      assert.deepEqual(states(s), ['m1:read', 'm2:read', 'm3:error', 'in1:', 'm4:read'], 'a late receipt does not undo read');
      assert.deepEqual(s.chatstates, { [bob.jid]: 'composing' });

      // We saw in1 (this tab or another client of ours).
      await request(page, 'chat.displayed', { with: bob.jid, id: 'in1' });
      s = await until(page, 'in1 seen', (s) => Object.keys(s.displayed).length > 0);
      assert.deepEqual(s.displayed, { [bob.jid]: 'in1' });

      bobPhone.send(`<message type='chat' to='${xmlEscape(alice.jid)}'><active xmlns='http://jabber.org/protocol/chatstates'/></message>`);
      s = await until(page, 'bob active', (s) => !(bob.jid in s.chatstates));
      assert.deepEqual(s.chatstates, {}, 'active is no chat state to show');

      await request(page, 'block.add', { jids: [troll] });
      s = await until(page, 'troll blocked', (s) => s.blocked.length === 2);
      assert.deepEqual(s.blocked, [spam, troll]);

      bobPhone.send(`<message type='chat' to='${xmlEscape(alice.jid)}'><paused xmlns='http://jabber.org/protocol/chatstates'/></message>`);
      await until(page, 'bob paused', (s) => s.chatstates[bob.jid] === 'paused');
      await request(setup, 'session.logout');
      s = await until(page, 'signed out', (s) => s.session.state === 'offline');
      assert.deepEqual(s.chatstates, {}, 'signed out: nobody is typing');
      assert.deepEqual(errors, []);
    } finally {
      stack.upstream.release();
    }
  } finally {
    await context.close();
  }
});
