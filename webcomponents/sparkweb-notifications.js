// <sparkweb-notifications>: a toggle that turns Web Push notifications on and off for this browser.
//
// Turning on (from the click, a user gesture): asks the Notification permission, registers the
// service worker (static/sw.js, which shows the notifications), reads the relay's VAPID key, subscribes
// with the browser's push service and hands the subscription to the engine (op push.register),
// which registers it with the relay. Turning off: op push.unregister, then unsubscribes. Signing
// out turns it off too (the engine unregisters at logout; the element drops the subscription).
// pushManager.subscribe() never settles in some browsers without network (headless Chromium), so
// it is given `timeout` milliseconds before the element says the push service is unreachable.
//
// Attributes: `vapid-url` (default: api/push/vapid at the app root), `timeout` (ms, default 10000).
// Property `strings`: this element's own texts, by i18n key ("notifications.button"; the short
// names of `defaultStrings`, "button", work too); setStrings() of i18n.js replaces them page-wide.
// Property/attribute `state` (read-only): off | asking | on | denied | error; `asking` covers the
// whole way on or off.
// Parts: button, status.
// Strings: notifications.<name> for each name of defaultStrings.
import { connect, registerServiceWorker, themeCSS } from './sparkweb.js';
import { defineStrings } from './i18n.js';
import { SparkWebElement } from './element.js';

/**
 * The element's English texts by short name (the i18n key is "notifications." + name);
 * `{message}` is replaced by the underlying error's message.
 */
export const defaultStrings = Object.freeze({
  button: 'Notifications',
  off: 'Off',
  on: 'On: new messages are shown even when SparkWeb is closed.',
  asking: 'Asking for permission…',
  turningOn: 'Turning on…',
  turningOff: 'Turning off…',
  dismissed: 'Off: permission was not given.',
  denied: 'Blocked: allow notifications for this site in the browser settings.',
  unsupported: 'This browser cannot show notifications.',
  unreachable: 'Push service unreachable.',
  noServer: 'This server does not offer notifications.',
  serverUnreachable: 'Server unreachable.',
  badKey: 'The server sent an invalid push key.',
  signIn: 'Sign in first.',
  failed: 'Could not turn on notifications: {message}',
  offLocally: 'Off in this browser; the server could not be told and forgets it at the next message.',
});

defineStrings(Object.fromEntries(Object.entries(defaultStrings).map(([name, text]) => ['notifications.' + name, text])));

const DEFAULT_TIMEOUT_MS = 10_000;

const template = document.createElement('template');
template.innerHTML = `
<style>
${themeCSS}
:host { display: inline-flex; align-items: center; flex-wrap: wrap; gap: .4rem .75rem; }
button {
  display: inline-flex; align-items: center; gap: .45rem;
  padding: .45rem 1rem; border-radius: var(--_radius); border: 1px solid var(--_accent);
  background: transparent; color: var(--_accent); cursor: pointer;
}
button::before {
  content: ""; width: 1.8em; height: 1em; border-radius: .5em; flex: none;
  background: var(--_offline); box-shadow: inset -.9em 0 0 -.1em var(--_bg);
}
button[aria-pressed="true"] { background: var(--_accent); color: var(--_accent-fg); }
button[aria-pressed="true"]::before { background: var(--_accent-fg); box-shadow: inset .9em 0 0 -.1em var(--_accent); }
button[aria-disabled="true"] { opacity: .6; cursor: progress; }
button:disabled { opacity: .6; cursor: not-allowed; }
p { margin: 0; font-size: .85rem; color: var(--_muted); }
p[data-state="error"], p[data-state="denied"] { color: var(--_error); }
</style>
<button part="button" type="button" aria-pressed="false" aria-describedby="status"></button>
<p part="status" id="status" role="status"></p>
`;

/** An error whose text is one of the element's strings. */
class NotificationsError extends Error {
  /**
   * @param {keyof typeof defaultStrings} key
   * @param {string} [detail] the underlying error's message, for `{message}`
   */
  constructor(key, detail = '') {
    super(detail || key);
    this.key = key;
  }
}

/** Turns Web Push notifications on or off for this browser and the signed-in account. */
export class SparkWebNotifications extends SparkWebElement {
  #els;
  #state = 'off';
  /** The last text key shown, so that new strings re-render it. */
  #text = { key: 'off', detail: '' };
  #busy = false;
  #permissionStatus = null;

  constructor() {
    super(template);
    this.#els = { button: this.$('button'), status: this.$('p') };
    this.#els.button.addEventListener('click', () => this.toggle());
    this.render();
  }

  /** This element's own texts by i18n key, over the page's; short names are accepted when set. */
  get strings() {
    return super.strings;
  }

  set strings(value) {
    super.strings = value && Object.fromEntries(Object.entries(value).map(([k, v]) => [k.includes('.') ? k : 'notifications.' + k, v]));
  }

  /** off | asking | on | denied | error. */
  get state() {
    return this.#state;
  }

