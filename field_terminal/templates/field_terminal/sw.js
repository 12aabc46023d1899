// The field tablet's service worker: the page and its code keep loading without a network.
// Network first, cache as the fallback: online the tablet always runs the current code, and
// offline it runs what it last loaded. Frames are not the service worker's business: they
// wait in the page's IndexedDB outbox (protocol-client.js) and the socket sends them.
const CACHE = 'field-tablet-v1';
const ASSETS = {{ assets|safe }};

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

function cacheable(request) {
  const url = new URL(request.url);
  // API answers are live data (and photo uploads are POSTs): a stale copy would lie.
  return request.method === 'GET' && url.origin === self.location.origin
    && !url.pathname.startsWith('/api/') && !url.pathname.startsWith('/ws/');
}

self.addEventListener('fetch', (event) => {
  if (!cacheable(event.request)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(event.request);
      if (response.ok) await cache.put(event.request, response.clone());
      return response;
    } catch (error) {
      // ignoreVary: Django varies on Cookie and Accept-Language, which the install-time
      // requests did not carry the same way as the page's own.
      const cached = await cache.match(event.request, { ignoreVary: true, ignoreSearch: event.request.mode === 'navigate' });
      if (cached) return cached;
      throw error;
    }
  })());
});
