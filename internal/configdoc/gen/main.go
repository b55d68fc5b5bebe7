// Command gen writes docs/config.md from the config types. Run it from the
// module root: go run ./internal/configdoc/gen
package main

import (
	"fmt"
	"os"

	"github.com/onair-gateway/onair/internal/configdoc"
)

func main() {
	b, err := configdoc.Generate(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "configdoc:", err)
		os.Exit(1)
	}
	if err := os.WriteFile("docs/config.md", b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "configdoc:", err)
		os.Exit(1)
	}
}
