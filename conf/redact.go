package conf

import (
	"net/url"
	"sort"
	"strings"
)

// RedactURL returns raw fit for logs, errors and `config show`: a user-info
// password and every query value are replaced, since URLs in configs can
// carry credentials (user:password@host, ?access_token=...). A string that
// does not parse as a URL is replaced whole if it has '@' or '?'.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.ContainsAny(raw, "@?") {
			return Redacted
		}
		return raw
	}
	q := u.Query()
	u.RawQuery, u.ForceQuery = "", false
	s := u.Redacted()
	if len(q) > 0 {
		keys := make([]string, 0, len(q))
		for k := range q {
			keys = append(keys, url.QueryEscape(k)+"="+Redacted)
		}
		sort.Strings(keys)
		s += "?" + strings.Join(keys, "&")
	}
	return s
}
