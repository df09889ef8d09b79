package capture

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/internal/peers"
)

// interopRecords are the frames every peer must see as we wrote them. python-can reads an error
// record as an error frame only when its class has the bus-error bit (0x80).
func interopRecords(iface string) []Record {
	recs := sampleRecords(iface)
	last := &recs[len(recs)-1]
	last.Frame.ID = 0x80
	return recs
}

// pyMessage is what the python-can side prints for each message.
type pyMessage struct {
	Timestamp float64 `json:"timestamp"`
	TimeUS    int64   `json:"time_us"`
	ID        uint32  `json:"id"`
	Extended  bool    `json:"extended"`
	Remote    bool    `json:"remote"`
	Error     bool    `json:"error"`
	FD        bool    `json:"fd"`
	BRS       bool    `json:"brs"`
	ESI       bool    `json:"esi"`
	DLC       int     `json:"dlc"`
	Data      string  `json:"data"`
	Channel   string  `json:"channel"`
}

const pyReadLog = `
import can, json, sys
for m in can.LogReader(sys.argv[1]):
    print(json.dumps({"timestamp": m.timestamp, "time_us": round(m.timestamp * 1e6),
        "id": m.arbitration_id, "extended": m.is_extended_id, "remote": m.is_remote_frame,
        "error": m.is_error_frame, "fd": m.is_fd, "brs": m.bitrate_switch,
        "esi": m.error_state_indicator, "dlc": m.dlc, "data": bytes(m.data or b"").hex(),
        "channel": str(m.channel)}))
`

