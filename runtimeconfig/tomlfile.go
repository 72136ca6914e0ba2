package runtimeconfig

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pelletier/go-toml/v2/unstable"
)

// tomlFile is a TOML document read statement by statement: each table
// header and key/value pair with the byte ranges an editor needs, so that
// an edit replaces or inserts a few bytes and keeps every other byte of
// the file (comments, order, indentation, line endings).
//
// Values are not decoded; each keeps its raw text. go-toml's parser
// checks the syntax; readTOML checks that no key or table is defined
// twice, which the parser leaves to a decoder.
type tomlFile struct {
	data []byte
	// newline is the line ending new lines get: "\r\n" if the file's
	// first line ends so, else "\n".
	newline string
	// tables are in file order; tables[0] is the root table (no header).
	tables []*tomlTable
}

// tomlTable is a table header and the key/value pairs that follow it.
type tomlTable struct {
	path []string // decoded header key; empty for the root table
	// array is true for an [[array of tables]] header; underArray for a
	// table whose header path has such an array as a proper prefix.
	array, underArray bool
	line              int    // of the header, 1-based; 0 for the root table
	start             int    // offset of the header's line
	headerEnd         int    // offset after the header's line ending
	indent            string // before the header
	keyValues         []*tomlKeyValue
}

// tomlKeyValue is one `key = value` statement, or a pair inside an
// inline table.
type tomlKeyValue struct {
	key        []string // decoded, dotted parts
	line       int
	start      int // offset of the statement's line
	end        int // offset after the statement's line ending (or EOF)
	valueStart int
	valueEnd   int
	indent     string
	// inline holds the pairs of an inline table value.
	inline []*tomlKeyValue
}

func (kv *tomlKeyValue) rawValue(data []byte) string {
	return string(data[kv.valueStart:kv.valueEnd])
}

// tomlSyntaxError is a reading error at a line.
type tomlSyntaxError struct {
	line int
	msg  string
}

func (e *tomlSyntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// readTOML splits data into tables and key/value pairs. go-toml's
// parser checks the syntax and finds each statement; the byte ranges an
// editor needs (line, indentation, value, line ending) are read around
// the ranges it reports. Errors are *tomlSyntaxError.
func readTOML(data []byte) (*tomlFile, error) {
	f := &tomlFile{data: data, newline: "\n"}
	if i := bytes.IndexByte(data, '\n'); i > 0 && data[i-1] == '\r' {
		f.newline = "\r\n"
	}
	current := &tomlTable{}
	f.tables = append(f.tables, current)
	defs := newTOMLDefinitions()
	base := ""
	var p unstable.Parser
	p.Reset(data)
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			t := readHeader(&p, e)
			var err error
			if base, err = defs.header(t); err != nil {
				return nil, &tomlSyntaxError{t.line, err.Error()}
			}
			current = t
			f.tables = append(f.tables, t)
		case unstable.KeyValue:
			kv, err := readKeyValue(&p, e)
			if err != nil {
				return nil, err
			}
			kv.end = lineEnd(data, kv.valueEnd)
			if err := defs.keyValue(base, kv.key); err != nil {
				return nil, &tomlSyntaxError{kv.line, err.Error()}
			}
			current.keyValues = append(current.keyValues, kv)
		}
	}
	if err := p.Error(); err != nil {
		var perr *unstable.ParserError
		if errors.As(err, &perr) {
			return nil, &tomlSyntaxError{p.Shape(p.Range(perr.Highlight)).Start.Line, perr.Message}
		}
		return nil, &tomlSyntaxError{1, err.Error()}
	}
	for _, t := range f.tables[1:] {
		t.underArray = defs.underArray(t.path)
	}
	return f, nil
}

// readKey decodes the key parts it iterates over, and returns the offset
// after the last one.
func readKey(it *unstable.Iterator) (key []string, end int) {
	for it.Next() {
		k := it.Node()
		key = append(key, string(k.Data))
		end = int(k.Raw.Offset + k.Raw.Length)
	}
	return key, end
}

