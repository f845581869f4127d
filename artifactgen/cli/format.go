package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"sort"
	"strings"
)

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func indentJSON(w io.Writer, data []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, data, "      ", "  "); err != nil {
		return err
	}
	_, err := io.WriteString(w, "      "+strings.TrimSpace(buf.String())+"\n")
	return err
}
