// The ambulance onboard app: the current order, the unit lifecycle, position, the monitor's
// vitals and ECG, and the ATMIST handover. Everything goes through the protocol client's
// IndexedDB outbox, so a status pressed in a dead spot is sent, once, when the network returns.
import { IndexedDbOutbox, TerminalClient } from '../../hub/js/protocol-client.js';
import { SimulatedMonitor } from './monitor.js';
import { mountConsultPanel } from '../../teleconsult/js/consult-panel.js';

const config = JSON.parse(document.getElementById('onboard-config').textContent);
const strings = JSON.parse(document.getElementById('onboard-strings').textContent);
const $ = (id) => document.getElementById(id);
const UNIT_TOPIC = `unit:${config.unit}`;
const HOLDING = new Set(['assigned', 'on_scene', 'departed', 'arrived']);
const POSITION_EVERY_MS = 5000;
const ECG_SECONDS = 5;
// Clinical abbreviations of PROTOCOL.md's vital fields, the same in every language.
const VITAL_ABBREVIATIONS = { hr: 'HR', spo2: 'SpO2', rr: 'RR', sbp: 'SBP', dbp: 'DBP', temp: 'T', gcs: 'GCS', etco2: 'EtCO2' };

const format = (template, values) => template.replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ''));
const timeOf = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

const client = new TerminalClient({ outbox: new IndexedDbOutbox({ name: `ambulance-outbox:${config.terminal}` }) });
let status = config.status;
let order = null; // {transport, casualty, hospital, eta, pickup_eta, pickup}
let record = null; // the casualty: REST detail plus what its topic carried
let monitor = null;
const consultPanel = mountConsultPanel({ client, me: config.terminal });

client.addEventListener('state', (event) => {
  $('connection').dataset.state = event.detail;
  $('connection').textContent = strings.connection[event.detail] ?? event.detail;
  if (event.detail === 'open') loadOrder();
});

client.addEventListener('message', (event) => {
  const frame = event.detail;
  if (frame.topic === UNIT_TOPIC) {
    if (frame.type === 'unit.status') setStatus(frame.data.status);
    if (frame.type === 'order.assigned') {
      order = { ...frame.data };
      loadOrder();
    }
    return;
  }
  if (!record || frame.topic !== `casualty:${record.id}`) return;
  if (frame.type === 'triage.update') {
    record.category = frame.data.category;
    monitor?.setCategory(frame.data.category);
  } else if (frame.type === 'vitals' && frame.from !== config.terminal) {
    record.fieldVitals = frame.data;
  } else if (frame.type === 'note') {
    record.notes.push(frame.data.text);
  } else if (frame.type === 'handover') {
    record.handedOver = true;
    $('handover-state').textContent = strings.handover_saved;
  } else {
    return;
  }
  renderOrder();
  prefillHandover();
});

