// The base class of the SparkWeb elements: the lifecycle they all share, written once.
//
// - A shadow root with a copy of the element's template.
// - The `strings` property (the element's own texts by i18n key, over the page's) and the page's
//   `sparkweb-strings` event (setStrings of i18n.js): both re-render.
// - The façade's client: connect() when the element is put on a page, the element's subscriptions
//   (client.on) once the client is ready, all of them dropped when the element leaves the page.
//
// A subclass passes its template to super() and overrides what it needs of render(),
// subscribe(client) and connectFailed(err); one that has its own connectedCallback or
// disconnectedCallback calls super's. These members and `client`, `$` and `text` are for
// subclasses: the elements' public API is what each element documents.
import { connect } from './sparkweb.js';
import { t } from './i18n.js';

/** A custom element bound to the page's SparkWeb client. */
export class SparkWebElement extends HTMLElement {
  #client = null;
  /** The unsubscribe functions of the current connection. */
  #off = [];
  #strings = null;
  /** Counts connections and disconnections: a connect() that settles after either is stale. */
  #generation = 0;
  #onStrings = () => this.render();

  /** @param {HTMLTemplateElement} template the element's shadow DOM */
  constructor(template) {
    super();
    this.attachShadow({ mode: 'open' }).append(template.content.cloneNode(true));
  }

  /**
   * This element's own texts, by i18n key, over the page's (setStrings); null for none.
   * @type {Record<string, string>|null}
   */
  get strings() {
    return this.#strings;
  }

  set strings(value) {
    this.#strings = value ? { ...value } : null;
    this.render();
  }

  /**
   * The façade's client while the element is on a page and the engine runs, else null.
   * @type {import('./sparkweb.js').Client|null}
   */
  get client() {
    return this.#client;
  }

  /**
   * The first element of the shadow root that matches selector.
   * @param {string} selector
   * @returns {HTMLElement|null}
   */
  $(selector) {
    return this.shadowRoot.querySelector(selector);
  }

  /**
   * The text for an i18n key as this element shows it, with {placeholders} filled from vars.
   * @param {string} key
   * @param {Record<string, string|number>} [vars]
   */
  text(key, vars) {
    return t(key, vars, this.#strings);
  }

  async connectedCallback() {
    const generation = ++this.#generation;
    document.addEventListener('sparkweb-strings', this.#onStrings);
    this.render();
    let client;
    try {
      client = await connect();
    } catch (err) {
      if (generation === this.#generation) this.connectFailed(err);
      return;
    }
    // Removed from the page meanwhile (and maybe put back: that newer connection subscribes).
    if (generation !== this.#generation) return;
    this.#client = client;
    this.#off = this.subscribe(client) ?? [];
    this.render();
  }

  disconnectedCallback() {
    this.#generation++;
    document.removeEventListener('sparkweb-strings', this.#onStrings);
    for (const off of this.#off) off();
    this.#off = [];
    this.#client = null;
  }

  /** Shows everything again: on connecting, with new strings, once the client is ready. */
  render() {}

  /**
   * Called once the client is ready (`client` is set): subscribes to its events.
   * @param {import('./sparkweb.js').Client} client
   * @returns {(() => void)[]} the functions that end the subscriptions (what client.on returns)
   */
  subscribe(client) {
    return [];
  }

  /**
   * Called when SparkWeb cannot start on this page (no worker, no engine): the element may say so.
   * @param {Error} err
   */
  connectFailed(err) {}
}
