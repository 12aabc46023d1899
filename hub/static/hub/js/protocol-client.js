// The browser terminals' side of the hub's WebSocket protocol (shared/PROTOCOL.md).
// A plain ES module: no build step, no dependencies.

const MAX_FRAME_BYTES = 1048576; // PROTOCOL.md: larger closes the connection with 1009
const REPLY_TYPES = new Set(['ack', 'error', 'welcome', 'pong']);
const RETRYABLE_CODES = new Set(['rate_limited', 'unavailable']);
// 4401: bad credential, 4403: token revoked or rotated. The same credential cannot succeed
// again, so reconnecting would only hammer the hub.
const FINAL_CLOSE_CODES = new Set([4401, 4403]);
const MESSAGE_TOO_BIG = 1009;

/**
 * Unacknowledged frames kept in memory: they survive a reconnect, not a page reload.
 * Every outbox keeps frames in the order they were first put.
 */
export class MemoryOutbox {
  #frames = new Map();

  /** @param {object} frame a frame with a string `id`; a known id keeps its place */
  async put(frame) {
    this.#frames.set(frame.id, frame);
  }

  /** @param {string} id */
  async remove(id) {
    this.#frames.delete(id);
  }

  /** @returns {Promise<object[]>} */
  async pending() {
    return [...this.#frames.values()];
  }
}

/**
 * Unacknowledged frames kept in IndexedDB, so that a field tablet that goes offline keeps
 * them across a page reload and sends them when the network returns.
 */
export class IndexedDbOutbox {
  #database;

  /**
   * @param {object} [options]
   * @param {string} [options.name] the database name (one per terminal on a shared device)
   * @param {IDBFactory} [options.indexedDB]
   */
  constructor({ name = 'hub-outbox', indexedDB = globalThis.indexedDB } = {}) {
    this.name = name;
    this.#database = new Promise((resolve, reject) => {
      const opening = indexedDB.open(name, 1);
      opening.onupgradeneeded = () => {
        // An auto-increment key gives the insertion order; the unique id index finds a frame.
        const store = opening.result.createObjectStore('frames', { autoIncrement: true });
        store.createIndex('id', 'id', { unique: true });
      };
      opening.onsuccess = () => resolve(opening.result);
      opening.onerror = () => reject(opening.error);
    });
  }

  async put(frame) {
    await this.#transact('readwrite', (store) => {
      const finding = store.index('id').getKey(frame.id);
      finding.onsuccess = () => {
        if (finding.result === undefined) store.add({ id: frame.id, frame });
        else store.put({ id: frame.id, frame }, finding.result);
      };
    });
  }

  async remove(id) {
    await this.#transact('readwrite', (store) => {
      const finding = store.index('id').getKey(id);
      finding.onsuccess = () => {
        if (finding.result !== undefined) store.delete(finding.result);
      };
    });
  }

  async pending() {
    let records = [];
    await this.#transact('readonly', (store) => {
      const reading = store.getAll();
      reading.onsuccess = () => {
        records = reading.result;
      };
    });
    return records.map((record) => record.frame);
  }

  // Resolves when the transaction commits, not when its last request succeeds: only then
  // is a put durable, and the frame may be written to the socket.
  async #transact(mode, work) {
    const database = await this.#database;
    return new Promise((resolve, reject) => {
      const transaction = database.transaction('frames', mode);
      transaction.oncomplete = () => resolve();
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
      work(transaction.objectStore('frames'));
    });
  }
}

/** Per-topic seq bookkeeping; the verdicts are those of the Python client's Sequencer. */
export class Sequencer {
  /** @type {Map<string, number>} */
  lastSeq = new Map();
  #resubscribing = new Set();

  track(topic, since) {
    if (since !== undefined && since !== null) this.lastSeq.set(topic, since);
    else if (!this.lastSeq.has(topic)) this.lastSeq.set(topic, 0);
    return this.lastSeq.get(topic);
  }

  forget(topic) {
    this.lastSeq.delete(topic);
    this.#resubscribing.delete(topic);
  }

  subscribing(topic) {
    this.#resubscribing.add(topic);
    return this.lastSeq.get(topic);
  }

