// The after-action review: a slider over the event's span; each stop asks the hub for the
// picture at that moment (built server-side from the history tables) and draws it. Playing
// steps the moment forward as fast as the answers come, scaled by the chosen speed.
import * as L from '../leaflet/dist/leaflet-src.esm.js';
import { format, syncRows } from '../hub/js/screen-kit.js';

const setup = JSON.parse(document.getElementById('review-setup').textContent);
const strings = JSON.parse(document.getElementById('review-strings').textContent);
const t = (key, values) => format(strings[key] ?? key, values);
const root = document.getElementById('review');
const part = (id) => root.querySelector(`[data-testid=${id}]`);

const start = Date.parse(setup.start);
const end = Date.parse(setup.end);
const slider = part('slider');
slider.max = String(Math.max(0, end - start));
slider.value = slider.max;

const localTime = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
  timeZone: setup.time_zone, year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
});
const clock = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
  timeZone: setup.time_zone, hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
});
part('zone').textContent = setup.time_zone;

// --- loading the picture of a moment ----------------------------------------------------------

let wanted = null; // the moment (ms) the page should show
let loading = false;
let shown = null;

function momentOf(value) {
  return start + Number(value);
}

async function load() {
  if (loading || wanted === null || wanted === shown) return;
  loading = true;
  const at = wanted;
  try {
    const response = await fetch(`${setup.state_url}?at=${encodeURIComponent(new Date(at).toISOString())}`, {
      headers: { Accept: 'application/json' }, credentials: 'same-origin',
    });
    if (!response.ok) throw new Error(String(response.status));
    const picture = await response.json();
    shown = at;
    draw(picture, at);
  } catch (error) {
    part('journal-now').textContent = t('load_failed', { status: error.message });
  } finally {
    loading = false;
  }
  if (playing) schedulePlayStep();
  else load(); // the slider may have moved while this moment loaded
}

function showMoment(at) {
  wanted = Math.min(Math.max(at, start), end);
  slider.value = String(wanted - start);
  part('moment').textContent = localTime.format(new Date(wanted));
  load();
}

slider.addEventListener('input', () => {
  if (playing) setPlaying(false);
  showMoment(momentOf(slider.value));
});

// --- play / pause -----------------------------------------------------------------------------

const playButton = root.querySelector('[data-action=play]');
const speed = part('speed');
let playing = false;
let lastStep = 0;
let stepTimer = null;

function setPlaying(on) {
  playing = on;
  playButton.textContent = on ? t('pause') : t('play');
  playButton.setAttribute('aria-pressed', String(on));
  clearTimeout(stepTimer);
  if (on) {
    if (wanted >= end) showMoment(start);
    lastStep = performance.now();
    schedulePlayStep();
  }
}

function schedulePlayStep() {
  clearTimeout(stepTimer);
  // At most four pictures a second: smoother than that needs no more round trips.
  stepTimer = setTimeout(() => {
    if (!playing) return;
    const now = performance.now();
    const next = wanted + (now - lastStep) * Number(speed.value);
    lastStep = now;
    showMoment(next);
    if (wanted >= end) setPlaying(false);
  }, 250);
}

playButton.addEventListener('click', () => setPlaying(!playing));

// --- drawing ------------------------------------------------------------------------------------

const CATEGORY_ORDER = { red: 0, yellow: 1, green: 2, black: 3 };

