import assert from 'node:assert/strict';
import { afterEach, test as nodeTest } from 'node:test';

import {
  MemoryOutbox,
  Sequencer,
  TerminalClient,
  backoffDelay,
  terminalUrl,
} from '../protocol-client.js';

// A WebSocket whose far end the test plays by hand: no server, no network.
class FakeSocket {
  static instances = [];

  constructor(url) {
    this.url = url;
    this.sent = [];
    this.closed = false;
    FakeSocket.instances.push(this);
  }

  send(text) {
    if (this.closed) throw new Error('send on a closed socket');
    this.sent.push(JSON.parse(text));
  }

  close() {
    this.closed = true;
  }

  // -- the hub's side --
  open() {
    this.onopen?.({});
  }

  receive(frame) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  welcome(data = { terminal: { kind: 'field', name: 'medic-3' } }) {
    this.open();
    this.receive({ type: 'welcome', id: this.sent[0].id, data });
  }

  hubCloses(code, reason = '') {
    this.closed = true;
    this.onclose?.({ code, reason });
  }

  sentOfType(type) {
    return this.sent.filter((frame) => frame.type === type);
  }
}

// A client bug must fail its test, not hang the run.
const test = (name, body) => nodeTest(name, { timeout: 2000 }, body);

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Closed after each test, passed or failed, so that no timer of theirs keeps node running.
const clients = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

function makeClient(options = {}) {
  FakeSocket.instances = [];
  const client = new TerminalClient({
    urls: ['ws://hub-a/ws/terminal/', 'ws://hub-b/ws/terminal/'],
    token: 'secret',
    WebSocketImpl: FakeSocket,
    backoffInitialMs: 1,
    backoffMaxMs: 4,
    heartbeatMs: 60000,
    ...options,
  });
  clients.push(client);
  return client;
}

async function connected(options) {
  const client = makeClient(options);
  const started = client.start();
  await settle();
  FakeSocket.instances[0].welcome();
  await started;
  return { client, socket: FakeSocket.instances[0] };
}

async function nextSocket(count) {
  for (let i = 0; i < 200 && FakeSocket.instances.length < count; i += 1) await sleep(1);
  assert.equal(FakeSocket.instances.length, count, 'the client did not reconnect');
  return FakeSocket.instances[count - 1];
}

test('a token terminal says hello with its token, a browser session without data', async () => {
  const { client, socket } = await connected();
  assert.deepEqual(socket.sent[0].data, { token: 'secret' });
  client.close();

  const session = makeClient({ token: null });
  const started = session.start();
  await settle();
  const hello = FakeSocket.instances[0];
  hello.open();
  assert.equal(hello.sent[0].type, 'hello');
  assert.equal('data' in hello.sent[0], false);
  session.close();
  await assert.rejects(started, { code: 'closed' });
});

test('the welcome data is exposed and the state goes connecting then open', async () => {
  const client = makeClient();
  const states = [];
  client.addEventListener('state', (event) => states.push(event.detail));
  const started = client.start();
  await settle();
  FakeSocket.instances[0].welcome({ event: 'wic-2019' });
  assert.deepEqual(await started, { event: 'wic-2019' });
  assert.deepEqual(states, ['connecting', 'open']);
  assert.equal(client.welcome.event, 'wic-2019');
  client.close();
  assert.deepEqual(states, ['connecting', 'open', 'closed']);
});

test('acks of pipelined frames resolve the right sends in any order', async () => {
  const { client, socket } = await connected();
  const first = client.send('note', 'casualty:c1', { text: 'a' });
  const second = client.send('note', 'casualty:c1', { text: 'b' });
  await settle();
  const [frameA, frameB] = socket.sentOfType('note');
  socket.receive({ type: 'ack', id: frameB.id, topic: 'casualty:c1', seq: 8 });
  socket.receive({ type: 'ack', id: frameA.id, topic: 'casualty:c1', seq: 7 });
  assert.deepEqual(await first, { id: frameA.id, topic: 'casualty:c1', seq: 7 });
  assert.deepEqual(await second, { id: frameB.id, topic: 'casualty:c1', seq: 8 });
  assert.deepEqual(await client.outbox.pending(), []);
  client.close();
});

test('a frame is written to the socket only once the outbox has durably kept it', async () => {
  // An outbox whose writes take a while to commit, like IndexedDB's.
  class SlowOutbox extends MemoryOutbox {
    committed = new Set();

    async put(frame) {
      await sleep(5);
      await super.put(frame);
      this.committed.add(frame.id);
    }
  }
  const outbox = new SlowOutbox();
  const { client, socket } = await connected({ outbox });
  const committedWhenWritten = [];
  const write = socket.send.bind(socket);
  socket.send = (text) => {
    committedWhenWritten.push(outbox.committed.has(JSON.parse(text).id));
    write(text);
  };
  await client.enqueue('note', 'casualty:c1', { text: 'a' });
  assert.deepEqual(committedWhenWritten, [true]);
  client.close();
});

