// element.js, the base class of the elements: the shadow DOM from the template, the `strings`
// property and the page's sparkweb-strings event re-rendering, subscriptions made once the client
// is there and dropped when the element leaves the page, also when it leaves (and comes back)
// while connect() is still settling. A test element subclass on a scripted engine (fake-engine.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFake, fakePage, aliceSnapshot, emit } from './fake-engine.mjs';

// Each <test-element id=...> logs "<id> <what>" for its renders, subscriptions and presence events.
const script = `
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
    return [client.on('presence', (p) => window.log.push(this.id + ' presence ' + p.jid))];
  }
}
customElements.define('test-element', TestElement);`;

let fake;
before(async () => {
  fake = await startFake(aliceSnapshot(), { '/element.html': fakePage([], '<test-element id="a"></test-element>', script) });
});
after(() => fake?.close());

const log = (page, id) => page.evaluate((id) => window.log.filter((l) => l.startsWith(id + ' ')).map((l) => l.slice(id.length + 1)), id);
const text = (page, id) => page.evaluate((id) => document.getElementById(id).shadowRoot.querySelector('p').textContent, id);
const presence = (page, jid) => emit(page, 'presence', { jid, bare: jid.split('/')[0], show: 'away', status: '', priority: 0 });

test('connected: renders, subscribes once the client is there, renders again', async () => {
  const { page, context, errors } = await fake.open('/element.html');
  try {
    await page.waitForFunction(() => window.log.includes('a subscribe'));
    await presence(page, 'bob@localhost/1');
    await page.waitForFunction(() => window.log.includes('a presence bob@localhost/1'));
    assert.deepEqual(await log(page, 'a'), ['render none', 'subscribe', 'render client', 'presence bob@localhost/1']);
    assert.equal(await text(page, 'a'), 'Hello');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('strings: the property (copied, null for none) and setStrings() re-render', async () => {
  const { page, context, errors } = await fake.open('/element.html');
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

test('disconnected: no events, no renders; added, removed and added again at once: one subscription', async () => {
  const { page, context, errors } = await fake.open('/element.html');
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
    await presence(page, 'bob@localhost/2');
    await page.evaluate(() => window.i18n.setStrings({ 'test.hello': 'Moin' }));
    await page.waitForFunction(() => window.log.includes('b presence bob@localhost/2'));
    await new Promise((r) => setTimeout(r, 200)); // time for a second handler to show itself
    assert.deepEqual((await log(page, 'b')).filter((l) => l !== 'render none'), ['subscribe', 'render client', 'presence bob@localhost/2', 'render client']);
    assert.deepEqual(await log(page, 'a'), ['render none', 'subscribe', 'render client'], 'a removed element hears nothing');
    assert.equal(await text(page, 'b'), 'Moin');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
