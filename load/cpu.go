package load

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on
// every Linux architecture Go runs on.
const clockTicks = 100

// procCPU is a process's user+system CPU time so far, from /proc/PID/stat.
// The figure covers all its threads, so it is the whole cost of a bridge,
// whatever it is written in.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(data)
}

func parseStatCPU(data []byte) (time.Duration, error) {
	// The command name may hold spaces and parentheses: fields are counted
	// from its last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat without a command name: %q", data)
	}
	f := strings.Fields(string(data[i+1:]))
	// After the name: state(3) … utime(14) stime(15), 1-based in proc(5).
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc stat: %q", data)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc stat times %q %q", f[11], f[12])
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// procMemory is a process's resident set (KiB) and thread count, from
// /proc/PID/status.
func procMemory(pid int) (rssKiB int64, threads int, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		switch k {
		case "VmRSS":
			rssKiB, _ = strconv.ParseInt(fs[0], 10, 64)
		case "Threads":
			threads, _ = strconv.Atoi(fs[0])
		}
	}
	return rssKiB, threads, sc.Err()
}
