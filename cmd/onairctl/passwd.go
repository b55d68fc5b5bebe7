package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/term"
)

// stdin is where passwd reads the password; tests replace it.
var stdin io.Reader = os.Stdin

// runPasswd reads a password (twice, without echo, from a terminal; one
// line otherwise) and prints its bcrypt hash as the http.password_hash
// line of a config file.
func runPasswd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("passwd", stderr)
	cost := fs.Int("cost", bcrypt.DefaultCost, fmt.Sprintf("bcrypt cost, %d..%d (each step doubles the time a login takes)", bcrypt.DefaultCost, 14))
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: onairctl passwd [-cost N] [< file]\n\n"+
			"Reads the web page's password (twice from a terminal, else the first line of stdin)\n"+
			"and prints the http.password_hash config line for it.\n\n")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if *cost < bcrypt.DefaultCost || *cost > 14 {
		return &usageError{fmt.Sprintf("-cost %d is out of range %d..14", *cost, bcrypt.DefaultCost)}
	}
	pw, err := readPassword(stderr)
	if err != nil {
		return err
	}
	if len(pw) < 8 {
		return errors.New("the password is shorter than 8 characters")
	}
	if len(pw) > 72 {
		return errors.New("the password is longer than 72 bytes, which bcrypt cannot hash")
	}
	hash, err := bcrypt.GenerateFromPassword(pw, *cost)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "http:\n  password_hash: '%s'\n", hash)
	return nil
}

func readPassword(stderr io.Writer) ([]byte, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return nil, err
		}
		fmt.Fprint(stderr, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return nil, err
		}
		if string(a) != string(b) {
			return nil, errors.New("the passwords differ")
		}
		return a, nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return nil, errors.New("no password on stdin")
	}
	return []byte(line), nil
}
