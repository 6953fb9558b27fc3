// element.js, the base class of the elements: the shadow DOM from the template, the `strings`
// property and the page's sparkweb-strings event re-rendering, subscriptions made once the client
// is there and dropped when the element leaves the page, also when it leaves (and comes back)
// while connect() is still settling. A test element subclass on a page of the real stack (engine,
// relay, Prosody), signed in as alice; the presence it hears comes from bob's native client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, openSignedIn } from './harness.mjs';
import { nativeClient } from './native-client.mjs';

// Each <test-element id=...> logs "<id> <what>" for its renders, subscriptions and presence events
// of the test's own resources (elt-*): the presence the engine hears besides is not the test's.
const script = `
window.i18n = await import('/webcomponents/i18n.js');
const { SparkWebElement } = await import('/webcomponents/element.js');
window.i18n.defineStrings({ 'test.hello': 'Hello' });
const template = document.createElement('template');
template.innerHTML = '<p part="text"></p>';
window.log = [];
class TestElement extends SparkWebElement {
  constructor() {
    super(template);
  }
  render() {
    this.$('p').textContent = this.text('test.hello');
    window.log.push(this.id + ' render ' + (this.client ? 'client' : 'none'));
  }
  subscribe(client) {
    window.log.push(this.id + ' subscribe');
    return [client.on('presence', (p) => p.jid.includes('/elt-') && window.log.push(this.id + ' presence ' + p.jid))];
  }
}
customElements.define('test-element', TestElement);`;

let stack;
before(async () => {
  stack = await startStack();
});
after(() => stack?.close());

/** A fresh context (one engine) with the test element on a page, signed in as alice. */
const open = () => openSignedIn(stack, stack.users.alice, { path: '/element.html', modules: [], body: '<test-element id="a"></test-element>', script });

/** bob comes online (show away) from a native client with resource `resource`; returns it. */
async function presence(resource) {
  const phone = await nativeClient(stack.prosody, stack.users.bob, { resource });
  phone.send('<presence><show>away</show></presence>');
  return phone;
}

const log = (page, id) => page.evaluate((id) => window.log.filter((l) => l.startsWith(id + ' ')).map((l) => l.slice(id.length + 1)), id);
const text = (page, id) => page.evaluate((id) => document.getElementById(id).shadowRoot.querySelector('p').textContent, id);

test('connected: renders, subscribes once the client is there, renders again', { timeout: 60_000 }, async () => {
  const { page, context, errors } = await open();
  let phone;
  try {
    await page.waitForFunction(() => window.log.includes('a subscribe'));
    phone = await presence('elt-1');
    const jid = `${stack.users.bob.jid}/elt-1`;
    await page.waitForFunction((jid) => window.log.includes('a presence ' + jid), jid, { timeout: 15_000 });
    assert.deepEqual(await log(page, 'a'), ['render none', 'subscribe', 'render client', `presence ${jid}`]);
    assert.equal(await text(page, 'a'), 'Hello');
    assert.deepEqual(errors, []);
  } finally {
    await phone?.close();
    await context.close();
  }
});

test('strings: the property (copied, null for none) and setStrings() re-render', { timeout: 60_000 }, async () => {
  const { page, context, errors } = await open();
  try {
    await page.waitForFunction(() => window.log.includes('a subscribe'));
    const given = await page.evaluate(() => {
      const el = document.getElementById('a');
      const mine = { 'test.hello': 'Hallo' };
      el.strings = mine;
      mine['test.hello'] = 'changed later';
      return { same: el.strings === mine, strings: el.strings };
    });
    assert.deepEqual(given, { same: false, strings: { 'test.hello': 'Hallo' } });
    assert.equal(await text(page, 'a'), 'Hallo');
    await page.evaluate(() => window.i18n.setStrings({ 'test.hello': 'Servus' }));
    assert.equal(await text(page, 'a'), 'Hallo', "the element's own strings win over the page's");
    assert.equal(await page.evaluate(() => (document.getElementById('a').strings = null, document.getElementById('a').strings)), null);
    assert.equal(await text(page, 'a'), 'Servus');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('disconnected: no events, no renders; added, removed and added again at once: one subscription', { timeout: 60_000 }, async () => {
  const { page, context, errors } = await open();
  let phone;
  try {
    await page.waitForFunction(() => window.log.includes('a subscribe'));
    // b connects twice while connect() has not settled: only the second connection subscribes.
    await page.evaluate(() => {
      document.getElementById('a').remove();
      const b = document.createElement('test-element');
      b.id = 'b';
      document.body.append(b);
      b.remove();
      document.body.append(b);
    });
    await page.waitForFunction(() => window.log.includes('b subscribe'));
    phone = await presence('elt-2');
    const jid = `${stack.users.bob.jid}/elt-2`;
    await page.waitForFunction((jid) => window.log.includes('b presence ' + jid), jid, { timeout: 15_000 });
    await page.evaluate(() => window.i18n.setStrings({ 'test.hello': 'Moin' }));
    await new Promise((r) => setTimeout(r, 200)); // time for a second handler to show itself
    assert.deepEqual((await log(page, 'b')).filter((l) => l !== 'render none'), ['subscribe', 'render client', `presence ${jid}`, 'render client']);
    assert.deepEqual(await log(page, 'a'), ['render none', 'subscribe', 'render client'], 'a removed element hears nothing');
    assert.equal(await text(page, 'b'), 'Moin');
    assert.deepEqual(errors, []);
  } finally {
    await phone?.close();
    await context.close();
  }
});
