package capture

import "testing"

func TestZZGen(t *testing.T) {
	w, err := Create("/tmp/pc/s.log")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range sampleRecords("can0") {
		w.WriteRecord(r)
	}
	w.Close()
}
