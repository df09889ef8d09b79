package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/capture"
	"github.com/modbatt/hilrun/protocol/canid"
)

const decodeLog = `(1700000000.000100) can2 1E800001#06010203040506
(1700000000.000200) can2 14080203#13C8FA0C00800000
(1700000000.000300) can1 410#0000000000000000
(1700000000.000400) can1 123#1122
(1700000000.000500) can2 20000040#0000000000000000
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDecodeText(t *testing.T) {
	path := writeFile(t, "bus.log", decodeLog)
	code, out, errs := runCLI(t, "decode", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		"1700000000.000100  can2  1E800001#06010203040506  web4 announce p7 clear module 1(0x01) → broadcast(0x00) ISO-TP SF len=6",
		"1700000000.000200  can2  14080203#13C8FA0C00800000  legacy CAN2 ",
		"1700000000.000300  can1  410#0000000000000000  legacy CAN1 ",
		"1700000000.000400  can1  123#1122  unknown",
		"1700000000.000500  can2  20000040#0000000000000000  error frame class=0x40 bus-off",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines:\n%s", len(lines), out)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d:\n got %q\nwant %q…", i+1, lines[i], want[i])
		}
	}
	if !strings.Contains(lines[1], "module=0x03 seq=2") {
		t.Errorf("legacy line lacks module and sequence: %q", lines[1])
	}
}

func TestDecodeBusFilterAndJSON(t *testing.T) {
	path := writeFile(t, "bus.log", decodeLog)
	code, out, errs := runCLI(t, "decode", path, "--bus", "can2", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines:\n%s", len(lines), out)
	}
	var first struct {
		Time     string `json:"time"`
		Bus      string `json:"bus"`
		ID       string `json:"id"`
		Extended bool   `json:"extended"`
		Data     string `json:"data"`
		Protocol string `json:"protocol"`
		Web4     struct {
			Type    string `json:"type"`
			SrcName string `json:"src_name"`
			ISOTP   struct {
				Kind   string `json:"kind"`
				Length int    `json:"length"`
			} `json:"isotp"`
		} `json:"web4"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first.Time != "2023-11-14T22:13:20.0001Z" || first.Bus != "can2" || first.ID != "1E800001" || !first.Extended ||
		first.Data != "06010203040506" || first.Protocol != "web4" || first.Web4.Type != "announce" ||
		first.Web4.SrcName != "module 1" || first.Web4.ISOTP.Kind != "SF" || first.Web4.ISOTP.Length != 6 {
		t.Errorf("got %+v", first)
	}
	for _, l := range lines[1:] {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("%q: %v", l, err)
		}
	}
}

func TestDecodeBadRecords(t *testing.T) {
	path := writeFile(t, "bus.log", "(1.0) can0 123#11\ngarbage here\n(2.0) can0 124#22\n")
	code, out, errs := runCLI(t, "decode", path)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d", code, exitFailed)
	}
	if strings.Count(out, "\n") != 2 {
		t.Errorf("want the two good frames, got:\n%s", out)
	}
	if !strings.Contains(errs, "line 2:") || !strings.Contains(errs, "1 bad records") {
		t.Errorf("stderr: %s", errs)
	}
}

func TestDecodePcapAndExitCodes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "can2.pcap")
	w, err := capture.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	id := canid.New(canid.TypeCommand, true, canid.LevelPairing, canid.AddrPack, canid.AddrApp).Encode()
	f := bus.Frame{ID: id, Extended: true, Len: 8, Data: [64]byte{0x10, 0xD2}}
	if err := w.Write("can2", bus.Received{Time: time.Unix(1700000000, 5), Frame: f}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	code, out, errs := runCLI(t, "decode", path)
	want := "1700000000.000000005  can2  04864060#10D2000000000000  web4 command p1 enc/pairing app(0x60) → pack(0x40) ISO-TP FF len=210\n"
	if code != exitOK || out != want {
		t.Errorf("exit %d\n got %q\nwant %q\n%s", code, out, want, errs)
	}
	// A cut pcap still prints what decoded and exits 1.
	raw, _ := os.ReadFile(path)
	cut := filepath.Join(dir, "cut.pcap")
	os.WriteFile(cut, append(raw, raw[24:30]...), 0o644)
	if code, out, errs := runCLI(t, "decode", cut); code != exitFailed || out != strings.Replace(want, "can2", "cut", 1) || !strings.Contains(errs, "offset 56") {
		t.Errorf("cut file: exit %d %q %q", code, out, errs)
	}
	if code, _, _ := runCLI(t, "decode", filepath.Join(dir, "missing.log")); code != exitEnviron {
		t.Errorf("missing file: exit %d", code)
	}
	if code, _, _ := runCLI(t, "decode"); code != exitUsage {
		t.Errorf("no file: exit %d", code)
	}
}
