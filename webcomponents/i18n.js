// Translatable strings and locale-aware formatting for the SparkWeb elements.
//
// Every visible string an element shows has a key ("roster.empty") and an English default the
// element registers with defineStrings. A page replaces any of them for every element with
// setStrings({ 'roster.empty': 'Keine Kontakte' }), or for one element through its `strings`
// property; elements listen for the `sparkweb-strings` event on document and re-render.
// Placeholders are written {name} and filled from the vars object.

const defaults = new Map();
const overrides = new Map();

/**
 * Registers an element's English defaults. Called once per element module.
 * @param {Record<string, string>} strings
 */
export function defineStrings(strings) {
  for (const [key, text] of Object.entries(strings)) defaults.set(key, text);
}

/**
 * Replaces strings for every element on the page and asks them to re-render.
 * @param {Record<string, string>} strings key → text; a null or undefined text restores the default
 */
export function setStrings(strings) {
  for (const [key, text] of Object.entries(strings)) {
    if (text == null) overrides.delete(key);
    else overrides.set(key, String(text));
  }
  document.dispatchEvent(new CustomEvent('sparkweb-strings'));
}

/**
 * The text for key with its {placeholders} filled in. local (an element's own `strings`) wins over
 * page-wide overrides, which win over the defaults; an unknown key returns the key itself, so a
 * missing translation is visible rather than blank.
 * @param {string} key
 * @param {Record<string, string|number>} [vars]
 * @param {Record<string, string>} [local]
 */
export function t(key, vars, local) {
  const text = local?.[key] ?? overrides.get(key) ?? defaults.get(key) ?? key;
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

/** The page's language: `<html lang>`, else the browser's. */
export function locale() {
  return document.documentElement.lang || navigator.language || 'en';
}

/**
 * Formats an RFC 3339 time with Intl in the page's language.
 * @param {string} iso
 * @param {Intl.DateTimeFormatOptions} [options] default: hour and minute
 */
export function formatTime(iso, options = { hour: '2-digit', minute: '2-digit' }) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return new Intl.DateTimeFormat(locale(), options).format(d);
}
