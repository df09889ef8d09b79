package capture_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/capture"
)

// A bus records every frame it carries through one Writer; the file name picks the format.
func Example() {
	dir, _ := os.MkdirTemp("", "capture")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "can2.log") // or can2.pcap

	w, err := capture.Create(path)
	if err != nil {
		panic(err)
	}
	f := bus.Frame{ID: 0x1E800001, Extended: true, Len: 3, Data: [64]byte{0x02, 0xAA, 0xBB}}
	w.Write("can2", bus.Received{Frame: f, Time: time.Unix(1700000000, 250000000)})
	w.Close()

	r, err := capture.Open(path)
	if err != nil {
		panic(err)
	}
	defer r.Close()
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err) // a bad record; Next goes on where it can
			continue
		}
		fmt.Println(rec.Time.Unix(), rec.Iface, rec.Frame)
	}
	// Output: 1700000000 can2 1E800001#02AABB
}
