package socketcan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Interface is a CAN network interface as rtnetlink reports it.
type Interface struct {
	Name  string
	Index int
	Kind  string // link kind: "vcan", "slcan", "can" (a hardware driver), … ; empty when unknown
	MTU   int    // 16 classic only, 72 CAN FD
	Up    bool

	// Controller settings, for interfaces of kind "can" (hardware drivers and slcan) that
	// report them; zero otherwise.
	Bitrate     int    // nominal bitrate in bit/s
	DataBitrate int    // CAN FD data-phase bitrate in bit/s
	State       string // "error-active", "error-warning", "error-passive", "bus-off", "stopped", "sleeping"
}

// FD reports whether the interface carries CAN FD frames.
func (i Interface) FD() bool { return i.MTU == FDRecordLen }

// Interfaces lists the CAN interfaces (link type ARPHRD_CAN) of the current network namespace.
func Interfaces() ([]Interface, error) {
	msgs, err := netlinkRequest(unix.RTM_GETLINK, unix.NLM_F_DUMP, ifInfo{}, nil)
	if err != nil {
		return nil, fmt.Errorf("socketcan: list interfaces: %w", err)
	}
	var out []Interface
	for _, m := range msgs {
		if m.typ != unix.RTM_NEWLINK {
			continue
		}
		l, err := parseLink(m.data)
		if err != nil {
			return nil, fmt.Errorf("socketcan: list interfaces: %w", err)
		}
		if l.typ == unix.ARPHRD_CAN {
			out = append(out, l.Interface)
		}
	}
	return out, nil
}

// CreateVCAN creates a virtual CAN interface and sets it up; with fd its MTU is CANFD_MTU.
// It needs CAP_NET_ADMIN and the vcan module.
func CreateVCAN(name string, fd bool) error {
	mtu := uint32(ClassicRecordLen)
	if fd {
		mtu = FDRecordLen
	}
	attrs := nlAttr(unix.IFLA_IFNAME, append([]byte(name), 0))
	attrs = append(attrs, nlAttr(unix.IFLA_MTU, binary.NativeEndian.AppendUint32(nil, mtu))...)
	attrs = append(attrs, nlAttr(unix.IFLA_LINKINFO, nlAttr(unix.IFLA_INFO_KIND, []byte("vcan")))...)
	if _, err := netlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL, ifInfo{}, attrs); err != nil {
		return fmt.Errorf("socketcan: create vcan %s: %w", name, err)
	}
	return SetUp(name, true)
}

// SetUp brings an interface up or down.
func SetUp(name string, up bool) error {
	idx, err := indexOf(name)
	if err != nil {
		return err
	}
	info := ifInfo{index: int32(idx), change: unix.IFF_UP}
	if up {
		info.flags = unix.IFF_UP
	}
	if _, err := netlinkRequest(unix.RTM_NEWLINK, 0, info, nil); err != nil {
		return fmt.Errorf("socketcan: set %s up=%v: %w", name, up, err)
	}
	return nil
}

// DeleteLink removes a virtual interface.
func DeleteLink(name string) error {
	idx, err := indexOf(name)
	if err != nil {
		return err
	}
	if _, err := netlinkRequest(unix.RTM_DELLINK, 0, ifInfo{index: int32(idx)}, nil); err != nil {
		return fmt.Errorf("socketcan: delete %s: %w", name, err)
	}
	return nil
}

func indexOf(name string) (int, error) {
	all, err := Interfaces()
	if err != nil {
		return 0, err
	}
	for _, i := range all {
		if i.Name == name {
			return i.Index, nil
		}
	}
	return 0, fmt.Errorf("socketcan: no CAN interface %q", name)
}

// ifInfo is struct ifinfomsg.
type ifInfo struct {
	typ    uint16
	index  int32
	flags  uint32
	change uint32
}

const ifInfoLen = 16

func (i ifInfo) append(b []byte) []byte {
	b = append(b, unix.AF_UNSPEC, 0)
	b = binary.NativeEndian.AppendUint16(b, i.typ)
	b = binary.NativeEndian.AppendUint32(b, uint32(i.index))
	b = binary.NativeEndian.AppendUint32(b, i.flags)
	return binary.NativeEndian.AppendUint32(b, i.change)
}

