package framework

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGracePeriod is how long Stop waits after SIGTERM before SIGKILL.
const stopGracePeriod = 5 * time.Second

// Process is a child process started by StartProcess. It runs in its own
// process group and is SIGKILLed by the kernel if the parent dies.
type Process struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	logFile *os.File
	done    chan struct{} // closed once the process has been reaped
	waitErr error         // valid after done is closed
	stop    sync.Once
}

// StartProcess starts bin with args, stdout and stderr appended to logPath.
//
// Setpgid puts the child (and anything it forks) into its own process group
// so Stop can signal the whole group; Pdeathsig makes the kernel SIGKILL it
// if the thread that started it exits (e.g. the test binary is killed on
// timeout), so no etcd/apiserver outlives a crashed test.
func StartProcess(name string, bin string, args []string, logPath string) (*Process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(logFile, "### %s %s\n", bin, strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, LogPath: logPath, cmd: cmd, logFile: logFile, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid returns the process id (also the process group id).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait blocks until the process exits and returns its exit error (nil on
// exit status 0; an *exec.ExitError otherwise, including death by signal).
func (p *Process) Wait() error {
	<-p.done
	return p.waitErr
}

// Stop sends SIGTERM to the process group, SIGKILL after a grace period, and
// waits until the process is reaped. It is idempotent and safe to call
// concurrently.
func (p *Process) Stop() {
	p.stop.Do(func() {
		if p.Exited() {
			return
		}
		pgid := -p.cmd.Process.Pid
		_ = syscall.Kill(pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopGracePeriod):
		}
		// Kill the group even if the leader exited: it may have left children.
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-p.done
	})
	<-p.done
}

// Kill sends SIGKILL to the process group at once, with no chance to clean
// up (as a node failure or an OOM kill would end it), and waits until the
// process is reaped. Stop after Kill does nothing.
func (p *Process) Kill() {
	if !p.Exited() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-p.done
}

// LogTail returns the last n lines of the process log.
func (p *Process) LogTail(n int) string {
	return fileTail(p.LogPath, n)
}

func fileTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("<cannot read %s: %v>", path, err)
	}
	defer f.Close()
	// Only look at the end of the file; logs of a long run can be large.
	const maxBytes = 256 << 10
	if st, err := f.Stat(); err == nil && st.Size() > maxBytes {
		_, _ = f.Seek(st.Size()-maxBytes, io.SeekStart)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("<cannot read %s: %v>", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// FreePorts returns n distinct, currently unused TCP ports on 127.0.0.1.
// All listeners are held until every port is chosen so the kernel cannot hand
// out the same port twice. There is still an unavoidable window in which
// another process may take a port before the child binds it.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		addr, ok := l.Addr().(*net.TCPAddr)
		if !ok {
			return nil, errors.New("unexpected listener address type")
		}
		ports = append(ports, addr.Port)
	}
	return ports, nil
}
