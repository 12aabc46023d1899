// Small helpers shared by the hub's live screens: message formatting, clocks, keyed rows.

/** Fill `{name}` placeholders of a translated string. */
export function format(template, values = {}) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** Local wall-clock time (HH:MM:SS) of an ISO time, in the page's language. */
export function formatTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return date.toLocaleTimeString(document.documentElement.lang || undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

/** Whole minutes from an ISO time to now, never negative (clocks of terminals differ). */
export function minutesSince(iso, now = Date.now()) {
  return Math.max(0, Math.floor((now - Date.parse(iso)) / 60000));
}

/**
 * Make `container`'s children one element per item, in order, reusing the element of each
 * key: rows keep their identity (and the keyboard focus inside them) while data changes.
 * `fill(element, item)` updates an element, new or reused.
 */
export function syncRows(container, items, keyOf, fill, tag = container.tagName === 'TBODY' ? 'tr' : 'li') {
  const existing = new Map();
  for (const child of container.children) if (child.dataset.key !== undefined) existing.set(child.dataset.key, child);
  const wanted = new Set();
  items.forEach((item, index) => {
    const key = String(keyOf(item));
    wanted.add(key);
    let element = existing.get(key);
    if (!element) {
      element = document.createElement(tag);
      element.dataset.key = key;
    }
    fill(element, item);
    // Move only what is out of place: moving a node takes the focus out of it.
    if (container.children[index] !== element) container.insertBefore(element, container.children[index] ?? null);
  });
  for (const [key, element] of existing) if (!wanted.has(key)) element.remove();
}
