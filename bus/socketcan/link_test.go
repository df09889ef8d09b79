package socketcan

import (
	"encoding/binary"
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// linkMessage builds an RTM_NEWLINK payload as the kernel sends it for a vcan interface.
func linkMessage(name, kind string, mtu uint32, up bool) []byte {
	info := ifInfo{typ: unix.ARPHRD_CAN, index: 7}
	if up {
		info.flags = unix.IFF_UP
	}
	b := info.append(nil)
	b = append(b, nlAttr(unix.IFLA_IFNAME, append([]byte(name), 0))...)
	b = append(b, nlAttr(unix.IFLA_MTU, binary.NativeEndian.AppendUint32(nil, mtu))...)
	b = append(b, nlAttr(unix.IFLA_LINKINFO|0x8000, nlAttr(unix.IFLA_INFO_KIND, []byte(kind)))...)
	return b
}

func TestParseLink(t *testing.T) {
	l, err := parseLink(linkMessage("vcan0", "vcan", 72, true))
	if err != nil {
		t.Fatal(err)
	}
	want := Interface{Name: "vcan0", Index: 7, Kind: "vcan", MTU: 72, Up: true}
	if l.Interface != want || l.typ != unix.ARPHRD_CAN || !l.FD() {
		t.Errorf("parseLink = %+v, want %+v", l, want)
	}
}

func TestParseLinkCANData(t *testing.T) {
	info := ifInfo{typ: unix.ARPHRD_CAN, index: 3, flags: unix.IFF_UP}
	b := info.append(nil)
	b = append(b, nlAttr(unix.IFLA_IFNAME, []byte("can0\x00"))...)
	bt := binary.NativeEndian.AppendUint32(nil, 500000)
	bt = append(bt, make([]byte, 28)...) // rest of struct can_bittiming
	dbt := binary.NativeEndian.AppendUint32(nil, 2000000)
	dbt = append(dbt, make([]byte, 28)...)
	data := nlAttr(unix.IFLA_CAN_BITTIMING, bt)
	data = append(data, nlAttr(unix.IFLA_CAN_DATA_BITTIMING, dbt)...)
	data = append(data, nlAttr(unix.IFLA_CAN_STATE, binary.NativeEndian.AppendUint32(nil, unix.CAN_STATE_BUS_OFF))...)
	li := nlAttr(unix.IFLA_INFO_KIND, []byte("can"))
	li = append(li, nlAttr(unix.IFLA_INFO_DATA, data)...)
	b = append(b, nlAttr(unix.IFLA_LINKINFO, li)...)
	l, err := parseLink(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Interface{Name: "can0", Index: 3, Kind: "can", Up: true, Bitrate: 500000, DataBitrate: 2000000, State: "bus-off"}
	if l.Interface != want {
		t.Errorf("parseLink = %+v, want %+v", l.Interface, want)
	}
	badInfo := append(nlAttr(unix.IFLA_INFO_KIND, []byte("can")), nlAttr(unix.IFLA_INFO_DATA, nlAttr(unix.IFLA_CAN_STATE, []byte{1}))...)
	bad := append(info.append(nil), nlAttr(unix.IFLA_LINKINFO, badInfo)...)
	if _, err := parseLink(bad); !errors.Is(err, ErrNetlink) {
		t.Errorf("short CAN state: %v", err)
	}
	// Another kind's data is not read as can-dev's.
	other := append(info.append(nil), nlAttr(unix.IFLA_LINKINFO, append(nlAttr(unix.IFLA_INFO_KIND, []byte("vxcan")), nlAttr(unix.IFLA_INFO_DATA, nlAttr(unix.IFLA_CAN_STATE, []byte{1}))...))...)
	if l, err := parseLink(other); err != nil || l.State != "" {
		t.Errorf("vxcan data: %+v, %v", l, err)
	}
}

func TestNlAttrGolden(t *testing.T) {
	got := nlAttr(unix.IFLA_INFO_KIND, []byte("vcan"))
	want := []byte{8, 0, 1, 0, 'v', 'c', 'a', 'n'}
	if string(got) != string(want) {
		t.Errorf("nlAttr = %x, want %x", got, want)
	}
	got = nlAttr(unix.IFLA_IFNAME, []byte("can0\x00"))
	want = []byte{9, 0, 3, 0, 'c', 'a', 'n', '0', 0, 0, 0, 0}
	if string(got) != string(want) {
		t.Errorf("nlAttr = %x, want %x", got, want)
	}
}

func TestParseRejects(t *testing.T) {
	good := linkMessage("vcan0", "vcan", 72, true)
	for name, b := range map[string][]byte{
		"short ifinfomsg":    good[:10],
		"truncated attr":     good[:len(good)-3],
		"attr len too long":  append(good[:16:16], 0xFF, 0, 3, 0),
		"attr len too short": append(good[:16:16], 2, 0, 3, 0),
		"bad mtu":            append(good[:16:16], nlAttr(unix.IFLA_MTU, []byte{1, 2})...),
	} {
		if _, err := parseLink(b); !errors.Is(err, ErrNetlink) {
			t.Errorf("%s: parseLink = %v, want ErrNetlink", name, err)
		}
	}
	if _, err := parseNetlink([]byte{40, 0, 0, 0, 0, 0}); !errors.Is(err, ErrNetlink) {
		t.Errorf("parseNetlink(short) = %v", err)
	}
}

func TestParseNetlink(t *testing.T) {
	body := linkMessage("vcan0", "vcan", 16, false)
	msg := binary.NativeEndian.AppendUint32(nil, uint32(unix.NLMSG_HDRLEN+len(body)))
	msg = binary.NativeEndian.AppendUint16(msg, unix.RTM_NEWLINK)
	msg = binary.NativeEndian.AppendUint16(msg, 0)
	msg = binary.NativeEndian.AppendUint32(msg, 1)
	msg = binary.NativeEndian.AppendUint32(msg, 0)
	msg = append(msg, body...)
	done := []byte{20, 0, 0, 0, unix.NLMSG_DONE, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	msgs, err := parseNetlink(append(msg, done...))
	if err != nil || len(msgs) != 2 || msgs[0].typ != unix.RTM_NEWLINK || msgs[1].typ != unix.NLMSG_DONE || msgs[0].seq != 1 {
		t.Fatalf("parseNetlink = %+v, %v", msgs, err)
	}
}

func FuzzParseLink(f *testing.F) {
	f.Add(linkMessage("vcan0", "vcan", 72, true))
	f.Add(linkMessage("slcan0", "slcan", 16, false))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := parseLink(b); err != nil && !errors.Is(err, ErrNetlink) {
			t.Fatalf("error %v does not wrap ErrNetlink", err)
		}
		if _, err := parseNetlink(b); err != nil && !errors.Is(err, ErrNetlink) {
			t.Fatalf("error %v does not wrap ErrNetlink", err)
		}
	})
}

// TestInterfacesHost lists the host's links: rtnetlink dumps need no privilege, and a host
// without CAN simply has none.
func TestInterfacesHost(t *testing.T) {
	all, err := Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range all {
		if i.Name == "" || i.Index <= 0 {
			t.Errorf("odd interface %+v", i)
		}
	}
}
