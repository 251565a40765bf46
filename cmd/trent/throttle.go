package main

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/trent-kms/trent/internal/throttle"
)

// throttleFlags are serve's throttling flags. Throttling is on by default
// in production mode, at AWS KMS's default quotas, and off by default with
// --dev, where one developer's test loop would otherwise be throttled
// like a tenant of a shared service.
type throttleFlags struct {
	on    bool
	rates string
}

func addThrottleFlags(fs *flag.FlagSet) *throttleFlags {
	f := &throttleFlags{}
	fs.BoolVar(&f.on, "throttle", false, "throttle KMS requests per account, region and AWS quota class, answering ThrottlingException (default true without --dev, false with it; --throttle=false turns it off)")
	fs.StringVar(&f.rates, "throttle-rates", "", "override AWS's default quotas: comma-separated CLASS=RATE[:BURST] or CLASS=off, rates in requests per second, e.g. symmetric=500:1000,rsa=50,DescribeKey=off (classes: docs/throttling.md)")
	return f
}

// config is the throttling configuration the flags ask for, nil when off.
func (f *throttleFlags) config(fs *flag.FlagSet, dev bool) (*throttle.Config, error) {
	on := !dev
	set := false
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "throttle" {
			on, set = f.on, true
		}
	})
	if !set {
		// The flag's default depends on --dev; give it the value in
		// effect, which --print-config shows.
		if err := fs.Lookup("throttle").Value.Set(strconv.FormatBool(on)); err != nil {
			return nil, err
		}
	}
	rates, err := throttle.ParseRates(f.rates)
	if err != nil {
		return nil, fmt.Errorf("--throttle-rates: %w", err)
	}
	if !on {
		if len(rates) > 0 {
			return nil, fmt.Errorf("--throttle-rates needs throttling on (--throttle; it is off by default with --dev)")
		}
		return nil, nil
	}
	return &throttle.Config{Rates: rates}, nil
}
