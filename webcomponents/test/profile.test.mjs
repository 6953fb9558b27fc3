// <sparkweb-profile> against the real engine, relay and Prosody: alice edits her vCard and it is
// still there after a reload; she sets an avatar (scaled down in the tab) and bob sees it on her
// read-only profile; removing it removes it for bob too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync, crc32 } from 'node:zlib';
import { startStack, openSignedIn, signedInJID, inspectSharedWorker, nonce, logFailure, closeAll } from './harness.mjs';

let stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.close();
});

const PAGE = '/profile-test.html';

/** A signed-in page; `?jid=` on the page's address shows that contact's profile. */
function openAs(user, contact = '') {
  return openSignedIn(stack, user, {
    path: PAGE,
    query: contact ? `?jid=${encodeURIComponent(contact)}` : '',
    modules: ['/webcomponents/sparkweb-profile.js'],
    body: '<sparkweb-profile></sparkweb-profile>',
    script: `const jid = new URLSearchParams(location.search).get('jid');
if (jid) document.querySelector('sparkweb-profile').setAttribute('jid', jid);`,
  });
}

/** A width×height PNG of one colour (RGB, no filter), to upload as an avatar. */
function png(width, height, [r, g, b]) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const row = Buffer.alloc(1 + width * 3);
  for (let x = 0; x < width; x++) row.set([r, g, b], 1 + x * 3);
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The profile's avatar image: its natural size and the colour of its centre pixel. */
function avatarPixels(page) {
  return page.locator('sparkweb-profile').evaluate(async (el) => {
    const img = el.shadowRoot.querySelector('img.pic');
    if (img.hidden || !img.src) return null;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const [r, g, b] = ctx.getImageData(canvas.width >> 1, canvas.height >> 1, 1, 1).data;
    return { src: img.src.slice(0, 5), width: img.naturalWidth, height: img.naturalHeight, rgb: [r, g, b] };
  });
}

test('own profile edited and persisted; avatar set, seen by a contact, removed', { timeout: 240_000 }, async () => {
  const { alice, bob } = stack.users;
  const fullName = `Alice <b>Liddell</b> ${nonce()}`;
  let a;
  let b;
  let inspector;
  try {
    a = await openAs(alice);
    const profile = a.page.locator('sparkweb-profile');
    await profile.locator('h2', { hasText: 'Your profile' }).waitFor({ timeout: 10_000 });
    const fields = {
      'Full name': fullName,
      Nickname: 'ali',
      Email: 'alice@example.org',
      Website: 'https://alice.example.org/',
      Organisation: 'Wonderland Ltd',
      About: 'Curiouser\nand curiouser',
    };
    await profile.getByLabel('Full name').waitFor({ timeout: 15_000 });
    for (const [label, value] of Object.entries(fields)) await profile.getByLabel(label, { exact: true }).fill(value);
    // Texts are replaceable page-wide (i18n.js) and re-render at once.
    const setStrings = (strings) => a.page.evaluate(async (s) => (await import('/webcomponents/i18n.js')).setStrings(s), strings);
    await setStrings({ 'profile.save': 'Profil speichern', 'profile.field.fn': 'Name' });
    await profile.getByRole('button', { name: 'Profil speichern' }).waitFor({ timeout: 5_000 });
    assert.equal(await profile.getByLabel('Name', { exact: true }).inputValue(), fullName, 'a re-render keeps what was typed');
    await setStrings({ 'profile.save': null, 'profile.field.fn': null });
    await profile.getByRole('button', { name: 'Save profile' }).click();
    await profile.locator('[role="status"]', { hasText: 'Profile saved.' }).waitFor({ timeout: 15_000 });

    // Reload: the form is filled from the server again, with the same values.
    await a.page.reload();
    await a.page.locator('body[data-ready="yes"]').waitFor({ timeout: 10_000 });
    await signedInJID(a.page);
    inspector = await inspectSharedWorker(stack.browser); // after the reload: the old worker may be gone
    await a.page.waitForFunction(
      (name) => document.querySelector('sparkweb-profile').shadowRoot.querySelector('#f-fn')?.value === name,
      fullName,
      { timeout: 20_000 },
    );
    for (const [label, value] of Object.entries(fields)) {
      assert.equal(await profile.getByLabel(label, { exact: true }).inputValue(), value, `${label} kept`);
    }

    // Avatar: a 600×300 red picture is published scaled to 256×128.
    await profile.locator('[part="avatar-placeholder"]', { hasText: 'No avatar' }).waitFor({ timeout: 10_000 });
    await profile.locator('input[type="file"]').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: png(600, 300, [220, 20, 30]) });
    await profile.locator('[role="status"]', { hasText: 'Picture updated.' }).waitFor({ timeout: 20_000 });
    const own = await avatarPixels(a.page);
    assert.deepEqual({ width: own.width, height: own.height }, { width: 256, height: 128 }, 'scaled down before publishing');

    // Bob sees alice's profile read only, with her avatar from the engine (a Blob URL).
    b = await openAs(bob, alice.jid);
    const bProfile = b.page.locator('sparkweb-profile');
    await bProfile.locator('h2', { hasText: `Profile of ${alice.jid}` }).waitFor({ timeout: 10_000 });
    await bProfile.locator('dd[data-field="fn"]', { hasText: fullName }).waitFor({ timeout: 15_000 });
    assert.equal(await bProfile.locator('b').count(), 0, 'profile values are text');
    assert.equal(await bProfile.locator('form').isVisible(), false, "a contact's profile is read only");
    assert.equal(await bProfile.locator('.avatar-tools').isVisible(), false, 'and so is their avatar');
    assert.equal(await bProfile.locator('dd[data-field="url"] a').getAttribute('href'), 'https://alice.example.org/');
    assert.equal(await bProfile.locator('dd[data-field="note"]').textContent(), 'Curiouser\nand curiouser');
    await bProfile.locator('img.pic:not([hidden])').waitFor({ timeout: 20_000 });
    const seen = await avatarPixels(b.page);
    assert.equal(seen.src, 'blob:');
    assert.deepEqual({ width: seen.width, height: seen.height }, { width: 256, height: 128 });
    assert.ok(Math.abs(seen.rgb[0] - 220) < 8 && seen.rgb[1] < 40 && seen.rgb[2] < 50, `red, got ${seen.rgb}`);

    // Alice removes it: bob's view goes back to the placeholder.
    await profile.getByRole('button', { name: 'Remove picture' }).click();
    await profile.locator('[role="status"]', { hasText: 'Picture removed.' }).waitFor({ timeout: 15_000 });
    await bProfile.locator('[part="avatar-placeholder"]:not([hidden])').waitFor({ timeout: 20_000 });
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  } catch (err) {
    await logFailure(stack, { inspector });
    throw err;
  } finally {
    await closeAll(inspector, b, a);
  }
});
