package repocheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// script is scripts/check-size.sh, found from this package's directory.
func script(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../scripts/check-size.sh")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// repo makes an empty git repository with the given files tracked.
func repo(t *testing.T, files map[string]int) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed: apt-get install git")
	}
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run("init", "-q")
	for name, size := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		run("add", "--", name)
	}
	return dir
}

func check(t *testing.T, dir string) (string, error) {
	t.Helper()
	out, err := exec.Command("bash", script(t), dir).CombinedOutput()
	return string(out), err
}

func TestCheckSizeRefusesLargeTrackedFile(t *testing.T) {
	dir := repo(t, map[string]int{
		"README.md":         100,
		"onairctl":          1<<20 + 1,
		"testdata/big.wav":  3 << 20,
		"hw/sim/testdata/x": 2 << 20,
	})
	out, err := check(t, dir)
	if err == nil {
		t.Fatalf("check passed with a 1 MiB+1 binary at the root:\n%s", out)
	}
	if !strings.Contains(out, "onairctl") {
		t.Errorf("output does not name the file: %q", out)
	}
	if strings.Contains(out, "big.wav") || strings.Contains(out, "sim/testdata/x") {
		t.Errorf("files under testdata/ were refused: %q", out)
	}
}

func TestCheckSizePassesSmallAndTestdata(t *testing.T) {
	dir := repo(t, map[string]int{
		"README.md":         100,
		"exactly-1MiB":      1 << 20,
		"testdata/big.wav":  3 << 20,
		"hw/sim/testdata/x": 2 << 20,
	})
	if out, err := check(t, dir); err != nil {
		t.Fatalf("check failed: %v\n%s", err, out)
	}
}

// The repository itself passes: this is the check make check runs.
func TestCheckSizeThisRepo(t *testing.T) {
	if out, err := check(t, "../.."); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