func TestPythonCanReadsOurCandumpLog(t *testing.T) {
	py := peers.PythonCan(t)
	path := filepath.Join(t.TempDir(), "bus.log")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	want := interopRecords("vcan0")
	for _, r := range want {
		if err := w.WriteRecord(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", pyReadLog, path).Output()
	if err != nil {
		t.Fatalf("python-can: %v\n%s", err, stderrOf(err))
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(want) {
		t.Fatalf("python-can read %d messages, we wrote %d:\n%s", len(lines), len(want), out)
	}
	for i, line := range lines {
		var m pyMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		r := want[i]
		if m.TimeUS != r.Time.UnixMicro() {
			t.Errorf("message %d: time %d µs, wrote %d", i, m.TimeUS, r.Time.UnixMicro())
		}
		if r.Error {
			if !m.Error {
				t.Errorf("message %d: python-can does not see the error frame: %+v", i, m)
			}
			continue
		}
		f := r.Frame
		data := hex.EncodeToString(f.Payload())
		if f.Remote {
			data = ""
		}
		if m.ID != f.ID || m.Extended != f.Extended || m.Remote != f.Remote || m.FD != f.FD ||
			m.BRS != f.BRS || m.ESI != f.ESI || m.DLC != int(f.Len) || m.Data != data || m.Channel != "vcan0" {
			t.Errorf("message %d: python-can read %+v, we wrote %v", i, m, f)
		}
	}
}

const pyWriteLog = `
import can, sys
msgs = [
    can.Message(timestamp=1700000000.25, arbitration_id=0x123, is_extended_id=False, data=b"\x11\x22\x33"),
    can.Message(timestamp=1700000000.250001, arbitration_id=0x1C28FF01, is_extended_id=True, data=bytes(range(8)), is_rx=False),
    can.Message(timestamp=1700000000.5, arbitration_id=0x7FF, is_extended_id=False, is_remote_frame=True, dlc=0),
    can.Message(timestamp=1700000001.000002, arbitration_id=0x456, is_extended_id=False, is_fd=True, bitrate_switch=True, data=bytes(range(12))),
    can.Message(timestamp=1700000002.0, arbitration_id=0x1ABCDEF0, is_extended_id=True, is_fd=True, error_state_indicator=True, data=bytes(range(64))),
    can.Message(timestamp=1700000003.0, is_error_frame=True),
    can.Message(timestamp=1700000004.0, arbitration_id=0x001, is_extended_id=False, data=b""),
]
logger = can.Logger(sys.argv[1], channel="vcan0")
for m in msgs:
    logger(m)
logger.stop()
`

func TestWeReadPythonCanLog(t *testing.T) {
	py := peers.PythonCan(t)
	path := filepath.Join(t.TempDir(), "py.log")
	if out, err := exec.Command(py, "-c", pyWriteLog, path).CombinedOutput(); err != nil {
		t.Fatalf("python-can: %v\n%s", err, out)
	}
	seq := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}
	fd := func(id uint32, ext, brs, esi bool, n int) bus.Frame {
		f := bus.Frame{ID: id, Extended: ext, FD: true, BRS: brs, ESI: esi, Len: uint8(n)}
		copy(f.Data[:], seq(n))
		return f
	}
	want := []Record{
		{Received: bus.Received{Time: time.Unix(1700000000, 250000000), Frame: frame(0x123, false, 0x11, 0x22, 0x33)}},
		{Received: bus.Received{Time: time.Unix(1700000000, 250001000), Frame: frame(0x1C28FF01, true, seq(8)...)}},
		{Received: bus.Received{Time: time.Unix(1700000000, 500000000), Frame: bus.Frame{ID: 0x7FF, Remote: true}}},
		{Received: bus.Received{Time: time.Unix(1700000001, 2000), Frame: fd(0x456, false, true, false, 12)}},
		{Received: bus.Received{Time: time.Unix(1700000002, 0), Frame: fd(0x1ABCDEF0, true, false, true, 64)}},
		{Received: bus.Received{Time: time.Unix(1700000003, 0), Frame: bus.Frame{ID: 0x80}}, Error: true},
		{Received: bus.Received{Time: time.Unix(1700000004, 0), Frame: frame(0x001, false)}},
	}
	got := readAll(t, path)
	if len(got) != len(want) {
		raw, _ := os.ReadFile(path)
		t.Fatalf("read %d records, python-can wrote %d:\n%s", len(got), len(want), raw)
	}
	for i := range want {
		want[i].Iface = "vcan0"
		if !recordsEqual(got[i], want[i]) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestTsharkDecodesOurPcap(t *testing.T) {
	tshark := peers.Tool(t, "tshark", "tshark")
	path := filepath.Join(t.TempDir(), "can0.pcap")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	want := interopRecords("can0")
	for _, r := range want {
		if err := w.WriteRecord(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tshark, "-r", path, "-T", "fields", "-E", "separator=|",
		"-e", "frame.protocols", "-e", "can.id", "-e", "can.flags.xtd", "-e", "can.flags.rtr",
		"-e", "can.flags.err", "-e", "can.len", "-e", "canfd.flags.brs", "-e", "canfd.flags.esi",
		"-e", "data.data")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // keep tshark's profile out of the test
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderrOf(err))
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("tshark decoded %d packets, we wrote %d:\n%s", len(lines), len(want), out)
	}
	for i, line := range lines {
		fields := strings.Split(line, "|")
		if len(fields) != 9 {
			t.Fatalf("packet %d: %q", i, line)
		}
		r := want[i]
		if r.Error {
			if fields[4] != "1" && fields[4] != "True" {
				t.Errorf("packet %d: tshark does not see an error frame: %q", i, line)
			}
			continue
		}
		f := r.Frame
		data := hex.EncodeToString(f.Payload())
		if f.Remote {
			data = fields[8] // tshark 4.0 shows an RTR frame's (zero) padding as data
		}
		var got []string
		got = append(got, fields[1], boolField(fields[2]), fields[5], fields[8])
		exp := []string{strconv.FormatUint(uint64(f.ID), 10), boolStr(f.Extended), strconv.Itoa(int(f.Len)), data}
		if f.FD {
			got = append(got, boolField(fields[6]), boolField(fields[7]))
			exp = append(exp, boolStr(f.BRS), boolStr(f.ESI))
			if !strings.Contains(fields[0], "can") {
				t.Errorf("packet %d: protocols %q", i, fields[0])
			}
		} else {
			got = append(got, boolField(fields[3]))
			exp = append(exp, boolStr(f.Remote))
		}
		if fmt.Sprint(got) != fmt.Sprint(exp) {
			t.Errorf("packet %d: tshark decoded %v, we wrote %v (%v)", i, got, exp, f)
		}
	}
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// boolField normalises tshark's booleans (0/1 in 4.0, False/True in later versions).
func boolField(s string) string {
	switch s {
	case "True", "1":
		return "1"
	}
	return "0"
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// TestCanUtilsReadsOurCandumpLog feeds our log to can-utils' log2long, which parses each line
// with can-utils' own frame parser (the one canplayer uses) and prints it in long form.
func TestCanUtilsReadsOurCandumpLog(t *testing.T) {
	log2long := peers.Tool(t, "log2long", "can-utils")
	path := filepath.Join(t.TempDir(), "bus.log")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	want := sampleRecords("can0")
	for _, r := range want {
		if err := w.WriteRecord(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	in, _ := os.Open(path)
	defer in.Close()
	cmd := exec.Command(log2long)
	cmd.Stdin = in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("log2long: %v\n%s", err, stderrOf(err))
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("log2long printed %d lines for %d records:\n%s", len(lines), len(want), out)
	}
	for i, line := range lines {
		r := want[i]
		f := r.Frame
		fields := strings.Fields(line)
		if len(fields) < 4 {
			t.Fatalf("line %d: %q", i, line)
		}
		id := fmt.Sprintf("%03X", f.ID)
		if f.Extended {
			id = fmt.Sprintf("%08X", f.ID)
		}
		length := fmt.Sprintf("[%d]", f.Len)
		if f.FD {
			length = fmt.Sprintf("[%02d]", f.Len)
		}
		var rest string
		switch {
		case f.Remote:
			rest = "remote request"
		default:
			rest = strings.TrimSpace(strings.ToUpper(fmt.Sprintf("% x", f.Payload())))
		}
		if r.Error {
			id = fmt.Sprintf("%08X", canErrFlag|f.ID)
		}
		got := strings.Join(fields[4:], " ")
		if fields[1] != "can0" || fields[2] != id || fields[3] != length || !strings.HasPrefix(got, rest) {
			t.Errorf("line %d: log2long read %q, we wrote %v", i, line, f)
		}
		if r.Error && !strings.HasSuffix(got, "ERRORFRAME") {
			t.Errorf("line %d: not an error frame: %q", i, line)
		}
	}
}

// TestWeReadWiresharkPcap has Wireshark's file library rewrite our capture in the microsecond
// and nanosecond pcap formats and reads the copies back.
func TestWeReadWiresharkPcap(t *testing.T) {
	tshark := peers.Tool(t, "tshark", "tshark")
	dir := t.TempDir()
	path := filepath.Join(dir, "can0.pcap")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	want := interopRecords("can0")
	for _, r := range want {
		if err := w.WriteRecord(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"pcap", "nsecpcap"} {
		copyPath := filepath.Join(dir, format+".pcap")
		cmd := exec.Command(tshark, "-r", path, "-F", format, "-w", copyPath)
		cmd.Env = append(os.Environ(), "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("tshark -F %s: %v\n%s", format, err, out)
		}
		got := readAll(t, copyPath)
		if len(got) != len(want) {
			t.Fatalf("%s: read %d records, wrote %d", format, len(got), len(want))
		}
		for i := range want {
			exp := want[i]
			exp.Iface = format
			if format == "pcap" {
				exp.Time = exp.Time.Truncate(time.Microsecond)
			}
			if !recordsEqual(got[i], exp) {
				t.Errorf("%s record %d:\n got %+v\nwant %+v", format, i, got[i], exp)
			}
		}
	}
}
