// The field medic tablet: register, triage and follow casualties, through network loss.
//
// Every frame goes through the protocol client's IndexedDB outbox, so it survives a reload
// and is sent once the hub is reachable; the hub's idempotent ids make that exactly once.
// What this tablet registered is also kept in localStorage, so "my casualties" and the
// saved/pending state of every item show offline too.
import { IndexedDbOutbox, TerminalClient } from '../../hub/js/protocol-client.js';
import { METHOD_AGE_GROUP, triageStep } from './triage.js';
import { uploadMedia } from './upload.js';
import { venueMap } from './map.js';

const config = JSON.parse(document.getElementById('field-config').textContent);
const strings = JSON.parse(document.getElementById('field-strings').textContent);
const $ = (id) => document.getElementById(id);
const STORE_KEY = `field-casualties:${config.terminal}`;
// A live casualty's status, unit and ETA come from the REST API: the event topic that
// carries status changes is the command's to read.
const STATUS_POLL_MS = 20000;

function format(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ''));
}

function timeOf(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

// -- local record of what this tablet registered ----------------------------------------

function loadCasualties() {
  try {
    return JSON.parse(localStorage.getItem(STORE_KEY)) ?? [];
  } catch {
    return [];
  }
}

const casualties = loadCasualties();
const pendingIds = new Set();

function saveCasualties() {
  localStorage.setItem(STORE_KEY, JSON.stringify(casualties));
}

function casualtyById(id) {
  return casualties.find((casualty) => casualty.id === id);
}

function itemState(item) {
  if (item.error) return 'refused';
  return pendingIds.has(item.id) ? 'pending' : 'saved';
}

// -- connection ---------------------------------------------------------------------------

const client = new TerminalClient({ outbox: new IndexedDbOutbox({ name: `field-outbox:${config.terminal}` }) });

function showConnection(state) {
  const element = $('connection');
  element.dataset.state = state;
  element.textContent = strings.connection[state] ?? state;
}

client.addEventListener('state', (event) => {
  showConnection(event.detail);
  if (event.detail === 'open') refreshStatuses();
});

client.addEventListener('ack', (event) => {
  pendingIds.delete(event.detail.id);
  const casualty = casualties.find((c) => c.items.some((item) => item.id === event.detail.id));
  // The casualty's topic exists once its report is stored: from then on the tablet follows it.
  if (casualty && casualty.items[0].id === event.detail.id) follow(casualty);
  render();
});

client.addEventListener('error', (event) => {
  const error = event.detail;
  for (const casualty of casualties) {
    const item = casualty.items.find((i) => i.id === error.id);
    if (item) {
      pendingIds.delete(item.id);
      item.error = `${error.code}: ${error.message}`;
      saveCasualties();
      render();
    }
  }
});

client.addEventListener('message', (event) => {
  const frame = event.detail;
  if (!frame.topic?.startsWith('casualty:')) return;
  const casualty = casualtyById(frame.topic.slice('casualty:'.length));
  if (!casualty) return;
  if (frame.type === 'transport.assigned') {
    casualty.transport = { unit: frame.data.unit, hospital: frame.data.hospital, eta: frame.data.eta ?? null };
    casualty.status = 'assigned';
  } else if (frame.type === 'triage.update') {
    casualty.category = frame.data.category;
  } else {
    return;
  }
  saveCasualties();
  render();
});

const following = new Set();

function follow(casualty) {
  const topic = `casualty:${casualty.id}`;
  if (following.has(topic)) return;
  following.add(topic);
  client.subscribe(topic).catch(() => following.delete(topic));
}

async function fetchJson(url) {
  const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

async function refreshStatuses() {
  if (!casualties.length || client.state !== 'open') return;
  try {
    const [listed, transports] = await Promise.all([
      fetchJson('/api/v1/casualties/?limit=200'), fetchJson('/api/v1/transports/?limit=200'),
    ]);
    const statusById = new Map(listed.features.map((feature) => [String(feature.id), feature.properties.status]));
    const live = (transports.results ?? transports).filter((t) => t.status !== 'cancelled');
    for (const casualty of casualties) {
      if (statusById.has(casualty.id)) casualty.status = statusById.get(casualty.id);
      const transport = live.find((t) => String(t.casualty) === casualty.id);
      casualty.transport = transport ? { unit: transport.unit, hospital: transport.hospital, eta: transport.eta } : null;
    }
    saveCasualties();
    render();
  } catch {
    // Offline or the hub is busy: the next poll or reconnect tries again.
  }
}

async function send(casualty, type, topic, data, label) {
  const id = crypto.randomUUID();
  pendingIds.add(id);
  await client.enqueue(type, topic, data, { id });
  casualty.items.push({ id, type, label, at: new Date().toISOString() });
  saveCasualties();
  render();
}

// -- screens ------------------------------------------------------------------------------

function show(screen) {
  for (const section of document.querySelectorAll('.screen')) section.hidden = section.id !== `screen-${screen}`;
  window.scrollTo(0, 0);
  if (screen === 'report') reportMap().refresh();
}

function statusText(casualty) {
  const parts = [];
  if (casualty.status) parts.push(strings.statuses[casualty.status] ?? casualty.status);
  if (casualty.transport) {
    parts.push(format(strings.unit_hospital, casualty.transport));
    if (casualty.transport.eta) parts.push(format(strings.eta, { time: timeOf(casualty.transport.eta) }));
  }
  return parts.join(' · ');
}

function savedBadge(casualty) {
  const states = casualty.items.map(itemState);
  const state = states.includes('refused') ? 'refused' : states.includes('pending') ? 'pending' : 'saved';
  const badge = document.createElement('span');
  badge.className = `saved-state ${state}`;
  badge.dataset.state = state;
  badge.textContent = strings[state];
  return badge;
}

function render() {
  const list = $('my-casualties');
  list.replaceChildren();
  if (!casualties.length) {
    const empty = document.createElement('li');
    empty.className = 'muted';
    empty.textContent = strings.no_casualties;
    list.append(empty);
  }
  for (const casualty of casualties) {
    const row = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = `casualty-row ${casualty.category}`;
    button.dataset.casualty = casualty.id;
    const title = document.createElement('strong');
    title.textContent = `${casualty.tag || strings.untagged} · ${strings.categories[casualty.category]}`;
    const status = document.createElement('span');
    status.className = 'status-line';
    status.textContent = statusText(casualty);
    button.append(title, savedBadge(casualty), status);
    button.addEventListener('click', () => openCasualty(casualty.id));
    row.append(button);
    list.append(row);
  }
  if (openCasualtyId) renderCasualty(casualtyById(openCasualtyId));
}

// -- triage wizard and report -------------------------------------------------------------

// What is being triaged: a new casualty (report) or a known one (re-triage).
let triage = null;

function startTriage(method, casualtyId = null) {
  triage = { method, answers: [], casualtyId, result: null, category: null, details: freshDetails(method) };
  if (method === 'manual') {
    openReport(null);
    return;
  }
  askNext();
}

function freshDetails(method) {
  return { age_group: METHOD_AGE_GROUP[method] ?? null, sex: null, needs: new Set() };
}

function askNext() {
  const answers = Object.fromEntries(triage.answers);
  const step = triageStep(triage.method, answers);
  if (step.done) {
    openReport(step);
    return;
  }
  const question = strings.questions[step.question];
  $('wizard-method').textContent = triage.method;
  $('wizard-question').textContent = question.text;
  $('wizard-hint').textContent = question.hint;
  $('wizard-question').dataset.question = step.question;
  const options = $('wizard-options');
  options.replaceChildren(...step.options.map((option) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = `answer answer-${option}`;
    button.dataset.answer = option;
    button.textContent = strings.options[option];
    button.addEventListener('click', () => {
      triage.answers.push([step.question, option]);
      askNext();
    });
    return button;
  }));
  show('wizard');
}

function openReport(result) {
  triage.result = result;
  triage.category = result ? result.category : null;
  const isNew = triage.casualtyId === null;
  $('report-details').hidden = !isNew;
  $('report-send').textContent = isNew ? strings.send_report : strings.send_update;
  if (isNew) {
    $('tag').value = '';
    $('complaint').value = '';
    $('post-select').value = '';
    reportLocation = null;
    renderChips();
  }
  renderProposal();
  show('report');
}

function renderProposal() {
  const category = triage.category;
  const proposal = $('proposal');
  proposal.dataset.category = category ?? '';
  $('proposal-category').textContent = category ? strings.categories[category] : strings.choose_category;
  const overridden = triage.result && category !== triage.result.category;
  $('proposal-reason').textContent = triage.result
    ? `${triage.method}: ${strings.reasons[triage.result.reason]}${overridden ? ` · ${strings.reasons.override}` : ''}`
    : '';
  for (const button of document.querySelectorAll('[data-category]')) {
    button.setAttribute('aria-pressed', String(button.dataset.category === category));
  }
  renderLocation();
}

// The method sent is the algorithm's only if its proposal stands: an override is the medic's.
function triageMethod() {
  return triage.result && triage.category === triage.result.category ? triage.method : 'manual';
}

function triageReason() {
  if (!triage.result) return strings.reasons.override;
  return triageMethod() === 'manual'
    ? `${strings.reasons.override} (${triage.method}: ${strings.categories[triage.result.category]})`
    : strings.reasons[triage.result.reason];
}

async function sendReport() {
  if (!triage.category) return;
  if (triage.casualtyId) {
    const casualty = casualtyById(triage.casualtyId);
    const data = { category: triage.category, method: triageMethod(), reason: triageReason().slice(0, 500) };
    casualty.category = triage.category;
    await send(casualty, 'triage.update', `casualty:${casualty.id}`, data, strings.categories[triage.category]);
    openCasualty(casualty.id);
    return;
  }
  const location = currentLocation();
  if (!location) return;
  const id = crypto.randomUUID();
  const data = { casualty: id, location: { lat: location.lat, lon: location.lon }, category: triage.category, method: triageMethod() };
  const tag = $('tag').value.trim();
  if (tag) data.tag = tag.slice(0, 32);
  if (triage.details.age_group) data.age_group = triage.details.age_group;
  if (triage.details.sex) data.sex = triage.details.sex;
  const complaint = $('complaint').value.trim();
  if (complaint) data.complaint = complaint.slice(0, 500);
  if (triage.details.needs.size) data.needs = [...triage.details.needs];
  const casualty = { id, tag, category: triage.category, method: data.method, reportedAt: new Date().toISOString(), status: null, transport: null, items: [] };
  casualties.unshift(casualty);
  await send(casualty, 'casualty.report', `event:${config.event}`, data, strings.categories[triage.category]);
  triage = null;
  show('home');
}

function renderChips() {
  for (const group of document.querySelectorAll('[data-choice]')) {
    for (const button of group.querySelectorAll('button')) {
      button.setAttribute('aria-pressed', String(triage.details[group.dataset.choice] === button.dataset.value));
    }
  }
  for (const button of document.querySelectorAll('[data-multi="needs"] button')) {
    button.setAttribute('aria-pressed', String(triage.details.needs.has(button.dataset.value)));
  }
}

// -- location -----------------------------------------------------------------------------

let deviceFix = null; // the latest geolocation fix
let reportLocation = null; // a tap on the map or a medical post: wins over the device

function currentLocation() {
  return reportLocation ?? deviceFix;
}

function renderLocation() {
  const location = currentLocation();
  const status = $('location-status');
  if (!location) status.textContent = strings.location_none;
  else if (location.source === 'gps') status.textContent = format(strings.location_gps, { accuracy: Math.round(location.accuracy) });
  else if (location.source === 'post') status.textContent = format(strings.location_post, { name: location.name });
  else status.textContent = strings.location_map;
  status.dataset.source = location?.source ?? 'none';
  const sendButton = $('report-send');
  sendButton.disabled = !triage?.category || (triage.casualtyId === null && !location);
  if (mapView) mapView.pin(location);
}

if ('geolocation' in navigator) {
  navigator.geolocation.watchPosition((position) => {
    deviceFix = { lat: position.coords.latitude, lon: position.coords.longitude, accuracy: position.coords.accuracy, source: 'gps' };
    if (triage) renderLocation();
  }, () => {}, { enableHighAccuracy: true, maximumAge: 10000 });
}

const postLabel = (post) => (document.documentElement.lang.startsWith('zh') && post.name_zh ? post.name_zh : post.name);
for (const post of config.posts) {
  const option = document.createElement('option');
  option.value = post.code;
  option.textContent = postLabel(post);
  $('post-select').append(option);
}

let mapView = null;
function reportMap() {
  if (!mapView) {
    const posts = config.posts.map((post) => ({ ...post, label: postLabel(post) }));
    mapView = venueMap($('report-map'), { ...config, posts }, (point) => {
      reportLocation = { ...point, source: 'map' };
      $('post-select').value = '';
      renderLocation();
    });
  }
  return mapView;
}

$('post-select').addEventListener('change', (event) => {
  const post = config.posts.find((p) => p.code === event.target.value);
  reportLocation = post ? { lat: post.lat, lon: post.lon, source: 'post', name: postLabel(post) } : null;
  renderLocation();
});

// -- tag scanning (where the browser has a barcode detector) ------------------------------

if ('BarcodeDetector' in window && navigator.mediaDevices?.getUserMedia) {
  $('scan-tag').hidden = false;
  $('scan-tag').addEventListener('click', scanTag);
}

async function scanTag() {
  const video = $('scan-video');
  const error = $('scan-error');
  error.hidden = true;
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
  } catch (failure) {
    error.textContent = format(strings.scan_failed, { error: failure.message });
    error.hidden = false;
    return;
  }
  const detector = new BarcodeDetector();
  video.srcObject = stream;
  video.hidden = false;
  await video.play();
  const stop = () => {
    for (const track of stream.getTracks()) track.stop();
    video.hidden = true;
  };
  const look = async () => {
    if (video.hidden) return;
    const codes = await detector.detect(video).catch(() => []);
    if (codes.length) {
      $('tag').value = codes[0].rawValue.slice(0, 32);
      stop();
      return;
    }
    requestAnimationFrame(look);
  };
  video.addEventListener('click', stop, { once: true });
  look();
}

