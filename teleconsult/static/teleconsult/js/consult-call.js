// One terminal's WebRTC side of a consult (docs/teleconsult.md "Signalling"): which peers it
// offers to, the SDP and ICE exchange over the consult topic, and the remote streams.
// Shared by the expert console and the consult panel of the field and ambulance pages.

const BRIDGE = 'bridge';
const KINDS = ['audio', 'video'];
const STATS_EVERY_MS = 1000;

/**
 * What this terminal does on its link with each other participant, from the hub-made
 * participant list (join order). The later joiner offers; the requester offers to the
 * bridge when it records or fans out, and in fan-out mode every other participant offers
 * to the bridge for the requester's relayed uplink instead of taking it peer to peer.
 *
 * @param {object} consult
 * @param {string} consult.me this terminal's name
 * @param {string} consult.requester the terminal that requested the consult
 * @param {{terminal: string, role: string}[]} consult.participants in join order
 * @param {boolean} consult.record
 * @param {boolean} consult.fanout
 * @returns {Map<string, {offer: boolean, send: boolean, receive: boolean}>} by peer name
 */
export function linkPlan({ me, requester, participants, record, fanout }) {
  const links = new Map();
  const mine = participants.findIndex((p) => p.terminal === me);
  if (mine < 0) return links;
  const bridge = participants.find((p) => p.role === BRIDGE);
  const relayed = Boolean(fanout && bridge);
  participants.forEach((peer, index) => {
    if (peer.terminal === me) return;
    if (peer.role === BRIDGE) {
      if (me === requester && (record || fanout)) links.set(peer.terminal, { offer: true, send: true, receive: false });
      else if (me !== requester && fanout) links.set(peer.terminal, { offer: true, send: false, receive: true });
      return;
    }
    links.set(peer.terminal, {
      offer: index < mine,
      send: !(relayed && me === requester),
      receive: !(relayed && peer.terminal === requester),
    });
  });
  return links;
}

function direction(send, receive) {
  if (send && receive) return 'sendrecv';
  if (send) return 'sendonly';
  return receive ? 'recvonly' : 'inactive';
}

/** RTCPeerConnection's iceServers from the hub (STUN, TURN with a short-lived credential). */
export async function fetchIceServers() {
  const response = await fetch('/api/v1/consults/ice-servers', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return (await response.json()).iceServers;
}

/**
 * Camera and microphone. Never rejects: a consult goes on without them (the terminal still
 * sees, hears and writes), so the reason is returned for the page to show.
 * @returns {Promise<{stream: MediaStream|null, problem: null|'refused'|'missing'|'unsupported'|'failed', detail?: string}>}
 */
export async function openLocalMedia() {
  if (!navigator.mediaDevices?.getUserMedia) return { stream: null, problem: 'unsupported' };
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 } } });
    return { stream, problem: null };
  } catch (failure) {
    const problem = { NotAllowedError: 'refused', SecurityError: 'refused', NotFoundError: 'missing', OverconstrainedError: 'missing' }[failure.name] ?? 'failed';
    return { stream: null, problem, detail: failure.message };
  }
}

/**
 * Events (`event.detail`):
 * - `remote`: `{peer, stream}` a peer's media arrived (the stream gains tracks as they come)
 * - `peerstate`: `{peer, state}` an RTCPeerConnection's connectionState, or `closed` when gone
 * - `stats`: `{peer, bytes, width, height}` inbound RTP bytes and the video size, every second
 * - `failure`: `{peer, error}` a negotiation step failed
 */
export class ConsultCall extends EventTarget {
  /**
   * @param {object} options
   * @param {import('../../hub/js/protocol-client.js').TerminalClient} options.client
   * @param {string} options.me
   * @param {string} options.consult the consult's uuid
   * @param {string} options.requester
   * @param {Promise<MediaStream|null>} options.localMedia
   * @param {RTCIceServer[]} options.iceServers
   */
  constructor({ client, me, consult, requester, localMedia, iceServers }) {
    super();
    this.client = client;
    this.me = me;
    this.topic = `consult:${consult}`;
    this.requester = requester;
    this.localMedia = localMedia;
    this.iceServers = iceServers;
    this.plan = new Map();
    /** @type {Map<string, {pc: RTCPeerConnection, stream: MediaStream, steps: Promise<void>, link: object}>} */
    this.peers = new Map();
    this.closed = false;
    this._stats = setInterval(() => this._sampleStats(), STATS_EVERY_MS);
  }

  /** Apply a `consult.state`: open the links this terminal offers, close those of leavers. */
  applyState(state) {
    if (this.closed) return;
    if (state.status === 'ended') {
      this.close();
      return;
    }
    this.plan = linkPlan({ me: this.me, requester: this.requester, participants: state.participants, record: state.record, fanout: state.fanout });
    for (const name of [...this.peers.keys()]) if (!this.plan.has(name)) this._drop(name);
    for (const [name, link] of this.plan) {
      const known = this.peers.get(name);
      const dead = known && ['failed', 'closed'].includes(known.pc.connectionState);
      if (link.offer && (!known || dead)) this._offer(name, link);
    }
  }