test('a final error rejects the send and drops the frame from the outbox', async () => {
  const { client, socket } = await connected();
  const sent = client.send('vitals', 'casualty:c1', { hr: 999 });
  await settle();
  const [frame] = socket.sentOfType('vitals');
  socket.receive({ type: 'error', id: frame.id, code: 'invalid', message: 'data.hr: must be 0..300' });
  await assert.rejects(sent, { code: 'invalid', id: frame.id });
  assert.deepEqual(await client.outbox.pending(), []);
  client.close();
});

test('a rate-limited frame is sent again later with the same id', async () => {
  const { client, socket } = await connected();
  const sent = client.send('note', 'casualty:c1', { text: 'a' });
  await settle();
  const [frame] = socket.sentOfType('note');
  socket.receive({ type: 'error', id: frame.id, code: 'rate_limited', message: 'slow down' });
  for (let i = 0; i < 100 && socket.sentOfType('note').length < 2; i += 1) await sleep(1);
  const [, again] = socket.sentOfType('note');
  assert.deepEqual(again, frame);
  socket.receive({ type: 'ack', id: frame.id, topic: 'casualty:c1', seq: 3 });
  assert.equal((await sent).seq, 3);
  client.close();
});

test('after a lost connection the client moves to the next hub, re-subscribes from the last seq, then re-sends the outbox in order with the original ids', async () => {
  const { client, socket } = await connected();
  const subscribed = client.subscribe('casualty:c1');
  socket.receive({ type: 'note', topic: 'casualty:c1', seq: 1, id: 'm1', data: {} });
  socket.receive({ type: 'note', topic: 'casualty:c1', seq: 2, id: 'm2', data: {} });
  socket.receive({ type: 'ack', id: socket.sentOfType('subscribe')[0].id, topic: 'casualty:c1', seq: 2 });
  await subscribed;
  const firstId = await client.enqueue('note', 'casualty:c1', { text: 'one' });
  const secondId = await client.enqueue('note', 'casualty:c1', { text: 'two' });
  const states = [];
  client.addEventListener('state', (event) => states.push(event.detail));

  socket.hubCloses(1006);
  const replacement = await nextSocket(2);
  assert.equal(replacement.url, 'ws://hub-b/ws/terminal/');
  const thirdId = await client.enqueue('note', 'casualty:c1', { text: 'three, while offline' });
  replacement.welcome();

  const afterHello = replacement.sent.slice(1);
  assert.deepEqual(afterHello.map((frame) => [frame.type, frame.type === 'subscribe' ? frame.since : frame.id]), [
    ['subscribe', 2],
    ['note', firstId],
    ['note', secondId],
    ['note', thirdId],
  ]);
  assert.deepEqual(states, ['reconnecting', 'open']);
  client.close();
});

test('frames kept by the outbox across a page reload are sent once after the welcome', async () => {
  const outbox = new MemoryOutbox();
  const kept = { type: 'note', id: 'kept-1', topic: 'casualty:c1', data: { text: 'before reload' } };
  await outbox.put(kept);
  const { client, socket } = await connected({ outbox });
  const acks = [];
  client.addEventListener('ack', (event) => acks.push(event.detail));
  assert.deepEqual(socket.sentOfType('note'), [kept]);
  socket.receive({ type: 'ack', id: 'kept-1', topic: 'casualty:c1', seq: 4 });
  await client.flush(100);
  assert.deepEqual(acks, [{ id: 'kept-1', topic: 'casualty:c1', seq: 4 }]);
  client.close();
});

test('delivered messages skip duplicates and a gap re-subscribes from the last seq held', async () => {
  const { client, socket } = await connected();
  const seen = [];
  client.addEventListener('message', (event) => seen.push(event.detail.seq));
  const subscribed = client.subscribe('casualty:c1', { since: 10 });
  const [subscribe] = socket.sentOfType('subscribe');
  assert.equal(subscribe.since, 10);
  socket.receive({ type: 'vitals', topic: 'casualty:c1', seq: 11, id: 'a', data: {} });
  socket.receive({ type: 'ack', id: subscribe.id, topic: 'casualty:c1', seq: 11 });
  await subscribed;
  socket.receive({ type: 'vitals', topic: 'casualty:c1', seq: 11, id: 'a', data: {} });
  assert.equal(socket.sentOfType('subscribe').length, 1, 'a duplicate is not a gap');
  socket.receive({ type: 'vitals', topic: 'casualty:c1', seq: 14, id: 'd', data: {} });
  socket.receive({ type: 'vitals', topic: 'casualty:c1', seq: 15, id: 'e', data: {} });
  const resubscribes = socket.sentOfType('subscribe').slice(1);
  assert.deepEqual(resubscribes.map((frame) => frame.since), [11]);
  for (const seq of [12, 13, 14, 15]) socket.receive({ type: 'vitals', topic: 'casualty:c1', seq, id: `r${seq}`, data: {} });
  assert.deepEqual(seen, [11, 12, 13, 14, 15]);
  assert.equal(client.lastSeq.get('casualty:c1'), 15);
  client.close();
});

