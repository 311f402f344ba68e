package addons

import (
	"fmt"
	"os"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2/server"
)

// redisInfoSections are INFO's default sections, in Redis' order.
var redisInfoSections = []string{"server", "clients", "memory", "persistence", "stats",
	"replication", "cpu", "modules", "errorstats", "cluster", "keyspace"}

// cmdInfo answers INFO [section …] with the fields clients and dashboards
// read (redis_version, role, used_memory, maxmemory_policy, keyspace…).
func (s *redisServer) cmdInfo(c *server.Peer, _ *redisClient, args []string) {
	want := map[string]bool{}
	for _, a := range args {
		switch a = strings.ToLower(a); a {
		case "all", "everything", "default":
			for _, sec := range redisInfoSections {
				want[sec] = true
			}
		default:
			want[a] = true
		}
	}
	var parts []string
	for _, sec := range redisInfoSections {
		if len(args) == 0 || want[sec] {
			parts = append(parts, s.infoSection(sec))
		}
	}
	c.WriteBulk(strings.Join(parts, "\r\n"))
}

func (s *redisServer) infoSection(sec string) string {
	title := strings.ToUpper(sec[:1]) + sec[1:]
	var fields [][2]string
	switch sec {
	case "server":
		fields = s.infoServer()
	case "clients":
		fields = s.infoClients()
	case "memory":
		fields = infoMemory()
	case "persistence":
		fields = s.infoPersistence()
	case "stats":
		fields = s.infoStats()
	case "replication":
		fields = [][2]string{{"role", "master"}, {"connected_slaves", "0"},
			{"master_failover_state", "no-failover"}, {"master_replid", s.runID},
			{"master_repl_offset", "0"}, {"repl_backlog_active", "0"}}
	case "cpu":
		fields = infoCPU()
	case "modules":
		title = "Modules"
	case "errorstats":
		title = "Errorstats"
	case "cluster":
		fields = [][2]string{{"cluster_enabled", "0"}}
	case "keyspace":
		fields = s.infoKeyspace()
	}
	var b strings.Builder
	b.WriteString("# " + title + "\r\n")
	for _, f := range fields {
		b.WriteString(f[0] + ":" + f[1] + "\r\n")
	}
	return b.String()
}

func (s *redisServer) infoServer() [][2]string {
	up := time.Since(s.started)
	exe, _ := os.Executable()
	return [][2]string{
		{"redis_version", redisVersion}, {"redis_git_sha1", "00000000"}, {"redis_git_dirty", "0"},
		{"redis_build_id", "dynobox"}, {"redis_mode", "standalone"},
		{"os", runtime.GOOS + " " + runtime.GOARCH}, {"arch_bits", strconv.Itoa(strconv.IntSize)},
		{"multiplexing_api", "go"}, {"gcc_version", "0.0.0"},
		{"process_id", strconv.Itoa(os.Getpid())}, {"process_supervised", "no"},
		{"run_id", s.runID}, {"tcp_port", strconv.Itoa(port(s.plainLn))},
		{"server_time_usec", strconv.FormatInt(time.Now().UnixMicro(), 10)},
		{"uptime_in_seconds", strconv.Itoa(int(up.Seconds()))},
		{"uptime_in_days", strconv.Itoa(int(up.Hours() / 24))},
		{"hz", "10"}, {"configured_hz", "10"}, {"executable", exe}, {"config_file", ""},
		{"io_threads_active", "0"},
	}
}

func (s *redisServer) infoClients() [][2]string {
	n := 0
	s.clients.Range(func(_, _ any) bool { n++; return true })
	return [][2]string{
		{"connected_clients", strconv.Itoa(n)}, {"cluster_connections", "0"},
		{"maxclients", "10000"}, {"blocked_clients", "0"}, {"tracking_clients", "0"},
		{"clients_in_timeout_table", "0"},
	}
}

// infoMemory reports the Go heap of the dynobox process, which holds the
// data set; there is no memory limit and nothing is evicted.
func infoMemory() [][2]string {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	used := strconv.FormatUint(ms.HeapAlloc, 10)
	return [][2]string{
		{"used_memory", used}, {"used_memory_human", humanBytes(ms.HeapAlloc)},
		{"used_memory_rss", strconv.FormatUint(ms.Sys, 10)}, {"used_memory_rss_human", humanBytes(ms.Sys)},
		{"used_memory_peak", used}, {"used_memory_peak_human", humanBytes(ms.HeapAlloc)},
		{"total_system_memory", "0"}, {"maxmemory", "0"}, {"maxmemory_human", "0B"},
		{"maxmemory_policy", "noeviction"}, {"mem_fragmentation_ratio", "1.00"},
		{"mem_allocator", "go"},
	}
}

