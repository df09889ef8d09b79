//go:build unix

package nvm

import (
	"errors"
	"os"
	"syscall"
)

// lock takes an exclusive advisory lock on f so that two device processes never write one
// NVM file (as two MCUs never share one flash).
func lock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return ErrLocked
	}
	return err
}
