// The command console: the event's picture from the page's initial state, then live from the
// hub (event, unit and hospital topics), through the project's protocol client.
import * as L from '../leaflet/dist/leaflet-src.esm.js';
import { TerminalClient } from '../hub/js/protocol-client.js';
import { EcgStrip, VitalsChart } from '../hub/js/vitals-chart.js';
import { format, formatTime, minutesSince, syncRows } from '../hub/js/screen-kit.js';

// Alert thresholds (shown on the page in words too).
const RED_WAIT_ALERT_MS = 10 * 60 * 1000;
const UNIT_POSITION_STALE_MS = 2 * 60 * 1000;
const LOW_BEDS = 1;
const CONSOLE_OFFLINE_ALERT_MS = 5 * 1000;

const CATEGORY_ORDER = { red: 0, yellow: 1, green: 2, black: 3 };
// Not yet on the way to a hospital: what a red casualty must not stay in for long.
const UNTRANSPORTED = new Set(['reported', 'awaiting_transport', 'assigned']);
// Units whose crews are working and so must be reporting where they are.
const UNIT_AT_WORK = new Set(['dispatched', 'on_scene', 'transporting', 'at_hospital', 'returning']);

const state = JSON.parse(document.getElementById('console-state').textContent);
const strings = JSON.parse(document.getElementById('console-strings').textContent);
const tiles = JSON.parse(document.getElementById('map-tiles').textContent);
const t = (key, values) => format(strings[key] ?? key, values);
const root = document.getElementById('console');
const eventTopic = `event:${state.event.slug}`;

const casualties = new Map(state.casualties.map((c) => [c.id, c]));
const units = new Map(state.units.map((u) => [u.callsign, u]));
const hospitals = new Map(state.hospitals.map((h) => [h.code, h]));
// Pre-arrival notice per casualty: {notice, state, hospital}.
const notices = new Map(Object.values(state.notices).map((n) => [n.casualty, n]));
let recommendation = state.recommendation;
let offlineSince = null;

// --- the live connection --------------------------------------------------------------------

const client = new TerminalClient();
const connection = root.querySelector('[data-testid=connection]');
client.addEventListener('state', (event) => {
  connection.dataset.state = event.detail;
  connection.textContent = t(`connection.${event.detail}`);
  if (event.detail === 'open') offlineSince = null;
  else if (offlineSince === null) offlineSince = Date.now();
  render();
});
client.addEventListener('message', (event) => apply(event.detail));
client.addEventListener('error', (event) => showFeedback(t('refused', { code: event.detail.code, message: event.detail.message })));

function apply(frame) {
  const { data } = frame;
  const topic = frame.topic ?? '';
  if (topic.startsWith('casualty:')) {
    drawer.apply(frame);
    return;
  }
  switch (frame.type) {
    case 'casualty.report': {
      const known = casualties.get(data.casualty);
      casualties.set(data.casualty, {
        status: 'reported', unit: null, hospital: null, transport: null, ...known,
        id: data.casualty, tag: data.tag ?? '', category: data.category, method: data.method,
        age_group: data.age_group ?? '', sex: data.sex ?? '', complaint: data.complaint ?? '',
        needs: data.needs ?? [], lat: data.location.lat, lon: data.location.lon,
        reported_at: known?.reported_at ?? frame.ts, reported_by: frame.from,
        reported_category: data.category, reported_method: data.method,
      });
      break;
    }
    case 'casualty.status':
      update(casualties, data.casualty, { status: data.to });
      break;
    case 'triage.changed':
      update(casualties, data.casualty, { category: data.to, method: data.method });
      break;
    case 'transport.assigned':
      update(casualties, data.casualty, { unit: data.unit, hospital: data.hospital, transport: data.transport });
      if (!notices.has(data.casualty)) notices.set(data.casualty, { notice: null, state: 'sent', hospital: data.hospital, casualty: data.casualty });
      break;
    case 'transport.cancelled':
      update(casualties, data.casualty, { unit: null, hospital: null, transport: null });
      notices.delete(data.casualty);
      break;
    case 'unit.changed':
      update(units, data.unit, { status: data.to });
      break;
    case 'unit.status':
      update(units, topic.slice('unit:'.length), { status: data.status });
      break;
    case 'position':
      update(units, topic.slice('unit:'.length), { lat: data.lat, lon: data.lon, position_at: data.t });
      break;
    case 'capacity':
      update(hospitals, topic.slice('hospital:'.length), { beds: data.beds, diversion: data.diversion, note: data.note ?? '', updated_at: frame.ts });
      break;
    case 'prearrival.notice':
      notices.set(data.casualty, { notice: data.notice, state: data.state, hospital: topic.slice('hospital:'.length), casualty: data.casualty });
      break;
    case 'prearrival.state':
      notices.set(data.casualty, { ...notices.get(data.casualty), notice: data.notice, state: data.state, hospital: data.hospital, casualty: data.casualty });
      break;
    case 'dispatch.recommendation':
      recommendation = data;
      break;
    default:
      return; // a type this screen does not show
  }
  render();
}

