"""Simulated casualties' vital signs and lead II ECG for drills, in drill time.

The same model as the onboard app's simulated monitor (ambulance/static/ambulance/js/
monitor.js), so a drill's numbers and the app's look alike: per-category baselines, a
severity that grows with time untreated (red fastest, green not at all), and the vitals'
targets moving with severity (heart rate up as the body compensates; pressure and saturation
down; breathing faster; consciousness lower). Care slows the worsening: once a crew has the
casualty (oxygen, fluids, splinting) the rate drops to CARE_FACTOR of it.
"""

import math
import random
from dataclasses import dataclass, field

BASELINES: dict[str, dict[str, float]] = {
    "green": {"hr": 82, "spo2": 98, "sbp": 128, "dbp": 82, "rr": 16, "temp": 36.8, "gcs": 15},
    "yellow": {"hr": 98, "spo2": 96, "sbp": 118, "dbp": 76, "rr": 20, "temp": 36.6, "gcs": 15},
    "red": {"hr": 122, "spo2": 92, "sbp": 96, "dbp": 60, "rr": 28, "temp": 36.2, "gcs": 13},
    "black": {"hr": 0, "spo2": 0, "sbp": 0, "dbp": 0, "rr": 0, "temp": 35.0, "gcs": 3},
}
# Severity gained per drill second untreated (0 as triaged .. 1 about to arrest).
DETERIORATION_PER_SECOND = {"green": 0.0, "yellow": 1 / 3600, "red": 1 / 900, "black": 0.0}
CARE_FACTOR = 0.25
# Change of each vital at severity 1, from the baseline.
_AT_WORST = {"hr": 45, "spo2": -18, "sbp": -45, "dbp": -28, "rr": 14, "temp": -0.8, "gcs": -5}
# START's thresholds a delayed casualty crosses on the way to immediate.
RED_SBP = 90
RED_RR = 30
RED_SPO2 = 90
ECG_HZ = 250
ECG_SECONDS = 2.0


@dataclass
class Patient:
    """One simulated casualty. Individual spread: each starts off its category's baseline
    and worsens at its own pace (a factor 0.5..1.5 of the category's rate)."""

    category: str
    reported_at: float  # drill seconds
    rng: random.Random
    pace: float = 1.0
    offsets: dict[str, float] = field(default_factory=dict)
    severity: float = 0.0
    updated_at: float = 0.0
    in_care: bool = False

    @classmethod
    def admit(cls, category: str, at: float, rng: random.Random) -> "Patient":
        offsets = {"hr": rng.gauss(0, 6), "spo2": rng.gauss(0, 1), "sbp": rng.gauss(0, 8),
                   "dbp": rng.gauss(0, 5), "rr": rng.gauss(0, 2), "temp": rng.gauss(0, 0.2)}
        return cls(category=category, reported_at=at, rng=rng, pace=rng.uniform(0.5, 1.5),
                   offsets=offsets, updated_at=at)

    def advance(self, now: float) -> None:
        rate = DETERIORATION_PER_SECOND[self.category] * self.pace
        if self.in_care:
            rate *= CARE_FACTOR
        self.severity = min(1.0, self.severity + rate * max(0.0, now - self.updated_at))
        self.updated_at = now

    def vitals(self, now: float) -> dict[str, float | int]:
        """A measurement at drill time `now`, in PROTOCOL.md's fields and units."""
        self.advance(now)
        base = BASELINES[self.category]
        if self.category == "black":
            return {"hr": 0, "rr": 0, "gcs": 3}
        noise = {"hr": 2.0, "spo2": 0.5, "sbp": 3.0, "dbp": 2.0, "rr": 1.0, "temp": 0.05}

        def value(name: str) -> float:
            return (base[name] + self.offsets.get(name, 0.0) + _AT_WORST[name] * self.severity
                    + self.rng.gauss(0, noise.get(name, 0.0)))

        sbp = min(250.0, max(40.0, value("sbp")))
        return {
            "hr": round(min(220.0, max(30.0, value("hr")))),
            "spo2": round(min(100.0, max(60.0, value("spo2")))),
            "rr": round(min(60.0, max(4.0, value("rr")))),
            "sbp": round(sbp),
            "dbp": round(min(sbp - 10, max(20.0, value("dbp")))),
            "temp": round(min(42.0, max(33.0, value("temp"))), 1),
            "gcs": int(min(15, max(3, round(base["gcs"] + _AT_WORST["gcs"] * self.severity)))),
        }

    def now_immediate(self, vitals: dict[str, float | int]) -> str | None:
        """Why a delayed casualty is now immediate by START's physiology, or None."""
        if self.category != "yellow":
            return None
        if vitals["sbp"] < RED_SBP:
            return f"deteriorated: systolic {vitals['sbp']} mmHg"
        if vitals["rr"] > RED_RR:
            return f"deteriorated: respiratory rate {vitals['rr']}/min"
        if vitals["spo2"] < RED_SPO2:
            return f"deteriorated: SpO2 {vitals['spo2']}%"
        return None

    def ecg(self, hr: float) -> list[float]:
        """ECG_SECONDS of lead II in mV at ECG_HZ, a sum of Gaussian waves per beat after
        McSharry et al. (IEEE Trans Biomed Eng 2003;50:289), as the onboard monitor draws it:
        P and T move with the RR interval by Bazett's square root; ST sinks with severity."""
        rr = 60.0 / max(hr, 30.0)
        scale = math.sqrt(rr)
        waves = [(0.15, -0.2 * scale, 0.025), (-0.12, -0.035, 0.009), (1.1, 0.0, 0.011),
                 (-0.28, 0.035, 0.01), (-0.12 * self.severity, 0.11 * scale, 0.045),
                 (0.32 * (1 - 0.6 * self.severity), 0.3 * scale, 0.06)]
        first_beat = self.rng.uniform(0, rr)
        beats = [first_beat + k * rr for k in range(-1, int(ECG_SECONDS / rr) + 2)]
        samples = []
        for n in range(int(ECG_SECONDS * ECG_HZ)):
            t = n / ECG_HZ
            level = sum(a * math.exp(-((t - beat - mu) ** 2) / (2 * sigma**2))
                        for beat in beats for a, mu, sigma in waves)
            samples.append(round(level + self.rng.gauss(0, 0.01), 3))
        return samples