// -- one casualty -------------------------------------------------------------------------

let openCasualtyId = null;
// The consult controls load apart from the tablet's own modules: offline, the tablet works
// without them (a video call needs the network anyway).
const consultPanel = import('../../teleconsult/js/consult-panel.js')
  .then(({ mountConsultPanel }) => mountConsultPanel({ client, me: config.terminal }))
  .catch(() => null);

function showConsultCasualty(casualty) {
  consultPanel.then((panel) => panel?.setCasualty(casualty?.id ?? null, casualty ? casualty.tag || casualty.id.slice(0, 8) : ''));
}

function openCasualty(id) {
  openCasualtyId = id;
  showConsultCasualty(casualtyById(id));
  renderCasualty(casualtyById(id));
  $('photo-progress').hidden = true;
  $('photo-status').textContent = '';
  show('casualty');
}

function renderCasualty(casualty) {
  $('casualty-title').textContent = `${casualty.tag || strings.untagged} · ${strings.categories[casualty.category]}`;
  $('casualty-title').className = `category-title ${casualty.category}`;
  $('casualty-status').textContent = statusText(casualty);
  const items = $('record-items');
  items.replaceChildren(...casualty.items.map((item) => {
    const row = document.createElement('li');
    const state = itemState(item);
    row.dataset.state = state;
    row.dataset.type = item.type;
    row.textContent = `${timeOf(item.at)} ${strings.kinds[item.type]}: ${item.label} `;
    const badge = document.createElement('span');
    badge.className = `saved-state ${state}`;
    badge.textContent = item.error ? `${strings.refused} (${item.error})` : strings[state];
    row.append(badge);
    return row;
  }).reverse());
}

