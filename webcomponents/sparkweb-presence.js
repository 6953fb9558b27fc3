// <sparkweb-presence>: the user's own status picker: availability (show) and a status message,
// sent with presence.set. It shows the account's current presence, also when another tab or
// another client of the account changed it.
//
// Keyboard: the select applies a new availability at once; in the message field Enter applies
// the text and Escape puts the current one back. Everything is disabled while not online.
// Events: `sparkweb-presence-change` (bubbles, composed; detail {show, status}) once the engine
// accepted a change made in this element.
// Properties: `strings` (this element's texts by key); `show` and `status` (read-only, current).
// Parts: form, dot, label, show, message, error.
// Strings: presence.label, presence.messageLabel, presence.messagePlaceholder,
// presence.show.available, presence.show.chat, presence.show.away, presence.show.xa,
// presence.show.dnd, presence.failed.
import { themeCSS } from './sparkweb.js';
import { defineStrings } from './i18n.js';
import { SparkWebElement } from './element.js';

defineStrings({
  'presence.label': 'Status',
  'presence.messageLabel': 'Status message',
  'presence.messagePlaceholder': 'Status message',
  'presence.show.available': 'Available',
  'presence.show.chat': 'Free to chat',
  'presence.show.away': 'Away',
  'presence.show.xa': 'Extended away',
  'presence.show.dnd': 'Do not disturb',
  'presence.failed': 'Status not changed: {message}',
});

const SHOWS = ['available', 'chat', 'away', 'xa', 'dnd'];

const template = document.createElement('template');
template.innerHTML = `
<style>
${themeCSS}
:host { display: inline-block; }
form { display: flex; flex-wrap: wrap; align-items: center; gap: .4rem; }
select, input {
  padding: .35rem .5rem; border: 1px solid var(--_border); border-radius: var(--_radius); background: var(--_bg);
}
input { min-width: 8rem; max-width: 24rem; flex: 1 1 10rem; }
:disabled { opacity: .6; cursor: not-allowed; }
.error { margin: .3rem 0 0; color: var(--_error); font-size: .85rem; }
.error:empty { display: none; }
</style>
<form part="form" novalidate>
  <span class="dot" part="dot" aria-hidden="true"></span>
  <label part="label" class="visually-hidden" for="show"></label>
  <select part="show" id="show"></select>
  <label part="label" class="visually-hidden" for="message"></label>
  <input part="message" id="message" type="text" maxlength="500" autocomplete="off" enterkeyhint="done">
</form>
<p class="error" part="error" role="alert"></p>
`;

/** Own status picker of the shared SparkWeb session. */
export class SparkWebPresence extends SparkWebElement {
  #els;
  /** The presence as last known: from our own presence events, or from a change made here. */
  #current = { show: 'available', status: '' };
  #error = null;

  constructor() {
    super(template);
    this.#els = {
      form: this.$('form'),
      dot: this.$('.dot'),
      showLabel: this.$('label[for="show"]'),
      show: this.$('#show'),
      messageLabel: this.$('label[for="message"]'),
      message: this.$('#message'),
      error: this.$('.error'),
    };
    for (const show of SHOWS) {
      const option = document.createElement('option');
      option.value = show;
      this.#els.show.append(option);
    }
    this.#els.show.addEventListener('change', () => this.#apply());
    this.#els.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#apply();
    });
    // Leaving the field after editing applies it, like Enter.
    this.#els.message.addEventListener('change', () => this.#apply());
    this.#els.message.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.#els.message.value !== this.#current.status) {
        e.preventDefault();
        e.stopPropagation(); // only undo the edit, do not close whatever contains us
        this.#els.message.value = this.#current.status;
      }
    });
    this.render();
  }

  /** The current availability: available, chat, away, xa or dnd. */
  get show() {
    return this.#current.show;
  }

  /** The current status message. */
  get status() {
    return this.#current.status;
  }

  // Without a client (SparkWeb cannot start) it stays disabled: <sparkweb-login> says why.
  subscribe(client) {
    this.#take();
    const sync = () => {
      this.#take();
      this.render();
    };
    return [
      client.on('session', sync),
      client.on('snapshot', sync),
      client.on('presence', (p) => p.jid === client.state.session.jid && sync()),
    ];
  }

  /** Takes the current presence from the state mirror: our own full JID's presence. */
  #take() {
    const s = this.client?.state;
    const own = s?.presence.find((p) => p.jid === s.session.jid);
    if (own && own.show !== 'unavailable') {
      this.#current = { show: SHOWS.includes(own.show) ? own.show : 'available', status: own.status ?? '' };
    } else if (s?.session.state === 'offline') {
      this.#current = { show: 'available', status: '' };
    }
  }

  /** Sends the picked availability and message, unless they are what is already set. */
  async #apply() {
    const show = this.#els.show.value;
    const status = this.#els.message.value.trim();
    if (!this.client || (show === this.#current.show && status === this.#current.status)) return;
    const previous = this.#current;
    this.#current = { show, status };
    this.#error = null;
    this.render();
    try {
      await this.client.request('presence.set', { show, status });
      this.dispatchEvent(new CustomEvent('sparkweb-presence-change', { bubbles: true, composed: true, detail: { show, status } }));
    } catch (err) {
      this.#current = previous;
      this.#error = err;
      this.render();
    }
  }

  render() {
    const els = this.#els;
    const online = this.client?.state.session.state === 'online';
    els.showLabel.textContent = this.text('presence.label');
    els.messageLabel.textContent = this.text('presence.messageLabel');
    els.message.placeholder = this.text('presence.messagePlaceholder');
    for (const option of els.show.options) option.textContent = this.text(`presence.show.${option.value}`);
    els.show.disabled = els.message.disabled = !online;
    els.show.value = this.#current.show;
    els.dot.dataset.show = online ? this.#current.show : 'unavailable';
    // Someone typing keeps their text; an update from elsewhere shows once they leave the field.
    if (!online || this.shadowRoot.activeElement !== els.message) els.message.value = this.#current.status;
    const error = this.#error ? this.text('presence.failed', { message: this.#error.message || this.#error.code }) : '';
    if (els.error.textContent !== error) els.error.textContent = error;
  }
}

if (!customElements.get('sparkweb-presence')) customElements.define('sparkweb-presence', SparkWebPresence);
