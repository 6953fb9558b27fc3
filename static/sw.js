// SparkWeb service worker: keeps the app shell (page, elements, worker, engine) in a cache so that
// the app starts with no network. Registered by registerServiceWorker() in the façade as
// static/sw.js?v=<build version> with scope "/" (the relay sends Service-Worker-Allowed: /).
//
// Strategy: network first, cache as fallback. The assets are not fingerprinted, so serving the
// cache first would mix files of two builds after a deploy (a page of one build with elements of
// another); going to the network first keeps every online load consistent and costs no more than
// no service worker at all (the HTTP cache still answers revalidations with 304). The cache is
// refreshed with what the network returned and used only when the network fails.
// Never touched: anything but GET, /api/ (tokens, push) and /ws (WebSockets bypass service
// workers anyway), and every path outside the shell.
'use strict';

const VERSION = new URL(self.location.href).searchParams.get('v') || 'dev';
const PREFIX = 'sparkweb-shell-';
const CACHE = PREFIX + VERSION;
/** The app root: this file lives in <root>/static/. */
const ROOT = new URL('../', self.location.href);

/** Fetched into the cache on install, so that even files not yet used by a page work offline. */
const SHELL = [
  '',
  'index.html',
  'static/demo.js',
  'static/sparkweb.css',
  'static/manifest.webmanifest',
  'static/icon.svg',
  'static/icon-maskable.svg',
  'static/version.json',
  'static/worker.js',
  'static/storage.js',
  'static/wasm_exec.js',
  'static/engine.wasm',
  'webcomponents/sparkweb.js',
  'webcomponents/sparkweb-login.js',
  'webcomponents/sparkweb-roster.js',
  'webcomponents/sparkweb-chat.js',
].map((path) => new URL(path, ROOT).href);

/** Whether a request is part of the app shell this worker caches. */
function inShell(url) {
  if (url.origin !== ROOT.origin || !url.pathname.startsWith(ROOT.pathname)) return false;
  const path = url.pathname.slice(ROOT.pathname.length);
  return path === '' || path === 'index.html' || path.startsWith('static/') || path.startsWith('webcomponents/');
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // One missing file (e.g. an optional one of a partial build) must not keep the whole shell
      // from installing: cache what answers, report the rest.
      const results = await Promise.allSettled(
        SHELL.map(async (url) => {
          const response = await fetch(url, { cache: 'no-cache' });
          if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
          await cache.put(url, response);
        }),
      );
      for (const r of results) if (r.status === 'rejected') console.warn('sparkweb sw: not cached:', r.reason?.message ?? r.reason);
      await self.skipWaiting(); // network first keeps builds apart, so the new worker can take over at once
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
      }
      // Navigations then start on the network while this worker boots, instead of after it.
      await self.registration.navigationPreload?.enable();
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (!inShell(url)) return;
  event.respondWith(networkFirst(request, url, event.preloadResponse));
});

/** The cache key of a request: the URL without query or fragment. */
function cacheKey(url) {
  return url.origin + url.pathname;
}

async function networkFirst(request, url, preload) {
  const key = cacheKey(url);
  let response;
  try {
    response = (await preload) || (await fetch(request));
  } catch (err) {
    const cached = await (await caches.open(CACHE)).match(key, { ignoreVary: true });
    if (cached) return cached;
    throw err;
  }
  if (response.ok && response.type === 'basic' && !response.headers.has('content-range')) {
    // Do not wait for the cache write: the page gets its response at once.
    remember(key, response.clone()).catch((err) => console.warn('sparkweb sw: cache', key, err));
  } else if (response.status >= 500) {
    const cached = await (await caches.open(CACHE)).match(key, { ignoreVary: true });
    if (cached) return cached; // a broken server is no better than no server
  }
  return response;
}

/** Stores a fresh response, skipping the write when the cache holds the same representation. */
async function remember(key, response) {
  const cache = await caches.open(CACHE);
  const etag = response.headers.get('etag');
  if (etag) {
    const cached = await cache.match(key, { ignoreVary: true });
    // engine.wasm is megabytes: rewriting it on every load would wear the disk for nothing.
    if (cached && cached.headers.get('etag') === etag) return;
  }
  await cache.put(key, response);
}