$('vitals-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  const error = $('vitals-error');
  const data = { t: new Date().toISOString() };
  const labels = [];
  for (const field of config.vitals) {
    const raw = form.elements[field.name].value.trim();
    if (!raw) continue;
    const value = Number(raw);
    // The contract's ranges, checked here so the medic hears it now, not after reconnecting.
    if (!Number.isFinite(value) || value < field.min || value > field.max || (field.integer && !Number.isInteger(value))) {
      error.textContent = format(strings.vitals_range, { name: field.label, min: field.min, max: field.max });
      error.hidden = false;
      form.elements[field.name].focus();
      return;
    }
    data[field.name] = value;
    labels.push(`${field.label} ${value}`);
  }
  if (!labels.length) {
    error.textContent = strings.vitals_empty;
    error.hidden = false;
    return;
  }
  error.hidden = true;
  const casualty = casualtyById(openCasualtyId);
  await send(casualty, 'vitals', `casualty:${casualty.id}`, data, labels.join(', '));
  form.reset();
});

$('note-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const text = $('note-text').value.trim();
  if (!text) return;
  const casualty = casualtyById(openCasualtyId);
  await send(casualty, 'note', `casualty:${casualty.id}`, { text: text.slice(0, 4000) }, text.slice(0, 60));
  $('note-text').value = '';
});

