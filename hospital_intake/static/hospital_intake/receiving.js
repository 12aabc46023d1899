// The hospital receiving screen: inbound patients by ETA with their live record, the
// pre-arrival notice lifecycle, and the capacity this hospital publishes.
import { TerminalClient } from '../hub/js/protocol-client.js';
import { EcgStrip, VitalsChart } from '../hub/js/vitals-chart.js';
import { format, formatTime, syncRows } from '../hub/js/screen-kit.js';

const NOTICE_STEPS = ['sent', 'received', 'acknowledged', 'arrived', 'handed_over'];
const ATMIST_FIELDS = ['age', 'time', 'mechanism', 'injuries', 'signs', 'treatment'];

const state = JSON.parse(document.getElementById('receiving-state').textContent);
const strings = JSON.parse(document.getElementById('receiving-strings').textContent);
const t = (key, values) => format(strings[key] ?? key, values);
const root = document.getElementById('receiving');
const hospitalTopic = state.topic;

// Keyed by transport: the notice and the older `transport.assigned` copy describe one ride.
const inbound = new Map(state.inbound.map((row) => [row.transport, row]));
const arrivals = new Map(state.arrivals_today.map((row) => [row.transport, row]));
const records = new Map(); // casualty -> {vitals, chart, ecg, photos, atmist}
const receivedSent = new Set();
let muted = false;

const client = new TerminalClient();
const connection = root.querySelector('[data-testid=connection]');
client.addEventListener('state', (event) => {
  connection.dataset.state = event.detail;
  connection.textContent = t(`connection.${event.detail}`);
});
client.addEventListener('message', (event) => apply(event.detail));

function apply(frame) {
  const { data } = frame;
  if (frame.topic.startsWith('casualty:')) {
    applyRecord(frame.topic.slice('casualty:'.length), frame);
    return;
  }
  switch (frame.type) {
    case 'prearrival.notice':
    case 'transport.assigned': {
      const known = inbound.get(data.transport);
      const row = {
        notice_state: 'sent', status: 'assigned', arrived_at: null, tag: '', ...known,
        transport: data.transport, casualty: data.casualty, unit: data.unit, category: data.category,
        age_group: data.age_group ?? '', complaint: data.complaint ?? '', needs: data.needs ?? [],
        eta: data.eta ?? known?.eta ?? null, notice: data.notice ?? known?.notice ?? null,
        assigned_at: known?.assigned_at ?? frame.ts,
      };
      inbound.set(data.transport, row);
      if (!known) announce(row);
      break;
    }
    case 'prearrival.state': {
      const row = [...inbound.values()].find((r) => r.notice === data.notice || r.casualty === data.casualty);
      if (!row) break;
      row.notice_state = data.state;
      if (data.state === 'arrived' || data.state === 'handed_over') {
        row.arrived_at = row.arrived_at ?? frame.ts;
        arrivals.set(row.transport, row);
      }
      if (data.state === 'handed_over') {
        inbound.delete(row.transport);
        client.unsubscribe(`casualty:${row.casualty}`).catch(() => {});
      }
      break;
    }
    case 'transport.cancelled':
      inbound.delete(data.transport);
      records.delete(data.casualty);
      break;
    case 'capacity':
      showCapacity(data);
      break;
    default:
      return;
  }
  render();
}

// --- the alert of a new notice --------------------------------------------------------------

let audio = null;
function beep() {
  if (muted) return;
  audio = audio ?? new AudioContext();
  // Three short tones: distinct from a monitor alarm, audible across a resuscitation bay.
  for (let i = 0; i < 3; i += 1) {
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.value = 0.2;
    tone.connect(gain).connect(audio.destination);
    tone.start(audio.currentTime + i * 0.3);
    tone.stop(audio.currentTime + i * 0.3 + 0.18);
  }
}

function announce(row) {
  const banner = root.querySelector('[data-testid=new-notice]');
  banner.textContent = t('new_notice', { category: t(`category.${row.category}`), unit: row.unit });
  banner.hidden = false;
  root.dataset.alerting = 'true';
  setTimeout(() => {
    banner.hidden = true;
    delete root.dataset.alerting;
  }, 15000);
  beep();
}

const mute = root.querySelector('[data-action=mute]');
mute.addEventListener('click', () => {
  muted = !muted;
  mute.setAttribute('aria-pressed', String(muted));
});

// --- rendering ------------------------------------------------------------------------------

let renderQueued = false;
function render() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderInbound();
    renderArrivals();
  });
}

