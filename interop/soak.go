package interop

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// processCPU is user+system CPU time of a process, from /proc/PID/stat.
func processCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) start at ')'.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc stat: %q", data)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clkTck, nil
}

var roomClosedRE = regexp.MustCompile(`room closed.* ticks=(\d+) late_ticks=(\d+) skipped=\d+ max_lateness=(\S+)`)

func roomClockHealth(log string) (ticks, late int, maxLate string) {
	m := roomClosedRE.FindStringSubmatch(log)
	if m == nil {
		return 0, 0, ""
	}
	ticks, _ = strconv.Atoi(m[1])
	late, _ = strconv.Atoi(m[2])
	return ticks, late, m[3]
}
