package framework

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/modbatt/hilrun/bus"
)

func TestCaptureLimit(t *testing.T) {
	dir := t.TempDir()
	c, err := newBusCapture(dir, "x-", "can1", 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		f := bus.Frame{ID: 0x100 + uint32(i), Len: 1}
		if err := c.Record(bus.Received{Frame: f, Time: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.close(); err != nil {
		t.Fatal(err)
	}
	if c.over != 2 {
		t.Errorf("over = %d, want 2", c.over)
	}
	b, err := os.ReadFile(c.paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 3 {
		t.Errorf("candump log has %d lines, want 3:\n%s", n, b)
	}
}
