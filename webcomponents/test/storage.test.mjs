// static/storage.js: the engine's IndexedDB key-value store (globalThis.sparkwebStorage), in a real
// Chromium. The Go side (wasm/storage) relies on exactly this contract.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, serveFiles } from './harness.mjs';

let browser;
let server;
before(async () => {
  browser = await launchBrowser();
  server = await serveFiles({ '/blank.html': { body: '<!doctype html><title>storage</title>' } });
});
after(async () => {
  await server?.stop();
  await browser?.close();
});

/** A page of the test origin with storage.js loaded, in a fresh context. */
async function storagePage(context) {
  const page = await context.newPage();
  await page.goto(server.url + '/blank.html');
  await page.addScriptTag({ url: '/static/storage.js' });
  return page;
}

test('get, put, delete and list keep to the contract', { timeout: 60_000 }, async () => {
  const context = await browser.newContext();
  try {
    const page = await storagePage(context);
    const got = await page.evaluate(async () => {
      const s = globalThis.sparkwebStorage;
      const out = {};
      out.missing = await s.get('nothing');
      // Written out of order, with prefixes that a naive prefix + '\uffff' bound gets wrong.
      for (const [k, v] of [
        ['outbox/2', 'two'],
        ['outbox/10', 'ten'],
        ['outbox/1', 'one'],
        ['outbox0', 'not in outbox/'],
        ['outbox/\uffff\uffffx', 'high'],
        ['roster', '{"ver":"1"}'],
        ['', 'empty key'],
      ]) {
        out[`put ${k}`] = await s.put(k, v);
      }
      out.one = await s.get('outbox/1');
      out.emptyKey = await s.get('');
      out.outbox = await s.list('outbox/');
      out.high = await s.list('outbox/\uffff');
      out.all = (await s.list('')).map(([k]) => k);
      await s.put('outbox/1', 'one again');
      out.overwritten = await s.get('outbox/1');
      out.deleteMissing = await s.delete('never there');
      await s.delete('outbox/2');
      out.afterDelete = (await s.list('outbox/')).map(([k]) => k);
      out.none = await s.list('zzz');
      return out;
    });
    assert.equal(got.missing, null, 'a missing key reads as null');
    for (const [k, v] of Object.entries(got)) if (k.startsWith('put ')) assert.equal(v, undefined, `${k} resolves to nothing`);
    assert.equal(got.one, 'one');
    assert.equal(got.emptyKey, 'empty key');
    assert.deepEqual(got.outbox, [
      ['outbox/1', 'one'],
      ['outbox/10', 'ten'],
      ['outbox/2', 'two'],
      ['outbox/\uffff\uffffx', 'high'],
    ], 'list returns [key, value] pairs with the prefix, ordered by key');
    assert.deepEqual(got.high, [['outbox/\uffff\uffffx', 'high']]);
    assert.deepEqual(got.all, ['', 'outbox/1', 'outbox/10', 'outbox/2', 'outbox/\uffff\uffffx', 'outbox0', 'roster']);
    assert.equal(got.overwritten, 'one again');
    assert.equal(got.deleteMissing, undefined, 'deleting a missing key is not an error');
    assert.deepEqual(got.afterDelete, ['outbox/1', 'outbox/10', 'outbox/\uffff\uffffx']);
    assert.deepEqual(got.none, []);
  } finally {
    await context.close();
  }
});

test('bad arguments are refused with a clear error and change nothing', { timeout: 60_000 }, async () => {
  const context = await browser.newContext();
  try {
    const page = await storagePage(context);
    const got = await page.evaluate(async () => {
      const s = globalThis.sparkwebStorage;
      await s.put('k', 'kept');
      const errors = [];
      for (const call of [() => s.put('k', 42), () => s.put('k', null), () => s.put(7, 'x'), () => s.get(undefined), () => s.list(null), () => s.delete({})]) {
        errors.push(await call().then(() => 'resolved', (err) => `${err.name}: ${err.message}`));
      }
      return { errors, k: await s.get('k'), all: await s.list('') };
    });
    assert.deepEqual(got.errors, [
      'TypeError: sparkwebStorage: value must be a string, got number',
      'TypeError: sparkwebStorage: value must be a string, got null',
      'TypeError: sparkwebStorage: key must be a string, got number',
      'TypeError: sparkwebStorage: key must be a string, got undefined',
      'TypeError: sparkwebStorage: prefix must be a string, got null',
      'TypeError: sparkwebStorage: key must be a string, got object',
    ]);
    assert.equal(got.k, 'kept');
    assert.deepEqual(got.all, [['k', 'kept']]);
  } finally {
    await context.close();
  }
});

test('what a put resolved is there after a reload, in the documented database', { timeout: 60_000 }, async () => {
  const context = await browser.newContext();
  try {
    const page = await storagePage(context);
    await page.evaluate(() => globalThis.sparkwebStorage.put('outbox/abc', '{"body":"hi"}'));
    await page.reload();
    await page.addScriptTag({ url: '/static/storage.js' });
    const got = await page.evaluate(async () => {
      // Read with plain IndexedDB: the Go side and other builds depend on the names.
      const db = await new Promise((resolve, reject) => {
        const req = indexedDB.open('sparkweb');
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      const raw = await new Promise((resolve, reject) => {
        const req = db.transaction('kv').objectStore('kv').get('outbox/abc');
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      db.close();
      return { raw, viaAPI: await globalThis.sparkwebStorage.get('outbox/abc') };
    });
    assert.deepEqual(got, { raw: '{"body":"hi"}', viaAPI: '{"body":"hi"}' });
  } finally {
    await context.close();
  }
});
