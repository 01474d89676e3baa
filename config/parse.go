package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// option is one flag with its environment variable.
type option struct {
	flag, env, arg, usage string
	apply                 func(c *Config, v string) error // nil for --config, read first
}

var options = []option{
	{"config", "BRYGGA_CONFIG", "FILE", "YAML config file (docs/config.md); \"\" = none", nil},
	{"data", "BRYGGA_DATA", "DIR", "data folder (default ./brygga-data)", func(c *Config, v string) error {
		if err := checkDataDir(v); err != nil {
			return err
		}
		c.Data = v
		return nil
	}},
	{"store", "BRYGGA_STORE", "URL", "database: sqlite:PATH or postgres://… (default DIR/brygga.db)", func(c *Config, v string) error {
		if err := checkStoreURL(v); err != nil {
			return err
		}
		c.Store.URL = v
		return nil
	}},
	{"sip", "BRYGGA_SIP", "ADDR[,ADDR]", "SIP listeners: udp:host:port, tcp:host:port, or host:port for both (default 127.0.0.1:5060)", func(c *Config, v string) error {
		ls, err := parseListenList(v)
		if err != nil {
			return err
		}
		c.SIP.Listen = ls
		return nil
	}},
	{"rtp-ports", "BRYGGA_RTP_PORTS", "LO-HI", "RTP port range, even first and odd last port (default 20000-29999)", func(c *Config, v string) error {
		lo, hi, err := parsePorts(v)
		if err != nil {
			return err
		}
		c.Media.PortLo, c.Media.PortHi = lo, hi
		return nil
	}},
	{"media-ip", "BRYGGA_MEDIA_IP", "IP", "address for RTP, written into SDP (default 127.0.0.1)", func(c *Config, v string) error {
		a, err := parseMediaIP(v)
		if err != nil {
			return err
		}
		c.Media.IP = a
		return nil
	}},
	{"api", "BRYGGA_API", "ADDR", "admin API listen host:port (default 127.0.0.1:8080)", func(c *Config, v string) error {
		if err := checkHostPort(v, false); err != nil {
			return err
		}
		c.API.Listen = v
		return nil
	}},
	{"log-level", "BRYGGA_LOG_LEVEL", "LEVEL", "debug, info, warn or error (default info)", func(c *Config, v string) error {
		l, err := parseLogLevel(v)
		if err != nil {
			return err
		}
		c.LogLevel = l
		return nil
	}},
}

// Parse builds the configuration of `brygga serve`. args are the arguments
// after the command name (without the program name and "serve"); getenv
// looks up environment variables (os.Getenv; nil means an empty
// environment, for tests).
//
// Each setting comes from the first of: its flag, its BRYGGA_* variable
// (an empty variable counts as unset), the config file, Default(). The file
// is named by --config, else BRYGGA_CONFIG; --config "" reads no file even
// when BRYGGA_CONFIG is set. A value is only checked where it is taken from,
// so a bad variable that a flag overrides does no harm.
//
// Errors are *Error naming the flag, variable or file key, except -h and
// --help, which return flag.ErrHelp itself (print Usage and exit 0). Parse
// never writes to stdout or stderr.
func Parse(args []string, getenv func(string) string) (*Config, error) {
	return parse(args, getenv, os.ReadFile)
}

func parse(args []string, getenv func(string) string, readFile func(string) ([]byte, error)) (*Config, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var out bytes.Buffer
	fs := newFlagSet(&out)
	vals := make(map[string]*string, len(options))
	for _, o := range options {
		vals[o.flag] = fs.String(o.flag, "", o.usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, flag.ErrHelp
		}
		// The flag package wrote its message and the usage to out.
		return nil, &Error{Key: "flags", Msg: strings.TrimSpace(out.String())}
	}
	if fs.NArg() > 0 {
		return nil, &Error{Key: "flags", Msg: fmt.Sprintf("unexpected argument %q (flags only; see --help)", fs.Arg(0))}
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	// pick returns the value that wins for one option and the key that
	// names its source.
	pick := func(o option) (v, key string, ok bool) {
		if given[o.flag] {
			return *vals[o.flag], "--" + o.flag, true
		}
		if v := getenv(o.env); v != "" {
			return v, o.env, true
		}
		return "", "", false
	}

	c := Default()
	for _, o := range options {
		v, key, ok := pick(o)
		if !ok {
			continue
		}
		if o.apply == nil { // --config
			if v == "" {
				continue
			}
			data, err := readFile(v)
			if err != nil {
				return nil, &Error{Key: key, Msg: err.Error()}
			}
			c.ConfigFile = v
			if err := c.loadFile(data, v); err != nil {
				return nil, err
			}
			continue
		}
		if err := o.apply(c, v); err != nil {
			return nil, &Error{Key: key, Msg: err.Error()}
		}
	}
	if err := c.loadCertificates(readFile); err != nil {
		return nil, err
	}
	if err := c.checkCluster(); err != nil {
		return nil, err
	}
	return c, nil
}

func newFlagSet(out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("brygga serve", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { writeUsage(fs.Output()) }
	return fs
}

// Usage is the help text of `brygga serve`, for -h.
func Usage() string {
	var b strings.Builder
	writeUsage(&b)
	return b.String()
}

func writeUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: brygga serve [flags]")
	fmt.Fprintln(w, "\nA flag beats its environment variable, which beats the config file, which beats the default.")
	fmt.Fprintln(w, "\nFlags:")
	for _, o := range options {
		fmt.Fprintf(w, "  --%s %s\n    \t%s (env %s)\n", o.flag, o.arg, o.usage, o.env)
	}
}
