// SparkWeb's durable key-value store for the engine (a classic script: worker.js loads it with
// importScripts, a page may load it with <script>).
//
// It defines globalThis.sparkwebStorage over IndexedDB (database "sparkweb", object store "kv",
// string keys and string values). The Go side (wasm/storage) calls it from goroutines and awaits
// the promises:
//   get(key)           → Promise<string|null>
//   put(key, value)    → Promise<void>   resolves once the transaction is committed to disk
//   delete(key)        → Promise<void>   deleting a missing key is not an error
//   list(prefix)       → Promise<Array<[key, value]>>  every key starting with prefix, by key
// Bad arguments reject with a TypeError before anything is written.
'use strict';

(() => {
  const DB_NAME = 'sparkweb';
  const STORE = 'kv';

  /** @type {Promise<IDBDatabase>|null} one connection for the whole worker, opened on first use */
  let opening = null;

  function open() {
    if (opening) return opening;
    opening = new Promise((resolve, reject) => {
      if (typeof indexedDB === 'undefined') {
        reject(new Error('sparkwebStorage: IndexedDB is not available here'));
        return;
      }
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE);
      req.onsuccess = () => {
        const db = req.result;
        // Another context wants a newer schema (a newer build): give way instead of blocking it;
        // the next call reopens.
        db.onversionchange = () => {
          db.close();
          opening = null;
        };
        db.onclose = () => {
          opening = null;
        };
        resolve(db);
      };
      req.onerror = () => reject(new Error(`sparkwebStorage: open ${DB_NAME}: ${req.error?.message ?? 'failed'}`));
      req.onblocked = () => console.warn('sparkwebStorage: waiting for an older connection to close');
    });
    opening.catch(() => {
      opening = null; // let a later call try again
    });
    return opening;
  }

  /**
   * Runs fn(store) in one transaction and resolves with what fn's last request produced, once
   * the transaction completed. Writes use "strict" durability: the promise resolves only after
   * the data reached disk, which the outbox relies on.
   */
  async function transact(mode, what, fn) {
    const db = await open();
    return new Promise((resolve, reject) => {
      let tx;
      try {
        tx = db.transaction(STORE, mode, mode === 'readwrite' ? { durability: 'strict' } : undefined);
      } catch (err) {
        opening = null; // the connection was closed under us
        reject(new Error(`sparkwebStorage: ${what}: ${err.message}`));
        return;
      }
      let result;
      fn(tx.objectStore(STORE), (value) => {
        result = value;
      });
      tx.oncomplete = () => resolve(result);
      const fail = () => reject(new Error(`sparkwebStorage: ${what}: ${tx.error?.message ?? 'transaction aborted'}`));
      tx.onerror = fail;
      tx.onabort = fail;
    });
  }

  function checkString(name, value) {
    if (typeof value !== 'string') {
      throw new TypeError(`sparkwebStorage: ${name} must be a string, got ${value === null ? 'null' : typeof value}`);
    }
  }

  /**
   * The key range of every string starting with prefix: [prefix, prefix with its last code unit
   * incremented). Exact for any string, unlike the usual prefix + '\uffff'.
   */
  function prefixRange(prefix) {
    if (prefix === '') return undefined; // every key
    let end = prefix.length;
    while (end > 0 && prefix.charCodeAt(end - 1) === 0xffff) end--;
    if (end === 0) return IDBKeyRange.lowerBound(prefix);
    const upper = prefix.slice(0, end - 1) + String.fromCharCode(prefix.charCodeAt(end - 1) + 1);
    return IDBKeyRange.bound(prefix, upper, false, true);
  }

  globalThis.sparkwebStorage = Object.freeze({
    async get(key) {
      checkString('key', key);
      const value = await transact('readonly', `get ${key}`, (store, done) => {
        const req = store.get(key);
        req.onsuccess = () => done(req.result);
      });
      return typeof value === 'string' ? value : null;
    },

    async put(key, value) {
      checkString('key', key);
      checkString('value', value);
      await transact('readwrite', `put ${key}`, (store) => store.put(value, key));
    },

    async delete(key) {
      checkString('key', key);
      await transact('readwrite', `delete ${key}`, (store) => store.delete(key));
    },

    async list(prefix) {
      checkString('prefix', prefix);
      return transact('readonly', `list ${prefix}`, (store, done) => {
        const out = [];
        const req = store.openCursor(prefixRange(prefix)); // IndexedDB orders string keys by code unit
        req.onsuccess = () => {
          const cursor = req.result;
          if (!cursor) {
            done(out);
            return;
          }
          if (typeof cursor.value === 'string') out.push([cursor.key, cursor.value]);
          cursor.continue();
        };
      });
    },
  });
})();
