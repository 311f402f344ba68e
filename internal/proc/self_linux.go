package proc

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

// What /proc says about dynobox's own process: where the cgroup v2
// hierarchy is mounted, what its file descriptors point to and which
// capabilities it has.

// Cgroup2Mount is where the cgroup v2 hierarchy is mounted, from
// /proc/self/mountinfo ("" if it is not).
func Cgroup2Mount() string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 36 35 0:30 / /sys/fs/cgroup rw,... shared:9 - cgroup2 cgroup2 rw
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		if f := strings.Fields(pre); len(f) >= 5 && f[3] == "/" {
			return f[4]
		}
	}
	return ""
}

// FileOf is what our file descriptor fd points to (/proc/self/fd/N): a
// path, or a name such as "pipe:[123]"; not ok when fd is not open.
func FileOf(fd int) (string, bool) {
	target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	return target, err == nil
}

// HasCapability says whether our process has capability bit capBit
// (unix.CAP_*) in its effective set (CapEff in /proc/self/status).
func HasCapability(capBit uint) bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("CapEff:")); ok {
			caps, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 16, 64)
			return err == nil && capBit < 64 && caps&(1<<capBit) != 0
		}
	}
	return false
}