// nlAttr encodes one rtnetlink attribute, padded to 4 bytes.
func nlAttr(typ uint16, payload []byte) []byte {
	n := unix.SizeofRtAttr + len(payload)
	b := binary.NativeEndian.AppendUint16(nil, uint16(n))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// ErrNetlink is wrapped by every error about a malformed rtnetlink message.
var ErrNetlink = errors.New("socketcan: malformed rtnetlink message")

// link is a parsed RTM_NEWLINK message.
type link struct {
	Interface
	typ uint16
}

// parseLink decodes an ifinfomsg and, for a CAN link, the attributes hilrun needs from it.
func parseLink(b []byte) (link, error) {
	if len(b) < ifInfoLen {
		return link{}, fmt.Errorf("%w: ifinfomsg of %d bytes", ErrNetlink, len(b))
	}
	l := link{typ: binary.NativeEndian.Uint16(b[2:4])}
	if l.typ != unix.ARPHRD_CAN {
		return l, nil // other links' attributes are none of this package's business
	}
	l.Index = int(int32(binary.NativeEndian.Uint32(b[4:8])))
	l.Up = binary.NativeEndian.Uint32(b[8:12])&unix.IFF_UP != 0
	err := walkAttrs(b[ifInfoLen:], func(typ uint16, v []byte) error {
		switch typ {
		case unix.IFLA_IFNAME:
			l.Name = cString(v)
		case unix.IFLA_MTU:
			if len(v) != 4 {
				return fmt.Errorf("%w: IFLA_MTU of %d bytes", ErrNetlink, len(v))
			}
			l.MTU = int(binary.NativeEndian.Uint32(v))
		case unix.IFLA_LINKINFO:
			return walkAttrs(v, func(typ uint16, v []byte) error {
				switch typ {
				case unix.IFLA_INFO_KIND:
					l.Kind = cString(v)
				case unix.IFLA_INFO_DATA:
					if l.Kind == "can" { // can-dev's data; other kinds number their attributes alike
						return walkAttrs(v, l.canAttr)
					}
				}
				return nil
			})
		}
		return nil
	})
	return l, err
}

var canStates = [...]string{"error-active", "error-warning", "error-passive", "bus-off", "stopped", "sleeping"}

// canAttr reads one attribute of the can-dev link data (linux/can/netlink.h).
func (l *link) canAttr(typ uint16, v []byte) error {
	switch typ {
	case unix.IFLA_CAN_BITTIMING, unix.IFLA_CAN_DATA_BITTIMING:
		// struct can_bittiming begins with the bitrate.
		if len(v) < 4 {
			return fmt.Errorf("%w: bit timing of %d bytes", ErrNetlink, len(v))
		}
		br := int(binary.NativeEndian.Uint32(v[0:4]))
		if typ == unix.IFLA_CAN_BITTIMING {
			l.Bitrate = br
		} else {
			l.DataBitrate = br
		}
	case unix.IFLA_CAN_STATE:
		if len(v) != 4 {
			return fmt.Errorf("%w: CAN state of %d bytes", ErrNetlink, len(v))
		}
		if st := binary.NativeEndian.Uint32(v); st < uint32(len(canStates)) {
			l.State = canStates[st]
		} else {
			l.State = fmt.Sprintf("state-%d", st)
		}
	}
	return nil
}

// walkAttrs calls fn for each attribute in b (the nested flag is masked off the type).
func walkAttrs(b []byte, fn func(typ uint16, v []byte) error) error {
	for len(b) > 0 {
		if len(b) < unix.SizeofRtAttr {
			return fmt.Errorf("%w: %d trailing bytes", ErrNetlink, len(b))
		}
		n := int(binary.NativeEndian.Uint16(b[0:2]))
		typ := binary.NativeEndian.Uint16(b[2:4]) & 0x3FFF
		if n < unix.SizeofRtAttr || n > len(b) {
			return fmt.Errorf("%w: attribute %d claims %d of %d bytes", ErrNetlink, typ, n, len(b))
		}
		if err := fn(typ, b[unix.SizeofRtAttr:n]); err != nil {
			return err
		}
		b = b[min((n+3)&^3, len(b)):]
	}
	return nil
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// netlinkRequest sends one rtnetlink request and collects the replies up to the
// acknowledgement (or NLMSG_DONE for a dump).
func netlinkRequest(typ uint16, flags int, info ifInfo, attrs []byte) ([]nlMsg, error) {
	s, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	defer unix.Close(s)
	if err := unix.Bind(s, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	body := info.append(nil)
	body = append(body, attrs...)
	const seq = 1
	msg := binary.NativeEndian.AppendUint32(nil, uint32(unix.NLMSG_HDRLEN+len(body)))
	msg = binary.NativeEndian.AppendUint16(msg, typ)
	msg = binary.NativeEndian.AppendUint16(msg, uint16(unix.NLM_F_REQUEST|unix.NLM_F_ACK|flags))
	msg = binary.NativeEndian.AppendUint32(msg, seq)
	msg = binary.NativeEndian.AppendUint32(msg, 0)
	msg = append(msg, body...)
	if err := unix.Sendto(s, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	var out []nlMsg
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(s, buf, 0)
		if err != nil {
			return nil, err
		}
		msgs, err := parseNetlink(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if m.seq != seq {
				continue
			}
			switch m.typ {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.data) < 4 {
					return nil, fmt.Errorf("%w: short error message", ErrNetlink)
				}
				if code := int32(binary.NativeEndian.Uint32(m.data[0:4])); code != 0 {
					return nil, os.NewSyscallError("rtnetlink", unix.Errno(-code))
				}
				return out, nil
			default:
				out = append(out, m)
			}
		}
	}
}

// nlMsg is one netlink message: its header's type and sequence number, and its payload.
type nlMsg struct {
	typ  uint16
	seq  uint32
	data []byte
}

// parseNetlink splits a datagram into netlink messages.
func parseNetlink(b []byte) ([]nlMsg, error) {
	var out []nlMsg
	for len(b) > 0 {
		if len(b) < unix.NLMSG_HDRLEN {
			return nil, fmt.Errorf("%w: %d trailing bytes", ErrNetlink, len(b))
		}
		n := int(binary.NativeEndian.Uint32(b[0:4]))
		if n < unix.NLMSG_HDRLEN || n > len(b) {
			return nil, fmt.Errorf("%w: message claims %d of %d bytes", ErrNetlink, n, len(b))
		}
		out = append(out, nlMsg{
			typ:  binary.NativeEndian.Uint16(b[4:6]),
			seq:  binary.NativeEndian.Uint32(b[8:12]),
			data: b[unix.NLMSG_HDRLEN:n],
		})
		n = min((n+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1), len(b))
		b = b[n:]
	}
	return out, nil
}

// KernelSupport reports whether the running kernel offers CAN raw sockets (the can and can-raw
// modules); without them no SocketCAN endpoint can open.
func KernelSupport() error {
	s, err := unix.Socket(unix.AF_CAN, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.CAN_RAW)
	if err != nil {
		return fmt.Errorf("socketcan: this kernel offers no CAN raw sockets (modules can, can-raw): %w", err)
	}
	unix.Close(s)
	return nil
}