// infoPersistence describes the append-only log in Redis' terms:
// rdb_changes_since_last_save counts the writes not yet fsynced.
func (s *redisServer) infoPersistence() [][2]string {
	unsaved, enabled, status, size := int64(0), "0", "ok", int64(0)
	if s.aof != nil {
		unsaved, enabled, size = s.aof.unsynced(), "1", s.aof.size.Load()
		if s.aof.failure() != nil {
			status = "err"
		}
	}
	return [][2]string{
		{"loading", "0"}, {"async_loading", "0"},
		{"rdb_changes_since_last_save", strconv.FormatInt(unsaved, 10)},
		{"rdb_bgsave_in_progress", "0"}, {"rdb_last_save_time", strconv.FormatInt(s.lastSaveTime(), 10)},
		{"rdb_last_bgsave_status", status}, {"aof_enabled", enabled},
		{"aof_rewrite_in_progress", boolDigit(s.rewrite.running.Load())},
		{"aof_rewrite_scheduled", "0"},
		{"aof_last_rewrite_time_sec", strconv.FormatInt(rewriteSecs(s.rewrite.lastTook.Load()), 10)},
		{"aof_last_bgrewrite_status", rewriteStatus(s.rewrite.lastErr.Load())},
		{"aof_rewrites", strconv.FormatInt(s.rewrite.count.Load(), 10)},
		{"aof_last_write_status", status}, {"aof_current_size", strconv.FormatInt(size, 10)},
		{"aof_base_size", strconv.FormatInt(s.rewrite.baseSize.Load(), 10)},
	}
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// rewriteSecs is Redis' aof_last_rewrite_time_sec: -1 before the first.
func rewriteSecs(ms int64) int64 {
	if ms < 0 {
		return -1
	}
	return ms / 1000
}

func rewriteStatus(lastErr any) string {
	if e, _ := lastErr.(string); e != "" {
		return "err"
	}
	return "ok"
}

func (s *redisServer) lastSaveTime() int64 {
	if s.aof != nil {
		return s.aof.lastSync.Load()
	}
	return s.lastSave.Load()
}

func (s *redisServer) infoStats() [][2]string {
	return [][2]string{
		{"total_connections_received", strconv.FormatInt(s.connCount.Load(), 10)},
		{"total_commands_processed", strconv.FormatInt(s.commands.Load(), 10)},
		{"instantaneous_ops_per_sec", "0"}, {"rejected_connections", "0"},
		{"expired_keys", "0"}, {"evicted_keys", "0"}, {"keyspace_hits", "0"}, {"keyspace_misses", "0"},
		{"pubsub_channels", strconv.Itoa(len(s.mr.PubSubChannels("")))},
		{"pubsub_patterns", strconv.Itoa(s.mr.PubSubNumPat())},
	}
}

func infoCPU() [][2]string {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	sec := func(tv syscall.Timeval) string {
		return fmt.Sprintf("%.6f", float64(tv.Sec)+float64(tv.Usec)/1e6)
	}
	return [][2]string{{"used_cpu_sys", sec(ru.Stime)}, {"used_cpu_user", sec(ru.Utime)}}
}

func (s *redisServer) infoKeyspace() [][2]string {
	var fields [][2]string
	for i := range redisDatabases {
		db := s.mr.DB(i)
		keys := db.Keys()
		if len(keys) == 0 {
			continue
		}
		expires := 0
		for _, k := range keys {
			if db.TTL(k) > 0 {
				expires++
			}
		}
		fields = append(fields, [2]string{fmt.Sprintf("db%d", i),
			fmt.Sprintf("keys=%d,expires=%d,avg_ttl=0", len(keys), expires)})
	}
	return fields
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	f, suffix := float64(n), "BKMGT"
	i := 0
	for f >= unit && i < len(suffix)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.2f%c", f, suffix[i])
}

// initConfig sets the values CONFIG GET reports; they describe how this
// server really behaves (no eviction, an append-only log fsynced every
// second, no RDB snapshots).
func (s *redisServer) initConfig() {
	s.configMu.Lock()
	defer s.configMu.Unlock()
	appendOnly := "no"
	if s.aof != nil {
		appendOnly = "yes"
	}
	s.config = map[string]string{
		"maxmemory": "0", "maxmemory-policy": "noeviction", "maxmemory-samples": "5",
		"save": "", "appendonly": appendOnly, "appendfsync": "everysec", "appendfilename": redisAOFName, "databases": strconv.Itoa(redisDatabases),
		"dbfilename": path.Base(s.dumpPath), "dir": s.opts.Dir, "bind": "127.0.0.1",
		"port": strconv.Itoa(port(s.plainLn)), "tls-port": strconv.Itoa(port(s.tlsLn)),
		"requirepass": s.password, "protected-mode": "yes", "timeout": "0", "tcp-keepalive": "300",
		"maxclients": "10000", "notify-keyspace-events": "", "lua-time-limit": "5000",
		"busy-reply-threshold": "5000", "slowlog-log-slower-than": "10000", "slowlog-max-len": "128",
		"loglevel": "notice", "cluster-enabled": "no", "replica-read-only": "yes",
		"proto-max-bulk-len": "536870912", "hz": "10", "io-threads": "1",
		"list-max-listpack-size": "-2", "hash-max-listpack-entries": "128",
		"set-max-intset-entries": "512", "zset-max-listpack-entries": "128",
		"stream-node-max-entries": "100", "lfu-log-factor": "10", "lfu-decay-time": "1",
		"client-output-buffer-limit": "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
	}
}

// redisConfigFixed are settings CONFIG SET cannot change here, with why.
var redisConfigFixed = map[string]string{
	"notify-keyspace-events": "keyspace notifications are not supported by dynobox",
	"requirepass":            "the password is managed by dynobox (REDIS_URL)",
	"port":                   "the port is managed by dynobox (REDIS_URL)",
	"bind":                   "dynobox listens on 127.0.0.1 only",
	"databases":              "dynobox serves 16 databases",
	"maxmemory":              "dynobox's embedded Redis has no memory limit and evicts nothing",
	"maxmemory-policy":       "dynobox's embedded Redis has no memory limit and evicts nothing",
	"save":                   "persistence is dynobox's append-only log, fsynced every second",
	"appendonly":             "persistence is dynobox's append-only log, fsynced every second",
	"appendfsync":            "persistence is dynobox's append-only log, fsynced every second",
}

func (s *redisServer) cmdConfig(c *server.Peer, _ *redisClient, args []string) {
	if len(args) == 0 {
		wrongArgs(c, "config")
		return
	}
	switch sub := strings.ToUpper(args[0]); {
	case sub == "GET" && len(args) >= 2:
		reply(c, s.configGet(args[1:]))
	case sub == "SET" && len(args) >= 3 && len(args)%2 == 1:
		s.configSet(c, args[1:])
	case sub == "RESETSTAT" && len(args) == 1:
		c.WriteOK()
	case sub == "REWRITE" && len(args) == 1:
		c.WriteError("ERR The server is running without a config file")
	case sub == "HELP":
		reply(c, respBulks([]string{"CONFIG <subcommand>. Subcommands are:",
			"GET <pattern>", "SET <directive> <value>", "RESETSTAT", "REWRITE", "HELP"}))
	case sub == "GET" || sub == "SET" || sub == "RESETSTAT" || sub == "REWRITE":
		wrongArgs(c, "config|"+strings.ToLower(sub))
	default:
		c.WriteError(fmt.Sprintf("ERR unknown subcommand '%s'. Try CONFIG HELP.", args[0]))
	}
}

func (s *redisServer) configGet(patterns []string) respValue {
	s.configMu.Lock()
	defer s.configMu.Unlock()
	var names []string
	for name := range s.config {
		for _, p := range patterns {
			if ok, _ := path.Match(strings.ToLower(p), name); ok {
				names = append(names, name)
				break
			}
		}
	}
	sort.Strings(names)
	out := respMap()
	for _, n := range names {
		out.elems = append(out.elems, respBulk(n), respBulk(s.config[n]))
	}
	return out
}

// configSet accepts known settings (so libraries that tune them work) and
// refuses the few that would mislead.
func (s *redisServer) configSet(c *server.Peer, kv []string) {
	s.configMu.Lock()
	defer s.configMu.Unlock()
	for i := 0; i < len(kv); i += 2 {
		name := strings.ToLower(kv[i])
		if why, fixed := redisConfigFixed[name]; fixed && kv[i+1] != s.config[name] {
			c.WriteError(fmt.Sprintf("ERR CONFIG SET failed (possibly related to argument '%s') - %s", name, why))
			return
		}
		if _, ok := s.config[name]; !ok {
			c.WriteError(fmt.Sprintf("ERR Unknown option or number of arguments for CONFIG SET - '%s'", name))
			return
		}
	}
	for i := 0; i < len(kv); i += 2 {
		s.config[strings.ToLower(kv[i])] = kv[i+1]
	}
	c.WriteOK()
}
