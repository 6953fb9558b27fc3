// <sparkweb-room> with <sparkweb-rooms> against the real engine, relay and Prosody (MUC at
// conference.<domain>): alice creates a room, bob joins it, they talk through the elements, a
// mention is highlighted, the occupant lists follow joins and leaves, moderation is offered only to
// those allowed, and a kick tells the kicked user why; private messages through the room and a
// moderator's removal of a message; a room of 1,000 occupants filled through one XEP-0114
// component connection (native-client.mjs), its rendering measured.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, startStack, openSignedIn, inspectSharedWorker, nonce, newRoom, createRoom, logFailure, closeAll, request, clientState } from './harness.mjs';
import { componentClient, xmlEscape } from './native-client.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.close();
});

/** A signed-in page of a fresh browser context showing the rooms list and one room. */
function openAs(user) {
  return openSignedIn(stack, user, {
    path: '/rooms-test.html',
    modules: ['/webcomponents/sparkweb-rooms.js', '/webcomponents/sparkweb-room.js'],
    body: '<sparkweb-rooms></sparkweb-rooms><sparkweb-room></sparkweb-room>',
    // The page opens the room picked in the list, as an app would.
    script: `window.selected = [];
document.addEventListener('sparkweb-select', (e) => {
  window.selected.push(e.detail);
  if (e.detail.kind === 'room') document.querySelector('sparkweb-room').setAttribute('room', e.detail.jid);
});
window.left = [];
document.addEventListener('sparkweb-leave', (e) => window.left.push(e.detail.jid));`,
  });
}

/**
 * Like openAs, with a <sparkweb-chat> that the page opens on an occupant picked for a private
 * message (sparkweb-select kind "chat"), as <sparkweb-app> does.
 */
function openWithChat(user) {
  return openSignedIn(stack, user, {
    path: '/rooms-pm-test.html',
    modules: ['/webcomponents/sparkweb-rooms.js', '/webcomponents/sparkweb-room.js', '/webcomponents/sparkweb-chat.js'],
    body: '<sparkweb-rooms></sparkweb-rooms><sparkweb-room></sparkweb-room><sparkweb-chat style="height: 320px"></sparkweb-chat>',
    script: `window.selected = [];
document.addEventListener('sparkweb-select', (e) => {
  window.selected.push(e.detail);
  const el = document.querySelector(e.detail.kind === 'room' ? 'sparkweb-room' : 'sparkweb-chat');
  el.setAttribute(e.detail.kind === 'room' ? 'room' : 'with', e.detail.jid);
});`,
  });
}

/** What the page's elements show, for failure reports. */
function shownText(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('sparkweb-rooms, sparkweb-room')]
      .map((el) => `<${el.localName}> ${[...el.shadowRoot.children].filter((c) => c.localName !== 'style').map((c) => c.textContent).join(' ').replace(/\s+/g, ' ')}`)
      .join('\n'),
  );
}