  /** How long pushManager.subscribe() may take, in milliseconds. */
  get timeout() {
    const ms = Number(this.getAttribute('timeout'));
    return Number.isFinite(ms) && ms > 0 ? ms : DEFAULT_TIMEOUT_MS;
  }

  /** Where the relay serves its VAPID public key. */
  get vapidURL() {
    return new URL(this.getAttribute('vapid-url') || new URL('../api/push/vapid', import.meta.url), location.href);
  }

  connectedCallback() {
    super.connectedCallback();
    if (!supported()) {
      this.#set('error', 'unsupported');
      this.#els.button.disabled = true;
      return;
    }
    // Follow a permission the user changes in the browser's settings while the page is open.
    navigator.permissions
      ?.query({ name: 'notifications' })
      .then((status) => {
        this.#permissionStatus = status;
        status.onchange = () => this.#refresh();
      })
      .catch(() => {});
    this.#refresh();
  }

  disconnectedCallback() {
    super.disconnectedCallback();
    if (this.#permissionStatus) this.#permissionStatus.onchange = null;
    this.#permissionStatus = null;
  }

  /**
   * On sign-out the engine removes this browser's subscription at the relay (nobody signed in here
   * should get that account's notifications); the browser's own subscription then goes too, so
   * the toggle shows "off" instead of a subscription that leads nowhere. Without a client (the
   * engine cannot run), turning on reports that when clicked.
   */
  subscribe(client) {
    if (!supported()) return [];
    let jid = client.state.session.jid;
    return [
      client.on('session', (s) => {
        const signedOut = !!jid && s.state === 'offline' && !s.jid;
        jid = s.jid || '';
        if (signedOut) this.#signedOut();
      }),
    ];
  }

  async #signedOut() {
    if (this.#busy || this.#state !== 'on') return;
    this.#busy = true;
    try {
      const registration = await navigator.serviceWorker.getRegistration(appRoot().href);
      await (await registration?.pushManager.getSubscription())?.unsubscribe();
      this.#set('off', 'off');
    } catch (err) {
      console.warn('sparkweb-notifications: unsubscribing at sign-out failed', err);
    } finally {
      this.#busy = false;
      this.render();
    }
  }

  /** Turns notifications on when off, off when on; what a click does. */
  async toggle() {
    if (this.#busy || this.#els.button.disabled) return;
    this.#busy = true;
    try {
      if (this.#state === 'on') await this.#turnOff();
      else await this.#turnOn();
    } finally {
      this.#busy = false;
      this.render();
    }
  }

  /** Shows what the browser holds: a subscription with permission is "on". */
  async #refresh() {
    if (this.#busy) return;
    if (Notification.permission === 'denied') {
      this.#set('denied', 'denied');
      return;
    }
    let subscribed = false;
    try {
      const registration = await navigator.serviceWorker.getRegistration(appRoot().href);
      subscribed = !!(await registration?.pushManager.getSubscription());
    } catch (err) {
      console.warn('sparkweb-notifications: cannot read the push subscription', err);
    }
    if (this.#busy) return; // a click started meanwhile: it owns the state now
    if (subscribed && Notification.permission === 'granted') this.#set('on', 'on');
    else this.#set('off', 'off');
  }

  async #turnOn() {
    this.#set('asking', 'asking');
    let permission;
    try {
      // First, while the click's user activation is fresh: browsers ask only from a user gesture.
      permission = await Notification.requestPermission();
    } catch (err) {
      this.#set('error', 'failed', err.message);
      return;
    }
    if (permission === 'denied') {
      this.#set('denied', 'denied');
      return;
    }
    if (permission !== 'granted') {
      this.#set('off', 'dismissed');
      return;
    }
    this.#set('asking', 'turningOn');
    let subscription = null;
    try {
      const [registration, key, client] = await Promise.all([
        this.#registration(),
        fetchVapidKey(this.vapidURL),
        connect(),
      ]);
      subscription = await this.#subscribe(registration, key);
      await client.request('push.register', { subscription: subscription.toJSON() });
    } catch (err) {
      // A subscription the relay does not know would only show "on" falsely on the next load.
      await subscription?.unsubscribe().catch(() => {});
      console.warn('sparkweb-notifications: turning on failed', err);
      const [key, detail] = errorText(err);
      this.#set('error', key, detail);
      return;
    }
    this.#set('on', 'on');
  }

  async #turnOff() {
    this.#set('asking', 'turningOff');
    let told = true;
    let subscription = null;
    try {
      const registration = await navigator.serviceWorker.getRegistration(appRoot().href);
      subscription = await registration?.pushManager.getSubscription();
    } catch (err) {
      console.warn('sparkweb-notifications: cannot read the push subscription', err);
    }
    if (subscription) {
      try {
        const client = await connect();
        await client.request('push.unregister', { endpoint: subscription.endpoint });
      } catch (err) {
        // Unsubscribing below still stops the notifications: the push service then answers the
        // relay "gone" and the relay drops the subscription.
        console.warn('sparkweb-notifications: push.unregister failed', err);
        told = false;
      }
      try {
        await subscription.unsubscribe();
      } catch (err) {
        this.#set('error', 'failed', err.message);
        return;
      }
    }
    this.#set('off', told ? 'off' : 'offLocally');
  }

  /** The app's service worker registration, once its worker is active (push needs one). */
  async #registration() {
    const registration = await registerServiceWorker();
    if (!registration) throw new NotificationsError('unsupported');
    if (registration.active) return registration;
    const worker = registration.installing ?? registration.waiting;
    const activated = new Promise((resolve, reject) => {
      worker.addEventListener('statechange', () => {
        if (worker.state === 'activated') resolve(registration);
        if (worker.state === 'redundant') reject(new NotificationsError('failed', 'the service worker failed to install'));
      });
    });
    return withTimeout(activated, this.timeout, () => new NotificationsError('failed', 'the service worker did not start'));
  }

  /** Subscribes with the push service, replacing a subscription made with another key. */
  async #subscribe(registration, key) {
    const existing = await registration.pushManager.getSubscription();
    if (existing && !sameBytes(existing.options.applicationServerKey, key)) await existing.unsubscribe();
    let gaveUp = false;
    const pending = registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    // A subscription that arrives after we gave up would be unknown to the relay: drop it.
    pending.then((late) => gaveUp && late.unsubscribe().catch(() => {}), () => {});
    try {
      return await withTimeout(pending, this.timeout, () => {
        gaveUp = true;
        return new NotificationsError('unreachable');
      });
    } catch (err) {
      if (err instanceof NotificationsError) throw err;
      // AbortError is how browsers report a push service they cannot reach or that refused.
      if (err?.name === 'AbortError') throw new NotificationsError('unreachable', err.message);
      throw new NotificationsError('failed', err?.message ?? String(err));
    }
  }