function draw(picture, at) {
  const counts = { red: 0, yellow: 0, green: 0, black: 0, awaiting: 0, assigned: 0, en_route: 0, arrived: 0 };
  for (const c of picture.casualties) {
    counts[c.category] += 1;
    if (c.status === 'awaiting_transport') counts.awaiting += 1;
    if (c.status === 'assigned') counts.assigned += 1;
    if (c.status === 'en_route') counts.en_route += 1;
    if (c.status === 'arrived' || c.status === 'handed_over') counts.arrived += 1;
  }
  for (const [key, value] of Object.entries(counts)) {
    root.querySelector(`[data-count=${key}]`).textContent = String(value);
  }
  const casualties = [...picture.casualties].sort((a, b) => CATEGORY_ORDER[a.category] - CATEGORY_ORDER[b.category] || a.tag.localeCompare(b.tag));
  syncRows(part('casualties').querySelector('tbody'), casualties, (c) => c.id, (tr, c) => {
    tr.dataset.casualty = c.id;
    tr.dataset.status = c.status;
    tr.replaceChildren(
      cell(t(`category.${c.category}`), `badge cat-${c.category}`),
      cell(c.tag || c.id.slice(0, 8)),
      cell(t(`status.${c.status}`)),
      cell(c.unit ? `${c.unit} → ${c.hospital}` : ''),
    );
  });
  syncRows(part('units').querySelector('tbody'), picture.units, (u) => u.callsign, (tr, u) => {
    tr.dataset.unit = u.callsign;
    tr.dataset.status = u.status;
    tr.replaceChildren(cell(u.callsign), cell(u.level), cell(t(`unit.${u.status}`)),
      cell(u.position_at ? clock.format(new Date(u.position_at)) : t('none')));
  });
  syncRows(part('hospitals').querySelector('tbody'), picture.hospitals, (h) => h.code, (tr, h) => {
    tr.dataset.hospital = h.code;
    tr.classList.toggle('diverting', h.diversion);
    const beds = h.beds ? [h.beds.red, h.beds.yellow, h.beds.green].map(String) : [t('beds.unknown'), '', ''];
    tr.replaceChildren(cell(h.code), ...beds.map((b, i) => {
      const td = cell(b);
      td.dataset.beds = ['red', 'yellow', 'green'][i];
      return td;
    }), cell(h.diversion ? t('diversion') : ''));
  });
  drawJournal(picture.journal, at);
  drawMap(picture);
}

function cell(text, className) {
  const td = document.createElement('td');
  if (className) {
    const span = document.createElement('span');
    span.className = className;
    span.textContent = text;
    td.append(span);
  } else {
    td.textContent = text;
  }
  return td;
}

function drawJournal(journal, at) {
  const fill = (li, entry) => {
    li.dataset.type = entry.type;
    const when = document.createElement('span');
    when.className = 'when';
    when.textContent = `${clock.format(new Date(entry.ts))} `;
    const type = document.createElement('span');
    type.className = 'type';
    type.textContent = entry.type;
    const detail = document.createElement('div');
    detail.textContent = `${entry.topic} · ${entry.from} · ${entry.data}`;
    li.replaceChildren(when, type, detail);
  };
  const key = (entry) => `${entry.topic}#${entry.seq}`;
  syncRows(part('journal-before'), journal.before, key, fill);
  syncRows(part('journal-after'), journal.after, key, fill);
  part('journal-now').textContent = journal.before.length || journal.after.length
    ? localTime.format(new Date(at)) : t('journal.empty');
}

// --- map --------------------------------------------------------------------------------------

const map = L.map('map', { zoomControl: true, keyboard: true });
const markers = new Map();
let fitted = false;

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function place(key, lat, lon, className, html, title) {
  let marker = markers.get(key);
  const icon = L.divIcon({ className: `marker ${className}`, html, iconSize: null });
  if (!marker) {
    marker = L.marker([lat, lon], { icon, title, keyboard: false }).addTo(map);
    markers.set(key, marker);
  } else {
    marker.setLatLng([lat, lon]);
    if (marker.options.icon.options.html !== html || marker.options.icon.options.className !== icon.options.className) marker.setIcon(icon);
  }
  marker.getElement().dataset.marker = key;
  marker.getElement().title = title;
}

