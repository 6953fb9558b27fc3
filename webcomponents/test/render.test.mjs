// render.js, the message body renderer <sparkweb-chat> and <sparkweb-room> share: each case gives
// a message as the engine sends it and the DOM the renderer must build (read back as HTML, so text
// from the network shows escaped). The elements' tests cover the same rules through real servers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, serveFiles } from './harness.mjs';

const REL = 'rel="noopener noreferrer nofollow" target="_blank" part="link"';
const a = (href, text = href) => `<a href="${href}" ${REL}>${text}</a>`;

/** [name, message, expected innerHTML, options?] */
const cases = [
  ['markup in a body is text', { body: '<img src=x onerror="self.pwned=1"> & <b>hi</b>' }, '&lt;img src=x onerror="self.pwned=1"&gt; &amp; &lt;b&gt;hi&lt;/b&gt;'],
  [
    'http, https and xmpp addresses are links; sentence punctuation is not part of them',
    { body: 'see https://example.org/a?b=1. or (http://x.test/p), xmpp:bob@example.org!' },
    `see ${a('https://example.org/a?b=1')}. or (${a('http://x.test/p')}), ${a('xmpp:bob@example.org')}!`,
  ],
  ['other schemes stay text', { body: 'javascript:alert(1) data:text/html,x file:///etc/passwd' }, 'javascript:alert(1) data:text/html,x file:///etc/passwd'],
  [
    'styling spans: strong, emphasis, strike, code; directives kept but hidden by class',
    {
      body: '*b* _e_ ~s~ `c https://x.test`',
      styled: [
        { text: '*', kinds: ['strong', 'directive'] },
        { text: 'b', kinds: ['strong'] },
        { text: '*', kinds: ['strong', 'directive'] },
        { text: ' ' },
        { text: '_', kinds: ['emphasis', 'directive'] },
        { text: 'e', kinds: ['emphasis'] },
        { text: '_', kinds: ['emphasis', 'directive'] },
        { text: ' ' },
        { text: '~', kinds: ['strike', 'directive'] },
        { text: 's', kinds: ['strike'] },
        { text: '~', kinds: ['strike', 'directive'] },
        { text: ' ' },
        { text: '`', kinds: ['code', 'directive'] },
        { text: 'c https://x.test', kinds: ['code'] },
        { text: '`', kinds: ['code', 'directive'] },
      ],
    },
    '<span class="directive">*</span><strong>b</strong><span class="directive">*</span> <span class="directive">_</span><em>e</em><span class="directive">_</span> <span class="directive">~</span><s>s</s><span class="directive">~</span> <span class="directive">`</span><code>c https://x.test</code><span class="directive">`</span>',
  ],
  [
    'a link inside strong text is a link; nested styles nest',
    { body: 'https://x.test', styled: [{ text: 'https://x.test', kinds: ['strong', 'emphasis'] }] },
    `<strong><em>${a('https://x.test/', 'https://x.test')}</em></strong>`,
  ],
  [
    'quotes nest by depth (at most 8), preformatted text is one <pre> without links',
    {
      body: '> q\n>> qq\n```\n*x* https://x.test\n```',
      styled: [
        { text: '> ', kinds: ['directive'], quote: 1 },
        { text: 'q\n', quote: 1 },
        { text: '>> ', kinds: ['directive'], quote: 20 },
        { text: 'qq\n', quote: 20 },
        { text: '```\n', kinds: ['pre', 'directive'] },
        { text: '*x* https://x.test\n', kinds: ['pre', 'strong'] },
        { text: '```', kinds: ['pre', 'directive'] },
      ],
    },
    '<blockquote><span class="directive">&gt; </span>q\n</blockquote>' +
      '<blockquote><blockquote><blockquote><blockquote><blockquote><blockquote><blockquote><blockquote><span class="directive">&gt;&gt; </span>qq\n</blockquote></blockquote></blockquote></blockquote></blockquote></blockquote></blockquote></blockquote>' +
      '<pre><span class="directive">```\n</span>*x* https://x.test\n<span class="directive">```</span></pre>',
  ],
  [
    'spans that no longer spell the body (an edit merged over them) are ignored',
    { body: 'new text', styled: [{ text: 'old', kinds: ['strong'] }] },
    'new text',
  ],
  [
    'an OOB image: an <img> in a link, alt from the option, no referrer',
    { body: 'https://files.test/cat.png', oob: { url: 'https://files.test/cat.png' } },
    `${a('https://files.test/cat.png')}<a href="https://files.test/cat.png" ${REL}><img src="https://files.test/cat.png" alt="Bild" loading="lazy" referrerpolicy="no-referrer" part="image"></a>`,
    { imageAlt: 'Bild' },
  ],
  [
    'an OOB file that is not the body: a link on its own line, named by its description',
    { body: 'the report', oob: { url: 'https://files.test/r.pdf', desc: 'Report <2026>' } },
    `the report<br>${a('https://files.test/r.pdf', 'Report &lt;2026&gt;')}`,
  ],
  ['an OOB file that is the body adds nothing', { body: 'https://files.test/r.pdf', oob: { url: 'https://files.test/r.pdf' } }, a('https://files.test/r.pdf')],
  ['an OOB URL of another scheme is dropped', { body: 'look', oob: { url: 'javascript:alert(1)//x.png' } }, 'look'],
  ['xmpp: is no OOB scheme', { body: 'look', oob: { url: 'xmpp:bob@example.org?x.png' } }, 'look'],
  ['no body at all', {}, ''],
];

let server;
let browser;
let page;
before(async () => {
  server = await serveFiles({ '/render.html': { body: '<!doctype html><html lang="en"><meta charset="utf-8"><title>render</title>' } });
  browser = await launchBrowser();
  page = await browser.newPage();
  await page.goto(`${server.url}/render.html`);
  await page.evaluate(async () => {
    window.render = await import('/webcomponents/render.js');
  });
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

for (const [name, message, want, options] of cases) {
  test(`renderBody: ${name}`, async () => {
    const got = await page.evaluate(
      ([m, o]) => {
        const div = document.createElement('div');
        div.append(window.render.renderBody(m, o));
        return div.innerHTML;
      },
      [message, options],
    );
    assert.equal(got, want);
  });
}

test('nothing from a message ever runs', async () => {
  assert.equal(await page.evaluate(() => window.pwned), undefined);
});
