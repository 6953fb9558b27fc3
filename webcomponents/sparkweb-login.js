// <sparkweb-login>: sign-in form, then the signed-in account with a status select and "Sign out".
//
// Attributes: `domain` (optional) is appended to an address typed without "@".
// Parts: form, field, label, input, button, error, account, jid, status, progress.
// It reflects the session of every tab: signing in or out in one tab updates all of them.
import { connect, bareJID, themeCSS } from './sparkweb.js';

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
    <label part="label" for="jid">Address</label>
    <input part="input" id="jid" name="jid" type="text" autocomplete="username" inputmode="email"
      autocapitalize="none" spellcheck="false" placeholder="you@example.org" required>
  </div>
  <div class="field" part="field">
    <label part="label" for="password">Password</label>
    <input part="input" id="password" name="password" type="password" autocomplete="current-password" required>
  </div>
  <button part="button" type="submit">Sign in</button>
</form>
<div class="account" part="account" hidden>
  <p>Signed in as <span class="jid" part="jid"></span></p>
  <span class="status">
    <label part="label" for="show">Status</label>
    <select part="status" id="show">
      <option value="available">Available</option>
      <option value="away">Away</option>
      <option value="dnd">Do not disturb</option>
      <option value="xa">Extended away</option>
    </select>
  </span>
  <button part="button" class="secondary logout" type="button">Sign out</button>
</div>
<p class="progress" part="progress" role="status"></p>
<p class="error" part="error" role="alert"></p>
`;

/** The message shown for an error value, by its stable code. */
export function loginErrorText(err) {
  switch (err?.code) {
    case 'not-authorized':
      return 'Wrong username or password.';
    case 'server-unreachable':
      return 'Server unreachable.';
    case 'conflict':
      return 'Already signed in or signing in.';
    default:
      return err?.message || err?.code || 'Sign-in failed.';
  }
}

/** Sign-in form and account controls for the shared SparkWeb session. */
export class SparkWebLogin extends HTMLElement {
  #client = null;
  #off = [];
  #busy = false;
  #els;

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
      who: $('.jid'),
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

  async connectedCallback() {
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
      this.#showError({ message: 'Enter your address as name@server.' });
      els.jid.focus();
      return;
    }
    if (!password) {
      this.#showError({ message: 'Enter your password.' });
      els.password.focus();
      return;
    }
    if (!this.#client) {
      this.#showError({ message: 'SparkWeb is still starting; try again in a moment.' });
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
    const text = err ? loginErrorText(err) : '';
    if (this.#els.error.textContent !== text) this.#els.error.textContent = text;
  }

  #render() {
    const els = this.#els;
    const session = this.#client?.state.session ?? { state: 'offline', jid: '' };
    // While reconnecting the account stays signed in: the engine gets the session back by itself.
    const reconnecting = session.state === 'reconnecting';
    const online = session.state === 'online' || reconnecting;
    const connecting = this.#busy || session.state === 'connecting';
    const hadFocus = this.shadowRoot.activeElement;
    els.form.hidden = online;
    els.account.hidden = !online;
    els.who.textContent = online ? session.jid : '';
    els.submit.disabled = connecting || !this.#client;
    els.submit.textContent = connecting ? 'Signing in…' : 'Sign in';
    els.jid.disabled = els.password.disabled = connecting;
    els.progress.textContent = reconnecting ? 'Reconnecting…' : connecting ? 'Signing in…' : !this.#client ? 'Starting…' : '';
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

if (!customElements.get('sparkweb-login')) customElements.define('sparkweb-login', SparkWebLogin);
