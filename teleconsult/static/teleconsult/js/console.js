// The remote expert console: the live queue of consult requests offered to this expert, the
// call with the requesting crew, the casualty's live vitals and ECG beside it, images (the
// crew's and the expert's own), chat, advice into the record, and ending the consult with a
// summary. After a reload it rejoins the consult it sits in.
import { uploadMedia } from '../../field_terminal/js/upload.js';
import { TerminalClient } from '../../hub/js/protocol-client.js';
import { EcgStrip, VitalsChart } from '../../hub/js/vitals-chart.js';
import { format, formatTime, minutesSince, syncRows } from '../../hub/js/screen-kit.js';
import { ConsultCall, fetchIceServers, isRecorded, openLocalMedia, toggleTracks } from './consult-call.js';

const URGENCY_RANK = { immediate: 0, urgent: 1, routine: 2 };
// The hub withdraws taken and ended requests live (`consult.withdrawn`); the queue is read
// again this often as well, for what a socket that was away missed.
const QUEUE_REFRESH_MS = 15000;
const TREND = ['hr', 'spo2', 'rr', 'sbp'];

const state = JSON.parse(document.getElementById('console-state').textContent);
const strings = JSON.parse(document.getElementById('console-strings').textContent);
const t = (key, values) => format(strings[key] ?? key, values);
const root = document.getElementById('expert-console');
const $ = (testid) => root.querySelector(`[data-testid=${testid}]`);
const consultPanel = $('consult');

const queue = new Map(state.queue.map((row) => [row.consult, row]));
// Withdrawn live: a queue read that raced the withdrawal must not bring these back.
const gone = new Set();
let current = null; // {row, call, localStream, live, lastState, chart, ecg}
let muted = false;

const client = new TerminalClient();
client.addEventListener('state', (event) => {
  $('connection').dataset.state = event.detail;
  $('connection').textContent = t(`hub.${event.detail}`);
  if (event.detail === 'open') refreshQueue();
});
client.addEventListener('message', (event) => apply(event.detail));

function apply(frame) {
  if (frame.topic === state.topic) {
    if (frame.type === 'consult.offered') offered(frame);
    else if (frame.type === 'consult.withdrawn') withdrawn(frame.data);
    return;
  }
  if (!current) return;
  if (frame.topic === `consult:${current.row.consult}`) applyConsult(frame);
  else if (frame.topic === `casualty:${current.row.casualty}`) applyRecord(frame);
}

// --- the queue ------------------------------------------------------------------------------

function offered(frame) {
  const { data } = frame;
  if (queue.has(data.consult)) return;
  const row = {
    consult: data.consult, casualty: data.casualty, specialty: data.specialty, urgency: data.urgency,
    reason: data.reason ?? '', status: 'offered', category: data.category,
    requested_by: data.requested_by, requested_at: frame.ts, exercise: data.exercise === true,
  };
  queue.set(row.consult, row);
  renderQueue();
  announce(row);
}

function withdrawn({ consult, reason, by }) {
  const row = queue.get(consult);
  if (reason === 'taken' && by === state.terminal) {
    if (row) row.status = 'joined';
    renderQueue();
    return;
  }
  gone.add(consult);
  // The call on screen ends through its own topic, which says who ended it and how.
  if (!row || current?.row.consult === consult) return;
  queue.delete(consult);
  renderQueue();
  $('queue-feedback').textContent = t(`withdrawn.${reason}`, { who: by, specialty: strings.specialties[row.specialty] ?? row.specialty });
}

