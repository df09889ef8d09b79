package rig_test

import (
	"errors"
	"fmt"

	"github.com/modbatt/hilrun/bench/rig"
)

// Parse reports every problem of a rig file, each by its YAML path and line.
func ExampleParse() {
	_, err := rig.Parse([]byte(`name: bench
buses:
  - {name: can1, bitrate: 500000, data_bitrate: 2000000, transport: {kind: socketcan, interface: can0}}
devices:
  - {name: pack, role: pack, image: gateway, flash: {method: stm32-uart}, buses: [can1, can3]}
  - {name: m1, role: module, image: firmware, flash: {method: emulated}, module_id: 0x20, buses: [can1]}
power: {kind: emulated}
authority: {kind: emulated}
`))
	var e *rig.Error
	if errors.As(err, &e) {
		for _, p := range e.Problems {
			fmt.Printf("line %d: %s\n", p.Line, p)
		}
	}
	// Output:
	// line 3: buses[0].data_bitrate: set without fd: true
	// line 5: devices[0].buses[1]: no bus named "can3"
	// line 5: devices[0].flash.port: required for method stm32-uart
	// line 6: devices[1].module_id: 0x20 outside 0x01–0x1F
}

// CanRunHere names every piece of hardware a rig needs and this machine lacks.
func ExampleRig_CanRunHere() {
	r, err := rig.Load("../../rigs/lab-pcan.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	var ce *rig.CannotRunError
	if errors.As(r.CanRunHere(nothing{}), &ce) {
		for _, why := range ce.Reasons {
			fmt.Println(why.Path, "needs", why.Need)
		}
	}
	// Output:
	// buses[0].transport.interface needs CAN interface can0
	// buses[1].transport.interface needs CAN interface can1
	// devices[1].flash.port needs serial port /dev/ttyUSB0
	// power.port needs serial port /dev/ttyUSB1
}

// nothing is a machine with no CAN interfaces, serial ports or tools.
type nothing struct{}

var errNone = errors.New("not here")

func (nothing) Interface(string) error { return errNone }
func (nothing) Device(string) error    { return errNone }
func (nothing) Tool(string) error      { return errNone }
func (nothing) PTY() error             { return errNone }
func (nothing) Dial(string) error      { return errNone }
