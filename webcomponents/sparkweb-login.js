// <sparkweb-login>: sign-in form, then the signed-in account with a status select and "Sign out".
//
// Attributes: `domain` (optional) is appended to an address typed without "@"; `no-status` hides
// the status select (for pages that have a <sparkweb-presence>).
// Properties: `strings` (this element's texts by key).
// Parts: form, field, label, input, button, error, account, jid, status, progress.
// Strings: login.address, login.addressPlaceholder, login.password, login.submit, login.signingIn,
// login.signedInAs, login.status, login.show.available, login.show.away, login.show.dnd,
// login.show.xa, login.signOut, login.reconnecting, login.starting, login.error.notAuthorized,
// login.error.unreachable, login.error.conflict, login.error.failed, login.error.badAddress,
// login.error.noPassword, login.error.notReady.
// It reflects the session of every tab: signing in or out in one tab updates all of them.
import { connect, bareJID, themeCSS } from './sparkweb.js';
import { defineStrings, t } from './i18n.js';

defineStrings({
  'login.address': 'Address',
  'login.addressPlaceholder': 'you@example.org',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.signingIn': 'Signing in…',
  'login.signedInAs': 'Signed in as {jid}',
  'login.status': 'Status',
  'login.show.available': 'Available',
  'login.show.away': 'Away',
  'login.show.dnd': 'Do not disturb',
  'login.show.xa': 'Extended away',
  'login.signOut': 'Sign out',
  'login.reconnecting': 'Reconnecting…',
  'login.starting': 'Starting…',
  'login.error.notAuthorized': 'Wrong username or password.',
  'login.error.unreachable': 'Server unreachable.',
  'login.error.conflict': 'Already signed in or signing in.',
  'login.error.failed': 'Sign-in failed.',
  'login.error.badAddress': 'Enter your address as name@server.',
  'login.error.noPassword': 'Enter your password.',
  'login.error.notReady': 'SparkWeb is still starting; try again in a moment.',
});

const template = document.createElement('template');
template.innerHTML = `
<style>
${themeCSS}
:host { display: block; }
form, .account { display: flex; flex-wrap: wrap; gap: .5rem .75rem; align-items: end; }
.field { display: flex; flex-direction: column; gap: .2rem; min-width: 12rem; flex: 1 1 12rem; }
label { font-size: .85rem; color: var(--_muted); }
input, select {
  padding: .45rem .6rem; border: 1px solid var(--_border); border-radius: var(--_radius);
  background: var(--_bg);
}
button {
  padding: .45rem 1rem; border-radius: var(--_radius); border: 1px solid var(--_accent);
  background: var(--_accent); color: var(--_accent-fg); cursor: pointer;
}
button.secondary { background: transparent; color: var(--_accent); }
button:disabled { opacity: .6; cursor: progress; }
.account { align-items: center; }
.account .status { display: flex; align-items: center; gap: .4rem; }
.account p { margin: 0; }
.jid { font-weight: 600; overflow-wrap: anywhere; }
.error { color: var(--_error); margin: .4rem 0 0; min-height: 1lh; }
.error:empty { min-height: 0; margin: 0; }
.progress { color: var(--_muted); margin: .4rem 0 0; }
.progress:empty { margin: 0; }
</style>
<form part="form" novalidate>
  <div class="field" part="field">
    <label part="label" for="jid"></label>
    <input part="input" id="jid" name="jid" type="text" autocomplete="username" inputmode="email"
      autocapitalize="none" spellcheck="false" required>
  </div>
  <div class="field" part="field">
    <label part="label" for="password"></label>
    <input part="input" id="password" name="password" type="password" autocomplete="current-password" required>
  </div>
  <button part="button" type="submit"></button>
</form>
<div class="account" part="account" hidden>
  <p class="who"></p>
  <span class="status">
    <label part="label" for="show"></label>
    <select part="status" id="show">
      <option value="available"></option>
      <option value="away"></option>
      <option value="dnd"></option>
      <option value="xa"></option>
    </select>
  </span>
  <button part="button" class="secondary logout" type="button"></button>
</div>
<p class="progress" part="progress" role="status"></p>
<p class="error" part="error" role="alert"></p>
`;

