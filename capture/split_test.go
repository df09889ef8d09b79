package capture

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/modbatt/hilrun/bus"
)

func TestSplitWriterOneFilePerInterface(t *testing.T) {
	for _, ext := range []string{".pcap", ".log"} {
		t.Run(ext, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "captures")
			w, err := NewSplitWriter(dir, ext)
			if err != nil {
				t.Fatal(err)
			}
			recs := append(sampleRecords("can1"), sampleRecords("can2")...)
			for _, r := range recs {
				if err := w.WriteRecord(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Write("../x", bus.Received{}); !errors.Is(err, ErrBadInterface) {
				t.Errorf("path in interface name: %v", err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			paths := w.Paths()
			if len(paths) != 2 || filepath.Base(paths[0]) != "can1"+ext || filepath.Base(paths[1]) != "can2"+ext {
				t.Fatalf("paths %v", paths)
			}
			for i, p := range paths {
				got := readAll(t, p)
				want := recs[i*len(got) : (i+1)*len(got)]
				if len(got) != len(recs)/2 {
					t.Fatalf("%s: %d records", p, len(got))
				}
				for j := range got {
					if !recordsEqual(got[j], want[j]) {
						t.Errorf("%s record %d: got %+v want %+v", p, j, got[j], want[j])
					}
				}
			}
		})
	}
	if _, err := NewSplitWriter(t.TempDir(), ".txt"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf(".txt: %v", err)
	}
}

func TestWritersAreSafeForConcurrentUse(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"c.log", "c.pcap"} {
		w, err := Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		for g := 0; g < 4; g++ {
			go func() {
				var err error
				for _, r := range sampleRecords("can0") {
					if e := w.WriteRecord(r); e != nil {
						err = e
					}
				}
				done <- err
			}()
		}
		for g := 0; g < 4; g++ {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if n := len(readAll(t, filepath.Join(dir, name))); n != 4*len(sampleRecords("x")) {
			t.Errorf("%s: %d records", name, n)
		}
	}
}
