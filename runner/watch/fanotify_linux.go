package watch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path"
	"path/filepath"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/dynobox/dynobox/internal/proc"
)

// fanWatch tells, for each change in the watched directories, which
// process made it. It marks the same directories the watcher watches
// (inode marks, like inotify's), reports directory handles and names
// (FAN_REPORT_DFID_NAME, Linux 5.9), and maps each directory's handle
// back to its path. Only a privileged listener is told the process (an
// unprivileged group gets pid 0 on every event: measured on Linux 6.18),
// so openFan declines without CAP_SYS_ADMIN.
type fanWatch struct {
	fd     int
	root   string
	w      Writers
	record func(rel string, own, known bool)

	mu   sync.Mutex        // serialises reads of fd and guards dirs
	dirs map[string]string // fsid + handle → relative directory ("" for the root)
	done chan struct{}
	wg   sync.WaitGroup
}

// fanMask is every change inotify reports to the watcher, on the
// directories' entries and on subdirectories.
const fanMask = unix.FAN_MODIFY | unix.FAN_ATTRIB | unix.FAN_CREATE | unix.FAN_DELETE |
	unix.FAN_MOVED_FROM | unix.FAN_MOVED_TO | unix.FAN_EVENT_ON_CHILD | unix.FAN_ONDIR

// openFan returns a fanWatch for root, or nil where fanotify cannot name
// writers (no privilege, an old kernel).
func openFan(root string, w Writers, record func(string, bool, bool)) *fanWatch {
	if !privileged() {
		return nil
	}
	fd, err := unix.FanotifyInit(unix.FAN_CLASS_NOTIF|unix.FAN_REPORT_DFID_NAME|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK, unix.O_RDONLY)
	if err != nil {
		return nil
	}
	f := &fanWatch{fd: fd, root: root, w: w, record: record, dirs: map[string]string{}, done: make(chan struct{})}
	f.wg.Add(1)
	go f.run()
	return f
}

// privileged: fanotify reports the writing process only to a listener
// with CAP_SYS_ADMIN in the initial namespace (effective capability bit 21).
func privileged() bool { return proc.HasCapability(unix.CAP_SYS_ADMIN) }

// handleKey identifies a directory as fanotify reports it.
func handleKey(fsid [2]int32, typ int32, h []byte) string {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, fsid)
	binary.Write(&b, binary.LittleEndian, typ)
	b.Write(h)
	return b.String()
}

func (f *fanWatch) add(dir string) {
	rel, err := filepath.Rel(f.root, dir)
	if err != nil {
		return
	}
	rel = filepath.ToSlash(rel)
	if rel == "." {
		rel = ""
	}
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, dir, 0)
	if err != nil {
		return
	}
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return
	}
	if unix.FanotifyMark(f.fd, unix.FAN_MARK_ADD|unix.FAN_MARK_ONLYDIR, fanMask, unix.AT_FDCWD, dir) != nil {
		return
	}
	f.mu.Lock()
	f.dirs[handleKey(st.Fsid.Val, h.Type(), h.Bytes())] = rel
	f.mu.Unlock()
}

func (f *fanWatch) remove(dir string) {
	// A directory that is gone took its mark with it; one still there (now
	// ignored) loses it. Its handle stays mapped: handles are not reused
	// while the inode lives, and a stale entry only names a path.
	_ = unix.FanotifyMark(f.fd, unix.FAN_MARK_REMOVE|unix.FAN_MARK_ONLYDIR, fanMask, unix.AT_FDCWD, dir)
}

func (f *fanWatch) close() {
	close(f.done)
	f.wg.Wait()
	unix.Close(f.fd)
}

// run reads events as they come, so that the writer is asked about
// while it still runs.
func (f *fanWatch) run() {
	defer f.wg.Done()
	fds := []unix.PollFd{{Fd: int32(f.fd), Events: unix.POLLIN}}
	for {
		select {
		case <-f.done:
			return
		default:
		}
		if _, err := unix.Poll(fds, 100); err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		f.drain()
	}
}

// drain reads every event queued so far.
func (f *fanWatch) drain() {
	f.mu.Lock()
	defer f.mu.Unlock()
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(f.fd, buf)
		if err != nil || n <= 0 {
			return
		}
		f.parse(buf[:n])
	}
}

// parse handles one read's events; f.mu is held.
func (f *fanWatch) parse(buf []byte) {
	owners := map[int32][2]bool{} // a read's events often share a writer
	for len(buf) >= fanMetaSize {
		md := (*unix.FanotifyEventMetadata)(unsafe.Pointer(&buf[0]))
		if int(md.Event_len) < fanMetaSize || int(md.Event_len) > len(buf) {
			return
		}
		ev := buf[:md.Event_len]
		buf = buf[md.Event_len:]
		if md.Fd >= 0 {
			unix.Close(int(md.Fd)) // not in FID mode, but never leak one
		}
		if md.Mask&unix.FAN_Q_OVERFLOW != 0 {
			continue // the watcher's inotify overflows too and rescans
		}
		rel, ok := f.name(ev[md.Metadata_len:])
		if !ok {
			continue
		}
		o, seen := owners[md.Pid]
		if !seen {
			switch {
			case md.Pid <= 0:
				o = [2]bool{false, false}
			default:
				own, known := f.w.Owns(int(md.Pid))
				o = [2]bool{own, known}
			}
			owners[md.Pid] = o
		}
		f.record(rel, o[0], o[1])
	}
}

// name is the relative path an event's info records name.
func (f *fanWatch) name(info []byte) (string, bool) {
	for len(info) >= 4 {
		typ, l := info[0], int(binary.LittleEndian.Uint16(info[2:4]))
		if l < 4 || l > len(info) {
			return "", false
		}
		rec := info[:l]
		info = info[l:]
		if typ != unix.FAN_EVENT_INFO_TYPE_DFID_NAME && typ != unix.FAN_EVENT_INFO_TYPE_DFID {
			continue
		}
		// header(4) fsid(8) handle_bytes(4) handle_type(4) f_handle[...] name\0
		if len(rec) < 20 {
			return "", false
		}
		var fsid [2]int32
		fsid[0] = int32(binary.LittleEndian.Uint32(rec[4:8]))
		fsid[1] = int32(binary.LittleEndian.Uint32(rec[8:12]))
		hb := int(binary.LittleEndian.Uint32(rec[12:16]))
		ht := int32(binary.LittleEndian.Uint32(rec[16:20]))
		if 20+hb > len(rec) {
			return "", false
		}
		dir, ok := f.dirs[handleKey(fsid, ht, rec[20:20+hb])]
		if !ok {
			return "", false
		}
		name := ""
		if typ == unix.FAN_EVENT_INFO_TYPE_DFID_NAME {
			n := rec[20+hb:]
			if i := bytes.IndexByte(n, 0); i >= 0 {
				n = n[:i]
			}
			name = string(n)
		}
		switch {
		case name == "" || name == ".":
			return dir, dir != ""
		case dir == "":
			return name, true
		default:
			return path.Join(dir, name), true
		}
	}
	return "", false
}

// fanMetaSize is struct fanotify_event_metadata's size.
const fanMetaSize = int(unsafe.Sizeof(unix.FanotifyEventMetadata{}))
