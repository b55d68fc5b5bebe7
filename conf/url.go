package conf

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// RedactURL returns raw fit for logs, errors and `config show`: a user-info
// password and every query value are replaced, since URLs in configs can
// carry credentials (user:password@host, ?access_token=...). Query keys,
// their order and the fragment are kept. A string that does not parse as
// a URL, or parses only as an opaque one (no "//"), is replaced from its
// scheme on if it has '@' or '?'.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Opaque != "" && strings.ContainsAny(u.Opaque, "@?")) {
		if strings.ContainsAny(raw, "@?") {
			return RedactedQuery
		}
		return raw
	}
	query, frag := u.RawQuery, u.EscapedFragment()
	u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = "", false, "", ""
	s := u.Redacted()
	if query != "" {
		parts := strings.Split(query, "&")
		for i, p := range parts {
			k, _, _ := strings.Cut(p, "=")
			parts[i] = k + "=" + RedactedQuery
		}
		s += "?" + strings.Join(parts, "&")
	}
	if frag != "" {
		s += "#" + frag
	}
	return s
}

// ValidPort reports whether p (from a URL or a host:port) is a TCP port
// number, 1..65535; url.Parse and net.SplitHostPort accept any digits.
func ValidPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// LoopbackURL reports whether a URL's host is this machine (localhost or a
// loopback address).
func LoopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