$('photo-file').addEventListener('change', async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  const casualty = casualtyById(openCasualtyId);
  const progress = $('photo-progress');
  const status = $('photo-status');
  if (!navigator.onLine) {
    status.textContent = strings.upload_offline;
    return;
  }
  progress.hidden = false;
  progress.value = 0;
  status.textContent = '';
  try {
    const uploaded = await uploadMedia(file, {
      kind: 'image',
      onProgress: (fraction) => {
        progress.value = Math.round(fraction * 100);
      },
    });
    progress.value = 100;
    status.textContent = strings.uploaded;
    const caption = $('photo-caption').value.trim();
    const data = { media: uploaded.id, kind: 'image' };
    if (caption) data.caption = caption.slice(0, 500);
    await send(casualty, 'media', `casualty:${casualty.id}`, data, caption || file.name);
    $('photo-caption').value = '';
  } catch (failure) {
    status.textContent = failure.message === 'network' ? strings.upload_offline : format(strings.upload_failed, { error: failure.message });
  } finally {
    event.target.value = '';
  }
});

// -- wiring -------------------------------------------------------------------------------

for (const button of document.querySelectorAll('[data-start-method]')) {
  button.addEventListener('click', () => startTriage(button.dataset.startMethod));
}
for (const button of document.querySelectorAll('[data-retriage-method]')) {
  button.addEventListener('click', () => startTriage(button.dataset.retriageMethod, openCasualtyId));
}
for (const button of document.querySelectorAll('[data-category]')) {
  button.addEventListener('click', () => {
    triage.category = button.dataset.category;
    renderProposal();
  });
}
for (const group of document.querySelectorAll('[data-choice]')) {
  group.addEventListener('click', (event) => {
    const value = event.target.closest('button')?.dataset.value;
    if (!value) return;
    const name = group.dataset.choice;
    triage.details[name] = triage.details[name] === value ? null : value;
    renderChips();
  });
}
document.querySelector('[data-multi="needs"]').addEventListener('click', (event) => {
  const value = event.target.closest('button')?.dataset.value;
  if (!value) return;
  if (triage.details.needs.has(value)) triage.details.needs.delete(value);
  else triage.details.needs.add(value);
  renderChips();
});
$('wizard-back').addEventListener('click', () => {
  if (triage.answers.length) {
    triage.answers.pop();
    askNext();
  } else {
    leaveTriage();
  }
});
$('wizard-manual').addEventListener('click', () => openReport(null));
$('wizard-cancel').addEventListener('click', leaveTriage);
$('report-cancel').addEventListener('click', leaveTriage);
$('report-send').addEventListener('click', sendReport);
$('casualty-back').addEventListener('click', () => {
  openCasualtyId = null;
  showConsultCasualty(null);
  show('home');
});

function leaveTriage() {
  const casualtyId = triage?.casualtyId;
  triage = null;
  if (casualtyId) openCasualty(casualtyId);
  else show('home');
}

async function boot() {
  for (const frame of await client.outbox.pending()) pendingIds.add(frame.id);
  showConnection('connecting');
  render();
  client.start().catch(() => {});
  for (const casualty of casualties) if (!pendingIds.has(casualty.items[0]?.id) && !casualty.items[0]?.error) follow(casualty);
  setInterval(refreshStatuses, STATUS_POLL_MS);
  if ('serviceWorker' in navigator) navigator.serviceWorker.register(config.serviceWorker, { scope: '/field/' }).catch(() => {});
}

boot();
