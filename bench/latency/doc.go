// Package latency turns the bench's timed operations into the performance sign-off report.
//
// Suites feed a Recorder one Sample per timed operation: the measured duration, the bus window
// it spanned and the modelled compute the emulated devices charged (mcu.Meter). A Floor computes
// each sample's wire-time floor from the frames that actually crossed the bus in its window,
// bit-accurately at each bus's bitrate. Build groups the samples by operation, computes
// nearest-rank percentiles, splits each measurement into floor, modelled compute and the
// remainder, and gives each budget row of a Sheet a Verdict. A target that the capability map
// makes impossible on the real silicon (docs/protocol.md 1.3, 8.2) is reported as such, with the
// operation that breaks it, and fails unless the sheet waives it; a run on the zero-cost profile
// is reported as software-only, never as a sign-off pass.
//
// The Report is written as latency.json (docs/latency-report.md), latency.html (a table and an
// SVG histogram per operation), a Markdown summary and JUnit properties; Compare diffs two
// latency.json files for release-to-release sign-off.
package latency
