// Where the pages keep a member's key: IndexedDB database "cocred", store "keys", one
// record per actor {actor, kid, x, signingKey}; the CryptoKey is non-extractable, and
// IndexedDB keeps it so (structured clone), so no script can read the private key out.

function opened() {
  return new Promise((resolve, reject) => {
    const opening = indexedDB.open("cocred", 1);
    opening.onupgradeneeded = () => opening.result.createObjectStore("keys", { keyPath: "actor" });
    opening.onerror = () => reject(opening.error);
    opening.onsuccess = () => resolve(opening.result);
  });
}

/** Keep (or replace) the record of `record.actor`. */
export async function storeKey(record) {
  const db = await opened();
  return new Promise((resolve, reject) => {
    const tx = db.transaction("keys", "readwrite");
    tx.objectStore("keys").put(record);
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
}

/** Every key kept in this browser. */
export async function storedKeys() {
  const db = await opened();
  return new Promise((resolve, reject) => {
    const get = db.transaction("keys").objectStore("keys").getAll();
    get.onsuccess = () => resolve(get.result);
    get.onerror = () => reject(get.error);
  });
}
