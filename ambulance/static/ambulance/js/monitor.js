// Patient monitor sources for the onboard app.
//
// A monitor source is an EventTarget with start() and stop() that dispatches
//   'vitals'   {t, hr, spo2, sbp, dbp, rr}            about once a second
//   'waveform' {t0, hz, signal, unit, samples}         in short batches
// with PROTOCOL.md's field names and units, so the app sends what it gets unchanged. A
// device adapter (serial, Bluetooth, a vendor gateway) implements the same two methods and
// events; the simulated monitor below is the one this project ships, for drills and tests.

const HZ = 250; // ECG sampling rate, as most transport monitors export lead II
const BATCHES_PER_SECOND = 10;
const VITALS_EVERY_MS = 1000;
const SETTLE_SECONDS = 15; // time constant of the vitals' approach to their target

// Where each category's vitals sit before any deterioration: typical values for an adult
// with minor, delayed or immediate injuries, and a peri-arrest casualty for black.
const BASELINES = {
  green: { hr: 82, spo2: 98, sbp: 128, dbp: 82, rr: 16 },
  yellow: { hr: 98, spo2: 96, sbp: 118, dbp: 76, rr: 20 },
  red: { hr: 122, spo2: 92, sbp: 96, dbp: 60, rr: 28 },
  black: { hr: 42, spo2: 72, sbp: 62, dbp: 38, rr: 6 },
};
// How fast an untreated casualty of each category worsens (severity per second, 0..1).
const DETERIORATION_RATE = { green: 0, yellow: 1 / 3600, red: 1 / 900, black: 0 };