// readHeader reads a [table] or [[array of tables]] header.
func readHeader(p *unstable.Parser, e *unstable.Node) *tomlTable {
	data := p.Data()
	first := e.Child().Raw
	keyStart := int(first.Offset)
	t := &tomlTable{array: e.Kind == unstable.ArrayTable, line: p.Shape(first).Start.Line}
	it := e.Key()
	var keyEnd int
	t.path, keyEnd = readKey(&it)
	open := bytes.LastIndexByte(data[:keyStart], '[')
	if t.array {
		open--
	}
	t.start = bytes.LastIndexByte(data[:open], '\n') + 1
	t.indent = string(data[t.start:open])
	closing := bytes.IndexByte(data[keyEnd:], ']') + keyEnd + 1
	if t.array {
		closing++
	}
	t.headerEnd = lineEnd(data, closing)
	return t
}

// readKeyValue reads a `key = value` expression; the pairs of an inline
// table value are read too.
func readKeyValue(p *unstable.Parser, e *unstable.Node) (*tomlKeyValue, error) {
	data := p.Data()
	start := int(e.Raw.Offset)
	line := bytes.LastIndexByte(data[:start], '\n') + 1
	kv := &tomlKeyValue{line: p.Shape(e.Raw).Start.Line, start: line, indent: string(data[line:start])}
	value := e.Value()
	it := e.Key()
	var keyEnd int
	kv.key, keyEnd = readKey(&it)
	kv.valueStart = keyEnd + bytes.IndexByte(data[keyEnd:], '=') + 1
	for kv.valueStart < len(data) && (data[kv.valueStart] == ' ' || data[kv.valueStart] == '\t') {
		kv.valueStart++
	}
	kv.valueEnd = start + int(e.Raw.Length)
	if value.Kind != unstable.InlineTable {
		return kv, nil
	}
	kv.inline = []*tomlKeyValue{}
	defs := newTOMLDefinitions()
	for pairs := value.Children(); pairs.Next(); {
		pair, err := readKeyValue(p, pairs.Node())
		if err != nil {
			return nil, err
		}
		if err := defs.keyValue("", pair.key); err != nil {
			return nil, &tomlSyntaxError{pair.line, err.Error()}
		}
		pair.indent, pair.end = "", pair.valueEnd
		kv.inline = append(kv.inline, pair)
	}
	return kv, nil
}

// lineEnd returns the offset after what may follow a statement ending at
// i on its line: spaces, a comment and the line ending (or EOF). The
// parser has checked that nothing else does.
func lineEnd(data []byte, i int) int {
	if nl := bytes.IndexByte(data[i:], '\n'); nl >= 0 {
		return i + nl + 1
	}
	return len(data)
}

func isBareKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// decodeTOMLString decodes the text of a basic or literal string, single
// or multi-line, as readString accepted it.
func decodeTOMLString(raw string) (string, error) {
	if len(raw) < 2 || (raw[0] != '"' && raw[0] != '\'') {
		return "", errors.New("not a string")
	}
	q := raw[0]
	var body string
	if len(raw) >= 6 && raw[:3] == string([]byte{q, q, q}) {
		body = raw[3 : len(raw)-3]
		// A line ending right after the opening delimiter is trimmed.
		if strings.HasPrefix(body, "\r\n") {
			body = body[2:]
		} else if strings.HasPrefix(body, "\n") {
			body = body[1:]
		}
	} else {
		body = raw[1 : len(raw)-1]
	}
	if q == '\'' {
		return body, nil
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(body) {
			return "", errors.New("unterminated escape")
		}
		switch e := body[i]; e {
		case 'b':
			b.WriteByte('\b')
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'f':
			b.WriteByte('\f')
		case 'r':
			b.WriteByte('\r')
		case 'e':
			b.WriteByte(0x1b)
		case '"', '\\':
			b.WriteByte(e)
		case 'u', 'U', 'x':
			n := escapeDigits(e)
			if i+1+n > len(body) {
				return "", errors.New("short escape")
			}
			code, err := strconv.ParseUint(body[i+1:i+1+n], 16, 32)
			if err != nil || !utf8.ValidRune(rune(code)) {
				return "", fmt.Errorf("invalid escape \\%c%s", e, body[i+1:i+1+n])
			}
			b.WriteRune(rune(code))
			i += n
		case ' ', '\t', '\r', '\n':
			// Line-ending backslash: drop the whitespace and line endings.
			for i < len(body) && strings.IndexByte(" \t\r\n", body[i]) >= 0 {
				i++
			}
			i--
		default:
			return "", fmt.Errorf("invalid escape \\%c", e)
		}
	}
	return b.String(), nil
}

