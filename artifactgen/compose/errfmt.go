package compose

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Errors of compose-go said as a user reads them.

var (
	decodingPath = regexp.MustCompile(`'([^']*)' `)
	indexInPath  = regexp.MustCompile(`\[([^\]]*)\]`)
	expectedType = regexp.MustCompile(`expected type '([^']*)', got unconvertible type '([^']*)'`)
)

func typeName(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "map"):
		return "a mapping"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	}
	return "a " + goType
}

// composeError says a compose-go error as a user would read it: the file
// and line, the key, and what is wrong with it, instead of JSON schema
// wording ("services.web.bogus_key false schema").
func composeError(file string, content []byte, err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if _, rest, ok := strings.Cut(msg, "validating "); ok {
		if _, after, ok := strings.Cut(rest, ": "); ok {
			msg = after
		}
	}
	var path string
	switch {
	case strings.HasPrefix(msg, "error while interpolating ") && strings.Contains(msg, ": failed to cast to expected type: "):
		rest := strings.TrimPrefix(msg, "error while interpolating ")
		path, rest, _ = strings.Cut(rest, ": failed to cast to expected type: ")
		want := "another type"
		switch {
		case strings.Contains(rest, "Atoi") || strings.Contains(rest, "ParseInt") || strings.Contains(rest, "ParseUint"):
			want = "a whole number"
		case strings.Contains(rest, "boolean") || strings.Contains(rest, "ParseBool"):
			want = "true or false"
		case strings.Contains(rest, "ParseFloat"):
			want = "a number"
		}
		msg = fmt.Sprintf("%s: want %s, not a string", path, want)
	case strings.HasSuffix(msg, " false schema"):
		path = strings.TrimSuffix(msg, " false schema")
		parent, key := "top level", path
		if i := strings.LastIndex(path, "."); i >= 0 {
			parent, key = path[:i], path[i+1:]
		}
		msg = fmt.Sprintf("%s: unknown key %q", parent, key)
	case strings.HasPrefix(msg, "additional properties '"):
		key := strings.TrimSuffix(strings.TrimPrefix(msg, "additional properties '"), "' not allowed")
		path = key
		msg = fmt.Sprintf("unknown top-level key %q (want services, networks, volumes...)", key)
	case strings.Contains(msg, " must be "):
		path, _, _ = strings.Cut(msg, " must be ")
		msg = strings.Replace(msg, " must be ", ": must be ", 1)
		msg = strings.Replace(msg, "a array", "a list", 1)
	case strings.HasPrefix(msg, "decoding failed due to the following error(s): "):
		msg = strings.TrimPrefix(msg, "decoding failed due to the following error(s): ")
		if m := decodingPath.FindStringSubmatch(msg); m != nil {
			path = indexInPath.ReplaceAllString(m[1], ".$1")
			msg = path + ": " + strings.TrimSpace(strings.Replace(msg, m[0], "", 1))
			msg = expectedType.ReplaceAllStringFunc(msg, func(m string) string {
				sub := expectedType.FindStringSubmatch(m)
				return "want " + typeName(sub[1]) + ", not " + typeName(sub[2])
			})
		}
	}
	if line := lineOf(content, path); line > 0 {
		return fmt.Sprintf("%s:%d: %s", file, line, msg)
	}
	return fmt.Sprintf("%s: %s", file, msg)
}

// lineOf finds the line of the key at path (keys joined by dots) in a
// YAML document, or 0.
func lineOf(content []byte, path string) int {
	if path == "" {
		return 0
	}
	var doc yaml.Node
	if yaml.Unmarshal(content, &doc) != nil || len(doc.Content) == 0 {
		return 0
	}
	n, line := doc.Content[0], 0
	for _, key := range strings.Split(path, ".") {
		if n == nil || n.Kind != yaml.MappingNode {
			return line
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line, next = n.Content[i].Line, n.Content[i+1]
				break
			}
		}
		n = next
	}
	return line
}
