"""The OKR core, pure: evaluation, roll-up, forecast and its confidence, data contracts, formulas, the
cycle's calendar, the typed status document. Values + config + as-of in, results out: no I/O, no clock."""
