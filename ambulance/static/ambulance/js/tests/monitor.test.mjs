import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SimulatedMonitor, seededRandom, vitalsTarget } from '../monitor.js';

const START_MS = Date.parse('2019-10-20T09:00:00.000Z');

function record(monitor, seconds) {
  const vitals = [];
  const batches = [];
  monitor.addEventListener('vitals', (event) => vitals.push(event.detail));
  monitor.addEventListener('waveform', (event) => batches.push(event.detail));
  for (let ms = 0; ms <= seconds * 1000; ms += 100) monitor.advanceTo(START_MS + ms);
  return { vitals, batches };
}

// R peaks: local maxima above half a millivolt, at least 200 ms apart.
function rPeaks(samples, hz) {
  const peaks = [];
  for (let i = 1; i < samples.length - 1; i += 1) {
    if (samples[i] > 0.5 && samples[i] >= samples[i - 1] && samples[i] > samples[i + 1]
        && (peaks.length === 0 || i - peaks[peaks.length - 1] > 0.2 * hz)) peaks.push(i);
  }
  return peaks;
}

test('waveforms come as 10 batches a second of 25 lead II samples at 250 Hz, vitals at 1 Hz', () => {
  const { vitals, batches } = record(new SimulatedMonitor({ category: 'green', random: seededRandom(7), now: () => START_MS }), 10);
  assert.ok(batches.length >= 99 && batches.length <= 101, `${batches.length} batches`);
  for (const batch of batches) {
    assert.deepEqual([batch.hz, batch.signal, batch.unit, batch.samples.length], [250, 'ecg_ii', 'mV', 25]);
  }
  assert.equal(Date.parse(batches[1].t0) - Date.parse(batches[0].t0), 100);
  assert.ok(vitals.length >= 10 && vitals.length <= 11, `${vitals.length} vitals`);
});

test('the ECG beats at the heart rate the vitals report, with a QRS of about a millivolt', () => {
  const { vitals, batches } = record(new SimulatedMonitor({ category: 'yellow', random: seededRandom(3) }), 30);
  const samples = batches.flatMap((batch) => batch.samples);
  const seconds = samples.length / 250;
  const beatsPerMinute = (rPeaks(samples, 250).length / seconds) * 60;
  const meanHr = vitals.reduce((sum, v) => sum + v.hr, 0) / vitals.length;
  assert.ok(Math.abs(beatsPerMinute - meanHr) < 6, `${beatsPerMinute} beats/min against HR ${meanHr}`);
  const peak = Math.max(...samples);
  const trough = Math.min(...samples);
  assert.ok(peak > 0.8 && peak < 1.5, `R ${peak} mV`);
  assert.ok(trough < -0.1 && trough > -0.6, `S ${trough} mV`);
});

test('an untreated red casualty worsens: faster heart, lower pressure and saturation', () => {
  const monitor = new SimulatedMonitor({ category: 'red', random: seededRandom(11) });
  const { vitals } = record(monitor, 300);
  const first = vitals[0];
  const last = vitals[vitals.length - 1];
  assert.ok(last.hr > first.hr + 5, `HR ${first.hr} -> ${last.hr}`);
  assert.ok(last.sbp < first.sbp - 5, `SBP ${first.sbp} -> ${last.sbp}`);
  assert.ok(last.spo2 < first.spo2, `SpO2 ${first.spo2} -> ${last.spo2}`);
});

test('a green casualty stays stable and a drill inject makes it deteriorate', () => {
  const monitor = new SimulatedMonitor({ category: 'green', random: seededRandom(5) });
  const calm = record(monitor, 120).vitals;
  const settled = calm[calm.length - 1];
  const expected = vitalsTarget('green', 0);
  assert.ok(Math.abs(settled.hr - expected.hr) < 6 && Math.abs(settled.sbp - expected.sbp) < 8);
  monitor.deteriorate(0.8);
  const worse = [];
  monitor.addEventListener('vitals', (event) => worse.push(event.detail));
  for (let ms = 120100; ms <= 240000; ms += 100) monitor.advanceTo(START_MS + ms);
  const after = worse[worse.length - 1];
  assert.ok(after.hr > settled.hr + 20 && after.spo2 < settled.spo2 - 8, JSON.stringify(after));
});

test('every value stays inside the protocol ranges', () => {
  for (const category of ['green', 'yellow', 'red', 'black']) {
    const monitor = new SimulatedMonitor({ category, random: seededRandom(13) });
    monitor.deteriorate(1);
    const { vitals, batches } = record(monitor, 60);
    for (const v of vitals) {
      assert.ok(v.hr >= 0 && v.hr <= 300 && v.spo2 >= 0 && v.spo2 <= 100 && v.sbp >= 0 && v.sbp <= 300
        && v.dbp >= 0 && v.dbp <= 200 && v.rr >= 0 && v.rr <= 80, JSON.stringify(v));
      assert.ok(Number.isFinite(Date.parse(v.t)));
    }
    for (const batch of batches) assert.ok(batch.samples.every(Number.isFinite));
  }
});