function update(map, key, changes) {
  const row = map.get(key);
  if (row) Object.assign(row, changes);
}

// --- rendering ------------------------------------------------------------------------------

let renderQueued = false;
function render() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderCounters();
    renderCasualties();
    renderUnits();
    renderHospitals();
    renderDispatch();
    renderAlerts();
    renderMap();
  });
}

function renderCounters() {
  const counts = { red: 0, yellow: 0, green: 0, black: 0, awaiting: 0, assigned: 0, en_route: 0, arrived: 0 };
  for (const c of casualties.values()) {
    counts[c.category] += 1;
    if (c.status === 'reported' || c.status === 'awaiting_transport') counts.awaiting += 1;
    else if (c.status === 'assigned') counts.assigned += 1;
    else if (c.status === 'en_route') counts.en_route += 1;
    else if (c.status === 'arrived' || c.status === 'handed_over') counts.arrived += 1;
  }
  for (const [key, value] of Object.entries(counts)) root.querySelector(`[data-count=${key}]`).textContent = value;
}

function categoryBadge(category) {
  const badge = document.createElement('span');
  badge.className = `badge cat-${category}`;
  badge.textContent = t(`category.${category}`);
  return badge;
}

function casualtyLabel(c) {
  return c.tag || c.id.slice(0, 8);
}

function renderCasualties() {
  const rows = [...casualties.values()].sort((a, b) =>
    CATEGORY_ORDER[a.category] - CATEGORY_ORDER[b.category] || a.reported_at.localeCompare(b.reported_at));
  syncRows(root.querySelector('[data-testid=casualties] tbody'), rows, (c) => c.id, (tr, c) => {
    tr.dataset.casualty = c.id;
    tr.dataset.category = c.category;
    tr.dataset.status = c.status;
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'link-button';
    open.textContent = casualtyLabel(c);
    open.addEventListener('click', () => drawer.open(c.id));
    const route = c.unit ? `${c.unit} → ${c.hospital}` : '';
    const notice = notices.get(c.id);
    fillCells(tr, [categoryBadge(c.category), open, t('minutes', { minutes: minutesSince(c.reported_at) }),
      t(`status.${c.status}`), notice ? `${route} · ${t(`notice.${notice.state}`)}` : route, c.complaint]);
  });
}

function renderUnits() {
  syncRows(root.querySelector('[data-testid=units] tbody'), [...units.values()], (u) => u.callsign, (tr, u) => {
    tr.dataset.unit = u.callsign;
    tr.dataset.status = u.status;
    fillCells(tr, [u.callsign, u.level, t(`unit.${u.status}`),
      u.position_at ? t('minutes', { minutes: minutesSince(u.position_at) }) : t('never')]);
  });
}

