package framework

import "github.com/modbatt/hilrun/mcu"

// Profile is the cost profile the pack charges its crypto at.
func (p *Pack) Profile() mcu.Profile { return p.prof }

// Profile is the cost profile the module charges its crypto at.
func (m *Module) Profile() mcu.Profile { return m.prof }

// Compute is what the module has charged since it was powered on, per operation (its
// mcu.Meter); a performance run takes the difference around each sample.
func (m *Module) Compute() []mcu.Tally { return m.Stats().Compute }
