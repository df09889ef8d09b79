package legacy

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"go.einride.tech/can/pkg/dbc"
	"go.einride.tech/can/pkg/dbc/analysis"
	"go.einride.tech/can/pkg/dbc/analysis/passes/boolprefix"
	"go.einride.tech/can/pkg/dbc/analysis/passes/definitiontypeorder"
	"go.einride.tech/can/pkg/dbc/analysis/passes/intervals"
	"go.einride.tech/can/pkg/dbc/analysis/passes/lineendings"
	"go.einride.tech/can/pkg/dbc/analysis/passes/messagenames"
	"go.einride.tech/can/pkg/dbc/analysis/passes/newsymbols"
	"go.einride.tech/can/pkg/dbc/analysis/passes/nodereferences"
	"go.einride.tech/can/pkg/dbc/analysis/passes/requireddefinitions"
	"go.einride.tech/can/pkg/dbc/analysis/passes/signalbounds"
	"go.einride.tech/can/pkg/dbc/analysis/passes/signalnames"
	"go.einride.tech/can/pkg/dbc/analysis/passes/singletondefinitions"
	"go.einride.tech/can/pkg/dbc/analysis/passes/siunits"
	"go.einride.tech/can/pkg/dbc/analysis/passes/uniquemessageids"
	"go.einride.tech/can/pkg/dbc/analysis/passes/uniquenodenames"
	"go.einride.tech/can/pkg/dbc/analysis/passes/uniquesignalnames"
	"go.einride.tech/can/pkg/dbc/analysis/passes/valuedescriptions"
	"go.einride.tech/can/pkg/dbc/analysis/passes/version"
)

const dbcPath = "modbatt.dbc"