  /** Apply a live rtc.offer / rtc.answer / rtc.ice frame of the consult topic. */
  applySignal(frame) {
    if (this.closed || frame.data?.to !== this.me) return;
    const peer = frame.from;
    if (frame.type === 'rtc.offer') this._answer(peer, frame.data.sdp);
    else if (frame.type === 'rtc.answer') this._step(peer, (entry) => entry.pc.setRemoteDescription({ type: 'answer', sdp: frame.data.sdp }));
    else if (frame.type === 'rtc.ice' && frame.data.candidate) {
      const { candidate, sdpMid = null, sdpMLineIndex = null } = frame.data;
      this._step(peer, (entry) => entry.pc.addIceCandidate({ candidate, sdpMid, sdpMLineIndex }));
    }
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this._stats);
    for (const name of [...this.peers.keys()]) this._drop(name);
  }

  // -- links -------------------------------------------------------------------------------

  _open(peer, link) {
    this._drop(peer);
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    const entry = { pc, stream: new MediaStream(), steps: Promise.resolve(), link };
    this.peers.set(peer, entry);
    pc.onicecandidate = (event) => {
      if (!event.candidate?.candidate) return;
      const data = { candidate: event.candidate.candidate, to: peer };
      if (event.candidate.sdpMid !== null) data.sdpMid = event.candidate.sdpMid;
      if (event.candidate.sdpMLineIndex !== null) data.sdpMLineIndex = event.candidate.sdpMLineIndex;
      this._signal('rtc.ice', data);
    };
    pc.ontrack = (event) => {
      entry.stream.addTrack(event.track);
      this._emit('remote', { peer, stream: entry.stream });
    };
    pc.onconnectionstatechange = () => this._emit('peerstate', { peer, state: pc.connectionState });
    this._emit('peerstate', { peer, state: 'new' });
    return entry;
  }

  _offer(peer, link) {
    const entry = this._open(peer, link);
    this._step(peer, async () => {
      const stream = await this.localMedia;
      for (const kind of KINDS) {
        const track = link.send ? stream?.getTracks().find((t) => t.kind === kind) : undefined;
        const dir = direction(Boolean(track), link.receive);
        if (dir === 'inactive') continue;
        entry.pc.addTransceiver(track ?? kind, { direction: dir, streams: track ? [stream] : [] });
      }
      await entry.pc.setLocalDescription(await entry.pc.createOffer());
      await this._signal('rtc.offer', { sdp: entry.pc.localDescription.sdp, to: peer });
    });
  }

  _answer(peer, sdp) {
    // An offer from a peer replaces whatever link there was: it rejoined, or renegotiates.
    const link = this.plan.get(peer) ?? { offer: false, send: true, receive: true };
    const entry = this._open(peer, link);
    this._step(peer, async () => {
      await entry.pc.setRemoteDescription({ type: 'offer', sdp });
      const stream = await this.localMedia;
      for (const transceiver of entry.pc.getTransceivers()) {
        const kind = transceiver.receiver.track.kind;
        const track = link.send ? stream?.getTracks().find((t) => t.kind === kind) : undefined;
        if (track) {
          await transceiver.sender.replaceTrack(track);
          transceiver.sender.setStreams?.(stream);
        }
        transceiver.direction = direction(Boolean(track), link.receive);
      }
      await entry.pc.setLocalDescription(await entry.pc.createAnswer());
      await this._signal('rtc.answer', { sdp: entry.pc.localDescription.sdp, to: peer });
    });
  }

  // The steps of one link run one after another: a candidate waits for its description.
  _step(peer, work) {
    const entry = this.peers.get(peer);
    if (!entry) return;
    entry.steps = entry.steps.then(() => (this.peers.get(peer) === entry ? work(entry) : undefined)).catch((error) => {
      this._emit('failure', { peer, error });
    });
  }

  _drop(peer) {
    const entry = this.peers.get(peer);
    if (!entry) return;
    this.peers.delete(peer);
    entry.pc.close();
    this._emit('peerstate', { peer, state: 'closed' });
  }

  _signal(type, data) {
    return this.client.send(type, this.topic, data);
  }

  async _sampleStats() {
    for (const [peer, entry] of this.peers) {
      if (!entry.link.receive) continue;
      let bytes = 0;
      let width = 0;
      let height = 0;
      const report = await entry.pc.getStats().catch(() => null);
      report?.forEach((stat) => {
        if (stat.type !== 'inbound-rtp') return;
        bytes += stat.bytesReceived ?? 0;
        if (stat.kind === 'video') {
          width = stat.frameWidth ?? width;
          height = stat.frameHeight ?? height;
        }
      });
      if (report) this._emit('stats', { peer, bytes, width, height });
    }
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

/** Whether the media bridge is in the consult and recording it. */
export function isRecorded(state) {
  return Boolean(state.record && state.participants.some((p) => p.role === BRIDGE));
}

/** Mute or unmute every local track of one kind; returns whether it is now on. */
export function toggleTracks(stream, kind) {
  const tracks = stream?.getTracks().filter((t) => t.kind === kind) ?? [];
  const on = !tracks.some((t) => t.enabled);
  for (const track of tracks) track.enabled = on;
  return on;
}