function renderHospitals() {
  const inbound = new Map();
  for (const n of notices.values()) {
    if (n.state === 'handed_over') continue;
    if (!inbound.has(n.hospital)) inbound.set(n.hospital, []);
    inbound.get(n.hospital).push(n);
  }
  syncRows(root.querySelector('[data-testid=hospitals] tbody'), [...hospitals.values()], (h) => h.code, (tr, h) => {
    tr.dataset.hospital = h.code;
    const list = (inbound.get(h.code) ?? []).map((n) => `${casualtyLabel(casualties.get(n.casualty) ?? { id: n.casualty })}: ${t(`notice.${n.state}`)}`);
    fillCells(tr, [`${h.code} ${hospitalName(h)}`, String(h.beds.red), String(h.beds.yellow), String(h.beds.green),
      h.diversion ? t('diversion') : '', list.join(' · ')]);
    tr.classList.toggle('diverting', h.diversion);
    for (const [index, key] of ['red', 'yellow', 'green'].entries()) tr.children[index + 1].dataset.beds = key;
  });
}

function hospitalName(h) {
  return document.documentElement.lang === 'zh-hans' && h.name_zh ? h.name_zh : h.name;
}

function fillCells(tr, values) {
  while (tr.children.length < values.length) tr.append(document.createElement('td'));
  values.forEach((value, index) => {
    const cell = tr.children[index];
    if (value instanceof Node) {
      if (cell.firstChild?.isEqualNode?.(value) && cell.childNodes.length === 1) return;
      cell.replaceChildren(value);
    } else if (cell.textContent !== value) {
      cell.textContent = value;
    }
  });
}

// --- dispatch -------------------------------------------------------------------------------

const feedback = root.querySelector('[data-testid=dispatch-feedback]');
function showFeedback(text) {
  feedback.textContent = text;
}

async function sendDispatch(type, data, what) {
  try {
    await client.send(type, eventTopic, data);
    showFeedback(t('done', { what }));
  } catch (error) {
    showFeedback(t('refused', { code: error.code, message: error.message.replace(`${error.code}: `, '') }));
  }
}

root.querySelector('[data-action=accept-all]').addEventListener('click', () =>
  sendDispatch('dispatch.accept', { recommendation: recommendation.recommendation }, t('accept_all')));

function renderDispatch() {
  const summary = root.querySelector('[data-testid=rec-summary]');
  const list = root.querySelector('[data-testid=assignments]');
  const acceptAll = root.querySelector('[data-action=accept-all]');
  if (!recommendation) {
    summary.textContent = t('recommendation.none');
    acceptAll.hidden = true;
    list.replaceChildren();
    return;
  }
  const r = recommendation;
  summary.textContent = t('recommendation.summary', {
    id: r.recommendation, time: formatTime(r.generated_at), objective: r.objective.toFixed(2),
    baseline: r.baseline.toFixed(2), ms: r.solve_ms,
  });
  const pending = r.assignments.filter((a) => casualties.get(a.casualty)?.unit !== a.unit);
  acceptAll.hidden = pending.length === 0;
  syncRows(list, r.assignments, (a) => `${r.recommendation}:${a.casualty}`, (li, a) => {
    if (li.childElementCount) {
      markAccepted(li, a);
      return;
    }
    li.dataset.casualty = a.casualty;
    const c = casualties.get(a.casualty) ?? { id: a.casualty, tag: '' };
    const head = document.createElement('p');
    head.className = 'assignment-head';
    head.append(categoryBadge(a.category), ` ${casualtyLabel(c)} → ${a.unit} → ${a.hospital}`);
    const detail = document.createElement('p');
    detail.className = 'assignment-detail';
    detail.textContent = [t('pickup', { time: formatTime(a.pickup_eta) }), t('arrival', { time: formatTime(a.arrival_eta) }),
      t('survival', { percent: Math.round(a.survival * 100) })].join(' · ');
    const explain = document.createElement('p');
    explain.className = 'explain';
    explain.textContent = a.explain;
    const accept = button(t('accept'), () => sendDispatch('dispatch.accept', { recommendation: r.recommendation, casualties: [a.casualty] }, `${t('accept')} ${casualtyLabel(c)}`));
    accept.dataset.action = 'accept';
    const override = button(t('override'), () => overrideForm(li, a, c));
    override.dataset.action = 'override';
    const actions = document.createElement('p');
    actions.className = 'actions';
    actions.append(accept, override);
    li.append(head, detail, explain, actions);
    markAccepted(li, a);
  });
  root.querySelector('[data-testid=rec-unassigned]').textContent = r.unassigned.length
    ? t('unassigned', { list: r.unassigned.map((id) => casualtyLabel(casualties.get(id) ?? { id })).join(', ') }) : '';
}

