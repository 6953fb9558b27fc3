// The roster at scale in headless Chromium: a user with 5,000 contacts (40 groups) on a real
// Prosody behind the relay, shown by <sparkweb-roster>. Usage:
//   node testenv/bench/browser/roster.mjs OUT.json [REPEATS]
//
// For each run (a new browser context):
//   first tab   login through <sparkweb-login>; from the roster data's arrival at the tab (the
//               element's first `roster` event with contacts: mark sparkweb-roster:data) to the
//               first contacts in the DOM (sparkweb-roster:first-render) and to the whole roster
//               rendered (sparkweb-roster:complete);
//   second tab  a new tab while the first is online: from navigation start to the first contacts
//               in the DOM (the snapshot holds all 5,000), and the largest main-thread task of that
//               load (Chromium trace, RunTask on the renderer's main thread);
//   scrolling   in the second tab: a fast mouse-wheel flick (150 events of 400 px, one per frame),
//               then jumps (to the end as by the scrollbar, End and Home on the keyboard); the
//               largest main-thread task of each (trace), the tasks over 50 ms of both
//               (PerformanceObserver 'longtask') and the rows in the DOM at the end.
// The trace's task durations are wall-clock: on a loaded machine they include waiting for a core,
// so the system load during the run is recorded too.
// Medians of REPEATS runs. Nothing here asserts a time.
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import {
  startProsody,
  startRelay,
  launchBrowser,
  addUser,
  addRosterContacts,
  login,
  signedInJID,
  routeTestPage,
} from '../../../webcomponents/test/harness.mjs';

const out = process.argv[2] ?? 'scale.json';
const repeats = Number(process.argv[3] ?? 3);
const CONTACTS = 5000;
const PAGE = '/roster-bench.html';

/** Marks of the page, by name (start times in ms from navigation start). */
function marks(page) {
  return page.evaluate(() => Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name, m.startTime])));
}

async function waitForMark(page, name) {
  await page.waitForFunction((name) => performance.getEntriesByName(name).length > 0, name, { timeout: 120_000 });
}