/** Serious and critical axe-core violations inside the rooms list and the room, light and dark. */
async function axeViolations(page) {
  await page.addScriptTag({ content: await readFile(join(ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8') });
  const found = [];
  for (const colorScheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme });
    const violations = await page.evaluate(
      async () => (await window.axe.run({ include: [['sparkweb-rooms'], ['sparkweb-room']] }, { resultTypes: ['violations'] })).violations,
    );
    for (const v of violations) {
      if (v.impact === 'serious' || v.impact === 'critical') found.push(`${colorScheme}: ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    }
  }
  await page.emulateMedia({ colorScheme: null });
  return found;
}

const occupant = (page, nick) => page.locator(`sparkweb-room button.occupant[data-nick="${nick}"]`);
const roomMessage = (page, text) => page.locator('sparkweb-room [part~="message"]', { hasText: text });

test('two users in a room: messages, mention, occupants, moderation, kick', { timeout: 240_000 }, async () => {
  const { alice, bob } = stack.users;
  const { name, jid: room } = newRoom(stack, 'team');
  let a;
  let b;
  let inspector;
  try {
    a = await openAs(alice);
    inspector = await inspectSharedWorker(stack.browser);

    // Alice creates the room by name: the element finds the server's MUC service.
    const rooms = a.page.locator('sparkweb-rooms');
    await createRoom(a.page, name, { title: 'Team <b>room</b>' });
    const aRoom = a.page.locator('sparkweb-room');
    await aRoom.locator('textarea:enabled').waitFor({ timeout: 20_000 });
    assert.deepEqual(await a.page.evaluate(() => window.selected), [{ jid: room, kind: 'room' }], 'creating selects the room');
    assert.equal(await aRoom.getAttribute('room'), room);
    await aRoom.locator('h2', { hasText: 'Team <b>room</b>' }).waitFor({ timeout: 10_000 });
    assert.equal(await aRoom.locator('b').count(), 0, 'the room name is text');
    await rooms.locator(`li[data-jid="${room}"]`, { hasText: 'Joined' }).waitFor({ timeout: 10_000 });
    await occupant(a.page, 'alice').waitFor({ timeout: 10_000 });
    assert.match(await occupant(a.page, 'alice').innerText(), /alice \(you\)\s*owner/);
    assert.equal(await aRoom.getByRole('button', { name: 'Change subject' }).isVisible(), true, 'a moderator may change the subject');

    // Alice sets the subject.
    await aRoom.getByRole('button', { name: 'Change subject' }).click();
    await aRoom.getByLabel('Subject').fill('Planning *Q3*');
    await aRoom.getByLabel('Subject').press('Enter');
    await aRoom.locator('[part="subject"]', { hasText: 'Planning *Q3*' }).waitFor({ timeout: 10_000 });

    // Bob joins by address with a nick of his own.
    b = await openAs(bob);
    const bRooms = b.page.locator('sparkweb-rooms');
    await bRooms.getByLabel('Room address').first().fill(room);
    await bRooms.getByLabel('Nickname').fill('bobby');
    await bRooms.getByRole('button', { name: 'Join', exact: true }).first().click();
    const bRoom = b.page.locator('sparkweb-room');
    await bRoom.locator('textarea:enabled').waitFor({ timeout: 20_000 });
    await bRoom.locator('[part="subject"]', { hasText: 'Planning *Q3*' }).waitFor({ timeout: 10_000 });

    // Each sees the other in the occupant list, with roles and affiliations.
    await occupant(a.page, 'bobby').waitFor({ timeout: 10_000 });
    await occupant(b.page, 'alice').waitFor({ timeout: 10_000 });
    assert.deepEqual(
      await bRoom.locator('[part="occupant-group-name"]').allTextContents(),
      ['Moderators', 'Participants'],
      'grouped by role',
    );
    assert.match(await occupant(b.page, 'alice').innerText(), /owner/);
    assert.equal(await bRoom.getByRole('button', { name: 'Change subject' }).isVisible(), false, 'a participant may not change the subject');

    // Bob's menu on alice offers no moderation; alice's on bob does.
    await occupant(b.page, 'alice').click();
    assert.deepEqual(await bRoom.getByRole('menuitem').allTextContents(), ['Mention', 'Send private message']);
    await b.page.keyboard.press('Escape');
    await bRoom.getByRole('menu').waitFor({ state: 'detached', timeout: 5_000 });
    await occupant(a.page, 'bobby').click();
    assert.deepEqual(await aRoom.getByRole('menuitem').allTextContents(), ['Mention', 'Send private message', 'Revoke voice', 'Kick', 'Make moderator', 'Ban']);
    await a.page.keyboard.press('Escape');

    // Messages both ways; bob's mention of alice is highlighted for her.
    const hello = `hello room ${nonce()}`;
    await bRoom.locator('textarea').fill(hello);
    await bRoom.locator('textarea').press('Enter');
    await roomMessage(a.page, hello).waitFor({ timeout: 15_000 });
    assert.equal(await roomMessage(a.page, hello).locator('[part="nick"]').textContent(), 'bobby');
    await roomMessage(b.page, hello).and(b.page.locator('[part~="message-out"]')).waitFor({ timeout: 15_000 });
    assert.equal(await roomMessage(b.page, hello).count(), 1, 'the echo of our own message shows once');

    // Tab completes alice's nick from "al".
    await bRoom.locator('textarea').fill('al');
    await bRoom.locator('textarea').press('Tab');
    assert.equal(await bRoom.locator('textarea').inputValue(), 'alice: ');
    const mention = `look at https://example.org/plan and *this* ${nonce()}`;
    await bRoom.locator('textarea').pressSequentially(mention);
    await bRoom.locator('textarea').press('Enter');
    const mentioned = roomMessage(a.page, mention);
    await mentioned.waitFor({ timeout: 15_000 });
    assert.match(await mentioned.getAttribute('part'), /message-mention/, 'the mention is marked');
    assert.equal(await mentioned.locator('[part="mention-badge"]').textContent(), 'mentions you');
    assert.doesNotMatch(await roomMessage(a.page, hello).getAttribute('part'), /message-mention/, 'other messages are not');
    assert.equal(await mentioned.locator('a').getAttribute('href'), 'https://example.org/plan', 'links are links');
    assert.equal(await mentioned.locator('a').getAttribute('rel'), 'noopener noreferrer nofollow');
    assert.equal(await mentioned.locator('strong').textContent(), 'this', 'styling is rendered');
    assert.equal(await a.page.locator('sparkweb-room [role="log"][aria-live="polite"]').count(), 1, 'messages arrive in a live region');

    // With messages, a mention and an open occupant menu on screen: no serious accessibility fault.
    await occupant(a.page, 'bobby').click();
    assert.deepEqual(await axeViolations(a.page), []);
    await a.page.keyboard.press('Escape');

    const reply = `<i>hi</i> bobby ${nonce()}`;
    await aRoom.locator('textarea').fill(reply);
    await aRoom.locator('textarea').press('Enter');
    await roomMessage(b.page, reply).waitFor({ timeout: 15_000 });
    assert.equal(await bRoom.locator('[part~="body"] i').count(), 0, 'bodies are text');
    assert.match(await roomMessage(b.page, reply).getAttribute('part'), /message-mention/, 'bobby is mentioned too');

    // One element's own strings win over the defaults.
    await bRoom.evaluate((el) => (el.strings = { 'room.leave': 'Verlassen' }));
    await bRoom.getByRole('button', { name: 'Verlassen' }).waitFor({ timeout: 5_000 });
    await bRoom.evaluate((el) => (el.strings = {}));

    // Bob leaves: alice's list drops him; he joins again from the room: it shows him again.
    await bRoom.getByRole('button', { name: 'Leave' }).click();
    await occupant(a.page, 'bobby').waitFor({ state: 'detached', timeout: 10_000 });
    await b.page.waitForFunction((jid) => window.left.includes(jid), room, { timeout: 10_000 });
    await bRoom.getByRole('button', { name: 'Join again' }).click();
    await bRoom.locator('textarea:enabled').waitFor({ timeout: 15_000 });
    await occupant(a.page, 'bobby').waitFor({ timeout: 10_000 });

    // Alice kicks bob with the keyboard: bob is told plainly, alice's list drops him.
    await occupant(a.page, 'bobby').focus();
    await a.page.keyboard.press('Enter');
    await aRoom.getByRole('menuitem', { name: 'Mention' }).waitFor({ timeout: 5_000 });
    for (let i = 0; i < 3; i++) await a.page.keyboard.press('ArrowDown');
    assert.equal(await aRoom.evaluate((el) => el.shadowRoot.activeElement?.textContent), 'Kick');
    await a.page.keyboard.press('Enter');
    await bRoom.locator('[role="alert"]', { hasText: 'You were kicked from this room.' }).waitFor({ timeout: 15_000 });
    await bRoom.locator('textarea:disabled').waitFor({ timeout: 5_000 });
    await occupant(a.page, 'bobby').waitFor({ state: 'detached', timeout: 10_000 });
    await aRoom.locator('[part="notice"]', { hasText: 'bobby was kicked.' }).waitFor({ timeout: 5_000 });
    assert.equal(await occupant(b.page, 'alice').count(), 0, 'a kicked user sees no occupants');

    // Alice invites bob back: his room list offers the invitation, and accepting joins.
    await aRoom.getByRole('button', { name: 'Invite' }).click();
    await aRoom.getByLabel('Address to invite').fill(bob.jid);
    await aRoom.getByLabel('Message (optional)').fill('come back <b>please</b>');
    await aRoom.getByRole('button', { name: 'Send invitation' }).click();
    await aRoom.locator('[part="notice"]', { hasText: `Invitation sent to ${bob.jid}.` }).waitFor({ timeout: 10_000 });
    const invite = bRooms.locator('[part="invite"]');
    await invite.waitFor({ timeout: 15_000 });
    // The room is semi-anonymous: it names alice by nick.
    assert.match(await invite.textContent(), new RegExp(`^alice invites you to ${room}`));
    assert.equal(await invite.locator('b').count(), 0, 'the reason is text');
    await invite.getByRole('button', { name: 'Accept' }).click();
    await invite.waitFor({ state: 'detached', timeout: 5_000 });
    await bRoom.locator('textarea:enabled').waitFor({ timeout: 15_000 });
    await occupant(a.page, 'bobby').waitFor({ timeout: 10_000 });

    // A ban (by real JID, which the room shows its moderators) says so, and keeps him out.
    await occupant(a.page, 'bobby').click();
    await aRoom.getByRole('menuitem', { name: 'Ban' }).click();
    await bRoom.locator('[role="alert"]', { hasText: 'You are banned from this room.' }).waitFor({ timeout: 15_000 });
    await occupant(a.page, 'bobby').waitFor({ state: 'detached', timeout: 10_000 });
    await bRoom.getByRole('button', { name: 'Join again' }).click();
    await bRoom.locator('[role="alert"]', { hasText: 'You are banned from this room' }).waitFor({ timeout: 15_000 });
    assert.equal(await bRoom.locator('textarea').isDisabled(), true);
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  } catch (err) {
    await logFailure(stack, { pages: [a, b], show: shownText, inspector });
    throw err;
  } finally {
    await closeAll(inspector, b, a);
  }
});

test('private messages through the room; a moderator removes a message', { timeout: 180_000 }, async () => {
  const { alice, bob } = stack.users;
  const { name, jid: room } = newRoom(stack, 'pm');
  let a;
  let b;
  try {
    a = await openWithChat(alice);
    await createRoom(a.page, name, { title: 'Side room' });
    const aRoom = a.page.locator('sparkweb-room');
    await aRoom.locator('textarea:enabled').waitFor({ timeout: 20_000 });
    b = await openWithChat(bob);
    const bRoom = b.page.locator('sparkweb-room');
    await request(b.page, 'muc.join', { room, nick: 'bobby' });
    await b.page.evaluate((jid) => document.querySelector('sparkweb-room').setAttribute('room', jid), room);
    await bRoom.locator('textarea:enabled').waitFor({ timeout: 20_000 });
    await occupant(a.page, 'bobby').waitFor({ timeout: 10_000 });

    // Alice picks "Send private message" on bobby: the page opens a chat with his occupant JID.
    await occupant(a.page, 'bobby').click();
    await aRoom.getByRole('menuitem', { name: 'Send private message' }).click();
    assert.deepEqual((await a.page.evaluate(() => window.selected)).at(-1), { jid: `${room}/bobby`, kind: 'chat' });
    const aChat = a.page.locator('sparkweb-chat');
    await aChat.locator('textarea:enabled').waitFor({ timeout: 10_000 });
    assert.equal(await aChat.locator('[part="title"]').textContent(), 'bobby (Side room)');
    const secret = `just between us ${nonce()}`;
    await aChat.locator('textarea').fill(secret);
    await aChat.locator('textarea').press('Enter');

    // Bob gets it in a conversation of its own (room/alice), not in the room's log; he answers.
    const bChat = b.page.locator('sparkweb-chat');
    await b.page.evaluate((jid) => document.querySelector('sparkweb-chat').setAttribute('with', jid), `${room}/alice`);
    await bChat.locator('[part~="message-in"]', { hasText: secret }).waitFor({ timeout: 15_000 });
    assert.equal(await bChat.locator('[part="title"]').textContent(), 'alice (Side room)');
    assert.equal(await roomMessage(b.page, secret).count(), 0, 'a private message is not in the room');
    const answer = `private answer ${nonce()}`;
    await bChat.locator('textarea').fill(answer);
    await bChat.locator('textarea').press('Enter');
    await aChat.locator('[part~="message-in"]', { hasText: answer }).waitFor({ timeout: 15_000 });
    const held = (await clientState(a.page)).conversations[`${room}/bobby`];
    assert.deepEqual(
      held.map((m) => [m.type, m.nick, m.outgoing, m.body]),
      [['chat', 'alice', true, secret], ['chat', 'bobby', false, answer]],
      'filed under the occupant JID, type chat, with nicks',
    );
    assert.equal(await roomMessage(a.page, answer).count(), 0);

    // Bob posts spam in the room; only alice, a moderator, is offered to remove it.
    const spam = `buy cheap stuff ${nonce()}`;
    await bRoom.locator('textarea').fill(spam);
    await bRoom.locator('textarea').press('Enter');
    await roomMessage(a.page, spam).waitFor({ timeout: 15_000 });
    await roomMessage(b.page, spam).waitFor({ timeout: 15_000 });
    assert.equal(await bRoom.getByRole('button', { name: 'Remove message' }).count(), 0, 'a participant may not remove messages');
    assert.equal(await roomMessage(a.page, spam).getByRole('button', { name: 'Remove message' }).count(), 1);
    // Cancelling the question removes nothing; answering it removes the message with the reason.
    a.page.once('dialog', (d) => d.dismiss());
    await roomMessage(a.page, spam).getByRole('button', { name: 'Remove message' }).click();
    a.page.once('dialog', (d) => d.accept('no <b>ads</b>'));
    await roomMessage(a.page, spam).getByRole('button', { name: 'Remove message' }).click();
    for (const p of [a, b]) {
      await p.page.locator('sparkweb-room [part~="message-moderated"]', { hasText: 'Removed by a moderator: no <b>ads</b>' }).waitFor({ timeout: 15_000 });
      assert.equal(await roomMessage(p.page, spam).count(), 0, 'the old body is gone');
      assert.equal(await p.page.locator('sparkweb-room [part~="body"] b').count(), 0, 'the reason is text');
    }
    assert.equal(await aRoom.locator('[part~="message-moderated"]').getByRole('button', { name: 'Remove message' }).count(), 0);
    const moderated = (await clientState(b.page)).conversations[room].filter((m) => m.moderated);
    assert.deepEqual(moderated.map((m) => m.moderated.reason), ['no <b>ads</b>']);
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  } catch (err) {
    await logFailure(stack, { pages: [a, b], show: shownText });
    throw err;
  } finally {
    await closeAll(b, a);
  }
});

test('room history: scroll-back loads earlier messages from the room archive', { timeout: 180_000 }, async () => {
  const { alice, bob } = stack.users;
  const { name, jid: room } = newRoom(stack, 'hist');
  let a;
  let b;
  try {
    a = await openAs(alice);
    await createRoom(a.page, name);
    const aRoom = a.page.locator('sparkweb-room');
    await aRoom.locator('textarea:enabled').waitFor({ timeout: 20_000 });
    const first = `archived ${nonce()}`;
    await aRoom.locator('textarea').fill(first);
    await aRoom.locator('textarea').press('Enter');
    await roomMessage(a.page, first).and(a.page.locator('sparkweb-room [part~="message-out"]:not([part~="message-pending"])')).waitFor({ timeout: 15_000 });

    // Bob joins later and pages back through the archive from the room element.
    b = await openAs(bob);
    const bRoom = b.page.locator('sparkweb-room');
    await b.page.evaluate((jid) => document.querySelector('sparkweb-room').setAttribute('room', jid), room);
    await bRoom.locator('[part="hint"]', { hasText: 'You are not in this room' }).waitFor({ timeout: 10_000 });
    // Joined without history (maxHistory 0), so what shows next comes from scrolling back.
    await b.page.evaluate(async (jid) => {
      const { connect } = await import('/webcomponents/sparkweb.js');
      await (await connect()).request('muc.join', { room: jid, nick: 'bob', maxHistory: 0 });
    }, room);
    await bRoom.locator('textarea:enabled').waitFor({ timeout: 20_000 });
    assert.equal(await roomMessage(b.page, first).count(), 0, 'no history before scrolling back');
    await bRoom.locator('[role="log"]').evaluate((log) => log.dispatchEvent(new Event('scroll')));
    await roomMessage(b.page, first).waitFor({ timeout: 15_000 });
    await bRoom.getByRole('button', { name: 'No earlier messages.' }).waitFor({ timeout: 15_000 });
    assert.equal(await bRoom.getByRole('button', { name: 'No earlier messages.' }).isDisabled(), true);
    await roomMessage(b.page, first).waitFor({ timeout: 15_000 });
    assert.equal(await roomMessage(b.page, first).count(), 1, 'an archived message shows once');

    // Bob renames himself from his own entry's menu; alice's list follows.
    await occupant(a.page, 'bob').waitFor({ timeout: 10_000 });
    await occupant(b.page, 'bob').click();
    assert.deepEqual(await bRoom.getByRole('menuitem').allTextContents(), ['Change nickname']);
    await bRoom.getByRole('menuitem', { name: 'Change nickname' }).click();
    await bRoom.getByLabel('New nickname').fill('robert');
    await bRoom.getByLabel('New nickname').press('Enter');
    await occupant(a.page, 'robert').waitFor({ timeout: 10_000 });
    await occupant(a.page, 'bob').waitFor({ state: 'detached', timeout: 10_000 });
    await occupant(b.page, 'robert').and(b.page.locator('[part~="occupant-self"]')).waitFor({ timeout: 10_000 });
    assert.equal(await bRoom.getByLabel('New nickname').isVisible(), false, 'the form closes once renamed');
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  } finally {
    await closeAll(b, a);
  }
});

test('a room of 1,000 occupants and 500 messages: chunked occupant lists, measured', { timeout: 180_000 }, async (t) => {
  // The room is real: one XEP-0114 component connection (native-client.mjs) speaks for 999 other
  // occupants, so filling it costs one socket, not a thousand logins.
  const { alice } = stack.users;
  const { jid: room } = newRoom(stack, 'big');
  let a;
  let bots;
  try {
    a = await openSignedIn(stack, alice, { path: '/big-room-test.html', modules: ['/webcomponents/sparkweb-room.js'], body: '' });
    await request(a.page, 'muc.create', { room, nick: 'alice' });
    bots = await componentClient(stack.prosody);
    const join = (name, nick) =>
      `<presence from='${name}@${bots.domain}/b' to='${xmlEscape(`${room}/${nick}`)}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>`;
    // 40 talkers (one with a nick that looks like markup) write 500 messages, then 959 more join.
    const talker = (i) => (i === 7 ? '<img src=x onerror="self.pwned=1">' : `user${String(i).padStart(2, '0')}`);
    for (let i = 0; i < 40; i++) bots.send(join(`talker${i}`, talker(i)));
    for (let i = 0; i < 500; i++) {
      const body = i % 100 === 0 ? `alice: look at ${i}` : `message ${i}`;
      bots.send(`<message type='groupchat' from='talker${i % 40}@${bots.domain}/b' to='${room}' id='m${i}'><body>${xmlEscape(body)}</body></message>`);
    }
    await bots.sync(room);
    const fillStart = performance.now();
    for (let i = 0; i < 959; i++) bots.send(join(`old${i}`, `old${String(i).padStart(4, '0')}`));
    await bots.sync(room);
    t.diagnostic(`filling the room with 959 occupants through one component: ${(performance.now() - fillStart).toFixed(0)} ms`);
    await a.page.waitForFunction(
      async (jid) => ((await (await import('/webcomponents/sparkweb.js')).connect()).state.occupants[jid] ?? []).length === 1000,
      room,
      { timeout: 30_000, polling: 100 },
    );

    // First render: the element added to a page whose façade already holds the room.
    const firstMs = await a.page.evaluate(async (jid) => {
      const t0 = performance.now();
      const el = document.createElement('sparkweb-room');
      el.setAttribute('room', jid);
      document.body.append(el);
      while (el.shadowRoot.querySelectorAll('button.occupant').length < 1000) await new Promise((r) => setTimeout(r, 5));
      void el.shadowRoot.querySelector('.log').scrollHeight; // layout included
      return performance.now() - t0;
    }, room);
    const el = a.page.locator('sparkweb-room');
    const held = (await clientState(a.page)).conversations[room].length;
    assert.ok(held >= 500, `the engine holds the room's messages (${held})`);
    assert.equal(await el.locator('[part~="message"]').count(), held, 'every message the engine holds is shown');
    assert.equal(await el.locator('[part~="message-mention"]').count(), 5);
    await el.locator('[part="nick"]', { hasText: '<img src=x onerror="self.pwned=1">' }).first().waitFor({ timeout: 5_000 });
    assert.equal(await el.locator('img').count(), 0, 'nicks are text');
    assert.equal(await el.locator('#occ-title').textContent(), 'Occupants (1000)');

    // Leaving and joining again: a fresh list, sent to the tabs in chunks; rendered once whole.
    await request(a.page, 'muc.leave', { room });
    await el.locator('[part="hint"]', { hasText: 'You are not in this room' }).waitFor({ timeout: 10_000 });
    const chunkMs = await a.page.evaluate(async (jid) => {
      const { connect } = await import('/webcomponents/sparkweb.js');
      const client = await connect();
      const chunks = [];
      const off = client.on('occupants', (d) => d.room === jid && chunks.push(d.items.length));
      const el = document.querySelector('sparkweb-room');
      const t0 = performance.now();
      await client.request('muc.join', { room: jid, nick: 'alice' });
      while (el.shadowRoot.querySelectorAll('button.occupant').length < 1000) await new Promise((r) => setTimeout(r, 5));
      off();
      window.chunks = chunks;
      return performance.now() - t0;
    }, room);
    const chunks = await a.page.evaluate(() => window.chunks);
    assert.ok(chunks.length >= 2, `the list came in chunks (${chunks.join(', ')})`);
    assert.deepEqual(await el.locator('[part="occupant-group-name"]').allTextContents(), ['Moderators', 'Participants']);

    // A burst of 100 presence changes (50 leave, 50 go away) renders once per frame.
    const burstStart = Date.now();
    for (let i = 0; i < 100; i++) {
      const nick = `old${String(i).padStart(4, '0')}`;
      bots.send(
        i % 2 === 0
          ? `<presence type='unavailable' from='old${i}@${bots.domain}/b' to='${room}/${nick}'/>`
          : `<presence from='old${i}@${bots.domain}/b' to='${room}/${nick}'><show>away</show></presence>`,
      );
    }
    await a.page.waitForFunction(() => document.querySelector('sparkweb-room').shadowRoot.querySelectorAll('button.occupant').length === 950, null, {
      timeout: 30_000,
      polling: 'raf',
    });
    const burstMs = Date.now() - burstStart;
    assert.equal(await el.locator('button.occupant[data-nick="old0001"] [part="presence"]').getAttribute('data-show'), 'away');
    // Alice (owner) makes one a visitor: the group shows up.
    await request(a.page, 'muc.role', { room, nick: 'old0003', role: 'visitor' });
    await el.locator('[part="occupant-group-name"]', { hasText: 'Visitors' }).waitFor({ timeout: 10_000 });
    t.diagnostic(`first render, ${held} messages + 1,000 occupants: ${firstMs.toFixed(0)} ms`);
    t.diagnostic(`muc.join of a 1,000-occupant room to rendered list (${chunks.length} chunks: ${chunks.join(', ')}): ${chunkMs.toFixed(0)} ms`);
    t.diagnostic(`100 occupant changes, sent by the component to rendered: ${burstMs} ms`);
    assert.equal(await a.page.evaluate(() => self.pwned), undefined);
    assert.deepEqual(a.errors, []);
  } finally {
    bots?.close();
    await closeAll(a);
  }
});
