//go:build !race

package guestkernel

const raceEnabled = false