/** The largest RunTask on a renderer main thread in a Chromium trace, in ms. */
function largestTask(traceBuffer) {
  const { traceEvents } = JSON.parse(traceBuffer.toString('utf8'));
  const main = new Set();
  for (const e of traceEvents) {
    if (e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain') main.add(`${e.pid}:${e.tid}`);
  }
  let largest = 0;
  let tasks = 0;
  for (const e of traceEvents) {
    if (e.name !== 'RunTask' || e.ph !== 'X' || !main.has(`${e.pid}:${e.tid}`)) continue;
    tasks++;
    largest = Math.max(largest, (e.dur ?? 0) / 1000);
  }
  return { largest, tasks };
}

const TRACE = ['devtools.timeline', 'disabled-by-default-devtools.timeline'];

async function run(browser, relay, user) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  await routeTestPage(context, relay.url + PAGE, {
    modules: ['/webcomponents/sparkweb-login.js', '/webcomponents/sparkweb-roster.js'],
    body: '<sparkweb-login></sparkweb-login><sparkweb-roster style="height: 600px"></sparkweb-roster>',
    // Long tasks seen by the page itself, from the start.
    script: `window.longTasks = [];
new PerformanceObserver((l) => { for (const e of l.getEntries()) window.longTasks.push({ start: e.startTime, duration: e.duration }); }).observe({ type: 'longtask', buffered: true });`,
  });
  try {
    // First tab: log in; the roster arrives in chunks of 500 after the login.
    const a = await context.newPage();
    await a.goto(relay.url + PAGE);
    await a.locator('body[data-ready="yes"]').waitFor({ timeout: 30_000 });
    await login(a, user);
    await signedInJID(a, 60_000);
    await waitForMark(a, 'sparkweb-roster:complete');
    const am = await marks(a);

    // Second tab: the snapshot has every contact.
    const b = await context.newPage();
    await browser.startTracing(b, { categories: TRACE });
    await b.goto(relay.url + PAGE);
    await waitForMark(b, 'sparkweb-roster:first-render');
    await waitForMark(b, 'sparkweb-roster:complete');
    const loadTrace = largestTask(await browser.stopTracing());
    const bm = await marks(b);

    // Scrolling the second tab's list with the wheel, to the end and back, then End/Home.
    const viewport = b.locator('sparkweb-roster .viewport');
    const box = await viewport.boundingBox();
    await b.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await b.evaluate(() => {
      window.longTasks = [];
    });
    await browser.startTracing(b, { categories: TRACE });
    // A fast flick: 400 px (10 rows) per wheel event, one event per frame, 150 events.
    for (let k = 0; k < 150; k++) {
      await b.mouse.wheel(0, 400);
      await b.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
    }
    const wheelTrace = largestTask(await browser.stopTracing());
    // Jumps: the scrollbar dragged to the end (the whole window of rows replaced at once), then
    // End and Home on the keyboard.
    await browser.startTracing(b, { categories: TRACE });
    await viewport.evaluate((v) => {
      v.scrollTop = v.scrollHeight;
    });
    await b.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const atEnd = await viewport.evaluate((v) => v.scrollTop + v.clientHeight >= v.scrollHeight - 1);
    await b.locator('sparkweb-roster [role="tree"]').focus();
    await b.keyboard.press('End');
    await b.keyboard.press('Home');
    await b.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const jumpTrace = largestTask(await browser.stopTracing());
    const page = await b.evaluate(() => ({
      longTasks: window.longTasks.length,
      rows: document.querySelector('sparkweb-roster').shadowRoot.querySelectorAll('[role="treeitem"]').length,
    }));
    return {
      dataToFirstRenderMs: am['sparkweb-roster:first-render'] - am['sparkweb-roster:data'],
      dataToCompleteMs: am['sparkweb-roster:complete'] - am['sparkweb-roster:data'],
      secondTabFirstRenderMs: bm['sparkweb-roster:first-render'],
      secondTabCompleteMs: bm['sparkweb-roster:complete'],
      secondTabLargestTaskMs: loadTrace.largest,
      wheelLargestTaskMs: wheelTrace.largest,
      jumpLargestTaskMs: jumpTrace.largest,
      scrollLongTasks: page.longTasks,
      rowsInDOM: page.rows,
      reachedEnd: atEnd,
      load1: loadavg()[0],
    };
  } finally {
    await context.close();
  }
}

function median(xs) {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main() {
  const cleanups = [];
  try {
    const prosody = await startProsody();
    cleanups.push(prosody.stop);
    const user = await addUser(prosody, 'many');
    await addRosterContacts(prosody, 'many', CONTACTS);
    const relay = await startRelay({ upstream: prosody.wsURL, domain: prosody.domain });
    cleanups.push(relay.stop);
    const browser = await launchBrowser();
    cleanups.push(() => browser.close());
    const runs = [];
    for (let i = 0; i < repeats; i++) {
      console.error(`roster scale: run ${i + 1} of ${repeats}`);
      runs.push(await run(browser, relay, user));
    }
    const keys = Object.keys(runs[0]).filter((k) => typeof runs[0][k] === 'number');
    const result = {
      chromium: browser.version(),
      contacts: CONTACTS,
      runs: repeats,
      ...Object.fromEntries(keys.map((k) => [k, median(runs.map((r) => r[k]))])),
      reachedEnd: runs.every((r) => r.reachedEnd),
      all: runs,
    };
    await writeFile(out, JSON.stringify(result, null, 2) + '\n');
    console.error(JSON.stringify(result, null, 2));
  } finally {
    for (const fn of cleanups.reverse()) await fn().catch((err) => console.error('cleanup:', err));
  }
}

main().catch((err) => {
  console.error('roster bench failed:', err);
  process.exit(1);
});