function markAccepted(li, a) {
  const accepted = casualties.get(a.casualty)?.unit === a.unit && casualties.get(a.casualty)?.hospital === a.hospital;
  li.classList.toggle('accepted', accepted);
  for (const b of li.querySelectorAll('[data-action=accept]')) {
    b.disabled = accepted;
    b.textContent = accepted ? t('accepted') : t('accept');
  }
}

function button(text, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}

function selectOf(label, options, selected) {
  const wrapper = document.createElement('label');
  wrapper.textContent = label;
  const select = document.createElement('select');
  for (const value of options) {
    const option = document.createElement('option');
    option.value = value;
    option.textContent = value;
    option.selected = value === selected;
    select.append(option);
  }
  wrapper.append(select);
  return { wrapper, select };
}

function overrideForm(li, a, c) {
  li.querySelector('form')?.remove();
  const form = document.createElement('form');
  form.className = 'override';
  const unit = selectOf(t('unit'), [...units.keys()], a.unit);
  const hospital = selectOf(t('hospital'), [...hospitals.keys()], a.hospital);
  const submit = document.createElement('button');
  submit.type = 'submit';
  submit.className = 'primary';
  submit.textContent = t('send_override');
  form.append(unit.wrapper, hospital.wrapper, submit, button(t('cancel'), () => form.remove()));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    sendDispatch('dispatch.override', { casualty: a.casualty, unit: unit.select.value, hospital: hospital.select.value },
      `${t('override')} ${casualtyLabel(c)}`).then(() => form.remove());
  });
  li.append(form);
  unit.select.focus();
}

// --- alerts ---------------------------------------------------------------------------------

function currentAlerts() {
  const now = Date.now();
  const alerts = [];
  if (offlineSince !== null && now - offlineSince > CONSOLE_OFFLINE_ALERT_MS) {
    alerts.push({ key: 'offline', level: 0, text: t('alert.console_offline', { time: formatTime(new Date(offlineSince).toISOString()) }) });
  }
  for (const c of casualties.values()) {
    const waited = now - Date.parse(c.reported_at);
    if (c.category === 'red' && UNTRANSPORTED.has(c.status) && waited > RED_WAIT_ALERT_MS) {
      alerts.push({ key: `red:${c.id}`, level: 1, text: t('alert.red_waiting', { tag: casualtyLabel(c), minutes: Math.floor(waited / 60000) }) });
    }
  }
  for (const h of hospitals.values()) {
    if (h.diversion) alerts.push({ key: `div:${h.code}`, level: 2, text: t('alert.hospital_diversion', { hospital: h.code }) });
    for (const category of ['red', 'yellow', 'green']) {
      if (h.beds[category] <= LOW_BEDS) {
        alerts.push({ key: `beds:${h.code}:${category}`, level: 2, text: t('alert.hospital_full', { hospital: h.code, beds: h.beds[category], category: t(`category.${category}`) }) });
      }
    }
  }
  for (const u of units.values()) {
    if (!UNIT_AT_WORK.has(u.status)) continue;
    if (!u.position_at) alerts.push({ key: `unit:${u.callsign}`, level: 3, text: t('alert.unit_no_position', { unit: u.callsign, status: t(`unit.${u.status}`) }) });
    else if (now - Date.parse(u.position_at) > UNIT_POSITION_STALE_MS) {
      alerts.push({ key: `unit:${u.callsign}`, level: 3, text: t('alert.unit_stale', { unit: u.callsign, status: t(`unit.${u.status}`), minutes: minutesSince(u.position_at) }) });
    }
  }
  return alerts.sort((a, b) => a.level - b.level);
}

