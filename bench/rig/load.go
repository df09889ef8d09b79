package rig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ErrInvalid is wrapped by every *Error: the file was read but is not a valid rig.
var ErrInvalid = errors.New("rig: invalid")

// MaxFileSize bounds a rig or budget file; anything larger is refused before parsing.
const MaxFileSize = 1 << 20

// Problem is one thing wrong with a rig file: the YAML path of the field and why.
type Problem struct {
	Path string // e.g. "devices[3].flash.port"; "" for the document as a whole
	Line int    // 1-based line in the file, 0 when unknown
	Msg  string
}

func (p Problem) Error() string {
	if p.Path == "" {
		return p.Msg
	}
	return p.Path + ": " + p.Msg
}

// Error collects every problem found in one file.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	name := e.File
	if name == "" {
		name = "rig"
	}
	fmt.Fprintf(&b, "%s: %d problem(s)", name, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		if p.Line > 0 {
			fmt.Fprintf(&b, "line %d: ", p.Line)
		}
		b.WriteString(p.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return ErrInvalid }

// Has reports whether a problem at path exists (tests and tools use it).
func (e *Error) Has(path string) bool {
	for _, p := range e.Problems {
		if p.Path == path {
			return true
		}
	}
	return false
}

// Load reads, decodes and validates the rig file at path.
func Load(path string) (*Rig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rig: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("rig: reading %s: %w", path, err)
	}
	r, err := Parse(b)
	if r != nil {
		r.Path = path
		if r.Budgets != "" {
			if _, berr := r.LoadBudgets(); berr != nil {
				var e *Error
				if !errors.As(err, &e) {
					e = &Error{}
					err = e
				}
				e.Problems = append(e.Problems, Problem{Path: "budgets", Msg: berr.Error()})
			}
		}
	}
	var e *Error
	if errors.As(err, &e) {
		e.File = path
	}
	return r, err
}

// Parse decodes and validates a rig from YAML. On validation problems it returns the decoded
// rig as well as an *Error listing all of them.
func Parse(b []byte) (*Rig, error) {
	var r Rig
	errs, at, fatal := decodeStrict(b, &r)
	if fatal {
		return nil, &Error{Problems: errs}
	}
	// Validate what did decode, so one run reports every problem; a field that already has a
	// decoding problem is not reported again.
	for _, p := range r.Validate() {
		if !coveredBy(p.Path, errs) {
			p.Line = lineOf(p.Path, at)
			errs = append(errs, p)
		}
	}
	if len(errs) > 0 {
		return &r, &Error{Problems: errs}
	}
	return &r, nil
}

