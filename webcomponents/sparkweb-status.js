// <sparkweb-status>: the connection banner. It says when the session is connecting, has lost its
// connection (with a "Retry now" button that sends session.reconnect), was refused at sign-in
// again (auth-failed), or the browser has no network, and how many messages wait to be sent.
// While online with nothing waiting it shows nothing (the host gets no `active` attribute).
//
// A message waits while its state is "pending". Online, a message is pending for a round trip
// only, so the count appears only when messages stay pending longer than `delay` ms; in any other
// state it appears at once.
//
// Attributes: `delay` (ms, default 2000). Reflected, read-only: `state` (the session state, or
// "no-network"), `active` (present while the banner shows something).
// Properties: `strings` (this element's texts by key), `delay`, `pending` (read-only count);
// method retry().
// Parts: banner, message, pending, retry.
// Live regions: progress is role=status, a refused sign-in role=alert.
// Strings: status.connecting, status.reconnecting, status.retrying, status.noNetwork,
// status.authFailed, status.pending.one, status.pending.other, status.retry.
import { themeCSS } from './sparkweb.js';
import { defineStrings, locale } from './i18n.js';
import { SparkWebElement } from './element.js';

defineStrings({
  'status.connecting': 'Connecting…',
  'status.reconnecting': 'Connection lost. Reconnecting…',
  'status.retrying': 'Trying to reconnect…',
  'status.noNetwork': 'No network connection.',
  'status.authFailed': 'The server no longer accepts the saved sign-in. Sign in again.',
  'status.pending.one': '{count} message waiting to be sent.',
  'status.pending.other': '{count} messages waiting to be sent.',
  'status.retry': 'Retry now',
});

const DEFAULT_DELAY_MS = 2000;

const template = document.createElement('template');
template.innerHTML = `
<style>
${themeCSS}
:host { display: block; }
.banner {
  display: flex; flex-wrap: wrap; align-items: center; gap: .4rem .75rem;
  padding: .5rem .8rem; border: 1px solid var(--_border); border-inline-start: 4px solid var(--_away);
  border-radius: var(--_radius); background: var(--_bg);
}
.banner[data-state="auth-failed"] { border-inline-start-color: var(--_error); }
.banner.idle { display: none; }
p { margin: 0; }
.message:empty, .pending:empty { display: none; }
.pending { color: var(--_muted); }
button {
  margin-inline-start: auto; padding: .3rem .8rem; border-radius: var(--_radius);
  border: 1px solid var(--_accent); background: transparent; color: var(--_accent); cursor: pointer;
}
button[aria-disabled="true"] { opacity: .6; cursor: progress; }
</style>
<div class="banner idle" part="banner">
  <p class="message" part="message" role="status"></p>
  <p class="alert message" part="message" role="alert"></p>
  <p class="pending" part="pending" role="status"></p>
  <button part="retry" type="button" hidden></button>
</div>
`;

/** Connection banner of the shared SparkWeb session. */
export class SparkWebStatus extends SparkWebElement {
  static observedAttributes = ['delay'];

  #els;
  /** Local-only state: a retry was asked and no session event answered yet. */
  #retrying = false;
  /** Keys (conversation + id) of outgoing messages in state "pending". */
  #pending = new Set();
  /** While online, pending messages are shown only after this timer fires. */
  #timer = 0;
  #pendingDue = false;
  #onNetwork = () => this.render();

  constructor() {
    super(template);
    const $ = (sel) => this.$(sel);
    this.#els = { banner: $('.banner'), status: $('.message'), alert: $('.alert'), pending: $('.pending'), retry: $('button') };
    this.#els.retry.addEventListener('click', () => this.retry());
  }

  /** How long messages may stay pending while online before the count shows, in ms. */
  get delay() {
    const ms = Number(this.getAttribute('delay'));
    return this.hasAttribute('delay') && Number.isFinite(ms) && ms >= 0 ? ms : DEFAULT_DELAY_MS;
  }

