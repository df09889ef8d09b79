package rig

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: any bytes give a rig or an *Error, never a panic.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../rigs/*.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(base))
	f.Add([]byte("a: &x [*x]"))
	f.Add([]byte("devices: [{flash: {verify: maybe}}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(r.Validate()) != 0 {
			t.Fatal("accepted an invalid rig")
		}
		_ = r.CanRunHere(fakeEnv{})
	})
}

// FuzzParseBudgets: the same for budget sheets.
func FuzzParseBudgets(f *testing.F) {
	if b, err := os.ReadFile("../../rigs/budgets/default.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("budgets: [{target: 1h}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := ParseBudgets(b); err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("untyped error %v", err)
		}
	})
}