  subscribed(topic) {
    this.#resubscribing.delete(topic);
  }

  resetSubscriptions() {
    this.#resubscribing.clear();
  }

  /** @returns {'deliver'|'duplicate'|'gap'|'awaiting_fill'|'untracked'} */
  accept(topic, seq) {
    const last = this.lastSeq.get(topic);
    if (last === undefined) return 'untracked';
    if (seq <= last) return 'duplicate';
    if (seq === last + 1) {
      this.lastSeq.set(topic, seq);
      return 'deliver';
    }
    if (this.#resubscribing.has(topic)) return 'awaiting_fill';
    this.#resubscribing.add(topic);
    return 'gap';
  }
}

/**
 * The delay before retry number `attempt` (0 first): doubling from `initialMs`, capped at
 * `maxMs`, scaled by a random factor in [0.5, 1] so that a fleet of terminals that lost the
 * same hub does not come back at once.
 */
export function backoffDelay(attempt, initialMs, maxMs, random = Math.random) {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 62));
  return ceiling * (0.5 + random() / 2);
}

/** `ws(s)://host/ws/terminal/` of the page's own origin. */
export function terminalUrl(location = globalThis.location) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws/terminal/`;
}

/** An `error` reply, a final close or a lost connection, as a rejection. */
export class ProtocolError extends Error {
  constructor(code, message, id = null) {
    super(`${code}: ${message}`);
    this.code = code;
    this.id = id;
  }
}

function newId() {
  return globalThis.crypto.randomUUID();
}

function encode(frame) {
  const text = JSON.stringify(frame);
  if (new TextEncoder().encode(text).length > MAX_FRAME_BYTES) {
    throw new ProtocolError('too_large', `frame ${frame.id} is over ${MAX_FRAME_BYTES} bytes`, frame.id);
  }
  return text;
}

/**
 * One terminal's connection to the hub, kept open across network loss.
 *
 * Events (`addEventListener`, the payload in `event.detail`):
 * - `state`: `'connecting' | 'open' | 'reconnecting' | 'closed'`
 * - `message`: a delivered frame, per topic in seq order without duplicates; also frames of
 *   types this client does not know
 * - `ack`: `{id, topic, seq}` of every acknowledged frame, including those sent before a reload
 * - `error`: a `ProtocolError` nobody awaits (a refused queued frame, a final close, 1009)
 * - `ended`: `{topic}` when the hub ends a subscription
 */
export class TerminalClient extends EventTarget {
  /**
   * @param {object} [options]
   * @param {string[]} [options.urls] hubs to try in turn; default: this page's origin
   * @param {string|null} [options.token] null: a logged-in browser session
   * @param {MemoryOutbox|IndexedDbOutbox} [options.outbox]
   * @param {typeof WebSocket} [options.WebSocketImpl]
   * @param {number} [options.backoffInitialMs]
   * @param {number} [options.backoffMaxMs]
   * @param {number} [options.helloTimeoutMs]
   * @param {number} [options.heartbeatMs] ping interval; a ping unanswered for as long
   *   counts as a lost connection (browsers cannot send WebSocket pings)
   * @param {() => number} [options.random]
   */
  constructor({
    urls,
    token = null,
    outbox = new MemoryOutbox(),
    WebSocketImpl = globalThis.WebSocket,
    backoffInitialMs = 200,
    backoffMaxMs = 5000,
    helloTimeoutMs = 10000,
    heartbeatMs = 25000,
    random = Math.random,
  } = {}) {
    super();
    this.urls = urls && urls.length ? [...urls] : [terminalUrl()];
    this.token = token;
    /** The `data` of the last `welcome`. */
    this.welcome = null;
    this.outbox = outbox;
    this.sequencer = new Sequencer();
    this._WebSocket = WebSocketImpl;
    this._backoff = { initialMs: backoffInitialMs, maxMs: backoffMaxMs, random };
    this._helloTimeoutMs = helloTimeoutMs;
    this._heartbeatMs = heartbeatMs;
    this._state = 'closed';
    this._failure = null;
    this._socket = null; // welcomed: takes subscribes
    this._writable = false; // the outbox has been re-sent: takes the application's frames
    this._attempt = 0;
    this._urlIndex = 0;
    this._timers = new Set();
    this._reconnectTimer = null;
    // What the outbox holds, mirrored so that the re-send after a welcome is one synchronous
    // pass that no frame enqueued meanwhile can slip past.
    this._pending = new Map();
    this._inFlight = new Set();
    this._retryAttempts = new Map();
    this._sendWaiters = new Map();
    this._requestWaiters = new Map();
    this._subscribeIdByTopic = new Map();
    this._topicBySubscribeId = new Map();
    this._subscribeWaiters = new Map();
    this._openWaiters = [];
    this._flushWaiters = [];
    this._onOnline = () => this._reconnectNow();
  }

  /** @returns {'connecting'|'open'|'reconnecting'|'closed'} */
  get state() {
    return this._state;
  }

  /** @returns {Map<string, number>} the last seq held per tracked topic */
  get lastSeq() {
    return this.sequencer.lastSeq;
  }

  /**
   * Load the outbox (frames kept across a reload are sent after the welcome) and connect.
   * @returns {Promise<object>} the first welcome's data
   */
  async start() {
    for (const frame of await this.outbox.pending()) this._pending.set(frame.id, frame);
    globalThis.addEventListener?.('online', this._onOnline);
    this._setState('connecting');
    this._connect();
    return this._whenOpen();
  }

  /** Stop for good; the outbox keeps what was not acknowledged. */
  close() {
    this._fail(new ProtocolError('closed', 'client closed'), { report: false });
  }

  /**
   * Keep the frame in the outbox, then send it when connected.
   * @returns {Promise<string>} its id, once the outbox holds it
   */
  async enqueue(type, topic, data, { id = newId() } = {}) {
    this._throwIfFailed();
    const frame = { type, id, topic, data };
    encode(frame); // refuse what the hub would refuse before it reaches the outbox
    await this.outbox.put(frame);
    this._pending.set(id, frame);
    this._writeIfOpen(frame);
    return id;
  }

  /**
   * Send a message and wait for its ack, across reconnects and rate_limited/unavailable
   * retries; rejects with a ProtocolError for a final error.
   * @returns {Promise<{id: string, topic: string, seq: number}>}
   */
  send(type, topic, data, { id = newId() } = {}) {
    const acked = this._waitFor(this._sendWaiters, id);
    this.enqueue(type, topic, data, { id }).catch((error) => this._settle(this._sendWaiters, id, error, true));
    return acked;
  }

  /** Resolves when the outbox is empty; rejects after `timeoutMs`. */
  flush(timeoutMs = Infinity) {
    if (this._failure) return Promise.reject(this._failure);
    if (this._pending.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      this._flushWaiters.push(waiter);
      if (Number.isFinite(timeoutMs)) {
        this._after(timeoutMs, () => {
          this._flushWaiters = this._flushWaiters.filter((w) => w !== waiter);
          reject(new ProtocolError('timeout', `outbox not empty after ${timeoutMs} ms`));
        });
      }
    });
  }

  /**
   * Track a topic and subscribe; resolves on the subscribe's ack, when the replay after
   * `since` (default: the last seq held) has been delivered.
   */
  subscribe(topic, { since } = {}) {
    this._throwIfFailed();
    this.sequencer.track(topic, since);
    const acked = new Promise((resolve, reject) => {
      if (!this._subscribeWaiters.has(topic)) this._subscribeWaiters.set(topic, []);
      this._subscribeWaiters.get(topic).push({ resolve, reject });
    });
    if (this._socket) this._socket.send(encode(this._subscribeFrame(topic)));
    return acked;
  }

  /** Stop tracking a topic; its messages are dropped from now on. */
  async unsubscribe(topic) {
    this._endTracking(topic, new ProtocolError('unsubscribed', topic));
    if (!this._writable) return; // a new connection starts with no subscription
    const reply = await this.request({ type: 'unsubscribe', id: newId(), topic });
    if (reply.type === 'error') throw new ProtocolError(reply.code, reply.message, reply.id);
  }

  /** @returns {Promise<object>} the pong */
  ping() {
    return this.request({ type: 'ping', id: newId() });
  }

  /**
   * Write a raw frame (object or string, not kept in the outbox) and resolve with the reply
   * that carries its id (an error reply resolves too); a frame without a string id waits
   * for the next reply whose id is null. Rejects if the connection is lost first.
   */
  async request(frame) {
    await this._whenOpen();
    const text = typeof frame === 'string' ? frame : encode(frame);
    let parsed = frame;
    if (typeof frame === 'string') {
      try {
        parsed = JSON.parse(frame);
      } catch {
        parsed = null;
      }
    }
    const replyId = parsed && typeof parsed.id === 'string' ? parsed.id : null;
    const replied = this._waitFor(this._requestWaiters, replyId);
    this._socket.send(text);
    return replied;
  }

  // -- connection --------------------------------------------------------------------------

  _connect() {
    this._reconnectTimer = null;
    const url = this.urls[this._urlIndex % this.urls.length];
    this._urlIndex += 1; // a lost or refused connection moves on to the next hub
    const socket = new this._WebSocket(url);
    const helloId = newId();
    let welcomed = false;
    const helloTimer = this._after(this._helloTimeoutMs, () => this._abandon(socket));
    socket.onopen = () => {
      const hello = { type: 'hello', id: helloId };
      if (this.token !== null) hello.data = { token: this.token };
      socket.send(JSON.stringify(hello));
    };
    socket.onmessage = (event) => {
      if (typeof event.data !== 'string') return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame === null || typeof frame !== 'object') return;
      if (!welcomed) {
        if (frame.type === 'welcome' && frame.id === helloId) {
          welcomed = true;
          this._cancel(helloTimer);
          this._welcomed(socket, frame);
        }
        return;
      }
      this._handle(frame);
    };
    socket.onclose = (event) => {
      this._cancel(helloTimer);
      this._lost(socket, event.code, event.reason);
    };
  }

  _welcomed(socket, frame) {
    this.welcome = frame.data ?? {};
    this._socket = socket;
    this._attempt = 0;
    // Subscribes first, so that the replay of what was missed starts while the outbox
    // drains; then every unacknowledged frame with its original id, in original order.
    for (const topic of this.sequencer.lastSeq.keys()) socket.send(encode(this._subscribeFrame(topic)));
    for (const pending of this._pending.values()) {
      this._inFlight.add(pending.id);
      socket.send(encode(pending));
    }
    this._writable = true;
    this._startHeartbeat(socket);
    this._setState('open');
    for (const waiter of this._openWaiters.splice(0)) waiter.resolve();
  }

  _startHeartbeat(socket) {
    const beat = () => {
      if (socket !== this._socket) return;
      const pingId = newId();
      const pong = this._waitFor(this._requestWaiters, pingId);
      const deadline = this._after(this._heartbeatMs, () => this._abandon(socket));
      pong.then(() => this._cancel(deadline), () => this._cancel(deadline));
      socket.send(JSON.stringify({ type: 'ping', id: pingId }));
      this._after(this._heartbeatMs, beat);
    };
    this._after(this._heartbeatMs, beat);
  }

  // A dead network fires no close event for a long time: give up on the socket now.
  _abandon(socket) {
    socket.onclose = null;
    socket.onmessage = null;
    socket.close();
    this._lost(socket, null, 'no answer from the hub');
  }

  _lost(socket, code, reason) {
    if (socket === this._socket) {
      this._socket = null;
      this._writable = false;
    }
    this._inFlight.clear();
    this.sequencer.resetSubscriptions();
    this._subscribeIdByTopic.clear();
    this._topicBySubscribeId.clear();
    const lost = new ProtocolError('connection_lost', `closed with ${code ?? 'no code'}`);
    lost.closeCode = code;
    for (const waiters of this._requestWaiters.values()) for (const w of waiters) w.reject(lost);
    this._requestWaiters.clear();
    if (this._failure) return;
    if (FINAL_CLOSE_CODES.has(code)) {
      const rejected = new ProtocolError(code === 4401 ? 'unauthenticated' : 'revoked', reason || `closed with ${code}`);
      rejected.closeCode = code;
      this._fail(rejected, { report: true });
      return;
    }
    if (code === MESSAGE_TOO_BIG) this._emit('error', lost);
    this._setState('reconnecting');
    const delay = backoffDelay(this._attempt, this._backoff.initialMs, this._backoff.maxMs, this._backoff.random);
    this._attempt += 1;
    this._reconnectTimer = this._after(delay, () => this._connect());
  }

  _reconnectNow() {
    if (this._reconnectTimer === null || this._failure) return;
    this._cancel(this._reconnectTimer);
    this._connect();
  }

  // -- writing -----------------------------------------------------------------------------

  _writeIfOpen(frame) {
    if (!this._writable || this._inFlight.has(frame.id)) return; // the next welcome sends it
    this._inFlight.add(frame.id);
    this._socket.send(encode(frame));
  }

  _subscribeFrame(topic) {
    this._forgetSubscribeFrame(topic);
    const id = newId();
    this._subscribeIdByTopic.set(topic, id);
    this._topicBySubscribeId.set(id, topic);
    return { type: 'subscribe', id, topic, since: this.sequencer.subscribing(topic) };
  }

  _forgetSubscribeFrame(topic) {
    const oldId = this._subscribeIdByTopic.get(topic);
    this._subscribeIdByTopic.delete(topic);
    this._topicBySubscribeId.delete(oldId);
  }

  _retryLater(id, action) {
    const attempt = this._retryAttempts.get(id) ?? 0;
    this._retryAttempts.set(id, attempt + 1);
    const { initialMs, maxMs, random } = this._backoff;
    this._after(backoffDelay(attempt, initialMs, maxMs, random), action);
  }

  // -- reading -----------------------------------------------------------------------------

  _handle(frame) {
    if (frame.type === 'ack' || frame.type === 'error') this._handleReply(frame);
    else if (frame.type === 'pong' || frame.type === 'welcome') this._settle(this._requestWaiters, frame.id ?? null, frame);
    else if (frame.type === 'subscription.ended') this._handleEnded(frame);
    else if (typeof frame.topic === 'string' && Number.isInteger(frame.seq)) this._handleMessage(frame);
    else this._emit('message', frame); // a type this client does not know: the page decides
  }

  _handleReply(reply) {
    const id = typeof reply.id === 'string' ? reply.id : null;
    if (this._settle(this._requestWaiters, id, reply)) return;
    if (this._topicBySubscribeId.has(id)) this._handleSubscribeReply(this._topicBySubscribeId.get(id), reply);
    else if (this._inFlight.has(id)) this._handleSendReply(id, reply);
    else if (reply.type === 'error') this._emit('error', new ProtocolError(reply.code, reply.message, id));
    // else: a repeated ack of a frame already settled (re-sent across a reconnect)
  }

  _handleSendReply(id, reply) {
    this._inFlight.delete(id);
    if (reply.type === 'error' && RETRYABLE_CODES.has(reply.code)) {
      this._retryLater(id, () => {
        const frame = this._pending.get(id);
        if (frame) this._writeIfOpen(frame);
      });
      return;
    }
    this._retryAttempts.delete(id);
    this._pending.delete(id);
    // The mirror is updated first: a failed delete only makes the frame be re-sent after a
    // reload, and the hub acknowledges a known id again without storing it twice.
    this.outbox.remove(id).catch((error) => this._emit('error', error));
    this._settleFlushes();
    if (reply.type === 'ack') {
      const ack = { id, topic: reply.topic, seq: reply.seq };
      this._settle(this._sendWaiters, id, ack);
      this._emit('ack', ack);
      return;
    }
    const error = new ProtocolError(reply.code, reply.message, id);
    if (!this._settle(this._sendWaiters, id, error, true)) this._emit('error', error);
  }

  _handleSubscribeReply(topic, reply) {
    if (reply.type === 'error' && RETRYABLE_CODES.has(reply.code)) {
      this._forgetSubscribeFrame(topic);
      this._retryLater(reply.id, () => {
        if (this._socket && this.sequencer.lastSeq.has(topic)) this._socket.send(encode(this._subscribeFrame(topic)));
      });
      return;
    }
    this._retryAttempts.delete(reply.id);
    const waiters = this._subscribeWaiters.get(topic) ?? [];
    this._subscribeWaiters.delete(topic);
    if (reply.type === 'ack') {
      this.sequencer.subscribed(topic);
      for (const waiter of waiters) waiter.resolve({ id: reply.id, topic, seq: reply.seq });
      return;
    }
    const error = new ProtocolError(reply.code, reply.message, reply.id);
    this._endTracking(topic, error);
    if (waiters.length === 0) this._emit('error', error);
    for (const waiter of waiters) waiter.reject(error);
  }

  _handleEnded(frame) {
    this._endTracking(frame.topic, new ProtocolError('ended', `subscription to ${frame.topic} ended`));
    this._emit('ended', { topic: frame.topic });
  }

  _handleMessage(frame) {
    const verdict = this.sequencer.accept(frame.topic, frame.seq);
    if (verdict === 'deliver') this._emit('message', frame);
    else if (verdict === 'gap' && this._socket) this._socket.send(encode(this._subscribeFrame(frame.topic)));
  }

  _endTracking(topic, error) {
    this.sequencer.forget(topic);
    this._forgetSubscribeFrame(topic);
    for (const waiter of this._subscribeWaiters.get(topic) ?? []) waiter.reject(error);
    this._subscribeWaiters.delete(topic);
  }

  // -- plumbing ----------------------------------------------------------------------------

  _waitFor(registry, id) {
    return new Promise((resolve, reject) => {
      if (this._failure) {
        reject(this._failure);
        return;
      }
      if (!registry.has(id)) registry.set(id, []);
      registry.get(id).push({ resolve, reject });
    });
  }

  // Settle the first waiter for `id` (request replies) or all of them (send acks).
  _settle(registry, id, value, isError = false) {
    const waiters = registry.get(id);
    if (!waiters || waiters.length === 0) return false;
    const settled = registry === this._requestWaiters ? [waiters.shift()] : waiters.splice(0);
    if (waiters.length === 0) registry.delete(id);
    for (const waiter of settled) (isError ? waiter.reject : waiter.resolve)(value);
    return true;
  }

  _settleFlushes() {
    if (this._pending.size === 0) for (const waiter of this._flushWaiters.splice(0)) waiter.resolve();
  }

  _whenOpen() {
    if (this._failure) return Promise.reject(this._failure);
    if (this._writable) return Promise.resolve(this.welcome);
    return new Promise((resolve, reject) => this._openWaiters.push({ resolve, reject })).then(() => this.welcome);
  }

  _fail(error, { report }) {
    if (this._failure) return;
    this._failure = error;
    globalThis.removeEventListener?.('online', this._onOnline);
    for (const timer of this._timers) clearTimeout(timer);
    this._timers.clear();
    const socket = this._socket;
    this._socket = null;
    this._writable = false;
    if (socket) {
      socket.onclose = null;
      socket.close(1000);
    }
    for (const registry of [this._sendWaiters, this._requestWaiters]) {
      for (const waiters of registry.values()) for (const waiter of waiters) waiter.reject(error);
      registry.clear();
    }
    for (const waiters of this._subscribeWaiters.values()) for (const waiter of waiters) waiter.reject(error);
    this._subscribeWaiters.clear();
    for (const waiter of [...this._openWaiters.splice(0), ...this._flushWaiters.splice(0)]) waiter.reject(error);
    this._setState('closed');
    if (report) this._emit('error', error);
  }

  _throwIfFailed() {
    if (this._failure) throw this._failure;
  }

  _after(ms, action) {
    const timer = setTimeout(() => {
      this._timers.delete(timer);
      action();
    }, ms);
    this._timers.add(timer);
    return timer;
  }

  _cancel(timer) {
    clearTimeout(timer);
    this._timers.delete(timer);
  }

  _setState(state) {
    if (state === this._state) return;
    this._state = state;
    this._emit('state', state);
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
