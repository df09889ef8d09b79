package guestkernel

import (
	"os/exec"
	"syscall"
)

// ownGroup puts the kernel process in a process group of its own and makes cancelling kill the
// whole group: UML runs the guest's processes in host helper processes that must not outlive it.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return killGroup(cmd) }
}

// killGroup kills what is left of the kernel's process group.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
