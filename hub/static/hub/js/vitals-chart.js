// Live vitals trend (uPlot) and a scrolling ECG strip (canvas) for the hub's screens.
import uPlot from '../../uplot/dist/uPlot.esm.js';

const TREND_SERIES = [
  { key: 'hr', stroke: '#c62828' },
  { key: 'spo2', stroke: '#1565c0' },
  { key: 'rr', stroke: '#2e7d32' },
  { key: 'sbp', stroke: '#6a1b9a' },
];

/** A trend of HR, SpO2, RR and SBP against the time of measurement. */
export class VitalsChart {
  /**
   * @param {HTMLElement} container
   * @param {Record<string, string>} labels series key -> translated label
   */
  constructor(container, labels, { width = 560, height = 180 } = {}) {
    this.points = [];
    this.plot = new uPlot({
      width, height,
      scales: { x: { time: true } },
      series: [{}, ...TREND_SERIES.map((s) => ({ label: labels[s.key] ?? s.key, stroke: s.stroke, width: 2, spanGaps: true, points: { show: true, size: 6 } }))],
      axes: [{}, { size: 40 }],
      legend: { live: false },
    }, [[], ...TREND_SERIES.map(() => [])], container);
  }

  /** Add one `vitals` message's data; points are kept in time order, whatever the arrival. */
  add(vitals) {
    const t = Date.parse(vitals.t) / 1000;
    if (!Number.isFinite(t)) return;
    this.points.push({ t, ...vitals });
    this.points.sort((a, b) => a.t - b.t);
    this.plot.setData([
      this.points.map((p) => p.t),
      ...TREND_SERIES.map((s) => this.points.map((p) => p[s.key] ?? null)),
    ]);
  }

  destroy() {
    this.plot.destroy();
  }
}

/**
 * The last `seconds` of one waveform signal drawn on a canvas, on a 0.2 s grid like paper.
 * Segments are placed by their own t0 and hz, so a late or re-sent segment lands in place.
 */
export class EcgStrip {
  constructor(canvas, { seconds = 6, signal = 'ecg_ii' } = {}) {
    this.canvas = canvas;
    this.seconds = seconds;
    this.signal = signal;
    this.segments = new Map(); // t0 (ms) -> {t0, hz, samples}
  }

  /** @param {{t0: string, hz: number, signal: string, samples: number[]}} waveform */
  add(waveform) {
    if (waveform.signal !== this.signal) return;
    const t0 = Date.parse(waveform.t0);
    this.segments.set(t0, { t0, hz: waveform.hz, samples: waveform.samples });
    const newest = Math.max(...this.segments.keys());
    for (const [key, segment] of this.segments) {
      const end = segment.t0 + (segment.samples.length / segment.hz) * 1000;
      if (end < newest - this.seconds * 1000) this.segments.delete(key);
    }
    this.draw();
  }

  draw() {
    const { canvas } = this;
    const context = canvas.getContext('2d');
    const { width, height } = canvas;
    context.fillStyle = '#fff8f8';
    context.fillRect(0, 0, width, height);
    context.strokeStyle = '#f3c4c4';
    context.lineWidth = 1;
    for (let x = 0; x <= width; x += width / (this.seconds * 5)) {
      context.beginPath();
      context.moveTo(x, 0);
      context.lineTo(x, height);
      context.stroke();
    }
    if (this.segments.size === 0) return;
    let end = -Infinity;
    let low = Infinity;
    let high = -Infinity;
    for (const segment of this.segments.values()) {
      end = Math.max(end, segment.t0 + (segment.samples.length / segment.hz) * 1000);
      for (const value of segment.samples) {
        low = Math.min(low, value);
        high = Math.max(high, value);
      }
    }
    const start = end - this.seconds * 1000;
    const span = high - low || 1;
    context.strokeStyle = '#14202b';
    context.lineWidth = 2;
    for (const segment of [...this.segments.values()].sort((a, b) => a.t0 - b.t0)) {
      context.beginPath();
      segment.samples.forEach((value, index) => {
        const at = segment.t0 + (index / segment.hz) * 1000;
        const x = ((at - start) / (this.seconds * 1000)) * width;
        const y = height - 8 - ((value - low) / span) * (height - 16);
        if (index === 0) context.moveTo(x, y);
        else context.lineTo(x, y);
      });
      context.stroke();
    }
  }
}
