// Message bodies for the elements that show messages (<sparkweb-chat>, <sparkweb-room>).
//
// A body is built from text with DOM APIs only, never parsed as markup: the engine's XEP-0393
// styling spans (Message.styled) become <strong>, <em>, <s>, <code>, <pre> and <blockquote>,
// http, https and xmpp addresses outside code become links, and an out-of-band URL (XEP-0066,
// http or https only) a link, or an <img> when it names an image file.

/** URL schemes that become links; anything else (javascript:, data:, ...) stays text. */
export const LINK_SCHEMES = Object.freeze(['http:', 'https:', 'xmpp:']);
/** URL schemes of out-of-band files: shown as a link, or fetched as an image. */
export const OOB_SCHEMES = Object.freeze(['http:', 'https:']);
/** rel of every link out of a message: no window.opener, no Referer, no endorsement. */
export const LINK_REL = 'noopener noreferrer nofollow';

/** Styles of what renderBody builds, for the element's shadow root; the body has class "body". */
export const bodyCSS = `
.body blockquote { margin: 0 0 .2rem; padding-inline-start: .6rem; border-inline-start: 3px solid currentColor; opacity: .9; }
.body pre { margin: .2rem 0; padding: .3rem .45rem; border-radius: 4px; background: rgb(0 0 0 / .12); overflow-x: auto; white-space: pre; }
.body code { font-family: ui-monospace, monospace; font-size: .92em; background: rgb(0 0 0 / .12); border-radius: 3px; padding: 0 .2em; }
.body pre code { background: none; padding: 0; }
.body .directive { display: none; }
.body img { display: block; max-width: 100%; max-height: 16rem; margin-top: .3rem; border-radius: 4px; }
`;

const URL_PATTERN = /\b(?:https?:\/\/|xmpp:)[^\s<>"'`]+/gi;
const IMAGE_PATH = /\.(png|jpe?g|gif|webp|avif)$/i;
/** Inline styles, innermost first, and their elements. */
const INLINE = [
  ['code', 'code'],
  ['strike', 's'],
  ['emphasis', 'em'],
  ['strong', 'strong'],
];

/**
 * The content of a message body: its styled spans (or its plain text), links, and its OOB file.
 * @param {{body?: string, styled?: {text: string, kinds?: string[], quote?: number}[],
 *   oob?: {url: string, desc?: string}}} message
 * @param {{imageAlt?: string}} [options] imageAlt: the alt text of an OOB image without a description
 * @returns {DocumentFragment}
 */
export function renderBody(message, { imageAlt = '' } = {}) {
  const container = document.createDocumentFragment();
  const body = message.body ?? '';
  // Spans that no longer spell the body (a correction merged over an older version) are stale.
  const styled = Array.isArray(message.styled) && message.styled.map((s) => s.text).join('') === body;
  const spans = styled ? message.styled : [{ text: body }];
  // Consecutive spans of the same block (quote depth, preformatted or not) go in one block.
  let block = null;
  let blockKey = '';
  for (const s of spans) {
    const kinds = new Set(s.kinds ?? []);
    const pre = kinds.has('pre');
    const depth = Math.min(Number(s.quote) || 0, 8);
    const key = `${depth}|${pre}`;
    if (!block || key !== blockKey) {
      block = openBlock(container, depth, pre);
      blockKey = key;
    }
    if (kinds.has('directive')) {
      const directive = document.createElement('span');
      directive.className = 'directive';
      directive.textContent = s.text;
      block.append(directive);
      continue;
    }
    let node = pre || kinds.has('code') ? document.createTextNode(s.text) : linkify(s.text);
    if (!pre) {
      for (const [kind, tag] of INLINE) {
        if (!kinds.has(kind)) continue;
        const wrap = document.createElement(tag);
        wrap.append(node);
        node = wrap;
      }
    }
    block.append(node);
  }
  appendOOB(container, message, imageAlt);
  return container;
}

/** A block for a run of spans: the container itself, a <pre>, or <blockquote>s nested depth deep. */
function openBlock(container, depth, pre) {
  let parent = container;
  for (let i = 0; i < depth; i++) {
    const q = document.createElement('blockquote');
    parent.append(q);
    parent = q;
  }
  if (pre) {
    const p = document.createElement('pre');
    parent.append(p);
    parent = p;
  }
  return parent;
}

/** The OOB file: an image, or a link on its own line unless the body is its URL already. */
function appendOOB(container, message, imageAlt) {
  const oob = safeURL(message.oob?.url, OOB_SCHEMES);
  if (!oob) return;
  const desc = message.oob.desc || '';
  const a = link(oob, desc);
  if (IMAGE_PATH.test(oob.pathname)) {
    const img = document.createElement('img');
    img.src = oob.href;
    img.alt = desc || imageAlt;
    img.loading = 'lazy';
    img.referrerPolicy = 'no-referrer';
    img.setAttribute('part', 'image');
    a.replaceChildren(img);
    container.append(a);
  } else if (message.body?.trim() !== message.oob.url) {
    a.textContent = desc || oob.href;
    container.append(document.createElement('br'), a);
  }
}

/** Text with its http(s) and xmpp addresses as links. */
function linkify(text) {
  const frag = document.createDocumentFragment();
  let at = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    // Punctuation that ends a sentence is not part of the address.
    const raw = match[0].replace(/[.,;:!?)\]}]+$/, '');
    const url = safeURL(raw, LINK_SCHEMES);
    if (!url) continue;
    frag.append(text.slice(at, match.index), link(url, raw));
    at = match.index + raw.length;
  }
  frag.append(text.slice(at));
  return frag;
}

/** A link out of a message, opening in a new browsing context. */
function link(url, text) {
  const a = document.createElement('a');
  a.href = url.href;
  a.textContent = text;
  a.rel = LINK_REL;
  a.target = '_blank';
  a.setAttribute('part', 'link');
  return a;
}

/**
 * The URL if raw parses and has one of the schemes, else null.
 * @param {unknown} raw
 * @param {readonly string[]} schemes e.g. ["https:"]
 * @returns {URL|null}
 */
export function safeURL(raw, schemes) {
  if (typeof raw !== 'string' || raw === '') return null;
  try {
    const url = new URL(raw);
    return schemes.includes(url.protocol) ? url : null;
  } catch {
    return null;
  }
}
