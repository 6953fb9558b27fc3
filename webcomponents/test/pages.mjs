// The example pages that the accessibility check and the screenshots go through: the demo
// (index.html) and static/examples/. `{bob}` in a path stands for bob's JID; `signedIn` is what
// the page shows once signed in (an open chat where it has one).
export const PAGES = [
  { name: 'index', path: '/', signedIn: '/#chat={bob}' },
  { name: 'app', path: '/static/examples/app.html', signedIn: '/static/examples/app.html#chat={bob}' },
  { name: 'roster', path: '/static/examples/roster.html', signedIn: '/static/examples/roster.html' },
  { name: 'chat', path: '/static/examples/chat.html#chat={bob}', signedIn: '/static/examples/chat.html#chat={bob}' },
];

/** Resolves once the page's elements attached to the engine and had a moment to render. */
export async function settle(page) {
  await page.waitForFunction(() => performance.getEntriesByName('sparkweb:ready').length > 0, null, { timeout: 15_000 });
  await page.waitForTimeout(700);
}
