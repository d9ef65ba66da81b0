// Package motoserver starts and stops a moto_server AWS emulator on a free
// 127.0.0.1 port, for integration tests and the demo.
package motoserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/posture-auditor/posture-auditor/pkg/awsconfig"
	"github.com/posture-auditor/posture-auditor/test/wirefake"
)

// Account is moto's default account ID.
const Account = "123456789012"

// Server is a running moto_server.
type Server struct {
	URL string
	cmd *exec.Cmd
}

// Start launches moto_server and waits until it answers.
func Start() (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("moto_server", "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "MOTO_ALLOW_NONEXISTENT_REGION=false")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Getenv("MOTO_VERBOSE") == "" {
		cmd.Stdout, cmd.Stderr = nil, nil
	} else {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server (is moto[server] installed?): %w", err)
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return s, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.Stop()
	return nil, fmt.Errorf("moto_server did not answer on %s within 60s", s.URL)
}

// Stop kills moto_server and its children.
func (s *Server) Stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	_, _ = s.cmd.Process.Wait()
}

// Reset drops every resource moto holds, so tests start from empty.
func (s *Server) Reset() error {
	resp, err := http.Post(s.URL+"/moto-api/reset", "application/json", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Config returns an SDK config pointed at the server, through the same
// builder production uses.
func (s *Server) Config(ctx context.Context, region string, counter *awsconfig.CallCounter) (aws.Config, error) {
	return s.ConfigAt(ctx, s.URL, region, counter)
}

// ConfigAt is Config pointed at endpoint (a proxy in front of the server).
func (s *Server) ConfigAt(ctx context.Context, endpoint, region string, counter *awsconfig.CallCounter) (aws.Config, error) {
	return wirefake.LocalConfig(ctx, endpoint, region, counter)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
)

// Shared returns one server per test binary, started on first use; tests
// that need it are skipped under -short. Call StopShared from TestMain.
func Shared(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("needs moto_server (skipped with -short)")
	}
	sharedOnce.Do(func() { shared, sharedErr = Start() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// Fresh is Shared after a reset, for tests that need an empty account.
func Fresh(t testing.TB) *Server {
	t.Helper()
	s := Shared(t)
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	return s
}

// StopShared stops the shared server if one was started.
func StopShared() { shared.Stop() }

// TestMain runs m and stops the shared server; use it as a package's
// TestMain: func TestMain(m *testing.M) { motoserver.TestMain(m) }.
func TestMain(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}
