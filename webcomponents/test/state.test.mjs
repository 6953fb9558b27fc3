// The façade's state mirror (client.state) for the events elements need without asking the
// engine: subscription requests, receipts and displayed markers moving our messages forward,
// chat states, what this account has seen, and the block list; driven by fake-engine.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { aliceSnapshot, emit, fakePage, startFake } from './fake-engine.mjs';

const out = (id, state) => ({
  id, from: 'alice@localhost/web', to: 'bob@localhost', with: 'bob@localhost', body: id,
  timestamp: '2026-01-01T10:00:00.000Z', outgoing: true, state,
});

let fake;
before(async () => {
  const snapshot = {
    ...aliceSnapshot(),
    conversations: {
      'bob@localhost': [out('m1', 'sent'), out('m2', 'sent'), out('m3', 'error'), out('m4', 'pending'),
        { ...out('in1'), outgoing: false, from: 'bob@localhost/phone', state: undefined }],
    },
    requests: [{ jid: 'carol@localhost', type: 'subscribe' }],
    blocked: ['spam@localhost'],
  };
  fake = await startFake(snapshot, { '/state.html': fakePage([], '') });
});
after(() => fake?.close());

const state = (page) => page.evaluate(() => JSON.parse(JSON.stringify(window.client.state)));
const states = (s) => s.conversations['bob@localhost'].map((m) => `${m.id}:${m.state ?? ''}`);

test('client.state mirrors requests, receipts, displayed markers, chat states and the block list', { timeout: 60_000 }, async () => {
  const { page, context, errors } = await fake.open('/state.html');
  try {
    let s = await state(page);
    assert.deepEqual(s.requests, [{ jid: 'carol@localhost', type: 'subscribe' }], 'requests from the snapshot');
    assert.deepEqual(s.blocked, ['spam@localhost'], 'blocked from the snapshot');
    assert.deepEqual(s.chatstates, {});
    assert.deepEqual(s.displayed, {});
    assert.deepEqual(s.rooms, [], 'fields the snapshot lacks start empty');

    await emit(page, 'requests', { items: [] });
    await emit(page, 'receipt', { id: 'm2', from: 'bob@localhost/phone', with: 'bob@localhost' });
    s = await state(page);
    assert.deepEqual(s.requests, []);
    assert.deepEqual(states(s), ['m1:sent', 'm2:delivered', 'm3:error', 'm4:pending', 'in1:'], 'a receipt moves only its message');

    // The peer saw m4: it and every earlier one of ours is read, except the one in error.
    await emit(page, 'displayed', { id: 'm4', from: 'bob@localhost/phone', with: 'bob@localhost', outgoing: false });
    s = await state(page);
    assert.deepEqual(states(s), ['m1:read', 'm2:read', 'm3:error', 'm4:read', 'in1:']);
    // States never move back.
    await emit(page, 'receipt', { id: 'm1', from: 'bob@localhost/phone', with: 'bob@localhost' });
    assert.deepEqual(states(await state(page)), ['m1:read', 'm2:read', 'm3:error', 'm4:read', 'in1:']);

    // We saw in1 (this tab or another client of ours).
    await emit(page, 'displayed', { id: 'in1', from: 'alice@localhost/phone', with: 'bob@localhost', outgoing: true });
    assert.deepEqual((await state(page)).displayed, { 'bob@localhost': 'in1' });

    await emit(page, 'chatstate', { from: 'bob@localhost/phone', with: 'bob@localhost', state: 'composing' });
    assert.deepEqual((await state(page)).chatstates, { 'bob@localhost': 'composing' });
    await emit(page, 'chatstate', { from: 'bob@localhost/phone', with: 'bob@localhost', state: 'active' });
    assert.deepEqual((await state(page)).chatstates, {}, 'active is no chat state to show');
    await emit(page, 'chatstate', { from: 'bob@localhost/phone', with: 'bob@localhost', state: 'paused' });
    await emit(page, 'session', { state: 'offline', jid: '' });
    assert.deepEqual((await state(page)).chatstates, {}, 'signed out: nobody is typing');

    await emit(page, 'blocklist', { items: ['spam@localhost', 'troll@localhost'] });
    assert.deepEqual((await state(page)).blocked, ['spam@localhost', 'troll@localhost']);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