async function fetchJson(url) {
  const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

// The order as the API has it (after a reload, or an order.assigned just in): the live
// transport of this unit, and its casualty's record.
async function loadOrder() {
  try {
    const transports = await fetchJson('/api/v1/transports/?limit=20');
    const live = (transports.results ?? transports).find((t) => HOLDING.has(t.status));
    if (!live) {
      order = null;
      record = null;
      renderOrder();
      return;
    }
    const known = order && order.transport === live.id ? order : {};
    order = { ...known, transport: live.id, casualty: String(live.casualty), hospital: live.hospital, eta: known.eta ?? live.eta };
    if (!record || record.id !== order.casualty) {
      const detail = await fetchJson(`/api/v1/casualties/${order.casualty}/`);
      const [lon, lat] = detail.geometry.coordinates;
      record = { id: String(detail.id), ...detail.properties, pickup: { lat, lon }, fieldVitals: null, notes: [], handedOver: false };
      client.subscribe(`casualty:${record.id}`).catch(() => {});
      monitor?.setCategory(record.category);
    }
    renderOrder();
    prefillHandover();
  } catch {
    // Offline: the order on screen stays; the next reconnect loads it again.
  }
}

function renderOrder() {
  consultPanel.setCasualty(record?.id ?? null, record ? record.tag || record.id.slice(0, 8) : '');
  $('order-none').textContent = order ? '' : strings.no_order;
  $('order-details').hidden = !order || !record;
  if (!order || !record) return;
  $('order-category').className = `chip ${record.category}`;
  $('order-category').textContent = strings.categories[record.category];
  $('order-tag').textContent = record.tag || record.id.slice(0, 8);
  $('order-person').textContent = [strings.age_groups[record.age_group], strings.sexes[record.sex]].filter(Boolean).join(', ');
  $('order-complaint').textContent = [record.complaint, ...(record.needs ?? [])].filter(Boolean).join(' · ');
  const pickup = order.pickup ?? record.pickup;
  $('order-pickup').textContent = `${pickup.lat.toFixed(5)}, ${pickup.lon.toFixed(5)}`;
  $('order-pickup-eta').textContent = order.pickup_eta ? format(strings.pickup_eta, { time: timeOf(order.pickup_eta) }) : '';
  $('order-hospital').textContent = order.hospital;
  $('order-eta').textContent = order.eta ? format(strings.eta, { time: timeOf(order.eta) }) : '';
}

// -- unit lifecycle -------------------------------------------------------------------------

function setStatus(next) {
  status = next;
  $('unit-status').textContent = strings.statuses[status];
  $('unit-status').dataset.status = status;
  const buttons = config.moves[status].map((target, index) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.status = target;
    button.textContent = strings.statuses[target];
    button.className = target === 'out_of_service' ? 'out' : index === 0 ? 'next' : '';
    button.addEventListener('click', () => changeStatus(target));
    return button;
  });
  $('status-buttons').replaceChildren(...buttons);
  $('handover-send').disabled = !(status === 'at_hospital' && record && !record.handedOver);
}

async function changeStatus(target) {
  const error = $('status-error');
  error.hidden = true;
  for (const button of $('status-buttons').querySelectorAll('button')) button.disabled = true;
  try {
    await client.send('unit.status', UNIT_TOPIC, { status: target });
    setStatus(target);
    if (target === 'available' || target === 'returning') loadOrder();
  } catch (failure) {
    error.textContent = format(strings.status_refused, { error: failure.message });
    error.hidden = false;
    setStatus(status);
  }
}

// -- position -------------------------------------------------------------------------------

let lastPositionAt = 0;
if ('geolocation' in navigator) {
  navigator.geolocation.watchPosition((position) => {
    const now = Date.now();
    if (now - lastPositionAt < POSITION_EVERY_MS) return;
    lastPositionAt = now;
    const { latitude, longitude, accuracy, heading, speed } = position.coords;
    const data = { t: new Date(position.timestamp).toISOString(), lat: latitude, lon: longitude };
    // The contract's ranges: a browser reports NaN or null heading when standing still.
    if (Number.isFinite(accuracy) && accuracy >= 0 && accuracy <= 10000) data.accuracy = accuracy;
    if (Number.isFinite(heading) && heading >= 0 && heading <= 360) data.heading = heading;
    if (Number.isFinite(speed) && speed >= 0 && speed <= 100) data.speed = speed;
    client.enqueue('position', UNIT_TOPIC, data).catch(() => {});
    $('gps-status').textContent = format(strings.gps_ok, { time: timeOf(data.t), accuracy: Math.round(accuracy) });
  }, (failure) => {
    $('gps-status').textContent = format(strings.gps_error, { error: failure.message });
  }, { enableHighAccuracy: true });
}

// -- monitor --------------------------------------------------------------------------------

const ecgBuffer = new Float32Array(250 * ECG_SECONDS);
let ecgWrite = 0;

function drawEcg() {
  const canvas = $('ecg');
  const context = canvas.getContext('2d');
  context.fillStyle = '#000';
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.strokeStyle = '#69f0ae';
  context.lineWidth = 2;
  context.beginPath();
  const toY = (mv) => canvas.height * 0.6 - mv * canvas.height * 0.35;
  for (let i = 0; i < ecgBuffer.length; i += 1) {
    const x = (i / ecgBuffer.length) * canvas.width;
    // A sweeping trace, as on a monitor: a gap just ahead of the write position.
    if (i === ecgWrite) context.moveTo(x, toY(ecgBuffer[i]));
    else if (i > ecgWrite && i < ecgWrite + 12) continue;
    else context.lineTo(x, toY(ecgBuffer[i]));
  }
  context.stroke();
}