  set delay(ms) {
    this.setAttribute('delay', String(ms));
  }

  /** How many outgoing messages the engine has not handed to the server yet. */
  get pending() {
    return this.#pending.size;
  }

  attributeChangedCallback() {
    this.render();
  }

  connectedCallback() {
    window.addEventListener('online', this.#onNetwork);
    window.addEventListener('offline', this.#onNetwork);
    super.connectedCallback();
  }

  // Without a client there is nothing to report on: <sparkweb-login> says why SparkWeb cannot start.
  subscribe(client) {
    this.#recount();
    return [
      client.on('session', () => {
        this.#retrying = false;
        this.render();
      }),
      client.on('message', (m) => {
        if (this.#track(m)) this.render();
      }),
      client.on('snapshot', () => {
        this.#recount();
        this.render();
      }),
    ];
  }

  disconnectedCallback() {
    super.disconnectedCallback();
    window.removeEventListener('online', this.#onNetwork);
    window.removeEventListener('offline', this.#onNetwork);
    clearTimeout(this.#timer);
    this.#timer = 0;
  }

  /** Asks the engine to reconnect now instead of waiting for its next attempt. */
  async retry() {
    if (!this.client || this.#retrying) return;
    this.#retrying = true;
    this.render();
    try {
      await this.client.request('session.reconnect');
    } catch {
      this.#retrying = false;
      this.render();
    }
  }

  /** Counts pending messages from the whole state (attach, a new engine). */
  #recount() {
    this.#pending.clear();
    for (const list of Object.values(this.client?.state.conversations ?? {})) {
      for (const m of list) this.#track(m);
    }
  }

  /** Updates the pending set for one message; reports whether the count changed. */
  #track(m) {
    if (!m?.outgoing) return false;
    const key = `${m.with}\n${m.id}`;
    const before = this.#pending.size;
    if (m.state === 'pending') this.#pending.add(key);
    else this.#pending.delete(key);
    return this.#pending.size !== before;
  }

  render() {
    const els = this.#els;
    const session = this.client?.state.session ?? { state: 'offline', jid: '' };
    const noNetwork = navigator.onLine === false && session.state !== 'online';
    const state = noNetwork ? 'no-network' : session.state;

    let status = '';
    let alert = '';
    let retry = false;
    switch (state) {
      case 'no-network':
        status = this.text('status.noNetwork');
        break;
      case 'connecting':
        status = this.text('status.connecting');
        break;
      case 'reconnecting':
        status = this.text(this.#retrying ? 'status.retrying' : 'status.reconnecting');
        retry = true;
        break;
      case 'auth-failed':
        alert = this.text('status.authFailed');
        break;
    }

    // Online, a pending message is normal for a moment: show the count once it lasts.
    const count = this.#pending.size;
    if (count === 0 || state !== 'online') {
      clearTimeout(this.#timer);
      this.#timer = 0;
      this.#pendingDue = count > 0;
    } else if (!this.#pendingDue && !this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = 0;
        this.#pendingDue = true;
        this.render();
      }, this.delay);
    }
    const rule = new Intl.PluralRules(locale()).select(count) === 'one' ? 'one' : 'other';
    const pending = count > 0 && this.#pendingDue ? this.text(`status.pending.${rule}`, { count: count.toLocaleString(locale()) }) : '';

    setText(els.status, status);
    setText(els.alert, alert);
    setText(els.pending, pending);
    els.retry.hidden = !retry;
    setText(els.retry, this.text('status.retry'));
    els.retry.setAttribute('aria-disabled', String(this.#retrying));
    const active = !!(status || alert || pending);
    els.banner.classList.toggle('idle', !active);
    els.banner.dataset.state = state;
    this.toggleAttribute('active', active);
    if (this.getAttribute('state') !== state) this.setAttribute('state', state);
  }
}

/** Sets textContent only when it changes, so live regions do not announce the same text again. */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

if (!customElements.get('sparkweb-status')) customElements.define('sparkweb-status', SparkWebStatus);
