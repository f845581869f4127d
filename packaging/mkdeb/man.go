package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// writeMan writes the generator's man page from its command line: the
// same words as --help, so the two never disagree.
func writeMan(w io.Writer, root *cobra.Command, date time.Time) {
	name := root.Name()
	fmt.Fprintf(w, ".TH %s 1 %q \"mender-docker\" \"User Commands\"\n", strings.ToUpper(esc(name)), date.Format("2006-01-02"))
	fmt.Fprintf(w, ".SH NAME\n%s \\- %s\n", esc(name), esc(lowerFirst(root.Short)))
	fmt.Fprintf(w, ".SH SYNOPSIS\n")
	subs := visible(root)
	fmt.Fprintf(w, ".B %s\n%s\n", esc(name), esc(strings.TrimPrefix(root.Use, name+" ")))
	for _, c := range subs {
		fmt.Fprintf(w, ".br\n.B %s %s\n%s\n", esc(name), esc(c.Name()), esc(strings.TrimPrefix(c.Use, c.Name()+" ")))
	}
	fmt.Fprintf(w, ".SH DESCRIPTION\n%s\n", paragraphs(root.Long))
	fmt.Fprintf(w, ".SH OPTIONS\n")
	flags(w, root.Flags())
	for _, c := range subs {
		fmt.Fprintf(w, ".SH %s %s\n", strings.ToUpper(esc(name)), strings.ToUpper(esc(c.Name())))
		text := c.Long
		if text == "" {
			text = c.Short + "."
		}
		fmt.Fprintf(w, "%s\n", paragraphs(text))
		if len(c.Aliases) > 0 {
			fmt.Fprintf(w, ".PP\nAlso: %s.\n", esc(strings.Join(c.Aliases, ", ")))
		}
		flags(w, c.Flags())
		if c.Example != "" {
			fmt.Fprintf(w, ".PP\nExample:\n.PP\n.nf\n%s\n.fi\n", esc(c.Example))
		}
	}
	fmt.Fprintf(w, ".SH EXAMPLES\n.nf\n%s\n.fi\n", esc(root.Example))
	fmt.Fprintf(w, ".SH ENVIRONMENT\n.TP\n.B SOURCE_DATE_EPOCH\nWhen set, the artifact is written identically for the same inputs, with this time.\n")
	fmt.Fprintf(w, ".TP\n.B DOCKER_CONFIG\nWhere the docker CLI's config.json (registry credentials) is, instead of ~/.docker.\n")
	fmt.Fprintf(w, ".SH SEE ALSO\n.BR mender\\-docker (8),\n.BR mender\\-artifact (1)\n")
}

// visible are the subcommands a user calls.
func visible(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() && c.Name() != "help" && c.Name() != "completion" {
			out = append(out, c)
		}
	}
	return out
}

func flags(w io.Writer, fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		varname, usage := pflag.UnquoteUsage(f)
		head := ""
		if f.Shorthand != "" {
			head = `\fB\-` + esc(f.Shorthand) + `\fR, `
		}
		head += `\fB\-\-` + esc(f.Name) + `\fR`
		if varname != "" {
			head += " \\fI" + esc(varname) + "\\fR"
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && f.DefValue != "0s" {
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, ".TP\n%s\n%s\n", head, esc(usage))
	})
}

// paragraphs turns blank-line separated text into roff paragraphs.
func paragraphs(text string) string {
	var out []string
	for _, p := range strings.Split(strings.TrimSpace(text), "\n\n") {
		out = append(out, esc(strings.TrimSpace(p)))
	}
	return strings.Join(out, "\n.PP\n")
}

// esc makes text safe for roff: backslashes, minus signs, and lines that
// would start with a control character.
func esc(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			lines[i] = `\&` + l
		}
	}
	return strings.Join(lines, "\n")
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
