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
//
// Web Push (the relay sends it when no tab of the user is live; see the end of this file): shows
// one notification per conversation, and a click focuses a tab of the app at that chat or opens one.
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
  'webcomponents/sparkweb-notifications.js',
  'webcomponents/i18n.js',
  'webcomponents/element.js',
  'webcomponents/render.js',
  'webcomponents/sparkweb-app.js',
  'webcomponents/sparkweb-status.js',
  'webcomponents/sparkweb-presence.js',
  'webcomponents/sparkweb-room.js',
  'webcomponents/sparkweb-rooms.js',
  'webcomponents/sparkweb-profile.js',
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

// ---- Web Push ----
//
// Payload (JSON, from the relay): {"type": "message", "from"?: "bob@example.org", "body"?: "...",
// "count": n}. Sender and body are there only when the XMPP server provided them.
//
// No notification when the chat is already on screen: the worker asks every focused, visible
// window of the app which chats it shows ({type: "sparkweb:shown-chats"} with a MessagePort; the
// façade answers with the contacts of its visible <sparkweb-chat> elements, see
// registerServiceWorker). A worker's memory does not survive its frequent restarts, so it asks at
// push time instead of remembering what pages told it. Every other push shows a notification:
// Chromium subscribes with userVisibleOnly and penalises a push that shows nothing.
//
// A click focuses a window of the app and posts it {type: "open-chat", jid}; with no window open
// it opens <app root>#chat=<jid>. <sparkweb-app> (webcomponents/sparkweb-app.js) handles both.

/** How long a window may take to say which chats it shows; silence means "none". */
const ASK_TIMEOUT_MS = 500;
/** Longest body shown; the platform truncates anyway, this only bounds what we hand it. */
const MAX_BODY = 500;

self.addEventListener('push', (event) => {
  event.waitUntil(onPush(event.data));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const from = event.notification.data?.from;
  event.waitUntil(openChat(typeof from === 'string' ? from : ''));
});

/**
 * The notification for a push payload. Anything malformed still yields a notification (generic
 * text): a message arrived even if its summary is unreadable.
 * @param {PushMessageData|null} data
 * @returns {{from: string, body: string, count: number}}
 */
function readPush(data) {
  let msg = {};
  try {
    msg = data ? data.json() : {};
  } catch (err) {
    console.warn('sparkweb sw: push payload is not JSON:', err.message);
  }
  if (msg === null || typeof msg !== 'object') msg = {};
  const from = typeof msg.from === 'string' ? bare(msg.from.trim()) : '';
  const body = typeof msg.body === 'string' ? msg.body.trim().slice(0, MAX_BODY) : '';
  const count = Number.isSafeInteger(msg.count) && msg.count > 0 ? msg.count : 1;
  return { from, body, count };
}

/** The bare JID of a JID, lower-cased: the form chats are compared in. */
function bare(jid) {
  const slash = jid.indexOf('/');
  return (slash < 0 ? jid : jid.slice(0, slash)).toLowerCase();
}

async function onPush(data) {
  const { from, body, count } = readPush(data);
  const onScreen = from
    ? await chatOnScreen(from).catch((err) => {
        console.warn('sparkweb sw: cannot ask the open tabs:', err.message);
        return false; // in doubt, notify: a push that shows nothing is penalised
      })
    : false;
  if (onScreen) return;
  const many = `${count} new messages`;
  let text = body || (count > 1 ? many : 'New message');
  if (body && count > 1) text += `\n(${many})`;
  await self.registration.showNotification(from || 'SparkWeb', {
    body: text,
    // One notification per conversation: a newer push replaces it, and alerts again (renotify).
    tag: 'sparkweb:' + from,
    renotify: true,
    icon: new URL('static/icon.svg', ROOT).href, // platforms that cannot draw SVG show none
    timestamp: Date.now(),
    data: { from },
  });
}

/** Whether a URL is under the app root. */
function inScope(url) {
  return url.origin === ROOT.origin && url.pathname.startsWith(ROOT.pathname);
}

/** The app's windows (any tab under the root, controlled by this worker or not). */
async function appWindows() {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  return windows.filter((c) => inScope(new URL(c.url)));
}

/** Whether a focused, visible window of the app shows the chat with `jid`. */
async function chatOnScreen(jid) {
  const shown = (await appWindows()).filter((c) => c.focused && c.visibilityState === 'visible');
  const answers = await Promise.all(shown.map(shownChats));
  return answers.some((chats) => chats.includes(jid));
}

/** Asks one window which chats it shows; resolves to their bare JIDs ([] when it does not answer). */
function shownChats(client) {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => {
      channel.port1.close();
      resolve([]);
    }, ASK_TIMEOUT_MS);
    channel.port1.onmessage = ({ data }) => {
      clearTimeout(timer);
      channel.port1.close();
      const chats = Array.isArray(data?.chats) ? data.chats : [];
      resolve(chats.filter((c) => typeof c === 'string').map(bare));
    };
    client.postMessage({ type: 'sparkweb:shown-chats' }, [channel.port2]);
  });
}

/** Brings the app to the front at the chat with `jid` ('' when the push named no sender). */
async function openChat(jid) {
  const windows = await appWindows();
  // matchAll lists the most recently focused first.
  const target = windows.find((c) => c.focused) ?? windows.find((c) => c.visibilityState === 'visible') ?? windows[0];
  if (target) {
    // Tell the tab first: the browser may refuse the focus, and the chat should open regardless.
    if (jid) target.postMessage({ type: 'open-chat', jid });
    try {
      await target.focus();
    } catch (err) {
      console.warn('sparkweb sw: cannot focus the app:', err.message);
    }
    return;
  }
  const url = new URL(ROOT);
  if (jid) url.hash = 'chat=' + encodeURIComponent(jid).replace(/%40/g, '@');
  try {
    await self.clients.openWindow(url.href);
  } catch (err) {
    console.warn('sparkweb sw: cannot open', url.href, err.message);
  }
}
