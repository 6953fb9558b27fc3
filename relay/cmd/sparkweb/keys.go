package main

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/sparkweb/sparkweb/relay/store"
)

// keysCommand runs "sparkweb keys [--store FILE] [list|rotate]": it lists the relay's signing
// keys or makes a new one current. The previous key keeps verifying the tokens it signed.
// The store is locked by a running relay, so stop it first (its tokens stay valid).
func keysCommand(args []string, getenv func(string) string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("sparkweb keys", flag.ContinueOnError)
	fs.SetOutput(errOut)
	path := fs.String("store", getenv(envPrefix+"STORE"), "the relay's store `file` (or "+envPrefix+"STORE)")
	fs.Usage = func() {
		fmt.Fprintf(errOut, "Usage: sparkweb keys --store FILE [list|rotate]\n\n"+
			"list (default) shows the signing keys, current first; rotate generates a new current key,\n"+
			"keeps the previous one for verification and deletes older ones. The first start of a\n"+
			"relay with a new store generates a key by itself.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		fs.Usage()
		return fmt.Errorf("--store is required")
	}
	op := cmp.Or(fs.Arg(0), "list")
	if fs.NArg() > 1 || (op != "list" && op != "rotate") {
		return fmt.Errorf("unknown command %q: want list or rotate", fs.Args())
	}
	st, err := store.Open(*path, 0)
	if err != nil {
		return fmt.Errorf("%w (is a relay running on it? stop it first)", err)
	}
	defer st.Close()
	if op == "rotate" {
		k, err := store.NewSigningKey(time.Now())
		if err != nil {
			return err
		}
		if err := st.RotateSigningKey(k); err != nil {
			return err
		}
	}
	keys, err := st.SigningKeys()
	if err != nil {
		return err
	}
	for i, k := range keys {
		role := "previous (verifies only)"
		if i == 0 {
			role = "current (signs)"
		}
		fmt.Fprintf(out, "%s\tES256\t%s\t%s\n", k.ID, k.Created.Format(time.RFC3339), role)
	}
	if len(keys) == 0 {
		fmt.Fprintln(out, "no keys yet; the relay generates one on first start, or run: sparkweb keys --store FILE rotate")
	}
	return nil
}