function renderAlerts() {
  const alerts = currentAlerts();
  const list = root.querySelector('[data-testid=alerts]');
  if (alerts.length === 0) {
    const none = document.createElement('li');
    none.className = 'none';
    none.textContent = t('alerts.none');
    list.replaceChildren(none);
    return;
  }
  list.querySelector('.none')?.remove();
  syncRows(list, alerts, (a) => a.key, (li, a) => {
    li.dataset.alert = a.key.split(':')[0];
    li.className = `alert level-${a.level}`;
    if (li.textContent !== a.text) li.textContent = a.text;
  });
}

// --- map ------------------------------------------------------------------------------------

const map = L.map('map', { zoomControl: true, keyboard: true });
if (tiles.url) L.tileLayer(tiles.url, { attribution: tiles.attribution, maxZoom: 19 }).addTo(map);
const venueLayer = state.event.venue ? L.geoJSON(state.event.venue, { style: { color: '#0b5cad', weight: 2, fillOpacity: 0.08 } }).addTo(map) : null;
const markers = { casualty: new Map(), unit: new Map(), hospital: new Map() };
let fitted = false;

function placeMarker(kind, key, lat, lon, className, html, title, onClick) {
  const existing = markers[kind].get(key);
  if (lat === null || lat === undefined) {
    if (existing) existing.remove();
    markers[kind].delete(key);
    return;
  }
  const icon = L.divIcon({ className: `marker ${className}`, html, iconSize: null });
  if (existing) {
    existing.setLatLng([lat, lon]);
    if (existing.options.icon.options.html !== html || existing.options.icon.options.className !== icon.options.className) {
      existing.setIcon(icon); // a new element: name it again
      existing.getElement().dataset.marker = `${kind}:${key}`;
    }
    return;
  }
  const marker = L.marker([lat, lon], { icon, title, keyboard: Boolean(onClick) }).addTo(map);
  marker.getElement().dataset.marker = `${kind}:${key}`;
  if (onClick) marker.on('click', onClick);
  markers[kind].set(key, marker);
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function renderMap() {
  if (!fitted) fitView(); // markers get their elements only once the map has a view
  for (const c of casualties.values()) {
    const done = c.status === 'handed_over' || c.status === 'arrived';
    placeMarker('casualty', c.id, done ? null : c.lat, c.lon, `casualty cat-${c.category}`,
      escapeHtml(t(`short.${c.category}`)), `${casualtyLabel(c)} · ${t(`category.${c.category}`)} · ${t(`status.${c.status}`)}`,
      () => drawer.open(c.id));
  }
  for (const u of units.values()) {
    placeMarker('unit', u.callsign, u.lat, u.lon, `unit status-${u.status}`,
      `${escapeHtml(u.callsign)}<small>${escapeHtml(t(`unit.${u.status}`))}</small>`, `${u.callsign} · ${t(`unit.${u.status}`)}`);
  }
  for (const h of hospitals.values()) {
    const beds = `${h.beds.red}/${h.beds.yellow}/${h.beds.green}`;
    placeMarker('hospital', h.code, h.lat, h.lon, `hospital${h.diversion ? ' diverting' : ''}`,
      `H ${escapeHtml(h.code)}<small>${escapeHtml(beds)}${h.diversion ? ` ${escapeHtml(t('diversion'))}` : ''}</small>`,
      `${hospitalName(h)} · ${t('beds')} ${beds}`);
  }
}

function fitView() {
  fitted = true;
  const points = [...casualties.values(), ...units.values(), ...hospitals.values()]
    .filter((p) => p.lat !== null && p.lat !== undefined).map((p) => [p.lat, p.lon]);
  const bounds = venueLayer ? venueLayer.getBounds() : L.latLngBounds(points);
  for (const point of points) bounds.extend(point);
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20] });
  else map.setView([0, 0], 2); // nothing placed yet: the first marker will be off-centre
}

