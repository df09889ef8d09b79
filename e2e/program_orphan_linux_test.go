package e2e

import (
	"os/exec"
	"syscall"
)

// orphanGuard has the kernel kill the program if the test process dies before its cleanup.
func orphanGuard(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
