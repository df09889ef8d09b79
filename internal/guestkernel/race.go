//go:build race

package guestkernel

// raceEnabled says the binary was built with -race: ThreadSanitizer's fixed shadow-memory
// mappings do not fit in a User-Mode Linux process's address space.
const raceEnabled = true