/**
 * The message shown for an error value, by its stable code; `key` errors are the element's own.
 * @param {{code?: string, message?: string, key?: string}|null} err
 * @param {Record<string, string>|null} [strings] an element's own texts
 */
export function loginErrorText(err, strings) {
  if (err?.key) return t(err.key, null, strings);
  switch (err?.code) {
    case 'not-authorized':
      return t('login.error.notAuthorized', null, strings);
    case 'server-unreachable':
      return t('login.error.unreachable', null, strings);
    case 'conflict':
      return t('login.error.conflict', null, strings);
    default:
      return err?.message || err?.code || t('login.error.failed', null, strings);
  }
}

/** Sign-in form and account controls for the shared SparkWeb session. */
export class SparkWebLogin extends HTMLElement {
  static observedAttributes = ['no-status'];

  #client = null;
  #off = [];
  #busy = false;
  #els;
  #strings = null;
  /** The error shown, kept so that new strings can render it again. */
  #error = null;
  #onStrings = () => this.#render();

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.append(template.content.cloneNode(true));
    const $ = (sel) => root.querySelector(sel);
    this.#els = {
      form: $('form'),
      jid: $('#jid'),
      password: $('#password'),
      submit: $('form button'),
      account: $('.account'),
      who: $('.who'),
      statusBox: $('.status'),
      show: $('#show'),
      logout: $('.logout'),
      progress: $('.progress'),
      error: $('.error'),
    };
    this.#els.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#login();
    });
    this.#els.logout.addEventListener('click', () => this.#logout());
    this.#els.show.addEventListener('change', () => this.#setShow());
  }

  /** This element's own texts, by i18n key ("login.submit"), over the page's (setStrings). */
  get strings() {
    return this.#strings;
  }

  set strings(value) {
    this.#strings = value ? { ...value } : null;
    this.#render();
  }

  attributeChangedCallback() {
    this.#render();
  }

  async connectedCallback() {
    document.addEventListener('sparkweb-strings', this.#onStrings);
    this.#render();
    let client;
    try {
      client = await connect();
    } catch (err) {
      this.#showError(err);
      return;
    }
    if (!this.isConnected) return;
    this.#client = client;
    this.#off = [
      client.on('session', (s) => {
        if (s.error) this.#showError(s.error);
        else if (s.state === 'online' || s.state === 'connecting') this.#showError(null);
        this.#render();
      }),
      client.on('snapshot', () => this.#render()),
      client.on('presence', (p) => {
        // Our own status changed, maybe from another tab: keep the select truthful.
        if (p.jid === client.state.session.jid && p.show !== 'unavailable') this.#els.show.value = p.show;
      }),
    ];
    this.#render();
  }

  disconnectedCallback() {
    document.removeEventListener('sparkweb-strings', this.#onStrings);
    for (const off of this.#off) off();
    this.#off = [];
    this.#client = null;
  }

  async #login() {
    const els = this.#els;
    let jid = els.jid.value.trim();
    const password = els.password.value;
    const domain = this.getAttribute('domain');
    if (jid && !jid.includes('@') && domain) jid = `${jid}@${domain}`;
    if (!/^[^@/\s]+@[^@/\s]+$/.test(bareJID(jid))) {
      this.#showError({ key: 'login.error.badAddress' });
      els.jid.focus();
      return;
    }
    if (!password) {
      this.#showError({ key: 'login.error.noPassword' });
      els.password.focus();
      return;
    }
    if (!this.#client) {
      this.#showError({ key: 'login.error.notReady' });
      return;
    }
    this.#busy = true;
    this.#showError(null);
    this.#render();
    try {
      await this.#client.request('session.login', { jid, password });
      els.password.value = '';
    } catch (err) {
      this.#showError(err);
      els.password.select();
    } finally {
      this.#busy = false;
      this.#render();
    }
  }

  async #logout() {
    try {
      await this.#client?.request('session.logout');
    } catch (err) {
      this.#showError(err);
    }
  }

  async #setShow() {
    try {
      await this.#client?.request('presence.set', { show: this.#els.show.value });
    } catch (err) {
      this.#showError(err);
    }
  }

  /** Shows an error value (or clears the alert with null). Text only: messages come from the network. */
  #showError(err) {
    this.#error = err;
    const text = err ? loginErrorText(err, this.#strings) : '';
    if (this.#els.error.textContent !== text) this.#els.error.textContent = text;
  }

  /** Puts the current texts into the static parts of the template. */
  #renderStrings() {
    const els = this.#els;
    const root = this.shadowRoot;
    const s = this.#strings;
    root.querySelector('label[for="jid"]').textContent = t('login.address', null, s);
    els.jid.placeholder = t('login.addressPlaceholder', null, s);
    root.querySelector('label[for="password"]').textContent = t('login.password', null, s);
    root.querySelector('label[for="show"]').textContent = t('login.status', null, s);
    for (const option of els.show.options) option.textContent = t(`login.show.${option.value}`, null, s);
    els.logout.textContent = t('login.signOut', null, s);
  }

  #render() {
    const els = this.#els;
    const session = this.#client?.state.session ?? { state: 'offline', jid: '' };
    // While reconnecting the account stays signed in: the engine gets the session back by itself.
    const reconnecting = session.state === 'reconnecting';
    const online = session.state === 'online' || reconnecting;
    const connecting = this.#busy || session.state === 'connecting';
    const hadFocus = this.shadowRoot.activeElement;
    const s = this.#strings;
    this.#renderStrings();
    els.form.hidden = online;
    els.account.hidden = !online;
    els.statusBox.hidden = this.hasAttribute('no-status');
    renderSignedInAs(els.who, online ? session.jid : '', s);
    els.submit.disabled = connecting || !this.#client;
    els.submit.textContent = t(connecting ? 'login.signingIn' : 'login.submit', null, s);
    els.jid.disabled = els.password.disabled = connecting;
    const progress = reconnecting ? 'login.reconnecting' : connecting ? 'login.signingIn' : !this.#client ? 'login.starting' : '';
    const progressText = progress ? t(progress, null, s) : '';
    if (els.progress.textContent !== progressText) els.progress.textContent = progressText;
    if (this.#error) this.#showError(this.#error);
    if (online) {
      const own = this.#client.state.presence.find((p) => p.jid === session.jid);
      if (own) els.show.value = own.show in { available: 1, away: 1, dnd: 1, xa: 1 } ? own.show : 'available';
    }
    // Keep keyboard users somewhere sensible when the view they were in disappears.
    if (hadFocus && (hadFocus.closest('[hidden]') || hadFocus.disabled)) {
      (online ? els.logout : els.jid.disabled ? null : els.jid)?.focus();
    }
  }
}

/**
 * Fills el with the "Signed in as {jid}" text, the JID in its own <span part="jid"> (as text).
 * @param {HTMLElement} el
 * @param {string} jid
 * @param {Record<string, string>|null} strings
 */
function renderSignedInAs(el, jid, strings) {
  const text = t('login.signedInAs', null, strings);
  if (el.dataset.text === text && el.dataset.jid === jid) return;
  el.dataset.text = text;
  el.dataset.jid = jid;
  const at = text.indexOf('{jid}');
  const span = document.createElement('span');
  span.className = 'jid';
  span.setAttribute('part', 'jid');
  span.textContent = jid;
  if (at < 0) el.replaceChildren(text, ' ', span);
  else el.replaceChildren(text.slice(0, at), span, text.slice(at + '{jid}'.length));
}

if (!customElements.get('sparkweb-login')) customElements.define('sparkweb-login', SparkWebLogin);