function showVitals(vitals) {
  const cells = $('vitals-now');
  cells.querySelector('[data-vital=hr]').textContent = vitals.hr;
  cells.querySelector('[data-vital=spo2]').textContent = vitals.spo2;
  cells.querySelector('[data-vital=bp]').textContent = `${vitals.sbp}/${vitals.dbp}`;
  cells.querySelector('[data-vital=rr]').textContent = vitals.rr;
}

function startMonitor() {
  if (monitor) return;
  monitor = new SimulatedMonitor({ category: record?.category ?? 'yellow', random: Math.random });
  monitor.addEventListener('vitals', (event) => {
    showVitals(event.detail);
    if (record) client.enqueue('vitals', `casualty:${record.id}`, event.detail).catch(() => {});
  });
  monitor.addEventListener('waveform', (event) => {
    for (const sample of event.detail.samples) {
      ecgBuffer[ecgWrite] = sample;
      ecgWrite = (ecgWrite + 1) % ecgBuffer.length;
    }
    requestAnimationFrame(drawEcg);
    // Waveforms are for watching live: a backlog of them after a dead spot would only delay
    // the vitals and statuses queued behind, so they are sent only while connected.
    if (record && client.state === 'open') client.enqueue('waveform', `casualty:${record.id}`, event.detail).catch(() => {});
  });
  monitor.start();
  $('monitor-start').hidden = true;
  $('monitor-worse').hidden = false;
  $('monitor-state').textContent = strings.monitor_running;
}

$('monitor-start').addEventListener('click', startMonitor);
$('monitor-worse').addEventListener('click', () => monitor?.deteriorate(0.25));

// -- handover -------------------------------------------------------------------------------

const touched = new Set(); // fields the crew typed in keep their text when the record moves

function suggested() {
  const signs = [];
  if (record.fieldVitals) {
    const values = Object.keys(VITAL_ABBREVIATIONS).filter((key) => key in record.fieldVitals)
      .map((key) => `${VITAL_ABBREVIATIONS[key]} ${record.fieldVitals[key]}`).join(', ');
    signs.push(format(strings.field_vitals, { time: timeOf(record.fieldVitals.t), values }));
  }
  if (monitor) signs.push(format(strings.signs_from_monitor, monitor.vitals));
  return {
    age: [strings.age_groups[record.age_group], strings.sexes[record.sex]].filter(Boolean).join(', '),
    time: format(strings.reported_at, { time: timeOf(record.reported_at) }),
    mechanism: record.complaint ?? '',
    injuries: [record.complaint, ...(record.needs ?? [])].filter(Boolean).join('; '),
    signs: signs.join('\n'),
    treatment: record.notes.join('\n'),
  };
}

function prefillHandover() {
  if (!record) return;
  const form = $('handover-form');
  for (const [name, value] of Object.entries(suggested())) {
    if (!touched.has(name)) form.elements[name].value = value.slice(0, Number(form.elements[name].maxLength));
  }
  setStatus(status);
}

$('handover-form').addEventListener('input', (event) => touched.add(event.target.name));

$('handover-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  const atmist = {};
  for (const name of ['age', 'time', 'mechanism', 'injuries', 'signs', 'treatment']) {
    atmist[name] = form.elements[name].value.trim();
    if (!atmist[name]) {
      $('handover-state').textContent = strings.handover_missing;
      form.elements[name].focus();
      return;
    }
  }
  const data = { atmist };
  const notes = form.elements.notes.value.trim();
  if (notes) data.notes = notes;
  $('handover-send').disabled = true;
  $('handover-state').textContent = strings.handover_sent;
  try {
    await client.send('handover', `casualty:${record.id}`, data);
    record.handedOver = true;
    $('handover-state').textContent = strings.handover_saved;
    $('handover-state').dataset.state = 'saved';
  } catch (failure) {
    $('handover-state').textContent = format(strings.handover_refused, { error: failure.message });
    $('handover-state').dataset.state = 'refused';
    $('handover-send').disabled = false;
  }
});

setStatus(status);
renderOrder();
drawEcg();
client.subscribe(UNIT_TOPIC, { since: config.unitTopicHead }).catch(() => {});
client.start().catch(() => {});
