package socketcan_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/modbatt/hilrun/bus/socketcan"
	"github.com/modbatt/hilrun/clock"
	"github.com/modbatt/hilrun/internal/guestkernel"
	"github.com/modbatt/hilrun/protocol/canid"
	"github.com/modbatt/hilrun/protocol/isotp"
)

// qemuModules are loaded, in this order, into the qemu guest: UML has no can-isotp.
var qemuModules = []string{"can", "can-raw", "can-dev", "vcan", "can-isotp"}

// TestKernelISOTP boots the Debian kernel under qemu and runs TestGuestISOTP in it: the
// protocol/isotp engine over this transport exchanges messages with the kernel's can-isotp.
func TestKernelISOTP(t *testing.T) {
	guestkernel.RunTest(t, guestkernel.Spec{Kind: guestkernel.Qemu, Test: "^TestGuestISOTP$", Modules: qemuModules})
}

// Kernel ISO-TP socket options (linux/can/isotp.h).
const (
	solCANISOTP           = unix.SOL_CAN_BASE + unix.CAN_ISOTP
	isotpOpts             = 1 // CAN_ISOTP_OPTS: struct can_isotp_options
	isotpLLOpts           = 5 // CAN_ISOTP_LL_OPTS: struct can_isotp_ll_options
	isotpTxPadding        = 0x004
	isotpWaitTxDone       = 0x400
	canfdBRS              = 0x01
	kernelAddr      uint8 = canid.AddrApp
	ourAddr         uint8 = canid.AddrPack
)

// kernelISOTP is a can-isotp socket that sends on tx and listens on rx (both 29-bit).
func kernelISOTP(t *testing.T, ifname string, tx, rx uint32, fd bool) int {
	t.Helper()
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	s, err := unix.Socket(unix.AF_CAN, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.CAN_ISOTP)
	if err != nil {
		t.Fatalf("can-isotp socket: %v", err)
	}
	t.Cleanup(func() { unix.Close(s) })
	// struct can_isotp_options: flags, frame_txtime, ext_address, txpad_content, rxpad_content, rx_ext_address
	opts := binary.NativeEndian.AppendUint32(nil, isotpTxPadding|isotpWaitTxDone)
	opts = binary.NativeEndian.AppendUint32(opts, 0)
	opts = append(opts, 0, isotp.DefaultPadByte, isotp.DefaultPadByte, 0)
	if err := unix.SetsockoptString(s, solCANISOTP, isotpOpts, string(opts)); err != nil {
		t.Fatalf("CAN_ISOTP_OPTS: %v", err)
	}
	if fd {
		// struct can_isotp_ll_options: mtu, tx_dl, tx_flags
		ll := []byte{socketcan.FDRecordLen, 64, canfdBRS}
		if err := unix.SetsockoptString(s, solCANISOTP, isotpLLOpts, string(ll)); err != nil {
			t.Fatalf("CAN_ISOTP_LL_OPTS: %v", err)
		}
	}
	tv := unix.NsecToTimeval(int64(5 * time.Second))
	if err := unix.SetsockoptTimeval(s, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	addr := &unix.SockaddrCAN{Ifindex: ifi.Index, TxID: tx | unix.CAN_EFF_FLAG, RxID: rx | unix.CAN_EFF_FLAG}
	if err := unix.Bind(s, addr); err != nil {
		t.Fatalf("bind can-isotp: %v", err)
	}
	return s
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)*31 + seed
	}
	return b
}

func TestGuestISOTP(t *testing.T) {
	guestkernel.Only(t, guestkernel.Qemu)
	// Larger socket buffers in this throw-away kernel, so that a slow (-race) build of the
	// engine still keeps up with the kernel's 586-frame bursts.
	if err := os.WriteFile("/proc/sys/net/core/rmem_default", []byte("4194304"), 0); err != nil {
		t.Fatal(err)
	}
	if err := socketcan.CreateVCAN("vcan0", true); err != nil {
		t.Fatal(err)
	}
	toUs := canid.New(canid.TypeBindingXfer, false, 0, ourAddr, kernelAddr)
	toKernel := toUs.Reply()
	for _, fd := range []bool{false, true} {
		mode := map[bool]string{false: "classic", true: "fd"}[fd]
		t.Run(mode+"/kernel-to-kernel", func(t *testing.T) {
			a := kernelISOTP(t, "vcan0", toUs.Encode(), toKernel.Encode(), fd)
			b := kernelISOTP(t, "vcan0", toKernel.Encode(), toUs.Encode(), fd)
			msg := pattern(1000, 3)
			if _, err := unix.Write(a, msg); err != nil {
				t.Fatalf("kernel send: %v", err)
			}
			buf := make([]byte, 8192)
			n, err := unix.Read(b, buf)
			if err != nil || !bytes.Equal(buf[:n], msg) {
				t.Fatalf("kernel receive: %d bytes, %v", n, err)
			}
		})
		cfg := isotp.ProfileV1()
		// Profile v1 asks for BS 0 and STmin 0, so the kernel sends a 4095-byte message as one
		// burst of 586 frames: the endpoint must hold them while the engine catches up.
		opts := []socketcan.Option{socketcan.WithQueue(1024)}
		if fd {
			cfg = isotp.ProfileV1FD()
			opts = append(opts, socketcan.WithFD())
		}
		ep, err := socketcan.Open(t.Context(), "vcan0", opts...)
		if err != nil {
			t.Fatal(err)
		}
		node, err := isotp.NewNode(ourAddr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		conn := isotp.NewConn(ep, clock.Real{}, node)
		k := kernelISOTP(t, "vcan0", toUs.Encode(), toKernel.Encode(), fd)
		for _, size := range []int{5, 7, 62, 63, 64, 300, 4095} {
			t.Run(fmt.Sprintf("%s/kernel-to-ours/%d", mode, size), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				defer cancel()
				msg := pattern(size, 1)
				start := time.Now()
				if _, err := unix.Write(k, msg); err != nil {
					t.Fatalf("kernel send: %v", err)
				}
				got, err := conn.Receive(ctx)
				if err != nil {
					t.Fatalf("our receive: %v (engine %+v, endpoint %+v)", err, conn.Stats(), ep.Stats())
				}
				if got.ID != toUs || !bytes.Equal(got.Data, msg) {
					t.Fatalf("received %v with %d bytes, want %v with %d", got.ID, len(got.Data), toUs, size)
				}
				t.Logf("%d bytes in %d frames, %v", size, isotp.Frames(size, fd), time.Since(start).Round(time.Microsecond))
			})
			t.Run(fmt.Sprintf("%s/ours-to-kernel/%d", mode, size), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				defer cancel()
				msg := pattern(size, 2)
				start := time.Now()
				if err := conn.Send(ctx, isotp.Message{ID: toKernel, Data: msg, FD: fd}); err != nil {
					t.Fatalf("our send: %v (stats %+v)", err, conn.Stats())
				}
				buf := make([]byte, 8192)
				n, err := unix.Read(k, buf)
				if err != nil {
					t.Fatalf("kernel receive: %v", err)
				}
				if !bytes.Equal(buf[:n], msg) {
					t.Fatalf("kernel received %d bytes, want %d", n, size)
				}
				t.Logf("%d bytes in %d frames, %v", size, isotp.Frames(size, fd), time.Since(start).Round(time.Microsecond))
			})
		}
		conn.Close()
		ep.Close()
	}
}