// --- casualty drawer ------------------------------------------------------------------------

const drawer = (() => {
  const dialog = document.getElementById('drawer');
  const part = (id) => dialog.querySelector(`[data-testid=drawer-${id}]`);
  let current = null; // {id, topic, chart, ecg}

  dialog.querySelector('[data-action=close-drawer]').addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    if (!current) return;
    client.unsubscribe(current.topic).catch(() => {});
    current.chart.destroy();
    current = null;
  });
  const release = dialog.querySelector('[data-action=release]');
  release.addEventListener('click', () => sendDispatch('dispatch.release', { casualty: current.id }, t('release')));

  function line(list, text) {
    const li = document.createElement('li');
    li.textContent = text;
    list.append(li);
    return li;
  }

  function open(id) {
    if (current) dialog.close();
    const c = casualties.get(id);
    dialog.querySelector('#drawer-title').replaceChildren(categoryBadge(c.category), ` ${casualtyLabel(c)}`);
    part('summary').textContent = [t(`status.${c.status}`), c.age_group, c.complaint, c.needs.join(', '),
      c.unit ? `${c.unit} → ${c.hospital}` : ''].filter(Boolean).join(' · ');
    release.hidden = c.status !== 'assigned';
    for (const id_ of ['triage', 'notes', 'timeline', 'photos', 'vitals-last', 'vitals-chart']) part(id_).replaceChildren();
    line(part('triage'), `${formatTime(c.reported_at)} ${t('drawer.reported', { by: c.reported_by, category: t(`category.${c.reported_category}`), method: c.reported_method })}`);
    line(part('timeline'), `${formatTime(c.reported_at)} ${c.reported_by}: ${t('type.casualty.report')}`);
    const labels = Object.fromEntries(['hr', 'spo2', 'rr', 'sbp'].map((k) => [k, t(`vitals.${k}`)]));
    current = { id, topic: `casualty:${id}`, chart: new VitalsChart(part('vitals-chart'), labels), ecg: new EcgStrip(part('ecg')) };
    current.ecg.draw();
    dialog.showModal();
    // The whole record is in the casualty's journal: replay it from the start.
    client.subscribe(current.topic, { since: 0 }).catch((error) => line(part('timeline'), t('refused', { code: error.code, message: error.message })));
  }

  function applyRecord(frame) {
    if (!current || frame.topic !== current.topic) return;
    const { data } = frame;
    const at = formatTime(frame.ts);
    line(part('timeline'), `${at} ${frame.from}: ${t(`type.${frame.type}`)}`);
    if (frame.type === 'triage.update') {
      line(part('triage'), `${at} ${t('drawer.triage', { category: t(`category.${data.category}`), by: frame.from, method: data.method })}${data.reason ? ` — ${data.reason}` : ''}`);
    } else if (frame.type === 'vitals') {
      current.chart.add(data);
      part('vitals-last').textContent = Object.entries(data).filter(([k]) => k !== 't')
        .map(([k, v]) => `${t(`vitals.${k}`)} ${v}`).join('  ');
    } else if (frame.type === 'waveform') {
      current.ecg.add(data);
    } else if (frame.type === 'note') {
      line(part('notes'), `${at} ${frame.from}: ${data.text}`);
    } else if (frame.type === 'media' && data.kind === 'image') {
      const img = document.createElement('img');
      img.src = data.url;
      img.alt = data.caption ?? t('type.media');
      part('photos').append(img);
    }
  }

  return { open, apply: applyRecord };
})();

// --- start ----------------------------------------------------------------------------------

render();
setInterval(render, 1000); // waiting times, position ages and alert clocks move with time
client.start().catch((error) => showFeedback(t('refused', { code: error.code, message: error.message })));
for (const [topic, since] of Object.entries(state.heads)) {
  client.subscribe(topic, { since }).catch((error) => showFeedback(t('refused', { code: error.code, message: error.message })));
}
