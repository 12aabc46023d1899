"""Drills: a timeline file (timeline), simulated physiology (physiology), the exercise run's
event and tokens (services, selectors), and the simulated terminals (engine). docs/drills.md."""