async function refreshQueue() {
  try {
    const response = await fetch('/api/v1/consults/queue', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (!response.ok) return;
    const { consults } = await response.json();
    queue.clear();
    for (const row of consults) if (!gone.has(row.consult)) queue.set(row.consult, row);
    renderQueue();
  } catch {
    // Offline: the queue on screen stays until the next refresh.
  }
}

function byUrgencyThenAge(a, b) {
  return (URGENCY_RANK[a.urgency] ?? 3) - (URGENCY_RANK[b.urgency] ?? 3) || a.requested_at.localeCompare(b.requested_at);
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function age(iso) {
  const minutes = minutesSince(iso);
  return minutes === 0 ? t('age.now') : t('age', { minutes });
}

function renderQueue() {
  const list = $('queue');
  const rows = [...queue.values()].sort(byUrgencyThenAge);
  list.querySelector('.none')?.remove();
  syncRows(list, rows, (row) => row.consult, (li, row) => {
    if (!li.childElementCount) buildRequest(li, row);
    li.dataset.consult = row.consult;
    li.dataset.urgency = row.urgency;
    li.dataset.status = row.status;
    li.dataset.exercise = String(Boolean(row.exercise));
    li.querySelector('.exercise-mark').hidden = !row.exercise;
    li.querySelector('.triage').className = `triage badge cat-${row.category}`;
    li.querySelector('.triage').textContent = t(`category.${row.category}`);
    li.querySelector('.age').textContent = age(row.requested_at);
    li.querySelector('.age').title = formatTime(row.requested_at);
    li.querySelector('[data-action=join]').disabled = Boolean(current) || client.state !== 'open';
    li.classList.toggle('current', current?.row.consult === row.consult);
  });
  if (rows.length === 0) list.append(element('li', 'none', t('queue.none')));
}

function buildRequest(li, row) {
  li.className = 'request';
  const head = element('p', 'request-head');
  const exercise = element('span', 'badge exercise-mark', t('exercise'));
  exercise.dataset.testid = 'exercise-mark';
  head.append(
    element('span', `urgency urgency-${row.urgency}`, strings.urgencies[row.urgency] ?? row.urgency),
    element('strong', 'specialty', strings.specialties[row.specialty] ?? row.specialty),
    element('span', 'triage badge'),
    exercise,
    element('span', 'age'),
  );
  const reason = element('p', 'reason', row.reason);
  const who = element('p', 'who muted', t('requested_by', { who: row.requested_by }));
  const join = element('button', 'primary', t('join'));
  join.type = 'button';
  join.dataset.action = 'join';
  join.addEventListener('click', () => joinConsult(row));
  li.append(head, reason, who, join);
}

// --- the alert of a new request ---------------------------------------------------------------

let audio = null;
function beep(urgency) {
  if (muted) return;
  audio = audio ?? new AudioContext();
  // Two rising tones; an immediate request repeats them so it is heard over the call.
  const repeats = urgency === 'immediate' ? 3 : 1;
  for (let i = 0; i < repeats * 2; i += 1) {
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = i % 2 === 0 ? 660 : 990;
    gain.gain.value = 0.15;
    tone.connect(gain).connect(audio.destination);
    tone.start(audio.currentTime + i * 0.25);
    tone.stop(audio.currentTime + i * 0.25 + 0.15);
  }
}

function announce(row) {
  const banner = $('new-request');
  const text = t('new_request', { urgency: strings.urgencies[row.urgency] ?? row.urgency, specialty: strings.specialties[row.specialty] ?? row.specialty });
  banner.textContent = row.exercise ? `${t('exercise')} · ${text}` : text;
  banner.hidden = false;
  setTimeout(() => { banner.hidden = true; }, 15000);
  beep(row.urgency);
}

const mute = root.querySelector('[data-action=mute]');
mute.addEventListener('click', () => {
  muted = !muted;
  mute.setAttribute('aria-pressed', String(muted));
});

// --- joining and the call ---------------------------------------------------------------------

function refused(error) {
  return t('refused', { code: error.code ?? '', message: (error.message ?? '').replace(`${error.code}: `, '') });
}

async function joinConsult(row, { rejoin = false } = {}) {
  if (current) return;
  const topic = `consult:${row.consult}`;
  $('queue-feedback').textContent = t(rejoin ? 'rejoining' : 'joining');
  try {
    await client.send('consult.join', topic, {});
  } catch (error) {
    // Taken by nobody else but ended, or no longer this expert's to join: it leaves the queue.
    $('queue-feedback').textContent = refused(error);
    queue.delete(row.consult);
    renderQueue();
    return;
  }
  $('queue-feedback').textContent = '';
  const media = openLocalMedia();
  const iceServers = await fetchIceServers().catch(() => []);
  const call = new ConsultCall({ client, me: state.terminal, consult: row.consult, requester: row.requested_by, localMedia: media.then(({ stream }) => stream), iceServers });
  const labels = Object.fromEntries(TREND.map((key) => [key, t(`vitals.${key}`)]));
  current = {
    row, call, localStream: null, live: false, lastState: null,
    chart: new VitalsChart($('vitals-chart'), labels, { width: 520, height: 170 }),
    ecg: new EcgStrip($('ecg')),
  };
  wireCall(current);
  showConsult(row);
  renderQueue();
  media.then(({ stream, problem, detail }) => {
    if (!current || current.call !== call) {
      for (const track of stream?.getTracks() ?? []) track.stop();
      return;
    }
    current.localStream = stream;
    $('local-video').srcObject = stream;
    $('media-problem').hidden = !problem;
    $('media-problem').textContent = problem ? t(`media.${problem}`, { detail }) : '';
    renderToggles();
  });
  const joined = current;
  try {
    await client.subscribe(topic, { since: 0 });
  } catch (error) {
    $('consult-feedback').textContent = refused(error);
    return;
  }
  if (current !== joined) return;
  // Signalling before this point was replayed from earlier calls; from here it is live.
  joined.live = true;
  if (joined.lastState) call.applyState(joined.lastState);
  client.subscribe(`casualty:${row.casualty}`, { since: 0 }).catch((error) => {
    $('consult-feedback').textContent = refused(error);
  });
}

function wireCall(consult) {
  const { call } = consult;
  const remote = $('remote-video');
  call.addEventListener('remote', (event) => {
    remote.srcObject = event.detail.stream;
    remote.dataset.peer = event.detail.peer;
  });
  call.addEventListener('peerstate', (event) => {
    const line = $('peer-state');
    line.dataset.state = event.detail.state;
    line.textContent = `${t(`peer.${event.detail.state}`)} (${event.detail.peer})`;
  });
  call.addEventListener('stats', (event) => {
    if (event.detail.peer !== remote.dataset.peer) return;
    const line = $('received');
    line.dataset.bytes = event.detail.bytes;
    line.textContent = t('received', { kb: Math.round(event.detail.bytes / 1000), width: event.detail.width, height: event.detail.height });
  });
  call.addEventListener('failure', (event) => {
    $('consult-feedback').textContent = String(event.detail.error?.message ?? event.detail.error);
  });
}

function showConsult(row) {
  consultPanel.dataset.state = 'joined';
  consultPanel.dataset.consult = row.consult;
  $('consult-idle').hidden = true;
  $('consult-ended').hidden = true;
  $('consult-body').hidden = false;
  $('consult-triage').className = `badge cat-${row.category}`;
  $('consult-triage').textContent = t('triage', { category: t(`category.${row.category}`) });
  $('consult-title').textContent = `${strings.specialties[row.specialty] ?? row.specialty} · ${strings.urgencies[row.urgency] ?? row.urgency} · ${t('requested_by', { who: row.requested_by })}`;
  $('consult-reason').textContent = row.reason;
  $('consult-exercise').hidden = !row.exercise;
  $('consult-exercise').textContent = t('exercise.call');
  $('consult-state').textContent = t('status.joined');
  $('vitals-last').textContent = t('vitals.none');
  $('messages').replaceChildren();
  $('images').replaceChildren();
  $('image-progress').hidden = true;
  imageStatus('none', '');
  $('consult-feedback').textContent = '';
  renderToggles();
}

function renderToggles() {
  const stream = current?.localStream;
  for (const [action, kind, label] of [['toggle-mic', 'audio', 'mic'], ['toggle-camera', 'video', 'camera']]) {
    const button = root.querySelector(`[data-action=${action}]`);
    const tracks = stream?.getTracks().filter((track) => track.kind === kind) ?? [];
    const on = tracks.some((track) => track.enabled);
    button.disabled = tracks.length === 0;
    button.textContent = t(on ? `${label}.off` : `${label}.on`);
    button.setAttribute('aria-pressed', String(!on && tracks.length > 0));
  }
}

for (const [action, kind] of [['toggle-mic', 'audio'], ['toggle-camera', 'video']]) {
  root.querySelector(`[data-action=${action}]`).addEventListener('click', () => {
    toggleTracks(current?.localStream, kind);
    renderToggles();
  });
}

// --- the consult topic and the casualty's record ------------------------------------------------

function applyConsult(frame) {
  const { data } = frame;
  if (frame.type === 'consult.state') {
    current.lastState = data;
    $('consult-state').textContent = t(`status.${data.status}`);
    $('recording').hidden = !isRecorded(data);
    $('recording').textContent = t('recording');
    if (data.status === 'ended') {
      finish();
      return;
    }
    if (current.live) current.call.applyState(data);
  } else if (frame.type.startsWith('rtc.')) {
    if (current.live) current.call.applySignal(frame);
  } else if (frame.type === 'advice') {
    addMessage('advice', t('advice.from', { who: frame.from }), data.text);
  } else if (frame.type === 'note') {
    addMessage('chat', frame.from, data.text);
  } else if (frame.type === 'media' && data.kind === 'image') {
    addImage(data);
  } else if (frame.type === 'consult.end') {
    current.endedBy = t('ended_by', { who: frame.from });
    current.summary = data.summary ? t('summary', { text: data.summary }) : '';
  }
}

function applyRecord(frame) {
  const { data } = frame;
  if (frame.type === 'vitals') {
    current.chart.add(data);
    $('vitals-last').textContent = Object.entries(data).filter(([key]) => key !== 't')
      .map(([key, value]) => `${t(`vitals.${key}`)} ${value}`).join('  ');
  } else if (frame.type === 'waveform') {
    current.ecg.add(data);
  } else if (frame.type === 'media' && data.kind === 'image') {
    addImage(data);
  } else if (frame.type === 'triage.update') {
    current.row.category = data.category;
    $('consult-triage').className = `badge cat-${data.category}`;
    $('consult-triage').textContent = t('triage', { category: t(`category.${data.category}`) });
  }
}

function addMessage(kind, who, text) {
  const item = element('li', `message ${kind}`);
  item.dataset.kind = kind;
  item.append(element('strong', '', who), document.createTextNode(` ${text}`));
  $('messages').append(item);
}

function addImage(data) {
  const images = $('images');
  if (images.querySelector(`[data-media="${data.media}"]`)) return;
  const link = element('a');
  link.href = data.url;
  link.target = '_blank';
  link.rel = 'noopener';
  link.dataset.media = data.media;
  const img = element('img');
  img.src = data.url;
  img.alt = data.caption ?? t('image');
  link.append(img);
  images.append(link);
}

function finish() {
  const ended = current;
  current = null;
  ended.call.close();
  for (const track of ended.localStream?.getTracks() ?? []) track.stop();
  ended.chart.destroy();
  $('remote-video').srcObject = null;
  $('local-video').srcObject = null;
  client.unsubscribe(`consult:${ended.row.consult}`).catch(() => {});
  client.unsubscribe(`casualty:${ended.row.casualty}`).catch(() => {});
  queue.delete(ended.row.consult);
  consultPanel.dataset.state = 'ended';
  $('consult-body').hidden = true;
  const message = $('consult-ended');
  message.textContent = [ended.endedBy, ended.summary, t('ended.back')].filter(Boolean).join(' · ');
  message.hidden = false;
  renderQueue();
}

// --- forms --------------------------------------------------------------------------------------

async function sendFromForm(form, type, field) {
  if (!current) return;
  const text = form.elements[field].value.trim();
  const data = {};
  if (text) data[field] = text;
  else if (type !== 'consult.end') return;
  try {
    await client.send(type, `consult:${current.row.consult}`, data);
    form.elements[field].value = '';
    $('consult-feedback').textContent = '';
  } catch (error) {
    $('consult-feedback').textContent = refused(error);
  }
}

$('chat-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sendFromForm(event.target, 'note', 'text');
});
$('advice-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sendFromForm(event.target, 'advice', 'text');
});
$('end-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sendFromForm(event.target, 'consult.end', 'summary');
});

