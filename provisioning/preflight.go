package provisioning

import (
	"github.com/onair-gateway/onair/conf"
)

// Preflight checks what a valid config names on this machine, without
// taking any hardware: today, the sim board's WAV file (missing, not a WAV
// it can decode, silent). It returns one error per problem, each naming
// its field.
//
// The config checks (onaird -check-config, onairctl config check) run it.
// onaird itself does not refuse a config for these: a file may appear
// later, and the capture that needs it reports its failure and retries.
func Preflight(r *Resolved) []error {
	var errs []error
	if r.Board.Profile == "sim" {
		if err := r.Board.Sim.CheckFile(); err != nil {
			errs = append(errs, conf.Errorf("board.sim.file", "%v", err))
		}
	}
	return errs
}
