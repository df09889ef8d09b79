package emu

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/modbatt/hilrun/bus"
)

// ErrBadFault is wrapped by every error about a fault rule or its textual form.
var ErrBadFault = errors.New("emu: bad fault rule")

// SpecError is a syntax or range error in a fault specification.
type SpecError struct {
	Rule   int    // 1-based index of the rule in the specification
	Text   string // the offending rule or parameter
	Reason string
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("fault rule %d (%q): %s", e.Rule, e.Text, e.Reason)
}

func (e *SpecError) Unwrap() error { return ErrBadFault }

var kindByName = map[string]FaultKind{
	"drop": Drop, "corrupt": Corrupt, "error": Error, "delay": Delay,
	"dup": Duplicate, "duplicate": Duplicate, "busoff": BusOff,
}

// ParseFaults reads a fault specification:
//
//	spec  = rule *( ";" rule )
//	rule  = kind [ ":" param *( "," param ) ]
//	kind  = "drop" / "corrupt" / "error" / "delay" / "dup" / "busoff"
//	param = "id=" VALUE [ "/" MASK ]   ; default mask 0x1FFFFFFF (exact)
//	      / "ext=" ( "0" / "1" )        ; standard or extended frames only
//	      / "from=" NAME                ; sender's endpoint name
//	      / "p=" FLOAT                  ; probability, default 1
//	      / "count=" N                  ; firings, default unlimited
//	      / "d=" DURATION               ; delay (Go syntax: 2ms, 150us)
//	      / "bits=" N                   ; corrupt: data bits to flip
//	      / "recover=" DURATION         ; busoff: time off the bus
//
// Numbers take Go prefixes (0x, 0b, 0o). An empty specification has no rules.
func ParseFaults(spec string) ([]Fault, error) {
	var out []Fault
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	for i, text := range strings.Split(spec, ";") {
		f, err := parseRule(strings.TrimSpace(text))
		if err != nil {
			err.Rule = i + 1
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func parseRule(text string) (Fault, *SpecError) {
	fail := func(t, reason string) (Fault, *SpecError) {
		return Fault{}, &SpecError{Text: t, Reason: reason}
	}
	name, params, hasParams := strings.Cut(text, ":")
	kind, ok := kindByName[strings.TrimSpace(name)]
	if !ok {
		return fail(text, "unknown fault kind (want drop, corrupt, error, delay, dup or busoff)")
	}
	f := Fault{Kind: kind}
	seen := map[string]bool{}
	if hasParams {
		for _, p := range strings.Split(params, ",") {
			p = strings.TrimSpace(p)
			key, val, ok := strings.Cut(p, "=")
			if !ok || val == "" {
				return fail(p, "want key=value")
			}
			if seen[key] {
				return fail(p, "parameter given twice")
			}
			seen[key] = true
			if reason := f.set(key, val); reason != "" {
				return fail(p, reason)
			}
		}
	}
	if err := f.Validate(); err != nil {
		return fail(text, strings.TrimPrefix(err.Error(), ErrBadFault.Error()+": "))
	}
	return f, nil
}

// set applies one parameter; it returns a reason when the value is bad.
func (f *Fault) set(key, val string) string {
	uint29 := func(s string) (uint32, string) {
		n, err := strconv.ParseUint(s, 0, 32)
		if err != nil || n > bus.MaxExtendedID {
			return 0, "not an identifier of at most 29 bits"
		}
		return uint32(n), ""
	}
	count := func(s string) (int, string) {
		n, err := strconv.ParseUint(s, 0, 31)
		if err != nil {
			return 0, "not a count"
		}
		return int(n), ""
	}
	dur := func(s string) (time.Duration, string) {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return 0, "not a positive duration"
		}
		return d, ""
	}
	var reason string
	switch key {
	case "id":
		v, m, hasMask := strings.Cut(val, "/")
		f.Mask = bus.MaxExtendedID
		if f.Value, reason = uint29(v); reason == "" && hasMask {
			f.Mask, reason = uint29(m)
		}
	case "ext":
		switch val {
		case "0":
			f.Fmt = StandardOnly
		case "1":
			f.Fmt = ExtendedOnly
		default:
			reason = "want 0 or 1"
		}
	case "from":
		if !validName(val) {
			reason = "names are letters, digits, '_', '-' and '.'"
		}
		f.From = val
	case "p":
		p, err := strconv.ParseFloat(val, 64)
		if err != nil || !(p > 0 && p <= 1) {
			return "want a probability in (0, 1]"
		}
		f.P = p
		if p == 1 {
			f.P = 0 // the canonical "always"
		}
	case "count":
		f.Count, reason = count(val)
		if reason == "" && f.Count == 0 {
			reason = "a count must be at least 1"
		}
	case "bits":
		f.Bits, reason = count(val)
		if reason == "" && (f.Bits == 0 || f.Bits > bus.MaxFDLen*8) {
			reason = "want 1 to 512 bits"
		}
	case "d":
		f.Delay, reason = dur(val)
	case "recover":
		f.Recovery, reason = dur(val)
	default:
		reason = "unknown parameter"
	}
	if reason == "" && !appliesTo(key, f.Kind) {
		reason = "parameter does not apply to " + f.Kind.String()
	}
	return reason
}

func appliesTo(key string, k FaultKind) bool {
	switch key {
	case "d":
		return k == Delay
	case "bits":
		return k == Corrupt
	case "recover":
		return k == BusOff
	}
	return true
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

// String writes the rule in the syntax ParseFaults reads.
func (f Fault) String() string {
	var ps []string
	if f.Mask != 0 {
		if f.Mask == bus.MaxExtendedID {
			ps = append(ps, fmt.Sprintf("id=0x%X", f.Value))
		} else {
			ps = append(ps, fmt.Sprintf("id=0x%X/0x%X", f.Value, f.Mask))
		}
	}
	switch f.Fmt {
	case StandardOnly:
		ps = append(ps, "ext=0")
	case ExtendedOnly:
		ps = append(ps, "ext=1")
	}
	if f.From != "" {
		ps = append(ps, "from="+f.From)
	}
	if f.P > 0 && f.P < 1 {
		ps = append(ps, "p="+strconv.FormatFloat(f.P, 'g', -1, 64))
	}
	if f.Count > 0 {
		ps = append(ps, "count="+strconv.Itoa(f.Count))
	}
	if f.Delay > 0 {
		ps = append(ps, "d="+f.Delay.String())
	}
	if f.Bits > 0 {
		ps = append(ps, "bits="+strconv.Itoa(f.Bits))
	}
	if f.Recovery > 0 {
		ps = append(ps, "recover="+f.Recovery.String())
	}
	if len(ps) == 0 {
		return f.Kind.String()
	}
	return f.Kind.String() + ":" + strings.Join(ps, ",")
}

// FormatFaults writes rules in the syntax ParseFaults reads.
func FormatFaults(rules []Fault) string {
	s := make([]string, len(rules))
	for i, r := range rules {
		s[i] = r.String()
	}
	return strings.Join(s, ";")
}
