// Keeps webcomponents/custom-elements.json (Custom Elements Manifest) true to the element files,
// without a browser: each element module's tag and class, observed attributes, dispatched
// events, ::part names and --sparkweb-* custom properties are read from its source and compared
// with the manifest, so an element that changes without its manifest entry fails here. Also checks
// that package.json points at the manifest and the TypeScript declarations, which declare every
// element, and that each element has its docs/elements page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT } from './harness.mjs';

const WC = join(ROOT, 'webcomponents');

/** Reads what an element module declares, from its source text. */
export function scan(source) {
  const define = source.match(/customElements\.define\(\s*'([a-z][\w-]*-[\w-]+)'\s*,\s*(\w+)\s*\)/);
  const observed = source.match(/static observedAttributes\s*=\s*\[([^\]]*)\]/);
  const code = source
    .split('\n')
    .filter((line) => !/^\s*(\/\/|\*|\/\*\*)/.test(line))
    .join('\n');
  const parts = new Set();
  const addTokens = (text) => {
    for (const token of text.split(/\s+/)) if (/^[a-z][a-z0-9-]*$/.test(token)) parts.add(token);
  };
  // part="a b" in templates, without interpolations.
  for (const m of code.matchAll(/\bpart="([^"$]*)"/g)) addTokens(m[1]);
  // setAttribute('part', ...): every literal of the expression, also those inside ${...}.
  for (const m of code.matchAll(/setAttribute\(\s*'part'\s*,([^;\n]*)/g)) {
    for (const lit of m[1].matchAll(/'([^']*)'|`([^`]*)`/g)) addTokens((lit[1] ?? lit[2]).replace(/\$\{[^}]*\}/g, ' '));
  }
  const header = source.match(/^\/\/ Parts:([\s\S]*?)\.\n/m);
  return {
    tag: define?.[1],
    className: define?.[2],
    observed: observed ? [...observed[1].matchAll(/'([^']+)'/g)].map((m) => m[1]) : [],
    events: [...new Set([...code.matchAll(/new (?:Custom)?Event\(\s*'([^']+)'/g)].map((m) => m[1]))].sort(),
    parts: [...parts].sort(),
    documentedParts: header ? header[1].replace(/\n\/\/\s*/g, ' ').split(',').map((s) => s.trim()).filter(Boolean).sort() : null,
    properties: [...new Set([...code.matchAll(/var\((--sparkweb-[a-z0-9-]+)/g)].map((m) => m[1]))].sort(),
    code,
  };
}

/** Whether name occurs in code as a whole string token (in quotes or a template). */
function inStrings(code, name) {
  const escaped = name.replace(/[-]/g, '\\-');
  return new RegExp(`['"\`][^'"\`\\n]*(?<![\\w-])${escaped}(?![\\w-])[^'"\`\\n]*['"\`]`).test(code);
}

/**
 * An element module's source followed by those of the shared helpers it imports (render.js,
 * element.js: relative imports other than the façade, i18n.js and other elements), whose parts
 * and events are the element's too.
 */
async function elementSource(file) {
  const source = await readFile(join(WC, file), 'utf8');
  const helpers = [...source.matchAll(/^import [^;]*?from '\.\/([\w-]+\.js)';/gm)]
    .map((m) => m[1])
    .filter((name) => !/^(sparkweb|i18n|sparkweb-[\w-]+)\.js$/.test(name));
  const texts = await Promise.all(helpers.map((name) => readFile(join(WC, name), 'utf8')));
  return [source, ...texts].join('\n');
}

const manifest = JSON.parse(await readFile(join(WC, 'custom-elements.json'), 'utf8'));
const files = (await readdir(WC)).filter((f) => /^sparkweb-[\w-]+\.js$/.test(f)).sort();
const theme = scan(await readFile(join(WC, 'sparkweb.js'), 'utf8')).properties;

test('every element file has a manifest module, and every manifest module a file', () => {
  const modules = manifest.modules.filter((m) => m.declarations.some((d) => d.customElement));
  assert.deepEqual(modules.map((m) => m.path).sort(), files.map((f) => `webcomponents/${f}`));
  assert.equal(manifest.schemaVersion, '2.1.0');
});

for (const file of files) {
  test(`${file} matches custom-elements.json`, async () => {
    const src = scan(await elementSource(file));
    const module = manifest.modules.find((m) => m.path === `webcomponents/${file}`);
    assert.ok(module, `no manifest module for ${file}`);
    const decl = module.declarations.find((d) => d.customElement);
    assert.equal(decl.tagName, src.tag, 'tag name');
    assert.equal(decl.name, src.className, 'class name');
    assert.deepEqual(
      module.exports.filter((e) => e.kind === 'custom-element-definition').map((e) => [e.name, e.declaration.name]),
      [[src.tag, src.className]],
      'custom-element-definition export',
    );

    const attributes = (decl.attributes ?? []).map((a) => a.name);
    for (const name of src.observed) assert.ok(attributes.includes(name), `observed attribute ${name} is not in the manifest`);
    for (const name of attributes) assert.ok(inStrings(src.code, name), `manifest attribute ${name} is not used by ${file}`);

    assert.deepEqual((decl.events ?? []).map((e) => e.name).sort(), src.events, 'dispatched events');

    const parts = (decl.cssParts ?? []).map((p) => p.name).sort();
    for (const name of src.parts) assert.ok(parts.includes(name), `part ${name} is set in ${file} but not in the manifest`);
    for (const name of parts) assert.ok(inStrings(src.code, name), `manifest part ${name} does not occur in ${file}`);
    if (src.documentedParts) assert.deepEqual(parts, src.documentedParts, `the manifest's parts are those of the "Parts:" header of ${file}`);

    const properties = (decl.cssProperties ?? []).map((p) => p.name).sort();
    assert.deepEqual(properties, [...new Set([...theme, ...src.properties])].sort(), 'custom properties: the theme tokens and its own');
    for (const member of decl.members ?? []) {
      if (member.privacy === 'private') continue;
      assert.ok(new RegExp(`(get|set|async)?\\s*${member.name}\\s*\\(`).test(src.code), `member ${member.name} is not defined in ${file}`);
    }
  });
}

test('package.json names the manifest and the types; the types declare each element; each has a docs page', async () => {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
  assert.equal(pkg.customElements, 'webcomponents/custom-elements.json');
  assert.equal(pkg.types, 'webcomponents/sparkweb.d.ts');
  const dts = await readFile(join(WC, 'sparkweb.d.ts'), 'utf8');
  const docs = await readdir(join(ROOT, 'docs', 'elements'));
  for (const file of files) {
    const { tag, className } = scan(await readFile(join(WC, file), 'utf8'));
    assert.match(dts, new RegExp(`'${tag}': ${className};`), `HTMLElementTagNameMap entry for ${tag}`);
    assert.match(dts, new RegExp(`class ${className} extends HTMLElement`), `class ${className}`);
    assert.ok(docs.includes(`${tag}.md`), `docs/elements/${tag}.md`);
  }
});

test("the service worker's app shell lists every module of webcomponents/, for an offline start", async () => {
  const sw = await readFile(join(ROOT, 'static', 'sw.js'), 'utf8');
  const shell = sw.match(/const SHELL = \[([\s\S]*?)\]/)?.[1] ?? '';
  const listed = [...shell.matchAll(/'webcomponents\/([\w.-]+\.js)'/g)].map((m) => m[1]).sort();
  const modules = (await readdir(WC)).filter((f) => f.endsWith('.js')).sort();
  assert.deepEqual(listed, modules);
});
