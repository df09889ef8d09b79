package nvm_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/modbatt/hilrun/nvm"
	"github.com/modbatt/hilrun/protocol/freshness"
)

func Example() {
	dir, _ := os.MkdirTemp("", "nvm")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "module-07.nvm")

	s, _ := nvm.Open(path)
	_ = s.Put("id", []byte("module-07"))
	_ = s.PutMany(map[string][]byte{"bind.key": {1, 2, 3}, "bind.kid": {0, 1}}) // both or neither
	ctr, _ := freshness.NewCounter(s.CounterStore("ctr.tx"), 0)
	v, _ := ctr.Next()
	s.Close()

	// After a reset: the records are there and the counter resumes past every value used.
	s, _ = nvm.Open(path)
	ctr, _ = freshness.NewCounter(s.CounterStore("ctr.tx"), 0)
	w, _ := ctr.Next()
	_ = s.Wipe("id") // factory reset
	fmt.Println(v, w, s.Names())
	s.Close()
	// Output: 0 256 [id]
}
