// The consult controls of the field tablet and the ambulance app: ask for an expert on the
// current casualty, follow the request (offered, joined, ended), the call itself, the
// expert's advice, and ending it. The page hands over its protocol client.
import { ConsultCall, fetchIceServers, isRecorded, openLocalMedia, toggleTracks } from './consult-call.js';

const format = (template, values = {}) => template.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));

/**
 * @param {object} options
 * @param {import('../../hub/js/protocol-client.js').TerminalClient} options.client
 * @param {string} options.me this terminal's name
 * @param {HTMLElement} [options.root]
 * @returns {{setCasualty: (id: string|null, label?: string) => void}}
 */
export function mountConsultPanel({ client, me, root = document.getElementById('consult-panel') }) {
  const strings = JSON.parse(document.getElementById('consult-strings').textContent);
  const t = (key, values) => format(strings[key] ?? key, values);
  const $ = (testid) => root.querySelector(`[data-testid=${testid}]`);
  // The open consult survives a reload of the page (the call itself does not: it rejoins).
  const storageKey = `consult:${me}`;
  const form = $('consult-request');
  const remoteVideo = $('consult-remote-video');
  const localVideo = $('consult-local-video');
  let casualty = null;
  let casualtyLabel = '';
  let active = null; // {consult, casualty, label, status, call, localStream, live, lastState}
  let ended = null; // the last consult that ended, still on screen

  client.addEventListener('state', () => render());
  client.addEventListener('message', (event) => {
    if (active && event.detail.topic === `consult:${active.consult}`) apply(event.detail);
  });

  function render() {
    const shown = active ?? ended;
    root.dataset.state = shown?.status ?? 'none';
    form.hidden = Boolean(active);
    $('consult-live').hidden = !shown;
    form.querySelector('[type=submit]').disabled = !casualty || client.state !== 'open';
    $('consult-casualty').textContent = active
      ? t('for_casualty', { casualty: active.label })
      : casualty ? t('for_casualty', { casualty: casualtyLabel }) : t('no_casualty');
    if (shown) $('consult-state').textContent = t(`status.${shown.status}`);
    for (const control of root.querySelectorAll('.consult-chat, [data-action=end]')) control.hidden = !active;
    renderToggles();
  }

  function renderToggles() {
    const stream = active?.localStream;
    for (const [action, kind, label] of [['toggle-mic', 'audio', 'mic'], ['toggle-camera', 'video', 'camera']]) {
      const button = root.querySelector(`[data-action=${action}]`);
      const tracks = stream?.getTracks().filter((track) => track.kind === kind) ?? [];
      const on = tracks.some((track) => track.enabled);
      button.disabled = tracks.length === 0;
      button.textContent = t(on ? `${label}.off` : `${label}.on`);
      button.setAttribute('aria-pressed', String(!on && tracks.length > 0));
    }
  }

  function feedback(text) {
    $('consult-feedback').textContent = text;
  }

  function refused(error) {
    return t('refused', { code: error.code ?? '', message: (error.message ?? '').replace(`${error.code}: `, '') });
  }

  // -- the call ----------------------------------------------------------------------------

  function startCall(consult, iceServers) {
    const media = openLocalMedia();
    const call = new ConsultCall({ client, me, consult: consult.consult, requester: me, localMedia: media.then(({ stream }) => stream), iceServers });
    consult.call = call;
    call.addEventListener('remote', (event) => {
      remoteVideo.srcObject = event.detail.stream;
      remoteVideo.dataset.peer = event.detail.peer;
    });
    call.addEventListener('peerstate', (event) => {
      const peer = $('consult-peer');
      peer.dataset.state = event.detail.state;
      peer.textContent = t(`peer.${event.detail.state}`);
    });
    call.addEventListener('stats', (event) => {
      if (event.detail.peer !== remoteVideo.dataset.peer) return;
      const received = $('consult-received');
      received.dataset.bytes = event.detail.bytes;
      received.textContent = t('received', { kb: Math.round(event.detail.bytes / 1000), width: event.detail.width, height: event.detail.height });
    });
    call.addEventListener('failure', (event) => feedback(String(event.detail.error?.message ?? event.detail.error)));
    media.then(({ stream, problem, detail }) => {
      if (consult !== active) {
        for (const track of stream?.getTracks() ?? []) track.stop();
        return;
      }
      consult.localStream = stream;
      localVideo.srcObject = stream;
      const problemLine = $('consult-media-problem');
      problemLine.hidden = !problem;
      problemLine.textContent = problem ? t(`media.${problem}`, { detail }) : '';
      render();
    });
  }

  function endCall(consult) {
    consult.call?.close();
    for (const track of consult.localStream?.getTracks() ?? []) track.stop();
    remoteVideo.srcObject = null;
    localVideo.srcObject = null;
  }

  // -- the consult topic -------------------------------------------------------------------

  function apply(frame) {
    const { data } = frame;
    if (frame.type === 'consult.state') {
      const joinedBefore = active.status === 'joined';
      active.status = data.status;
      active.lastState = data;
      $('consult-recording').hidden = !isRecorded(data);
      $('consult-recording').textContent = t('recording');
      if (data.status === 'ended') {
        finish();
        return;
      }
      if (active.live) active.call?.applyState(data);
      const expert = data.participants.find((p) => p.terminal !== me && p.role === 'participant');
      if (expert && !joinedBefore && data.status === 'joined') feedback(t('expert_joined', { expert: expert.terminal }));
    } else if (frame.type.startsWith('rtc.')) {
      // Signalling replayed from before this page was loaded belongs to calls that are gone.
      if (active.live) active.call?.applySignal(frame);
      return;
    } else if (frame.type === 'advice') {
      addMessage('advice', t('advice.from', { who: frame.from }), data.text);
    } else if (frame.type === 'note') {
      addMessage('chat', frame.from, data.text);
    } else if (frame.type === 'media' && data.kind === 'image') {
      addImage(data);
    } else if (frame.type === 'consult.end') {
      addMessage('end', t('ended_by', { who: frame.from }), data.summary ? t('summary', { text: data.summary }) : '');
    }
    render();
  }

  function addMessage(kind, who, text) {
    const item = document.createElement('li');
    item.className = `message ${kind}`;
    item.dataset.kind = kind;
    const author = document.createElement('strong');
    author.textContent = who;
    item.append(author, document.createTextNode(text ? ` ${text}` : ''));
    $('consult-messages').append(item);
  }

  function addImage(data) {
    const item = document.createElement('li');
    item.className = 'message image';
    const img = document.createElement('img');
    img.src = data.url;
    img.alt = data.caption ?? t('image');
    item.append(img);
    $('consult-messages').append(item);
  }

  async function follow(consult, { rejoin }) {
    // The call exists before the topic is read, so no live offer can find it missing.
    const iceServers = await fetchIceServers().catch(() => []);
    if (consult !== active) return;
    startCall(consult, iceServers);
    try {
      await client.subscribe(`consult:${consult.consult}`, { since: 0 });
    } catch {
      // The consult ended while the page was away, or this terminal is no longer in it.
      forget();
      return;
    }
    if (consult !== active || consult.status === 'ended') return;
    if (rejoin) {
      // A fresh seat puts this terminal last in the join order: it offers to the others.
      await client.send('consult.join', `consult:${consult.consult}`, {}).catch((error) => feedback(refused(error)));
    }
    consult.live = true;
    if (consult === active && consult.lastState) consult.call.applyState(consult.lastState);
  }

  // The outcome (advice, who ended it) stays readable until the next request.
  function finish() {
    endCall(active);
    client.unsubscribe(`consult:${active.consult}`).catch(() => {});
    sessionStorage.removeItem(storageKey);
    ended = { ...active, status: 'ended' };
    active = null;
    render();
  }

  function forget() {
    sessionStorage.removeItem(storageKey);
    if (active) endCall(active);
    active = null;
    render();
  }

  // -- controls ----------------------------------------------------------------------------

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!casualty || active) return;
    const data = { consult: crypto.randomUUID(), specialty: form.elements.specialty.value, urgency: form.elements.urgency.value };
    const reason = form.elements.reason.value.trim();
    if (reason) data.reason = reason.slice(0, 500);
    if (form.elements.record.checked) data.record = true;
    $('consult-messages').replaceChildren();
    ended = null;
    feedback(t('requesting'));
    try {
      await client.send('consult.request', `casualty:${casualty}`, data);
    } catch (error) {
      feedback(refused(error));
      return;
    }
    feedback('');
    active = { consult: data.consult, casualty, label: casualtyLabel, status: 'requested', call: null, localStream: null, live: false, lastState: null };
    sessionStorage.setItem(storageKey, JSON.stringify({ consult: active.consult, casualty, label: casualtyLabel }));
    form.reset();
    render();
    follow(active, { rejoin: false });
  });

  root.querySelector('[data-action=end]').addEventListener('click', async () => {
    if (!active) return;
    try {
      await client.send('consult.end', `consult:${active.consult}`, {});
    } catch (error) {
      feedback(refused(error));
    }
  });

  $('consult-chat').addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = event.target.elements.text;
    const text = input.value.trim();
    if (!active || !text) return;
    try {
      await client.send('note', `consult:${active.consult}`, { text: text.slice(0, 4000) });
      input.value = '';
    } catch (error) {
      feedback(refused(error));
    }
  });

  for (const [action, kind] of [['toggle-mic', 'audio'], ['toggle-camera', 'video']]) {
    root.querySelector(`[data-action=${action}]`).addEventListener('click', () => {
      toggleTracks(active?.localStream, kind);
      renderToggles();
    });
  }

  const kept = JSON.parse(sessionStorage.getItem(storageKey) ?? 'null');
  if (kept) {
    active = { ...kept, status: 'requested', call: null, localStream: null, live: false, lastState: null };
    follow(active, { rejoin: true });
  }
  render();

  return {
    setCasualty(id, label = '') {
      casualty = id;
      casualtyLabel = label || (id ? id.slice(0, 8) : '');
      render();
    },
  };
}