  /** Sets the state and the status text (a key of strings). */
  #set(state, key, detail = '') {
    this.#state = state;
    this.#text = { key, detail };
    this.render();
  }

  render() {
    const { button, status } = this.#els;
    const text = this.text('notifications.' + this.#text.key, { message: this.#text.detail || '' });
    const label = this.text('notifications.button');
    if (button.textContent !== label) button.textContent = label;
    button.setAttribute('aria-pressed', String(this.#state === 'on'));
    // aria-disabled, not disabled: the button keeps keyboard focus while it works.
    button.setAttribute('aria-disabled', String(this.#busy));
    if (status.textContent !== text) status.textContent = text;
    status.dataset.state = this.#state;
    // Not from the constructor: document.createElement() forbids attributes set there.
    if (this.isConnected && this.getAttribute('state') !== this.#state) this.setAttribute('state', this.#state);
  }
}

/** Whether this browser can do Web Push at all. */
function supported() {
  return 'serviceWorker' in navigator && typeof PushManager === 'function' && typeof Notification === 'function';
}

/** The app root, the service worker's scope. */
function appRoot() {
  return new URL('../', import.meta.url);
}

/** [strings key, detail] for an error of turning on. */
function errorText(err) {
  if (err instanceof NotificationsError) return [err.key, err.message === err.key ? '' : err.message];
  switch (err?.code) {
    case 'not-connected':
    case 'not-authorized':
      return ['signIn', ''];
    case 'feature-not-implemented':
    case 'item-not-found':
      return ['noServer', ''];
    case 'server-unreachable':
      return ['serverUnreachable', ''];
    default:
      return ['failed', err?.message || err?.code || String(err)];
  }
}

/**
 * Reads the relay's VAPID public key: an uncompressed P-256 point, base64url, as the
 * applicationServerKey wants it.
 * @param {URL} url
 * @returns {Promise<Uint8Array>}
 */
export async function fetchVapidKey(url) {
  let response;
  try {
    response = await fetch(url, { headers: { accept: 'application/json' }, cache: 'no-store' });
  } catch (err) {
    throw new NotificationsError('serverUnreachable', err.message);
  }
  if (response.status === 404) throw new NotificationsError('noServer');
  if (!response.ok) throw new NotificationsError('failed', `${url.pathname}: HTTP ${response.status}`);
  const body = await response.json().catch(() => null);
  const key = decodeBase64URL(body?.publicKey);
  if (!key || key.length !== 65 || key[0] !== 4) throw new NotificationsError('badKey');
  return key;
}

/** Decodes base64url (padding optional); null when it is not. */
function decodeBase64URL(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]+={0,2}$/.test(text)) return null;
  try {
    const binary = atob(text.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/'));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

function sameBytes(a, b) {
  if (!a || !b) return false;
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** Settles like promise, or rejects with timeoutError() after ms. */
function withTimeout(promise, ms, timeoutError) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(timeoutError()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

if (!customElements.get('sparkweb-notifications')) customElements.define('sparkweb-notifications', SparkWebNotifications);