function drawMap(picture) {
  const placed = [];
  const seen = new Set();
  for (const c of picture.casualties) {
    // Once at a hospital a casualty leaves the scene's map, as on the live console.
    if (c.status === 'arrived' || c.status === 'handed_over') continue;
    placed.push([c.lat, c.lon]);
    seen.add(`casualty:${c.id}`);
    place(`casualty:${c.id}`, c.lat, c.lon, `casualty cat-${c.category}`, escapeHtml(t(`short.${c.category}`)),
      `${c.tag} · ${t(`category.${c.category}`)} · ${t(`status.${c.status}`)}`);
  }
  for (const u of picture.units) {
    placed.push([u.lat, u.lon]);
    seen.add(`unit:${u.callsign}`);
    place(`unit:${u.callsign}`, u.lat, u.lon, `unit status-${u.status}`,
      `${escapeHtml(u.callsign)}<small>${escapeHtml(t(`unit.${u.status}`))}</small>`, `${u.callsign} · ${t(`unit.${u.status}`)}`);
  }
  for (const h of picture.hospitals) {
    placed.push([h.lat, h.lon]);
    seen.add(`hospital:${h.code}`);
    const beds = h.beds ? `${h.beds.red}/${h.beds.yellow}/${h.beds.green}` : t('beds.unknown');
    place(`hospital:${h.code}`, h.lat, h.lon, `hospital${h.diversion ? ' diverting' : ''}`,
      `H ${escapeHtml(h.code)}<small>${escapeHtml(beds)}${h.diversion ? ` ${escapeHtml(t('diversion'))}` : ''}</small>`,
      `${h.code} · ${t('beds')} ${beds}`);
  }
  for (const [key, marker] of markers) {
    if (!seen.has(key)) {
      marker.remove();
      markers.delete(key);
    }
  }
  if (!fitted && placed.length) {
    fitted = true;
    map.fitBounds(L.latLngBounds(placed), { padding: [20, 20] });
  }
}
// Leaflet needs a view before markers get their elements.
map.setView([0, 0], 2);

// --- reports ------------------------------------------------------------------------------------

const reportList = part('reports');
const form = part('build-report');
let reports = setup.reports;
let pollTimer = null;

function drawReports() {
  syncRows(reportList, reports, (r) => r.id, (li, r) => {
    li.dataset.state = r.state;
    const label = document.createElement('span');
    label.dataset.testid = 'report-state';
    label.textContent = `#${r.id} ${localTime.format(new Date(r.requested_at))} · ${
      r.state === 'running' || r.state === 'queued'
        ? t(r.state === 'queued' ? 'report.queued' : 'report.running', { progress: r.progress, step: t(`step.${r.step}`) })
        : r.state === 'failed' ? t('report.failed', { error: r.error }) : t('report.done')}`;
    const parts = [label];
    if (r.state === 'running' || r.state === 'queued') {
      const bar = document.createElement('progress');
      bar.max = 100;
      bar.value = r.progress;
      parts.push(' ', bar);
    }
    for (const [kind, url] of Object.entries(r.files)) {
      const link = document.createElement('a');
      link.href = url;
      link.dataset.file = kind;
      link.textContent = t(`report.${kind.replace('.', '_')}`);
      parts.push(' ', link);
    }
    li.replaceChildren(...parts);
  });
  const pending = reports.some((r) => r.state === 'queued' || r.state === 'running');
  clearTimeout(pollTimer);
  if (pending) pollTimer = setTimeout(poll, 1000);
}

async function poll() {
  reports = await Promise.all(reports.map(async (r) => {
    if (r.state !== 'queued' && r.state !== 'running') return r;
    const response = await fetch(r.status_url, { credentials: 'same-origin' });
    return response.ok ? response.json() : r;
  }));
  drawReports();
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const response = await fetch(form.action, { method: 'POST', body: new FormData(form), credentials: 'same-origin' });
  if (response.ok) {
    reports = [await response.json(), ...reports];
    drawReports();
  }
});

drawReports();
showMoment(end);