function countdown(eta, row) {
  if (row.arrived_at) return t('arrived_at', { time: formatTime(row.arrived_at) });
  if (!eta) return t('eta.none');
  const ms = Date.parse(eta) - Date.now();
  const total = Math.floor(Math.abs(ms) / 1000);
  const clock = `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
  return t(ms >= 0 ? 'eta.in' : 'eta.overdue', { time: formatTime(eta), countdown: clock });
}

function byEta(a, b) {
  return (a.eta ?? '9999').localeCompare(b.eta ?? '9999') || a.assigned_at.localeCompare(b.assigned_at);
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderInbound() {
  const list = root.querySelector('[data-testid=inbound]');
  const rows = [...inbound.values()].sort(byEta);
  list.querySelector('.none')?.remove();
  syncRows(list, rows, (row) => row.transport, (li, row) => {
    if (!li.childElementCount) buildCard(li, row);
    li.dataset.casualty = row.casualty;
    li.dataset.notice = row.notice_state;
    li.querySelector('.badge').className = `badge cat-${row.category}`;
    li.querySelector('.badge').textContent = t(`category.${row.category}`);
    li.querySelector('.countdown').textContent = countdown(row.eta, row);
    for (const step of li.querySelectorAll('.steps li')) {
      const index = NOTICE_STEPS.indexOf(step.dataset.step);
      const at = NOTICE_STEPS.indexOf(row.notice_state);
      step.classList.toggle('done', index <= at);
      step.toggleAttribute('aria-current', index === at);
    }
    li.querySelector('[data-action=acknowledge]').disabled = row.notice === null || NOTICE_STEPS.indexOf(row.notice_state) >= 2;
    li.querySelector('[data-action=handover]').hidden = row.notice_state !== 'arrived';
  });
  if (rows.length === 0) list.append(element('li', 'none', t('inbound.none')));
  for (const row of rows) {
    watchRecord(row.casualty);
    // The hub learns that the screen shows the notice; staff still have to acknowledge it.
    if (row.notice !== null && row.notice_state === 'sent' && !receivedSent.has(row.notice)) {
      receivedSent.add(row.notice);
      client.enqueue('prearrival.ack', hospitalTopic, { notice: row.notice, state: 'received' });
    }
  }
}

function buildCard(li, row) {
  li.className = 'inbound-card';
  const head = element('p', 'card-head');
  head.append(element('span', 'badge'), element('strong', 'who', [row.tag || row.casualty.slice(0, 8), row.age_group ? t(`age.${row.age_group}`) : ''].filter(Boolean).join(' · ')),
    element('span', 'unit', t('unit', { unit: row.unit })), element('span', 'countdown'));
  const complaint = element('p', 'complaint', [row.complaint, row.needs.map((n) => t(`need.${n}`)).join(', ')].filter(Boolean).join(' — '));
  const steps = element('ol', 'steps');
  for (const step of NOTICE_STEPS) {
    const item = element('li', '', t(`notice.${step}`));
    item.dataset.step = step;
    steps.append(item);
  }
  const acknowledge = element('button', 'primary', t('acknowledge'));
  acknowledge.type = 'button';
  acknowledge.dataset.action = 'acknowledge';
  acknowledge.addEventListener('click', () => send('prearrival.ack', { notice: row.notice, state: 'acknowledged' }, li));
  const handover = element('button', '', t('accept_handover'));
  handover.type = 'button';
  handover.dataset.action = 'handover';
  handover.addEventListener('click', () => send('handover.accept', { casualty: row.casualty }, li));
  const actions = element('p', 'actions');
  actions.append(acknowledge, handover);
  const record = element('div', 'record');
  const vitals = element('div', 'vitals-last', t('vitals.none'));
  vitals.dataset.testid = 'vitals-last';
  const chart = element('div', 'vitals-chart');
  const ecg = element('canvas', 'ecg');
  ecg.width = 480;
  ecg.height = 110;
  ecg.setAttribute('aria-label', t('ecg'));
  const photos = element('div', 'photos');
  const atmist = element('dl', 'atmist');
  atmist.append(element('dt', '', t('atmist.none')));
  record.append(vitals, chart, ecg, photos, atmist);
  li.append(head, complaint, steps, actions, element('p', 'feedback'), record);
}

async function send(type, data, li) {
  try {
    await client.send(type, hospitalTopic, data);
    li.querySelector('.feedback').textContent = '';
  } catch (error) {
    li.querySelector('.feedback').textContent = t('refused', { code: error.code, message: error.message.replace(`${error.code}: `, '') });
  }
}

function renderArrivals() {
  const rows = [...arrivals.values()].sort((a, b) => b.arrived_at.localeCompare(a.arrived_at));
  syncRows(root.querySelector('[data-testid=arrivals] tbody'), rows, (row) => row.transport, (tr, row) => {
    tr.dataset.casualty = row.casualty;
    const cells = [formatTime(row.arrived_at), t(`category.${row.category}`), row.tag || row.casualty.slice(0, 8), row.unit, t(`notice.${row.notice_state}`)];
    while (tr.children.length < cells.length) tr.append(document.createElement('td'));
    cells.forEach((value, index) => { tr.children[index].textContent = value; });
  });
}

// --- the record of each inbound casualty -----------------------------------------------------

function watchRecord(casualty) {
  if (records.has(casualty)) return;
  const card = () => root.querySelector(`[data-testid=inbound] [data-casualty="${casualty}"]`);
  const labels = Object.fromEntries(['hr', 'spo2', 'rr', 'sbp'].map((k) => [k, t(`vitals.${k}`)]));
  records.set(casualty, {
    chart: new VitalsChart(card().querySelector('.vitals-chart'), labels, { width: 460, height: 150 }),
    ecg: new EcgStrip(card().querySelector('.ecg')),
    card,
  });
  // The record so far is in the casualty's journal: replay it from the start. A record this
  // hospital may no longer read (the transport was cancelled) simply stops updating.
  client.subscribe(`casualty:${casualty}`, { since: 0 }).catch(() => {});
}

function applyRecord(casualty, frame) {
  const record = records.get(casualty);
  const card = record?.card();
  if (!card) return;
  const { data } = frame;
  if (frame.type === 'vitals') {
    record.chart.add(data);
    card.querySelector('.vitals-last').textContent = Object.entries(data).filter(([k]) => k !== 't')
      .map(([k, v]) => `${t(`vitals.${k}`)} ${v}`).join('  ');
  } else if (frame.type === 'waveform') {
    record.ecg.add(data);
  } else if (frame.type === 'media' && data.kind === 'image') {
    const img = document.createElement('img');
    img.src = data.url;
    img.alt = data.caption ?? t('photo');
    card.querySelector('.photos').append(img);
  } else if (frame.type === 'handover') {
    const list = card.querySelector('.atmist');
    list.replaceChildren();
    for (const field of ATMIST_FIELDS) list.append(element('dt', '', t(`atmist.${field}`)), element('dd', '', data.atmist[field]));
  } else if (frame.type === 'triage.update') {
    const row = [...inbound.values()].find((r) => r.casualty === casualty);
    if (row) row.category = data.category;
    render();
  }
}

// --- capacity -------------------------------------------------------------------------------

const form = root.querySelector('[data-testid=capacity-form]');
const capacityFeedback = root.querySelector('[data-testid=capacity-feedback]');
let editing = false;
form.addEventListener('input', () => { editing = true; });

function showCapacity(capacity) {
  // What staff are typing is not overwritten by a publication from elsewhere.
  if (editing) return;
  for (const key of ['red', 'yellow', 'green']) form.elements[key].value = capacity.beds[key];
  form.elements.diversion.checked = capacity.diversion;
  form.elements.note.value = capacity.note ?? '';
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const data = {
    beds: Object.fromEntries(['red', 'yellow', 'green'].map((key) => [key, Number(form.elements[key].value)])),
    diversion: form.elements.diversion.checked,
  };
  if (form.elements.note.value.trim()) data.note = form.elements.note.value.trim();
  try {
    const ack = await client.send('capacity', hospitalTopic, data);
    editing = false;
    capacityFeedback.textContent = t('published', { time: formatTime(new Date().toISOString()) });
    capacityFeedback.dataset.seq = ack.seq;
  } catch (error) {
    capacityFeedback.textContent = t('refused', { code: error.code, message: error.message.replace(`${error.code}: `, '') });
  }
});

// --- start ----------------------------------------------------------------------------------

showCapacity(state.hospital);
render();
setInterval(() => {
  for (const li of root.querySelectorAll('[data-testid=inbound] .inbound-card')) {
    const row = inbound.get(Number(li.dataset.key));
    if (row) li.querySelector('.countdown').textContent = countdown(row.eta, row);
  }
}, 1000);
client.start();
client.subscribe(hospitalTopic, { since: state.since });