// camel turns a snake_case codec name into the CamelCase DBC convention.
func camel(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(s, "_") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

func dbcUnit(u string) string { return strings.ReplaceAll(u, "°C", "degC") }

func dbcMessageID(id MsgID) uint32 {
	if id.Bus() == BusModule {
		return 1<<31 | uint32(id)<<baseShift // module 0x00, sequence 0
	}
	return uint32(id)
}

func dbcNodes(d Direction) (tx, rx string) {
	switch d {
	case ModuleToPack:
		return "Module", "Pack"
	case PackToModule:
		return "Pack", "Module"
	case AppToPack:
		return "App", "Pack"
	}
	return "Pack", "App"
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// renderDBC writes modbatt.dbc from the codec's own field tables, so the two cannot drift.
func renderDBC() string {
	var b strings.Builder
	b.WriteString("VERSION \"\"\n\nNS_ :\n\nBS_:\n\nBU_: App Pack Module\n\n")
	var comments, values []string
	for _, id := range MsgIDs() {
		s := specs[id]
		tx, rx := dbcNodes(s.dir)
		fmt.Fprintf(&b, "BO_ %d %s: %d %s\n", dbcMessageID(id), camel(s.name), s.encLen, tx)
		for _, f := range fieldsOf(id) {
			factor, offset, lo, hi := 1.0, 0.0, 0.0, float64(f.mask())
			if f.sc != nil {
				factor = float64(f.sc.num) / float64(f.sc.den)
				offset = float64(f.sc.off) / float64(f.sc.den)
				lo, hi = f.sc.phys(0), f.sc.phys(f.mask())
			}
			fmt.Fprintf(&b, " SG_ %s : %d|%d@1+ (%s,%s) [%s|%s] %q %s\n", camel(f.name), f.start, f.size,
				num(factor), num(offset), num(lo), num(hi), dbcUnit(f.unit), rx)
			if f.text != nil && f.size <= 4 {
				var v strings.Builder
				for raw := uint64(0); raw <= f.mask(); raw++ {
					if f.valid == nil || f.valid(raw) {
						fmt.Fprintf(&v, " %d %q", raw, f.text(raw))
					}
				}
				values = append(values, fmt.Sprintf("VAL_ %d %s%s ;", dbcMessageID(id), camel(f.name), v.String()))
			} else if f.size == 1 {
				values = append(values, fmt.Sprintf("VAL_ %d %s 0 \"No\" 1 \"Yes\" ;", dbcMessageID(id), camel(f.name)))
			}
		}
		b.WriteString("\n")
		if id.Bus() == BusModule {
			comments = append(comments, fmt.Sprintf("CM_ BO_ %d \"CAN2 base 0x%03X: identifier (0x%03X << 18) | (seq << 8) | module ID, listed with module 0x00 and seq 0.\";",
				dbcMessageID(id), uint16(id), uint16(id)))
		} else {
			comments = append(comments, fmt.Sprintf("CM_ BO_ %d \"CAN1 pack 0; pack 1 uses 0x%03X.\";", dbcMessageID(id), uint16(id)+PackShift))
		}
	}
	b.WriteString("CM_ \"Legacy Modbatt CAN messages, generated from the hilrun legacy package (go test ./legacy -run DBC -update). Little-endian signals.\";\n")
	b.WriteString(strings.Join(comments, "\n") + "\n")
	b.WriteString(strings.Join(values, "\n") + "\n")
	return b.String()
}

func TestDBCFileUpToDate(t *testing.T) {
	want := renderDBC()
	if *update {
		if err := os.WriteFile(dbcPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(dbcPath)
	if err != nil || string(got) != want {
		t.Fatalf("%s is stale (go test ./legacy -run DBC -update): %v", dbcPath, err)
	}
}

// TestDBCParsesAndLints reads modbatt.dbc with einride's DBC parser, runs its structural lint
// passes, and checks every signal against the codec's field table.
func TestDBCParsesAndLints(t *testing.T) {
	data, err := os.ReadFile(dbcPath)
	if err != nil {
		t.Fatal(err)
	}
	p := dbc.NewParser(dbcPath, data)
	if err := p.Parse(); err != nil {
		t.Fatal(err)
	}
	file := p.File()
	for _, a := range []*analysis.Analyzer{
		boolprefix.Analyzer(), definitiontypeorder.Analyzer(), intervals.Analyzer(), lineendings.Analyzer(),
		messagenames.Analyzer(), newsymbols.Analyzer(), nodereferences.Analyzer(), requireddefinitions.Analyzer(),
		signalbounds.Analyzer(), signalnames.Analyzer(), singletondefinitions.Analyzer(), siunits.Analyzer(),
		uniquemessageids.Analyzer(), uniquenodenames.Analyzer(), uniquesignalnames.Analyzer(),
		valuedescriptions.Analyzer(), version.Analyzer(),
	} {
		pass := &analysis.Pass{Analyzer: a, File: file}
		if err := a.Run(pass); err != nil {
			t.Fatalf("%s: %v", a.Name, err)
		}
		for _, d := range pass.Diagnostics {
			t.Errorf("%s: %s: %s", a.Name, d.Pos, d.Message)
		}
	}
	seen := 0
	for _, def := range file.Defs {
		m, ok := def.(*dbc.MessageDef)
		if !ok {
			continue
		}
		seen++
		raw := m.MessageID.ToCAN()
		id := MsgID(raw)
		if m.MessageID.IsExtended() {
			id = MsgID(raw >> baseShift)
		}
		fields := fieldsOf(id)
		if len(fields) != len(m.Signals) || string(m.Name) != camel(specs[id].name) {
			t.Fatalf("%s: %d signals, codec has %d", m.Name, len(m.Signals), len(fields))
		}
		for i, s := range m.Signals {
			f := fields[i]
			factor, offset := 1.0, 0.0
			if f.sc != nil {
				factor, offset = float64(f.sc.num)/float64(f.sc.den), float64(f.sc.off)/float64(f.sc.den)
			}
			if string(s.Name) != camel(f.name) || s.StartBit != uint64(f.start) || s.Size != uint64(f.size) ||
				s.IsBigEndian || s.IsSigned || math.Abs(s.Factor-factor) > 1e-12 || math.Abs(s.Offset-offset) > 1e-9 ||
				s.Unit != dbcUnit(f.unit) {
				t.Errorf("%s.%s differs from the codec: %+v", m.Name, s.Name, s)
			}
		}
	}
	if seen != len(MsgIDs()) {
		t.Errorf("%d messages in the DBC, %d in the codec", seen, len(MsgIDs()))
	}
}