// The expert's own image: uploaded over HTTP, then referred to on the consult topic, where it
// joins the casualty's record and reaches the crew (and this page) as a `media` frame.
function imageStatus(phase, text) {
  const line = $('image-status');
  line.dataset.state = phase;
  line.classList.toggle('error', phase === 'failed');
  line.textContent = text;
}

$('image-file').addEventListener('change', async (event) => {
  const file = event.target.files[0];
  const consult = current;
  if (!file || !consult) return;
  const progress = $('image-progress');
  progress.hidden = false;
  progress.value = 0;
  imageStatus('uploading', t('image.uploading'));
  let uploaded;
  try {
    uploaded = await uploadMedia(file, { kind: 'image', onProgress: (fraction) => { progress.value = Math.round(fraction * 100); } });
  } catch (failure) {
    progress.hidden = true;
    imageStatus('failed', failure.message === 'network' ? t('image.offline') : t('image.failed', { error: failure.message }));
    return;
  } finally {
    event.target.value = '';
  }
  progress.value = 100;
  const caption = $('image-caption').value.trim();
  const data = { media: uploaded.id, kind: 'image' };
  if (caption) data.caption = caption.slice(0, 500);
  try {
    await client.send('media', `consult:${consult.row.consult}`, data);
  } catch (error) {
    imageStatus('failed', refused(error));
    return;
  }
  $('image-caption').value = '';
  imageStatus('shared', t('image.shared'));
});

// --- start --------------------------------------------------------------------------------------

renderQueue();
setInterval(renderQueue, 30000);
setInterval(refreshQueue, QUEUE_REFRESH_MS);
client.start();
client.subscribe(state.topic, { since: state.since });
// The consult this expert sat in before the page was reloaded: a fresh seat puts it last in
// the join order, so it offers to the others and the call comes back by itself.
const seat = state.seat && queue.get(state.seat);
if (seat) joinConsult(seat, { rejoin: true });
