package legacy_test

import (
	"fmt"

	"github.com/modbatt/hilrun/bus"
	"github.com/modbatt/hilrun/legacy"
)

func ExampleEncodeModule() {
	st := &legacy.Status1{State: legacy.StateOn, SOC: 87.5, SOH: 99, CellCount: 94, Current: -12.5, Voltage: 52.5}
	f, err := legacy.EncodeModule(st, 5, 0)
	if err != nil {
		panic(err)
	}
	fmt.Println(f)
	// Output: 14080005#03AFC65E8F7DAC0D
}

func ExampleEncodeApp() {
	f, err := legacy.EncodeApp(&legacy.PackPower{Voltage: 400, Current: -25.5}, 1)
	if err != nil {
		panic(err)
	}
	fmt.Println(f)
	// Output: 521#00000000401F027B
}

func ExampleDecode() {
	f := bus.Frame{ID: 0x14080005, Extended: true, Len: 8,
		Data: [64]byte{0x23, 0xAF, 0xC6, 0x5E, 0x8F, 0x7D, 0xAC, 0x0D}}
	d, err := legacy.Decode(f)
	if err != nil {
		panic(err)
	}
	st := d.Msg.(*legacy.Status1)
	fmt.Printf("module %d: %v, %.1f %% SOC, %.2f A, %.3f V\n", d.ModuleID, st.State, st.SOC, st.Current, st.Voltage)
	// Output: module 5: On, 87.5 % SOC, -12.50 A, 52.500 V
}

func ExampleDescribe() {
	f := bus.Frame{ID: 0x423, Len: 8, Data: [64]byte{0x50, 0x25, 0xA0, 0x24, 0xE8, 0x24}}
	d, ok := legacy.Describe(f)
	fmt.Println(ok, d.Name, d.Direction)
	for _, s := range d.Signals {
		fmt.Println(s)
	}
	// Output:
	// true pack_temps P→A
	// high_temp=25.5 °C
	// low_temp=20 °C
	// avg_temp=22.25 °C
}

func ExampleModuleBusID() {
	id, _ := legacy.ModuleBusID(legacy.IDAnnouncement, legacy.ModuleUnregistered, 0)
	fmt.Printf("%08X\n", id)
	base, mod, seq, _ := legacy.SplitModuleBusID(0x140C0305)
	fmt.Println(base, mod, seq)
	// Output:
	// 140000FF
	// status2 5 3
}
