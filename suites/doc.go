// Package suites holds the bench's Ginkgo specs. They describe the system's behaviour as a
// user of the bench sees it; bench/framework brings the rig up and tears it down, so the same
// specs run on every rig. Each container carries labels (smoke, legacy, robustness,
// qualification, perf …) that `hilrun run --label-filter` and `go test ./suites/ -ginkgo.label-filter`
// select by.
//
// Importing the package registers the specs; Run (or `go test ./suites/`) runs them. Ginkgo
// keeps one spec tree per process, so a process runs the suites once.
package suites