// lineOf is the line of path in the file, or of its nearest ancestor present there.
func lineOf(path string, at map[string]int) int {
	for path != "" {
		if l, ok := at[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

func coveredBy(path string, ps []Problem) bool {
	for _, p := range ps {
		if p.Path != "" && (path == p.Path || strings.HasPrefix(path, p.Path+".") || strings.HasPrefix(path, p.Path+"[")) {
			return true
		}
	}
	return false
}

// decodeStrict decodes one YAML document into v. Unknown fields and values of the wrong type
// are reported by their YAML path (a walk of the node tree against v's type); the decoder runs
// with KnownFields as well, so nothing it would refuse slips through. When the walk found
// problems, v is then filled leniently so the rest can still be validated. fatal means v holds
// nothing usable (not YAML, not a mapping).
func decodeStrict(b []byte, v any) (probs []Problem, at map[string]int, fatal bool) {
	if len(b) > MaxFileSize {
		return []Problem{{Msg: fmt.Sprintf("file larger than %d bytes", MaxFileSize)}}, nil, true
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return []Problem{{Msg: "not YAML: " + cleanMsg(strings.TrimPrefix(err.Error(), "yaml: ")), Line: yamlLine(err.Error())}}, nil, true
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return []Problem{{Msg: "empty file"}}, nil, true
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return []Problem{{Msg: "the document must be a mapping", Line: root.Line}}, nil, true
	}
	lines := map[int]string{}
	at = map[string]int{}
	walkFields(root, reflect.TypeOf(v).Elem(), "", lines, at, &probs)

	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	err := dec.Decode(v)
	if err == nil {
		return probs, at, false
	}
	if len(probs) > 0 {
		// The walk found what the decoder refuses, with paths. Decode again without
		// KnownFields: type errors leave their fields zero and fill the rest.
		rv := reflect.ValueOf(v).Elem()
		rv.Set(reflect.Zero(rv.Type()))
		_ = yaml.Unmarshal(b, v)
		return probs, at, false
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []Problem{{Msg: err.Error(), Line: yamlLine(err.Error())}}, nil, true
	}
	for _, m := range te.Errors {
		line := yamlLine(m)
		probs = append(probs, Problem{Path: lines[line], Line: line, Msg: cleanMsg(m)})
	}
	return probs, at, true
}

// cleanMsg drops the decoder's "line N:" prefixes; the Problem carries the line.
func cleanMsg(m string) string {
	for {
		c := lineRE.ReplaceAllString(m, "")
		if c == m {
			return m
		}
		m = c
	}
}

var lineRE = regexp.MustCompile(`^(yaml: )?line \d+: `)

func yamlLine(msg string) int {
	i := strings.Index(msg, "line ")
	if i < 0 {
		return 0
	}
	s := msg[i+5:]
	j := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if j < 0 {
		j = len(s)
	}
	n, _ := strconv.Atoi(s[:j])
	return n
}

// walkFields reports mapping keys that t has no field for, and records the path of every value
// by its line so decoder type errors can be named.
func walkFields(n *yaml.Node, t reflect.Type, path string, lines map[int]string, at map[string]int, probs *[]Problem) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias != nil {
			walkFields(n.Alias, t, path, lines, at, probs)
		}
		return
	}
	if _, ok := lines[n.Line]; !ok && path != "" {
		lines[n.Line] = path
	}
	if _, ok := at[path]; !ok && path != "" {
		at[path] = n.Line
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			*probs = append(*probs, Problem{Path: path, Line: n.Line, Msg: "expected a mapping"})
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Value == "<<" {
				continue
			}
			p := joinPath(path, k.Value)
			ft, ok := fields[k.Value]
			if !ok {
				*probs = append(*probs, Problem{Path: p, Line: k.Line, Msg: "unknown field" + suggest(k.Value, fields)})
				continue
			}
			lines[k.Line] = p
			at[p] = k.Line
			walkFields(val, ft, p, lines, at, probs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			*probs = append(*probs, Problem{Path: path, Line: n.Line, Msg: "expected a list"})
			return
		}
		for i, c := range n.Content {
			walkFields(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), lines, at, probs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			*probs = append(*probs, Problem{Path: path, Line: n.Line, Msg: "expected a mapping"})
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkFields(n.Content[i+1], t.Elem(), joinPath(path, n.Content[i].Value), lines, at, probs)
		}
	default:
		// A scalar: decode it alone so a type error is named by its own path.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			*probs = append(*probs, Problem{Path: path, Line: n.Line, Msg: cleanMsg(strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n  "))})
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	return m
}

// suggest names a known field one edit or a case change away, the usual typo.
func suggest(key string, fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.EqualFold(name, key) || strings.ReplaceAll(name, "_", "") == strings.ToLower(strings.ReplaceAll(key, "-", "")) || nearlyEqual(name, key) {
			return fmt.Sprintf(" (did you mean %q?)", name)
		}
	}
	return ""
}

// nearlyEqual reports an edit distance of at most one.
func nearlyEqual(a, b string) bool {
	if a == b {
		return true
	}
	if len(a) < len(b) {
		a, b = b, a
	}
	if len(a)-len(b) > 1 {
		return false
	}
	i := 0
	for i < len(b) && a[i] == b[i] {
		i++
	}
	if len(a) == len(b) {
		return a[i+1:] == b[i+1:]
	}
	return a[i+1:] == b[i:]
}