test('subscription.ended stops tracking the topic and is surfaced', async () => {
  const { client, socket } = await connected();
  const ended = [];
  const seen = [];
  client.addEventListener('ended', (event) => ended.push(event.detail.topic));
  client.addEventListener('message', (event) => seen.push(event.detail));
  client.subscribe('casualty:c1').catch(() => {});
  socket.receive({ type: 'subscription.ended', topic: 'casualty:c1' });
  socket.receive({ type: 'vitals', topic: 'casualty:c1', seq: 1, id: 'late', data: {} });
  assert.deepEqual(ended, ['casualty:c1']);
  assert.deepEqual(seen, []);
  assert.equal(client.lastSeq.has('casualty:c1'), false);
  client.close();
});

test('frames of unknown types are passed to the page, not dropped or fatal', async () => {
  const { client, socket } = await connected();
  const seen = [];
  client.addEventListener('message', (event) => seen.push(event.detail.type));
  socket.receive({ type: 'future.thing', data: {} });
  assert.deepEqual(seen, ['future.thing']);
  assert.equal(client.state, 'open');
  client.close();
});

for (const code of [4401, 4403]) {
  test(`a ${code} close is final: no reconnect, waiting sends reject`, async () => {
    const { client, socket } = await connected();
    const errors = [];
    client.addEventListener('error', (event) => errors.push(event.detail.closeCode));
    const sent = client.send('note', 'casualty:c1', { text: 'a' });
    await settle();
    socket.hubCloses(code);
    await assert.rejects(sent, (error) => error.closeCode === code);
    await sleep(20);
    assert.equal(FakeSocket.instances.length, 1);
    assert.equal(client.state, 'closed');
    assert.deepEqual(errors, [code]);
    assert.equal((await client.outbox.pending()).length, 1, 'the outbox keeps the frame for a new token');
  });
}

test('a hello left unanswered is abandoned and the next hub tried', async () => {
  const client = makeClient({ helloTimeoutMs: 5 });
  client.start().catch(() => {});
  await settle();
  FakeSocket.instances[0].open();
  const replacement = await nextSocket(2);
  assert.equal(FakeSocket.instances[0].closed, true);
  assert.equal(replacement.url, 'ws://hub-b/ws/terminal/');
  client.close();
});

test('an oversized frame is refused before it reaches the outbox', async () => {
  const { client } = await connected();
  await assert.rejects(client.send('note', 'casualty:c1', { text: 'é'.repeat(600000) }), { code: 'too_large' });
  assert.deepEqual(await client.outbox.pending(), []);
  client.close();
});

test('raw requests resolve with their reply, errors included', async () => {
  const { client, socket } = await connected();
  const reply = client.request('{"type":"note","topic":"casualty:c1"}');
  await settle();
  socket.receive({ type: 'error', id: null, code: 'invalid', message: 'id: required' });
  assert.equal((await reply).code, 'invalid');
  client.close();
});

test('the default URL follows the page origin and its scheme', () => {
  assert.equal(terminalUrl({ protocol: 'https:', host: 'hub.example:8443' }), 'wss://hub.example:8443/ws/terminal/');
  assert.equal(terminalUrl({ protocol: 'http:', host: 'localhost:8000' }), 'ws://localhost:8000/ws/terminal/');
});

test('the backoff doubles to its cap and keeps at least half of each step', () => {
  const full = [0, 1, 2, 3, 4, 10].map((attempt) => backoffDelay(attempt, 200, 5000, () => 1));
  assert.deepEqual(full, [200, 400, 800, 1600, 3200, 5000]);
  assert.equal(backoffDelay(2, 200, 5000, () => 0), 400);
});

test('the sequencer reports a gap once until its re-subscribe is acked', () => {
  const sequencer = new Sequencer();
  sequencer.track('t', 3);
  assert.equal(sequencer.accept('t', 5), 'gap');
  assert.equal(sequencer.accept('t', 6), 'awaiting_fill');
  assert.equal(sequencer.accept('t', 4), 'deliver');
  sequencer.subscribed('t');
  assert.equal(sequencer.accept('t', 9), 'gap');
  assert.equal(sequencer.accept('other', 1), 'untracked');
});
