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
	if errs := decodeStrict(b, &r); len(errs) > 0 {
		return nil, &Error{Problems: errs}
	}
	if errs := r.Validate(); len(errs) > 0 {
		return &r, &Error{Problems: errs}
	}
	return &r, nil
}

// decodeStrict decodes one YAML document into v. Unknown fields are reported by their YAML path
// (a walk of the node tree against v's type) and the decoder runs with KnownFields as well, so
// nothing it would refuse slips through; type errors are mapped back to paths by line.
func decodeStrict(b []byte, v any) []Problem {
	if len(b) > MaxFileSize {
		return []Problem{{Msg: fmt.Sprintf("file larger than %d bytes", MaxFileSize)}}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return []Problem{{Msg: "not YAML: " + err.Error(), Line: yamlLine(err.Error())}}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return []Problem{{Msg: "empty file"}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return []Problem{{Msg: "the document must be a mapping", Line: root.Line}}
	}
	lines := map[int]string{}
	var probs []Problem
	walkFields(root, reflect.TypeOf(v).Elem(), "", lines, &probs)

	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	err := dec.Decode(v)
	if err == nil {
		return probs
	}
	if len(probs) > 0 {
		return probs // the walk found what the decoder refuses, with paths
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []Problem{{Msg: err.Error(), Line: yamlLine(err.Error())}}
	}
	for _, m := range te.Errors {
		line := yamlLine(m)
		probs = append(probs, Problem{Path: lines[line], Line: line, Msg: cleanMsg(m)})
	}
	return probs
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
func walkFields(n *yaml.Node, t reflect.Type, path string, lines map[int]string, probs *[]Problem) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias != nil {
			walkFields(n.Alias, t, path, lines, probs)
		}
		return
	}
	if _, ok := lines[n.Line]; !ok && path != "" {
		lines[n.Line] = path
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
			walkFields(val, ft, p, lines, probs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			*probs = append(*probs, Problem{Path: path, Line: n.Line, Msg: "expected a list"})
			return
		}
		for i, c := range n.Content {
			walkFields(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), lines, probs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			*probs = append(*probs, Problem{Path: path, Line: n.Line, Msg: "expected a mapping"})
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkFields(n.Content[i+1], t.Elem(), joinPath(path, n.Content[i].Value), lines, probs)
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