/** A small seeded PRNG (mulberry32), so tests and drills can be replayed exactly. */
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(random) {
  // Box-Muller: monitors' noise and beat-to-beat variability are roughly normal.
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/**
 * Vitals targets for a category at a severity (0: as triaged, 1: about to arrest): heart
 * rate climbs (compensation), pressure, saturation fall, breathing quickens.
 */
export function vitalsTarget(category, severity) {
  const base = BASELINES[category] ?? BASELINES.yellow;
  if (category === 'black') return { ...base };
  return {
    hr: base.hr + 45 * severity,
    spo2: base.spo2 - 18 * severity,
    sbp: base.sbp - 45 * severity,
    dbp: base.dbp - 28 * severity,
    rr: base.rr + 14 * severity,
  };
}

// One beat of lead II as a sum of Gaussian waves around the R peak, after McSharry et al.,
// "A dynamical model for generating synthetic electrocardiogram signals", IEEE Trans Biomed
// Eng 2003;50(3):289-294 (ECGSYN): P, Q, R, S, T at fixed angles of the cardiac cycle. Here
// in seconds: P and T move with the RR interval by Bazett's square root, as the QT does;
// the ST segment sinks and T flattens with severity (ischaemia from shock and hypoxia).
function beatWaves(rr, severity) {
  const scale = Math.sqrt(rr);
  return [
    { a: 0.15, mu: -0.2 * scale, sigma: 0.025 }, // P
    { a: -0.12, mu: -0.035, sigma: 0.009 }, // Q
    { a: 1.1, mu: 0, sigma: 0.011 }, // R
    { a: -0.28, mu: 0.035, sigma: 0.01 }, // S
    { a: -0.12 * severity, mu: 0.11 * scale, sigma: 0.045 }, // ST depression
    { a: 0.32 * (1 - 0.6 * severity), mu: 0.3 * scale, sigma: 0.06 }, // T
  ];
}

/** A drill monitor: plausible vitals for a category, worsening over time, and lead II. */
export class SimulatedMonitor extends EventTarget {
  /**
   * @param {object} [options]
   * @param {'red'|'yellow'|'green'|'black'} [options.category]
   * @param {() => number} [options.random]
   * @param {() => number} [options.now] milliseconds since the epoch
   */
  constructor({ category = 'yellow', random = seededRandom(1), now = () => Date.now() } = {}) {
    super();
    this.category = category;
    this.severity = 0;
    this._random = random;
    this._now = now;
    this._vitals = vitalsTarget(category, 0);
    this._clockMs = null; // simulated time of the next sample
    this._beats = []; // R-peak times (ms) around the samples being made
    this._batch = [];
    this._batchStart = null;
    this._nextVitalsMs = null;
    this._timer = null;
  }

  /** The casualty was re-triaged: its vitals move to the new category's. */
  setCategory(category) {
    this.category = category;
  }

  /** The casualty got worse (a drill inject): severity steps up by `amount` (0..1). */
  deteriorate(amount = 0.25) {
    this.severity = Math.min(1, this.severity + amount);
  }

  get vitals() {
    const v = this._vitals;
    return { hr: Math.round(v.hr), spo2: Math.round(Math.min(100, v.spo2)), sbp: Math.round(v.sbp), dbp: Math.round(v.dbp), rr: Math.round(v.rr) };
  }

  start() {
    if (this._timer) return;
    this.advanceTo(this._now());
    this._timer = setInterval(() => this.advanceTo(this._now()), 1000 / BATCHES_PER_SECOND);
  }

  stop() {
    clearInterval(this._timer);
    this._timer = null;
  }

  /** Make every sample up to `untilMs` and dispatch the batches and vitals now complete. */
  advanceTo(untilMs) {
    const stepMs = 1000 / HZ;
    const batchSize = HZ / BATCHES_PER_SECOND;
    if (this._clockMs === null) {
      this._clockMs = untilMs;
      this._nextVitalsMs = untilMs;
      this._beats = [untilMs - 300];
    }
    while (this._clockMs <= untilMs) {
      if (this._clockMs >= this._nextVitalsMs) {
        this._evolve(VITALS_EVERY_MS / 1000);
        this._emit('vitals', { t: new Date(this._clockMs).toISOString(), ...this.vitals });
        this._nextVitalsMs += VITALS_EVERY_MS;
      }
      if (this._batch.length === 0) this._batchStart = this._clockMs;
      this._batch.push(this._sample(this._clockMs));
      if (this._batch.length === batchSize) {
        this._emit('waveform', { t0: new Date(this._batchStart).toISOString(), hz: HZ, signal: 'ecg_ii', unit: 'mV', samples: this._batch });
        this._batch = [];
      }
      this._clockMs += stepMs;
    }
  }

  _evolve(seconds) {
    this.severity = Math.min(1, this.severity + DETERIORATION_RATE[this.category] * seconds);
    const target = vitalsTarget(this.category, this.severity);
    const pull = 1 - Math.exp(-seconds / SETTLE_SECONDS);
    const noise = { hr: 1.2, spo2: 0.3, sbp: 1.5, dbp: 1, rr: 0.5 };
    for (const key of Object.keys(target)) {
      this._vitals[key] += (target[key] - this._vitals[key]) * pull + noise[key] * gaussian(this._random) * Math.sqrt(seconds);
    }
    this._vitals.spo2 = Math.min(100, Math.max(50, this._vitals.spo2));
  }

  // The RR interval of the next beat: the mean from the heart rate, with respiratory sinus
  // arrhythmia (the breathing rate modulates it) and a little beat-to-beat jitter.
  _nextRR(atMs) {
    const meanSeconds = 60 / Math.max(20, this._vitals.hr);
    const breathing = Math.sin(2 * Math.PI * (this._vitals.rr / 60) * (atMs / 1000));
    return meanSeconds * (1 + 0.03 * breathing + 0.01 * gaussian(this._random));
  }

  _sample(atMs) {
    while (this._beats[this._beats.length - 1] < atMs + 1000) {
      const last = this._beats[this._beats.length - 1];
      this._beats.push(last + this._nextRR(last) * 1000);
    }
    while (this._beats.length > 2 && this._beats[1] < atMs - 1000) this._beats.shift();
    let value = 0;
    for (let index = 0; index < this._beats.length; index += 1) {
      const peak = this._beats[index];
      const rr = ((this._beats[index + 1] ?? peak + 800) - (this._beats[index - 1] ?? peak - 800)) / 2000;
      const offset = (atMs - peak) / 1000;
      if (Math.abs(offset) > 0.8) continue;
      for (const wave of beatWaves(rr, this.severity)) {
        value += wave.a * Math.exp(-((offset - wave.mu) ** 2) / (2 * wave.sigma ** 2));
      }
    }
    const seconds = atMs / 1000;
    // Baseline wander with breathing, and the electrode noise every strip has.
    value += 0.04 * Math.sin(2 * Math.PI * (this._vitals.rr / 60) * seconds) + 0.01 * gaussian(this._random);
    return Math.round(value * 1000) / 1000;
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
