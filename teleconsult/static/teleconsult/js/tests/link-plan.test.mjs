import assert from 'node:assert/strict';
import { test } from 'node:test';

import { linkPlan } from '../consult-call.js';

const medic = { terminal: 'medic-1', role: 'requester' };
const bridge = { terminal: 'media-bridge', role: 'bridge' };
const expert = { terminal: 'expert-1', role: 'participant' };
const second = { terminal: 'expert-2', role: 'participant' };
const plan = (me, participants, options = {}) => Object.fromEntries(linkPlan({ me, requester: 'medic-1', participants, record: false, fanout: false, ...options }));

test('the later joiner offers to each earlier participant, media both ways', () => {
  assert.deepEqual(plan('medic-1', [medic, expert, second]), {
    'expert-1': { offer: false, send: true, receive: true },
    'expert-2': { offer: false, send: true, receive: true },
  });
  assert.deepEqual(plan('expert-2', [medic, expert, second]), {
    'medic-1': { offer: true, send: true, receive: true },
    'expert-1': { offer: true, send: true, receive: true },
  });
});

test('a recording bridge gets the requester\'s uplink and nothing from anyone else', () => {
  assert.deepEqual(plan('medic-1', [medic, bridge, expert], { record: true }), {
    'media-bridge': { offer: true, send: true, receive: false },
    'expert-1': { offer: false, send: true, receive: true },
  });
  assert.deepEqual(plan('expert-1', [medic, bridge, expert], { record: true }), {
    'medic-1': { offer: true, send: true, receive: true },
  });
});

test('in fan-out the viewers take the crew from the bridge and send to the crew directly', () => {
  const everyone = [medic, bridge, expert, second];
  assert.deepEqual(plan('expert-1', everyone, { fanout: true }), {
    'medic-1': { offer: true, send: true, receive: false },
    'media-bridge': { offer: true, send: false, receive: true },
    'expert-2': { offer: false, send: true, receive: true },
  });
  assert.deepEqual(plan('medic-1', everyone, { fanout: true }), {
    'media-bridge': { offer: true, send: true, receive: false },
    'expert-1': { offer: false, send: false, receive: true },
    'expert-2': { offer: false, send: false, receive: true },
  });
});

test('fan-out without a running bridge falls back to peer to peer', () => {
  assert.deepEqual(plan('expert-1', [medic, expert], { fanout: true }), {
    'medic-1': { offer: true, send: true, receive: true },
  });
});

test('a terminal not in the list has no links', () => {
  assert.deepEqual(plan('expert-9', [medic, expert]), {});
});
