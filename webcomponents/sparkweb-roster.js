// <sparkweb-roster>: the contact list, grouped, with each contact's presence.
//
// Each contact is a button; arrow keys, Home and End move between them, Enter, Space or a click
// selects one and dispatches `sparkweb-select` (bubbles, composed, detail {jid}).
// Attributes: `selected` (bare JID) highlights that contact; selecting sets it.
// Parts: list, group, group-name, contact, contact-selected, presence, name, show, empty.
import { connect, bestPresence, showLabels, themeCSS } from './sparkweb.js';

const style = `
${themeCSS}
:host { display: block; }
nav { display: flex; flex-direction: column; gap: .75rem; }
h3 {
  margin: 0 0 .25rem; font-size: .75rem; font-weight: 600; letter-spacing: .04em;
  text-transform: uppercase; color: var(--_muted);
}
ul { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 2px; }
button {
  display: flex; align-items: center; gap: .5rem; width: 100%; text-align: start;
  padding: .45rem .6rem; border: 0; border-radius: var(--_radius); background: transparent; cursor: pointer;
}
button:hover { background: var(--_hover); }
button:focus-visible { outline-offset: -2px; }
button[aria-current="true"] { background: var(--_accent); color: var(--_accent-fg); }
button[aria-current="true"] .show { color: inherit; opacity: .85; }
.name { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.show { font-size: .8rem; color: var(--_muted); white-space: nowrap; }
.empty { color: var(--_muted); margin: 0; }
`;

/** Contact list of the shared SparkWeb session. */
export class SparkWebRoster extends HTMLElement {
  static observedAttributes = ['selected'];

  #client = null;
  #off = [];
  #nav;
  #empty;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    const styleEl = document.createElement('style');
    styleEl.textContent = style;
    this.#nav = document.createElement('nav');
    this.#nav.setAttribute('aria-label', 'Contacts');
    this.#nav.setAttribute('part', 'list');
    this.#empty = document.createElement('p');
    this.#empty.className = 'empty';
    this.#empty.setAttribute('part', 'empty');
    root.append(styleEl, this.#nav, this.#empty);
    this.#nav.addEventListener('click', (e) => {
      const button = e.target.closest('button[data-jid]');
      if (button) this.#select(button.dataset.jid);
    });
    this.#nav.addEventListener('keydown', (e) => this.#onKey(e));
  }

  /** The selected contact's bare JID, or "". */
  get selected() {
    return this.getAttribute('selected') ?? '';
  }

  set selected(jid) {
    if (jid) this.setAttribute('selected', jid);
    else this.removeAttribute('selected');
  }

  attributeChangedCallback() {
    this.#render();
  }

  async connectedCallback() {
    this.#render();
    let client;
    try {
      client = await connect();
    } catch (err) {
      this.#empty.textContent = `Contacts unavailable: ${err.message}`;
      return;
    }
    if (!this.isConnected) return;
    this.#client = client;
    const render = () => this.#render();
    this.#off = ['session', 'roster', 'presence', 'snapshot'].map((ev) => client.on(ev, render));
    this.#render();
  }

  disconnectedCallback() {
    for (const off of this.#off) off();
    this.#off = [];
    this.#client = null;
  }

  #select(jid) {
    this.selected = jid;
    this.dispatchEvent(new CustomEvent('sparkweb-select', { bubbles: true, composed: true, detail: { jid } }));
  }

  #buttons() {
    return [...this.#nav.querySelectorAll('button[data-jid]')];
  }

  #onKey(e) {
    const buttons = this.#buttons();
    const i = buttons.indexOf(e.target);
    if (i < 0) return;
    const target = {
      ArrowDown: buttons[Math.min(i + 1, buttons.length - 1)],
      ArrowUp: buttons[Math.max(i - 1, 0)],
      Home: buttons[0],
      End: buttons[buttons.length - 1],
    }[e.key];
    if (!target) return;
    e.preventDefault();
    this.#focus(target);
  }

  /** Roving tabindex: exactly one contact is in the tab order, the one last focused. */
  #focus(button) {
    for (const b of this.#buttons()) b.tabIndex = b === button ? 0 : -1;
    button.focus();
  }

  #render() {
    const state = this.#client?.state;
    const online = state?.session.state === 'online';
    const roster = state?.roster ?? [];
    // Re-rendering replaces the buttons: remember which contact had focus to give it back.
    const focused = this.shadowRoot.activeElement;
    const focusKey = focused?.dataset?.key;
    this.#nav.replaceChildren();
    this.#empty.textContent = !this.#client
      ? 'Loading contacts…'
      : roster.length === 0
        ? online
          ? 'No contacts yet.'
          : 'Sign in to see your contacts.'
        : '';
    this.#empty.hidden = this.#empty.textContent === '';

    const groups = new Map();
    for (const item of roster) {
      for (const g of item.groups?.length ? item.groups : ['Contacts']) {
        if (!groups.has(g)) groups.set(g, []);
        groups.get(g).push(item);
      }
    }
    const byName = (a, b) => a.localeCompare(b, undefined, { sensitivity: 'base' });
    const label = (item) => item.name || item.jid;
    let n = 0;
    for (const g of [...groups.keys()].sort(byName)) {
      const section = document.createElement('section');
      section.setAttribute('part', 'group');
      const h = document.createElement('h3');
      h.id = `group-${n++}`;
      h.setAttribute('part', 'group-name');
      h.textContent = g;
      const ul = document.createElement('ul');
      ul.setAttribute('aria-labelledby', h.id);
      for (const item of groups.get(g).sort((a, b) => byName(label(a), label(b)))) {
        const presence = online ? bestPresence(state.presence, item.jid) : null;
        const show = presence?.show ?? 'unavailable';
        const li = document.createElement('li');
        const button = document.createElement('button');
        button.type = 'button';
        button.dataset.jid = item.jid;
        button.dataset.key = `${g}\n${item.jid}`;
        const selected = item.jid === this.selected;
        button.setAttribute('part', selected ? 'contact contact-selected' : 'contact');
        button.setAttribute('aria-current', String(selected));
        if (presence?.status) button.title = presence.status;
        const dot = document.createElement('span');
        dot.className = 'dot';
        dot.dataset.show = show;
        dot.setAttribute('part', 'presence');
        dot.setAttribute('aria-hidden', 'true');
        const name = document.createElement('span');
        name.className = 'name';
        name.setAttribute('part', 'name');
        name.textContent = label(item);
        const showText = document.createElement('span');
        showText.className = 'show';
        showText.setAttribute('part', 'show');
        showText.textContent = showLabels[show] ?? show;
        if (item.ask) showText.textContent += ' (request pending)';
        button.append(dot, name, showText);
        button.tabIndex = -1;
        li.append(button);
        ul.append(li);
      }
      section.append(h, ul);
      this.#nav.append(section);
    }
    const buttons = this.#buttons();
    const keep =
      buttons.find((b) => b.dataset.key === focusKey) ??
      buttons.find((b) => b.dataset.jid === this.selected) ??
      buttons[0];
    if (keep) {
      keep.tabIndex = 0;
      if (focusKey) keep.focus();
    }
  }
}

if (!customElements.get('sparkweb-roster')) customElements.define('sparkweb-roster', SparkWebRoster);