// escapeDigits is the number of hex digits after \u, \U or \x.
func escapeDigits(escape byte) int {
	switch escape {
	case 'u':
		return 4
	case 'U':
		return 8
	}
	return 2
}

// tomlString renders s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		case r == utf8.RuneError:
			b.WriteString(`\uFFFD`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// tomlDefinitions tracks which paths a document defines, and how, to find
// what TOML forbids: a key or table defined twice, a table extended after
// it was closed. Array-of-tables elements get their own paths.
type tomlDefinitions struct {
	kinds  map[string]tomlDefinition
	arrays map[string]int // path of an array of tables -> elements so far
}

type tomlDefinition int

const (
	undefined     tomlDefinition = iota
	implicitTable                // a proper prefix of a table header
	headerTable                  // [table]
	dottedTable                  // a proper prefix of a dotted key
	valueKey                     // key = value (inline tables included)
	arrayOfTables                // [[table]]
)

func newTOMLDefinitions() *tomlDefinitions {
	return &tomlDefinitions{kinds: map[string]tomlDefinition{}, arrays: map[string]int{}}
}

// child is the internal path of key under parent: parts separated by a
// byte no quoted key part contains.
func (d *tomlDefinitions) child(parent, key string) string {
	return parent + "\x00" + strconv.Quote(key)
}

// element is the internal path of the last element of the array of
// tables at path: its tables and keys are its own.
func (d *tomlDefinitions) element(path string) string {
	return path + "\x00#" + strconv.Itoa(d.arrays[path])
}

func (d *tomlDefinitions) header(t *tomlTable) (string, error) {
	p := ""
	for i, part := range t.path {
		p = d.child(p, part)
		last := i == len(t.path)-1
		kind := d.kinds[p]
		name := tomlKey(t.path[:i+1])
		switch {
		case kind == valueKey:
			return "", fmt.Errorf("%s is already defined as a value", name)
		case !last && kind == undefined:
			d.kinds[p] = implicitTable
		case !last && kind == arrayOfTables:
			p = d.element(p)
		case !last:
		case t.array && kind == undefined:
			d.kinds[p] = arrayOfTables
			d.arrays[p] = 1
			p = d.element(p)
		case t.array && kind == arrayOfTables:
			d.arrays[p]++
			p = d.element(p)
		case t.array:
			return "", fmt.Errorf("%s is already defined as a table", name)
		case kind == undefined || kind == implicitTable:
			d.kinds[p] = headerTable
		default:
			return "", fmt.Errorf("table %s is defined twice", name)
		}
	}
	return p, nil
}

func (d *tomlDefinitions) keyValue(base string, key []string) error {
	p := base
	for i, part := range key {
		p = d.child(p, part)
		kind := d.kinds[p]
		name := tomlKey(key[:i+1])
		if i == len(key)-1 {
			if kind != undefined {
				return fmt.Errorf("key %s is defined twice", name)
			}
			d.kinds[p] = valueKey
			return nil
		}
		switch kind {
		case undefined:
			d.kinds[p] = dottedTable
		case dottedTable, implicitTable:
		default:
			return fmt.Errorf("key %s is already defined", name)
		}
	}
	return nil
}

// underArray reports whether a proper prefix of path is an array of
// tables.
func (d *tomlDefinitions) underArray(path []string) bool {
	p := ""
	for _, part := range path[:len(path)-1] {
		p += "\x00" + strconv.Quote(part)
		if _, ok := d.arrays[p]; ok {
			return true
		}
	}
	return false
}

// table returns the [table] header of path (nil for none, and for tables
// inside arrays of tables); the root table for an empty path.
func (f *tomlFile) table(path []string) *tomlTable {
	if len(path) == 0 {
		return f.tables[0]
	}
	for _, t := range f.tables[1:] {
		if !t.array && !t.underArray && equalPath(t.path, path) {
			return t
		}
	}
	return nil
}

// keyValue returns the pair that defines path, whether written as a key
// of a [table], a dotted key or a key of an inline table (nil for none).
// Tables in arrays of tables are not looked into.
func (f *tomlFile) keyValue(path []string) *tomlKeyValue {
	for _, t := range f.tables {
		if t.array || t.underArray || !hasPathPrefix(path, t.path) {
			continue
		}
		if kv := findKeyValue(t.keyValues, path[len(t.path):]); kv != nil {
			return kv
		}
	}
	return nil
}

func findKeyValue(pairs []*tomlKeyValue, path []string) *tomlKeyValue {
	for _, kv := range pairs {
		switch {
		case equalPath(kv.key, path):
			return kv
		case len(kv.key) < len(path) && hasPathPrefix(path, kv.key) && kv.inline != nil:
			return findKeyValue(kv.inline, path[len(kv.key):])
		}
	}
	return nil
}

// stringValue decodes the string at path; ok is false when there is none
// or the value is not a string.
func (f *tomlFile) stringValue(path []string) (s string, ok bool) {
	kv := f.keyValue(path)
	if kv == nil {
		return "", false
	}
	s, err := decodeTOMLString(kv.rawValue(f.data))
	return s, err == nil
}

// hasDescendants reports whether anything is defined below path: a table
// header or a key.
func (f *tomlFile) hasDescendants(path []string) bool {
	for _, t := range f.tables {
		if len(t.path) > len(path) && hasPathPrefix(t.path, path) {
			return true
		}
		for _, kv := range t.keyValues {
			if abs := joinPath(t.path, kv.key); len(abs) > len(path) && hasPathPrefix(abs, path) {
				return true
			}
		}
	}
	return false
}

func equalPath(a, b []string) bool {
	return len(a) == len(b) && hasPathPrefix(a, b)
}

// hasPathPrefix reports whether prefix is path or a prefix of it.
func hasPathPrefix(path, prefix []string) bool {
	if len(prefix) > len(path) {
		return false
	}
	for i := range prefix {
		if path[i] != prefix[i] {
			return false
		}
	}
	return true
}

func joinPath(a, b []string) []string {
	return append(append(make([]string, 0, len(a)+len(b)), a...), b...)
}

// tomlEditor changes a TOML document one statement at a time, reading it
// again after each change so that every change sees the current offsets.
type tomlEditor struct {
	file *tomlFile
}

func newTOMLEditor(data []byte) (*tomlEditor, error) {
	f, err := readTOML(data)
	if err != nil {
		return nil, err
	}
	return &tomlEditor{file: f}, nil
}

func (e *tomlEditor) data() []byte { return e.file.data }

// splice replaces data[start:end] with text.
func (e *tomlEditor) splice(start, end int, text string) error {
	old := e.file.data
	data := make([]byte, 0, len(old)-(end-start)+len(text))
	data = append(append(append(data, old[:start]...), text...), old[end:]...)
	f, err := readTOML(data)
	if err != nil {
		return fmt.Errorf("the edit made the file unreadable (a bug): %w", err)
	}
	e.file = f
	return nil
}

// endsWithNewline reports whether the document is empty or ends with a
// line ending.
func (e *tomlEditor) endsWithNewline() bool {
	d := e.file.data
	return len(d) == 0 || d[len(d)-1] == '\n'
}

// setKey sets key in the table at path to value (raw TOML), unless
// unchanged reports that the current raw value is already right. An
// existing value is replaced in place; a new key goes after the table's
// last key, a new table at the end of the file.
func (e *tomlEditor) setKey(path []string, key, value string, unchanged func(raw string) bool) (changed bool, err error) {
	f := e.file
	t := f.table(path)
	if t == nil {
		return true, e.appendTable(path, tomlKey([]string{key})+" = "+value)
	}
	for _, kv := range t.keyValues {
		if len(kv.key) > 1 && kv.key[0] == key {
			return false, fmt.Errorf("line %d: %s is a table defined with a dotted key, not a value: %w", kv.line, tomlKey(joinPath(path, kv.key[:1])), errors.ErrUnsupported)
		}
		if equalPath(kv.key, []string{key}) {
			if unchanged(kv.rawValue(f.data)) {
				return false, nil
			}
			return true, e.splice(kv.valueStart, kv.valueEnd, value)
		}
	}
	pos, indent := t.headerEnd, t.indent+"  "
	if len(path) == 0 {
		pos, indent = len(f.data), ""
		if len(f.tables) > 1 {
			pos = f.tables[1].start
		}
	}
	if n := len(t.keyValues); n > 0 {
		pos, indent = t.keyValues[n-1].end, t.keyValues[n-1].indent
	}
	line := indent + tomlKey([]string{key}) + " = " + value + f.newline
	if pos == len(f.data) && !e.endsWithNewline() {
		line = f.newline + line
	}
	return true, e.splice(pos, pos, line)
}

// appendTable adds a [path] table with the given key lines at the end of
// the file, after a blank line.
func (e *tomlEditor) appendTable(path []string, lines ...string) error {
	f := e.file
	nl := f.newline
	var b strings.Builder
	if !e.endsWithNewline() {
		b.WriteString(nl)
	}
	if len(f.data) > 0 {
		b.WriteString(nl)
	}
	indent := e.headerIndent(path)
	b.WriteString(indent + "[" + tomlKey(path) + "]" + nl)
	for _, l := range lines {
		b.WriteString(indent + "  " + l + nl)
	}
	return e.splice(len(f.data), len(f.data), b.String())
}

// headerIndent is the indentation for a new header of path: that of a
// sibling table, else that of the nearest parent table plus two spaces if
// the file indents its headers, else none.
func (e *tomlEditor) headerIndent(path []string) string {
	var parent *tomlTable
	indented := false
	for _, t := range e.file.tables[1:] {
		indented = indented || t.indent != ""
		switch {
		case len(t.path) == len(path) && hasPathPrefix(t.path, path[:len(path)-1]):
			return t.indent
		case len(t.path) < len(path) && hasPathPrefix(path, t.path) && (parent == nil || len(t.path) > len(parent.path)):
			parent = t
		}
	}
	if parent == nil || !indented {
		return ""
	}
	return parent.indent + "  "
}

// removeKey removes the line(s) of the key in the table at path.
func (e *tomlEditor) removeKey(path []string, key string) (removed bool, err error) {
	t := e.file.table(path)
	if t == nil {
		return false, nil
	}
	for _, kv := range t.keyValues {
		if equalPath(kv.key, []string{key}) {
			return true, e.splice(kv.start, kv.end, "")
		}
	}
	return false, nil
}

// removeTable removes a table's header and the lines through its last key
// (comments after that belong to what follows), with one blank line
// before the header, the separator appendTable writes.
func (e *tomlEditor) removeTable(t *tomlTable) error {
	d := e.file.data
	start, end := t.start, t.headerEnd
	if n := len(t.keyValues); n > 0 {
		end = t.keyValues[n-1].end
	}
	if prev := bytes.LastIndexByte(d[:max(start-1, 0)], '\n') + 1; start > 0 && len(bytes.TrimSpace(d[prev:start])) == 0 {
		start = prev
	}
	return e.splice(start, end, "")
}
